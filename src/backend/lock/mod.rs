//! The migration lock: one waiting loop for every kind of lock.
//!
//! Each database has a lock of its own (the files of this folder): an OS file
//! lock beside a SQLite database, a session advisory lock on PostgreSQL,
//! `GET_LOCK` on MySQL/MariaDB. How rev waits for a busy one is written once,
//! in [`wait_for`]: try; while another session holds the lock, try again
//! every [`LOCK_POLL`] until the timeout, then name the holder; stop waiting
//! as soon as the run is cancelled. A kind of lock only says how to try once
//! and who holds it ([`LockAttempt`]), and is chosen in
//! [`Connection::lock_or_cancel`] and released in [`Connection::unlock`].

mod mysql;
mod postgres;
mod sqlite;
mod table;

use std::time::{Duration, Instant};

use super::connection::{Connection, Inner};
use super::diagnose::describe;
use super::dialect::TableName;
use super::error::BackendError;
use crate::cancel::CancelToken;
use crate::url::{mask_secrets, DatabaseUrl};

/// How often a busy lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// What taking the lock is asked with, whatever its kind.
struct Request<'a> {
    /// The database, for messages (printed masked).
    url: &'a DatabaseUrl,
    /// The tracking table: the lock is per table, so two projects sharing
    /// one database do not block each other.
    table: &'a TableName,
    /// How long to wait for a busy lock.
    timeout: Duration,
    /// Stops the wait when set.
    cancel: &'a CancelToken,
}

/// [`BackendError::Lock`] for a statement of the lock's own that failed.
fn lock_failed(url: &DatabaseUrl, e: &sqlx::Error) -> BackendError {
    BackendError::Lock {
        url: url.to_string(),
        message: mask_secrets(&describe(e), url),
    }
}

/// [`BackendError::Unlock`] for a statement of the unlock's own that failed.
fn unlock_failed(url: &DatabaseUrl, e: &sqlx::Error) -> BackendError {
    BackendError::Unlock {
        url: url.to_string(),
        message: mask_secrets(&describe(e), url),
    }
}

/// One kind of migration lock, as [`wait_for`] sees it.
trait LockAttempt {
    /// How long one attempt may wait inside the database for a busy lock,
    /// `left` being what remains of the timeout. Zero (the default): an
    /// attempt only tries, and [`wait_for`] sleeps between attempts.
    fn server_wait(&self, left: Duration) -> Duration {
        let _ = left;
        Duration::ZERO
    }

    /// Try to take the lock, waiting at most `wait` in the database:
    /// `Ok(true)` once it is ours, `Ok(false)` while another session holds
    /// it, an error when the attempt itself failed.
    async fn try_lock(&mut self, wait: Duration) -> Result<bool, BackendError>;

    /// Who holds the lock, where the database can tell.
    async fn holder(&mut self) -> Option<String>;
}

/// Take the lock through `attempt`, waiting at most `timeout`: a busy lock
/// ends in [`BackendError::LockTimeout`] naming the holder, a cancelled run
/// in [`BackendError::Interrupted`] (within one poll, or one server wait).
async fn wait_for(
    attempt: &mut impl LockAttempt,
    request: &Request<'_>,
) -> Result<(), BackendError> {
    let Request {
        url,
        timeout,
        cancel,
        ..
    } = *request;
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        // A cancelled run still takes a free lock (to report its plan as not
        // run); it only stops waiting for a busy one.
        let wait = if cancel.is_cancelled() {
            Duration::ZERO
        } else {
            attempt.server_wait(left)
        };
        if attempt.try_lock(wait).await? {
            return Ok(());
        }
        if cancel.is_cancelled() {
            return Err(BackendError::Interrupted {
                during: "waiting for the migration lock",
            });
        }
        if start.elapsed() >= timeout {
            return Err(BackendError::LockTimeout {
                url: url.to_string(),
                waited: start.elapsed(),
                holder: attempt.holder().await,
            });
        }
        if wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(LOCK_POLL.min(left)) => {}
                () = cancel.cancelled() => {}
            }
        }
    }
}

impl Connection {
    /// Take the migration lock, waiting at most `timeout`. PostgreSQL polls
    /// `pg_try_advisory_lock` (a session blocked in `pg_advisory_lock`
    /// deadlocks with `CREATE INDEX CONCURRENTLY`); MySQL uses `GET_LOCK` with
    /// its result checked; SQLite locks `<file>.lock`, which the OS releases if
    /// the process dies. In-memory SQLite needs no lock. Calling it while
    /// holding the lock does nothing.
    pub async fn lock(&mut self, timeout: Duration) -> Result<(), BackendError> {
        self.lock_or_cancel(timeout, &CancelToken::new()).await
    }

    /// Like [`Connection::lock`], but gives up with
    /// [`BackendError::Interrupted`] soon after `cancel` is set (within one
    /// poll on PostgreSQL and SQLite, within a second on MySQL), so Ctrl+C
    /// does not wait out `lock_timeout_seconds`.
    pub async fn lock_or_cancel(
        &mut self,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<(), BackendError> {
        if self.locked {
            return Ok(());
        }
        if self.lock_mode == crate::backend::lease::LockMode::Table {
            let request = Request {
                url: &self.url,
                table: self.dialect.table(),
                timeout,
                cancel,
            };
            let lease =
                crate::backend::lease::Lease::take(&mut self.inner, &request, self.lease_length)
                    .await?;
            self.lease = Some(lease);
            self.locked = true;
            return Ok(());
        }
        let request = Request {
            url: &self.url,
            table: self.dialect.table(),
            timeout,
            cancel,
        };
        let result = match &mut self.inner {
            Inner::Sqlite(s) => sqlite::lock(s, &request).await,
            Inner::Postgres(s) => postgres::lock(s, &request).await,
            Inner::MySql(s) => mysql::lock(s, &request).await,
        };
        self.locked = result.is_ok();
        result
    }

    /// Release the migration lock, rolling back an open transaction first
    /// (PostgreSQL refuses `pg_advisory_unlock` in an aborted transaction).
    /// Fails if the database says the lock was not ours.
    pub async fn unlock(&mut self) -> Result<(), BackendError> {
        self.rollback_if_open().await;
        if !self.locked {
            return Ok(());
        }
        if let Inner::Postgres(s) = &mut self.inner {
            // Revision SQL may have opened a transaction of its own that we do
            // not know about; in an aborted one pg_advisory_unlock would fail.
            // Outside a transaction this is only a warning.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut s.conn).await;
        }
        let url = self.url.clone();
        if let Some(lease) = self.lease.take() {
            self.locked = false;
            return lease.release(&mut self.inner, &url).await;
        }
        let result = match &mut self.inner {
            Inner::Sqlite(s) => sqlite::unlock(s, &url),
            // A cancel request sent for the last step (a second Ctrl+C) can
            // reach the server only after that step ended and hit the unlock
            // instead; the unlock is then simply asked again.
            Inner::Postgres(s) => match postgres::unlock(s, &url).await {
                Err(BackendError::Unlock { .. }) if s.lock_key.is_some() => {
                    postgres::unlock(s, &url).await
                }
                other => other,
            },
            Inner::MySql(s) => mysql::unlock(s, &url).await,
        };
        // Whatever the result, we must not try to release it again: a second
        // release could free a lock re-taken by the same session later.
        self.locked = false;
        result
    }
}
