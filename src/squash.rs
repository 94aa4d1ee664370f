//! Squashed revisions: one revision whose `replaces:` header names a run of
//! older revisions it stands for (written by `rev squash A:B`).
//!
//! The model is Django's `replaces`: while the original files exist, the
//! graph knows both the squashed revision `S` and the run `r1 .. rk` it
//! replaces, and each database uses one of the two, chosen from its
//! tracking rows:
//!
//! - it recorded `S`, or every one of `r1 .. rk`, or none of them: it uses
//!   `S` (the *squashed view*, also the view of every command that reads no
//!   database). A database that recorded all of the run has applied `S`,
//!   and the next write (an upgrade, a downgrade or a stamp) records `S` in
//!   place of the run's rows, in one transaction;
//! - it recorded some of the run: it uses the originals (`S` is hidden) and
//!   runs the remaining ones from their files; once the run is complete its
//!   rows are replaced by `S`'s the same way. With the files of the run gone,
//!   such a database cannot go on, and [`SquashError::Incomplete`] says what
//!   to do.
//!
//! In the squashed view, a reference to any replaced id (a child of `rk`
//! naming `rk` in `down_revision`, or a `depends_on`) means `S`; in the
//! originals view a reference to `S` means `rk`. So children of the run may
//! name either, and deleting the originals changes nothing for them.
//!
//! Rules checked when loading (each a [`crate::graph::GraphError::Squash`] naming the
//! file): `replaces` is not empty and does not name the revision itself; an
//! id is replaced by one squashed revision only; a squashed revision is not
//! replaced again (squash the originals instead); and the replaced files that
//! exist form the path the header says: the first has the squashed
//! revision's parents, each later one has the one before as its only parent,
//! and nothing else names a revision inside the run (no branch point or
//! dependency inside it). Branch labels of the run move to the squashed
//! revision (`rev squash` copies them); the hidden side's labels are ignored.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::backend::AppliedRow;
use crate::revision::{quoted, Revision};

/// One squashed revision and the run it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Squash {
    /// The squashed revision.
    pub id: String,
    /// The replaced ids, oldest first, as its header lists them.
    pub replaces: Vec<String>,
    /// The replaced ids whose files are gone.
    pub missing: Vec<String>,
}

/// Why a database cannot use the revision files as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SquashError {
    /// The database applied part of a squashed run, and the files of the
    /// rest are gone.
    #[error(
        "the database applied part of the run that `{squash}` ({}) replaces: {} of {} ({}), and the files of {} are gone; restore them (e.g. `git checkout <an earlier commit> -- {}`) and run `rev upgrade`, which finishes the run from them, or, if the schema already holds every change of the run, record it with `rev stamp {squash}`",
        path.display(),
        applied.len(),
        applied.len() + remaining.len(),
        quoted(applied),
        quoted(missing),
        dir.display()
    )]
    Incomplete {
        /// The squashed revision.
        squash: String,
        /// Its file.
        path: PathBuf,
        /// The replaced revisions the database recorded.
        applied: Vec<String>,
        /// The replaced revisions it did not.
        remaining: Vec<String>,
        /// The replaced revisions whose files are gone.
        missing: Vec<String>,
        /// The script directory.
        dir: PathBuf,
    },
}

impl SquashError {
    /// A stable name for scripts (`-f json`).
    pub fn kind(&self) -> &'static str {
        match self {
            SquashError::Incomplete { .. } => "squash_incomplete",
        }
    }
}

/// A squashed revision that breaks a rule of the module doc; the graph
/// reports it as a load error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokenRule {
    /// The squashed revision the message is about.
    pub id: String,
    /// Its file.
    pub path: PathBuf,
    /// Which rule, and what to do.
    pub message: String,
}

