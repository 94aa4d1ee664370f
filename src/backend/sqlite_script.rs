//! Running a revision's SQL on SQLite, in time linear in its length.
//!
//! Through sqlx, a multi-statement string costs O(n²) on SQLite: sqlx hands
//! SQLite the rest of the string, with its length, to prepare each next
//! statement, and SQLite copies text that does not end in NUL before parsing
//! it; sqlx also keeps every prepared statement until the string is done,
//! and sends each statement's result from its worker thread to the caller
//! (a thread hand-off per statement). 60,000 INSERTs took 32 s, against
//! 0.7 s in `sqlite3`.
//!
//! So the script runs the way `sqlite3` runs it: one NUL-terminated copy,
//! prepared, stepped and finalized one statement at a time, on sqlx's own
//! connection handle (taken with [`SqliteConnection::lock_handle`], which
//! sqlx offers for calls into the C API; it keeps sqlx's worker off the
//! connection meanwhile). SQLite itself finds the statements, so what runs
//! does not depend on our splitter; the failing statement's index counts the
//! statements SQLite prepared, which is how [`super::split`] numbers them.
//!
//! The script runs on a thread of its own, so a long statement never blocks
//! the async runtime (signals, timers, other tasks). If the caller drops the
//! future meanwhile, the running statement is interrupted
//! (`sqlite3_interrupt`, which fails it and rolls back its changes) and the
//! thread joined before the connection is handed back to sqlx.

use std::ffi::{c_char, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use libsqlite3_sys as ffi;
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnection};

use super::diagnose::describe;
use super::split;
use super::statement::{ObserveStatement, ScriptFailure, StatementObserver};
use crate::url::BackendKind;

/// The statement that records a step (its tracking row), built once the
/// script's time is known and run right after it on the script's thread, in
/// the same transaction. Through sqlx it would cost two more hand-offs
/// between threads per revision, a fifth of a long run's time.
pub(super) type Record = Box<dyn FnOnce(Duration) -> String + Send>;

/// What a run with a [`Record`] did.
pub(super) struct Ran {
    /// How long the script took, without the record.
    pub elapsed: Duration,
    /// Rows the record statement changed (0 when there was none).
    pub recorded: u64,
}

/// Why a run failed: the step's own SQL, or the statement recording it.
pub(super) enum RunFailure {
    Script(ScriptFailure),
    Record(String),
}

/// Run `sql`, all of it, on `conn`, then `record` if given. A failure names
/// the statement.
pub(super) async fn run(
    conn: &mut SqliteConnection,
    sql: &str,
    observer: Option<StatementObserver>,
    record: Option<Record>,
) -> Result<Ran, RunFailure> {
    match run_inner(conn, sql, observer, record).await {
        Ok(outcome) => outcome.map_err(RunFailure::Record),
        Err(failure) => Err(RunFailure::Script(failure)),
    }
}

async fn run_inner(
    conn: &mut SqliteConnection,
    sql: &str,
    observer: Option<StatementObserver>,
    record: Option<Record>,
) -> Result<Result<Ran, String>, ScriptFailure> {
    let script = script_text(sql)?;
    let mut handle = conn.lock_handle().await.map_err(|e| ScriptFailure {
        statement_index: None,
        statement: first_statement(sql),
        message: describe(&e),
    })?;
    let db = Db::of(&mut handle);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("rev-sqlite-script".into())
        .spawn(move || {
            // SAFETY: `Running` holds the connection's lock until this thread
            // has ended, so the handle is open and no one else uses it.
            let started = std::time::Instant::now();
            let outcome = unsafe { execute(db, &script, observer.as_deref()) };
            let elapsed = started.elapsed();
            // SAFETY: as above; the record runs only after the script succeeded.
            let outcome = outcome.map(|()| unsafe { run_record(db, record, elapsed) });
            let _ = tx.send(outcome);
        })
        .map_err(|e| ScriptFailure {
            statement_index: None,
            statement: first_statement(sql),
            message: format!("could not start a thread to run the SQL: {e}"),
        })?;
    let running = Running::new(db, thread, handle, Arc::new(AtomicBool::new(false)));
    let outcome = rx.await;
    running.join();
    match outcome {
        Ok(Ok(ran)) => Ok(ran),
        Ok(Err(failed)) => Err(failed.into_failure(sql)),
        // The thread panicked before sending: nothing in `execute` panics, but
        // say so rather than claim success.
        Err(_) => Err(ScriptFailure {
            statement_index: None,
            statement: first_statement(sql),
            message: "the thread running the SQL stopped unexpectedly".into(),
        }),
    }
}

