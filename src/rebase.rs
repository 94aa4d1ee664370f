//! Gaps in the recorded set: applied revisions whose parents (or
//! dependencies) are not applied.
//!
//! Two causes look alike in the applied set and differ in the tracking
//! table, which records the parents each revision had when it was applied:
//!
//! - **A history rebased under the database**: a revision `x` was inserted
//!   between two applied ones (`a1 ── x ── a2`, where `a2` was applied on
//!   top of `a1`), as a `git rebase` of a feature branch onto a main line
//!   that already moved does. Every applied revision above the gap records
//!   other parents than its file names now. Such a database can be
//!   settled: `rev upgrade x` applies exactly the inserted revisions, out of
//!   order (their SQL runs after the applied revisions above them), and the
//!   rows above then record their new parents.
//! - **A table edited by hand** (or by another tool): the recorded parents
//!   match the files, yet a parent's row is gone. rev cannot tell what the
//!   schema holds; `rev stamp` records it.
//!
//! Everything here is linear in the number of revisions and rows.

use std::collections::BTreeSet;
use std::fmt;

use crate::backend::AppliedRow;
use crate::graph::{Graph, RevIndex};
use crate::revision::quoted;

/// A history rebased under an applied database: revisions that are not
/// applied now lie below applied ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebase {
    /// The revisions that are not applied although applied revisions now
    /// descend from (or depend on) them, in topological order.
    pub inserted: Vec<String>,
    /// The applied revisions whose files name other parents than the ones
    /// recorded when they were applied, and whose new parents are not all
    /// applied.
    pub rebased: Vec<RebasedRevision>,
    /// Applied revisions that descend from an inserted one (their SQL ran
    /// before the inserted revision's will), in topological order.
    pub applied_above: Vec<String>,
    /// The inserted revisions no other inserted one descends from or depends
    /// on: `rev upgrade` of each of them applies every inserted revision.
    pub upgrade_targets: Vec<String>,
    /// The recorded revisions below no other recorded one: `rev stamp` of
    /// them records the inserted revisions without running them, and keeps
    /// every applied one.
    pub stamp_targets: Vec<String>,
}

/// One applied revision whose parents changed since it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebasedRevision {
    /// The revision.
    pub revision: String,
    /// Its parents when it was applied, as the tracking table records them.
    pub recorded_parents: Vec<String>,
    /// Its parents as its file names them now.
    pub parents: Vec<String>,
}

impl Rebase {
    /// Whether `upgrade` to these revisions applies inserted revisions only:
    /// the one way forward a rebased database takes, named on purpose.
    pub(crate) fn allows(&self, graph: &Graph, targets: &[RevIndex]) -> bool {
        let inserted: BTreeSet<&str> = self.inserted.iter().map(String::as_str).collect();
        !targets.is_empty()
            && targets
                .iter()
                .all(|&t| inserted.contains(graph.rev(t).id.as_str()))
    }
}

/// The recorded parents to rewrite once `recorded_now` (revisions a run
/// applied or a stamp recorded) are in the table: each applied row that
/// records other parents than its file names, where a file parent is one of
/// `recorded_now` and every file parent is applied (not in progress).
/// So a rebase, once settled, leaves rows that match the files, and a row
/// whose parents changed for any other reason is left as it was recorded.
pub(crate) fn reparented(
    graph: &Graph,
    rows: &[AppliedRow],
    recorded_now: &[String],
) -> Vec<(String, Vec<String>)> {
    let now: BTreeSet<&str> = recorded_now.iter().map(String::as_str).collect();
    let done: BTreeSet<&str> = rows
        .iter()
        .filter(|r| !r.in_progress)
        .map(|r| r.version.as_str())
        .collect();
    rows.iter()
        .filter(|r| !r.in_progress)
        .filter_map(|row| {
            let i = graph.index_of(&row.version)?;
            let parents: Vec<String> = graph
                .parents(i)
                .iter()
                .map(|&p| graph.rev(p).id.clone())
                .collect();
            let file: BTreeSet<&str> = parents.iter().map(String::as_str).collect();
            let recorded: BTreeSet<&str> = row.down_revisions.iter().map(String::as_str).collect();
            let settles = file != recorded
                && file.iter().any(|p| now.contains(p))
                && file.iter().all(|p| done.contains(p));
            settles.then(|| (row.version.clone(), parents))
        })
        .collect()
}

