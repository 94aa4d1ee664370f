//! The library API: a [`Migrator`] ties a revision graph to a database and
//! runs upgrades, downgrades and stamps against it.
//!
//! Applications that migrate at start-up use this directly:
//!
//! ```no_run
//! # async fn start() -> Result<(), rev::Error> {
//! let migrator = rev::Migrator::from_config_file("config.yaml".as_ref(), None)?;
//! let report = migrator.upgrade(&"heads".parse()?).await?;
//! println!("applied {} revisions", report.applied.len());
//! # Ok(()) }
//! ```
//!
//! Every method that changes the database follows one order: connect, take
//! the lock, create the tracking table if needed, read the applied set, check
//! it, plan from it, run, release the lock. Planning from the set read under
//! the lock means a process that waited for another one finds nothing left
//! to do. Read-only methods (`current`, `status`, `plan`) take no lock and
//! create nothing.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use crate::backend::{
    AppliedRow, ConnectOptions, Connection, DatabaseCheck, Dialect, ExecStep, LockMode, TableName,
    DEFAULT_LEASE,
};
use crate::check::{self, CheckOptions, Problem};
use crate::config::Config;
use crate::defaults;
use crate::error::Error;
use crate::executor::{
    self, AppliedStep, CancelToken, ExecError, ExecOptions, LockedSession, Progress, Report,
    StepEvent,
};
use crate::graph::{Graph, RevIndex};
use crate::history;
use crate::plan::{self, Plan};
use crate::rebase::{self, Gap, Rebase};
use crate::squash;
use crate::step::Direction;
use crate::target::{Destination, Target};
use crate::url::DatabaseUrl;

/// How a [`Migrator`] talks to its database.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The tracking table's name.
    pub version_table: String,
    /// One transaction per revision (true) or for the whole run (false).
    pub transaction_per_migration: bool,
    /// How long to wait for another rev to release the database.
    pub lock_timeout: Duration,
    /// Connection timeout and retries.
    pub connect: ConnectOptions,
    /// How the migration lock is taken.
    pub lock: LockMode,
    /// `lock: table`: how long a lease lasts unrenewed.
    pub lock_lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version_table: defaults::VERSION_TABLE.into(),
            transaction_per_migration: defaults::TRANSACTION_PER_MIGRATION,
            lock_timeout: Duration::from_secs(defaults::LOCK_TIMEOUT_SECONDS),
            connect: ConnectOptions::default(),
            lock: LockMode::default(),
            lock_lease: DEFAULT_LEASE,
        }
    }
}

impl Settings {
    /// The settings a config file gives.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            version_table: config.version_table.clone(),
            transaction_per_migration: config.transaction_per_migration,
            lock_timeout: Duration::from_secs(config.lock_timeout_seconds),
            connect: ConnectOptions {
                connect_timeout: Duration::from_secs(config.connect_timeout_seconds.max(1)),
                retries: config.connect_retries,
            },
            lock: config.lock,
            lock_lease: Duration::from_secs(config.lock_lease_seconds),
        }
    }
}

/// The state of a database against the revision files; its JSON is
/// `rev status -f json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Applied heads, in topological order.
    pub current: Vec<String>,
    /// Applied revisions, oldest first (in the order they were recorded);
    /// a revision in progress is not applied, and is not listed here.
    pub applied: Vec<String>,
    /// Unapplied revisions, in the order `upgrade heads` would run them;
    /// not those in progress.
    pub pending: Vec<String>,
    /// Applied revisions whose upgrade section changed since.
    pub drifted: Vec<String>,
    /// Revisions an interrupted non-transactional run left in progress:
    /// neither applied nor pending, and `current` counts them out.
    pub in_progress: Vec<String>,
    /// Where the database stands against each squashed run.
    pub squashes: Vec<SquashStatus>,
}

/// Where a database stands against one squashed run ([`crate::squash`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SquashStatus {
    /// The squashed revision.
    pub squash: String,
    /// The revisions it replaces, oldest first.
    pub replaces: Vec<String>,
    /// `past` (it applied the whole run, or the squashed revision),
    /// `inside` (it applied part of the run: it needs the original files to
    /// finish it) or `before` (none of it: it will run the squashed
    /// revision).
    pub state: &'static str,
    /// The replaced revisions it recorded.
    pub applied: Vec<String>,
}

impl SquashStatus {
    /// Whether this database no longer needs the files of the replaced
    /// revisions.
    pub fn originals_deletable(&self) -> bool {
        self.state != "inside"
    }
}

/// What a stamp changed; its JSON is `rev stamp -f json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StampReport {
    /// Revisions now recorded that were not.
    pub added: Vec<String>,
    /// Revisions no longer recorded.
    pub removed: Vec<String>,
}

/// The JSON report of an `upgrade` or `downgrade` run, failed or not:
/// what was applied, what failed (`null` for a run that did not fail) and
/// what was not run. Each revision is in one list: the failed one is not
/// also under `not_run`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunOutcome<'a> {
    /// The committed steps, in order.
    pub applied: &'a [AppliedStep],
    /// The failure, if the run failed.
    pub failed: Option<RunFailure<'a>>,
    /// The revisions of the plan not committed, the failed one left out.
    pub not_run: Vec<&'a str>,
    /// See [`Report::interrupted`].
    pub interrupted: bool,
    /// See [`Report::cancelled`].
    pub cancelled: Option<&'a str>,
    /// See [`Report::out_of_order`].
    pub out_of_order: &'a [String],
}

