//! Runs planned steps on a locked connection and reports what happened.
//!
//! The order is fixed: lock → ensure the tracking table → read the applied
//! set → (the caller plans from it) → run the steps → unlock. The applied
//! set is read *after* the lock, so two `rev` processes can never plan from
//! the same state. The lock is released on every path, errors included:
//! the code is shaped `let result = work().await; rollback; unlock; result`,
//! never `lock()?; …?; unlock()` (sqlx's migrator leaks its advisory lock
//! that way).
//!
//! Two ways in:
//! - [`run`]: one call with a planning closure; the simplest, and the lock
//!   cannot leak.
//! - [`LockedSession`]: acquire, inspect, execute or stamp, then
//!   [`LockedSession::release`]; for callers that need several operations
//!   under one lock.
//!
//! What to run (planning, targets, drift) is not decided here.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{
    AppliedRow, BackendError, BatchEvent, BatchObserver, BatchOptions, BatchStop, Connection,
};
use crate::step::Direction;

pub use crate::cancel::CancelToken;
pub use crate::step::ExecStep;

/// How to run a plan.
#[derive(Clone)]
pub struct ExecOptions {
    /// `true`: each step commits on its own. `false`: the whole plan is one
    /// transaction on PostgreSQL and SQLite. A step that cannot run in a
    /// transaction (`transactional: false`, or DDL on MySQL/MariaDB, which
    /// commits implicitly) cannot join one, so the plan's transaction commits
    /// just before it and a new one begins after it: on MySQL, each run of
    /// consecutive data-only steps is one transaction.
    pub transaction_per_migration: bool,
    /// Checked before each step.
    pub cancel: CancelToken,
    /// Told about each step as it starts and ends, so a person watching a
    /// long run sees where it is (the [`Report`] only comes at the end).
    pub progress: Option<Progress>,
    /// Also send [`StepEvent::Statement`] to `progress` as each statement of
    /// a step finishes (`rev -v`).
    pub statement_events: bool,
}

/// A callback for [`StepEvent`]s.
pub type Progress = Arc<dyn Fn(&StepEvent) + Send + Sync>;

/// What a running plan reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEvent {
    /// The plan is made and about to run: `total` steps (sent once per run,
    /// before any `Started`; a progress display sizes itself from it).
    Planned {
        /// How many steps the plan has.
        total: usize,
    },
    /// A step's SQL is about to run.
    Started {
        /// The revision.
        revision: String,
        /// Which way.
        direction: Direction,
    },
    /// A step's SQL ran. With `transaction_per_migration: false` it is not
    /// committed yet: the run's transaction commits at the end.
    Finished {
        /// The revision.
        revision: String,
        /// Which way.
        direction: Direction,
        /// How long its SQL took.
        took: Duration,
    },
    /// One statement of a step's SQL finished (only with
    /// [`ExecOptions::statement_events`]: it costs a call per statement).
    Statement {
        /// The revision whose SQL it is.
        revision: String,
        /// 1-based position in the revision's SQL.
        index: usize,
        /// Its first line.
        statement: String,
        /// How long it took.
        took: Duration,
    },
}

impl std::fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOptions")
            .field("transaction_per_migration", &self.transaction_per_migration)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .field("statement_events", &self.statement_events)
            .finish()
    }
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            transaction_per_migration: true,
            cancel: CancelToken::new(),
            progress: None,
            statement_events: false,
        }
    }
}

/// One revision run one way, named by its id (a plan step, or the step
/// of a run that failed). JSON: `{"revision": "...", "direction": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunStep {
    /// The revision id.
    pub revision: String,
    /// Upgrade or downgrade.
    pub direction: Direction,
}

/// A committed step of a run. JSON: `{"revision", "direction",
/// "execution_time_ms"}`, the time as whole milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedStep {
    /// The revision id.
    pub revision: String,
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// The time its SQL took.
    #[serde(rename = "execution_time_ms", serialize_with = "whole_millis")]
    pub elapsed: Duration,
}

