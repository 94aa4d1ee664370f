//! MySQL/MariaDB: connecting, and the migration lock with `GET_LOCK`.
//!
//! `GET_LOCK(name, seconds)` returns 1 (ours), 0 (timed out) or NULL (an
//! error, e.g. the session was killed); all three are checked, and the
//! timeout is the configured one, never the "wait forever" `-1`. Lock names
//! are server-wide, so the name includes the schema and the tracking table.
//! The lock belongs to the session and is released if it dies.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::ConnectOptions as _;

use super::{describe, BackendError, TableName, LOCK_POLL};
use crate::cancel::CancelToken;
use crate::url::{mask_secrets, DatabaseUrl};

/// sqlx's handshake always announces `CLIENT_IGNORE_SPACE`, which makes the
/// server add `IGNORE_SPACE` to the session's `sql_mode` (turning every
/// built-in function name into a reserved word, and recorded in every
/// trigger and routine). This takes it out again, unless the server's own
/// `sql_mode` has it; anything else the session got (from `init_connect`,
/// say) stays.
const WITHOUT_IGNORE_SPACE: &str =
    "SET sql_mode = IF(FIND_IN_SET('IGNORE_SPACE', @@GLOBAL.sql_mode) > 0, \
     @@SESSION.sql_mode, \
     TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',IGNORE_SPACE,', ',')))";

/// MySQL rejects lock names longer than this.
const MAX_LOCK_NAME: usize = 64;

pub(super) struct State {
    pub(super) conn: MySqlConnection,
    lock_name: Option<String>,
}

/// `rev:<schema>.<table>`, or a hash of it when longer than MySQL allows.
pub(crate) fn lock_name(schema: &str, table: &TableName) -> String {
    let name = format!("rev:{schema}.{table}");
    if name.len() <= MAX_LOCK_NAME {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    format!("rev:{}", &hex::encode(digest)[..MAX_LOCK_NAME - 4])
}

impl State {
    pub(super) async fn connect(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        let Some(u) = url.server_url() else {
            return Err(sqlx::Error::Configuration("not a MySQL URL".into()));
        };
        let given = |names: &[&str]| u.query_pairs().any(|(k, _)| names.contains(&k.as_ref()));
        // sqlx's defaults add PIPES_AS_CONCAT and NO_ENGINE_SUBSTITUTION to
        // `sql_mode` and set `time_zone = '+00:00'`: under them `'a' || 'b'`
        // means another thing than in the `mysql` client, every trigger,
        // view and routine a revision creates keeps that `sql_mode` for good,
        // and NOW() is another time. The session keeps the server's values;
        // a `timezone` the URL asks for is still honoured.
        let mut opts = MySqlConnectOptions::from_url(u)?
            .pipes_as_concat(false)
            .no_engine_substitution(false);
        if !given(&["timezone", "time-zone"]) {
            opts = opts.timezone(None);
        }
        // sqlx sends `SET NAMES <charset>` (plus `COLLATE` only when the URL
        // names a collation), so the server's default collation for the
        // character set applies, as in the `mysql` client. It puts the
        // URL's `charset=` into that statement as written: refuse anything
        // but a name first, with a clear message instead of a syntax error.
        let charset = opts.get_charset();
        if !charset
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(sqlx::Error::Configuration(
                format!("invalid character set `{charset}`").into(),
            ));
        }
        let mut conn = opts.connect().await?;
        sqlx::raw_sql(WITHOUT_IGNORE_SPACE)
            .execute(&mut conn)
            .await?;
        Ok(State {
            conn,
            lock_name: None,
        })
    }

    pub(super) async fn lock(
        &mut self,
        url: &DatabaseUrl,
        table: &TableName,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<(), BackendError> {
        let lock_err = |e: sqlx::Error| BackendError::Lock {
            url: url.to_string(),
            message: mask_secrets(&describe(&e), url),
        };
        let schema: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(lock_err)?;
        let name = lock_name(schema.as_deref().unwrap_or(""), table);
        // GET_LOCK is asked in slices of at most a second, so a Ctrl+C while
        // waiting is seen within a second; the server still hands the lock
        // over as soon as it is free within a slice.
        let start = Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            // Whole seconds; 0 tries once without waiting. A cancelled run
            // still takes a free lock (to report its plan as not run); it
            // only stops waiting for a busy one.
            let slice = if cancel.is_cancelled() {
                0
            } else {
                left.as_secs().min(1)
            };
            let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                .bind(&name)
                .bind(i64::try_from(slice).unwrap_or(1))
                .fetch_one(&mut self.conn)
                .await
                .map_err(lock_err)?;
            match got {
                Some(1) => {
                    self.lock_name = Some(name);
                    return Ok(());
                }
                Some(0) if cancel.is_cancelled() => {
                    return Err(BackendError::Interrupted {
                        during: "waiting for the migration lock",
                    })
                }
                Some(0) if start.elapsed() < timeout => {
                    if slice == 0 {
                        // Under a second left: wait it out in small steps.
                        tokio::select! {
                            () = tokio::time::sleep(LOCK_POLL.min(left)) => {}
                            () = cancel.cancelled() => {}
                        }
                    }
                }
                Some(0) => {
                    return Err(BackendError::LockTimeout {
                        url: url.to_string(),
                        waited: start.elapsed(),
                        holder: self.holder(&name).await,
                    })
                }
                other => {
                    return Err(BackendError::Lock {
                        url: url.to_string(),
                        message: format!(
                            "GET_LOCK('{name}') returned {}",
                            other.map_or("NULL".to_owned(), |v| v.to_string())
                        ),
                    })
                }
            }
        }
    }

    /// The connection id holding `name`, with its user and host when visible.
    async fn holder(&mut self, name: &str) -> Option<String> {
        let id: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
            .bind(name)
            .fetch_one(&mut self.conn)
            .await
            .ok()?;
        let id = id?;
        let who: Option<(String, String)> = sqlx::query_as(
            "SELECT CAST(USER AS CHAR), CAST(HOST AS CHAR) FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&mut self.conn)
        .await
        .ok()
        .flatten();
        Some(match who {
            Some((user, host)) => format!("connection id {id} (user `{user}` from {host})"),
            None => format!("connection id {id}"),
        })
    }

    pub(super) async fn unlock(&mut self, url: &DatabaseUrl) -> Result<(), BackendError> {
        let Some(name) = self.lock_name.take() else {
            return Ok(());
        };
        let released: Option<i64> = sqlx::query_scalar("SELECT RELEASE_LOCK(?)")
            .bind(&name)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| BackendError::Unlock {
                url: url.to_string(),
                message: mask_secrets(&describe(&e), url),
            })?;
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
    }
}
