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
//!   `base` reverts everything; `X@base` the branch's members
//!   ([`Graph::branch_members`]) and what needs them. Steps run children
//!   first (reverse topological order), and an irreversible revision among
//!   them is an error before anything runs.
//! - Every step is O(n) in the number of revisions: closures are `Vec<bool>`
//!   marks and the order comes from one pass over the precomputed topological
//!   order, never a sort of pairs.

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
    /// A revision without a downgrade section on the downgrade path.
    #[error(
        "cannot downgrade through revision `{revision}`: {} has no `-- +downgrade` section{}",
        path.display(),
        if others.is_empty() { String::new() } else { format!(" (nor do {})", others.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")) }
    )]
    Irreversible {
        /// The first irreversible revision in execution order.
        revision: String,
        /// Its file.
        path: PathBuf,
        /// Other irreversible revisions in the same plan, in execution order.
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
            PlanError::WrongDirection { .. } => "wrong_direction",
        }
    }
}

/// Heads of the applied set: applied revisions with no applied child through
/// `down_revision`, in topological order. A revision that something applied
/// only *depends on* stays a head, as in Alembic (`depends_on` never changes
/// which revisions are heads), so an applied dependency on another branch is
/// listed beside its dependent.
pub fn current_heads(graph: &Graph, applied: &[RevIndex]) -> Vec<RevIndex> {
    let is_applied = marks(graph, applied);
    graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| is_applied[i] && !graph.children(i).iter().any(|&c| is_applied[c]))
        .collect()
}

/// The steps that bring the database from `applied` up to `target`.
pub fn upgrade(graph: &Graph, applied: &[RevIndex], target: &Target) -> Result<Plan, PlanError> {
    if target.relative_to_current() == Some(false) {
        return Err(PlanError::WrongDirection {
            target: target.to_string(),
            direction: Direction::Upgrade,
        });
    }
    let is_applied = marks(graph, applied);
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
        Destination::Before(first) => behind(is_applied[first]),
    }
}

/// The steps that bring the database from `applied` down to `target`.
pub fn downgrade(graph: &Graph, applied: &[RevIndex], target: &Target) -> Result<Plan, PlanError> {
    if target.relative_to_current() == Some(true) {
        return Err(PlanError::WrongDirection {
            target: target.to_string(),
            direction: Direction::Downgrade,
        });
    }
    let is_applied = marks(graph, applied);
    let mut revert: Vec<bool> = match target.destination(graph, applied)? {
        Destination::Base => is_applied.clone(),
        Destination::BranchBase(owner) => graph.branch_members(owner),
        Destination::Before(first) => graph.descendants([first]),
        Destination::Revisions(revs) => {
            if let Some(&missing) = revs.iter().find(|&&r| !is_applied[r]) {
                return Err(PlanError::NotApplied {
                    target: target.to_string(),
                    revision: graph.rev(missing).id.clone(),
                });
            }
            let keep = graph.ancestors_with_deps(revs.iter().copied());
            let mut above = graph.descendants(revs);
            for (a, k) in above.iter_mut().zip(&keep) {
                *a &= !k;
            }
            above
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
    let irreversible: Vec<&crate::revision::Revision> = plan
        .revisions()
        .map(|i| graph.rev(i))
        .filter(|r| !r.is_reversible())
        .collect();
    if let [first, others @ ..] = irreversible.as_slice() {
        return Err(PlanError::Irreversible {
            revision: first.id.clone(),
            path: first.path.clone(),
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
///   `stamp base X` is the same as `stamp --purge X`); `X@base` unmarks the
///   branch; relative targets count from the recorded state.
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
    let is_applied = marks(graph, applied);
    let mut stamped = Vec::new();
    let mut unmark = vec![false; graph.len()];
    let mut or_into = |marks: Vec<bool>| {
        for (u, m) in unmark.iter_mut().zip(marks) {
            *u |= m;
        }
    };
    for target in targets {
        match target.destination(graph, applied)? {
            Destination::Revisions(revs) => stamped.extend(revs),
            Destination::Base => or_into(vec![true; graph.len()]),
            Destination::BranchBase(owner) => or_into(graph.branch_members(owner)),
            Destination::Before(first) => or_into(graph.descendants([first])),
        }
    }
    or_into(graph.descendants(stamped.iter().copied()));
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

/// `revert` plus every applied revision that needs one of them.
fn cascade(graph: &Graph, revert: &[bool], is_applied: &[bool]) -> Vec<bool> {
    let seeds = (0..graph.len()).filter(|&i| revert[i]);
    let mut removed = graph.dependents_closure(seeds);
    for (r, a) in removed.iter_mut().zip(is_applied) {
        *r &= a;
    }
    removed
}

fn marks(graph: &Graph, revs: &[RevIndex]) -> Vec<bool> {
    let mut m = vec![false; graph.len()];
    for &i in revs {
        m[i] = true;
    }
    m
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
