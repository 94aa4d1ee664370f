//! The connection itself: one dedicated sqlx connection of one of the three
//! databases, what it holds (transaction, lock, the SQLite foreign-key
//! baseline), and the primitives every other file of the backend builds on.
//! Connecting, locking, the tracking table and applying steps extend
//! [`Connection`] in files of their own.

use super::dangling::DanglingRefs;
use super::diagnose::describe;
use super::dialect::Dialect;
use super::error::BackendError;
use super::statement::StatementObserver;
use super::trusted_sql;
use super::{mysql, postgres, sqlite};
use crate::url::{mask_secrets, BackendKind, DatabaseUrl};

/// A dedicated connection to the database being migrated.
///
/// Typical use is through [`crate::executor::LockedSession`], which takes the
/// lock and guarantees its release; the methods here are the primitives.
pub struct Connection {
    pub(super) url: DatabaseUrl,
    pub(super) dialect: Dialect,
    pub(super) inner: Inner,
    /// An explicit transaction we opened is still open.
    pub(super) in_tx: bool,
    /// We hold the migration lock (so `lock` is not taken twice: PostgreSQL
    /// and MySQL locks nest per session and would need two unlocks).
    pub(super) locked: bool,
    /// SQLite: the dangling references as of the last checked step, so a
    /// step is blamed only for those it adds. Taken before the first step;
    /// dropped with any rollback (the state it described may be gone).
    pub(super) fk_baseline: Option<Vec<DanglingRefs>>,
    /// SQLite: whether any table declares a foreign key (`None`: not looked
    /// at yet). While none does, a step whose SQL never says `REFERENCES`
    /// cannot add one, and `PRAGMA foreign_key_check` (whose cost grows with
    /// the number of tables) is skipped: that keeps a long run linear.
    pub(super) fk_declared: Option<bool>,
    /// Told as each statement of a step finishes (`rev -v`).
    pub(super) statement_observer: Option<StatementObserver>,
    /// How [`Connection::lock`] takes the lock, and `lock: table`'s lease.
    pub(super) lock_mode: super::lease::LockMode,
    pub(super) lease_length: std::time::Duration,
    pub(super) lease: Option<super::lease::Lease>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("table", &self.dialect.table())
            .field("in_tx", &self.in_tx)
            .field("locked", &self.locked)
            .finish()
    }
}

pub(super) enum Inner {
    Sqlite(sqlite::State),
    Postgres(postgres::State),
    MySql(mysql::State),
}

/// Run `$body` with `$c` bound to the concrete sqlx connection, whichever it is.
macro_rules! on_conn {
    ($inner:expr, $c:ident => $body:expr) => {
        match $inner {
            Inner::Sqlite(s) => {
                let $c = &mut s.conn;
                $body
            }
            Inner::Postgres(s) => {
                let $c = &mut s.conn;
                $body
            }
            Inner::MySql(s) => {
                let $c = &mut s.conn;
                $body
            }
        }
    };
}
pub(super) use on_conn;

impl Connection {
    /// Take the migration lock the way `mode` says from now on; `lease` is
    /// how long a `lock: table` lease lasts unrenewed.
    pub fn set_lock_mode(&mut self, mode: super::lease::LockMode, lease: std::time::Duration) {
        self.lock_mode = mode;
        self.lease_length = lease;
    }

    /// Have `observer` told as each statement of the next steps finishes.
    pub fn observe_statements(&mut self, observer: Option<StatementObserver>) {
        self.statement_observer = observer;
    }

    /// The URL this connection was made from (masked when printed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The SQL dialect, with the tracking table name.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// Whether this connection holds the migration lock.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether an explicit transaction is open on this connection.
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    pub(super) fn mask(&self, text: &str) -> String {
        mask_secrets(text, &self.url)
    }

    pub(super) fn db_error(&self, operation: &'static str, e: &sqlx::Error) -> BackendError {
        BackendError::Database {
            operation,
            message: self.mask(&describe(e)),
        }
    }

