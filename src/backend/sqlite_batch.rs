//! Running consecutive steps on SQLite in one trip to one thread.
//!
//! Step by step, each revision costs several hand-offs between threads: the
//! executor asks sqlx's worker for the connection's handle, starts the
//! script's thread and waits for it, and in rev's default mode sends `BEGIN`
//! and `COMMIT` through sqlx's worker as well. Each hand-off waits for the
//! other thread to be scheduled. On an idle machine that is a tenth of a
//! long run; on a busy one (a CI runner, a deploy host running other jobs)
//! each wait can take a millisecond or more, and a 1,000-revision upgrade
//! took ten times its CPU time. So a run of steps that need nothing from
//! the async side between them (no foreign keys to check, no lease to
//! renew, no step outside a transaction) goes to one thread at once: per
//! step it opens the transaction (unless the whole plan is one), runs the
//! SQL and the tracking row, commits, and reports to the progress callback
//! straight from that thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connection::{Connection, Inner};
use super::diagnose::describe;
use super::error::BackendError;
use super::sqlite_script::{self, script_text, Db, Record, Running};
use super::statement::{ObserveStatement, ScriptFailure};
use crate::cancel::CancelToken;
use crate::step::{Direction, ExecStep};
use crate::url::mask_secrets;

/// What a batch reports as it goes, from its thread, with the index of the
/// step in the batch.
pub enum BatchEvent<'a> {
    /// The step's SQL is about to run.
    Started,
    /// One statement of it finished (only when asked for).
    Statement {
        /// 1-based position in the step's SQL.
        index: usize,
        /// Its first line.
        statement: &'a str,
        /// How long it took.
        took: Duration,
    },
    /// The step ran (and committed, unless the whole plan is one transaction).
    Finished(Duration),
}

/// The callback for [`BatchEvent`]s.
pub type BatchObserver = Arc<dyn Fn(usize, BatchEvent<'_>) + Send + Sync>;

/// How [`Connection::apply_batch`] runs its steps.
pub struct BatchOptions {
    /// Each step in a transaction of its own (rev's default). Otherwise the
    /// steps join the transaction the caller opened.
    pub own_transactions: bool,
    /// Checked before each step.
    pub cancel: CancelToken,
    /// Told about each step as it starts and finishes.
    pub observer: Option<BatchObserver>,
    /// Also report each statement ([`BatchEvent::Statement`]).
    pub statements: bool,
}

/// What a batch did.
pub struct BatchOutcome {
    /// How long each step that ran took, in order: the first `done.len()`
    /// steps ran (and committed with `own_transactions`).
    pub done: Vec<Duration>,
    /// Why it stopped before the end, if it did; the step at `done.len()`
    /// is the one that failed (rolled back whole).
    pub stopped: Option<BatchStop>,
}

/// Why a batch stopped early.
pub enum BatchStop {
    /// The cancel token was set: nothing after `done` started.
    Cancelled,
    /// The step at `done.len()` failed and was rolled back.
    Failed(BackendError),
}

/// Where a step stopped, as the thread saw it.
enum Stop {
    Cancelled,
    Script(ScriptFailure),
    Record(String),
    NotRecorded,
    Transaction(&'static str, String),
}

impl Connection {
    /// How many of `steps`, from the first, [`Connection::apply_batch`] can
    /// run (0 when it can run none of them: not SQLite, a lease to keep, or
    /// foreign keys to check).
    pub async fn batchable(&mut self, steps: &[ExecStep]) -> Result<usize, BackendError> {
        if !matches!(self.inner, Inner::Sqlite(_)) || self.lease.is_some() {
            return Ok(0);
        }
        // Checking foreign keys after each step needs the async side.
        if self.fk_declared == Some(true) || self.sqlite_foreign_keys_declared(None).await? {
            return Ok(0);
        }
        Ok(steps
            .iter()
            .take_while(|s| self.dialect.runs_in_transaction(s) && !may_add_foreign_keys(&s.sql))
            .count())
    }

    /// Run `steps` (which [`Connection::batchable`] accepted) with their
    /// tracking rows on one thread. A failure rolls back its step (with
    /// `own_transactions`; otherwise the caller rolls back its transaction)
    /// and ends the batch.
    pub async fn apply_batch(&mut self, steps: &[ExecStep], opts: BatchOptions) -> BatchOutcome {
        let Inner::Sqlite(s) = &mut self.inner else {
            return BatchOutcome {
                done: Vec::new(),
                stopped: Some(BatchStop::Failed(BackendError::Database {
                    operation: "running revisions",
                    message: "a batch of revisions runs on SQLite only".into(),
                })),
            };
        };
        let work: Vec<(String, Record, bool)> = steps
            .iter()
            .map(|step| {
                let record = super::apply::sqlite_record(&self.dialect, step);
                (
                    step.sql.clone(),
                    record,
                    step.direction == Direction::Downgrade,
                )
            })
            .collect();
        let mut handle = match s.conn.lock_handle().await {
            Ok(handle) => handle,
            Err(e) => {
                // Not through `self`, which the handle's borrow still holds.
                let error = BackendError::Database {
                    operation: "taking the connection for a revision",
                    message: mask_secrets(&describe(&e), &self.url),
                };
                return BatchOutcome {
                    done: Vec::new(),
                    stopped: Some(BatchStop::Failed(error)),
                };
            }
        };
        let db = Db::of(&mut handle);
        let dropped = Arc::new(AtomicBool::new(false));
        let stop_early = dropped.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("rev-sqlite-batch".into())
            .spawn(move || {
                let outcome = run_steps(db, work, &opts, &stop_early);
                let _ = tx.send(outcome);
            });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                return BatchOutcome {
                    done: Vec::new(),
                    stopped: Some(BatchStop::Failed(BackendError::Database {
                        operation: "starting a thread to run revisions",
                        message: e.to_string(),
                    })),
                }
            }
        };
        let running = Running::new(db, thread, handle, dropped);
        let outcome = rx.await;
        running.join();
        let (done, stop) = outcome.unwrap_or_else(|_| {
            let message = "the thread running the SQL stopped unexpectedly".to_owned();
            (
                Vec::new(),
                Some(Stop::Transaction("running a revision", message)),
            )
        });
        let stopped = stop.map(|stop| match stop {
            Stop::Cancelled => BatchStop::Cancelled,
            Stop::Script(f) => BatchStop::Failed(self.step_error(&steps[done.len()], f, true)),
            Stop::Record(message) => BatchStop::Failed(BackendError::Database {
                operation: "recording an applied revision",
                message: self.mask(&message),
            }),
            Stop::NotRecorded => BatchStop::Failed(self.not_recorded(&steps[done.len()].revision)),
            Stop::Transaction(operation, message) => BatchStop::Failed(BackendError::Database {
                operation,
                message: self.mask(&message),
            }),
        });
        BatchOutcome { done, stopped }
    }
}

