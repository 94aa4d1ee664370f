//! SQLite: the foreign-key check around each step. The migration connection
//! runs with enforcement off (see `sqlite.rs`), so after a step's SQL
//! `PRAGMA foreign_key_check` must find no dangling reference the step
//! added; one it did add fails the step.

use super::connection::{Connection, Inner};
use super::dangling;
use super::diagnose::describe;
use super::error::{BackendError, ForeignKeyViolation};
use super::statement::ScriptFailure;
use crate::step::ExecStep;

impl Connection {
    /// SQLite: read the dangling references before a step, unless the last
    /// checked step left them known.
    pub(super) async fn fk_before(&mut self) -> Result<(), BackendError> {
        if self.fk_baseline.is_some() {
            return Ok(());
        }
        if !self.sqlite_foreign_keys_declared(None).await? {
            self.fk_baseline = Some(Vec::new());
            return Ok(());
        }
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let before = dangling::sqlite_dangling(&mut s.conn)
            .await
            .map_err(|e| self.db_error("checking foreign keys before a revision", &e))?;
        self.fk_baseline = Some(before);
        Ok(())
    }

    /// SQLite: `PRAGMA foreign_key_check` after a step's SQL. References the
    /// step left dangling (beyond those before it) fail the step.
    pub(super) async fn fk_after(
        &mut self,
        step: &ExecStep,
        rolled_back: bool,
    ) -> Result<(), BackendError> {
        if !self.sqlite_foreign_keys_declared(Some(&step.sql)).await? {
            self.fk_baseline = Some(Vec::new());
            return Ok(());
        }
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let before = self.fk_baseline.take().unwrap_or_default();
        let after = match dangling::sqlite_dangling(&mut s.conn).await {
            Ok(after) => after,
            // E.g. "foreign key mismatch": a reference to columns that are
            // not the parent's key, which the step's schema change made.
            Err(error) => {
                let failure = ScriptFailure {
                    statement_index: None,
                    statement: "PRAGMA foreign_key_check".to_owned(),
                    message: describe(&error),
                };
                return Err(self.step_error(step, failure, rolled_back));
            }
        };
        if let Some(d) = dangling::new_dangling(&before, &after) {
            return Err(BackendError::ForeignKeyViolation(Box::new(
                ForeignKeyViolation {
                    revision: step.revision.clone(),
                    direction: step.direction,
                    table: d.table,
                    first_rowid: d.first_rowid,
                    rows: d.rows,
                    parent: d.parent,
                    parent_exists: d.parent_exists,
                    reference: d.reference,
                    rolled_back,
                },
            )));
        }
        self.fk_baseline = Some(after);
        Ok(())
    }

    /// SQLite: whether any table declares a foreign key, after `ran` (the
    /// SQL of a step that just ran, if any). Looks at the schema only when
    /// that could have changed the answer (see `fk_declared`).
    pub(super) async fn sqlite_foreign_keys_declared(
        &mut self,
        ran: Option<&str>,
    ) -> Result<bool, BackendError> {
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(false);
        };
        let may_add = ran.is_some_and(|sql| {
            sql.as_bytes()
                .windows(b"references".len())
                .any(|w| w.eq_ignore_ascii_case(b"references"))
        });
        if self.fk_declared == Some(false) && !may_add {
            return Ok(false);
        }
        // LIKE is case-insensitive for ASCII; a false positive only costs
        // the full check.
        let r = sqlx::query_scalar::<_, i64>(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%REFERENCES%')",
        )
        .fetch_one(&mut s.conn)
        .await;
        let declared = r.map_err(|e| self.db_error("looking for foreign keys", &e))? != 0;
        self.fk_declared = Some(declared);
        Ok(declared)
    }

    /// SQLite: foreign-key enforcement off for this connection (it is set at
    /// connect; this restores it after SQL that ran outside a transaction).
    pub(super) async fn sqlite_fk_off(&mut self) -> Result<(), BackendError> {
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let r = sqlx::raw_sql("PRAGMA foreign_keys = OFF")
            .execute(&mut s.conn)
            .await;
        r.map(|_| ())
            .map_err(|e| self.db_error("turning foreign-key enforcement off", &e))
    }
}
