//! Planning: from the applied set and a target, the exact steps of an
//! upgrade or downgrade, or the new applied set of a stamp. Pure: no
//! database, no I/O; the migrator runs what this module decides.
//!
//! Semantics (Alembic's):
//! - **upgrade** to `X` applies every unapplied revision that `X` needs:
//!   its ancestors through `down_revision` *and* `depends_on` (so the other
//!   parents of a merge and dependencies on other branches come along), in
//!   [`Graph::topo_order`]. `heads` applies everything. A target that is
//!   already applied, or an ancestor of the current state, is an empty plan.
//!   `base`, `X@base` or a walk off a base are "behind" and an error that
//!   says to use downgrade when they would revert anything.
//! - **downgrade** to `X` (which must be applied) reverts the applied
//!   revisions that descend from `X` through `down_revision` and that `X`
//!   does not itself need, then, cascading, every applied revision that
//!   depends on or descends from a reverted one. Nothing else: other heads
//!   stay, and downgrading a dependent leaves its dependencies applied.
//!   `LABEL@X` counts only the descendants on the label's lineage
//!   ([`Graph::lineage`]) before the cascade, so `LABEL@BRANCHPOINT` reverts
//!   one branch alone. `base` reverts everything; `LABEL@base` the roots of
//!   the lineage and everything built on them (other branches sharing a
//!   root included, as in Alembic; [`beyond_branch`] names them). Steps run
//!   children first (reverse topological order), and an irreversible
//!   revision among them is an error before anything runs.
//! - **downgrade `-N`** goes past Alembic, whose `-1` stops at every merge:
//!   it reverts the N revisions applied last, one at a time, each time the
//!   latest in applied order ([`applied_order`]) that nothing still applied
//!   needs. So at a merge `-1` reverts the merge alone and `-2` then the
//!   parent applied last. `REV-N` and `LABEL@-N` still walk the graph.
//! - Every step is O(n) in the number of revisions: closures are `Vec<bool>`
//!   marks and the order comes from one pass over the precomputed topological
//!   order, never a sort of pairs (only [`applied_order`] sorts, once, the
//!   rows it is given).

use std::path::PathBuf;

use crate::graph::{Graph, RevIndex};
use crate::step::Direction;
use crate::target::{Destination, Target, TargetError};

/// The ordered steps of a migration run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Steps in execution order.
    pub steps: Vec<PlanStep>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The revisions of the steps, in execution order.
    pub fn revisions(&self) -> impl Iterator<Item = RevIndex> + '_ {
        self.steps.iter().map(|s| s.revision)
    }
}

/// One revision run one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlanStep {
    /// The revision.
    pub revision: RevIndex,
    /// Upgrade or downgrade.
    pub direction: Direction,
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The target does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// `upgrade base` (or `X@base`, or a walk off a base) with revisions
    /// applied that it would have to revert.
    #[error("target `{target}` is behind the current state; use `rev downgrade {target}` to revert revisions")]
    TargetBehind {
        /// The target as written.
        target: String,
    },
    /// A downgrade target that is not applied: beside or above the current
    /// state.
    #[error("cannot downgrade to `{target}`: revision `{revision}` is not applied (it is above or beside the current state)")]
    NotApplied {
        /// The target as written.
        target: String,
        /// The unapplied revision it names.
        revision: String,
    },
    /// A revision without a downgrade section, or with an empty one, on the
    /// downgrade path.
    #[error(
        "cannot downgrade through revision `{revision}`: {}{}",
        match downgrade_line {
            None => format!("{} has no `-- +downgrade` section", path.display()),
            Some(line) => format!("its `-- +downgrade` section ({}:{line}) is empty", path.display()),
        },
        nor_through(others)
    )]
    Irreversible {
        /// The first irreversible revision in execution order.
        revision: String,
        /// Its file.
        path: PathBuf,
        /// The line of its `-- +downgrade` marker when the section is there
        /// but empty; `None` when the file has no such section.
        downgrade_line: Option<usize>,
        /// Other irreversible revisions in the same plan, in execution order.
        others: Vec<String>,
    },
    /// A revision with an empty upgrade section (an untouched scaffold) on
    /// the upgrade path: applying it would record a change that was never
    /// written.
    #[error(
        "cannot upgrade through revision `{revision}`: its `-- +upgrade` section ({}:{upgrade_line}) is empty, as `rev new` leaves it{}",
        path.display(),
        nor_through(others)
    )]
    EmptyUpgrade {
        /// The first such revision in execution order.
        revision: String,
        /// Its file.
        path: PathBuf,
        /// The line of its `-- +upgrade` marker.
        upgrade_line: usize,
        /// Other such revisions in the same plan, in execution order.
        others: Vec<String>,
    },
    /// `upgrade -2`, `downgrade +2`, `upgrade billing@-1`...: a walk from the
    /// current state that goes the other way.
    #[error(
        "`{target}` goes {} but this is {direction}; use `rev {} {target}`",
        if *direction == Direction::Upgrade { "down" } else { "up" },
        if *direction == Direction::Upgrade { "downgrade" } else { "upgrade" }
    )]
    WrongDirection {
        /// The target as written.
        target: String,
        /// The command that was asked for.
        direction: Direction,
    },
}

impl PlanError {
    /// A stable name for scripts (`-f json`); never changes for a variant.
    pub fn kind(&self) -> &'static str {
        match self {
            PlanError::Target(e) => e.kind(),
            PlanError::TargetBehind { .. } => "target_behind",
            PlanError::NotApplied { .. } => "not_applied",
            PlanError::Irreversible { .. } => "irreversible",
            PlanError::EmptyUpgrade { .. } => "empty_upgrade",
            PlanError::WrongDirection { .. } => "wrong_direction",
        }
    }
}

fn nor_through(others: &[String]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let list: Vec<String> = others.iter().map(|o| format!("`{o}`")).collect();
    format!(" (nor through {})", list.join(", "))
}

/// Refuses an upgrade plan that would apply a revision whose upgrade section
/// is empty ([`crate::revision::Revision::has_empty_upgrade`]): it is almost
/// always a file `rev new` wrote and nobody filled in, and applying it would
/// record it as done, so its SQL, once written, would never run here. A
/// comment line in the section says it is empty on purpose.
///
/// Kept apart from [`upgrade`], which also answers "what is pending" for
/// `status`, where such a revision is still pending.
pub fn refuse_empty_upgrades(graph: &Graph, plan: &Plan) -> Result<(), PlanError> {
    let mut empty = plan
        .steps
        .iter()
        .filter(|s| s.direction == Direction::Upgrade)
        .map(|s| graph.rev(s.revision))
        .filter(|r| r.has_empty_upgrade());
    match empty.next() {
        None => Ok(()),
        Some(first) => Err(PlanError::EmptyUpgrade {
            revision: first.id.clone(),
            path: first.path.clone(),
            upgrade_line: first.upgrade_line,
            others: empty.map(|r| r.id.clone()).collect(),
        }),
    }
}