impl fmt::Display for Rebase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the history was rebased under this database: ")?;
        let parts: Vec<String> = self
            .rebased
            .iter()
            .map(|r| {
                format!(
                    "`{}` was applied on top of {}, and its file now names {}",
                    r.revision,
                    parents_text(&r.recorded_parents),
                    parents_text(&r.parents)
                )
            })
            .collect();
        write!(f, "{}", parts.join("; "))?;
        let (is, lies) = if self.inserted.len() == 1 {
            ("is", "lies")
        } else {
            ("are", "lie")
        };
        write!(
            f,
            "; so {}, which {is} not applied, now {lies} below applied {} ({})",
            quoted(&self.inserted),
            if self.applied_above.len() == 1 {
                "revision"
            } else {
                "revisions"
            },
            quoted(&self.applied_above)
        )
    }
}

fn parents_text(parents: &[String]) -> String {
    if parents.is_empty() {
        "nothing (as a base)".to_owned()
    } else {
        quoted(parents)
    }
}

/// A recorded revision whose parent or dependency is not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gap {
    /// The recorded parents tell a rebase.
    Rebased(Rebase),
    /// The recorded parents match the files: the table was edited.
    HandEdited {
        /// A recorded revision lacking a parent.
        revision: String,
        /// Its parent or dependency that is not recorded.
        parent: String,
        /// See [`Rebase::stamp_targets`].
        stamp_targets: Vec<String>,
    },
}

/// The gap in the recorded set, if any. `recorded[k]` is the graph index
/// of `rows[k]` (rows in progress included: their revision is recorded).
pub(crate) fn find_gap(graph: &Graph, rows: &[AppliedRow], recorded: &[RevIndex]) -> Option<Gap> {
    let mut is_recorded = vec![false; graph.len()];
    for &i in recorded {
        is_recorded[i] = true;
    }
    // Rows lacking a parent or dependency, with the first one missing.
    let lacking: Vec<(&AppliedRow, RevIndex, RevIndex)> = rows
        .iter()
        .zip(recorded)
        .filter_map(|(row, &i)| {
            graph
                .needs(i)
                .find(|&p| !is_recorded[p])
                .map(|missing| (row, i, missing))
        })
        .collect();
    if lacking.is_empty() {
        return None;
    }
    let stamp_targets = ids(graph, &maximal(graph, &is_recorded));
    let rebased_parents = |row: &AppliedRow, i: RevIndex| {
        let now: BTreeSet<&str> = graph
            .parents(i)
            .iter()
            .map(|&p| graph.rev(p).id.as_str())
            .collect();
        let then: BTreeSet<&str> = row.down_revisions.iter().map(String::as_str).collect();
        now != then
    };
    if let Some(&(row, _, missing)) = lacking.iter().find(|(row, i, _)| !rebased_parents(row, *i)) {
        return Some(Gap::HandEdited {
            revision: row.version.clone(),
            parent: graph.rev(missing).id.clone(),
            stamp_targets,
        });
    }
    let needed = graph.ancestors_with_deps(recorded.iter().copied());
    let inserted: Vec<RevIndex> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| needed[i] && !is_recorded[i])
        .collect();
    let above = graph.dependents_closure(inserted.iter().copied());
    let applied_above: Vec<RevIndex> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| above[i] && is_recorded[i])
        .collect();
    let mut is_inserted = vec![false; graph.len()];
    for &i in &inserted {
        is_inserted[i] = true;
    }
    let rebased = lacking
        .iter()
        .map(|&(row, i, _)| RebasedRevision {
            revision: row.version.clone(),
            recorded_parents: row.down_revisions.clone(),
            parents: graph
                .parents(i)
                .iter()
                .map(|&p| graph.rev(p).id.clone())
                .collect(),
        })
        .collect();
    Some(Gap::Rebased(Rebase {
        inserted: ids(graph, &inserted),
        rebased,
        applied_above: ids(graph, &applied_above),
        upgrade_targets: ids(graph, &maximal(graph, &is_inserted)),
        stamp_targets,
    }))
}

/// The marked revisions that no other marked one descends from or depends
/// on, in topological order. `rev stamp` of them keeps every marked
/// revision recorded and adds their missing ancestors.
pub fn maximal(graph: &Graph, marked: &[bool]) -> Vec<RevIndex> {
    let strictly_below = graph.ancestors_with_deps(
        (0..graph.len())
            .filter(|&i| marked[i])
            .flat_map(|i| graph.needs(i)),
    );
    graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| marked[i] && !strictly_below[i])
        .collect()
}

