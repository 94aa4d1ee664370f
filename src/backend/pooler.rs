//! Connection poolers in front of PostgreSQL (PgBouncer and the hosted
//! poolers built like it).
//!
//! In `pool_mode = transaction` a pooler hands each transaction (each
//! autocommit statement) of a client to whichever server connection is free.
//! Everything tied to a server session then silently stops working: a
//! session advisory lock is taken in one server session and the next
//! statement runs in another (or another client's statements run in the one
//! holding the lock); named prepared statements are missing or already
//! exist. rev therefore uses the simple query protocol for its own
//! statements on PostgreSQL, and with `lock: advisory` checks that its
//! connection is pinned to one server session before it trusts the lock.
//!
//! The check ([`refuse_unpinned`]), before the lock is taken:
//!
//! 1. the migration connection asks `pg_backend_pid()`: server session `A`;
//! 2. a second client connection to the same URL opens a transaction and
//!    asks `pg_backend_pid()`: `B`. The open transaction keeps `B` busy, so
//!    a pooler cannot hand it to the migration connection meanwhile;
//! 3. the migration connection asks `pg_backend_pid()` again: `C`;
//! 4. the second connection commits and closes.
//!
//! Directly connected, `B` is a session of its own and `C` is `A`, always:
//! no false alarm. Behind a pooler in transaction mode, `B = A` (the second
//! client was served by the first one's server session; PgBouncer hands out
//! the server connection released last, so this is what happens when the
//! pool is idle) or `C ≠ A` (the next statement of the same client ran in
//! another session): either proves the connection is not pinned. A pooler
//! that happened to give `B` another session and `C` the first one again
//! passes; so after the lock is taken, [`verify_held`] asks, in a separate
//! statement, whether the session it runs on holds the lock, which a pooler
//! that moved the client fails. Neither check is needed, or run, with
//! `lock: table`, whose lease statements stand alone.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Row as _};

use super::diagnose::describe;
use super::dialect::trusted_sql;
use super::error::BackendError;
use crate::url::{mask_secrets, DatabaseUrl};

/// How long the migration connection may wait for a server session while
/// the probe holds one: directly connected it answers at once; a pooler
/// whose pool is full makes it wait, which is evidence too.
const PINNED_ANSWER: Duration = Duration::from_secs(10);