/// The applied revisions in the order they were applied, oldest first: the
/// order `downgrade -N` counts back through. `rows` pairs each applied
/// revision with its `applied_at` (RFC 3339 UTC text, as rev writes it).
/// Times compare to the millisecond; rows within one millisecond (SQLite
/// keeps no finer time, and one run applies many revisions in one) tie, and
/// a tie goes by plan order, the later revision counting as applied later,
/// as one run applies them. O(n log n) for n rows.
pub fn applied_order<'a>(
    graph: &Graph,
    rows: impl IntoIterator<Item = (RevIndex, &'a str)>,
) -> Vec<RevIndex> {
    let mut keyed: Vec<(String, usize, RevIndex)> = rows
        .into_iter()
        .map(|(i, at)| (to_millis(at), graph.topo_position(i), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

/// `applied_at` cut to milliseconds, as text that sorts in time order:
/// `2026-05-01T10:00:00.123456Z` and `2026-05-01T10:00:00.123Z` both give
/// `2026-05-01T10:00:00.123`, and a time without a fraction gets `.000`.
fn to_millis(at: &str) -> String {
    let at = at.trim_end_matches(['Z', 'z']);
    let (whole, fraction) = at.split_once('.').unwrap_or((at, ""));
    let mut key = String::with_capacity(whole.len() + 4);
    key.push_str(whole);
    key.push('.');
    key.extend(fraction.chars().chain(std::iter::repeat('0')).take(3));
    key
}

/// Whether `target` is `-N` from the current state, which `downgrade`
/// counts in applied revisions (see [`downgrade`]), and N if so.
pub fn counts_applied(target: &Target) -> Option<u64> {
    match target {
        Target::Relative { from: None, delta } if *delta < 0 => Some(delta.unsigned_abs()),
        _ => None,
    }
}

/// The N revisions `downgrade -N` reverts, in the order they run: each time
/// the applied revision applied last (latest in `applied`, which is in
/// applied order) among those that nothing still applied names as
/// `down_revision` or in `depends_on`. O(n + e + N log n): each revision's
/// count of applied revisions that need it is kept, and those at zero wait
/// in a heap keyed by applied order.
fn applied_last(
    graph: &Graph,
    applied: &[RevIndex],
    n: u64,
    target: &Target,
) -> Result<Vec<RevIndex>, PlanError> {
    const NOT_APPLIED: usize = usize::MAX;
    if applied.is_empty() {
        return Err(TargetError::NothingApplied {
            target: target.to_string(),
            branch: None,
        }
        .into());
    }
    let mut rank = vec![NOT_APPLIED; graph.len()];
    for (k, &i) in applied.iter().enumerate() {
        rank[i] = k;
    }
    let mut needed_by = vec![0usize; graph.len()];
    for &i in applied {
        for p in graph.needs(i) {
            if rank[p] != NOT_APPLIED {
                needed_by[p] += 1;
            }
        }
    }
    let mut ready: std::collections::BinaryHeap<(usize, RevIndex)> = applied
        .iter()
        .filter(|&&i| needed_by[i] == 0)
        .map(|&i| (rank[i], i))
        .collect();
    let mut chosen = Vec::new();
    while (chosen.len() as u64) < n {
        let Some((_, i)) = ready.pop() else {
            return Err(TargetError::Overshoot {
                target: target.to_string(),
                requested: n,
                available: chosen.len() as u64,
                upward: false,
            }
            .into());
        };
        chosen.push(i);
        for p in graph.needs(i) {
            if rank[p] != NOT_APPLIED {
                needed_by[p] -= 1;
                if needed_by[p] == 0 {
                    ready.push((rank[p], p));
                }
            }
        }
    }
    Ok(chosen)
}

/// The steps that bring the database from `applied` up to `target`.
pub fn upgrade(graph: &Graph, applied: &[RevIndex], target: &Target) -> Result<Plan, PlanError> {
    if target.relative_to_current() == Some(false) {
        return Err(PlanError::WrongDirection {
            target: target.to_string(),
            direction: Direction::Upgrade,
        });
    }
    let is_applied = graph.marks(applied);
    let behind = |would_revert: bool| {
        if would_revert {
            Err(PlanError::TargetBehind {
                target: target.to_string(),
            })
        } else {
            Ok(Plan::default())
        }
    };
    match target.destination(graph, applied)? {
        Destination::Revisions(revs) => {
            let needed = graph.ancestors_with_deps(revs);
            Ok(steps(
                graph.topo_order().iter().copied(),
                |i| needed[i] && !is_applied[i],
                Direction::Upgrade,
            ))
        }
        Destination::Base => behind(is_applied.contains(&true)),
        Destination::BranchBase(owner) => {
            let members = graph.branch_members(owner);
            behind((0..graph.len()).any(|i| members[i] && is_applied[i]))
        }
        Destination::Before(roots) => {
            let gone = graph.descendants(roots);
            behind((0..graph.len()).any(|i| gone[i] && is_applied[i]))
        }
    }
}

/// The steps that bring the database from `applied` down to `target`.
/// `applied` lists the applied revisions in applied order, oldest first
/// ([`applied_order`]): `-N` counts back through that order, and nothing else
/// depends on it (a script from `--from` passes plan order).
pub fn downgrade(graph: &Graph, applied: &[RevIndex], target: &Target) -> Result<Plan, PlanError> {
    if target.relative_to_current() == Some(true) {
        return Err(PlanError::WrongDirection {
            target: target.to_string(),
            direction: Direction::Downgrade,
        });
    }
    if let Some(n) = counts_applied(target) {
        let chosen = applied_last(graph, applied, n, target)?;
        return refuse_irreversible(
            graph,
            Plan {
                steps: chosen
                    .into_iter()
                    .map(|revision| PlanStep {
                        revision,
                        direction: Direction::Downgrade,
                    })
                    .collect(),
            },
        );
    }
    let is_applied = graph.marks(applied);
    let mut revert: Vec<bool> = match target.destination(graph, applied)? {
        Destination::Base => is_applied.clone(),
        Destination::BranchBase(owner) => graph.branch_members(owner),
        Destination::Before(roots) => graph.descendants(roots),
        Destination::Revisions(revs) => {
            if let Some(&missing) = revs.iter().find(|&&r| !is_applied[r]) {
                return Err(PlanError::NotApplied {
                    target: target.to_string(),
                    revision: graph.rev(missing).id.clone(),
                });
            }
            above(graph, target, &revs)
        }
    };
    for (r, a) in revert.iter_mut().zip(&is_applied) {
        *r &= a;
    }
    let removed = cascade(graph, &revert, &is_applied);
    let plan = steps(
        graph.topo_order().iter().rev().copied(),
        |i| removed[i],
        Direction::Downgrade,
    );
    refuse_irreversible(graph, plan)
}

/// What lies above `revs` for a downgrade or stamp to them: their
/// descendants that they do not themselves need and, for `X@REV`, only
/// those on X's lineage (as in Alembic, so `billing@REV` below the branch
/// point leaves other branches above REV alone). What needs these goes too;
/// [`cascade`] adds it.
fn above(graph: &Graph, target: &Target, revs: &[RevIndex]) -> Vec<bool> {
    let keep = graph.ancestors_with_deps(revs.iter().copied());
    let mut above = graph.descendants(revs.iter().copied());
    for (a, k) in above.iter_mut().zip(&keep) {
        *a &= !k;
    }
    if let Some(owner) = target.branch_owner(graph) {
        for (a, l) in above.iter_mut().zip(graph.lineage(owner)) {
            *a &= l;
        }
    }
    above
}

/// What a `LABEL@base` downgrade reverts outside the branch, so that the
/// CLI can say so: reverting the roots of a lineage reverts everything
/// built on them, and branches that share a root (one history split into
/// `expand` and `contract`, say) go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeyondBranch {
    /// The roots of the branch's lineage, in topological order.
    pub roots: Vec<RevIndex>,
    /// The reverted revisions outside the lineage, in the order given.
    pub others: Vec<RevIndex>,
    /// Where the branch leaves the rest of the history, when at one
    /// revision: `LABEL@` it reverts the branch alone.
    pub branch_point: Option<RevIndex>,
}

/// For a `LABEL@base` target, the revisions among `reverted` outside the
/// label's lineage, or `None` when there are none (or the target is not
/// `LABEL@base`).
pub fn beyond_branch(
    graph: &Graph,
    target: &Target,
    reverted: impl IntoIterator<Item = RevIndex>,
) -> Option<BeyondBranch> {
    let Target::Branch {
        at: crate::target::BranchAt::Base,
        ..
    } = target
    else {
        return None;
    };
    let owner = target.branch_owner(graph)?;
    let lineage = graph.lineage(owner);
    let others: Vec<RevIndex> = reverted.into_iter().filter(|&i| !lineage[i]).collect();
    if others.is_empty() {
        return None;
    }
    let roots = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| lineage[i] && graph.is_base(i))
        .collect();
    // The branch's own revisions start where Graph::branch_members stops.
    let members = graph.branch_members(owner);
    let mut first = owner;
    while let [parent] = graph.parents(first) {
        if !members[*parent] {
            break;
        }
        first = *parent;
    }
    let branch_point = match graph.parents(first) {
        [parent] => Some(*parent),
        _ => None,
    };
    Some(BeyondBranch {
        roots,
        others,
        branch_point,
    })
}

/// The plan, or an error naming its irreversible revisions before anything
/// runs.
fn refuse_irreversible(graph: &Graph, plan: Plan) -> Result<Plan, PlanError> {
    let irreversible: Vec<&crate::revision::Revision> = plan
        .revisions()
        .map(|i| graph.rev(i))
        .filter(|r| !r.is_reversible())
        .collect();
    if let [first, others @ ..] = irreversible.as_slice() {
        return Err(PlanError::Irreversible {
            revision: first.id.clone(),
            path: first.path.clone(),
            downgrade_line: first.downgrade_line,
            others: others.iter().map(|r| r.id.clone()).collect(),
        });
    }
    Ok(plan)
}

/// The applied set after `rev stamp TARGETS` (topologically ordered), without
/// running any SQL.
///
/// Semantics, following Alembic's `stamp`:
/// - Stamping revision `X` marks `X` and everything it needs (ancestors
///   through `down_revision` and `depends_on`) as applied, and unmarks what
///   was applied above `X` (its descendants that `X` does not need, and,
///   cascading, whatever needs those), so `stamp X` can move the recorded
///   state down as well as up.
/// - Applied revisions unrelated to the stamped ones stay applied: with
///   several targets, the new heads are the stamped revisions plus the
///   current heads that are neither above nor below any of them.
/// - `base` unmarks everything not needed by another target (so
///   `stamp base X` is the same as `stamp --purge X`); `X@base` and `X@REV`
///   unmark what `downgrade` to them would revert (the lineage's roots and
///   all built on them; what lies above REV on X's lineage); relative
///   targets walk from the recorded state (`-N` too: only `downgrade`
///   counts applied revisions).
/// - All targets are applied at once, so their order does not matter;
///   stamping both a revision and one of its ancestors gives the descendant.
/// - `purge` starts from nothing instead of the recorded state (Alembic's
///   `--purge`, for a table that holds revisions unknown to the graph: the
///   caller drops those rows).
pub fn stamp(
    graph: &Graph,
    applied: &[RevIndex],
    targets: &[Target],
    purge: bool,
) -> Result<Vec<RevIndex>, PlanError> {
    let applied: &[RevIndex] = if purge { &[] } else { applied };
    let is_applied = graph.marks(applied);
    let mut stamped = Vec::new();
    let mut unmark = vec![false; graph.len()];
    let mut or_into = |marks: Vec<bool>| {
        for (u, m) in unmark.iter_mut().zip(marks) {
            *u |= m;
        }
    };
    for target in targets {
        match target.destination(graph, applied)? {
            Destination::Revisions(revs) => {
                or_into(above(graph, target, &revs));
                stamped.extend(revs);
            }
            Destination::Base => or_into(vec![true; graph.len()]),
            Destination::BranchBase(owner) => or_into(graph.branch_members(owner)),
            Destination::Before(roots) => or_into(graph.descendants(roots)),
        }
    }
    let keep = graph.ancestors_with_deps(stamped.iter().copied());
    for ((u, k), a) in unmark.iter_mut().zip(&keep).zip(&is_applied) {
        *u = *u && !k && *a;
    }
    // Nothing in `keep` can be in the cascade: `keep` is closed under what
    // its members need, and the unmarked set starts outside it.
    let removed = cascade(graph, &unmark, &is_applied);
    Ok(graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| keep[i] || (is_applied[i] && !removed[i]))
        .collect())
}

