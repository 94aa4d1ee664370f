//! Applying one step: its SQL and its tracking row in one transaction where
//! the database allows it, otherwise behind an in-progress row; the SQL run
//! statement by statement or as one script, a failure located and named.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::Either;

use super::connection::{on_conn, Connection, Inner};
use super::diagnose::{describe, pg_error_offset};
use super::dialect::Dialect;
use super::error::BackendError;
use super::split;
use super::sqlite_script::{self, RunFailure};
use super::statement::ScriptFailure;
use super::tracking::duration_ms;
use super::trusted_sql;
use crate::step::{Direction, ExecStep};
use crate::url::BackendKind;

impl Connection {
    /// Run one step and record it; returns how long its SQL took.
    ///
    /// - A step that [runs in a transaction](Dialect::runs_in_transaction)
    ///   (transactional steps on PostgreSQL and SQLite; data-only ones on
    ///   MySQL/MariaDB): the SQL and the tracking row commit in one
    ///   transaction, so a crash can never leave a migration applied but
    ///   unrecorded, or recorded but not applied (the failure sqlx fixed in
    ///   <https://github.com/launchbadge/sqlx/issues/1966>), and a failure
    ///   leaves nothing of it. If a transaction is already open (whole-plan
    ///   mode, see [`Connection::begin`]) the step joins it and nothing is
    ///   committed here.
    /// - Otherwise (DDL on MySQL, which commits implicitly, or a step marked
    ///   `transactional: false`): the row is written with `in_progress = 1`
    ///   *before* the SQL runs (a downgrade flags its existing row), and
    ///   cleared (or deleted) after. A failure or crash in between leaves a
    ///   visible in-progress row naming the revision, instead of silently
    ///   half-applied DDL.
    /// - SQLite, either way: the connection runs with foreign-key enforcement
    ///   off (see `sqlite.rs`), so after the step's SQL `PRAGMA
    ///   foreign_key_check` must find no dangling reference the step added;
    ///   otherwise [`BackendError::ForeignKeyViolation`], and a transactional
    ///   step rolls back (in whole-plan mode the caller rolls back the run).
    pub async fn apply(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        if let Some(lease) = &self.lease {
            lease.check(&self.url)?;
        }
        if self.dialect.runs_in_transaction(step) {
            let own_tx = !self.in_tx;
            if own_tx {
                self.begin().await?;
            }
            let result = self.apply_in_tx(step).await;
            if own_tx {
                match &result {
                    Ok(_) => self.commit().await?,
                    Err(_) => self.rollback_if_open().await,
                }
            }
            result
        } else {
            if self.in_tx {
                // Whole-plan mode: the executor commits before such a step. Running
                // it inside the transaction would fail on PostgreSQL anyway.
                self.commit().await?;
            }
            self.apply_flagged(step).await
        }
    }

    async fn apply_in_tx(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        self.fk_before().await?;
        if let Inner::Sqlite(s) = &mut self.inner {
            let record = sqlite_record(&self.dialect, step);
            let observer = self.statement_observer.clone();
            let ran = sqlite_script::run(&mut s.conn, &step.sql, observer, Some(record)).await;
            return self.finish_sqlite_step(step, ran).await;
        }
        let start = Instant::now();
        self.run_script(step, false)
            .await
            .map_err(|f| self.step_error(step, f, true))?;
        let elapsed = start.elapsed();
        // Inside the step's transaction, so a dangling reference rolls the
        // step back whole; in whole-plan mode every step is checked this
        // way, so the check before the final commit is the last step's.
        self.fk_after(step, true).await?;
        match step.direction {
            Direction::Upgrade => self.insert_row(step, elapsed, false).await?,
            Direction::Downgrade => {
                self.delete_row(&step.revision, true).await?;
            }
        }
        Ok(elapsed)
    }

    /// The end of [`Self::apply_in_tx`] on SQLite, whose tracking row was
    /// written on the script's thread right after the script (see
    /// [`sqlite_script::Record`]), so before the foreign-key check; a failed
    /// check still rolls the step back, row and all.
    async fn finish_sqlite_step(
        &mut self,
        step: &ExecStep,
        ran: Result<sqlite_script::Ran, RunFailure>,
    ) -> Result<Duration, BackendError> {
        let ran = match ran {
            Ok(ran) => ran,
            Err(RunFailure::Script(f)) => return Err(self.step_error(step, f, true)),
            Err(RunFailure::Record(message)) => {
                return Err(BackendError::Database {
                    operation: "recording an applied revision",
                    message: self.mask(&message),
                })
            }
        };
        self.fk_after(step, true).await?;
        if step.direction == Direction::Downgrade && ran.recorded == 0 {
            return Err(self.not_recorded(&step.revision));
        }
        Ok(ran.elapsed)
    }

