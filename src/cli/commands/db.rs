//! The commands that talk to the database: upgrade, downgrade, stamp,
//! current, status, accept.

/// `eprintln!` that cannot panic: a closed or broken stderr (a detached
/// terminal, `2>&-`) must not turn a finished run into a crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use std::future::Future;

use owo_colors::OwoColorize;

use rev::backend::{
    BackendError, ConnectFailure, ConnectOptions, Connection, DatabaseCheck, TableName,
};
use rev::executor::{CancelToken, Report, RunStep};
use rev::graph::{Graph, RevIndex};
use rev::migrator::RunOutcome;
use rev::render::Mark;
use rev::step::Direction;
use rev::target::Target;
use rev::url::{BackendKind, DatabaseUrl};
use rev::{Migrator, Settings};
use std::io::IsTerminal;

use rev::fleet::Action;

use super::super::args::{
    AcceptArgs, CurrentArgs, FleetRunArgs, MigrateArgs, StampArgs, StatusArgs,
};
use super::super::error::{CliError, EXIT_FAILED, EXIT_INTERRUPTED};
use super::super::progress::RunDisplay;
use super::super::prompt;
use super::super::settings::Context;
use super::fleet;

/// Runs a future on a small runtime: rev does one thing at a time on one
/// connection, so one thread is enough and starts fastest.
pub(super) fn block_on<F: Future>(future: F) -> Result<F::Output, CliError> {
    Ok(runtime(tokio::runtime::Builder::new_current_thread())?.block_on(future))
}

/// [`block_on`] on a pool of threads, for a fleet: its databases' runs
/// overlap their waits and their CPU work (parsing, planning, SQLite).
pub(super) fn block_on_threads<F: Future>(jobs: usize, future: F) -> Result<F::Output, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(jobs.clamp(1, cores));
    Ok(runtime(builder)?.block_on(future))
}

fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, CliError> {
    builder.enable_all().build().map_err(|e| {
        CliError::new(
            "runtime",
            format!("cannot start the async runtime: {e}"),
            EXIT_FAILED,
        )
    })
}

fn migrator(ctx: &Context) -> Result<Migrator, CliError> {
    let graph = ctx.graph()?;
    let settings = Settings::from_config(&ctx.config);
    let table = table_name(ctx, &settings)?;
    let url = ctx.database_url()?;
    let url = complete_password(url, table, &settings)?;
    Migrator::new(graph, url, settings).map_err(|e| CliError::from_rev(e, None, None))
}

/// `rev check --db`: the database's own checks. Needs no revision files, so
/// it runs even when they do not load.
pub fn check_database(ctx: &Context) -> Result<(DatabaseUrl, DatabaseCheck), CliError> {
    let settings = Settings::from_config(&ctx.config);
    let table = table_name(ctx, &settings)?;
    let url = ctx.database_url()?;
    let url = complete_password(url, table, &settings)?;
    let check = block_on(rev::migrator::check_database(&url, &settings))?
        .map_err(|e| CliError::from_rev(e, None, Some(&ctx.printer)))?;
    Ok((url, check))
}

/// The graph and the database's current heads (for `history -r current:`
/// and `--indicate-current`). Reads without a lock.
pub fn current_heads(ctx: &Context) -> Result<(Graph, Vec<RevIndex>), CliError> {
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    let state = block_on(m.status())?.map_err(&err)?;
    let graph = m.graph();
    let current = state
        .current
        .iter()
        .filter_map(|id| graph.index_of(id))
        .collect();
    Ok((graph.clone(), current))
}

pub(super) fn table_name(ctx: &Context, settings: &Settings) -> Result<TableName, CliError> {
    // A bad table name is a mistake in config.yaml: say so, before asking
    // for anything or connecting.
    TableName::new(&settings.version_table).map_err(|e| {
        let file = ctx
            .config
            .path
            .as_deref()
            .map(|p| format!("{}: ", ctx.printer.display_path(p)))
            .unwrap_or_default();
        CliError::usage(e.kind(), format!("{file}{e}"))
            .hint("`version_table` must be a plain identifier, such as `schema_migrations`")
    })
}

