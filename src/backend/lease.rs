//! `lock: table`: the lease row's settings, its SQL and the lease a run
//! holds; taking, renewing and releasing it are in `lock/table.rs`, whose
//! documentation describes the scheme.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::dialect::TableName;
use super::error::BackendError;
use crate::url::{BackendKind, DatabaseUrl};

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
pub const DEFAULT_LEASE: Duration = Duration::from_secs(crate::defaults::LOCK_LEASE_SECONDS);

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
pub(super) struct Holder {
    pub(super) id: String,
    pub(super) host: String,
    pub(super) pid: String,
    pub(super) since: String,
    pub(super) expires: String,
}

impl Holder {
    pub(super) fn describe(&self) -> String {
        format!(
            "rev pid {} on host `{}` (lease row in the lock table), since {} UTC, lease expires {} UTC unless renewed",
            self.pid, self.host, self.since, self.expires
        )
    }
}

/// A lease this run holds; renewed in the background until released.
pub(super) struct Lease {
    pub(super) holder: String,
    pub(super) sql: LeaseSql,
    pub(super) lost: Arc<Mutex<Option<String>>>,
    pub(super) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(super) renewer: Option<tokio::task::JoinHandle<()>>,
}

/// The statements on one lock table, for one holder.
#[derive(Clone)]
pub(super) struct LeaseSql {
    pub(super) kind: BackendKind,
    pub(super) table: String,
    pub(super) lease_secs: u64,
}

impl LeaseSql {
    pub(super) fn now(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => "clock_timestamp()",
            BackendKind::MySql => "UTC_TIMESTAMP(6)",
            BackendKind::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        }
    }

    pub(super) fn until(&self) -> String {
        let s = self.lease_secs;
        match self.kind {
            BackendKind::Postgres => format!("clock_timestamp() + interval '{s} seconds'"),
            BackendKind::MySql => format!("UTC_TIMESTAMP(6) + INTERVAL {s} SECOND"),
            BackendKind::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '+{s} seconds')"),
        }
    }

    pub(super) fn create(&self) -> String {
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

    pub(super) fn take(&self, holder: &str, host: &str, pid: u32) -> String {
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

    pub(super) fn read(&self) -> String {
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

    pub(super) fn renew(&self, holder: &str) -> String {
        format!(
            "UPDATE {} SET expires_at = {} WHERE id = 1 AND holder = '{holder}'",
            self.table,
            self.until()
        )
    }

    pub(super) fn release(&self, holder: &str) -> String {
        format!(
            "DELETE FROM {} WHERE id = 1 AND holder = '{holder}'",
            self.table
        )
    }
}

impl Lease {
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
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Never renew a lease nobody releases: it must expire.
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}
