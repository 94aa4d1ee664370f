//! `lock: table`: the migration lock as a lease row, for connection poolers
//! in transaction mode and engines whose advisory locks are missing or no-ops.
//!
//! The lock table, `<version_table>_lock` beside the tracking table, holds at
//! most one row (`id = 1`): who holds the lease (a random holder id, the host
//! and pid of the rev process), since when, and until when. Every statement
//! on it is one autocommit statement in the simple query protocol, with its
//! values written into the SQL, so nothing depends on the server session
//! staying the same between statements (a pooler in transaction mode hands
//! each statement to whichever server connection is free):
//!
//! - take: one atomic upsert that inserts the row, or overwrites it only
//!   when it has expired (`INSERT … ON CONFLICT DO UPDATE … WHERE expires_at
//!   < now` on PostgreSQL and SQLite; on MySQL `ON DUPLICATE KEY UPDATE` with
//!   every column set through `IF(expires_at < now, new, old)`, `expires_at`
//!   last because MySQL assigns left to right), then a read of the row: the
//!   lease is ours when it names our holder id. Two runs racing for an
//!   expired row serialise on its row lock; the second sees the first's
//!   fresh `expires_at` and changes nothing.
//! - renew: every third of the lease, from a second connection (the first
//!   may be busy in a long revision), `UPDATE … SET expires_at = now + lease
//!   WHERE holder = ours`. No row updated means another run took the lease
//!   after ours expired: the run stops before its next revision
//!   ([`BackendError::LeaseLost`]).
//! - release: `DELETE … WHERE holder = ours`, on every exit the advisory
//!   lock is released on (errors, Ctrl+C, SIGTERM). A `kill -9` leaves the
//!   row; the next run takes it over once it has expired, never before.
//!
//! Times are the database's clock (UTC), never the hosts' clocks, so hosts
//! with skewed clocks still agree on when a lease expired.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Row as _;

use super::{describe, BackendError, Inner, TableName, LOCK_POLL};
use crate::executor::CancelToken;
use crate::url::{mask_secrets, BackendKind, DatabaseUrl};

/// How the migration lock is taken (`lock:` in config.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// The database's own session lock: `pg_try_advisory_lock`, `GET_LOCK`,
    /// or a file lock beside a SQLite file.
    #[default]
    Advisory,
    /// A lease row in `<version_table>_lock` (see this module).
    Table,
}

impl LockMode {
    /// The config spelling, `advisory` or `table`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Advisory => "advisory",
            LockMode::Table => "table",
        }
    }
}

/// How long a lease lasts unless renewed, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The lock table of the tracking table `table`: `<table>_lock`.
pub fn lock_table_name(table: &TableName) -> Result<TableName, BackendError> {
    TableName::new(&format!("{table}_lock")).map_err(|_| BackendError::InvalidTableName {
        name: table.to_string(),
        reason:
            "with `lock: table` its lock table `<version_table>_lock` must fit in 63 characters",
    })
}

/// A lease row as read back: who holds it, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    id: String,
    host: String,
    pid: String,
    since: String,
    expires: String,
}

impl Holder {
    fn describe(&self) -> String {
        format!(
            "rev pid {} on host `{}` (lease row in the lock table), since {} UTC, lease expires {} UTC unless renewed",
            self.pid, self.host, self.since, self.expires
        )
    }
}

/// A lease this run holds; renewed in the background until released.
pub(super) struct Lease {
    holder: String,
    sql: LeaseSql,
    lost: Arc<Mutex<Option<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// The statements on one lock table, for one holder.
#[derive(Clone)]
struct LeaseSql {
    kind: BackendKind,
    table: String,
    lease_secs: u64,
}

impl LeaseSql {
    fn now(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => "clock_timestamp()",
            BackendKind::MySql => "UTC_TIMESTAMP(6)",
            BackendKind::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        }
    }

