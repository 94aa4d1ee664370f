//! Consistency checks of the data and the catalog, for `rev check --db`.
//!
//! - SQLite: `PRAGMA integrity_check` and `PRAGMA foreign_key_check`. The
//!   migration connection runs with foreign-key enforcement off (see
//!   `sqlite.rs`), so the foreign-key check is what stands between a
//!   revision and a dangling reference.
//! - PostgreSQL: what a failed or unfinished statement leaves behind in the
//!   catalog of the current database's own schemas: constraints added
//!   `NOT VALID` and never validated, and indexes a failed
//!   `CREATE INDEX CONCURRENTLY` left invalid.
//! - MySQL/MariaDB: nothing. The server records no half-validated constraint
//!   or failed index build (a failed `ALTER TABLE` is undone), and the checks
//!   it does have (`CHECK TABLE`, a join per foreign key) read every row of
//!   every table; rev does not pretend to have checked anything there.

use futures_util::TryStreamExt;
use sqlx::{PgConnection, Row, SqliteConnection};

use super::connection::{Connection, Inner};
use super::dangling::sqlite_dangling;
use super::error::BackendError;
use super::trusted_sql;

/// What a [`Finding`] is about. The names are stable (JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// SQLite's `integrity_check` reported a problem in the file.
    Integrity,
    /// Rows reference no row of their parent table (SQLite).
    ForeignKey,
    /// A constraint added `NOT VALID` was never validated (PostgreSQL).
    NotValidConstraint,
    /// An index is marked invalid, usually by a failed `CREATE INDEX
    /// CONCURRENTLY` (PostgreSQL).
    InvalidIndex,
}

impl FindingKind {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Integrity => "integrity",
            FindingKind::ForeignKey => "foreign_key",
            FindingKind::NotValidConstraint => "not_valid_constraint",
            FindingKind::InvalidIndex => "invalid_index",
        }
    }
}

/// One problem the database check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// The table it is in (schema-qualified on PostgreSQL), when it has one.
    pub table: Option<String>,
    /// The constraint or index, when the finding is about one.
    pub name: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// The result of [`crate::backend::Connection::check_database`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// The checks that ran, e.g. `foreign_key_check`. Empty when rev has no
    /// check for this database (MySQL/MariaDB) or there was no database to
    /// check (a SQLite file that does not exist yet).
    pub checks: Vec<&'static str>,
    /// What they found; empty when all is well.
    pub findings: Vec<Finding>,
}

/// `PRAGMA integrity_check` (its first 100 problems) and
/// `PRAGMA foreign_key_check`.
pub(super) async fn sqlite_check(
    conn: &mut SqliteConnection,
) -> Result<DatabaseCheck, sqlx::Error> {
    let mut findings = Vec::new();
    let mut problems = sqlx::query_scalar::<_, String>("PRAGMA integrity_check").fetch(&mut *conn);
    while let Some(line) = problems.try_next().await? {
        if line != "ok" {
            findings.push(Finding {
                kind: FindingKind::Integrity,
                table: None,
                name: None,
                message: format!("integrity_check: {line}"),
                fix: "an index that disagrees with its table is rebuilt by `REINDEX`; anything else means a damaged file: restore a backup (`sqlite3 FILE .recover` salvages what it can)".to_owned(),
            });
        }
    }
    drop(problems);
    for d in sqlite_dangling(conn).await? {
        let fix = if d.parent_exists {
            format!(
                "list the rows with `PRAGMA foreign_key_check(\"{}\")`, then delete them or point them at existing rows of `{}`, in a revision",
                d.table.replace('"', "\"\""),
                d.parent
            )
        } else {
            format!(
                "create table `{}` again, or rebuild `{}` without the reference, in a revision",
                d.parent, d.table
            )
        };
        findings.push(Finding {
            kind: FindingKind::ForeignKey,
            table: Some(d.table.clone()),
            name: None,
            message: d.describe("points to", "point to"),
            fix,
        });
    }
    Ok(DatabaseCheck {
        checks: vec!["integrity_check", "foreign_key_check"],
        findings,
    })
}