/// Finds the squashed revisions among `revisions` and checks the rules of
/// the module doc. `first` maps each id to the index of its first file.
pub(crate) fn analyze(
    revisions: &[Revision],
    first: &HashMap<String, usize>,
) -> (Vec<Squash>, Vec<BrokenRule>) {
    let mut squashes = Vec::new();
    let mut errors = Vec::new();
    if revisions.iter().all(|r| r.replaces.is_empty()) {
        return (squashes, errors);
    }
    // Who names each id, through either relation: one pass, linear.
    let mut referrers: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in revisions {
        for id in r.down_revisions.iter().chain(&r.depends_on) {
            referrers
                .entry(id.as_str())
                .or_default()
                .push(r.id.as_str());
        }
    }
    let mut replaced_by: HashMap<&str, &str> = HashMap::new();
    for (i, s) in revisions.iter().enumerate() {
        if s.replaces.is_empty() || first.get(&s.id) != Some(&i) {
            continue;
        }
        let err = |message: String| BrokenRule {
            id: s.id.clone(),
            path: s.path.clone(),
            message,
        };
        let before = errors.len();
        if s.replaces.contains(&s.id) {
            errors.push(err("`replaces` names the revision itself".into()));
        }
        for id in &s.replaces {
            if let Some(other) = replaced_by.insert(id, &s.id) {
                errors.push(err(format!(
                    "`{id}` is also replaced by `{other}`: a revision is replaced by one squashed revision only"
                )));
            }
        }
        let mut missing = Vec::new();
        for (j, id) in s.replaces.iter().enumerate() {
            let Some(&k) = first.get(id) else {
                missing.push(id.clone());
                continue;
            };
            let r = &revisions[k];
            if !r.replaces.is_empty() {
                errors.push(err(format!(
                    "it replaces `{id}`, itself a squashed revision; squash the revisions `{id}` replaces instead"
                )));
            }
            if j == 0 {
                let mut a = r.down_revisions.clone();
                let mut b = s.down_revisions.clone();
                a.sort();
                b.sort();
                if a != b {
                    errors.push(err(format!(
                        "its down_revision must be the parents of `{id}`, the first revision it replaces ({})",
                        if a.is_empty() { "none".to_string() } else { quoted(&a) }
                    )));
                }
            } else if r.down_revisions != [s.replaces[j - 1].clone()] {
                errors.push(err(format!(
                    "the revisions it replaces must form a path, each the only parent of the next, but `{id}` names {} as down_revision, not `{}`",
                    if r.down_revisions.is_empty() { "nothing".to_string() } else { quoted(&r.down_revisions) },
                    s.replaces[j - 1]
                )));
            }
            if let Some(next) = s.replaces.get(j + 1) {
                let others: Vec<String> = referrers
                    .get(id.as_str())
                    .into_iter()
                    .flatten()
                    .filter(|&&who| who != next && who != s.id)
                    .map(|who| who.to_string())
                    .collect();
                if !others.is_empty() {
                    errors.push(err(format!(
                        "`{id}` is inside the run it replaces, yet {} also {} it: a squashed run has no branch point or dependency inside it",
                        quoted(&others),
                        if others.len() == 1 { "names" } else { "name" }
                    )));
                }
            }
        }
        if errors.len() == before {
            squashes.push(Squash {
                id: s.id.clone(),
                replaces: s.replaces.clone(),
                missing,
            });
        }
    }
    if errors.is_empty() {
        // A squashed id replaced in turn: checked here, once every squash
        // is known, whatever the file order.
        for s in &squashes {
            if let Some(other) = replaced_by.get(s.id.as_str()) {
                errors.push(BrokenRule {
                    id: (*other).to_string(),
                    path: revisions[first[*other]].path.clone(),
                    message: format!(
                        "it replaces `{}`, itself a squashed revision; squash the revisions `{}` replaces instead",
                        s.id, s.id
                    ),
                });
            }
        }
    }
    (squashes, errors)
}

/// How one view of the graph reads ids: the references to rewrite, and the
/// revisions it leaves out.
#[derive(Debug, Default)]
pub(crate) struct View {
    map: HashMap<String, String>,
    /// Ids this view leaves out of the graph.
    pub hidden: HashSet<String>,
}