    fn until(&self) -> String {
        let s = self.lease_secs;
        match self.kind {
            BackendKind::Postgres => format!("clock_timestamp() + interval '{s} seconds'"),
            BackendKind::MySql => format!("UTC_TIMESTAMP(6) + INTERVAL {s} SECOND"),
            BackendKind::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '+{s} seconds')"),
        }
    }

    fn create(&self) -> String {
        let ts = match self.kind {
            BackendKind::Postgres => "TIMESTAMPTZ",
            BackendKind::MySql => "DATETIME(6)",
            BackendKind::Sqlite => "TEXT",
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {} (id INTEGER NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL, \
             host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, acquired_at {ts} NOT NULL, expires_at {ts} NOT NULL)",
            self.table
        )
    }

    fn take(&self, holder: &str, host: &str, pid: u32) -> String {
        let (t, now, until) = (&self.table, self.now(), self.until());
        let values = format!("(1, '{holder}', '{host}', {pid}, {now}, {until})");
        let cols = "(id, holder, host, pid, acquired_at, expires_at)";
        match self.kind {
            BackendKind::MySql => {
                let when = |c: &str| format!("{c} = IF(expires_at < {now}, VALUES({c}), {c})");
                format!(
                    "INSERT INTO {t} {cols} VALUES {values} ON DUPLICATE KEY UPDATE {}, {}, {}, {}, {}",
                    when("holder"),
                    when("host"),
                    when("pid"),
                    when("acquired_at"),
                    when("expires_at"),
                )
            }
            _ => format!(
                "INSERT INTO {t} {cols} VALUES {values} ON CONFLICT (id) DO UPDATE SET \
                 holder = excluded.holder, host = excluded.host, pid = excluded.pid, \
                 acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
                 WHERE {t}.expires_at < {now}"
            ),
        }
    }

    fn read(&self) -> String {
        let (pid, since, expires) = match self.kind {
            BackendKind::Postgres => (
                "pid::text",
                "to_char(acquired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
                "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            ),
            BackendKind::MySql => (
                "CAST(pid AS CHAR)",
                "DATE_FORMAT(acquired_at, '%Y-%m-%d %H:%i:%s')",
                "DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s')",
            ),
            BackendKind::Sqlite => (
                "CAST(pid AS TEXT)",
                "substr(acquired_at, 1, 19)",
                "substr(expires_at, 1, 19)",
            ),
        };
        format!(
            "SELECT holder, host, {pid}, {since}, {expires} FROM {} WHERE id = 1",
            self.table
        )
    }

    fn renew(&self, holder: &str) -> String {
        format!(
            "UPDATE {} SET expires_at = {} WHERE id = 1 AND holder = '{holder}'",
            self.table,
            self.until()
        )
    }

    fn release(&self, holder: &str) -> String {
        format!(
            "DELETE FROM {} WHERE id = 1 AND holder = '{holder}'",
            self.table
        )
    }
}

/// Runs one statement of rev's own in the simple query protocol; the
/// number of rows it changed.
async fn exec(inner: &mut Inner, sql: String) -> Result<u64, sqlx::Error> {
    let sql = super::trusted_sql(sql);
    Ok(match inner {
        Inner::Sqlite(s) => sqlx::raw_sql(sql)
            .execute(&mut s.conn)
            .await?
            .rows_affected(),
        Inner::Postgres(s) => sqlx::raw_sql(sql)
            .execute(&mut s.conn)
            .await?
            .rows_affected(),
        Inner::MySql(s) => sqlx::raw_sql(sql)
            .execute(&mut s.conn)
            .await?
            .rows_affected(),
    })
}

async fn read_holder(inner: &mut Inner, sql: &LeaseSql) -> Result<Option<Holder>, sqlx::Error> {
    let q = super::trusted_sql(sql.read());
    macro_rules! holder {
        ($conn:expr) => {{
            match sqlx::raw_sql(q).fetch_optional($conn).await? {
                None => None,
                Some(row) => Some(Holder {
                    id: row.try_get(0)?,
                    host: row.try_get(1)?,
                    pid: row.try_get(2)?,
                    since: row.try_get(3)?,
                    expires: row.try_get(4)?,
                }),
            }
        }};
    }
    Ok(match inner {
        Inner::Sqlite(s) => holder!(&mut s.conn),
        Inner::Postgres(s) => holder!(&mut s.conn),
        Inner::MySql(s) => holder!(&mut s.conn),
    })
}