/// How `rev stamp` settles a revision an earlier run left in progress,
/// keeping the record of every other applied revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing applied stands on the revision: `rev stamp REVISION` records
    /// it as done, and `rev stamp` of `undo` removes its record alone.
    Stamp {
        /// The targets that drop the revision's record and keep the others
        /// (see [`unstamp_targets`]).
        undo: Vec<String>,
    },
    /// Applied revisions descend from (or depend on) it: it was inserted
    /// below them (a rebased history). `rev stamp` of `keep` records it as
    /// done and drops no row; no stamp removes its record alone.
    Inserted {
        /// The applied revisions above it, in the order given.
        above: Vec<String>,
        /// The recorded revisions, it included, below no other recorded one.
        keep: Vec<String>,
    },
}

/// How to settle `revision`, left in progress while `others` are applied;
/// `None` if an id is not in the graph.
pub fn recovery(graph: &Graph, revision: &str, others: &[String]) -> Option<Recovery> {
    let above = applied_above(graph, revision, others)?;
    if above.is_empty() {
        return Some(Recovery::Stamp {
            undo: unstamp_targets(graph, revision, others)?,
        });
    }
    let mut recorded = others.to_vec();
    recorded.push(revision.to_owned());
    Some(Recovery::Inserted {
        above,
        keep: recorded_tops(graph, &recorded)?,
    })
}

