//! A fleet: one graph, many named databases (`databases:` in config.yaml),
//! each migrated exactly as a single run would migrate it.
//!
//! Every database gets its own [`Migrator`], so its own connection, lock and
//! transactions; nothing is shared between them but the revision files and
//! one [`CancelToken`]. Runs go on a tokio [`JoinSet`] at most
//! [`Options::jobs`] at a time. A failure stops no other database and rolls
//! nothing back unless [`Options::fail_fast`] says so, and then it only
//! keeps new databases from starting: the running ones finish.
//!
//! A database whose plan is empty, read without a lock, is left alone: not
//! locked, not written to. So a second run of the same fleet touches
//! nothing, and a database that another rev is migrating is not waited for
//! when there is nothing left for this one to do.

pub mod select;

use tokio::task::JoinSet;

use crate::cancel::CancelToken;
use crate::error::Error;
use crate::graph::Graph;
use crate::migrator::{self, Migrator, Settings, Status};
use crate::step::Direction;
use crate::target::Target;
use crate::url::DatabaseUrl;

pub use select::{select, Member, SelectError};

/// What to do on each database.
#[derive(Debug, Clone)]
pub enum Action {
    /// [`Migrator::upgrade`] to the target.
    Upgrade(Target),
    /// [`Migrator::downgrade`] to the target.
    Downgrade(Target),
    /// [`Migrator::stamp`]: record the targets without running SQL.
    Stamp {
        /// The revisions to record.
        targets: Vec<Target>,
        /// Clear the tracking table first.
        purge: bool,
    },
    /// [`Migrator::status`]: read only, no lock.
    Status,
}

/// How a fleet runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many databases at once (at least one).
    pub jobs: usize,
    /// After the first failure, start no other database.
    pub fail_fast: bool,
    /// Run the first `canary` databases (in order, `jobs` at a time) before
    /// the others, and stop there if any of them failed. 0: no canary.
    pub canary: usize,
}

/// The default for [`Options::jobs`]: the number of cores, at most 8 (more
/// runs at once mostly wait on the same disks and servers).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Why a database was not run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// `fail_fast`, and another database had failed.
    FailFast,
    /// A canary database failed.
    CanaryFailed,
    /// The run was cancelled (Ctrl+C) before its turn.
    Cancelled,
}

/// Why a database did not reach the target.
#[derive(Debug)]
pub enum Failure {
    /// Its run failed, as a single run would have.
    Error(Error),
    /// Its run stopped after a revision because the fleet was cancelled.
    Interrupted,
    /// It was never started.
    NotStarted(NotStarted),
    /// Its task panicked (a bug in rev): the message.
    Panicked(String),
}

/// What happened to one database.
#[derive(Debug)]
pub struct Outcome {
    /// Its name under `databases:`.
    pub name: String,
    /// Its URL (`Display` masks the password).
    pub url: DatabaseUrl,
    /// The applied heads before the run (empty when never read).
    pub from: Vec<String>,
    /// The applied heads after it.
    pub to: Vec<String>,
    /// The revisions this run applied or reverted, in order (for a stamp:
    /// the revisions it recorded).
    pub applied: Vec<String>,
    /// [`Action::Status`]: what was read.
    pub status: Option<Status>,
    /// `None` when the database reached the target (or was read).
    pub failure: Option<Failure>,
}

impl Outcome {
    /// Whether the database reached the target (or, for a read, was read).
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    fn new(member: &Member) -> Outcome {
        Outcome {
            name: member.name.clone(),
            url: member.url.clone(),
            from: Vec::new(),
            to: Vec::new(),
            applied: Vec::new(),
            status: None,
            failure: None,
        }
    }
}

/// What a fleet tells its caller as it goes (for a live line).
#[derive(Debug)]
pub enum Event<'a> {
    /// A database's run started.
    Started {
        /// Its name.
        name: &'a str,
    },
    /// A database's run ended, or it will not start.
    Finished(&'a Outcome),
}

/// Runs `action` on every member, in the members' order, as [`Options`]
/// says; returns one outcome per member, in that order. `cancel` stops
/// the fleet: no database starts after it, and running ones stop after
/// their running revision, as a single run stops on Ctrl+C.
///
/// Must be called inside a tokio runtime; a multi-threaded one lets the
/// runs' CPU work (parsing, planning) overlap too.
pub async fn run(
    graph: &Graph,
    settings: &Settings,
    members: &[Member],
    action: &Action,
    options: &Options,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<Outcome>> = members.iter().map(|_| None).collect();
    let canary = options.canary.min(members.len());
    // The canaries, then the rest; or everything in one phase.
    let phases: Vec<std::ops::Range<usize>> = if canary > 0 && canary < members.len() {
        vec![0..canary, canary..members.len()]
    } else {
        std::iter::once(0..members.len()).collect()
    };
    let mut stop = None;
    for (n, phase) in phases.into_iter().enumerate() {
        let mut batch = Batch {
            graph,
            settings,
            members,
            action,
            options,
            cancel,
            on_event,
            outcomes: &mut outcomes,
        };
        stop = batch.run(phase.clone()).await;
        if stop.is_none() && n == 0 && canary > 0 {
            let failed = phase
                .clone()
                .any(|i| outcomes[i].as_ref().is_some_and(|o| !o.ok()));
            if failed {
                stop = Some(NotStarted::CanaryFailed);
            }
        }
        if stop.is_some() {
            break;
        }
    }
    members
        .iter()
        .zip(outcomes)
        .map(|(member, outcome)| {
            outcome.unwrap_or_else(|| {
                let mut o = Outcome::new(member);
                o.failure = Some(Failure::NotStarted(stop.unwrap_or(NotStarted::Cancelled)));
                on_event(Event::Finished(&o));
                o
            })
        })
        .collect()
}

