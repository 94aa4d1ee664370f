//! PostgreSQL's migration lock: a session advisory lock.
//!
//! The lock is taken by polling `pg_try_advisory_lock`, never by waiting in
//! `pg_advisory_lock`: a session blocked there holds a virtual transaction id
//! that `CREATE INDEX CONCURRENTLY` on the migrating session waits for, which
//! deadlocks. The key is derived from the tracking table's name, so two
//! projects with different tables in one database do not block each other.
//! Advisory locks belong to the session and are released if it dies.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions as _, Row as _};

use super::{lock_failed, unlock_failed, wait_for, LockAttempt, Request};
use crate::backend::dialect::{trusted_sql, TableName};
use crate::backend::error::BackendError;
use crate::backend::postgres::State;
use crate::url::DatabaseUrl;

/// A fixed 64-bit advisory lock key for `table`: the first 8 bytes of
/// SHA-256 over a rev-specific prefix and the name, so it is stable across
/// versions and platforms.
pub(crate) fn lock_key(table: &TableName) -> i64 {
    let digest = Sha256::digest(format!("rev migration lock:{table}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// One try of `pg_try_advisory_lock` on the session that migrates.
struct AdvisoryLock<'a> {
    conn: &'a mut PgConnection,
    key: i64,
    url: &'a DatabaseUrl,
    /// The server session (backend pid) the lock was taken in.
    locked_in: i32,
}

impl LockAttempt for AdvisoryLock<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, BackendError> {
        // The simple query protocol, for poolers (see `pooler.rs`).
        let key = self.key;
        let row = sqlx::raw_sql(trusted_sql(format!(
            "SELECT pg_try_advisory_lock({key}), pg_backend_pid()"
        )))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(|e| lock_failed(self.url, &e))?;
        self.locked_in = row.try_get(1).unwrap_or_default();
        row.try_get(0).map_err(|e| lock_failed(self.url, &e))
    }

    /// Who holds advisory lock `key` in this database, from `pg_locks`.
    /// A one-key advisory lock shows its high half as `classid`, its low
    /// half as `objid`, and `objsubid = 1`.
    async fn holder(&mut self) -> Option<String> {
        let bits = self.key as u64;
        let high = i64::from((bits >> 32) as u32);
        let low = i64::from(bits as u32);
        let row = sqlx::raw_sql(trusted_sql(format!(
            "SELECT a.pid, COALESCE(a.application_name, ''), \
                    COALESCE(host(a.client_addr), 'local socket'), COALESCE(a.usename::text, '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = {high} AND l.objid::bigint = {low} \
             LIMIT 1"
        )))
        .fetch_optional(&mut *self.conn)
        .await
        .ok()??;
        let (pid, app, addr, user): (i32, String, String, String) = (
            row.try_get(0).ok()?,
            row.try_get(1).ok()?,
            row.try_get(2).ok()?,
            row.try_get(3).ok()?,
        );
        let app = if app.is_empty() {
            "unnamed".into()
        } else {
            app
        };
        Some(format!(
            "backend pid {pid} (application `{app}`, user `{user}`, client {addr})"
        ))
    }
}

pub(super) async fn lock(state: &mut State, request: &Request<'_>) -> Result<(), BackendError> {
    let Request { url, table, .. } = *request;
    let key = lock_key(table);
    crate::backend::pooler::refuse_unpinned(&mut state.conn, url, || async {
        crate::backend::postgres::connect_options(url)?
            .connect()
            .await
    })
    .await?;
    let mut attempt = AdvisoryLock {
        conn: &mut state.conn,
        key,
        url,
        locked_in: 0,
    };
    wait_for(&mut attempt, request).await?;
    let locked_in = attempt.locked_in;
    state.lock_key = Some(key);
    if let Err(e) = crate::backend::pooler::verify_held(&mut state.conn, url, key, locked_in).await
    {
        // Through a pooler the unlock may reach another server session;
        // asked a few times, it reaches the holder if the pooler hands that
        // one out again.
        for _ in 0..4 {
            let _ = unlock(state, url).await;
            state.lock_key = Some(key);
        }
        state.lock_key = None;
        return Err(e);
    }
    Ok(())
}

pub(super) async fn unlock(state: &mut State, url: &DatabaseUrl) -> Result<(), BackendError> {
    let Some(key) = state.lock_key else {
        return Ok(());
    };
    // The key is kept when the query itself fails, so the caller may
    // try once more (see `Connection::unlock`).
    let released: bool = sqlx::raw_sql(trusted_sql(format!("SELECT pg_advisory_unlock({key})")))
        .fetch_one(&mut state.conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| unlock_failed(url, &e))?;
    state.lock_key = None;
    if released {
        Ok(())
    } else {
        Err(BackendError::Unlock {
            url: url.to_string(),
            message: "the session did not hold the advisory lock".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lock_key` of `schema_migrations` as released rev versions compute it.
    const FROZEN_SCHEMA_MIGRATIONS_KEY: i64 = 368_531_652_264_657_004;

    #[test]
    fn lock_key_is_stable_and_depends_on_the_table() {
        let a = lock_key(&TableName::new("schema_migrations").unwrap());
        let b = lock_key(&TableName::new("other").unwrap());
        assert_ne!(a, b);
        assert_eq!(a, lock_key(&TableName::new("schema_migrations").unwrap()));
        // Frozen: a key that changed between versions would let an old and
        // a new rev migrate one database at the same time.
        assert_eq!(a, FROZEN_SCHEMA_MIGRATIONS_KEY);
    }
}