/// Recorded revisions that descend from (or depend on) `revision`, or
/// `None` if an id is not in the graph.
fn applied_above(graph: &Graph, revision: &str, others: &[String]) -> Option<Vec<String>> {
    let x = graph.index_of(revision)?;
    let above = graph.dependents_closure([x]);
    let mut out = Vec::new();
    for id in others {
        if above[graph.index_of(id)?] {
            out.push(id.clone());
        }
    }
    Some(out)
}

/// The recorded revisions below no other recorded one: stamping them keeps
/// every record and adds none that is not already an ancestor.
fn recorded_tops(graph: &Graph, recorded: &[String]) -> Option<Vec<String>> {
    let mut marked = vec![false; graph.len()];
    for id in recorded {
        marked[graph.index_of(id)?] = true;
    }
    Some(
        crate::rebase::maximal(graph, &marked)
            .into_iter()
            .map(|i| graph.rev(i).id.clone())
            .collect(),
    )
}

/// The `rev stamp` targets that remove the record of `revision` (left in
/// progress) and keep every other record. A stamp drops what lies above a
/// stamped revision, so naming the revision's parents removes it (a base has
/// none: `REV-1` lands before it); naming the heads of the other applied
/// revisions keeps them. `REV-1` alone would not do: it also drops every
/// other branch above the parent. `None` if an id is not in the graph.
pub fn unstamp_targets(graph: &Graph, revision: &str, others: &[String]) -> Option<Vec<String>> {
    let x = graph.index_of(revision)?;
    let others = others
        .iter()
        .map(|id| graph.index_of(id))
        .collect::<Option<Vec<_>>>()?;
    let parents = graph.parents(x);
    let mut targets: Vec<String> = if !parents.is_empty() {
        parents.iter().map(|&p| graph.rev(p).id.clone()).collect()
    } else if others.is_empty() {
        return Some(vec!["base".to_owned()]);
    } else {
        vec![format!("{revision}-1")]
    };
    for h in graph.current_heads(&others) {
        let id = &graph.rev(h).id;
        if !targets.contains(id) {
            targets.push(id.clone());
        }
    }
    Some(targets)
}

/// `revert` plus every applied revision that needs one of them.
fn cascade(graph: &Graph, revert: &[bool], is_applied: &[bool]) -> Vec<bool> {
    let seeds = (0..graph.len()).filter(|&i| revert[i]);
    let mut removed = graph.dependents_closure(seeds);
    for (r, a) in removed.iter_mut().zip(is_applied) {
        *r &= a;
    }
    removed
}

