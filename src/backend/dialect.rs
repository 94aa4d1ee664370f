//! SQL text for the tracking table, per database, with no connection.
//!
//! [`Dialect`] is a pure value built from a [`BackendKind`] and a validated
//! [`TableName`]. The live backends use it for every statement they send, and
//! `rev upgrade --sql` uses it to print an offline script (`script.rs`), so
//! both paths share one definition of the table and its rows. Running SQL
//! is not this module's job; see [`crate::backend::Connection`].

use std::fmt;

use super::classify;
use super::error::BackendError;
use crate::step::ExecStep;
use crate::url::BackendKind;

/// Longest accepted table name: PostgreSQL truncates identifiers past 63 bytes.
pub const MAX_TABLE_NAME_LEN: usize = 63;

/// The tracking table's columns, in the order `rev` writes and reads them.
pub const COLUMNS: [&str; 6] = [
    "version",
    "applied_at",
    "execution_time_ms",
    "checksum",
    "down_revisions",
    "in_progress",
];

/// A `version_table` name checked to be `[A-Za-z_][A-Za-z0-9_]*` and at most
/// 63 characters, so it can be quoted safely and never carries SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    /// Validate `name`; the error names the `version_table` setting.
    pub fn new(name: &str) -> Result<TableName, BackendError> {
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_TABLE_NAME_LEN {
            Some("it is longer than 63 characters")
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            Some("it starts with a digit")
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Some("only ASCII letters, digits and `_` are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(BackendError::InvalidTableName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(TableName(name.to_owned())),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SQL text generation for one database family and one tracking table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    kind: BackendKind,
    table: TableName,
}

impl Dialect {
    /// A dialect for `kind` writing to `table`.
    pub fn new(kind: BackendKind, table: TableName) -> Dialect {
        Dialect { kind, table }
    }

    /// The database family.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The tracking table's name, unquoted.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// Whether DDL can run inside a transaction and be rolled back (PostgreSQL,
    /// SQLite). MySQL/MariaDB commit implicitly around most DDL.
    pub fn transactional_ddl(&self) -> bool {
        !matches!(self.kind, BackendKind::MySql)
    }

    /// Quote an identifier for this dialect. Embedded quote characters are doubled.
    pub fn quote_ident(&self, ident: &str) -> String {
        match self.kind {
            BackendKind::MySql => format!("`{}`", ident.replace('`', "``")),
            _ => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// A string literal. MySQL also treats `\` as an escape by default, so it is doubled there.
    pub fn quote_literal(&self, value: &str) -> String {
        let escaped = value.replace('\'', "''");
        match self.kind {
            BackendKind::MySql => format!("'{}'", escaped.replace('\\', "\\\\")),
            _ => format!("'{escaped}'"),
        }
    }

    /// The quoted tracking table name.
    pub fn quoted_table(&self) -> String {
        self.quote_ident(self.table.as_str())
    }

    /// `CREATE TABLE IF NOT EXISTS` for the tracking table.
    pub fn create_table(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    \
             version VARCHAR(255) NOT NULL PRIMARY KEY,\n    \
             applied_at VARCHAR(32) NOT NULL,\n    \
             execution_time_ms BIGINT NOT NULL,\n    \
             checksum VARCHAR(64) NOT NULL,\n    \
             down_revisions TEXT NOT NULL,\n    \
             in_progress SMALLINT NOT NULL DEFAULT 0\n)",
            self.quoted_table()
        )
    }

    /// An expression for "now, UTC" as RFC 3339 text, evaluated by the
    /// database so an offline script records when it actually ran.
    pub fn now_utc_expr(&self) -> &'static str {
        match self.kind {
            // clock_timestamp(), not now(): now() is frozen at transaction start,
            // which would give every row of a whole-plan transaction one time.
            BackendKind::Postgres => {
                "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            }
            BackendKind::MySql => "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
            BackendKind::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        }
    }

    /// `INSERT` of an applied row with literal values (for scripts).
    pub fn insert_row(
        &self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
        execution_time_ms: i64,
        in_progress: bool,
    ) -> String {
        format!(
            "INSERT INTO {} ({}) VALUES ({}, {}, {}, {}, {}, {})",
            self.quoted_table(),
            COLUMNS.join(", "),
            self.quote_literal(version),
            self.now_utc_expr(),
            execution_time_ms,
            self.quote_literal(checksum),
            self.quote_literal(&down_revisions.join(",")),
            i16::from(in_progress),
        )
    }

    /// `DELETE` of one row with a literal version (for scripts).
    pub fn delete_row(&self, version: &str) -> String {
        format!(
            "DELETE FROM {} WHERE version = {}",
            self.quoted_table(),
            self.quote_literal(version)
        )
    }

    /// `UPDATE` of one row's checksum, to accept a changed revision file.
    pub fn update_checksum(&self, version: &str, checksum: &str) -> String {
        format!(
            "UPDATE {} SET checksum = {} WHERE version = {}",
            self.quoted_table(),
            self.quote_literal(checksum),
            self.quote_literal(version)
        )
    }

    /// `UPDATE` of one row's in-progress flag (MySQL bookkeeping).
    pub fn set_in_progress(&self, version: &str, in_progress: bool) -> String {
        format!(
            "UPDATE {} SET in_progress = {} WHERE version = {}",
            self.quoted_table(),
            i16::from(in_progress),
            self.quote_literal(version)
        )
    }

    /// Whether `step` runs inside a transaction together with its tracking
    /// row, so that a failure leaves nothing of it: every transactional step
    /// where DDL is transactional, and on MySQL/MariaDB a transactional step
    /// whose statements are all data statements (see
    /// [`classify`](super::classify)). Other steps run with an in-progress row.
    pub fn runs_in_transaction(&self, step: &ExecStep) -> bool {
        step.transactional && (self.transactional_ddl() || classify::mysql_data_only(&step.sql))
    }

    /// The statement that opens a transaction. On MySQL/MariaDB a
    /// transaction can hold data statements only: DDL commits it.
    pub fn begin(&self) -> Option<&'static str> {
        Some("BEGIN")
    }

    /// The statement that commits.
    pub fn commit(&self) -> Option<&'static str> {
        Some("COMMIT")
    }

    /// `text` as SQL line comments (every line prefixed with `-- `).
    pub fn comment(&self, text: &str) -> String {
        text.lines()
            .map(|l| {
                if l.is_empty() {
                    "--".to_owned()
                } else {
                    format!("-- {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    // Bound-parameter forms for live connections: values never pass through
    // string formatting there.

    fn placeholder(&self, n: usize) -> String {
        match self.kind {
            BackendKind::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    }

    /// Parameters: version, execution_time_ms, checksum, down_revisions, in_progress.
    pub(crate) fn insert_row_bound(&self) -> String {
        format!(
            "INSERT INTO {} ({}) VALUES ({}, {}, {}, {}, {}, {})",
            self.quoted_table(),
            COLUMNS.join(", "),
            self.placeholder(1),
            self.now_utc_expr(),
            self.placeholder(2),
            self.placeholder(3),
            self.placeholder(4),
            self.placeholder(5),
        )
    }

    /// Parameters: version.
    pub(crate) fn delete_row_bound(&self) -> String {
        format!(
            "DELETE FROM {} WHERE version = {}",
            self.quoted_table(),
            self.placeholder(1)
        )
    }

    /// Parameters: checksum, version.
    pub(crate) fn update_checksum_bound(&self) -> String {
        format!(
            "UPDATE {} SET checksum = {} WHERE version = {}",
            self.quoted_table(),
            self.placeholder(1),
            self.placeholder(2)
        )
    }

    /// Parameters: down_revisions (comma-separated), version.
    pub(crate) fn update_parents_bound(&self) -> String {
        format!(
            "UPDATE {} SET down_revisions = {} WHERE version = {}",
            self.quoted_table(),
            self.placeholder(1),
            self.placeholder(2)
        )
    }

    /// Parameters: in_progress, version.
    pub(crate) fn set_in_progress_bound(&self) -> String {
        format!(
            "UPDATE {} SET in_progress = {} WHERE version = {}",
            self.quoted_table(),
            self.placeholder(1),
            self.placeholder(2)
        )
    }

    /// Parameters: execution_time_ms, version. Clears the in-progress flag.
    pub(crate) fn finish_row_bound(&self) -> String {
        format!(
            "UPDATE {} SET in_progress = 0, execution_time_ms = {}, applied_at = {} WHERE version = {}",
            self.quoted_table(),
            self.placeholder(1),
            self.now_utc_expr(),
            self.placeholder(2)
        )
    }

    /// Every row, oldest first.
    pub(crate) fn select_rows(&self) -> String {
        format!(
            "SELECT {} FROM {} ORDER BY applied_at, version",
            COLUMNS.join(", "),
            self.quoted_table()
        )
    }

    /// Column names of the tracking table (empty when it does not exist).
    /// Parameter: the table name.
    pub(crate) fn columns_query(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => {
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            BackendKind::MySql => {
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
            BackendKind::Sqlite => "SELECT name FROM pragma_table_info(?)",
        }
    }
}

/// SQL that sqlx may run although it is not a `&'static str` (sqlx 0.9's
/// `SqlSafeStr` guard against SQL built from data). Every such string in rev
/// is either the user's own revision SQL, run as written by design, or built
/// from constants and the tracking table's name, which [`TableName::new`]
/// restricts to a plain identifier and [`Dialect`] quotes; values always go
/// in as bind parameters. Keep it that way for anything passed here.
pub(crate) fn trusted_sql(sql: impl Into<String>) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.into())
}

#[cfg(test)]
mod tests;