/// Where and why a run failed, in a [`RunOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunFailure<'a> {
    /// The failed step's revision; `null` when the failure was not one
    /// step's (see [`Report::failed`]).
    pub revision: Option<&'a str>,
    /// The failed step's direction, likewise.
    pub direction: Option<Direction>,
    /// The error.
    pub error: ErrorSummary,
}

/// An error as scripts read it: its stable kind and its message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorSummary {
    /// [`Error::kind`].
    pub kind: &'static str,
    /// The error's message.
    pub message: String,
}

impl<'a> RunOutcome<'a> {
    /// The outcome of a run that gave `report`, failed with `failure`.
    pub fn new(report: &'a Report, failure: Option<&Error>) -> RunOutcome<'a> {
        let failed_step = report.failed.as_ref();
        let failed_rev = failed_step.map(|s| s.revision.as_str());
        RunOutcome {
            applied: &report.applied,
            failed: failure.map(|e| RunFailure {
                revision: failed_rev,
                direction: failed_step.map(|s| s.direction),
                error: ErrorSummary {
                    kind: e.kind(),
                    message: e.to_string(),
                },
            }),
            not_run: report
                .not_run
                .iter()
                .map(String::as_str)
                .filter(|r| Some(*r) != failed_rev)
                .collect(),
            interrupted: report.interrupted,
            cancelled: report.cancelled.as_deref(),
            out_of_order: &report.out_of_order,
        }
    }
}

/// A poisoned lock still holds the data a panicking closure left; a run's
/// bookkeeping is worth reading rather than losing.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs revisions of one graph against one database.
#[derive(Clone)]
pub struct Migrator {
    graph: Graph,
    url: DatabaseUrl,
    settings: Settings,
    table: TableName,
    cancel: CancelToken,
    progress: Option<Progress>,
    statement_events: bool,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("revisions", &self.graph.len())
            .field("url", &self.url)
            .field("settings", &self.settings)
            .finish()
    }
}

impl Migrator {
    /// A migrator over `graph` for the database at `url`.
    pub fn new(graph: Graph, url: DatabaseUrl, settings: Settings) -> Result<Migrator, Error> {
        let table = TableName::new(&settings.version_table)?;
        Ok(Migrator {
            graph,
            url,
            settings,
            table,
            cancel: CancelToken::new(),
            progress: None,
            statement_events: false,
        })
    }

    /// Loads a config file and its revisions. `database_url` wins over the
    /// file's `database_url` (the CLI passes `--database-url` or
    /// `DATABASE_URL` here).
    pub fn from_config_file(path: &Path, database_url: Option<&str>) -> Result<Migrator, Error> {
        let config = Config::load(path)?;
        Migrator::from_config(&config, database_url)
    }

    /// Like [`Migrator::from_config_file`], from a loaded config.
    pub fn from_config(config: &Config, database_url: Option<&str>) -> Result<Migrator, Error> {
        let url = database_url
            .map(str::to_string)
            .or_else(|| config.database_url.clone())
            .ok_or(Error::NoDatabaseUrl)?;
        let url = DatabaseUrl::parse(&url, &config.base_dir)?;
        let graph = Graph::load_all(&config.version_locations)?;
        Migrator::new(graph, url, Settings::from_config(config))
    }

    /// The revision graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The database URL (its `Display` masks the password).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Calls `progress` as each revision starts and ends during
    /// [`Migrator::upgrade`] and [`Migrator::downgrade`].
    pub fn on_progress(&mut self, progress: impl Fn(&StepEvent) + Send + Sync + 'static) {
        self.progress = Some(std::sync::Arc::new(progress));
    }

    /// Also tell the [`Migrator::on_progress`] callback as each statement of
    /// a revision finishes ([`StepEvent::Statement`]), as `rev -v` shows.
    pub fn report_statements(&mut self, yes: bool) {
        self.statement_events = yes;
    }

    /// A token that stops a running upgrade or downgrade after the revision
    /// in progress (for a signal handler).
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Shares `token` with this migrator: cancelling it stops this run as
    /// [`Migrator::cancel_token`]'s would (a fleet stops all its runs with
    /// one token).
    pub fn set_cancel_token(&mut self, token: CancelToken) {
        self.cancel = token;
    }

    /// The SQL dialect of the database, for offline scripts.
    pub fn dialect(&self) -> Dialect {
        Dialect::new(self.url.kind(), self.table.clone())
    }

    async fn connect(&self) -> Result<Connection, Error> {
        let mut conn =
            Connection::connect(&self.url, self.table.clone(), &self.settings.connect).await?;
        conn.set_lock_mode(self.settings.lock, self.settings.lock_lease);
        Ok(conn)
    }

    /// Reads the tracking rows without a lock, creating nothing.
    async fn read_rows(&self) -> Result<Vec<AppliedRow>, Error> {
        // Opening a SQLite file that does not exist (with `mode=rwc`) would
        // create it: `current`, `status` and `--dry-run` must create nothing.
        if let Some(path) = self.url.sqlite_path() {
            if !path.exists() {
                return Ok(Vec::new());
            }
        }
        let mut conn = self.connect().await?;
        let rows = conn.read_applied().await;
        let _ = conn.close().await;
        Ok(rows?)
    }