fn ids(graph: &Graph, revs: &[RevIndex]) -> Vec<String> {
    revs.iter().map(|&i| graph.rev(i).id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::revision;

    fn row(version: &str, parents: &[&str]) -> AppliedRow {
        AppliedRow {
            version: version.into(),
            applied_at: String::new(),
            execution_time_ms: 0,
            checksum: String::new(),
            down_revisions: parents.iter().map(|p| p.to_string()).collect(),
            in_progress: false,
        }
    }

    fn gap(g: &Graph, rows: &[AppliedRow]) -> Option<Gap> {
        let recorded: Vec<RevIndex> = rows
            .iter()
            .map(|r| g.index_of(&r.version).unwrap())
            .collect();
        find_gap(g, rows, &recorded)
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// `a1 ── x1 ── x2 ── a2 ── a3`, with `b1` on `a1` beside it.
    fn rebased_graph() -> Graph {
        Graph::build(vec![
            revision("a1", &[], &[], &[]),
            revision("x1", &["a1"], &[], &[]),
            revision("x2", &["x1"], &[], &[]),
            revision("a2", &["x2"], &[], &[]),
            revision("a3", &["a2"], &[], &[]),
            revision("b1", &["a1"], &[], &[]),
        ])
        .unwrap()
    }

    #[test]
    fn a_closed_set_has_no_gap() {
        let g = rebased_graph();
        let rows = [row("a1", &[]), row("b1", &["a1"])];
        assert_eq!(gap(&g, &rows), None);
    }

    #[test]
    fn recorded_parents_that_differ_tell_a_rebase() {
        let g = rebased_graph();
        let rows = [
            row("a1", &[]),
            row("a2", &["a1"]),
            row("a3", &["a2"]),
            row("b1", &["a1"]),
        ];
        let Some(Gap::Rebased(r)) = gap(&g, &rows) else {
            panic!("not a rebase: {:?}", gap(&g, &rows));
        };
        assert_eq!(r.inserted, owned(&["x1", "x2"]));
        assert_eq!(r.applied_above, owned(&["a2", "a3"]));
        assert_eq!(r.upgrade_targets, owned(&["x2"]));
        assert_eq!(r.stamp_targets, owned(&["b1", "a3"]));
        assert_eq!(
            r.rebased,
            vec![RebasedRevision {
                revision: "a2".into(),
                recorded_parents: owned(&["a1"]),
                parents: owned(&["x2"]),
            }]
        );
        let text = r.to_string();
        assert!(text.starts_with("the history was rebased"), "{text}");
        assert!(
            text.contains("`a2` was applied on top of `a1`, and its file now names `x2`"),
            "{text}"
        );
        assert!(text.contains("`x1`, `x2`, which are not applied"), "{text}");
        // Only upgrades naming inserted revisions go ahead.
        let i = |id: &str| g.index_of(id).unwrap();
        assert!(r.allows(&g, &[i("x2")]));
        assert!(r.allows(&g, &[i("x1")]));
        assert!(!r.allows(&g, &[i("a3"), i("b1")]));
        assert!(!r.allows(&g, &[]));
        // Settled once both inserted revisions are applied, not before.
        let now = owned(&["x1", "x2"]);
        let mut after = rows.to_vec();
        after.push(row("x1", &["a1"]));
        assert!(reparented(&g, &after, &now).is_empty());
        after.push(row("x2", &["x1"]));
        assert_eq!(
            reparented(&g, &after, &now),
            vec![("a2".to_owned(), owned(&["x2"]))]
        );
        after.last_mut().unwrap().in_progress = true;
        assert!(reparented(&g, &after, &now).is_empty());
        // A row whose parents changed above nothing just recorded stays.
        after.last_mut().unwrap().in_progress = false;
        assert!(reparented(&g, &after, &owned(&["b1"])).is_empty());
    }

    #[test]
    fn matching_recorded_parents_tell_a_hand_edit() {
        let g = rebased_graph();
        // x1 and x2 were applied, then x2's row was deleted by hand.
        let rows = [
            row("a1", &[]),
            row("x1", &["a1"]),
            row("a2", &["x2"]),
            row("a3", &["a2"]),
        ];
        assert_eq!(
            gap(&g, &rows),
            Some(Gap::HandEdited {
                revision: "a2".into(),
                parent: "x2".into(),
                stamp_targets: owned(&["a3"]),
            })
        );
    }
}
