//! Offline migration scripts (`rev upgrade --sql`): the steps of a plan
//! with their tracking statements, in the transactions and order a live run
//! uses, written for the database's own client.

use super::dialect::Dialect;
use super::split;
use crate::step::{Direction, ExecStep};
use crate::url::BackendKind;

impl Dialect {
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
        if self.kind() == BackendKind::Sqlite {
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
        if self.kind() == BackendKind::Sqlite && !steps.is_empty() {
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
            self.kind(),
            self.table()
        ));
        let (usage, setting) = match self.kind() {
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
        let sql = terminated(sql, self.kind());
        if self.kind() != BackendKind::MySql {
            return sql;
        }
        let mut out = String::with_capacity(sql.len());
        let mut cursor = 0;
        for stmt in split::split_statements(&sql, self.kind()) {
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
mod tests;