/// Schemas of the current database that hold the user's objects.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Constraints still `NOT VALID`, and invalid indexes, in the user's schemas.
pub(super) async fn postgres_check(conn: &mut PgConnection) -> Result<DatabaseCheck, sqlx::Error> {
    let mut findings = Vec::new();
    // The simple query protocol throughout, for poolers (see pooler.rs).
    let constraints = sqlx::raw_sql(trusted_sql(format!(
        "SELECT con.conname::text, \
                CASE WHEN con.conrelid <> 0 THEN format('%I.%I', n.nspname, c.relname) \
                     ELSE format('%I.%I', n.nspname, t.typname) END, \
                con.conrelid <> 0, con.contype::text, \
                CASE WHEN con.conrelid <> 0 \
                     THEN format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', n.nspname, c.relname, con.conname) \
                     ELSE format('ALTER DOMAIN %I.%I VALIDATE CONSTRAINT %I', n.nspname, t.typname, con.conname) END \
         FROM pg_constraint con \
         JOIN pg_namespace n ON n.oid = con.connamespace \
         LEFT JOIN pg_class c ON c.oid = con.conrelid \
         LEFT JOIN pg_type t ON t.oid = con.contypid \
         WHERE NOT con.convalidated AND {USER_SCHEMA} \
         ORDER BY 2, 1"
    )))
    .fetch_all(&mut *conn)
    .await?;
    for row in constraints {
        let name: String = row.try_get(0)?;
        let owner: String = row.try_get(1)?;
        let on_table: bool = row.try_get(2)?;
        let contype: String = row.try_get(3)?;
        let validate: String = row.try_get(4)?;
        let what = match contype.as_str() {
            "f" => "foreign key",
            "c" => "check constraint",
            _ => "constraint",
        };
        let message = if on_table {
            format!("{what} `{name}` on `{owner}` is NOT VALID: rows written before it was added were never checked against it")
        } else {
            format!("{what} `{name}` of domain `{owner}` is NOT VALID: values stored before it was added were never checked against it")
        };
        findings.push(Finding {
            kind: FindingKind::NotValidConstraint,
            table: on_table.then(|| owner.clone()),
            name: Some(name),
            message,
            fix: format!("`{validate};` (it does not block writes; if it fails, fix the row it names and run it again)"),
        });
    }

    // An index that a CREATE INDEX CONCURRENTLY is building right now is
    // invalid too, until it finishes: leave those out where the server says
    // which they are (PostgreSQL 12 and later).
    let version: i32 = sqlx::raw_sql("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let building = if version >= 120_000 {
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = x.indexrelid)"
    } else {
        ""
    };
    let indexes = sqlx::raw_sql(trusted_sql(format!(
        "SELECT format('%I.%I', n.nspname, i.relname), format('%I.%I', tn.nspname, t.relname), \
                i.relkind = 'I' \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = i.relnamespace \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         WHERE NOT x.indisvalid AND {USER_SCHEMA} {building} \
         ORDER BY 2, 1"
    )))
    .fetch_all(&mut *conn)
    .await?;
    for row in indexes {
        let index: String = row.try_get(0)?;
        let table: String = row.try_get(1)?;
        let partitioned: bool = row.try_get(2)?;
        let (message, fix) = if partitioned {
            (
                format!("index `{index}` on partitioned table `{table}` is invalid: not every partition has its index attached"),
                format!("attach each partition's index with `ALTER INDEX {index} ATTACH PARTITION ...`, or `DROP INDEX {index};` and create it again"),
            )
        } else {
            (
                format!("index `{index}` on `{table}` is invalid: a CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) failed or was interrupted; queries do not use it, yet every write still updates it"),
                format!("remove what made it fail (for a unique index, the duplicate values), then `REINDEX INDEX CONCURRENTLY {index};`, or `DROP INDEX CONCURRENTLY {index};` and create it again"),
            )
        };
        findings.push(Finding {
            kind: FindingKind::InvalidIndex,
            table: Some(table),
            name: Some(index),
            message,
            fix,
        });
    }
    Ok(DatabaseCheck {
        checks: vec!["not_valid_constraints", "invalid_indexes"],
        findings,
    })
}

impl Connection {
    /// Integrity and consistency checks of the data and catalog (see
    /// [`DatabaseCheck`]); reads only, needs no lock.
    pub async fn check_database(&mut self) -> Result<DatabaseCheck, BackendError> {
        let r = match &mut self.inner {
            Inner::Sqlite(s) => sqlite_check(&mut s.conn).await,
            Inner::Postgres(s) => postgres_check(&mut s.conn).await,
            Inner::MySql(_) => Ok(DatabaseCheck::default()),
        };
        r.map_err(|e| self.db_error("checking the database", &e))
    }
}