fn whole_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a run did. On failure it comes inside [`ExecError`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Committed steps, in order, with the time their SQL took.
    pub applied: Vec<AppliedStep>,
    /// Revisions of the plan that are not committed, in plan order: those
    /// rolled back in whole-plan mode, the failed one, and those never started.
    pub not_run: Vec<String>,
    /// The step whose SQL or tracking row failed (it is also in `not_run`).
    /// `None` when nothing failed, or when the failure was not one step's:
    /// a commit of the run's transaction, a refusal before anything ran.
    pub failed: Option<RunStep>,
    /// The run stopped early because the [`CancelToken`] was set.
    pub interrupted: bool,
    /// The revision that was running when [`CancelToken::abort_running`]
    /// cancelled it; it rolled back and is also in `not_run`.
    pub cancelled: Option<String>,
    /// Applied revisions that ran after revisions above them in the graph
    /// had been applied: a history rebased under the database, settled with
    /// an upgrade that named them (see [`crate::rebase`]). Their SQL ran out
    /// of order. Filled by [`crate::Migrator`], not by the executor.
    pub out_of_order: Vec<String>,
    /// For `downgrade -N`: the revisions it chose because they were applied
    /// last, in plan order, each with the `applied_at` its row had. Empty
    /// for other targets. Filled by [`crate::Migrator`].
    pub applied_last: Vec<(String, String)>,
}

/// A failed run: the cause and what was committed before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ExecError {
    /// What went wrong.
    #[source]
    pub error: BackendError,
    /// What had been committed, and what not (boxed to keep `Result`s small).
    pub report: Box<Report>,
}

impl ExecError {
    /// The stable JSON kind of the cause.
    pub fn kind(&self) -> &'static str {
        self.error.kind()
    }
}

/// A connection holding the migration lock, with the tracking table ensured
/// and the applied set read under the lock.
///
/// Call [`LockedSession::release`] when done. If it is dropped instead, the
/// connection closes, which also frees the lock (the database ends the
/// session's advisory or `GET_LOCK` lock; the OS drops SQLite's file lock),
/// but an unlock error would go unseen.
#[derive(Debug)]
pub struct LockedSession {
    conn: Connection,
    applied: Vec<AppliedRow>,
}

impl LockedSession {
    /// Lock (waiting at most `lock_timeout`), create the tracking table if
    /// needed, and read the applied rows. On any error after the lock is
    /// taken, the lock is released and the connection closed before
    /// returning.
    pub async fn acquire(
        conn: Connection,
        lock_timeout: Duration,
    ) -> Result<LockedSession, BackendError> {
        Self::acquire_or_cancel(conn, lock_timeout, &CancelToken::new()).await
    }