/// A server URL that names a user but no password is tried as it is (trust
/// and peer authentication, `.pgpass`-less setups need none); only if the
/// server then asks for a password, and stdin is a terminal, is the person
/// asked for it, as psql does.
fn complete_password(
    url: DatabaseUrl,
    table: TableName,
    settings: &Settings,
) -> Result<DatabaseUrl, CliError> {
    if url.kind() == BackendKind::Sqlite
        || url.username().is_none()
        || url.has_password()
        || !std::io::stdin().is_terminal()
    {
        return Ok(url);
    }
    let probe = ConnectOptions {
        retries: 0,
        ..settings.connect
    };
    let refused = block_on(async {
        match Connection::connect(&url, table, &probe).await {
            Ok(conn) => {
                let _ = conn.close().await;
                false
            }
            Err(BackendError::Connect { cause, .. }) => cause == ConnectFailure::Auth,
            Err(_) => false,
        }
    })?;
    if !refused {
        // Connected, or failed for another reason that the real connection
        // (with its retries) reports in full.
        return Ok(url);
    }
    prompt::ask_password(&mut prompt::Tty, &url).map_err(|e| {
        CliError::new(
            "connect",
            format!("{url} needs a password and none could be read: {e}"),
            EXIT_FAILED,
        )
    })
}

fn rev_err<'a>(ctx: &'a Context, m: &'a Migrator) -> impl Fn(rev::Error) -> CliError + 'a {
    let graph: &Graph = m.graph();
    let printer = &ctx.printer;
    move |e| CliError::from_rev(e, Some(graph), Some(printer))
}

/// The signals that stop a run, registered before the run starts so that no
/// signal in between falls back to the default action (killing rev while it
/// holds the lock in the middle of a revision).
pub(super) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must run inside the runtime.
    pub(super) fn register() -> Option<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Some(Signals {
                int: signal(SignalKind::interrupt()).ok()?,
                term: signal(SignalKind::terminate()).ok()?,
            })
        }
        #[cfg(not(unix))]
        {
            Some(Signals {})
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {},
            _ = self.term.recv() => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    }
}

/// SIGINT or SIGTERM stops the run after the running revision (it commits
/// or rolls back whole; the lock is then released and rev exits 130).
///
/// A second signal cancels the running revision where that is safe:
/// PostgreSQL cancels its statement and rolls its transaction back (SQL and
/// tracking row together). On MySQL/MariaDB, whose DDL commits statement by
/// statement, cutting a revision short would leave it half applied, and
/// SQLite has no cancel sqlx exposes, so there the revision still finishes.
/// Either way nothing is left half recorded and the lock is released; further
/// signals change nothing. A fleet's databases may be of several kinds
/// (`kind` is `None`): each behaves as its kind does.
pub(super) async fn watch_signals(
    mut signals: Signals,
    cancel: CancelToken,
    kind: Option<BackendKind>,
    quiet: bool,
    display: RunDisplay,
) {
    let mut count = 0;
    loop {
        signals.recv().await;
        count += 1;
        if count == 1 {
            cancel.cancel();
            if !quiet {
                display.suspend(|| say!("rev: stopping after the revision that is running (it commits or rolls back whole), then releasing the lock; press Ctrl+C again to cancel the running revision"));
            }
        } else {
            cancel.abort_running();
            if !quiet && count == 2 {
                display.suspend(|| match kind {
                    Some(BackendKind::Postgres) => say!("rev: cancelling the running revision; its transaction rolls back"),
                    Some(BackendKind::MySql) => say!("rev: still stopping; a MySQL/MariaDB revision cannot be rolled back (its DDL commits as it goes), so it runs to its end"),
                    Some(BackendKind::Sqlite) => say!("rev: still stopping; waiting for the running SQLite revision to finish"),
                    None => say!("rev: cancelling the running PostgreSQL revisions (their transactions roll back); MySQL/MariaDB and SQLite revisions run to their end"),
                });
            }
        }
    }
}

