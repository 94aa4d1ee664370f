//! SQL text for the tracking table, per database, with no connection.
//!
//! [`Dialect`] is a pure value built from a [`BackendKind`] and a validated
//! [`TableName`]. The live backends use it for every statement they send, and
//! `rev upgrade --sql` uses it to print an offline script, so both paths
//! share one definition of the table and its rows. Running SQL is not this
//! module's job; see [`crate::backend::Connection`].

use std::fmt;

use crate::backend::{classify, split, BackendError, ExecStep};
use crate::step::Direction;
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

    /// An offline script for `steps`: the tracking table, then each step with
    /// its tracking statements, in the same transactions and order a live run
    /// uses. With `transaction_per_migration` false, consecutive steps that
    /// run in a transaction share one (on MySQL, consecutive data-only steps).
    ///
    /// The script is written for the database's own client, which must stop
    /// at the first error: a client that went on would commit the rest of a
    /// failed revision's transaction with its tracking row, or record the
    /// next revision on top of it. See [`Dialect::script_preamble`].
    pub fn script(&self, steps: &[ExecStep], transaction_per_migration: bool) -> String {
        let mut out = self.script_preamble();
        out.push('\n');
        if self.kind == BackendKind::Sqlite {
            // As a live run (see backend/sqlite.rs): whatever the tool that
            // runs this script defaults to, a table rebuild must not cascade.
            out.push_str(&self.comment(
                "foreign-key enforcement off, as rev migrates: rebuilding a table must not cascade into the rows that reference it",
            ));
            out.push_str("\nPRAGMA foreign_keys = OFF;\n\n");
        }
        out.push_str(&self.create_table());
        out.push_str(";\n\n");
        let mut open_tx = false;
        for step in steps {
            let wants_tx = self.runs_in_transaction(step);
            if open_tx && (transaction_per_migration || !wants_tx) {
                out.push_str("COMMIT;\n\n");
                open_tx = false;
            }
            out.push_str(&self.comment(&format!(
                "{} {}{}",
                step.direction,
                step.revision,
                if step.transactional {
                    ""
                } else {
                    " (not transactional)"
                }
            )));
            out.push('\n');
            if wants_tx && !open_tx {
                out.push_str("BEGIN;\n");
                open_tx = true;
            }
            for stmt in self.step_statements(step) {
                out.push_str(&stmt);
                out.push('\n');
            }
            out.push('\n');
        }
        if open_tx {
            out.push_str("COMMIT;\n");
        }
        if self.kind == BackendKind::Sqlite && !steps.is_empty() {
            out.push('\n');
            out.push_str(&self.comment(
                "rows listed here reference no row of their parent table: a live run would have rolled back the revision that left them",
            ));
            out.push_str("\nPRAGMA foreign_key_check;\n");
        }
        out
    }

    /// The head of a script: what it is, the client it is for, and the
    /// client setting that makes it stop at the first error.
    ///
    /// - PostgreSQL, for `psql -f`: `\set ON_ERROR_STOP on`. psql would
    ///   otherwise go on after a failed statement (its transaction aborted),
    ///   and record the next revisions.
    /// - SQLite, for `sqlite3`: `.bail on`. Without it `sqlite3` goes on in
    ///   the open transaction and commits the rest of a failed revision with
    ///   its tracking row.
    /// - MySQL/MariaDB, for `mysql`: the client already stops at the first
    ///   error when it reads a file (unless `--force`), so there is nothing
    ///   to set; stored-program bodies get `DELIMITER` lines instead (see
    ///   [`Dialect::script_sql`]).
    pub fn script_preamble(&self) -> String {
        let title = self.comment(&format!(
            "rev migration script for {} (tracking table `{}`)",
            self.kind, self.table
        ));
        let (usage, setting) = match self.kind {
            BackendKind::Postgres => (
                "For psql: psql -f FILE. The next line makes it stop at the first error.",
                Some("\\set ON_ERROR_STOP on"),
            ),
            BackendKind::Sqlite => (
                "For the sqlite3 shell: sqlite3 DB < FILE. The next line makes it stop at the first error.",
                Some(".bail on"),
            ),
            BackendKind::MySql => (
                "For the mysql client: mysql DB < FILE. Do not pass --force: it must stop at the first error.",
                None,
            ),
        };
        let mut out = format!("{title}\n{}\n", self.comment(usage));
        if let Some(setting) = setting {
            out.push_str(setting);
            out.push('\n');
        }
        out
    }

    /// A step's SQL as the client must read it: ending in `;`, and on MySQL
    /// with every statement whose body holds `;` of its own (a trigger, a
    /// stored program) between `DELIMITER` lines, since `mysql` would
    /// otherwise send the body cut at its first `;`. psql and sqlite3 know
    /// dollar quotes and trigger bodies themselves.
    pub fn script_sql(&self, sql: &str) -> String {
        let sql = terminated(sql, self.kind);
        if self.kind != BackendKind::MySql {
            return sql;
        }
        let mut out = String::with_capacity(sql.len());
        let mut cursor = 0;
        for stmt in split::split_statements(&sql, self.kind) {
            if !stmt.compound {
                continue;
            }
            out.push_str(&sql[cursor..stmt.offset]);
            if !out.is_empty() && !out.ends_with('\n') {
                // DELIMITER is read only at the start of a line.
                out.push('\n');
            }
            let delimiter = free_delimiter(stmt.text);
            out.push_str(&format!(
                "DELIMITER {delimiter}\n{}\n{delimiter}\nDELIMITER ;",
                stmt.text
            ));
            // The statement's own `;` is left out: it is not the delimiter now.
            // (A statement's text runs up to its `;`, trailing comments included.)
            cursor = stmt.offset + stmt.text.len();
            let after = sql[cursor..].trim_start();
            if after.starts_with(';') {
                cursor = sql.len() - after.len() + 1;
            }
            // Whatever follows starts a line: `DELIMITER` takes the rest of its own.
            let rest = &sql[cursor..];
            cursor += rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if !sql[cursor..].is_empty() && !sql[cursor..].starts_with(['\n', '\r']) {
                out.push('\n');
            }
        }
        out.push_str(&sql[cursor..]);
        out
    }

    /// The statements of one step in script form, without BEGIN/COMMIT.
    fn step_statements(&self, step: &ExecStep) -> Vec<String> {
        let sql = self.script_sql(&step.sql);
        let record = match step.direction {
            Direction::Upgrade => self.insert_row(
                &step.revision,
                &step.checksum,
                &step.down_revisions,
                0,
                false,
            ),
            Direction::Downgrade => self.delete_row(&step.revision),
        };
        if self.runs_in_transaction(step) {
            return vec![sql, format!("{record};")];
        }
        // Outside a transaction (DDL on MySQL, or a `transactional: false` step
        // such as CREATE INDEX CONCURRENTLY): flag the row first so a script
        // stopped part-way leaves a visible in-progress record, as a live
        // run does.
        let before = match step.direction {
            Direction::Upgrade => self.insert_row(
                &step.revision,
                &step.checksum,
                &step.down_revisions,
                0,
                true,
            ),
            Direction::Downgrade => self.set_in_progress(&step.revision, true),
        };
        let after = match step.direction {
            Direction::Upgrade => self.set_in_progress(&step.revision, false),
            Direction::Downgrade => self.delete_row(&step.revision),
        };
        vec![format!("{before};"), sql, format!("{after};")]
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

/// A `mysql` client delimiter that does not occur in `body`.
fn free_delimiter(body: &str) -> String {
    ["$$", "//"]
        .into_iter()
        .map(str::to_owned)
        .chain((1..).map(|n| format!("$${n}$$")))
        .find(|d| !body.contains(d.as_str()))
        .unwrap_or_default()
}

/// `sql` trimmed and ending in `;` so a following statement stays separate.
fn terminated(sql: &str, kind: BackendKind) -> String {
    let trimmed = sql.trim();
    if split::ends_with_terminator(trimmed, kind) {
        return trimmed.to_owned();
    }
    // Code followed by a trailing comment: the `;` must come after the comment line.
    let last_line = trimmed.lines().last().unwrap_or("").trim_start();
    if last_line.starts_with("--") || last_line.starts_with('#') || last_line.contains("*/") {
        format!("{trimmed}\n;")
    } else {
        format!("{trimmed};")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(kind: BackendKind) -> Dialect {
        Dialect::new(kind, TableName::new("schema_migrations").unwrap())
    }

    #[test]
    fn table_names_are_validated() {
        for ok in ["schema_migrations", "_x", "T1", &"a".repeat(63)] {
            assert!(TableName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "x\"; DROP TABLE y; --",
            "tbl`",
            "é",
            &"a".repeat(64),
        ] {
            let err = TableName::new(bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_table_name", "{bad}");
            assert!(err.to_string().contains("version_table"), "{err}");
        }
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        assert_eq!(
            dialect(BackendKind::Postgres).quoted_table(),
            "\"schema_migrations\""
        );
        assert_eq!(
            dialect(BackendKind::Sqlite).quoted_table(),
            "\"schema_migrations\""
        );
        assert_eq!(
            dialect(BackendKind::MySql).quoted_table(),
            "`schema_migrations`"
        );
        assert_eq!(dialect(BackendKind::MySql).quote_ident("a`b"), "`a``b`");
        assert_eq!(
            dialect(BackendKind::Postgres).quote_ident("a\"b"),
            "\"a\"\"b\""
        );
    }

    #[test]
    fn literals_are_escaped_per_dialect() {
        assert_eq!(
            dialect(BackendKind::Postgres).quote_literal("it's\\"),
            "'it''s\\'"
        );
        assert_eq!(
            dialect(BackendKind::MySql).quote_literal("it's\\"),
            "'it''s\\\\'"
        );
    }

    #[test]
    fn create_table_has_every_column() {
        for kind in [
            BackendKind::Sqlite,
            BackendKind::Postgres,
            BackendKind::MySql,
        ] {
            let sql = dialect(kind).create_table();
            assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS"));
            for col in COLUMNS {
                assert!(sql.contains(col), "{kind}: {col}");
            }
        }
    }

    #[test]
    fn insert_row_renders_literals() {
        let sql = dialect(BackendKind::Sqlite).insert_row(
            "ae1027a6acf0",
            "abc",
            &["p1".into(), "p2".into()],
            12,
            false,
        );
        assert_eq!(
            sql,
            "INSERT INTO \"schema_migrations\" (version, applied_at, execution_time_ms, checksum, \
             down_revisions, in_progress) VALUES ('ae1027a6acf0', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
             12, 'abc', 'p1,p2', 0)"
        );
    }

    #[test]
    fn bound_statements_use_dialect_placeholders() {
        assert!(dialect(BackendKind::Postgres)
            .delete_row_bound()
            .ends_with("= $1"));
        assert!(dialect(BackendKind::MySql)
            .delete_row_bound()
            .ends_with("= ?"));
    }

    fn step(rev: &str, direction: Direction, transactional: bool) -> ExecStep {
        ExecStep {
            revision: rev.into(),
            direction,
            sql: "CREATE TABLE a (id INT)".into(),
            checksum: "c".into(),
            transactional,
            down_revisions: vec![],
        }
    }

    #[test]
    fn sqlite_script_turns_foreign_keys_off_before_anything_and_checks_at_the_end() {
        let s = dialect(BackendKind::Sqlite).script(&[step("r1", Direction::Upgrade, true)], true);
        let off = s.find("\nPRAGMA foreign_keys = OFF;\n").expect("pragma");
        assert!(off < s.find("BEGIN;").unwrap(), "{s}");
        let check = s.find("\nPRAGMA foreign_key_check;\n").expect("check");
        assert!(check > s.rfind("COMMIT;").unwrap(), "{s}");
        let pg =
            dialect(BackendKind::Postgres).script(&[step("r1", Direction::Upgrade, true)], true);
        assert!(!pg.contains("PRAGMA"), "{pg}");
    }

    #[test]
    fn script_wraps_each_step_in_its_own_transaction() {
        let d = dialect(BackendKind::Postgres);
        let s = d.script(
            &[
                step("r1", Direction::Upgrade, true),
                step("r2", Direction::Upgrade, true),
            ],
            true,
        );
        assert_eq!(s.matches("BEGIN;").count(), 2, "{s}");
        assert_eq!(s.matches("COMMIT;").count(), 2, "{s}");
        assert!(s.contains("CREATE TABLE a (id INT);"));
        assert!(s.contains("VALUES ('r2'"));
    }

    #[test]
    fn script_whole_plan_shares_one_transaction_but_not_with_non_transactional_steps() {
        let d = dialect(BackendKind::Sqlite);
        let s = d.script(
            &[
                step("r1", Direction::Upgrade, true),
                step("r2", Direction::Upgrade, true),
                step("r3", Direction::Upgrade, false),
                step("r4", Direction::Downgrade, true),
            ],
            false,
        );
        assert_eq!(s.matches("BEGIN;").count(), 2, "{s}");
        assert_eq!(s.matches("COMMIT;").count(), 2, "{s}");
        let r3 = s.find("upgrade r3").unwrap();
        let first_commit = s.find("COMMIT;").unwrap();
        assert!(first_commit < r3, "{s}");
        assert!(s.contains("DELETE FROM \"schema_migrations\" WHERE version = 'r4';"));
    }

    #[test]
    fn mysql_script_flags_rows_in_progress_and_has_no_transactions() {
        let d = dialect(BackendKind::MySql);
        let s = d.script(&[step("r1", Direction::Upgrade, true)], true);
        assert!(!s.contains("BEGIN"), "{s}");
        let insert = s.find("INSERT INTO `schema_migrations`").unwrap();
        let ddl = s.find("CREATE TABLE a").unwrap();
        let done = s.find("SET in_progress = 0 WHERE version = 'r1'").unwrap();
        assert!(insert < ddl && ddl < done, "{s}");
    }

    #[test]
    fn mysql_script_runs_data_only_steps_in_a_transaction_like_a_live_run() {
        let d = dialect(BackendKind::MySql);
        let mut fix = step("r2", Direction::Upgrade, true);
        fix.sql = "UPDATE a SET id = id + 1;\nINSERT INTO a VALUES (1)".into();
        let s = d.script(&[step("r1", Direction::Upgrade, true), fix.clone()], true);
        // r1 is DDL: flagged, no transaction; r2 is data only: BEGIN, SQL,
        // its row (not in progress), COMMIT.
        assert_eq!(s.matches("BEGIN;").count(), 1, "{s}");
        let begin = s.find("BEGIN;").unwrap();
        assert!(s.find("CREATE TABLE a").unwrap() < begin, "{s}");
        let update = s.find("UPDATE a SET").unwrap();
        let row = s.find("VALUES ('r2'").unwrap();
        let commit = s.rfind("COMMIT;").unwrap();
        assert!(begin < update && update < row && row < commit, "{s}");
        assert!(s[row..].lines().next().unwrap().ends_with(", 0);"), "{s}");
        assert!(!s.contains("WHERE version = 'r2'"), "{s}");
        // Whole-plan mode: consecutive data-only steps share one transaction.
        let mut fix3 = fix.clone();
        fix3.revision = "r3".into();
        let s = d.script(&[fix, fix3], false);
        assert_eq!(s.matches("BEGIN;").count(), 1, "{s}");
        assert_eq!(s.matches("COMMIT;").count(), 1, "{s}");
    }

    #[test]
    fn non_transactional_step_is_flagged_in_progress_like_a_live_run() {
        let d = dialect(BackendKind::Postgres);
        let s = d.script(&[step("r1", Direction::Upgrade, false)], true);
        assert!(!s.contains("BEGIN"), "{s}");
        let insert = s.find("INSERT INTO \"schema_migrations\"").unwrap();
        assert!(
            s[insert..].lines().next().unwrap().ends_with(", 1);"),
            "{s}"
        );
        let ddl = s.find("CREATE TABLE a").unwrap();
        let done = s.find("SET in_progress = 0 WHERE version = 'r1'").unwrap();
        assert!(insert < ddl && ddl < done, "{s}");
    }

    #[test]
    fn script_starts_with_the_clients_stop_on_error_setting() {
        let first_code_line = |kind| {
            let s = dialect(kind).script(&[step("r1", Direction::Upgrade, true)], true);
            s.lines()
                .find(|l| !l.starts_with("--"))
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(
            first_code_line(BackendKind::Postgres),
            "\\set ON_ERROR_STOP on"
        );
        assert_eq!(first_code_line(BackendKind::Sqlite), ".bail on");
        assert_eq!(first_code_line(BackendKind::MySql), "");
        let mysql = dialect(BackendKind::MySql).script_preamble();
        assert!(mysql.contains("--force"), "{mysql}");
        assert!(mysql.lines().all(|l| l.starts_with("-- ")), "{mysql}");
    }

    #[test]
    fn mysql_bodies_get_delimiter_lines() {
        let d = dialect(BackendKind::MySql);
        let sql = "CREATE TABLE a (id INT);\n\
                   CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.id = 1;\n  SET @x = 2;\nEND; SELECT 1;\n\
                   CREATE FUNCTION f() RETURNS INT RETURN 1;";
        assert_eq!(
            d.script_sql(sql),
            "CREATE TABLE a (id INT);\n\
             DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.id = 1;\n  SET @x = 2;\nEND\n$$\nDELIMITER ;\n\
             SELECT 1;\n\
             CREATE FUNCTION f() RETURNS INT RETURN 1;"
        );
        // The delimiter is one the body does not contain; a comment before
        // the `;` is kept, and the delimiter goes on the next line; a last
        // body needs no `;`.
        let sql = "CREATE PROCEDURE p() BEGIN SELECT '$$'; SELECT '//'; END -- done\n;\n\
                   CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; END";
        assert_eq!(
            d.script_sql(sql),
            "DELIMITER $$1$$\nCREATE PROCEDURE p() BEGIN SELECT '$$'; SELECT '//'; END -- done\n$$1$$\nDELIMITER ;\n\
             DELIMITER $$\nCREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; END\n$$\nDELIMITER ;"
        );
        // Other databases' clients read bodies themselves.
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM b; END;";
        assert_eq!(dialect(BackendKind::Sqlite).script_sql(trigger), trigger);
    }

    #[test]
    fn terminated_adds_semicolon_only_when_needed() {
        let k = BackendKind::Postgres;
        assert_eq!(terminated("SELECT 1", k), "SELECT 1;");
        assert_eq!(terminated("SELECT 1;\n", k), "SELECT 1;");
        assert_eq!(terminated("SELECT 1;\n-- done", k), "SELECT 1;\n-- done");
        assert_eq!(terminated("SELECT 1\n-- done", k), "SELECT 1\n-- done\n;");
        assert_eq!(terminated("  ", k), "");
    }

    #[test]
    fn comment_prefixes_every_line() {
        assert_eq!(
            dialect(BackendKind::Sqlite).comment("a\n\nb"),
            "-- a\n--\n-- b"
        );
    }
}