/// `sql` as SQLite reads it: NUL-terminated, so it is parsed in place.
pub(super) fn script_text(sql: &str) -> Result<CString, ScriptFailure> {
    CString::new(sql).map_err(|e| ScriptFailure {
        statement_index: None,
        statement: first_statement(&sql[..e.nul_position()]),
        message: format!(
            "the SQL contains a NUL character (byte {}), which SQLite reads as its end; remove it",
            e.nul_position()
        ),
    })
}

/// The connection's C handle, moved to the script's thread.
#[derive(Clone, Copy)]
pub(super) struct Db(NonNull<ffi::sqlite3>);

impl Db {
    pub(super) fn of(handle: &mut LockedSqliteHandle<'_>) -> Db {
        Db(handle.as_raw_handle())
    }
}

// SAFETY: SQLite connections may move between threads (sqlx's connections
// live on a worker thread already); only one thread may use one at a time,
// which the lock that `Running` holds ensures. `sqlite3_interrupt`, the one
// call made from another thread while the script runs, is documented as
// safe from any thread.
unsafe impl Send for Db {}

/// The script's thread and the lock that keeps sqlx off the connection
/// while it runs. Dropping it early sets `stop` (a thread running several
/// scripts starts no other), interrupts the SQL and waits for the thread
/// before the lock is released (fields drop after `drop` has run).
pub(super) struct Running<'c> {
    db: Db,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    _handle: LockedSqliteHandle<'c>,
}

impl<'c> Running<'c> {
    pub(super) fn new(
        db: Db,
        thread: JoinHandle<()>,
        handle: LockedSqliteHandle<'c>,
        stop: Arc<AtomicBool>,
    ) -> Running<'c> {
        Running {
            db,
            thread: Some(thread),
            stop,
            _handle: handle,
        }
    }

    /// Wait for a thread that has sent its outcome (so is about to end).
    pub(super) fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // An interrupt between two statements is a no-op (SQLite only
            // stops statements that are running), so repeat it until the
            // thread has stopped at one.
            while !thread.is_finished() {
                // SAFETY: the handle is open while we hold its lock, and
                // sqlite3_interrupt may be called from any thread.
                unsafe { ffi::sqlite3_interrupt(self.db.0.as_ptr()) };
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = thread.join();
        }
    }
}

/// Where the script failed, in byte offsets of the script.
#[derive(Debug)]
pub(super) struct Failed {
    /// 1-based index of the failing statement.
    index: usize,
    /// Where the failing statement starts (comments before it included).
    from: usize,
    /// Where it ends, when SQLite could parse it.
    to: Option<usize>,
    /// SQLite's message and extended result code, as sqlx renders them.
    message: String,
}

impl Failed {
    pub(super) fn into_failure(self, sql: &str) -> ScriptFailure {
        // SQLite stops at the error when a statement does not parse: our
        // splitter finds where that statement ends.
        let rest = sql.get(self.from..self.to.unwrap_or(sql.len()));
        ScriptFailure {
            statement_index: Some(self.index),
            statement: rest.map(first_statement).unwrap_or_default(),
            message: self.message,
        }
    }
}

/// The first line of the first statement of `sql`, for messages.
fn first_statement(sql: &str) -> String {
    split::split_statements(sql, BackendKind::Sqlite)
        .first()
        .map(|s| s.first_line().to_owned())
        .unwrap_or_default()
}