    async fn apply_flagged(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        self.fk_before().await?;
        match step.direction {
            Direction::Upgrade => self.insert_row(step, Duration::ZERO, true).await?,
            Direction::Downgrade => self.set_in_progress(&step.revision, true).await?,
        }
        let start = Instant::now();
        // PostgreSQL runs a multi-statement string as one implicit transaction,
        // which `CREATE INDEX CONCURRENTLY` refuses: send statements one by one.
        let split = self.dialect.kind() == BackendKind::Postgres;
        let ran = self.run_script(step, split).await;
        // Outside a transaction the step's SQL can turn enforcement back on
        // for this connection; later steps must not cascade either.
        self.sqlite_fk_off().await?;
        ran.map_err(|f| self.step_error(step, f, false))?;
        let elapsed = start.elapsed();
        // Nothing to roll back here: a dangling reference leaves the step
        // flagged in progress, like any other failure of such a step.
        self.fk_after(step, false).await?;
        match step.direction {
            Direction::Upgrade => {
                let sql = self.dialect.finish_row_bound();
                let ms = duration_ms(elapsed);
                let r = super::connection::execute_own(
                    &mut self.inner,
                    &sql,
                    &[
                        super::pooler::Param::Int(ms),
                        super::pooler::Param::Text(&step.revision),
                    ],
                )
                .await;
                r.map_err(|e| self.db_error("recording an applied revision", &e))?;
            }
            Direction::Downgrade => {
                self.delete_row(&step.revision, true).await?;
            }
        }
        Ok(elapsed)
    }

    /// Run the step's SQL. With `split`, statement by statement; otherwise as
    /// one script, counting finished statements to locate a failure.
    async fn run_script(&mut self, step: &ExecStep, split: bool) -> Result<(), ScriptFailure> {
        let observer = self.statement_observer.clone();
        if let Inner::Sqlite(s) = &mut self.inner {
            // Through sqlx a long script costs O(n²) on SQLite: see `sqlite_script`.
            return match sqlite_script::run(&mut s.conn, &step.sql, observer, None).await {
                Ok(_) => Ok(()),
                Err(RunFailure::Script(f)) => Err(f),
                // Nothing else runs without a record.
                Err(RunFailure::Record(message)) => Err(ScriptFailure {
                    statement_index: None,
                    statement: String::new(),
                    message,
                }),
            };
        }
        let kind = self.dialect.kind();
        let statements = split::split_statements(&step.sql, kind);
        let tell = |index: usize, took: Duration| {
            if let (Some(observe), Some(stmt)) = (&observer, statements.get(index - 1)) {
                observe(index, stmt.first_line(), took);
            }
        };
        if split {
            for (i, stmt) in statements.iter().enumerate() {
                let started = Instant::now();
                let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(stmt.text)).execute(&mut *c).await.map(|r| r.rows_affected()));
                tell(i + 1, started.elapsed());
                if let Err(error) = r {
                    return Err(ScriptFailure {
                        statement_index: Some(i + 1),
                        statement: stmt.first_line().to_owned(),
                        message: describe(&error),
                    });
                }
            }
            return Ok(());
        }
        if statements.is_empty() {
            // Nothing to run; some drivers reject an empty query string.
            return Ok(());
        }
        let mut done = 0usize;
        let mut since = Instant::now();
        let r: Result<(), sqlx::Error> = on_conn!(&mut self.inner, c => {
            let mut stream = sqlx::raw_sql(trusted_sql(&step.sql)).fetch_many(&mut *c);
            loop {
                match stream.try_next().await {
                    Ok(Some(Either::Left(_))) => {
                        // The script goes in one message; each statement's
                        // result marks its end, so its time is the gap
                        // since the one before.
                        done += 1;
                        tell(done, since.elapsed());
                        since = Instant::now();
                    }
                    Ok(Some(Either::Right(_))) => {}
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        });
        let Err(error) = r else {
            return Ok(());
        };
        // PostgreSQL reports the character position of a syntax error, which
        // pins the statement exactly; otherwise the count of finished
        // statements does, as far as our splitting matches the server's.
        let located = pg_error_offset(&error, &step.sql)
            .and_then(|off| split::statement_at(&statements, off))
            .or_else(|| statements.get(done).map(|s| (done, *s)));
        Err(match located {
            Some((i, stmt)) => ScriptFailure {
                statement_index: Some(i + 1),
                statement: stmt.first_line().to_owned(),
                message: describe(&error),
            },
            None => ScriptFailure {
                statement_index: None,
                statement: statements
                    .first()
                    .map(|s| s.first_line().to_owned())
                    .unwrap_or_default(),
                message: describe(&error),
            },
        })
    }

    pub(super) fn step_error(
        &self,
        step: &ExecStep,
        f: ScriptFailure,
        rolled_back: bool,
    ) -> BackendError {
        BackendError::MigrationFailed {
            revision: step.revision.clone(),
            direction: step.direction,
            statement_index: f.statement_index,
            statement: self.mask(&truncate(&f.statement, 200)),
            message: self.mask(&f.message),
            rolled_back,
        }
    }
}

/// The statement recording `step` on SQLite, as the script's thread runs it.
pub(super) fn sqlite_record(dialect: &Dialect, step: &ExecStep) -> sqlite_script::Record {
    match step.direction {
        Direction::Upgrade => {
            let dialect = dialect.clone();
            let (version, checksum) = (step.revision.clone(), step.checksum.clone());
            let parents = step.down_revisions.clone();
            Box::new(move |elapsed| {
                dialect.insert_row(&version, &checksum, &parents, duration_ms(elapsed), false)
            })
        }
        Direction::Downgrade => {
            let sql = dialect.delete_row(&step.revision);
            Box::new(move |_| sql)
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((b, _)) => format!("{}…", &s[..b]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