fn steps(
    order: impl Iterator<Item = RevIndex>,
    take: impl Fn(RevIndex) -> bool,
    direction: Direction,
) -> Plan {
    Plan {
        steps: order
            .filter(|&i| take(i))
            .map(|revision| PlanStep {
                revision,
                direction,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::{graph, ids, try_graph};

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    fn set(g: &Graph, list: &[&str]) -> Vec<RevIndex> {
        list.iter().map(|id| g.index_of(id).unwrap()).collect()
    }

    /// The ids of an upgrade plan, checking every step's direction.
    fn up(g: &Graph, on: &[&str], target: &str) -> Result<Vec<String>, PlanError> {
        let plan = upgrade(g, &set(g, on), &t(target))?;
        assert!(plan.steps.iter().all(|s| s.direction == Direction::Upgrade));
        Ok(ids(g, &plan.revisions().collect::<Vec<_>>()))
    }

    fn down(g: &Graph, on: &[&str], target: &str) -> Result<Vec<String>, PlanError> {
        let plan = downgrade(g, &set(g, on), &t(target))?;
        assert!(plan
            .steps
            .iter()
            .all(|s| s.direction == Direction::Downgrade));
        Ok(ids(g, &plan.revisions().collect::<Vec<_>>()))
    }

    fn stamped(g: &Graph, on: &[&str], targets: &[&str], purge: bool) -> Vec<String> {
        let targets: Vec<Target> = targets.iter().map(|s| t(s)).collect();
        ids(g, &stamp(g, &set(g, on), &targets, purge).unwrap())
    }

    fn heads(g: &Graph, on: &[&str]) -> Vec<String> {
        ids(g, &g.current_heads(&set(g, on)))
    }

    const NONE: [&str; 0] = [];

    #[test]
    fn linear() {
        // c
        // |
        // b
        // |
        // a
        let g = graph("a:- b:a c:b");
        assert_eq!(up(&g, &[], "head").unwrap(), ["a", "b", "c"]);
        assert_eq!(up(&g, &[], "+1").unwrap(), ["a"]);
        assert_eq!(up(&g, &["a"], "+2").unwrap(), ["b", "c"]);
        assert_eq!(up(&g, &["a"], "c").unwrap(), ["b", "c"]);
        // Already applied, or an ancestor of the current state: nothing to do.
        assert_eq!(up(&g, &["a", "b", "c"], "head").unwrap(), NONE);
        assert_eq!(up(&g, &["a", "b", "c"], "a").unwrap(), NONE);
        assert_eq!(up(&g, &["a", "b", "c"], "head-1").unwrap(), NONE);
        assert_eq!(down(&g, &["a", "b", "c"], "-1").unwrap(), ["c"]);
        assert_eq!(down(&g, &["a", "b", "c"], "-3").unwrap(), ["c", "b", "a"]);
        assert_eq!(down(&g, &["a", "b", "c"], "a").unwrap(), ["c", "b"]);
        assert_eq!(down(&g, &["a", "b", "c"], "base").unwrap(), ["c", "b", "a"]);
        // Downgrading to the current head is empty.
        assert_eq!(down(&g, &["a", "b"], "b").unwrap(), NONE);
        assert_eq!(down(&g, &["a", "b", "c"], "head").unwrap(), NONE);
        assert_eq!(down(&g, &[], "base").unwrap(), NONE);
        assert_eq!(heads(&g, &["a", "b"]), ["b"]);
        assert_eq!(heads(&g, &[]), NONE);
    }

    #[test]
    fn errors() {
        // c
        // |
        // b
        // |
        // a
        let g = graph("a:- b:a c:b");
        let e = up(&g, &["a", "b"], "base").unwrap_err();
        assert_eq!(
            e,
            PlanError::TargetBehind {
                target: "base".into()
            }
        );
        assert_eq!(e.kind(), "target_behind");
        assert!(e.to_string().contains("use `rev downgrade base`"), "{e}");
        assert_eq!(up(&g, &[], "base").unwrap(), NONE);

        let e = down(&g, &["a"], "c").unwrap_err();
        assert_eq!(
            e,
            PlanError::NotApplied {
                target: "c".into(),
                revision: "c".into()
            }
        );
        assert_eq!(e.kind(), "not_applied");
        assert!(e.to_string().contains("`c` is not applied"), "{e}");

        let e = up(&g, &["a", "b"], "-2").unwrap_err();
        assert_eq!(
            e,
            PlanError::WrongDirection {
                target: "-2".into(),
                direction: Direction::Upgrade
            }
        );
        assert_eq!(e.kind(), "wrong_direction");
        assert_eq!(
            e.to_string(),
            "`-2` goes down but this is upgrade; use `rev downgrade -2`"
        );
        let e = down(&g, &["a", "b"], "+2").unwrap_err();
        assert_eq!(e.kind(), "wrong_direction");
        assert!(e.to_string().contains("use `rev upgrade +2`"), "{e}");

        let e = down(&g, &[], "-1").unwrap_err();
        assert_eq!(e.kind(), "nothing_applied");
        assert!(matches!(
            e,
            PlanError::Target(TargetError::NothingApplied { .. })
        ));

        let e = up(&g, &["a"], "+3").unwrap_err();
        assert_eq!(e.kind(), "overshoot");
        assert!(e.to_string().contains("only 2 steps up, not 3"), "{e}");
        assert_eq!(up(&g, &[], "zz").unwrap_err().kind(), "unknown_revision");
    }

    #[test]
    fn irreversible_revision_is_named_before_anything_runs() {
        // c
        // |
        // b   (no downgrade section)
        // |
        // a   (no downgrade section)
        let mut revs = try_graph("a:- b:a c:b").unwrap().revisions().to_vec();
        for r in &mut revs[..2] {
            r.downgrade_sql = None;
            r.downgrade_line = None;
        }
        let g = Graph::build(revs).unwrap();
        let all = ["a", "b", "c"];
        let e = down(&g, &all, "base").unwrap_err();
        assert_eq!(
            e,
            PlanError::Irreversible {
                revision: "b".into(),
                path: "versions/b.sql".into(),
                downgrade_line: None,
                others: vec!["a".into()],
            }
        );
        assert_eq!(e.kind(), "irreversible");
        assert_eq!(
            e.to_string(),
            "cannot downgrade through revision `b`: versions/b.sql has no `-- +downgrade` section (nor through `a`)"
        );
        // Above the irreversible revisions is fine.
        assert_eq!(down(&g, &all, "b").unwrap(), ["c"]);
    }

    #[test]
    fn empty_downgrade_section_is_irreversible_and_said_to_be_empty() {
        let mut revs = try_graph("a:- b:a").unwrap().revisions().to_vec();
        revs[1].downgrade_sql = None;
        revs[1].downgrade_line = Some(9);
        let g = Graph::build(revs).unwrap();
        let e = down(&g, &["a", "b"], "base").unwrap_err();
        assert_eq!(e.kind(), "irreversible");
        assert_eq!(
            e.to_string(),
            "cannot downgrade through revision `b`: its `-- +downgrade` section (versions/b.sql:9) is empty"
        );
    }

    #[test]
    fn empty_upgrade_sections_in_a_plan_are_refused() {
        // c
        // |
        // b   (empty upgrade section)
        // |
        // a   (empty upgrade section)
        let mut revs = try_graph("a:- b:a c:b").unwrap().revisions().to_vec();
        for r in &mut revs {
            r.upgrade_sql = if r.id == "c" { "SELECT 1;\n" } else { "\n  \n" }.into();
        }
        let g = Graph::build(revs).unwrap();
        let plan = upgrade(&g, &[], &"heads".parse().unwrap()).unwrap();
        let e = refuse_empty_upgrades(&g, &plan).unwrap_err();
        assert_eq!(e.kind(), "empty_upgrade");
        assert_eq!(
            e.to_string(),
            "cannot upgrade through revision `a`: its `-- +upgrade` section (versions/a.sql:1) is empty, as `rev new` leaves it (nor through `b`)"
        );
        // Once they are applied (stamped, or applied by an older rev), the
        // rest of the history is not blocked by them.
        let a = g.index_of("a").unwrap();
        let b = g.index_of("b").unwrap();
        let plan = upgrade(&g, &[a, b], &"heads".parse().unwrap()).unwrap();
        assert!(refuse_empty_upgrades(&g, &plan).is_ok());
        // A downgrade plan is not an upgrade.
        let c = g.index_of("c").unwrap();
        let plan = downgrade(&g, &[a, b, c], &Target::Base).unwrap();
        assert!(refuse_empty_upgrades(&g, &plan).is_ok());
    }

    #[test]
    fn branch_and_merge() {
        //   m
        //  / \
        // b   c
        //  \ /
        //   a
        let g = graph("a:- b:a c:a m:b,c");
        // The merge pulls in its other parent.
        assert_eq!(up(&g, &["a", "b"], "m").unwrap(), ["c", "m"]);
        assert_eq!(up(&g, &[], "head").unwrap(), ["a", "b", "c", "m"]);
        assert_eq!(up(&g, &["a"], "b").unwrap(), ["b"]);
        assert_eq!(heads(&g, &["a", "b", "c"]), ["b", "c"]);
        let all = ["a", "b", "c", "m"];
        // Only what lies above the target goes; `c` is beside `b` and stays.
        assert_eq!(down(&g, &all, "b").unwrap(), ["m"]);
        assert_eq!(down(&g, &all, "a").unwrap(), ["m", "c", "b"]);
        assert_eq!(down(&g, &["a", "b", "c"], "b").unwrap(), NONE);
        // `-1` at the merge reverts the merge alone, `-2` then the parent
        // applied last (the order of `all` is the applied order here).
        assert_eq!(down(&g, &all, "-1").unwrap(), ["m"]);
        assert_eq!(down(&g, &all, "-2").unwrap(), ["m", "c"]);
        assert_eq!(down(&g, &["a", "c", "b", "m"], "-2").unwrap(), ["m", "b"]);
        assert_eq!(down(&g, &all, "-4").unwrap(), ["m", "c", "b", "a"]);
        // Walking down from the merge is still ambiguous.
        assert_eq!(down(&g, &all, "m-1").unwrap_err().kind(), "ambiguous_walk");
        // `+1` with several current heads.
        let e = up(&g, &["a", "b", "c"], "+1").unwrap_err();
        assert_eq!(e.kind(), "multiple_current_heads");
        assert_eq!(up(&g, &["a"], "+1").unwrap_err().kind(), "ambiguous_walk");
    }

    #[test]
    fn two_bases() {
        // x2   y2
        // |    |
        // x1   y1
        let g = graph("x1:- x2:x1 y1:- y2:y1");
        assert_eq!(up(&g, &[], "heads").unwrap(), ["x1", "x2", "y1", "y2"]);
        assert_eq!(up(&g, &[], "head").unwrap_err().kind(), "multiple_heads");
        assert_eq!(up(&g, &[], "+1").unwrap_err().kind(), "ambiguous_walk");
        assert_eq!(up(&g, &["x1"], "y2").unwrap(), ["y1", "y2"]);
        let all = ["x1", "x2", "y1", "y2"];
        assert_eq!(heads(&g, &all), ["x2", "y2"]);
        assert_eq!(down(&g, &all, "x1").unwrap(), ["x2"]);
        assert_eq!(down(&g, &all, "base").unwrap(), ["y2", "y1", "x2", "x1"]);
        // `y1-1` walks off the base `y1`: that lineage goes, the other stays.
        assert_eq!(down(&g, &all, "y1-1").unwrap(), ["y2", "y1"]);
        assert_eq!(down(&g, &all, "heads").unwrap(), NONE);
        assert_eq!(
            down(&g, &["x1"], "heads").unwrap_err().kind(),
            "not_applied"
        );
        assert_eq!(up(&g, &all, "y1-1").unwrap_err().kind(), "target_behind");
    }

    #[test]
    fn labelled_branches_move_alone() {
        // b2 (billing)   s2 (shop)
        // |              |
        // b1             s1
        //   \           /
        //    +-- a ----+
        let g = graph("a:- b1:a b2:b1::billing s1:a s2:s1::shop");
        assert_eq!(up(&g, &[], "billing@head").unwrap(), ["a", "b1", "b2"]);
        assert_eq!(up(&g, &["a"], "shop@+1").unwrap(), ["s1"]);
        assert_eq!(up(&g, &["a", "s1"], "billing@+2").unwrap(), ["b1", "b2"]);
        let all = ["a", "b1", "b2", "s1", "s2"];
        assert_eq!(down(&g, &all, "billing@-1").unwrap(), ["b2"]);
        // `billing@base` reverts the root it shares with `shop`, and so shop
        // too (as in Alembic); `billing@a`, the branch point, billing alone.
        assert_eq!(
            down(&g, &all, "billing@base").unwrap(),
            ["s2", "s1", "b2", "b1", "a"]
        );
        assert_eq!(down(&g, &all, "billing@a").unwrap(), ["b2", "b1"]);
        assert_eq!(down(&g, &all, "shop@a").unwrap(), ["s2", "s1"]);
        assert_eq!(down(&g, &all, "billing@b1").unwrap(), ["b2"]);
        assert_eq!(down(&g, &all, "billing@-2").unwrap(), ["b2", "b1"]);
        assert_eq!(
            down(&g, &all, "billing@-3").unwrap_err().kind(),
            "overshoot"
        );
        // `-1` with two current heads reverts the one applied last.
        assert_eq!(down(&g, &all, "-1").unwrap(), ["s2"]);
        assert_eq!(
            down(&g, &["a", "s1", "s2", "b1", "b2"], "-1").unwrap(),
            ["b2"]
        );
        // A walk from both heads still cannot pick one.
        assert_eq!(
            up(&g, &["a", "b1", "s1"], "+1").unwrap_err().kind(),
            "multiple_current_heads"
        );
        assert_eq!(
            up(&g, &all, "billing@base").unwrap_err().kind(),
            "target_behind"
        );
        assert_eq!(up(&g, &[], "billing@base").unwrap(), NONE);
        assert_eq!(
            up(&g, &["a", "s1"], "billing@base").unwrap_err().kind(),
            "target_behind"
        );
        assert_eq!(
            up(&g, &all, "billing@-1").unwrap_err().kind(),
            "wrong_direction"
        );
        assert_eq!(
            down(&g, &all, "shop@+1").unwrap_err().kind(),
            "wrong_direction"
        );
    }

    #[test]
    fn depends_on_across_branches() {
        // x2 ..depends_on..> y1 (billing)
        // |                  |        y2
        // x1                 (base)   |
        //                             y1
        let g = graph("x1:- x2:x1:y1 y1:-::billing y2:y1");
        // Upgrading pulls the dependency in, in topological order.
        assert_eq!(up(&g, &[], "x2").unwrap(), ["x1", "y1", "x2"]);
        assert_eq!(up(&g, &["x1"], "x2").unwrap(), ["y1", "x2"]);
        // `heads` includes what `depends_on` requires.
        assert_eq!(up(&g, &[], "heads").unwrap(), ["x1", "y1", "x2", "y2"]);
        let all = ["x1", "x2", "y1", "y2"];
        // A dependency that nothing else builds on is not a current head
        // once its dependent is applied (Alembic's `current`)...
        assert_eq!(heads(&g, &["x1", "y1", "x2"]), ["x2"]);
        assert_eq!(heads(&g, &["x1", "y1"]), ["x1", "y1"]);
        // ...but one with its own line above it is.
        assert_eq!(heads(&g, &all), ["x2", "y2"]);
        // Downgrading the dependency cascades to the dependent.
        assert_eq!(down(&g, &all, "billing@base").unwrap(), ["y2", "x2", "y1"]);
        assert_eq!(down(&g, &all, "y1-1").unwrap(), ["y2", "x2", "y1"]);
        // Downgrading the dependent leaves the dependency applied.
        assert_eq!(down(&g, &all, "x1").unwrap(), ["x2"]);
        assert_eq!(down(&g, &all, "x2-2").unwrap(), ["x2", "x1"]);
        // Reverting above the dependency does not touch the dependent.
        assert_eq!(down(&g, &all, "y1").unwrap(), ["y2"]);
    }

    #[test]
    fn merges_of_merges() {
        //     n
        //    / \
        //   m   d
        //  / \  |
        // b   c |
        //  \ /  |
        //   a --+
        let g = graph("a:- b:a c:a d:a m:b,c n:m,d");
        assert_eq!(up(&g, &["a", "b"], "n").unwrap(), ["c", "d", "m", "n"]);
        let all = ["a", "b", "c", "d", "m", "n"];
        assert_eq!(down(&g, &all, "m").unwrap(), ["n"]);
        assert_eq!(down(&g, &all, "d").unwrap(), ["n"]);
        assert_eq!(down(&g, &all, "b").unwrap(), ["n", "m"]);
        assert_eq!(down(&g, &all, "a").unwrap(), ["n", "m", "d", "c", "b"]);
        let e = down(&g, &all, "n-1").unwrap_err();
        assert!(
            matches!(&e, PlanError::Target(TargetError::AmbiguousWalk { from: Some(f), choices, .. }) if f == "n" && choices == &["d", "m"]),
            "{e:?}"
        );
        assert_eq!(down(&g, &all, "m-1").unwrap_err().kind(), "ambiguous_walk");
        // `-N` goes through both merges: n, then the later of m and d.
        assert_eq!(down(&g, &all, "-1").unwrap(), ["n"]);
        assert_eq!(down(&g, &all, "-3").unwrap(), ["n", "m", "d"]);
        assert_eq!(
            down(&g, &["a", "d", "b", "c", "m", "n"], "-3").unwrap(),
            ["n", "m", "c"]
        );
    }

    #[test]
    fn stamp_moves_the_recorded_state() {
        //     m
        //    / \           z2 ..depends_on..> c
        //   b   c          |
        //    \ /           z1
        //     a
        let g = graph("a:- b:a c:a m:b,c z1:- z2:z1:c");
        // Stamping marks ancestors and dependencies.
        assert_eq!(stamped(&g, &[], &["z2"], false), ["a", "c", "z1", "z2"]);
        assert_eq!(stamped(&g, &[], &["m"], false), ["a", "b", "c", "m"]);
        // Stamping down unmarks what was above; unrelated heads stay.
        let all = ["a", "b", "c", "m", "z1", "z2"];
        assert_eq!(
            stamped(&g, &all, &["b"], false),
            ["a", "b", "c", "z1", "z2"]
        );
        // Unmarking `c` unmarks `z2`, which depends on it.
        assert_eq!(stamped(&g, &all, &["a"], false), ["a", "z1"]);
        assert_eq!(stamped(&g, &all, &["base"], false), NONE);
        assert_eq!(stamped(&g, &all, &["base", "z1"], false), ["z1"]);
        // Several stamps at once, in any order.
        assert_eq!(stamped(&g, &[], &["b", "z1"], false), ["a", "b", "z1"]);
        assert_eq!(
            stamped(&g, &[], &["m", "b"], false),
            stamped(&g, &[], &["b", "m"], false)
        );
        // `--purge` starts from nothing.
        assert_eq!(stamped(&g, &all, &["z1"], true), ["z1"]);
        assert_eq!(
            stamped(&g, &["a", "b"], &["+1"], false),
            ["a", "b", "c", "m"]
        );
        let e = stamp(&g, &[], &[t("head")], false).unwrap_err();
        assert_eq!(e.kind(), "multiple_heads");
    }

    #[test]
    fn stamp_branch_base() {
        // b2 (billing)   s1
        // |              |
        // b1 ---- a -----+
        let g = graph("a:- b1:a b2:b1::billing s1:a");
        let all = ["a", "b1", "b2", "s1"];
        // The root is shared, so it goes and everything on it (as a
        // `downgrade billing@base` would); the branch point keeps `s1`.
        assert_eq!(stamped(&g, &all, &["billing@base"], false), NONE);
        assert_eq!(stamped(&g, &all, &["billing@a"], false), ["a", "s1"]);
        // A branch with a root of its own goes alone.
        let g = graph("a:- s1:a b1:- b2:b1::billing");
        let all = ["a", "s1", "b1", "b2"];
        assert_eq!(stamped(&g, &all, &["billing@base"], false), ["a", "s1"]);
    }

    #[test]
    fn label_at_rev_below_the_branch_point_reverts_only_the_lineage() {
        //   d1    d2 <..depends_on.. e
        //   |     |
        //   c1    c2 (feature)
        //    \   /
        //      b
        //      |
        //      a
        let g = graph("a:- b:a c1:b d1:c1 c2:b::feature d2:c2 e:-:d2");
        let all = ["a", "b", "c1", "d1", "c2", "d2", "e"];
        // Above b on feature's lineage, and what depends on that (e).
        assert_eq!(down(&g, &all, "feature@b").unwrap(), ["e", "d2", "c2"]);
        assert_eq!(down(&g, &all, "c1@b").unwrap(), ["d1", "c1"]);
        // Below the branch point: b is on the lineage, and c1 and d1 are
        // built on it, so they go too.
        assert_eq!(
            down(&g, &all, "feature@a").unwrap(),
            ["e", "d2", "d1", "c2", "c1", "b"]
        );
        // Without a label, everything above b.
        assert_eq!(down(&g, &all, "b").unwrap(), ["e", "d2", "d1", "c2", "c1"]);
        assert_eq!(
            down(&g, &all, "feature@c1").unwrap_err().kind(),
            "not_on_branch"
        );
        // A stamp to the same target records what that downgrade leaves.
        assert_eq!(
            stamped(&g, &all, &["feature@b"], false),
            ["a", "b", "c1", "d1"]
        );
        // Upgrading to a revision below the branch point needs no lineage.
        assert_eq!(up(&g, &[], "feature@b").unwrap(), ["a", "b"]);
        assert_eq!(up(&g, &["a"], "feature@base+3").unwrap(), ["b", "c2"]);
    }

    #[test]
    fn label_at_base_names_what_a_shared_root_takes_along() {
        // e2 (expand)   k2 (contract)
        // |             |
        // e1            k1
        //   \          /
        //    +-- r ---+
        let g = graph("r:- e1:r e2:e1::expand k1:r k2:k1::contract");
        let all = ["r", "e1", "e2", "k1", "k2"];
        let target = t("expand@base");
        let plan = downgrade(&g, &set(&g, &all), &target).unwrap();
        let beyond = beyond_branch(&g, &target, plan.revisions()).unwrap();
        assert_eq!(ids(&g, &beyond.roots), ["r"]);
        assert_eq!(ids(&g, &beyond.others), ["k2", "k1"]);
        assert_eq!(beyond.branch_point, g.index_of("r"));
        // The branch point reverts the branch alone, and reaches nothing else.
        let target = t("expand@r");
        assert_eq!(down(&g, &all, "expand@r").unwrap(), ["e2", "e1"]);
        assert_eq!(beyond_branch(&g, &target, set(&g, &["e2", "e1"])), None);
        // A branch with its own root: nothing beyond it, unless something
        // elsewhere depends on it.
        let g = graph("r:- k1:r e1:- e2:e1::expand");
        let target = t("expand@base");
        let plan = downgrade(&g, &set(&g, &["r", "k1", "e1", "e2"]), &target).unwrap();
        assert_eq!(ids(&g, &plan.revisions().collect::<Vec<_>>()), ["e2", "e1"]);
        assert_eq!(beyond_branch(&g, &target, plan.revisions()), None);
        let g = graph("r:- k1:r:e1 e1:- e2:e1::expand");
        let plan = downgrade(&g, &set(&g, &["r", "e1", "k1", "e2"]), &target).unwrap();
        let beyond = beyond_branch(&g, &target, plan.revisions()).unwrap();
        assert_eq!(ids(&g, &beyond.others), ["k1"]);
        assert_eq!(beyond.branch_point, None);
    }

    #[test]
    fn minus_n_counts_what_was_applied_last() {
        // i was inserted below b and applied after it (a rebased history):
        // the revision applied last is needed by b, so `-1` reverts b.
        let g = graph("a:- i:a b:i");
        assert_eq!(down(&g, &["a", "b", "i"], "-1").unwrap(), ["b"]);
        assert_eq!(down(&g, &["a", "b", "i"], "-2").unwrap(), ["b", "i"]);
        let e = down(&g, &["a", "b", "i"], "-4").unwrap_err();
        assert_eq!(
            e,
            PlanError::Target(TargetError::Overshoot {
                target: "-4".into(),
                requested: 4,
                available: 3,
                upward: false
            })
        );
        assert_eq!(down(&g, &[], "-1").unwrap_err().kind(), "nothing_applied");
        // A dependency is needed like a parent.
        let g = graph("x1:- x2:x1:y1 y1:-");
        assert_eq!(down(&g, &["y1", "x1", "x2"], "-2").unwrap(), ["x2", "x1"]);
        assert_eq!(down(&g, &["x1", "y1", "x2"], "-2").unwrap(), ["x2", "y1"]);
        // Walks anchored on a revision are unchanged.
        assert_eq!(down(&g, &["x1", "y1", "x2"], "x2-1").unwrap(), ["x2"]);
        // An irreversible revision among those chosen is named first.
        let mut revs = try_graph("a:- b:a c:a").unwrap().revisions().to_vec();
        revs[1].downgrade_sql = None;
        revs[1].downgrade_line = None;
        let g = Graph::build(revs).unwrap();
        assert_eq!(
            down(&g, &["a", "c", "b"], "-1").unwrap_err().kind(),
            "irreversible"
        );
        assert_eq!(down(&g, &["a", "b", "c"], "-1").unwrap(), ["c"]);
    }

    #[test]
    fn applied_order_ties_go_to_the_later_revision_in_plan_order() {
        //   m
        //  / \
        // b   c
        //  \ /
        //   a
        let g = graph("a:- b:a c:a m:b,c");
        let order = |rows: &[(&str, &str)]| {
            ids(
                &g,
                &applied_order(
                    &g,
                    rows.iter().map(|(id, at)| (g.index_of(id).unwrap(), *at)),
                ),
            )
        };
        // c and b in the same millisecond (PostgreSQL keeps microseconds,
        // with c's earlier): a tie, so b, earlier in plan order, counts as
        // applied first, and `-2` reverts m then c.
        let tied = [
            ("m", "2026-05-01T10:00:00.300000Z"),
            ("c", "2026-05-01T10:00:00.200100Z"),
            ("b", "2026-05-01T10:00:00.200900Z"),
            ("a", "2026-05-01T10:00:00.100000Z"),
        ];
        assert_eq!(order(&tied), ["a", "b", "c", "m"]);
        let applied: Vec<RevIndex> = applied_order(
            &g,
            tied.iter().map(|(id, at)| (g.index_of(id).unwrap(), *at)),
        );
        let plan = downgrade(&g, &applied, &t("-2")).unwrap();
        assert_eq!(ids(&g, &plan.revisions().collect::<Vec<_>>()), ["m", "c"]);
        // A millisecond apart, the clock decides.
        let apart = [
            ("a", "2026-05-01T10:00:00.100Z"),
            ("c", "2026-05-01T10:00:00.200Z"),
            ("b", "2026-05-01T10:00:00.201Z"),
            ("m", "2026-05-01T10:00:00.300Z"),
        ];
        assert_eq!(order(&apart), ["a", "c", "b", "m"]);
        // SQLite's milliseconds, microseconds and whole seconds compare.
        let mixed = [
            ("b", "2026-05-01T10:00:01Z"),
            ("c", "2026-05-01T10:00:00.999Z"),
            ("a", "2026-05-01T10:00:00.5Z"),
        ];
        assert_eq!(order(&mixed), ["a", "c", "b"]);
        assert_eq!(to_millis("2026-05-01T10:00:00Z"), "2026-05-01T10:00:00.000");
        assert_eq!(
            to_millis("2026-05-01T10:00:00.123456Z"),
            "2026-05-01T10:00:00.123"
        );
    }

    #[test]
    fn current_heads_leave_out_applied_dependencies() {
        // x2 ..depends_on..> y1
        let g = graph("x1:- x2:x1:y1 y1:-");
        assert_eq!(heads(&g, &["x1", "y1", "x2"]), ["x2"]);
        assert_eq!(
            ids(&g, &g.applied_tips(&set(&g, &["x1", "y1", "x2"]))),
            ["y1", "x2"]
        );
    }

    #[test]
    fn empty_history() {
        let g = graph("");
        assert_eq!(up(&g, &[], "head").unwrap(), NONE);
        assert_eq!(up(&g, &[], "heads").unwrap(), NONE);
        assert_eq!(down(&g, &[], "base").unwrap(), NONE);
        assert_eq!(up(&g, &[], "+1").unwrap_err().kind(), "overshoot");
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The recorded set after the stamp a recovery hint prints.
    fn after_stamp(g: &Graph, applied: &[&str], targets: &[String]) -> Vec<String> {
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let mut out = stamped(g, applied, &targets, false);
        out.sort();
        out
    }

    /// ```text
    /// a ── x          (x in progress)
    /// └── b ── m      (m merges b and c)
    /// c ──────┘       (c: a second base)
    /// ```
    #[test]
    fn recovery_stamp_removes_only_the_revision_in_progress() {
        let g = graph("a:- x:a b:a c:- m:b,c");
        // x in progress beside another applied branch: its parent alone
        // (`x-1`) would drop b, c and m too.
        let targets = unstamp_targets(&g, "x", &owned(&["a", "b", "c", "m"])).unwrap();
        assert_eq!(targets, ["a", "m"]);
        assert_eq!(
            after_stamp(&g, &["a", "b", "c", "m", "x"], &targets),
            ["a", "b", "c", "m"]
        );
        // A merge in progress: both parents.
        let targets = unstamp_targets(&g, "m", &owned(&["a", "b", "c"])).unwrap();
        assert_eq!(targets, ["b", "c"]);
        assert_eq!(
            after_stamp(&g, &["a", "b", "c", "m"], &targets),
            ["a", "b", "c"]
        );
        // A base in progress beside another root.
        let targets = unstamp_targets(&g, "c", &owned(&["a", "b"])).unwrap();
        assert_eq!(targets, ["c-1", "b"]);
        assert_eq!(after_stamp(&g, &["a", "b", "c"], &targets), ["a", "b"]);
        // The only record.
        assert_eq!(unstamp_targets(&g, "a", &[]).unwrap(), ["base"]);
        assert!(unstamp_targets(&g, "nope", &[]).is_none());
        assert!(unstamp_targets(&g, "a", &owned(&["nope"])).is_none());
        assert_eq!(
            recovery(&g, "x", &owned(&["a", "b", "c", "m"])),
            Some(Recovery::Stamp {
                undo: owned(&["a", "m"])
            })
        );
    }

    /// `a1 ── x ── a2 ── a3`: x was inserted below a2 and a3, then stopped
    /// part-way. No stamp removes its record alone; stamping the recorded
    /// tops records it as done and drops no row.
    #[test]
    fn recovery_of_an_inserted_revision_keeps_every_row() {
        let g = graph("a1:- x:a1 a2:x a3:a2");
        let recovery_x = recovery(&g, "x", &owned(&["a1", "a2", "a3"])).unwrap();
        assert_eq!(
            recovery_x,
            Recovery::Inserted {
                above: owned(&["a2", "a3"]),
                keep: owned(&["a3"]),
            }
        );
        assert_eq!(
            after_stamp(&g, &["a1", "a2", "a3", "x"], &owned(&["a3"])),
            ["a1", "a2", "a3", "x"]
        );
        // Nothing applied above it: the plain stamp, to its parent.
        assert_eq!(
            recovery(&g, "a3", &owned(&["a1", "x", "a2"])),
            Some(Recovery::Stamp {
                undo: owned(&["a2"])
            })
        );
        assert_eq!(
            after_stamp(&g, &["a1", "x", "a2", "a3"], &owned(&["a2"])),
            ["a1", "a2", "x"]
        );
        assert!(recovery(&g, "x", &owned(&["nope"])).is_none());
        assert!(recovery(&g, "nope", &[]).is_none());
    }
}