/// Run the step's record after its script; SQLite's message if it fails.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses meanwhile.
pub(super) unsafe fn run_record(
    db: Db,
    record: Option<Record>,
    elapsed: Duration,
) -> Result<Ran, String> {
    let Some(record) = record else {
        return Ok(Ran {
            elapsed,
            recorded: 0,
        });
    };
    // The record is rev's own statement, built from quoted literals: no NUL.
    let sql = CString::new(record(elapsed)).map_err(|e| e.to_string())?;
    // SAFETY: the caller's guarantee.
    unsafe { execute(db, &sql, None) }.map_err(|f| f.message)?;
    // SAFETY: `db` is open and ours; this reads the last statement's count.
    let changed = unsafe { ffi::sqlite3_changes64(db.0.as_ptr()) };
    Ok(Ran {
        elapsed,
        recorded: u64::try_from(changed).unwrap_or(0),
    })
}

/// Prepare, step and finalize each statement of `script` in turn; stop at
/// the first failure.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses meanwhile.
pub(super) unsafe fn execute(
    db: Db,
    script: &CStr,
    observer: Option<&ObserveStatement>,
) -> Result<(), Failed> {
    let db = db.0.as_ptr();
    let start = script.as_ptr();
    let len = script.to_bytes().len();
    let mut from = 0usize;
    let mut index = 0usize;
    while from < len {
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        // SAFETY: `start + from` is inside the NUL-terminated `script`; with
        // a length of -1 SQLite reads up to that NUL and copies nothing.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db, start.add(from), -1, &mut stmt, &mut tail) };
        if rc != ffi::SQLITE_OK {
            // SAFETY: `db` is open; `stmt` is NULL after a failed prepare.
            return Err(unsafe { failed(db, index + 1, from, None) });
        }
        // SAFETY: SQLite points `tail` into `script`, at or after `start + from`.
        let next = usize::try_from(unsafe { tail.offset_from(start) }).unwrap_or(len);
        if stmt.is_null() {
            // Only white space or comments were left (or a lone `;`).
            if next <= from {
                break;
            }
            from = next;
            continue;
        }
        index += 1;
        let started = std::time::Instant::now();
        // SAFETY: `stmt` is a live statement of `db`, finalized exactly once below.
        let rc = unsafe {
            let mut rc = ffi::sqlite3_step(stmt);
            while rc == ffi::SQLITE_ROW {
                rc = ffi::sqlite3_step(stmt);
            }
            rc
        };
        // SAFETY: `db` is open; the error is read before finalizing `stmt`.
        let failure =
            (rc != ffi::SQLITE_DONE).then(|| unsafe { failed(db, index, from, Some(next)) });
        // SAFETY: `stmt` is live and not used after this.
        unsafe { ffi::sqlite3_finalize(stmt) };
        if let Some(f) = failure {
            return Err(f);
        }
        if let Some(observe) = observer {
            let text = String::from_utf8_lossy(&script.to_bytes()[from..next.min(len)]);
            observe(index, first_statement(&text).as_str(), started.elapsed());
        }
        from = next;
    }
    Ok(())
}

/// Run rev's own statement (`BEGIN`, `COMMIT`); SQLite's message if it fails.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses meanwhile.
pub(super) unsafe fn exec_own(db: Db, sql: &CStr) -> Result<(), String> {
    // SAFETY: the caller's guarantee.
    unsafe { execute(db, sql, None) }.map_err(|f| f.message)
}

/// The connection's last error, rendered like sqlx's `SqliteError` through
/// [`describe`]: `message [extended code]`.
///
/// # Safety
///
/// `db` must be an open connection.
unsafe fn failed(db: *mut ffi::sqlite3, index: usize, from: usize, to: Option<usize>) -> Failed {
    // SAFETY: `db` is open; SQLite owns the message until the next call on it.
    let (code, message) = unsafe {
        (
            ffi::sqlite3_extended_errcode(db),
            CStr::from_ptr(ffi::sqlite3_errmsg(db))
                .to_string_lossy()
                .into_owned(),
        )
    };
    Failed {
        index,
        from,
        to,
        message: format!("{message} [{code}]"),
    }
}
