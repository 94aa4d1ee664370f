//! MySQL/MariaDB's migration lock: `GET_LOCK`.
//!
//! `GET_LOCK(name, seconds)` returns 1 (ours), 0 (timed out) or NULL (an
//! error, e.g. the session was killed); all three are checked, and the
//! timeout is the configured one, never the "wait forever" `-1`. Lock names
//! are server-wide, so the name includes the schema and the tracking table.
//! The lock belongs to the session and is released if it dies.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlConnection;

use super::{lock_failed, unlock_failed, wait_for, LockAttempt, Request};
use crate::backend::dialect::TableName;
use crate::backend::error::BackendError;
use crate::backend::mysql::State;
use crate::url::DatabaseUrl;

/// MySQL rejects lock names longer than this.
const MAX_LOCK_NAME: usize = 64;

/// `rev:<schema>.<table>`, or a hash of it when longer than MySQL allows.
pub(crate) fn lock_name(schema: &str, table: &TableName) -> String {
    let name = format!("rev:{schema}.{table}");
    if name.len() <= MAX_LOCK_NAME {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    format!("rev:{}", &hex::encode(digest)[..MAX_LOCK_NAME - 4])
}

/// One `GET_LOCK` on the session that migrates.
struct NamedLock<'a> {
    conn: &'a mut MySqlConnection,
    name: &'a str,
    url: &'a DatabaseUrl,
}

impl LockAttempt for NamedLock<'_> {
    /// `GET_LOCK` waits in whole seconds, in slices of at most one, so a
    /// Ctrl+C while waiting is seen within a second; the server still hands
    /// the lock over as soon as it is free within a slice. Under a second
    /// left, 0 tries once and the loop waits out the rest in small steps.
    fn server_wait(&self, left: Duration) -> Duration {
        Duration::from_secs(left.as_secs().min(1))
    }

    async fn try_lock(&mut self, wait: Duration) -> Result<bool, BackendError> {
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(self.name)
            .bind(i64::try_from(wait.as_secs()).unwrap_or(1))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| lock_failed(self.url, &e))?;
        match got {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            other => Err(BackendError::Lock {
                url: self.url.to_string(),
                message: format!(
                    "GET_LOCK('{}') returned {}",
                    self.name,
                    other.map_or("NULL".to_owned(), |v| v.to_string())
                ),
            }),
        }
    }

    /// The connection id holding the lock, with its user and host when visible.
    async fn holder(&mut self) -> Option<String> {
        let id: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
            .bind(self.name)
            .fetch_one(&mut *self.conn)
            .await
            .ok()?;
        let id = id?;
        let who: Option<(String, String)> = sqlx::query_as(
            "SELECT CAST(USER AS CHAR), CAST(HOST AS CHAR) FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&mut *self.conn)
        .await
        .ok()
        .flatten();
        Some(match who {
            Some((user, host)) => format!("connection id {id} (user `{user}` from {host})"),
            None => format!("connection id {id}"),
        })
    }
}

pub(super) async fn lock(state: &mut State, request: &Request<'_>) -> Result<(), BackendError> {
    let Request { url, table, .. } = *request;
    let schema: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut state.conn)
        .await
        .map_err(|e| lock_failed(url, &e))?;
    let name = lock_name(schema.as_deref().unwrap_or(""), table);
    let mut attempt = NamedLock {
        conn: &mut state.conn,
        name: &name,
        url,
    };
    wait_for(&mut attempt, request).await?;
    state.lock_name = Some(name);
    Ok(())
}

pub(super) async fn unlock(state: &mut State, url: &DatabaseUrl) -> Result<(), BackendError> {
    let Some(name) = state.lock_name.take() else {
        return Ok(());
    };
    let released: Option<i64> = sqlx::query_scalar("SELECT RELEASE_LOCK(?)")
        .bind(&name)
        .fetch_one(&mut state.conn)
        .await
        .map_err(|e| unlock_failed(url, &e))?;
    match released {
        Some(1) => Ok(()),
        Some(_) => Err(BackendError::Unlock {
            url: url.to_string(),
            message: format!("lock `{name}` is held by another session"),
        }),
        None => Err(BackendError::Unlock {
            url: url.to_string(),
            message: format!("lock `{name}` does not exist (the session may have been reset)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_mysql_limit() {
        let t = TableName::new("schema_migrations").unwrap();
        assert_eq!(lock_name("test", &t), "rev:test.schema_migrations");
        let long = TableName::new(&"t".repeat(63)).unwrap();
        let name = lock_name(&"s".repeat(64), &long);
        assert_eq!(name.len(), MAX_LOCK_NAME);
        assert_ne!(name, lock_name(&"x".repeat(64), &long));
        // Frozen, like the short form above: a name that changed between
        // versions would let an old and a new rev migrate one database at
        // the same time.
        assert_eq!(
            name,
            "rev:50afd9cae42a354db9901bd402a38403c87ec6b009efd078c9feff35d371"
        );
    }
}