/// The same test as the step-by-step path: a step that may declare a
/// foreign key needs the check after it.
fn may_add_foreign_keys(sql: &str) -> bool {
    sql.as_bytes()
        .windows(b"references".len())
        .any(|w| w.eq_ignore_ascii_case(b"references"))
}

/// The batch's thread: each step in turn until one fails or the run is
/// cancelled.
fn run_steps(
    db: Db,
    work: Vec<(String, Record, bool)>,
    opts: &BatchOptions,
    dropped: &AtomicBool,
) -> (Vec<Duration>, Option<Stop>) {
    let mut done = Vec::with_capacity(work.len());
    for (i, (sql, record, downgrade)) in work.into_iter().enumerate() {
        if opts.cancel.is_cancelled() || dropped.load(Ordering::SeqCst) {
            return (done, Some(Stop::Cancelled));
        }
        if let Some(observe) = &opts.observer {
            observe(i, BatchEvent::Started);
        }
        let statements = opts.observer.clone().filter(|_| opts.statements).map(|o| {
            move |index: usize, statement: &str, took: Duration| {
                o(
                    i,
                    BatchEvent::Statement {
                        index,
                        statement,
                        took,
                    },
                )
            }
        });
        let observer = statements.as_ref().map(|o| o as &ObserveStatement);
        // SAFETY: `Running` holds the connection's lock until this thread
        // has ended, so the handle is open and no one else uses it.
        let ran = unsafe { run_step(db, &sql, record, downgrade, observer, opts.own_transactions) };
        match ran {
            Ok(took) => {
                if let Some(observe) = &opts.observer {
                    observe(i, BatchEvent::Finished(took));
                }
                done.push(took);
            }
            Err(stop) => {
                if opts.own_transactions {
                    // SAFETY: as above. Fails harmlessly when BEGIN did.
                    let _ = unsafe { sqlite_script::exec_own(db, c"ROLLBACK") };
                }
                return (done, Some(stop));
            }
        }
    }
    (done, None)
}

/// One step: its SQL, then its tracking row, in its own transaction or the
/// caller's.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses meanwhile.
unsafe fn run_step(
    db: Db,
    sql: &str,
    record: Record,
    downgrade: bool,
    observer: Option<&ObserveStatement>,
    own_transaction: bool,
) -> Result<Duration, Stop> {
    if own_transaction {
        // BEGIN IMMEDIATE for the reason `Connection::begin` gives.
        // SAFETY (here and below): the caller's guarantee.
        unsafe { sqlite_script::exec_own(db, c"BEGIN IMMEDIATE") }
            .map_err(|m| Stop::Transaction("opening a transaction", m))?;
    }
    let script = script_text(sql).map_err(Stop::Script)?;
    let started = Instant::now();
    unsafe { sqlite_script::execute(db, &script, observer) }
        .map_err(|f| Stop::Script(f.into_failure(sql)))?;
    let took = started.elapsed();
    let ran = unsafe { sqlite_script::run_record(db, Some(record), took) }.map_err(Stop::Record)?;
    if downgrade && ran.recorded == 0 {
        return Err(Stop::NotRecorded);
    }
    if own_transaction {
        unsafe { sqlite_script::exec_own(db, c"COMMIT") }
            .map_err(|m| Stop::Transaction("committing a transaction", m))?;
    }
    Ok(took)
}
