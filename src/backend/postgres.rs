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
use crate::cancel::CancelToken;
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
        let mut opts = PgConnectOptions::from_url(u)?.extra_float_digits(None);
        // The application name lets a blocked `rev` (or a DBA) see who holds
        // the lock; one the URL gives is kept.
        if opts.get_application_name().is_none() {
            opts = opts.application_name("rev");
        }
        let mut conn = opts.connect().await?;
        restore_session_defaults(&mut conn, opts.get_options()).await?;
        Ok(State { conn, key: None })
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

/// Session settings sqlx puts in every startup message (`TimeZone=UTC`,
/// `DateStyle=ISO, MDY`) that change what revision SQL computes: `now()`
/// printed as text, `'01/02/2024'::date`. Startup settings outrank the
/// database's and the role's defaults, and `RESET` returns to them, so rev
/// looks the defaults up itself and sets them back.
const FORCED_BY_SQLX: [&str; 2] = ["TimeZone", "DateStyle"];

/// Put each of [`FORCED_BY_SQLX`] back to what a `psql` session of this
/// user on this database would have: the URL's own `options` first, then
/// `ALTER ROLE … IN DATABASE`, `ALTER ROLE`, `ALTER DATABASE` and `ALTER ROLE
/// ALL` settings (in the server's order), then the server's configuration
/// files, then the built-in default. Only superusers (and members of roles
/// granted the view) may read the configuration files: for others, with no
/// role or database setting, sqlx's value stays, as the README says.
///
/// rev's own timestamps do not depend on this: `applied_at` is built in SQL
/// with an explicit `AT TIME ZONE 'UTC'` and read back as text.
async fn restore_session_defaults(
    conn: &mut PgConnection,
    url_options: Option<&str>,
) -> Result<(), sqlx::Error> {
    let explicit = url_options.map(option_settings).unwrap_or_default();
    let mut wanted: Vec<(&str, Option<String>)> = FORCED_BY_SQLX
        .iter()
        .map(|name| {
            let given = explicit
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone());
            (*name, given)
        })
        .collect();
    if wanted.iter().any(|(_, v)| v.is_none()) {
        let defaults = server_defaults(conn).await?;
        for (name, value) in &mut wanted {
            if value.is_none() {
                *value = defaults
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone());
            }
        }
    }
    for (name, value) in wanted {
        let Some(value) = value else { continue };
        // A value the server refuses (say, a zone removed from tzdata) is
        // skipped as the server itself skips it at login, with a warning.
        let _ = sqlx::query("SELECT set_config($1, $2, false)")
            .bind(name)
            .bind(&value)
            .execute(&mut *conn)
            .await;
    }
    Ok(())
}

/// The defaults of [`FORCED_BY_SQLX`] for this session, as `(lower-case
/// name, value)`; a name is missing when rev cannot read its default.
async fn server_defaults(conn: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let names: Vec<String> = FORCED_BY_SQLX.iter().map(|n| n.to_lowercase()).collect();
    // Per role and database: the most specific setting wins, as at login.
    let mut found: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (1) lower(split_part(cfg, '=', 1)), substr(cfg, strpos(cfg, '=') + 1) \
         FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg \
         WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
           AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = session_user)) \
           AND lower(split_part(cfg, '=', 1)) = ANY($1) \
         ORDER BY 1, s.setrole = 0, s.setdatabase = 0",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| !found.iter().any(|(k, _)| k == n))
        .collect();
    if rest.is_empty() {
        return Ok(found);
    }
    // postgresql.conf and ALTER SYSTEM, readable by superusers only unless
    // granted. Asked first, so a refusal is not an error in the server's log
    // at every connection.
    let readable: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('pg_catalog.pg_file_settings', 'SELECT') \
            AND has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !readable {
        return Ok(found);
    }
    let files: Result<Vec<(String, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT lower(name), setting FROM pg_file_settings \
         WHERE lower(name) = ANY($1) AND applied AND error IS NULL \
         ORDER BY seqno",
    )
    .bind(&rest)
    .fetch_all(&mut *conn)
    .await;
    let Ok(files) = files else {
        return Ok(found);
    };
    // The last applied line of the files wins; a name in no file has its built-in value.
    let builtin: Vec<(String, String)> =
        sqlx::query_as("SELECT lower(name), boot_val FROM pg_settings WHERE lower(name) = ANY($1)")
            .bind(&rest)
            .fetch_all(&mut *conn)
            .await?;
    for name in rest {
        let value = files
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .or_else(|| builtin.iter().find(|(k, _)| *k == name))
            .map(|(_, v)| v.clone());
        if let Some(value) = value {
            found.push((name, value));
        }
    }
    Ok(found)
}

/// The `-c name=value` (and `--name=value`) settings of a libpq `options`
/// string, where a backslash escapes the next character (a space, say).
fn option_settings(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("--")
                .or_else(|| w.strip_prefix("-c"))
                .map(str::to_owned)
        };
        if let Some((k, v)) = setting.as_deref().and_then(|s| s.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_owned()));
        }
    }
    out
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

    #[test]
    fn option_settings_reads_c_switches_with_escapes() {
        assert_eq!(
            option_settings("-c TimeZone=Europe/Paris -cDateStyle=SQL,\\ DMY --search-path=a"),
            vec![
                ("TimeZone".to_owned(), "Europe/Paris".to_owned()),
                ("DateStyle".to_owned(), "SQL, DMY".to_owned()),
                ("search_path".to_owned(), "a".to_owned()),
            ]
        );
        assert!(option_settings("-c").is_empty());
        assert!(option_settings("  -x y ").is_empty());
    }
}