fn resolve_from(ctx: &Context, graph: &Graph, from: &[String]) -> Result<Vec<RevIndex>, CliError> {
    let mut out = Vec::new();
    for text in from {
        let target: Target = text
            .parse()
            .map_err(|e| CliError::usage("invalid_target", format!("--from: {e}")))?;
        out.extend(
            target
                .resolve(graph, &[])
                .map_err(|e| super::super::error::target_error(e, graph, &ctx.printer))?,
        );
    }
    Ok(out)
}

/// Prints a dry run's steps. In text, a `downgrade -N` first says why it
/// chose its revisions and gives each one's `applied_at`, and a
/// `LABEL@base` downgrade says what it reverts outside the branch. JSON
/// keeps the DESIGN shape: an array of steps, nothing more.
fn print_steps(
    ctx: &Context,
    m: &Migrator,
    target: &Target,
    steps: &[(RevIndex, Direction)],
    applied_last: &[(String, String)],
) {
    let graph = m.graph();
    if ctx.printer.json() {
        let v: Vec<RunStep> = steps
            .iter()
            .map(|&(i, direction)| RunStep {
                revision: graph.rev(i).id.clone(),
                direction,
            })
            .collect();
        ctx.printer.print_json_sorted(&v);
        return;
    }
    if steps.is_empty() {
        ctx.printer.data("nothing to do");
    }
    if !applied_last.is_empty() {
        ctx.printer.data(&format!(
            "`{target}` reverts {} applied last{}:",
            if applied_last.len() == 1 {
                "the revision".to_owned()
            } else {
                format!("the {} revisions", applied_last.len())
            },
            if applied_last.len() == 1 {
                " (nothing applied needs it)"
            } else {
                ", newest first (each once nothing still applied needs it)"
            }
        ));
    }
    let reverted = steps.iter().map(|(i, _)| *i);
    if let Some(beyond) = rev::plan::beyond_branch(graph, target, reverted) {
        ctx.printer
            .data(&beyond_branch_text(graph, target, &beyond, false));
    }
    let at: std::collections::HashMap<&str, &str> = applied_last
        .iter()
        .map(|(id, at)| (id.as_str(), at.as_str()))
        .collect();
    for (i, d) in steps {
        let r = graph.rev(*i);
        let when = at
            .get(r.id.as_str())
            .map(|at| format!("  (applied {at})"))
            .unwrap_or_default();
        ctx.printer
            .data(&format!("{d:<9} {}  {}{when}", r.id, r.message));
    }
}