    /// Like [`LockedSession::acquire`], but a wait for the lock ends with
    /// [`BackendError::Interrupted`] once `cancel` is set.
    pub async fn acquire_or_cancel(
        mut conn: Connection,
        lock_timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<LockedSession, BackendError> {
        if let Err(e) = conn.lock_or_cancel(lock_timeout, cancel).await {
            let _ = conn.close().await;
            return Err(e);
        }
        let prepared = async {
            conn.ensure_table().await?;
            conn.read_applied().await
        }
        .await;
        match prepared {
            Ok(applied) => Ok(LockedSession { conn, applied }),
            Err(e) => {
                // The first error is the one to report; close() unlocks.
                let _ = conn.close().await;
                Err(e)
            }
        }
    }

    /// The applied rows, oldest first, as read at [`LockedSession::acquire`]
    /// or the last [`LockedSession::refresh`].
    pub fn applied(&self) -> &[AppliedRow] {
        &self.applied
    }

    /// Read the applied rows again (after executing or stamping).
    pub async fn refresh(&mut self) -> Result<&[AppliedRow], BackendError> {
        self.applied = self.conn.read_applied().await?;
        Ok(&self.applied)
    }

    /// The underlying connection, for its dialect and URL.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Run `steps` in order. Refuses to start while a row is flagged in
    /// progress (an earlier non-transactional step stopped part-way): running
    /// on top of a half-applied revision would only bury it.
    ///
    /// Stops before the next step once `opts.cancel` is set; the report then
    /// has `interrupted` set. In whole-plan mode an interrupted or failed
    /// transaction is rolled back, so its steps are reported as not run.
    pub async fn execute(
        &mut self,
        steps: Vec<ExecStep>,
        opts: &ExecOptions,
    ) -> Result<Report, ExecError> {
        let result = self.execute_inner(&steps, opts).await;
        // Whatever happened, leave no transaction open on the locked connection.
        self.conn.rollback_if_open().await;
        result
    }

    async fn execute_inner(
        &mut self,
        steps: &[ExecStep],
        opts: &ExecOptions,
    ) -> Result<Report, ExecError> {
        refuse_in_progress(
            &self.applied,
            &self.conn.dialect().table().to_string(),
            steps,
        )?;
        if let Some(progress) = &opts.progress {
            progress(&StepEvent::Planned { total: steps.len() });
        }
        let mut report = Report::default();
        // On MySQL/MariaDB only data-only steps run in a transaction; a DDL
        // step there is treated as a non-transactional one: the plan's
        // transaction commits before it and a new one begins after it.
        let whole_plan = !opts.transaction_per_migration;
        // Only PostgreSQL can cancel a running statement and roll the step
        // back whole; ask for the handle before anything runs.
        let canceller = if steps.is_empty() {
            None
        } else {
            self.conn.canceller().await
        };
        // Steps run inside the open whole-plan transaction, not yet committed.
        let mut pending: Vec<AppliedStep> = Vec::new();

        let mut i = 0;
        while let Some(step) = steps.get(i) {
            if opts.cancel.is_cancelled() {
                report.interrupted = true;
                // A whole-plan run is all or nothing: roll back what is pending.
                self.conn.rollback_if_open().await;
                mark_not_run(&mut report, std::mem::take(&mut pending), &steps[i..]);
                return Ok(report);
            }
            let batch = match self.conn.batchable(&steps[i..]).await {
                Ok(batch) => batch,
                Err(error) => return Err(fail(report, pending, &steps[i..], error)),
            };
            if batch > 0 {
                let run = &steps[i..i + batch];
                if whole_plan {
                    if let Err(error) = self.conn.begin().await {
                        return Err(fail(report, pending, &steps[i..], error));
                    }
                }
                let batch_opts = BatchOptions {
                    own_transactions: !whole_plan,
                    cancel: opts.cancel.clone(),
                    observer: opts.progress.clone().map(|p| batch_observer(p, run)),
                    statements: opts.statement_events,
                };
                let outcome = self.conn.apply_batch(run, batch_opts).await;
                for (step, took) in run.iter().zip(&outcome.done) {
                    let done = AppliedStep {
                        revision: step.revision.clone(),
                        direction: step.direction,
                        elapsed: *took,
                    };
                    if whole_plan {
                        pending.push(done);
                    } else {
                        report.applied.push(done);
                    }
                }
                i += outcome.done.len();
                if let Some(BatchStop::Failed(error)) = outcome.stopped {
                    self.conn.rollback_if_open().await;
                    report.failed = Some(RunStep {
                        revision: steps[i].revision.clone(),
                        direction: steps[i].direction,
                    });
                    return Err(fail(report, pending, &steps[i..], error));
                }
                // Done, or cancelled: the top of the loop stops the run.
                continue;
            }
            let in_tx = self.conn.dialect().runs_in_transaction(step);
            if whole_plan && !in_tx {
                if let Err(error) = self.conn.commit().await {
                    return Err(fail(report, pending, &steps[i..], error));
                }
                report.applied.append(&mut pending);
            }
            if let Some(progress) = &opts.progress {
                progress(&StepEvent::Started {
                    revision: step.revision.clone(),
                    direction: step.direction,
                });
            }
            if let (Some(progress), true) = (&opts.progress, opts.statement_events) {
                let progress = progress.clone();
                let revision = step.revision.clone();
                self.conn.observe_statements(Some(Arc::new(
                    move |index, statement: &str, took| {
                        progress(&StepEvent::Statement {
                            revision: revision.clone(),
                            index,
                            statement: statement.to_owned(),
                            took,
                        });
                    },
                )));
            }
            // A step that rolls back whole if cancelled: its own transaction
            // or the plan's.
            let undoable = in_tx;
            let mut cancel_sent = false;
            let result = {
                let conn = &mut self.conn;
                let apply = async {
                    if whole_plan && in_tx {
                        conn.begin().await?;
                    }
                    conn.apply(step).await
                };
                tokio::pin!(apply);
                match canceller.as_ref().filter(|_| undoable) {
                    None => apply.await,
                    Some(canceller) => loop {
                        // The step is polled to its end in every case: a
                        // dropped sqlx query would leave the connection
                        // unusable, and the lock must still be released on it.
                        tokio::select! {
                            r = &mut apply => break r,
                            () = opts.cancel.aborted(), if !cancel_sent => {
                                cancel_sent = canceller.cancel().await;
                            }
                        }
                    },
                }
            };
            match result {
                Ok(took) => {
                    if let Some(progress) = &opts.progress {
                        progress(&StepEvent::Finished {
                            revision: step.revision.clone(),
                            direction: step.direction,
                            took,
                        });
                    }
                    let done = AppliedStep {
                        revision: step.revision.clone(),
                        direction: step.direction,
                        elapsed: took,
                    };
                    if self.conn.in_transaction() {
                        pending.push(done);
                    } else {
                        report.applied.push(done);
                    }
                }
                Err(error) => {
                    self.conn.rollback_if_open().await;
                    if cancel_sent {
                        // We cancelled it (a second Ctrl+C) and it rolled back
                        // with its tracking row: an interruption, not a failure.
                        report.interrupted = true;
                        report.cancelled = Some(step.revision.clone());
                        mark_not_run(&mut report, std::mem::take(&mut pending), &steps[i..]);
                        return Ok(report);
                    }
                    report.failed = Some(RunStep {
                        revision: step.revision.clone(),
                        direction: step.direction,
                    });
                    return Err(fail(report, pending, &steps[i..], error));
                }
            }
            i += 1;
        }
        if let Err(error) = self.conn.commit().await {
            return Err(fail(report, pending, &[], error));
        }
        report.applied.append(&mut pending);
        Ok(report)
    }

    /// Re-read the rows and rewrite the recorded parents of those `after`
    /// names (see [`run_then`]). Reads nothing when there is nothing to ask.
    async fn rewrite_parents<T, G>(
        &mut self,
        learned: Option<T>,
        after: G,
    ) -> Result<(), BackendError>
    where
        G: FnOnce(T, &[AppliedRow]) -> Vec<(String, Vec<String>)>,
    {
        let Some(learned) = learned else {
            return Ok(());
        };
        let rows = self.conn.read_applied().await?;
        for (version, parents) in after(learned, &rows) {
            self.conn.set_parents(&version, &parents).await?;
        }
        self.refresh().await?;
        Ok(())
    }

    /// In one transaction, record `version` as applied (unless `insert` is
    /// false: it is recorded already) and remove the rows of `replaced`: a
    /// squashed revision put in place of the run it replaces.
    pub async fn replace_rows(
        &mut self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
        insert: bool,
        replaced: &[String],
    ) -> Result<(), BackendError> {
        let own_tx = !self.conn.in_transaction() && self.conn.begin().await?;
        let result = async {
            if insert {
                self.conn
                    .stamp_applied(version, checksum, down_revisions)
                    .await?;
            }
            for old in replaced {
                self.conn.stamp_removed(old).await?;
            }
            Ok(())
        }
        .await;
        if own_tx {
            match &result {
                Ok(()) => self.conn.commit().await?,
                Err(_) => self.conn.rollback_if_open().await,
            }
        }
        result
    }

    /// Roll back anything open, release the lock (checking the database's
    /// answer) and close the connection.
    pub async fn release(self) -> Result<(), BackendError> {
        self.conn.close().await
    }
}

/// The tracking-table writes (`stamp_applied`, `stamp_removed`,
/// `set_checksum`, `set_parents`) are the connection's own, made while the
/// session holds the lock: one definition of each, not a copy here.
impl std::ops::Deref for LockedSession {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for LockedSession {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// The refusal to run `steps` while a row is flagged in progress (an earlier
/// non-transactional step stopped part-way): running on top of a
/// half-applied revision would only bury it. The same check serves a dry
/// run, so it refuses exactly as the real run does.
pub(crate) fn refuse_in_progress(
    rows: &[AppliedRow],
    table: &str,
    steps: &[ExecStep],
) -> Result<(), ExecError> {
    let Some(row) = rows.iter().find(|r| r.in_progress) else {
        return Ok(());
    };
    Err(ExecError {
        error: BackendError::InProgress {
            revision: row.version.clone(),
            table: table.to_owned(),
            others: rows
                .iter()
                .filter(|r| r.version != row.version)
                .map(|r| r.version.clone())
                .collect(),
        },
        report: Box::new(Report {
            not_run: steps.iter().map(|s| s.revision.clone()).collect(),
            ..Report::default()
        }),
    })
}

/// The progress callback, told about a batch's steps by their index in it.
fn batch_observer(progress: Progress, steps: &[ExecStep]) -> BatchObserver {
    let steps: Vec<(String, Direction)> = steps
        .iter()
        .map(|s| (s.revision.clone(), s.direction))
        .collect();
    Arc::new(move |i, event| {
        let (revision, direction) = (steps[i].0.clone(), steps[i].1);
        progress(&match event {
            BatchEvent::Started => StepEvent::Started {
                revision,
                direction,
            },
            BatchEvent::Statement {
                index,
                statement,
                took,
            } => StepEvent::Statement {
                revision,
                index,
                statement: statement.to_owned(),
                took,
            },
            BatchEvent::Finished(took) => StepEvent::Finished {
                revision,
                direction,
                took,
            },
        });
    })
}

/// Build the error for a failure at `rest[0]` (or at commit when `rest` is
/// empty): pending steps were rolled back, so they join the not-run list.
/// Steps rolled back with the run's open transaction (`pending`) and those
/// never started (`rest`) are all reported as not run, in plan order.
fn mark_not_run(report: &mut Report, pending: Vec<AppliedStep>, rest: &[ExecStep]) {
    report
        .not_run
        .extend(pending.into_iter().map(|step| step.revision));
    report
        .not_run
        .extend(rest.iter().map(|s| s.revision.clone()));
}

fn fail(
    mut report: Report,
    pending: Vec<AppliedStep>,
    rest: &[ExecStep],
    error: BackendError,
) -> ExecError {
    mark_not_run(&mut report, pending, rest);
    ExecError {
        error,
        report: Box::new(report),
    }
}

/// Lock, read the applied set, let `plan` choose the steps from it, run
/// them, and release the lock, whatever fails.
///
/// `plan` gets the rows read under the lock. Its error is returned as is
/// (after the release). If everything ran but releasing the lock failed, the
/// error carries the full report.
///
/// ```no_run
/// # async fn demo(conn: rev::backend::Connection) -> Result<(), rev::executor::ExecError> {
/// use std::time::Duration;
/// use rev::executor::{run, ExecOptions, ExecError};
/// let report = run(conn, Duration::from_secs(60), &ExecOptions::default(), |applied| {
///     // plan from `applied`…
///     Ok::<_, ExecError>(Vec::new())
/// })
/// .await?;
/// # let _ = report; Ok(()) }
/// ```
pub async fn run<E, F>(
    conn: Connection,
    lock_timeout: Duration,
    opts: &ExecOptions,
    plan: F,
) -> Result<Report, E>
where
    F: FnOnce(&[AppliedRow]) -> Result<Vec<ExecStep>, E>,
    E: From<ExecError>,
{
    run_then(
        conn,
        lock_timeout,
        opts,
        |rows| plan(rows).map(|steps| (steps, None::<()>)),
        |(), _| Vec::new(),
    )
    .await
}

/// Like [`run`], then, still under the lock and only if the steps raised no
/// error (an interrupted run included), rewrites the recorded parents of
/// the rows `after` names, as `(version, parents)`. `after` gets what `plan`
/// learned (`T`) and the rows as they are after the run; it is not called,
/// and the rows are not read again, when `plan` learned nothing (`None`).
///
/// This is how a history rebased under a database is settled: once the
/// revisions inserted below applied ones have run, the applied revisions
/// above them record the parents their files name now. A failure to
/// rewrite is an error that carries the full report.
pub async fn run_then<E, T, F, G>(
    conn: Connection,
    lock_timeout: Duration,
    opts: &ExecOptions,
    plan: F,
    after: G,
) -> Result<Report, E>
where
    F: FnOnce(&[AppliedRow]) -> Result<(Vec<ExecStep>, Option<T>), E>,
    G: FnOnce(T, &[AppliedRow]) -> Vec<(String, Vec<String>)>,
    E: From<ExecError>,
{
    let mut session = match LockedSession::acquire_or_cancel(conn, lock_timeout, &opts.cancel).await
    {
        Ok(session) => session,
        // Stopped while waiting for the lock: nothing ran, nothing to undo.
        Err(BackendError::Interrupted { .. }) => {
            return Ok(Report {
                interrupted: true,
                ..Report::default()
            })
        }
        Err(error) => {
            return Err(E::from(ExecError {
                error,
                report: Box::default(),
            }))
        }
    };
    let result = match plan(session.applied()) {
        Ok((steps, learned)) => match session.execute(steps, opts).await {
            Ok(report) => match session.rewrite_parents(learned, after).await {
                Ok(()) => Ok(report),
                Err(error) => Err(E::from(ExecError {
                    error,
                    report: Box::new(report),
                })),
            },
            Err(e) => Err(E::from(e)),
        },
        Err(e) => Err(e),
    };
    let released = session.release().await;
    match (result, released) {
        (Ok(report), Ok(())) => Ok(report),
        (Ok(report), Err(error)) => Err(E::from(ExecError {
            error,
            report: Box::new(report),
        })),
        // The run's own error matters more; the lock is gone with the
        // closed connection either way.
        (Err(e), _) => Err(e),
    }
}
