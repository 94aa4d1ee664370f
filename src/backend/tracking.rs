//! The tracking table: its shape checked or created, its rows read, and the
//! writes that record, flag, stamp and amend them. Every statement comes
//! from [`Dialect`](super::Dialect) with values bound, never formatted in.

use std::time::Duration;

use super::connection::{on_conn, Connection, Inner};
use super::dialect;
use super::error::BackendError;
use super::pooler;
use super::trusted_sql;
use crate::step::ExecStep;

/// One row of the tracking table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// The revision id.
    pub version: String,
    /// When it was applied: RFC 3339 text in UTC, as the database wrote it.
    pub applied_at: String,
    /// How long its SQL took, in milliseconds (0 when stamped or run from a script).
    pub execution_time_ms: i64,
    /// The checksum of its upgrade section when applied.
    pub checksum: String,
    /// Its parents when applied, to notice a rebased history.
    pub down_revisions: Vec<String>,
    /// Set while a non-transactional step runs; still set after a failure or crash.
    pub in_progress: bool,
}

/// Decode one tracking row, whatever the database.
macro_rules! decode_row {
    ($row:expr) => {{
        use sqlx::Row;
        let row = $row;
        (|| -> Result<AppliedRow, sqlx::Error> {
            let in_progress: i16 = row.try_get(5)?;
            let parents: String = row.try_get(4)?;
            Ok(AppliedRow {
                version: row.try_get(0)?,
                applied_at: row.try_get(1)?,
                execution_time_ms: row.try_get(2)?,
                checksum: row.try_get(3)?,
                down_revisions: parents
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                in_progress: in_progress != 0,
            })
        })()
    }};
}

impl Connection {
    async fn table_columns(&mut self) -> Result<Vec<String>, BackendError> {
        let q = self.dialect.columns_query();
        let table = self.dialect.table().as_str().to_owned();
        let r = match &mut self.inner {
            // The simple query protocol, for poolers (see pooler.rs).
            Inner::Postgres(s) => {
                let sql = pooler::pg_inline(q, &[pooler::Param::Text(&table)]);
                match sqlx::raw_sql(trusted_sql(sql)).fetch_all(&mut s.conn).await {
                    Ok(rows) => rows.iter().map(|r| sqlx::Row::try_get(r, 0)).collect(),
                    Err(e) => Err(e),
                }
            }
            inner => on_conn!(inner, c => {
                sqlx::query_scalar::<_, String>(q).bind(&table).fetch_all(&mut *c).await
            }),
        };
        r.map_err(|e| self.db_error("inspecting the tracking table", &e))
    }

    /// `Ok(true)` if the table exists with our columns, `Ok(false)` if absent.
    async fn check_shape(&mut self) -> Result<bool, BackendError> {
        let columns = self.table_columns().await?;
        if columns.is_empty() {
            return Ok(false);
        }
        let missing: Vec<String> = dialect::COLUMNS
            .iter()
            .filter(|want| !columns.iter().any(|c| c.eq_ignore_ascii_case(want)))
            .map(|c| (*c).to_owned())
            .collect();
        if missing.is_empty() {
            Ok(true)
        } else {
            Err(BackendError::ForeignVersionTable {
                table: self.dialect.table().to_string(),
                missing,
            })
        }
    }

