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

use super::{wait_for, LockAttempt, Request};
use crate::backend::connection::{Connection, Inner};
use crate::backend::diagnose::describe;
use crate::backend::dialect::{trusted_sql, Dialect};
use crate::backend::error::BackendError;
use crate::backend::lease::{lock_table_name, Holder, Lease, LeaseSql};
use crate::url::{mask_secrets, DatabaseUrl};

/// Runs one statement of rev's own in the simple query protocol; the
/// number of rows it changed.
async fn exec(inner: &mut Inner, sql: String) -> Result<u64, sqlx::Error> {
    let sql = trusted_sql(sql);
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
    let q = trusted_sql(sql.read());
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

/// One try of the lease upsert, for [`wait_for`].
struct LeaseAttempt<'a> {
    inner: &'a mut Inner,
    sql: LeaseSql,
    holder: String,
    host: String,
    pid: u32,
    url: &'a DatabaseUrl,
    /// The row as last read: who holds the lease, for a timeout.
    seen: Option<Holder>,
}

impl LockAttempt for LeaseAttempt<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, BackendError> {
        exec(
            self.inner,
            self.sql.take(&self.holder, &self.host, self.pid),
        )
        .await
        .map_err(|e| lock_error(self.url, &e))?;
        self.seen = read_holder(self.inner, &self.sql)
            .await
            .map_err(|e| lock_error(self.url, &e))?;
        Ok(self.seen.as_ref().is_some_and(|h| h.id == self.holder))
    }

    async fn holder(&mut self) -> Option<String> {
        self.seen.as_ref().map(Holder::describe)
    }
}

impl Lease {
    /// Take the lease on the lock table of `table`, polling while another
    /// run holds an unexpired one, for at most `timeout`. `lease` is how
    /// long the row stays ours without renewal.
    pub(super) async fn take(
        inner: &mut Inner,
        request: &Request<'_>,
        lease: Duration,
    ) -> Result<Lease, BackendError> {
        let url = request.url;
        let kind = url.kind();
        let lock_table = lock_table_name(request.table)?;
        let quoted = Dialect::new(kind, lock_table.clone()).quote_ident(lock_table.as_str());
        let sql = LeaseSql {
            kind,
            table: quoted,
            lease_secs: lease.as_secs().max(1),
        };
        create_table(inner, &sql)
            .await
            .map_err(|e| lock_error(url, &e))?;
        let mut attempt = LeaseAttempt {
            inner,
            sql,
            holder: uuid::Uuid::new_v4().simple().to_string(),
            host: host_name(),
            pid: std::process::id(),
            url,
            seen: None,
        };
        wait_for(&mut attempt, request).await?;
        let LeaseAttempt { holder, sql, .. } = attempt;
        Ok(Lease::hold(holder, sql, url, lease).await)
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
                            conn = Some(Connection::connect_once(&url).await?);
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
    use crate::backend::dialect::TableName;
    use crate::url::BackendKind;

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