/// One phase of a fleet (the canaries, or the rest).
struct Batch<'a> {
    graph: &'a Graph,
    settings: &'a Settings,
    members: &'a [Member],
    action: &'a Action,
    options: &'a Options,
    cancel: &'a CancelToken,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
    outcomes: &'a mut [Option<Outcome>],
}

impl Batch<'_> {
    /// Runs the members in `range`; returns why the fleet stops, if it does.
    async fn run(&mut self, range: std::ops::Range<usize>) -> Option<NotStarted> {
        let mut set = JoinSet::new();
        // Task id -> member, to place a panicked task's outcome.
        let mut running = std::collections::HashMap::new();
        let mut stop = None;
        let mut next = range.start;
        loop {
            while stop.is_none() && next < range.end && set.len() < self.options.jobs.max(1) {
                if self.cancel.is_cancelled() {
                    stop = Some(NotStarted::Cancelled);
                    break;
                }
                let member = self.members[next].clone();
                (self.on_event)(Event::Started { name: &member.name });
                let run = one(
                    self.graph.clone(),
                    self.settings.clone(),
                    member,
                    self.action.clone(),
                    self.cancel.clone(),
                );
                let at = next;
                let handle = set.spawn(async move { (at, run.await) });
                running.insert(handle.id(), next);
                next += 1;
            }
            let Some(joined) = set.join_next_with_id().await else {
                break;
            };
            let (i, outcome) = match joined {
                Ok((id, done)) => {
                    running.remove(&id);
                    done
                }
                Err(e) => {
                    let Some(i) = running.remove(&e.id()) else {
                        continue;
                    };
                    let mut o = Outcome::new(&self.members[i]);
                    o.failure = Some(Failure::Panicked(panic_message(e)));
                    (i, o)
                }
            };
            if !outcome.ok() && self.options.fail_fast && stop.is_none() {
                stop = Some(NotStarted::FailFast);
            }
            (self.on_event)(Event::Finished(&outcome));
            self.outcomes[i] = Some(outcome);
        }
        if stop.is_none() && self.cancel.is_cancelled() && next < range.end {
            stop = Some(NotStarted::Cancelled);
        }
        stop
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// One database's run, from its own migrator.
async fn one(
    graph: Graph,
    settings: Settings,
    member: Member,
    action: Action,
    cancel: CancelToken,
) -> Outcome {
    let mut out = Outcome::new(&member);
    let mut m = match Migrator::new(graph, member.url, settings) {
        Ok(m) => m,
        Err(e) => {
            out.failure = Some(Failure::Error(e));
            return out;
        }
    };
    m.set_cancel_token(cancel);
    if let Err(e) = act(&m, &action, &mut out).await {
        out.failure = Some(Failure::Error(e));
    }
    out
}

async fn act(m: &Migrator, action: &Action, out: &mut Outcome) -> Result<(), Error> {
    let (direction, target) = match action {
        Action::Upgrade(t) => (Direction::Upgrade, t),
        Action::Downgrade(t) => (Direction::Downgrade, t),
        Action::Status => {
            let status = m.status().await?;
            out.from.clone_from(&status.current);
            out.to.clone_from(&status.current);
            out.status = Some(status);
            return Ok(());
        }
        Action::Stamp { targets, purge } => {
            out.from = m.current().await?;
            let preview = m.stamp_preview(targets, *purge).await?;
            if preview.added.is_empty() && preview.removed.is_empty() {
                out.to.clone_from(&out.from);
                return Ok(());
            }
            let report = m.stamp(targets, *purge).await?;
            out.applied = report.added;
            out.to = m.current().await?;
            return Ok(());
        }
    };
    let (from, plan) = m.position(direction, target).await?;
    out.from = from;
    if plan.steps.is_empty() {
        out.to.clone_from(&out.from);
        return Ok(());
    }
    let result = match direction {
        Direction::Upgrade => m.upgrade(target).await,
        Direction::Downgrade => m.downgrade(target).await,
    };
    let report = match &result {
        Ok(report) => Some(report),
        Err(e) => migrator::failed_report(e),
    };
    if let Some(report) = report {
        out.applied = report.applied.iter().map(|s| s.revision.clone()).collect();
        if report.interrupted {
            out.failure = Some(Failure::Interrupted);
        }
    }
    // Where the run left the database, read back rather than inferred: a
    // failed revision may have left a row in progress.
    out.to = match (&result, out.applied.is_empty()) {
        (Err(_), true) => out.from.clone(),
        _ => m.current().await.unwrap_or_else(|_| out.from.clone()),
    };
    result.map(|_| ())
}