/// What a `LABEL@base` downgrade reverts (or reverted, `done`) outside the
/// branch, and the target that reverts the branch alone.
fn beyond_branch_text(
    graph: &Graph,
    target: &Target,
    beyond: &rev::plan::BeyondBranch,
    done: bool,
) -> String {
    let list = |revs: &[RevIndex]| {
        revs.iter()
            .map(|&i| graph.rev(i).id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let branch = match target {
        Target::Branch { branch, .. } => branch.as_str(),
        _ => "",
    };
    let alone = beyond
        .branch_point
        .map(|p| {
            format!(
                "; `rev downgrade {branch}@{}` reverts `{branch}` alone",
                graph.rev(p).id
            )
        })
        .unwrap_or_default();
    format!(
        "`{target}` {} the {} of `{branch}` ({}), and with {} everything built on {} that is applied: so also {}, not on `{branch}`{alone}",
        if done { "reverted" } else { "reverts" },
        if beyond.roots.len() == 1 { "root" } else { "roots" },
        list(&beyond.roots),
        if beyond.roots.len() == 1 { "it" } else { "them" },
        if beyond.roots.len() == 1 { "it" } else { "them" },
        list(&beyond.others),
    )
}

/// After a run, why `downgrade -N` reverted what it did, and what a
/// `LABEL@base` downgrade reverted outside the branch.
fn explain_run(ctx: &Context, m: &Migrator, target: &Target, report: &Report) {
    match report.applied_last.as_slice() {
        [] => {}
        [(id, at)] => ctx.printer.status(&format!(
            "rev: `{target}` reverted {id}, the revision applied last ({at}), which nothing applied needed"
        )),
        many => ctx.printer.status(&format!(
            "rev: `{target}` reverted the {} revisions applied last, newest first: {}",
            many.len(),
            many.iter()
                .map(|(id, at)| format!("{id} (applied {at})"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let graph = m.graph();
    let reverted = report
        .applied
        .iter()
        .filter(|s| s.direction == Direction::Downgrade)
        .filter_map(|s| graph.index_of(&s.revision));
    if let Some(beyond) = rev::plan::beyond_branch(graph, target, reverted) {
        ctx.printer.status(&format!(
            "rev: {}",
            beyond_branch_text(graph, target, &beyond, true)
        ));
    }
}

/// Says, after a run, which revisions ran out of order (a rebased history
/// settled): a person should know their SQL ran after revisions above them.
fn warn_out_of_order(ctx: &Context, report: &Report) {
    if report.out_of_order.is_empty() || ctx.printer.json() {
        return;
    }
    let ids: Vec<String> = report
        .out_of_order
        .iter()
        .map(|id| format!("`{id}`"))
        .collect();
    say!(
        "rev: warning: {} ran out of order, after revisions that descend from {} and were applied before (the history was rebased under this database); the tracking table now records the new parents",
        ids.join(", "),
        if ids.len() == 1 { "it" } else { "them" }
    );
}

fn print_report(ctx: &Context, report: &Report) {
    warn_out_of_order(ctx, report);
    if ctx.printer.json() {
        ctx.printer
            .print_json_sorted(&RunOutcome::new(report, None));
        return;
    }
    if report.applied.is_empty() && !report.interrupted {
        ctx.printer
            .status("nothing to do: the database is already there");
    }
    // Each applied step was printed as it finished (see show_progress).
    if report.interrupted {
        // Printed even with --quiet: the run did not do what was asked.
        let applied: Vec<&str> = report.applied.iter().map(|s| s.revision.as_str()).collect();
        say!(
            "rev: interrupted; the lock is released. done: {}; not run: {}",
            if applied.is_empty() {
                "nothing".into()
            } else {
                applied.join(", ")
            },
            if report.not_run.is_empty() && report.applied.is_empty() {
                "everything (stopped before the plan was made)".into()
            } else if report.not_run.is_empty() {
                "nothing".into()
            } else {
                report.not_run.join(", ")
            }
        );
        if let Some(rev) = &report.cancelled {
            say!("rev: `{rev}` was cancelled while running and rolled back; it is not recorded");
        }
    }
}

/// Alembic's `A:B` is an offline range: online, rev reads where the
/// database is, and a second starting point (`--from`) would contradict it.
fn check_range(args: &MigrateArgs) -> Result<(), CliError> {
    let Some(from) = &args.target.from else {
        return Ok(());
    };
    if !args.sql {
        return Err(CliError::usage(
            "invalid_range",
            format!("the range `{from}:{}` is for --sql (an offline script); a run starts where the database is", *args.target),
        )
        .hint(format!("run `rev upgrade {}`, or add --sql for the script", *args.target)));
    }
    if !args.from.is_empty() {
        return Err(CliError::usage(
            "invalid_range",
            format!(
                "`{from}:{}` and --from both say where the script starts; give one",
                *args.target
            ),
        ));
    }
    Ok(())
}

pub fn migrate(ctx: &Context, args: &MigrateArgs, direction: Direction) -> Result<u8, CliError> {
    if args.fleet.selected() {
        if args.sql || args.dry_run {
            return Err(CliError::usage(
                "usage",
                "--sql and --dry-run are for one database; with --all or --db, rev runs on each",
            )
            .hint("for one database of `databases:`, pass its URL with --database-url"));
        }
        let action = match direction {
            Direction::Upgrade => Action::Upgrade(args.target.target.clone()),
            Direction::Downgrade => Action::Downgrade(args.target.target.clone()),
        };
        check_range(args)?;
        return fleet::run(ctx, &action, &args.fleet, &args.run, false);
    }
    let mut m = migrator(ctx)?;
    let display = RunDisplay::install(&ctx.printer, &mut m);
    let m = m;
    let err = rev_err(ctx, &m);
    check_range(args)?;
    if args.sql {
        // `A:B` and `--from A` give the starting point the same way.
        let from = match &args.target.from {
            Some(from) => std::slice::from_ref(from),
            None => args.from.as_slice(),
        };
        let script = if !from.is_empty() {
            let from = resolve_from(ctx, m.graph(), from)?;
            m.sql_script(direction, &args.target, &from)
        } else if direction == Direction::Downgrade {
            // A downgrade script needs a starting point; without --from it
            // is read (never written) from the database.
            block_on(m.sql_script_from_database(direction, &args.target))?
        } else {
            m.sql_script(direction, &args.target, &[])
        }
        .map_err(&err)?;
        ctx.printer.data(script.trim_end());
        return Ok(0);
    }
    if args.dry_run {
        let (plan, applied_last) =
            block_on(m.plan_explained(direction, &args.target))?.map_err(&err)?;
        let steps: Vec<_> = plan
            .steps
            .iter()
            .map(|s| (s.revision, s.direction))
            .collect();
        print_steps(ctx, &m, &args.target, &steps, &applied_last);
        return Ok(0);
    }
    let cancel = m.cancel_token();
    let quiet = ctx.printer.quiet;
    let kind = Some(m.url().kind());
    let signal_display = display.clone();
    let result = block_on(async {
        let watcher = Signals::register().map(|signals| {
            tokio::spawn(watch_signals(signals, cancel, kind, quiet, signal_display))
        });
        let result = match direction {
            Direction::Upgrade => m.upgrade(&args.target).await,
            Direction::Downgrade => m.downgrade(&args.target).await,
        };
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        result
    });
    // Before anything else is printed, and whatever the outcome.
    display.finish();
    match result? {
        Ok(report) => {
            explain_run(ctx, &m, &args.target, &report);
            print_report(ctx, &report);
            Ok(if report.interrupted {
                EXIT_INTERRUPTED
            } else {
                0
            })
        }
        Err(e) => {
            if let Some(report) = rev::migrator::failed_report(&e) {
                // The error goes to stderr; the script reading stdout still
                // learns what was applied before it, and what was not.
                if ctx.printer.json() {
                    ctx.printer
                        .print_json_sorted(&RunOutcome::new(report, Some(&e)));
                } else {
                    warn_out_of_order(ctx, report);
                }
            }
            Err(err(e))
        }
    }
}

pub fn stamp(ctx: &Context, args: &StampArgs) -> Result<u8, CliError> {
    if args.fleet.selected() {
        if args.dry_run {
            return Err(CliError::usage(
                "usage",
                "--dry-run is for one database; with --all or --db, rev stamps each",
            ));
        }
        let action = Action::Stamp {
            targets: args.targets.clone(),
            purge: args.purge,
        };
        return fleet::run(ctx, &action, &args.fleet, &args.run, false);
    }
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    if args.dry_run && ctx.printer.json() {
        // The shape of a real stamp's report, so a script reads both alike.
        let preview = block_on(m.stamp_preview(&args.targets, args.purge))?.map_err(&err)?;
        ctx.printer.print_json_sorted(&preview);
        return Ok(0);
    }
    if args.dry_run {
        let desired = block_on(m.stamp_plan(&args.targets, args.purge))?.map_err(&err)?;
        let heads = m.graph().current_heads(&desired);
        let ids: Vec<&str> = heads
            .iter()
            .map(|&i| m.graph().rev(i).id.as_str())
            .collect();
        ctx.printer.data(&format!(
            "would record: {}",
            if ids.is_empty() {
                "<base>".to_string()
            } else {
                ids.join(", ")
            }
        ));
        return Ok(0);
    }
    let report = block_on(m.stamp(&args.targets, args.purge))?.map_err(&err)?;
    if ctx.printer.json() {
        ctx.printer.print_json_sorted(&report);
    } else {
        for id in &report.removed {
            ctx.printer.status(&format!("unstamped {id}"));
        }
        for id in &report.added {
            ctx.printer.status(&format!("stamped   {id}"));
        }
        if report.added.is_empty() && report.removed.is_empty() {
            ctx.printer
                .status("nothing to do: the database already records that state");
        }
    }
    Ok(0)
}

pub fn current(ctx: &Context, args: &CurrentArgs) -> Result<u8, CliError> {
    if args.fleet.selected() {
        return fleet::run(
            ctx,
            &Action::Status,
            &args.fleet,
            &FleetRunArgs::default(),
            args.check_heads,
        );
    }
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    // One read for the applied heads and the rows in progress.
    let state = block_on(m.status())?.map_err(&err)?;
    let current = &state.current;
    let graph = m.graph();
    let message = |id: &str| {
        graph
            .revision_by_id(id)
            .map(|r| r.message.as_str())
            .unwrap_or_default()
    };
    if ctx.printer.json() {
        ctx.printer.print_json(current);
    } else {
        if current.is_empty() {
            ctx.printer.data("<base> (no revision applied)");
        }
        for id in current {
            let head = graph.index_of(id).is_some_and(|i| graph.is_head(i));
            ctx.printer.data(&format!(
                "{}{} {}",
                id.bold(),
                if head {
                    format!(" {}", "(head)".green())
                } else {
                    String::new()
                },
                message(id)
            ));
        }
        // Not applied, not reverted: shown apart from the heads, so a
        // person sees the database is not where the heads say.
        for id in &state.in_progress {
            ctx.printer.data(&format!(
                "{id} (in progress, failed part-way: not applied) {}",
                message(id)
            ));
        }
    }
    if args.check_heads {
        // The heads `upgrade heads` reaches: a revision only a dependency
        // points to is applied but not a current head (see `rev current`).
        let heads: Vec<&str> = graph
            .real_heads()
            .iter()
            .map(|&i| graph.rev(i).id.as_str())
            .collect();
        let mut sorted_current: Vec<&str> = current.iter().map(String::as_str).collect();
        sorted_current.sort_unstable();
        let mut sorted_heads = heads.clone();
        sorted_heads.sort_unstable();
        if sorted_current != sorted_heads || !state.in_progress.is_empty() {
            if !ctx.printer.json() {
                ctx.printer.status(&format!(
                    "not at every head: heads are {}",
                    heads.join(", ")
                ));
                if !state.in_progress.is_empty() {
                    ctx.printer.status(&format!(
                        "an earlier run stopped part-way through {}; `rev upgrade heads --dry-run` names it and the `rev stamp` that records the real state, changing nothing",
                        state.in_progress.join(", ")
                    ));
                }
            }
            return Ok(EXIT_FAILED);
        }
    }
    Ok(0)
}

pub fn status(ctx: &Context, args: &StatusArgs) -> Result<u8, CliError> {
    if args.fleet.selected() {
        return fleet::status(ctx, &args.fleet);
    }
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    let s = block_on(m.status())?.map_err(&err)?;
    if ctx.printer.json() {
        ctx.printer.print_json_sorted(&s);
        return Ok(0);
    }
    let graph = m.graph();
    let line = |id: &String| -> String {
        let message = graph
            .revision_by_id(id)
            .map(|r| r.message.as_str())
            .unwrap_or_default();
        format!("  {}  {message}", id.bold())
    };
    ctx.printer.data(&format!("database: {}", m.url()));
    ctx.printer.data(&format!(
        "current: {}",
        if s.current.is_empty() {
            "<base>".to_string()
        } else {
            s.current
                .iter()
                .map(|id| id.bold().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    // The colour of each section's title says what state its revisions are in.
    ctx.printer.data(&format!(
        "{}:",
        format!("applied ({})", s.applied.len()).green()
    ));
    for id in &s.applied {
        ctx.printer.data(&line(id));
    }
    ctx.printer.data(&format!(
        "{}:",
        format!("pending ({})", s.pending.len()).yellow()
    ));
    for id in &s.pending {
        ctx.printer.data(&line(id));
    }
    if !s.drifted.is_empty() {
        ctx.printer.data(&format!(
            "{}: changed since applied",
            format!("drifted ({})", s.drifted.len()).red().bold()
        ));
        for id in &s.drifted {
            ctx.printer.data(&line(id));
        }
        ctx.printer.status(&format!(
            "{}: `rev accept {}` records the new text; otherwise restore the files",
            "hint".cyan().bold(),
            s.drifted.join(" ")
        ));
    }
    if !s.in_progress.is_empty() {
        ctx.printer.data(&format!(
            "{}: an earlier run stopped inside these",
            format!("in progress ({})", s.in_progress.len())
                .red()
                .bold()
        ));
        for id in &s.in_progress {
            ctx.printer.data(&line(id));
        }
    }
    for sq in &s.squashes {
        let replaces = sq.replaces.join(", ");
        ctx.printer.data(&match sq.state {
            "past" => format!(
                "squash {}: past the run ({replaces}); this database no longer needs their files",
                sq.squash
            ),
            "inside" => format!(
                "squash {}: inside the run: {} of {} applied ({}); keep the files of {replaces} until `rev upgrade` finishes it",
                sq.squash,
                sq.applied.len(),
                sq.replaces.len(),
                sq.applied.join(", ")
            ),
            _ => format!(
                "squash {}: before the run; `rev upgrade` runs {} instead of {replaces}",
                sq.squash, sq.squash
            ),
        });
    }
    Ok(0)
}

pub fn accept(ctx: &Context, args: &AcceptArgs) -> Result<u8, CliError> {
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    let changed = block_on(m.accept(&args.revisions))?.map_err(&err)?;
    if ctx.printer.json() {
        ctx.printer.print_json(&changed);
    } else if changed.is_empty() {
        ctx.printer
            .status("nothing to accept: the recorded checksums already match the files");
    } else {
        for id in &changed {
            ctx.printer
                .status(&format!("accepted the current text of {id}"));
        }
    }
    Ok(0)
}

/// The revision ids the database records (for `rev rebase`, which must not
/// move them). Reads without a lock and creates nothing.
pub fn recorded(ctx: &Context) -> Result<std::collections::HashSet<String>, CliError> {
    let m = migrator(ctx)?;
    let err = rev_err(ctx, &m);
    let ids = block_on(m.recorded())?.map_err(&err)?;
    Ok(ids.into_iter().collect())
}

/// The applied state for `rev history --graph`, or `None` when no database
/// is configured or it cannot be read. Either way the graph is drawn; why
/// it carries no marks is said once, on stderr, so stdout stays the picture.
///
/// Reading takes no lock and creates nothing (not even a SQLite file), is
/// tried once with a short timeout, and never asks for a password: a picture
/// is not worth a prompt or a wait.
pub fn applied_marks(ctx: &Context, graph: &Graph) -> Option<Vec<Mark>> {
    const NO_MARKS: &str = "drawing the graph without applied marks";
    let configured = ctx.global.database_url.is_some()
        || std::env::var("DATABASE_URL").is_ok_and(|u| !u.trim().is_empty())
        || ctx.config.database_url.is_some();
    if !configured {
        ctx.printer
            .status(&format!("no database configured: {NO_MARKS}"));
        return None;
    }
    let url = match ctx.database_url() {
        Ok(url) => url,
        Err(e) => {
            ctx.printer.status(&format!("{}: {NO_MARKS}", e.message));
            return None;
        }
    };
    let mut settings = Settings::from_config(&ctx.config);
    settings.connect.retries = 0;
    settings.connect.connect_timeout = settings
        .connect
        .connect_timeout
        .min(std::time::Duration::from_secs(5));
    let shown = url.to_string();
    let rev_err = |e| CliError::from_rev(e, Some(graph), Some(&ctx.printer));
    let read = Migrator::new(graph.clone(), url, settings)
        .map_err(rev_err)
        .and_then(|m| block_on(async move { m.status().await })?.map_err(rev_err));
    let status = match read {
        Ok(status) => status,
        Err(e) => {
            ctx.printer.status(&format!(
                "cannot read the applied revisions of {shown}: {}; {NO_MARKS}",
                e.message
            ));
            return None;
        }
    };
    let mut marks = vec![Mark::Pending; graph.len()];
    for (ids, mark) in [
        (&status.applied, Mark::Applied),
        (&status.current, Mark::Current),
        (&status.in_progress, Mark::InProgress),
    ] {
        for id in ids {
            if let Some(i) = graph.index_of(id) {
                marks[i] = mark;
            }
        }
    }
    ctx.printer.status(&format!(
        "database {shown}: * applied, o not applied, ! stopped part-way"
    ));
    Some(marks)
}