/// The setting a pooler's "unsupported startup parameter: NAME" asks for.
pub(super) fn rejected_startup_parameter(e: &sqlx::Error) -> Option<String> {
    let text = match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    };
    let rest = text.split("unsupported startup parameter").nth(1)?;
    let name: String = rest
        .trim_start_matches([':', ' ', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(if name.is_empty() {
        "the parameter it names".to_owned()
    } else {
        name
    })
}

async fn backend_pid(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    let row = sqlx::raw_sql("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await?;
    row.try_get(0)
}

fn refused(url: &DatabaseUrl, evidence: String) -> BackendError {
    BackendError::PoolerNotPinned {
        url: url.to_string(),
        evidence,
    }
}

/// Refuse a migration connection that is not pinned to one server session
/// (see the module documentation); `probe` opens the second connection.
pub(super) async fn refuse_unpinned<F, Fut>(
    conn: &mut PgConnection,
    url: &DatabaseUrl,
    probe: F,
) -> Result<(), BackendError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<PgConnection, sqlx::Error>>,
{
    let lock_error = |e: &sqlx::Error| BackendError::Lock {
        url: url.to_string(),
        message: mask_secrets(&describe(e), url),
    };
    let first = backend_pid(conn).await.map_err(|e| lock_error(&e))?;
    // Without a second connection (a server at its connection limit, say)
    // the post-lock check in `verify_held` still runs.
    let Ok(mut other) = probe().await else {
        return Ok(());
    };
    let outcome = async {
        sqlx::raw_sql("BEGIN").execute(&mut other).await?;
        let second = backend_pid(&mut other).await?;
        if second == first {
            return Ok(Some(format!(
                "a second connection to the same URL was served by the very server session (backend pid {first}) the migration connection had used"
            )));
        }
        let third = tokio::time::timeout(PINNED_ANSWER, backend_pid(conn)).await;
        Ok(match third {
            Err(_) => Some(format!(
                "while a second connection held a transaction, the migration connection got no server session for {}s",
                PINNED_ANSWER.as_secs()
            )),
            Ok(third) => {
                let third = third?;
                (third != first).then(|| {
                    format!("two statements of the migration connection ran in different server sessions (backend pids {first} and {third})")
                })
            }
        })
    }
    .await;
    let _ = sqlx::raw_sql("COMMIT").execute(&mut other).await;
    let _ = other.close().await;
    match outcome {
        Ok(None) => Ok(()),
        Ok(Some(evidence)) => Err(refused(url, evidence)),
        Err(e) => Err(lock_error(&e)),
    }
}

/// After `pg_try_advisory_lock(key)` succeeded in server session
/// `locked_in`: check, in a statement of its own, that the session this
/// connection now runs on is that one and holds the lock.
pub(super) async fn verify_held(
    conn: &mut PgConnection,
    url: &DatabaseUrl,
    key: i64,
    locked_in: i32,
) -> Result<(), BackendError> {
    let bits = key as u64;
    let (high, low) = ((bits >> 32) as u32, bits as u32);
    let sql = format!(
        "SELECT pg_backend_pid(), EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
         AND granted AND objsubid = 1 AND pid = pg_backend_pid() \
         AND classid::bigint = {high} AND objid::bigint = {low})"
    );
    let row = sqlx::raw_sql(trusted_sql(sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| BackendError::Lock {
            url: url.to_string(),
            message: mask_secrets(&describe(&e), url),
        })?;
    let (pid, held): (i32, bool) = (
        row.try_get(0).unwrap_or_default(),
        row.try_get(1).unwrap_or_default(),
    );
    if pid == locked_in && held {
        return Ok(());
    }
    Err(refused(
        url,
        format!(
            "the lock was taken in server session {locked_in}, and the next statement ran in session {pid}, which {}",
            if held { "holds it too" } else { "does not hold it" }
        ),
    ))
}

/// A value for one of rev's own statements.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// A string literal that means the same whatever
/// `standard_conforming_strings` says.
pub(super) fn pg_text(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// `sql` with PostgreSQL's `$1`.. replaced by the literals of `params`
/// (the highest number first, so `$1` never eats the start of `$10`). Only
/// for rev's own statements, whose text has no `$` elsewhere.
pub(super) fn pg_inline(sql: &str, params: &[Param<'_>]) -> String {
    let mut out = sql.to_owned();
    for (i, p) in params.iter().enumerate().rev() {
        let value = match p {
            Param::Text(t) => pg_text(t),
            Param::Int(n) => n.to_string(),
        };
        out = out.replace(&format!("${}", i + 1), &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_parameter_a_pooler_rejects() {
        let e = sqlx::Error::Protocol("unsupported startup parameter: extra_float_digits".into());
        assert_eq!(
            rejected_startup_parameter(&e).as_deref(),
            Some("extra_float_digits")
        );
        let e = sqlx::Error::Protocol("some other failure".into());
        assert_eq!(rejected_startup_parameter(&e), None);
    }

    #[test]
    fn inlined_values_are_quoted_and_numbered_from_the_top() {
        let sql = pg_inline(
            "UPDATE t SET a = $1, b = $10, c = $2",
            &[
                Param::Text("it's \\ here"),
                Param::Int(7),
                Param::Int(3),
                Param::Int(4),
                Param::Int(5),
                Param::Int(6),
                Param::Int(7),
                Param::Int(8),
                Param::Int(9),
                Param::Int(10),
            ],
        );
        assert_eq!(sql, "UPDATE t SET a = E'it''s \\\\ here', b = 10, c = 7");
    }
}