    /// Create the tracking table if absent. A table of that name with another
    /// shape is an error and is left untouched.
    pub async fn ensure_table(&mut self) -> Result<(), BackendError> {
        if self.check_shape().await? {
            return Ok(());
        }
        let sql = self.dialect.create_table();
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(sql)).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ())
            .map_err(|e| self.db_error("creating the tracking table", &e))
    }

    /// Every tracking row, oldest first. A missing table reads as empty and
    /// is not created. Rows applied within one clock tick (SQLite keeps
    /// milliseconds) tie on `applied_at` and fall back to version order, so
    /// order by the revision graph where the order matters.
    pub async fn read_applied(&mut self) -> Result<Vec<AppliedRow>, BackendError> {
        if !self.check_shape().await? {
            return Ok(Vec::new());
        }
        let sql = self.dialect.select_rows();
        let r = on_conn!(&mut self.inner, c => {
            match sqlx::raw_sql(trusted_sql(sql)).fetch_all(&mut *c).await {
                Ok(rows) => rows.iter().map(|row| decode_row!(row)).collect::<Result<Vec<_>, _>>(),
                Err(e) => Err(e),
            }
        });
        r.map_err(|e| self.db_error("reading the tracking table", &e))
    }

    pub(super) async fn insert_row(
        &mut self,
        step: &ExecStep,
        elapsed: Duration,
        in_progress: bool,
    ) -> Result<(), BackendError> {
        self.insert_values(
            &step.revision,
            &step.checksum,
            &step.down_revisions,
            duration_ms(elapsed),
            in_progress,
        )
        .await
    }

    async fn insert_values(
        &mut self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
        ms: i64,
        in_progress: bool,
    ) -> Result<(), BackendError> {
        let sql = self.dialect.insert_row_bound();
        let parents = down_revisions.join(",");
        let flag = i16::from(in_progress);
        use pooler::Param::{Int, Text};
        let params = [
            Text(version),
            Int(ms),
            Text(checksum),
            Text(&parents),
            Int(flag.into()),
        ];
        let r = super::connection::execute_own(&mut self.inner, &sql, &params).await;
        r.map(|_| ())
            .map_err(|e| self.db_error("recording an applied revision", &e))
    }

    /// Delete a row; with `must_exist`, a missing row is [`BackendError::NotRecorded`].
    pub(super) async fn delete_row(
        &mut self,
        version: &str,
        must_exist: bool,
    ) -> Result<bool, BackendError> {
        let sql = self.dialect.delete_row_bound();
        let r =
            super::connection::execute_own(&mut self.inner, &sql, &[pooler::Param::Text(version)])
                .await;
        let n = r.map_err(|e| self.db_error("removing a revision's record", &e))?;
        if n == 0 && must_exist {
            return Err(self.not_recorded(version));
        }
        Ok(n > 0)
    }

    pub(super) async fn set_in_progress(
        &mut self,
        version: &str,
        flag: bool,
    ) -> Result<(), BackendError> {
        let sql = self.dialect.set_in_progress_bound();
        let params = [
            pooler::Param::Int(flag.into()),
            pooler::Param::Text(version),
        ];
        let r = super::connection::execute_own(&mut self.inner, &sql, &params).await;
        let n = r.map_err(|e| self.db_error("flagging a revision in progress", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }

    pub(super) fn not_recorded(&self, version: &str) -> BackendError {
        BackendError::NotRecorded {
            revision: version.to_owned(),
            table: self.dialect.table().to_string(),
        }
    }

    /// Record `version` as applied without running SQL (`rev stamp`). An
    /// existing row for it (even one left in progress) is replaced.
    pub async fn stamp_applied(
        &mut self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
    ) -> Result<(), BackendError> {
        let own_tx = !self.in_tx && self.begin().await?;
        let result = async {
            self.delete_row(version, false).await?;
            self.insert_values(version, checksum, down_revisions, 0, false)
                .await
        }
        .await;
        if own_tx {
            match &result {
                Ok(()) => self.commit().await?,
                Err(_) => self.rollback_if_open().await,
            }
        }
        result
    }

    /// Remove `version`'s row without running SQL; `Ok(false)` if there was none.
    pub async fn stamp_removed(&mut self, version: &str) -> Result<bool, BackendError> {
        self.delete_row(version, false).await
    }

    /// Store a new checksum for an applied revision (accepting an edited file).
    pub async fn set_checksum(
        &mut self,
        version: &str,
        checksum: &str,
    ) -> Result<(), BackendError> {
        let sql = self.dialect.update_checksum_bound();
        let params = [pooler::Param::Text(checksum), pooler::Param::Text(version)];
        let r = super::connection::execute_own(&mut self.inner, &sql, &params).await;
        let n = r.map_err(|e| self.db_error("updating a checksum", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }

    /// Record new parents for an applied revision (a history rebased under
    /// the database, once the revisions inserted below it have run).
    pub async fn set_parents(
        &mut self,
        version: &str,
        down_revisions: &[String],
    ) -> Result<(), BackendError> {
        let sql = self.dialect.update_parents_bound();
        let parents = down_revisions.join(",");
        let params = [pooler::Param::Text(&parents), pooler::Param::Text(version)];
        let r = super::connection::execute_own(&mut self.inner, &sql, &params).await;
        let n = r.map_err(|e| self.db_error("recording a revision's parents", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }
}

pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
