//! PostgreSQL: connecting, and the migration lock as a session advisory lock.
//!
//! The lock is taken by polling `pg_try_advisory_lock`, never by waiting in
//! `pg_advisory_lock`: a session blocked there holds a virtual transaction id
//! that `CREATE INDEX CONCURRENTLY` on the migrating session waits for, which
//! deadlocks. The key is derived from the tracking table's name, so two
//! projects with different tables in one database do not block each other.
//! Advisory locks belong to the session and are released if it dies.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::ConnectOptions as _;

use super::{describe, BackendError, TableName, LOCK_POLL};
use crate::executor::CancelToken;
use crate::url::{mask_secrets, DatabaseUrl};

pub(super) struct State {
    pub(super) conn: PgConnection,
    key: Option<i64>,
}

/// A fixed 64-bit advisory lock key for `table`: the first 8 bytes of
/// SHA-256 over a rev-specific prefix and the name, so it is stable across
/// versions and platforms.
pub(crate) fn lock_key(table: &TableName) -> i64 {
    let digest = Sha256::digest(format!("rev migration lock:{table}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl State {
    pub(super) async fn connect(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        let Some(u) = url.server_url() else {
            return Err(sqlx::Error::Configuration("not a PostgreSQL URL".into()));
        };
        // The application name lets a blocked `rev` (or a DBA) see who holds the lock.
        let opts = PgConnectOptions::from_url(u)?.application_name("rev");
        Ok(State {
            conn: opts.connect().await?,
            key: None,
        })
    }

    pub(super) async fn lock(
        &mut self,
        url: &DatabaseUrl,
        table: &TableName,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<(), BackendError> {
        let key = lock_key(table);
        let start = Instant::now();
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut self.conn)
                .await
                .map_err(|e| BackendError::Lock {
                    url: url.to_string(),
                    message: mask_secrets(&describe(&e), url),
                })?;
            if got {
                self.key = Some(key);
                return Ok(());
            }
            // A cancelled run still takes a free lock (to report its plan
            // as not run); it only stops waiting for a busy one.
            if cancel.is_cancelled() {
                return Err(BackendError::Interrupted {
                    during: "waiting for the migration lock",
                });
            }
            if start.elapsed() >= timeout {
                let holder = self.holder(key).await;
                return Err(BackendError::LockTimeout {
                    url: url.to_string(),
                    waited: start.elapsed(),
                    holder,
                });
            }
            tokio::select! {
                () = tokio::time::sleep(LOCK_POLL.min(timeout)) => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    /// This session's backend pid, for `pg_cancel_backend`.
    pub(super) async fn backend_pid(&mut self) -> Option<i32> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut self.conn)
            .await
            .ok()
    }

    /// Whether the advisory lock is (still) ours to release.
    pub(super) fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Who holds advisory lock `key` in this database, from `pg_locks`.
    /// A one-key advisory lock shows its high half as `classid`, its low
    /// half as `objid`, and `objsubid = 1`.
    async fn holder(&mut self, key: i64) -> Option<String> {
        let bits = key as u64;
        let high = i64::from((bits >> 32) as u32);
        let low = i64::from(bits as u32);
        let row: Option<(i32, String, String, String)> = sqlx::query_as(
            "SELECT a.pid, COALESCE(a.application_name, ''), \
                    COALESCE(host(a.client_addr), 'local socket'), COALESCE(a.usename::text, '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
             LIMIT 1",
        )
        .bind(high)
        .bind(low)
        .fetch_optional(&mut self.conn)
        .await
        .ok()?;
        let (pid, app, addr, user) = row?;
        let app = if app.is_empty() {
            "unnamed".into()
        } else {
            app
        };
        Some(format!(
            "backend pid {pid} (application `{app}`, user `{user}`, client {addr})"
        ))
    }

    pub(super) async fn unlock(&mut self, url: &DatabaseUrl) -> Result<(), BackendError> {
        let Some(key) = self.key else {
            return Ok(());
        };
        // The key is kept when the query itself fails, so the caller may
        // try once more (see `Connection::unlock`).
        let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| BackendError::Unlock {
                url: url.to_string(),
                message: mask_secrets(&describe(&e), url),
            })?;
        self.key = None;
        if released {
            Ok(())
        } else {
            Err(BackendError::Unlock {
                url: url.to_string(),
                message: "the session did not hold the advisory lock".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_is_stable_and_depends_on_the_table() {
        let a = lock_key(&TableName::new("schema_migrations").unwrap());
        let b = lock_key(&TableName::new("other").unwrap());
        assert_ne!(a, b);
        assert_eq!(a, lock_key(&TableName::new("schema_migrations").unwrap()));
    }
}