    /// Checks the rows against the graph: every id must be a revision, and
    /// the set must hold every revision's parents and dependencies. A set
    /// that lacks some is [`Error::RebasedHistory`] when the parents the
    /// table recorded tell a rebased history, else
    /// [`Error::AppliedWithoutParent`]. Rows in progress count as recorded.
    pub fn applied_indices(&self, rows: &[AppliedRow]) -> Result<Vec<RevIndex>, Error> {
        let (recorded, gap) = self.check_rows(rows)?;
        match gap {
            None => Ok(recorded),
            Some(gap) => Err(gap_error(gap)),
        }
    }

    /// The graph index of every row (an id no file defines is an error),
    /// and the gap in the recorded set, if any.
    fn check_rows(&self, rows: &[AppliedRow]) -> Result<(Vec<RevIndex>, Option<Gap>), Error> {
        let mut unknown = Vec::new();
        let mut recorded = Vec::with_capacity(rows.len());
        for row in rows {
            match self.graph.index_of(&row.version) {
                Some(i) => recorded.push(i),
                None => unknown.push(row.version.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::UnknownApplied {
                revisions: unknown,
                table: self.table.to_string(),
            });
        }
        let gap = rebase::find_gap(&self.graph, rows, &recorded);
        Ok((recorded, gap))
    }

    /// The applied revisions, as indices: the recorded ones less those in
    /// progress. A revision an earlier run stopped inside is not applied.
    fn done_indices(&self, rows: &[AppliedRow], recorded: &[RevIndex]) -> Vec<RevIndex> {
        rows.iter()
            .zip(recorded)
            .filter(|(row, _)| !row.in_progress)
            .map(|(_, &i)| i)
            .collect()
    }

    /// Applied revisions whose file's checksum differs from the recorded one.
    /// A revision in progress is not applied: its file is expected to
    /// change (the failed SQL gets fixed), and the stamp that settles it
    /// records the new checksum.
    fn drifted(&self, rows: &[AppliedRow]) -> Vec<String> {
        rows.iter()
            .filter(|row| !row.in_progress)
            .filter(|row| {
                self.graph
                    .index_of(&row.version)
                    .is_some_and(|i| self.graph.rev(i).checksum != row.checksum)
            })
            .map(|row| row.version.clone())
            .collect()
    }

    fn plan_from(
        &self,
        applied: &[RevIndex],
        direction: Direction,
        target: &Target,
    ) -> Result<Plan, Error> {
        Ok(match direction {
            Direction::Upgrade => {
                let plan = plan::upgrade(&self.graph, applied, target)?;
                plan::refuse_empty_upgrades(&self.graph, &plan)?;
                plan
            }
            Direction::Downgrade => plan::downgrade(&self.graph, applied, target)?,
        })
    }

    /// The steps of a plan as the executor runs them.
    pub fn exec_steps(&self, plan: &Plan) -> Vec<ExecStep> {
        plan.steps
            .iter()
            .map(|s| {
                let r = self.graph.rev(s.revision);
                let sql = match s.direction {
                    Direction::Upgrade => r.upgrade_sql.clone(),
                    Direction::Downgrade => r.downgrade_sql.clone().unwrap_or_default(),
                };
                ExecStep {
                    revision: r.id.clone(),
                    direction: s.direction,
                    sql,
                    checksum: r.checksum.clone(),
                    transactional: r.transactional,
                    down_revisions: r.down_revisions.clone(),
                }
            })
            .collect()
    }

    /// The plan for `target` from the database's current state, changing
    /// nothing (`--dry-run`). It refuses exactly as [`Migrator::upgrade`] or
    /// [`Migrator::downgrade`] would from the same rows: both go through one
    /// check ([`Migrator::prepare`]).
    pub async fn plan(&self, direction: Direction, target: &Target) -> Result<Plan, Error> {
        Ok(self.plan_explained(direction, target).await?.0)
    }

    /// Like [`Migrator::plan`], with what `downgrade -N` chose as
    /// [`Report::applied_last`] says it: each revision and its `applied_at`
    /// (empty for other targets).
    pub async fn plan_explained(
        &self,
        direction: Direction,
        target: &Target,
    ) -> Result<(Plan, Vec<(String, String)>), Error> {
        let rows = self.read_rows().await?;
        let prepared = self.prepare(&rows, direction, target)?;
        Ok((prepared.plan, prepared.applied_last))
    }

    /// The applied heads and the plan for `target`, from one read of the
    /// rows without a lock (creating nothing): a fleet leaves a database
    /// whose plan is empty alone, unlocked. The plan refuses as
    /// [`Migrator::plan`] does.
    pub async fn position(
        &self,
        direction: Direction,
        target: &Target,
    ) -> Result<(Vec<String>, Plan), Error> {
        let rows = self.read_rows().await?;
        let (m, rows) = self.in_view(&rows)?;
        let plan = m.prepare_in_view(&rows, direction, target)?.plan;
        let current = m.status_in_view(rows)?.current;
        Ok((current, plan))
    }

    /// Checks the rows and plans from them, for a run or a dry run:
    /// unknown or missing rows, a rebased history (only an upgrade that
    /// names inserted revisions goes ahead), drift (upgrades only), the
    /// plan, and a row in progress, in that order.
    fn prepare(
        &self,
        rows: &[AppliedRow],
        direction: Direction,
        target: &Target,
    ) -> Result<Prepared, Error> {
        let (m, rows) = self.in_view(rows)?;
        m.prepare_in_view(&rows, direction, target)
    }

    fn prepare_in_view(
        &self,
        rows: &[AppliedRow],
        direction: Direction,
        target: &Target,
    ) -> Result<Prepared, Error> {
        let (recorded, gap) = self.check_rows(rows)?;
        let rebase = match gap {
            None => None,
            Some(Gap::Rebased(rebase))
                if direction == Direction::Upgrade
                    && self.names_inserted(&rebase, target, &recorded) =>
            {
                Some(rebase)
            }
            Some(gap) => return Err(gap_error(gap)),
        };
        if direction == Direction::Upgrade {
            self.refuse_drift(rows)?;
        }
        // A downgrade's `-N` counts back in applied order; the rows come
        // sorted by their text, which breaks ties by id, not by the graph.
        let applied = match direction {
            Direction::Upgrade => recorded,
            Direction::Downgrade => plan::applied_order(
                &self.graph,
                recorded
                    .iter()
                    .zip(rows)
                    .map(|(&i, row)| (i, row.applied_at.as_str())),
            ),
        };
        let plan = self.plan_from(&applied, direction, target)?;
        let applied_last = match (direction, plan::counts_applied(target)) {
            (Direction::Downgrade, Some(_)) => {
                let at: std::collections::HashMap<&str, &str> = rows
                    .iter()
                    .map(|r| (r.version.as_str(), r.applied_at.as_str()))
                    .collect();
                plan.revisions()
                    .map(|i| {
                        let id = &self.graph.rev(i).id;
                        (
                            id.clone(),
                            at.get(id.as_str()).copied().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let steps = self.exec_steps(&plan);
        executor::refuse_in_progress(rows, &self.table.to_string(), &steps)?;
        Ok(Prepared {
            plan,
            steps,
            rebase,
            applied_last,
        })
    }

    /// Whether `target` names only revisions inserted below applied ones.
    fn names_inserted(&self, rebase: &Rebase, target: &Target, recorded: &[RevIndex]) -> bool {
        match target.destination(&self.graph, recorded) {
            Ok(Destination::Revisions(revs)) => rebase.allows(&self.graph, &revs),
            _ => false,
        }
    }

    /// The plan from a given state (`--sql --from`), with no database. With
    /// no applied order to go by, `downgrade -N` counts back in plan order
    /// (the order `upgrade` would apply the state from nothing).
    pub fn plan_offline(
        &self,
        from: &[RevIndex],
        direction: Direction,
        target: &Target,
    ) -> Result<Plan, Error> {
        let closed = self.graph.ancestors_with_deps(from.iter().copied());
        let applied: Vec<RevIndex> = self
            .graph
            .topo_order()
            .iter()
            .copied()
            .filter(|&i| closed[i])
            .collect();
        self.plan_from(&applied, direction, target)
    }

    fn refuse_drift(&self, rows: &[AppliedRow]) -> Result<(), Error> {
        let drifted = self.drifted(rows);
        if drifted.is_empty() {
            Ok(())
        } else {
            Err(Error::Drift { revisions: drifted })
        }
    }

    /// Applies revisions up to `target`.
    pub async fn upgrade(&self, target: &Target) -> Result<Report, Error> {
        self.migrate(Direction::Upgrade, target).await
    }

    /// Reverts revisions down to `target`.
    pub async fn downgrade(&self, target: &Target) -> Result<Report, Error> {
        self.migrate(Direction::Downgrade, target).await
    }

    async fn migrate(&self, direction: Direction, target: &Target) -> Result<Report, Error> {
        // An untouched scaffold is refused under the lock like any plan
        // error, but by then the tracking table (or a SQLite file) may have
        // been created. When the files hold one, plan first without the
        // lock, reading only, so that the refusal leaves the database
        // exactly as it was; the run proper plans again under the lock.
        if direction == Direction::Upgrade
            && self.graph.revisions().iter().any(|r| r.has_empty_upgrade())
        {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    return Ok(Report {
                        interrupted: true,
                        ..Report::default()
                    })
                }
                plan = self.plan(direction, target) => { plan?; }
            }
        }
        // A run complete in the rows is recorded as its squashed revision
        // before the plan is made from them (a downgrade through it removes
        // that row).
        self.settle_squashes().await?;
        // A Ctrl+C while connecting (retries can take a while against a dead
        // server) ends the run at once: nothing has been done yet.
        let conn = tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                return Ok(Report {
                    interrupted: true,
                    ..Report::default()
                })
            }
            conn = self.connect() => conn?,
        };
        let opts = ExecOptions {
            transaction_per_migration: self.settings.transaction_per_migration,
            cancel: self.cancel.clone(),
            progress: self.progress.clone(),
            statement_events: self.statement_events,
        };
        // Filled while planning: the revisions this run applies out of order,
        // and what `-N` chose.
        // Mutexes, not RefCells: the run's future must be Send, so that a
        // fleet (src/fleet.rs) can spawn one per database on a thread pool.
        let inserted = std::sync::Mutex::new(Vec::new());
        let applied_last = std::sync::Mutex::new(Vec::new());
        let result = executor::run_then(
            conn,
            self.settings.lock_timeout,
            &opts,
            |rows| {
                let prepared = self.prepare(rows, direction, target)?;
                if let Some(rebase) = &prepared.rebase {
                    lock(&inserted).clone_from(&rebase.inserted);
                }
                lock(&applied_last).clone_from(&prepared.applied_last);
                Ok::<_, Error>((prepared.steps, prepared.rebase))
            },
            |rebase, rows| rebase::reparented(&self.graph, rows, &rebase.inserted),
        )
        .await;
        let inserted: std::collections::HashSet<String> =
            std::mem::take(&mut *lock(&inserted)).into_iter().collect();
        let applied_last = std::mem::take(&mut *lock(&applied_last));
        let mark = |report: &mut Report| {
            report.out_of_order = report
                .applied
                .iter()
                .filter(|step| inserted.contains(&step.revision))
                .map(|step| step.revision.clone())
                .collect();
            report.applied_last.clone_from(&applied_last);
        };
        match result {
            Ok(mut report) => {
                mark(&mut report);
                // A database that finished a squashed run from its original
                // files records the squashed revision in their place now.
                if !report.applied.is_empty() {
                    self.settle_squashes().await?;
                }
                Ok(report)
            }
            // A failed run's report says the same of what it did apply.
            Err(Error::Migration(mut e)) => {
                mark(&mut e.report);
                Err(Error::Migration(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Records the state `targets` name without running SQL. With `purge`,
    /// every row is removed first (including rows no file defines).
    pub async fn stamp(&self, targets: &[Target], purge: bool) -> Result<StampReport, Error> {
        let conn = self.connect().await?;
        let mut session = LockedSession::acquire(conn, self.settings.lock_timeout).await?;
        let result = self.stamp_locked(&mut session, targets, purge).await;
        let released = session.release().await;
        let report = result?;
        released?;
        Ok(report)
    }

    /// The applied set `rev stamp --dry-run` would record (topologically
    /// ordered), reading the rows without a lock. It accepts and refuses
    /// exactly what [`Migrator::stamp`] does.
    pub async fn stamp_plan(
        &self,
        targets: &[Target],
        purge: bool,
    ) -> Result<Vec<RevIndex>, Error> {
        let rows = self.read_rows().await?;
        self.stamp_from(&rows, targets, purge)
    }

    /// What [`Migrator::stamp`] would add and remove, in the order it
    /// would, reading the rows without a lock (`rev stamp --dry-run`).
    pub async fn stamp_preview(
        &self,
        targets: &[Target],
        purge: bool,
    ) -> Result<StampReport, Error> {
        let rows = self.read_rows().await?;
        let desired = self.stamp_from(&rows, targets, purge)?;
        let (remove, add) = self.stamp_changes(&rows, &desired);
        Ok(StampReport {
            added: self.ids(&add),
            removed: remove.into_iter().map(str::to_owned).collect(),
        })
    }

    /// What a stamp from `rows` to `desired` changes: the rows to remove,
    /// children before parents (so the table never holds a revision
    /// without its parent, even between statements), then the revisions to
    /// record, in `desired`'s order. A row in progress is rewritten.
    fn stamp_changes<'r>(
        &self,
        rows: &'r [AppliedRow],
        desired: &[RevIndex],
    ) -> (Vec<&'r str>, Vec<RevIndex>) {
        let mut wanted = vec![false; self.graph.len()];
        for &i in desired {
            wanted[i] = true;
        }
        let mut clean = vec![false; self.graph.len()];
        let mut remove = Vec::new();
        for row in rows.iter().rev() {
            match self.graph.index_of(&row.version) {
                Some(i) if wanted[i] && !row.in_progress => clean[i] = true,
                Some(i) if wanted[i] => {}
                _ => remove.push(row.version.as_str()),
            }
        }
        let add = desired.iter().copied().filter(|&i| !clean[i]).collect();
        (remove, add)
    }

    /// The set a stamp records. A gap in the rows it starts from is no
    /// reason to refuse: stamping is how the record is made to say what the
    /// schema holds.
    fn stamp_from(
        &self,
        rows: &[AppliedRow],
        targets: &[Target],
        purge: bool,
    ) -> Result<Vec<RevIndex>, Error> {
        let (m, rows) = self.stamp_view(rows)?;
        m.stamp_from_view(&rows, targets, purge)
    }

    fn stamp_from_view(
        &self,
        rows: &[AppliedRow],
        targets: &[Target],
        purge: bool,
    ) -> Result<Vec<RevIndex>, Error> {
        let applied = if purge {
            Vec::new()
        } else {
            self.check_rows(rows)?.0
        };
        Ok(plan::stamp(&self.graph, &applied, targets, purge)?)
    }

    async fn stamp_locked(
        &self,
        session: &mut LockedSession,
        targets: &[Target],
        purge: bool,
    ) -> Result<StampReport, Error> {
        self.settle_in(session).await?;
        let rows = session.applied().to_vec();
        let (m, rows) = self.stamp_view(&rows)?;
        let report = m
            .stamp_locked_in_view(session, &rows, targets, purge)
            .await?;
        if !report.added.is_empty() {
            self.settle_in(session).await?;
        }
        Ok(report)
    }

    async fn stamp_locked_in_view(
        &self,
        session: &mut LockedSession,
        rows: &[AppliedRow],
        targets: &[Target],
        purge: bool,
    ) -> Result<StampReport, Error> {
        let desired = self.stamp_from_view(rows, targets, purge)?;
        let (remove, add) = self.stamp_changes(rows, &desired);
        let mut report = StampReport::default();
        for version in remove {
            if session.stamp_removed(version).await? {
                report.removed.push(version.to_owned());
            }
        }
        for i in add {
            let r = self.graph.rev(i);
            session
                .stamp_applied(&r.id, &r.checksum, &r.down_revisions)
                .await?;
            report.added.push(r.id.clone());
        }
        if !report.added.is_empty() {
            // The rows above a revision recorded now take the parents their
            // files name (a rebased history settled by a stamp, or an
            // inserted revision left in progress and stamped as done).
            let rows = session.refresh().await?.to_vec();
            for (version, parents) in rebase::reparented(&self.graph, &rows, &report.added) {
                session.set_parents(&version, &parents).await?;
            }
        }
        Ok(report)
    }

    /// Applied heads, in topological order. Takes no lock and creates
    /// nothing: `[]` for a database rev never touched. A revision in
    /// progress is not applied: its parents are the heads.
    pub async fn current(&self) -> Result<Vec<String>, Error> {
        Ok(self.status().await?.current)
    }

    /// Applied, pending, drifted and in-progress revisions. Takes no lock.
    /// Each revision is in one list only: one in progress is neither
    /// applied nor pending.
    pub async fn status(&self) -> Result<Status, Error> {
        let rows = self.read_rows().await?;
        let squashes = self.squash_status(&rows);
        let (m, rows) = self.in_view(&rows)?;
        let mut status = m.status_in_view(rows)?;
        status.squashes = squashes;
        Ok(status)
    }

    fn squash_status(&self, rows: &[AppliedRow]) -> Vec<SquashStatus> {
        let done: std::collections::HashSet<&str> = rows
            .iter()
            .filter(|r| !r.in_progress)
            .map(|r| r.version.as_str())
            .collect();
        let any: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.version.as_str()).collect();
        self.graph
            .squashes()
            .iter()
            .map(|s| {
                let applied: Vec<String> = s
                    .replaces
                    .iter()
                    .filter(|id| any.contains(id.as_str()))
                    .cloned()
                    .collect();
                let complete = s.replaces.iter().all(|id| done.contains(id.as_str()));
                let state = if done.contains(s.id.as_str()) || complete {
                    "past"
                } else if applied.is_empty() {
                    "before"
                } else {
                    "inside"
                };
                SquashStatus {
                    squash: s.id.clone(),
                    replaces: s.replaces.clone(),
                    state,
                    applied,
                }
            })
            .collect()
    }

    fn status_in_view(&self, rows: Vec<AppliedRow>) -> Result<Status, Error> {
        let recorded = self.applied_indices(&rows)?;
        let done = self.done_indices(&rows, &recorded);
        let pending = plan::upgrade(&self.graph, &recorded, &Target::Heads)?;
        Ok(Status {
            current: self.ids(&self.graph.current_heads(&done)),
            applied: rows
                .iter()
                .filter(|r| !r.in_progress)
                .map(|r| r.version.clone())
                .collect(),
            pending: pending
                .steps
                .iter()
                .map(|s| self.graph.rev(s.revision).id.clone())
                .collect(),
            drifted: self.drifted(&rows),
            in_progress: rows
                .iter()
                .filter(|r| r.in_progress)
                .map(|r| r.version.clone())
                .collect(),
            squashes: Vec::new(),
        })
    }

    /// Records the current checksum of applied revisions whose files changed
    /// on purpose; returns the ids whose checksum changed.
    pub async fn accept(&self, targets: &[Target]) -> Result<Vec<String>, Error> {
        let conn = self.connect().await?;
        let mut session = LockedSession::acquire(conn, self.settings.lock_timeout).await?;
        let result = self.accept_locked(&mut session, targets).await;
        let released = session.release().await;
        let changed = result?;
        released?;
        Ok(changed)
    }

    async fn accept_locked(
        &self,
        session: &mut LockedSession,
        targets: &[Target],
    ) -> Result<Vec<String>, Error> {
        let rows = session.applied().to_vec();
        let (m, rows) = self.in_view(&rows)?;
        let m = m.as_ref();
        let applied = m.applied_indices(&rows)?;
        let mut changed = Vec::new();
        for target in targets {
            for i in target.resolve(&m.graph, &applied)? {
                let r = m.graph.rev(i);
                let Some(row) = rows.iter().find(|row| row.version == r.id) else {
                    return Err(Error::NotApplied {
                        revision: r.id.clone(),
                    });
                };
                if row.checksum != r.checksum {
                    session.set_checksum(&r.id, &r.checksum).await?;
                    changed.push(r.id.clone());
                }
            }
        }
        Ok(changed)
    }

    /// The SQL script for `target`, tracking statements included, touching
    /// no database. The starting state is `from` (revision ids or prefixes;
    /// empty means an empty database).
    pub fn sql_script(
        &self,
        direction: Direction,
        target: &Target,
        from: &[RevIndex],
    ) -> Result<String, Error> {
        // A starting point inside a squashed run (read from a database that
        // applied part of it) is planned with that run's originals.
        let originals: std::collections::HashSet<String> = self
            .graph
            .squashes()
            .iter()
            .filter(|s| {
                from.iter()
                    .any(|&i| self.graph.is_hidden(i) && s.replaces.contains(&self.graph.rev(i).id))
            })
            .map(|s| s.id.clone())
            .collect();
        let m = if originals.is_empty() {
            Cow::Borrowed(self)
        } else {
            let mut m = self.clone();
            m.graph = self.graph.with_originals(&originals)?;
            Cow::Owned(m)
        };
        let plan = m.plan_offline(from, direction, target)?;
        let script = m.script_of(&plan);
        match (direction, plan::counts_applied(target)) {
            (Direction::Downgrade, Some(n)) => {
                // Said in the script, which outlives the command line.
                let note = self.dialect().comment(&format!(
                    "`{target}` counts back in plan order: a script made from --from has no applied order,\n\
                     so these are the last {n} of that state in the order `upgrade` applies them,\n\
                     not the {n} the database applied last (`rev downgrade {target} --sql`\n\
                     without --from reads the database and its order)"
                ));
                Ok(match script.split_once('\n') {
                    Some((title, rest)) => format!("{title}\n{note}\n{rest}"),
                    None => format!("{note}\n{script}"),
                })
            }
            _ => Ok(script),
        }
    }

    /// The SQL script for `target` from the state the database records,
    /// read without a lock (for `--sql` on a downgrade without `--from`):
    /// `downgrade -N` then counts back in applied order, as a run would.
    pub async fn sql_script_from_database(
        &self,
        direction: Direction,
        target: &Target,
    ) -> Result<String, Error> {
        let rows = self.read_rows().await?;
        let (m, rows) = self.in_view(&rows)?;
        let recorded = m.applied_indices(&rows)?;
        let applied = plan::applied_order(
            &m.graph,
            recorded
                .iter()
                .zip(&rows)
                .map(|(&i, row)| (i, row.applied_at.as_str())),
        );
        let plan = m.plan_from(&applied, direction, target)?;
        Ok(m.script_of(&plan))
    }

    fn script_of(&self, plan: &Plan) -> String {
        self.dialect().script(
            &self.exec_steps(plan),
            self.settings.transaction_per_migration,
        )
    }

    /// The applied set as indices, read without a lock (for `--sql` on a
    /// downgrade without `--from`).
    pub async fn applied(&self) -> Result<Vec<RevIndex>, Error> {
        let rows = self.read_rows().await?;
        let (m, rows) = self.in_view(&rows)?;
        m.applied_indices(&rows)
    }

    /// This migrator as a database with these rows sees the files, and the
    /// rows as it reads them: see [`crate::squash`]. Borrowed (and the rows
    /// unchanged) when no revision is squashed.
    fn in_view(&self, rows: &[AppliedRow]) -> Result<(Cow<'_, Migrator>, Vec<AppliedRow>), Error> {
        let squashes = self.graph.squashes();
        if squashes.is_empty() {
            return Ok((Cow::Borrowed(self), rows.to_vec()));
        }
        let originals = squash::originals_for(squashes, rows, |id| {
            let path = self
                .graph
                .index_of(id)
                .map(|i| self.graph.rev(i).path.clone())
                .unwrap_or_default();
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (path, dir)
        })?;
        let m = if originals.is_empty() {
            Cow::Borrowed(self)
        } else {
            Cow::Owned(Migrator {
                graph: self.graph.with_originals(&originals)?,
                url: self.url.clone(),
                settings: self.settings.clone(),
                table: self.table.clone(),
                cancel: self.cancel.clone(),
                progress: self.progress.clone(),
                statement_events: self.statement_events,
            })
        };
        let view = squash::View::new(squashes, &originals);
        let graph = &m.graph;
        let rows = squash::view_rows(squashes, &view, rows, |id| match graph.index_of(id) {
            Some(i) => (
                graph.rev(i).checksum.clone(),
                graph.rev(i).down_revisions.clone(),
            ),
            None => (String::new(), Vec::new()),
        });
        Ok((m, rows))
    }

    /// The view a stamp works in: [`Migrator::in_view`], except that a
    /// database inside a squashed run whose files are gone reads the run as
    /// not applied, so that `rev stamp SQUASHED` can record the squashed
    /// revision over it (the run's rows are then settled away).
    fn stamp_view(
        &self,
        rows: &[AppliedRow],
    ) -> Result<(Cow<'_, Migrator>, Vec<AppliedRow>), Error> {
        match self.in_view(rows) {
            Err(Error::Squash(_)) => {
                let squashes = self.graph.squashes();
                let view = squash::View::new(squashes, &std::collections::HashSet::new());
                let rows = squash::view_rows(squashes, &view, rows, |id| {
                    self.graph
                        .index_of(id)
                        .map(|i| {
                            (
                                self.graph.rev(i).checksum.clone(),
                                self.graph.rev(i).down_revisions.clone(),
                            )
                        })
                        .unwrap_or_default()
                });
                Ok((Cow::Borrowed(self), rows))
            }
            other => other,
        }
    }

    /// Under its own lock, records each squashed revision whose run the
    /// rows hold in full in place of the run's rows (see
    /// [`Migrator::settle_in`]). Connects only when a revision is squashed.
    async fn settle_squashes(&self) -> Result<(), Error> {
        if self.graph.squashes().is_empty() {
            return Ok(());
        }
        // A database that does not exist yet has nothing to settle, and
        // must not be created by a refusal that may follow.
        if self.url.sqlite_path().is_some_and(|p| !p.exists()) {
            return Ok(());
        }
        let conn = self.connect().await?;
        let mut session = LockedSession::acquire(conn, self.settings.lock_timeout).await?;
        let result = self.settle_in(&mut session).await;
        let released = session.release().await;
        result?;
        released?;
        Ok(())
    }

    /// Records each squashed revision whose run the rows hold in full in
    /// place of the run's rows, one transaction per squash, and reads the
    /// rows again. The squashed row takes the run's parents and the
    /// squashed file's checksum.
    async fn settle_in(&self, session: &mut LockedSession) -> Result<(), Error> {
        let settles = squash::settles(self.graph.squashes(), session.applied());
        if settles.is_empty() {
            return Ok(());
        }
        for s in &settles {
            let Some(i) = self.graph.index_of(&s.squash) else {
                continue;
            };
            let r = self.graph.rev(i);
            session
                .replace_rows(&r.id, &r.checksum, &r.down_revisions, s.insert, &s.remove)
                .await?;
        }
        session.refresh().await?;
        Ok(())
    }

    /// The revision ids the tracking table records, applied or in progress,
    /// read without a lock and without checking them against the graph (a
    /// rebase asks which revisions it must not move). Creates nothing.
    pub async fn recorded(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .read_rows()
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect())
    }

    /// The revisions `rev history` lists, newest first: every one, or
    /// those of `range` (see [`history::select`]). Reads the database's
    /// current heads, without a lock, only when the range names
    /// [`history::CURRENT`].
    pub async fn history(
        &self,
        range: Option<&history::Range>,
    ) -> Result<Vec<&crate::revision::Revision>, Error> {
        let current = match range {
            Some(range) if range.reads_current() => {
                let status = self.status().await?;
                status
                    .current
                    .iter()
                    .filter_map(|id| self.graph.index_of(id))
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(history::select(&self.graph, range, &current)?
            .into_iter()
            .map(|i| self.graph.rev(i))
            .collect())
    }

    /// The problems `rev check` reports on a graph that loaded, unknown
    /// header keys included (see [`crate::check::problems`]). (A graph
    /// that does not load never makes a `Migrator`: that error comes from
    /// [`Migrator::from_config`].)
    pub fn check(&self) -> Vec<Problem> {
        check::problems(&self.graph, CheckOptions::default())
    }

    /// Checks the data and catalog of the database (`rev check --db`); see
    /// [`check_database`].
    pub async fn check_database(&self) -> Result<DatabaseCheck, Error> {
        check_database(&self.url, &self.settings).await
    }

    fn ids(&self, revs: &[RevIndex]) -> Vec<String> {
        revs.iter().map(|&i| self.graph.rev(i).id.clone()).collect()
    }
}

/// Checks the data and catalog of the database at `url`, which needs no
/// revision files (`rev check --db` runs it even when they do not load).
///
/// SQLite: `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
/// PostgreSQL: constraints left `NOT VALID` and invalid indexes in the
/// current database's own schemas. MySQL/MariaDB: no checks (see
/// [`DatabaseCheck::checks`]). Reads only: takes no lock, creates no
/// tracking table, and a SQLite file that does not exist is not created
/// (nothing is checked then).
pub async fn check_database(
    url: &DatabaseUrl,
    settings: &Settings,
) -> Result<DatabaseCheck, Error> {
    if url.sqlite_path().is_some_and(|path| !path.exists()) {
        return Ok(DatabaseCheck::default());
    }
    let table = TableName::new(&settings.version_table)?;
    let mut conn = Connection::connect_read_only(url, table, &settings.connect).await?;
    let result = conn.check_database().await;
    let _ = conn.close().await;
    Ok(result?)
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        Error::Migration(Box::new(e))
    }
}

/// What [`Migrator::prepare`] found.
struct Prepared {
    plan: Plan,
    steps: Vec<ExecStep>,
    /// Set when the run applies revisions inserted below applied ones.
    rebase: Option<Rebase>,
    /// What `downgrade -N` chose: each revision and its `applied_at`.
    applied_last: Vec<(String, String)>,
}

fn gap_error(gap: Gap) -> Error {
    match gap {
        Gap::Rebased(rebase) => Error::RebasedHistory(Box::new(rebase)),
        Gap::HandEdited {
            revision,
            parent,
            stamp_targets,
        } => Error::AppliedWithoutParent {
            revision,
            parent,
            stamp_targets,
        },
    }
}

/// The report of a failed run, if the error carries one.
pub fn failed_report(e: &Error) -> Option<&Report> {
    match e {
        Error::Migration(e) => Some(&e.report),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::RunStep;

    fn step(revision: &str, ms: u64) -> AppliedStep {
        AppliedStep {
            revision: revision.into(),
            direction: Direction::Upgrade,
            elapsed: Duration::from_millis(ms),
        }
    }

    /// The JSON scripts read after `rev upgrade -f json`: the failed
    /// revision under `failed` only, times in whole milliseconds.
    #[test]
    fn a_failed_run_reports_each_revision_once() {
        let report = Report {
            applied: vec![step("a", 12)],
            not_run: vec!["b".into(), "c".into()],
            failed: Some(RunStep {
                revision: "b".into(),
                direction: Direction::Upgrade,
            }),
            ..Report::default()
        };
        let error = Error::NoDatabaseUrl;
        let json = serde_json::to_value(RunOutcome::new(&report, Some(&error))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "applied": [{"revision": "a", "direction": "upgrade", "execution_time_ms": 12}],
                "failed": {
                    "revision": "b", "direction": "upgrade",
                    "error": {"kind": "no_database_url", "message": error.to_string()},
                },
                "not_run": ["c"],
                "interrupted": false,
                "cancelled": null,
                "out_of_order": [],
            })
        );
        // An interrupted run: `failed` is null and nothing is left out.
        let report = Report {
            failed: None,
            interrupted: true,
            ..report
        };
        let json = serde_json::to_value(RunOutcome::new(&report, None)).unwrap();
        assert_eq!(json["failed"], serde_json::Value::Null);
        assert_eq!(json["not_run"], serde_json::json!(["b", "c"]));
        assert_eq!(json["interrupted"], true);
    }
}