    /// Open a transaction (for one step, or several in whole-plan mode).
    /// Returns whether one is open. On MySQL/MariaDB it holds data
    /// statements only: DDL would commit it (see
    /// [`Dialect::runs_in_transaction`]).
    pub async fn begin(&mut self) -> Result<bool, BackendError> {
        if self.in_tx {
            return Ok(true);
        }
        let Some(begin) = self.dialect.begin() else {
            return Ok(false);
        };
        // SQLite: take the write lock now. A step reads before it writes
        // (the foreign-key baseline, `INSERT ... SELECT`), and a deferred
        // transaction that must later upgrade its read lock fails at once
        // (SQLITE_BUSY, no retry) if another connection wrote meanwhile;
        // an immediate one waits for the busy timeout instead.
        let begin = match self.dialect.kind() {
            BackendKind::Sqlite => "BEGIN IMMEDIATE",
            _ => begin,
        };
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(begin).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map_err(|e| self.db_error("opening a transaction", &e))?;
        self.in_tx = true;
        Ok(true)
    }

    /// Commit the open transaction, if any.
    pub async fn commit(&mut self) -> Result<(), BackendError> {
        if !self.in_tx {
            return Ok(());
        }
        self.in_tx = false;
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql("COMMIT").execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ())
            .map_err(|e| self.db_error("committing a transaction", &e))
    }

    /// Roll back the open transaction, if any. Errors are ignored: this runs
    /// on failure paths, and a connection too broken to roll back has lost
    /// its transaction anyway.
    pub async fn rollback_if_open(&mut self) {
        self.fk_baseline = None;
        self.fk_declared = None;
        if self.in_tx {
            self.in_tx = false;
            let _ = on_conn!(&mut self.inner, c => sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.map(|r| r.rows_affected()));
        }
    }

    /// Run SQL text of the caller's with no bookkeeping (tests and setup).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<(), BackendError> {
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(sql)).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ()).map_err(|e| self.db_error("running SQL", &e))
    }

    /// Roll back, release the lock if held, and close the connection.
    /// Returns the unlock error if there was one (the connection is closed
    /// regardless; closing also ends the session's locks).
    pub async fn close(mut self) -> Result<(), BackendError> {
        let unlocked = self.unlock().await;
        let closed = match self.inner {
            Inner::Sqlite(s) => sqlx::Connection::close(s.conn).await,
            Inner::Postgres(s) => sqlx::Connection::close(s.conn).await,
            Inner::MySql(s) => sqlx::Connection::close(s.conn).await,
        };
        unlocked?;
        closed.map_err(|e| BackendError::Database {
            operation: "closing the connection",
            message: mask_secrets(&describe(&e), &self.url),
        })
    }
}

/// Runs one of rev's own statements with `params`; the rows it changed. On
/// PostgreSQL in the simple query protocol with the values written into the
/// text: an extended-protocol statement is parsed and executed in two round
/// trips, between which a pooler in transaction mode may hand the client to
/// another server connection. Elsewhere the values are bound.
pub(super) async fn execute_own(
    inner: &mut Inner,
    sql: &str,
    params: &[super::pooler::Param<'_>],
) -> Result<u64, sqlx::Error> {
    macro_rules! bound {
        ($conn:expr) => {{
            let mut q = sqlx::query(trusted_sql(sql));
            for p in params {
                q = match *p {
                    super::pooler::Param::Text(t) => q.bind(t),
                    super::pooler::Param::Int(n) => q.bind(n),
                };
            }
            q.execute($conn).await?.rows_affected()
        }};
    }
    Ok(match inner {
        Inner::Postgres(s) => sqlx::raw_sql(trusted_sql(super::pooler::pg_inline(sql, params)))
            .execute(&mut s.conn)
            .await?
            .rows_affected(),
        Inner::Sqlite(s) => bound!(&mut s.conn),
        Inner::MySql(s) => bound!(&mut s.conn),
    })
}