/// The host name to record: only characters that need no quoting in SQL.
fn host_name() -> String {
    let name = whoami::hostname().unwrap_or_else(|_| "unknown".to_owned());
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

/// Wraps a failed statement on the lock table into a lock error.
fn lock_error(url: &DatabaseUrl, e: &sqlx::Error) -> BackendError {
    BackendError::Lock {
        url: url.to_string(),
        message: mask_secrets(&describe(e), url),
    }
}

impl Lease {
    /// Take the lease on the lock table of `table`, polling while another
    /// run holds an unexpired one, for at most `timeout`. `lease` is how
    /// long the row stays ours without renewal.
    pub(super) async fn take(
        inner: &mut Inner,
        url: &DatabaseUrl,
        table: &TableName,
        lease: Duration,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<Lease, BackendError> {
        let kind = url.kind();
        let lock_table = lock_table_name(table)?;
        let quoted = super::Dialect::new(kind, lock_table.clone()).quote_ident(lock_table.as_str());
        let sql = LeaseSql {
            kind,
            table: quoted,
            lease_secs: lease.as_secs().max(1),
        };
        create_table(inner, &sql)
            .await
            .map_err(|e| lock_error(url, &e))?;
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let host = host_name();
        let pid = std::process::id();
        let start = Instant::now();
        loop {
            exec(inner, sql.take(&holder, &host, pid))
                .await
                .map_err(|e| lock_error(url, &e))?;
            let current = read_holder(inner, &sql)
                .await
                .map_err(|e| lock_error(url, &e))?;
            if current.as_ref().is_some_and(|h| h.id == holder) {
                return Ok(Lease::hold(holder, sql, url, lease).await);
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
                    holder: current.map(|h| h.describe()),
                });
            }
            tokio::select! {
                () = tokio::time::sleep(LOCK_POLL.min(timeout)) => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    /// Start renewing the lease just taken, every third of its length, from
    /// a connection of its own.
    async fn hold(holder: String, sql: LeaseSql, url: &DatabaseUrl, lease: Duration) -> Lease {
        let lost = Arc::new(Mutex::new(None));
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let every = (lease / 3).max(Duration::from_millis(200));
        let task = {
            let (url, sql, holder, lost) = (url.clone(), sql.clone(), holder.clone(), lost.clone());
            async move {
                let mut conn: Option<Inner> = None;
                let mut renewed = Instant::now();
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        _ = &mut stopped => return,
                    }
                    let outcome = async {
                        if conn.is_none() {
                            conn = Some(super::Connection::connect_once(&url).await?);
                        }
                        let c = conn.as_mut().expect("just connected");
                        exec(c, sql.renew(&holder)).await
                    }
                    .await;
                    let why = match outcome {
                        Ok(0) => Some(
                            "another run took the lease over after it expired unrenewed".to_owned(),
                        ),
                        Ok(_) => {
                            renewed = Instant::now();
                            None
                        }
                        Err(e) => {
                            // A dropped connection is tried again at the next
                            // turn; the lease only counts as lost once it
                            // may have expired.
                            conn = None;
                            (renewed.elapsed() >= lease).then(|| {
                                format!(
                                    "it could not be renewed for {}s: {}",
                                    lease.as_secs(),
                                    mask_secrets(&describe(&e), &url)
                                )
                            })
                        }
                    };
                    if let Some(why) = why {
                        *lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                        return;
                    }
                }
            }
        };
        Lease {
            holder,
            sql,
            lost,
            stop: Some(stop),
            renewer: Some(tokio::spawn(task)),
        }
    }

    /// `Err` once the lease is no longer known to be ours.
    pub(super) fn check(&self, url: &DatabaseUrl) -> Result<(), BackendError> {
        let lost = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match lost {
            None => Ok(()),
            Some(message) => Err(BackendError::LeaseLost {
                url: url.to_string(),
                message,
            }),
        }
    }

    /// Stop renewing and delete the row, if it is still ours.
    pub(super) async fn release(
        mut self,
        inner: &mut Inner,
        url: &DatabaseUrl,
    ) -> Result<(), BackendError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.renewer.take() {
            let _ = task.await;
        }
        let deleted = exec(inner, self.sql.release(&self.holder))
            .await
            .map_err(|e| BackendError::Unlock {
                url: url.to_string(),
                message: mask_secrets(&describe(&e), url),
            })?;
        if deleted == 0 {
            return Err(BackendError::Unlock {
                url: url.to_string(),
                message: "the lease row was no longer ours (it expired and another run took it)"
                    .into(),
            });
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Never renew a lease nobody releases: it must expire.
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}

/// Creates the lock table if it is missing. Two runs creating it at once
/// can make PostgreSQL fail one `CREATE TABLE IF NOT EXISTS` with a
/// duplicate key; it is tried again, when it then exists.
async fn create_table(inner: &mut Inner, sql: &LeaseSql) -> Result<(), sqlx::Error> {
    match exec(inner, sql.create()).await {
        Ok(_) => Ok(()),
        Err(_) => exec(inner, sql.create()).await.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_table_is_named_after_the_tracking_table_and_must_fit() {
        let t = TableName::new("schema_migrations").unwrap();
        assert_eq!(
            lock_table_name(&t).unwrap().as_str(),
            "schema_migrations_lock"
        );
        let long = TableName::new(&"t".repeat(60)).unwrap();
        let e = lock_table_name(&long).unwrap_err();
        assert_eq!(e.kind(), "invalid_table_name");
        assert!(e.to_string().contains("_lock"), "{e}");
    }

    #[test]
    fn mysql_takes_an_expired_row_with_expires_at_assigned_last() {
        let sql = LeaseSql {
            kind: BackendKind::MySql,
            table: "`t_lock`".into(),
            lease_secs: 60,
        };
        let take = sql.take("h", "host", 7);
        let last = take.rfind("expires_at = IF").unwrap();
        for col in ["holder = IF", "host = IF", "pid = IF", "acquired_at = IF"] {
            assert!(
                take.find(col).unwrap() < last,
                "{col} after expires_at: {take}"
            );
        }
    }

    #[test]
    fn host_names_never_need_quoting() {
        let h = host_name();
        assert!(!h.is_empty());
        assert!(h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
    }
}