impl View {
    /// The view that uses the originals of the squashes in `originals` and
    /// the squashed revision of every other one. `present` tells which ids
    /// have a file.
    pub fn new(squashes: &[Squash], originals: &HashSet<String>) -> View {
        let mut view = View::default();
        for s in squashes {
            if originals.contains(&s.id) {
                if let Some(last) = s.replaces.last() {
                    view.map.insert(s.id.clone(), last.clone());
                }
                view.hidden.insert(s.id.clone());
            } else {
                for id in &s.replaces {
                    view.map.insert(id.clone(), s.id.clone());
                    if !s.missing.contains(id) {
                        view.hidden.insert(id.clone());
                    }
                }
            }
        }
        view
    }

    /// The id `id` stands for in this view.
    pub fn map<'a>(&'a self, id: &'a str) -> &'a str {
        self.map.get(id).map(String::as_str).unwrap_or(id)
    }

    /// `ids` read through the view, without repeats.
    pub fn map_all(&self, ids: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            let m = self.map(id);
            if !out.iter().any(|o| o == m) {
                out.push(m.to_string());
            }
        }
        out
    }

    /// `r` with its references read through the view.
    pub fn apply(&self, r: &Revision) -> Revision {
        let mut r = r.clone();
        if !self.map.is_empty() {
            r.down_revisions = self.map_all(&r.down_revisions);
            r.depends_on = self.map_all(&r.depends_on);
        }
        r
    }
}

/// Which squashes a database with these tracking rows uses the originals
/// of (those it applied part of), or the error when their files are gone.
pub(crate) fn originals_for(
    squashes: &[Squash],
    rows: &[AppliedRow],
    path_of: impl Fn(&str) -> (PathBuf, PathBuf),
) -> Result<HashSet<String>, Box<SquashError>> {
    let mut originals = HashSet::new();
    if squashes.is_empty() {
        return Ok(originals);
    }
    let recorded: HashMap<&str, &AppliedRow> =
        rows.iter().map(|r| (r.version.as_str(), r)).collect();
    for s in squashes {
        if recorded.contains_key(s.id.as_str()) {
            continue;
        }
        let done = s
            .replaces
            .iter()
            .filter(|id| recorded.get(id.as_str()).is_some_and(|r| !r.in_progress))
            .count();
        let any = s
            .replaces
            .iter()
            .any(|id| recorded.contains_key(id.as_str()));
        if !any || done == s.replaces.len() {
            continue;
        }
        if !s.missing.is_empty() {
            let (path, dir) = path_of(&s.id);
            let (applied, remaining): (Vec<String>, Vec<String>) = s
                .replaces
                .iter()
                .cloned()
                .partition(|id| recorded.contains_key(id.as_str()));
            return Err(Box::new(SquashError::Incomplete {
                squash: s.id.clone(),
                path,
                applied,
                remaining,
                missing: s.missing.clone(),
                dir,
            }));
        }
        originals.insert(s.id.clone());
    }
    Ok(originals)
}

/// The rows as a database in the view `view` reads them: in the squashed
/// view, the rows of a complete run become one row for the squashed
/// revision (at the place of the run's last row, with its time), and
/// leftover rows of a run whose squashed revision is recorded are dropped;
/// recorded parents are read through the view.
pub(crate) fn view_rows(
    squashes: &[Squash],
    view: &View,
    rows: &[AppliedRow],
    squashed: impl Fn(&str) -> (String, Vec<String>),
) -> Vec<AppliedRow> {
    if squashes.is_empty() {
        return rows.to_vec();
    }
    let recorded: HashSet<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    let done: HashSet<&str> = rows
        .iter()
        .filter(|r| !r.in_progress)
        .map(|r| r.version.as_str())
        .collect();
    // For each replaced id of a squash used in this view: the squash.
    let mut owner: HashMap<&str, &Squash> = HashMap::new();
    for s in squashes.iter().filter(|s| !view.hidden.contains(&s.id)) {
        for id in &s.replaces {
            owner.insert(id.as_str(), s);
        }
    }
    // The last row of each complete run, where its squashed row goes.
    let mut last_of: HashMap<&str, usize> = HashMap::new();
    for (k, row) in rows.iter().enumerate() {
        if let Some(s) = owner.get(row.version.as_str()) {
            last_of.insert(s.id.as_str(), k);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (k, row) in rows.iter().enumerate() {
        let Some(s) = owner.get(row.version.as_str()) else {
            let mut row = row.clone();
            row.down_revisions = view.map_all(&row.down_revisions);
            out.push(row);
            continue;
        };
        // In this view the run is complete, or its squashed revision is
        // recorded, or nothing of it is (see `originals_for`); a part of it
        // is read as nothing only by a stamp that records the squashed
        // revision over it.
        let complete = s.replaces.iter().all(|id| done.contains(id.as_str()));
        if !complete || recorded.contains(s.id.as_str()) || last_of.get(s.id.as_str()) != Some(&k) {
            continue;
        }
        let (checksum, parents) = squashed(&s.id);
        out.push(AppliedRow {
            version: s.id.clone(),
            applied_at: row.applied_at.clone(),
            execution_time_ms: 0,
            checksum,
            down_revisions: parents,
            in_progress: false,
        });
    }
    out
}

/// A change of tracking rows that puts a squashed revision in place of the
/// run it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settle {
    /// The squashed revision, to record unless it is.
    pub squash: String,
    /// Whether its row must be written.
    pub insert: bool,
    /// The rows of the run to remove.
    pub remove: Vec<String>,
}

/// The rows to rewrite so that every complete run is recorded as its
/// squashed revision alone.
pub(crate) fn settles(squashes: &[Squash], rows: &[AppliedRow]) -> Vec<Settle> {
    let recorded: HashMap<&str, &AppliedRow> =
        rows.iter().map(|r| (r.version.as_str(), r)).collect();
    let mut out = Vec::new();
    for s in squashes {
        let present: Vec<String> = s
            .replaces
            .iter()
            .filter(|id| recorded.contains_key(id.as_str()))
            .cloned()
            .collect();
        if present.is_empty() {
            continue;
        }
        match recorded.get(s.id.as_str()) {
            Some(row) if !row.in_progress => out.push(Settle {
                squash: s.id.clone(),
                insert: false,
                remove: present,
            }),
            Some(_) => {}
            None => {
                let complete = s
                    .replaces
                    .iter()
                    .all(|id| recorded.get(id.as_str()).is_some_and(|r| !r.in_progress));
                if complete {
                    out.push(Settle {
                        squash: s.id.clone(),
                        insert: true,
                        remove: present,
                    });
                }
            }
        }
    }
    out
}

/// The upgrade and downgrade sections of a squashed revision: the run's
/// upgrade sections in order, its downgrade sections in reverse, each part
/// headed by a comment naming the revision it came from. The downgrade is
/// `None` when a revision of the run has none (the squash is irreversible
/// too).
pub fn sections(run: &[&Revision]) -> (String, Option<String>) {
    let part = |r: &Revision, sql: &str| {
        let title = if r.message.is_empty() {
            String::new()
        } else {
            format!(": {}", r.message.replace(['\r', '\n'], " "))
        };
        format!(
            "-- from {}{title}\n{}\n",
            r.id,
            crate::revision::normalise(sql)
        )
    };
    let upgrade: Vec<String> = run.iter().map(|r| part(r, &r.upgrade_sql)).collect();
    let downgrade: Option<Vec<String>> = run
        .iter()
        .rev()
        .map(|r| r.downgrade_sql.as_deref().map(|sql| part(r, sql)))
        .collect();
    (upgrade.join("\n"), downgrade.map(|d| d.join("\n")))
}

/// What `rev squash` writes.
#[derive(Debug, Clone)]
pub struct SquashFile {
    /// The new revision's id.
    pub id: String,
    /// The run's first revision's parents.
    pub down_revisions: Vec<String>,
    /// The run's labels.
    pub branch_labels: Vec<String>,
    /// The run's dependencies outside it.
    pub depends_on: Vec<String>,
    /// The replaced ids, oldest first.
    pub replaces: Vec<String>,
    /// Its message.
    pub message: String,
    /// When it was written (RFC 3339).
    pub create_date: String,
    /// `false` when a revision of the run is not transactional.
    pub transactional: bool,
    /// The upgrade section.
    pub upgrade: String,
    /// The downgrade section; `None` for an irreversible run.
    pub downgrade: Option<String>,
}

/// The squashed revision for the run `revs` (oldest first, as
/// [`crate::graph::Graph::squashable_run`] finds it): its parents, labels,
/// dependencies and sections, ready for [`render`].
pub fn squash_file(
    revs: &[&Revision],
    id: String,
    message: String,
    create_date: String,
) -> SquashFile {
    let mut branch_labels: Vec<String> = Vec::new();
    let mut depends_on: Vec<String> = Vec::new();
    for r in revs {
        for l in &r.branch_labels {
            if !branch_labels.contains(l) {
                branch_labels.push(l.clone());
            }
        }
        for d in &r.depends_on {
            if !depends_on.contains(d) && !revs.iter().any(|x| &x.id == d) {
                depends_on.push(d.clone());
            }
        }
    }
    let (upgrade, downgrade) = sections(revs);
    SquashFile {
        id,
        down_revisions: revs[0].down_revisions.clone(),
        branch_labels,
        depends_on,
        replaces: revs.iter().map(|r| r.id.clone()).collect(),
        message,
        create_date,
        transactional: revs.iter().all(|r| r.transactional),
        upgrade,
        downgrade,
    }
}

/// The text of a squashed revision file. It is written by rev, not by the
/// project's template: its sections are the run's, not a scaffold.
pub fn render(f: &SquashFile) -> String {
    use crate::template::{yaml_ids, yaml_string};
    let mut out = format!(
        "-- revision: {}\n-- down_revision: {}\n",
        f.id,
        yaml_ids(&f.down_revisions)
    );
    if !f.branch_labels.is_empty() {
        out.push_str(&format!(
            "-- branch_labels: [{}]\n",
            f.branch_labels.join(", ")
        ));
    }
    if !f.depends_on.is_empty() {
        out.push_str(&format!("-- depends_on: [{}]\n", f.depends_on.join(", ")));
    }
    out.push_str(&format!("-- replaces: [{}]\n", f.replaces.join(", ")));
    out.push_str(&format!("-- message: {}\n", yaml_string(&f.message)));
    out.push_str(&format!("-- create_date: {}\n", f.create_date));
    if !f.transactional {
        out.push_str("-- transactional: false\n");
    }
    if f.downgrade.is_none() {
        out.push_str("-- irreversible, as a revision of the run has no downgrade section\n");
    }
    out.push_str("\n-- +upgrade\n");
    out.push_str(&f.upgrade);
    if let Some(down) = &f.downgrade {
        out.push_str("\n-- +downgrade\n");
        out.push_str(down);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::{ids, try_graph};
    use crate::graph::{Graph, LoadError};

    /// `spec` as in `graph::testing`, with `squash` replacing `replaces`.
    fn build(spec: &str, squash: &str, replaces: &[&str]) -> Result<Graph, LoadError> {
        build_without(spec, squash, replaces, &[])
    }

    /// [`build`] with the files of `deleted` gone.
    fn build_without(
        spec: &str,
        squash: &str,
        replaces: &[&str],
        deleted: &[&str],
    ) -> Result<Graph, LoadError> {
        build_squashes(spec, &[(squash, replaces)], deleted)
    }

    /// `spec` with each squash replacing its run, and the files of
    /// `deleted` gone.
    fn build_squashes(
        spec: &str,
        squashes: &[(&str, &[&str])],
        deleted: &[&str],
    ) -> Result<Graph, LoadError> {
        let mut revs = try_graph(spec).expect("spec builds").revisions().to_vec();
        revs.retain(|r| !deleted.contains(&r.id.as_str()));
        for r in &mut revs {
            if let Some((_, replaces)) = squashes.iter().find(|(id, _)| *id == r.id) {
                r.replaces = replaces.iter().map(|s| s.to_string()).collect();
            }
        }
        Graph::build(revs)
    }

    /// `s` squashes `b c d`, and the files of `c` and `d` are gone.
    fn run_with_files_deleted() -> Graph {
        build_without(
            "a:- b:a c:b d:c s:a e:d",
            "s",
            &["b", "c", "d"],
            &["c", "d"],
        )
        .unwrap()
    }

    fn squash_error(spec: &str, replaces: &[&str]) -> String {
        let e = build(spec, "s", replaces).unwrap_err();
        assert!(e.0.iter().any(|e| e.kind() == "squash_run"), "{spec}: {e}");
        e.to_string()
    }

    fn row(version: &str, in_progress: bool) -> AppliedRow {
        AppliedRow {
            version: version.into(),
            applied_at: "2026-01-01T00:00:00Z".into(),
            execution_time_ms: 1,
            checksum: String::new(),
            down_revisions: Vec::new(),
            in_progress,
        }
    }

    #[test]
    fn squashed_view_hides_the_run_and_children_may_name_either() {
        // e names the run's last revision, f the squash: both hang off `s`.
        let g = build("a:- b:a c:b d:c e:d s:a f:s", "s", &["b", "c", "d"]).unwrap();
        assert_eq!(ids(&g, g.topo_order()), ["a", "s", "e", "f"]);
        assert_eq!(ids(&g, &g.heads()), ["e", "f"]);
        let e = g.index_of("e").unwrap();
        assert_eq!(ids(&g, g.parents(e)), ["s"]);
        assert_eq!(g.index_of("c"), None);
        assert_eq!(g.revision_by_id("c").map(|r| r.id.as_str()), Some("c"));

        let o = g.with_originals(&HashSet::from(["s".to_string()])).unwrap();
        assert_eq!(ids(&o, o.topo_order()), ["a", "b", "c", "d", "e", "f"]);
        let f = o.index_of("f").unwrap();
        assert_eq!(ids(&o, o.parents(f)), ["d"]);
        assert_eq!(o.index_of("s"), None);
        // Indices are shared between the views.
        assert_eq!(o.index_of("e"), Some(e));
    }

    #[test]
    fn deleted_originals_resolve_to_the_squash() {
        let g = run_with_files_deleted();
        assert_eq!(ids(&g, g.topo_order()), ["a", "s", "e"]);
        assert_eq!(g.squashes()[0].missing, ["c", "d"]);
    }

    #[test]
    fn a_run_that_is_not_a_path_is_refused() {
        // c's parent is a, not b.
        let m = squash_error("a:- b:a c:a s:a", &["b", "c"]);
        assert!(m.contains("must form a path"), "{m}");
        // x hangs off b, inside the run.
        let m = squash_error("a:- b:a c:b x:b s:a", &["b", "c"]);
        assert!(
            m.contains("`b` is inside the run") && m.contains("`x`"),
            "{m}"
        );
        // A dependency on a revision inside the run is a branch point too.
        let m = squash_error("a:- b:a c:b x:a:b s:a", &["b", "c"]);
        assert!(m.contains("`x`"), "{m}");
        // The squash must start where the run starts.
        let m = squash_error("a:- b:a c:b s:-", &["b", "c"]);
        assert!(m.contains("parents of `b`"), "{m}");
        let m = squash_error("a:- b:a s:a", &["s"]);
        assert!(m.contains("names the revision itself"), "{m}");
    }

    #[test]
    fn a_revision_is_replaced_once_and_a_squash_is_not_replaced() {
        let both: [(&str, &[&str]); 2] = [("s", &["b", "c"]), ("t", &["b", "c"])];
        let e = build_squashes("a:- b:a c:b s:a t:a", &both, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("also replaced by"), "{e}");

        let nested: [(&str, &[&str]); 2] = [("s", &["b", "c"]), ("t", &["s", "d"])];
        let e = build_squashes("a:- b:a c:b s:a d:s t:a", &nested, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("itself a squashed revision"), "{e}");
    }

    #[test]
    fn rows_choose_the_view_and_the_settling() {
        let g = build("a:- b:a c:b d:c e:d s:a", "s", &["b", "c", "d"]).unwrap();
        let sq = g.squashes();
        let path = |_: &str| (PathBuf::from("versions/s.sql"), PathBuf::from("versions"));
        let at = |list: &[(&str, bool)]| -> Vec<AppliedRow> {
            list.iter().map(|(v, p)| row(v, *p)).collect()
        };
        // None, all, or the squash itself: the squashed view.
        for rows in [
            at(&[("a", false)]),
            at(&[("a", false), ("b", false), ("c", false), ("d", false)]),
            at(&[("a", false), ("s", false), ("b", false)]),
        ] {
            assert!(originals_for(sq, &rows, path).unwrap().is_empty());
        }
        // Part of the run, or all of it with the last in progress: originals.
        for rows in [
            at(&[("a", false), ("b", false)]),
            at(&[("a", false), ("b", false), ("c", false), ("d", true)]),
        ] {
            assert_eq!(
                originals_for(sq, &rows, path).unwrap(),
                HashSet::from(["s".to_string()])
            );
            assert!(settles(sq, &rows).is_empty());
        }
        // A complete run reads as one row for the squash, at the run's place.
        let rows = at(&[
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", false),
            ("e", false),
        ]);
        let view = View::new(sq, &HashSet::new());
        let read = view_rows(sq, &view, &rows, |_| ("sum".into(), vec!["a".into()]));
        let versions: Vec<&str> = read.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["a", "s", "e"]);
        assert_eq!(read[1].down_revisions, ["a"]);
        assert_eq!(
            settles(sq, &rows),
            [Settle {
                squash: "s".into(),
                insert: true,
                remove: vec!["b".into(), "c".into(), "d".into()],
            }]
        );
        // Leftover rows beside a recorded squash are removed, nothing added.
        let rows = at(&[("a", false), ("s", false), ("c", false)]);
        assert_eq!(
            settles(sq, &rows),
            [Settle {
                squash: "s".into(),
                insert: false,
                remove: vec!["c".into()],
            }]
        );
    }

    #[test]
    fn part_of_a_run_without_its_files_is_an_error_that_says_what_to_do() {
        let g = run_with_files_deleted();
        let rows = vec![row("a", false), row("b", false)];
        let e = originals_for(g.squashes(), &rows, |_| {
            (PathBuf::from("versions/s.sql"), PathBuf::from("versions"))
        })
        .unwrap_err();
        let m = e.to_string();
        assert_eq!(e.kind(), "squash_incomplete");
        assert!(m.contains("1 of 3 (`b`)"), "{m}");
        assert!(m.contains("`c`, `d` are gone"), "{m}");
        assert!(
            m.contains("git checkout") && m.contains("rev stamp s"),
            "{m}"
        );
    }

    #[test]
    fn sections_run_in_order_up_and_in_reverse_down() {
        let mut revs = try_graph("a:- b:a").unwrap().revisions().to_vec();
        revs[0].upgrade_sql = "CREATE TABLE t (id INT);\n".into();
        revs[0].downgrade_sql = Some("DROP TABLE t;\n".into());
        revs[0].message = "make t".into();
        revs[1].upgrade_sql = "ALTER TABLE t ADD c INT;  \n\n".into();
        revs[1].downgrade_sql = Some("ALTER TABLE t DROP c;\n".into());
        let refs: Vec<&Revision> = revs.iter().collect();
        let (up, down) = sections(&refs);
        assert_eq!(
            up,
            "-- from a: make t\nCREATE TABLE t (id INT);\n\n-- from b\nALTER TABLE t ADD c INT;\n"
        );
        assert_eq!(
            down.unwrap(),
            "-- from b\nALTER TABLE t DROP c;\n\n-- from a: make t\nDROP TABLE t;\n"
        );
        revs[1].downgrade_sql = None;
        let refs: Vec<&Revision> = revs.iter().collect();
        assert_eq!(sections(&refs).1, None);
    }
}
