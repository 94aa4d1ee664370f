//! `--all` and `--db NAME`: one command on many named databases
//! (`rev::fleet` runs them; this prints them).
//!
//! At a terminal a live line counts done, failed and running databases of
//! the total; each database gets one result line on stdout as it ends, and
//! a summary follows on stderr. `-f json` prints one report instead:
//! `{"databases": [{"name", "url", "ok", "from", "to", "applied", "error"}]}`
//! with the URL masked and the error as a single run renders it.

use std::sync::Mutex;

use owo_colors::OwoColorize;
use rev::executor::CancelToken;
use rev::fleet::{Action, Event, Failure, NotStarted, Options, Outcome};
use rev::graph::Graph;
use rev::Settings;

use super::super::args::{FleetArgs, FleetRunArgs};
use super::super::error::{CliError, EXIT_FAILED, EXIT_INTERRUPTED};
use super::super::progress::RunDisplay;
use super::super::settings::Context;
use super::db::{block_on_threads, table_name, watch_signals, Signals};

/// What a finished fleet left: its outcomes in config order, and whether
/// it was cancelled.
struct Finished {
    graph: Graph,
    outcomes: Vec<Outcome>,
    cancelled: bool,
}

/// Runs `action` on the selected databases, printing a result line as each
/// ends unless `lines` is false (`status` prints a table at the end).
fn execute(
    ctx: &Context,
    action: &Action,
    fleet: &FleetArgs,
    run: &FleetRunArgs,
    lines: bool,
) -> Result<Finished, CliError> {
    let base = std::path::absolute(&ctx.config.base_dir).unwrap_or(ctx.config.base_dir.clone());
    let members = rev::fleet::select(&ctx.config, &fleet.db, fleet.all, &base)?;
    let graph = ctx.graph()?;
    let settings = Settings::from_config(&ctx.config);
    table_name(ctx, &settings)?;
    let options = Options {
        jobs: fleet
            .jobs
            .map_or_else(rev::fleet::default_jobs, usize::from),
        fail_fast: run.fail_fast,
        canary: run.canary.unwrap_or(0),
    };
    let total = members.len();
    let display = RunDisplay::fleet(&ctx.printer, total);
    // (done, failed, running)
    let counts = Mutex::new((0usize, 0usize, 0usize));
    let on_event = |event: Event<'_>| {
        let (done, failed, running) = {
            let mut c = counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &event {
                Event::Started { .. } => c.2 += 1,
                Event::Finished(o) => {
                    if !matches!(o.failure, Some(Failure::NotStarted(_))) {
                        c.2 = c.2.saturating_sub(1);
                    }
                    if o.ok() {
                        c.0 += 1;
                    } else {
                        c.1 += 1;
                    }
                }
            }
            *c
        };
        display.fleet_counts(done, failed, running, total);
        if let Event::Finished(o) = event {
            if lines && !ctx.printer.json() {
                let line = result_line(o);
                display.suspend(|| ctx.printer.data(&line));
            }
        }
    };
    let cancel = CancelToken::new();
    let quiet = ctx.printer.quiet;
    let outcomes = block_on_threads(options.jobs, async {
        let watcher = Signals::register().map(|signals| {
            tokio::spawn(watch_signals(
                signals,
                cancel.clone(),
                None,
                quiet,
                display.clone(),
            ))
        });
        let outcomes = rev::fleet::run(
            &graph, &settings, &members, action, &options, &cancel, &on_event,
        )
        .await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        outcomes
    });
    display.finish();
    Ok(Finished {
        graph,
        outcomes: outcomes?,
        cancelled: cancel.is_cancelled(),
    })
}

/// `upgrade`, `downgrade`, `stamp` and `current` with `--all`/`--db`.
/// `check_heads` (`current --check-heads`): exit 1 unless every database is
/// at every head.
pub fn run(
    ctx: &Context,
    action: &Action,
    fleet: &FleetArgs,
    run: &FleetRunArgs,
    check_heads: bool,
) -> Result<u8, CliError> {
    let current = matches!(action, Action::Status);
    let done = execute(ctx, action, fleet, run, !current)?;
    let heads = real_heads(&done.graph);
    let at_heads = |o: &Outcome| o.ok() && sorted(&o.to) == heads;
    if ctx.printer.json() {
        let report: Vec<serde_json::Value> = done
            .outcomes
            .into_iter()
            .map(|o| {
                let mut extra = serde_json::Map::new();
                if current {
                    let in_progress = o.status.as_ref().map(|s| s.in_progress.clone());
                    extra.insert("in_progress".into(), in_progress.unwrap_or_default().into());
                    if check_heads {
                        extra.insert("at_heads".into(), at_heads(&o).into());
                    }
                }
                outcome_json(ctx, &done.graph, o, extra)
            })
            .collect();
        let failed = report.iter().any(|d| d["ok"] == false);
        let behind = check_heads && report.iter().any(|d| d["at_heads"] == false);
        ctx.printer
            .print_json(&serde_json::json!({ "databases": report }));
        return Ok(exit_code(done.cancelled, failed || behind));
    }
    if current {
        for o in &done.outcomes {
            let mut line = result_line(o);
            if check_heads && o.ok() && !at_heads(o) {
                line.push_str(&format!("  {}", "(not at every head)".yellow()));
            }
            ctx.printer.data(&line);
        }
    }
    summary(ctx, &done.outcomes);
    let failed = done.outcomes.iter().any(|o| !o.ok());
    let behind = check_heads && done.outcomes.iter().any(|o| !at_heads(o));
    if behind && !failed {
        ctx.printer.status(&format!(
            "not every database is at every head: heads are {}",
            heads.join(", ")
        ));
    }
    Ok(exit_code(done.cancelled, failed || behind))
}

/// `status --all`: a table, the databases behind the files first.
pub fn status(ctx: &Context, fleet: &FleetArgs) -> Result<u8, CliError> {
    let done = execute(ctx, &Action::Status, fleet, &FleetRunArgs::default(), false)?;
    let mut outcomes = done.outcomes;
    // Behind first (they need a run), then the ones that could not be read,
    // then the ones at the heads; config order within each.
    outcomes.sort_by_key(|o| match (&o.status, o.ok()) {
        (Some(s), true) if !s.pending.is_empty() => 0,
        (_, false) => 1,
        _ => 2,
    });
    let failed = outcomes.iter().any(|o| !o.ok());
    if ctx.printer.json() {
        let report: Vec<serde_json::Value> = outcomes
            .into_iter()
            .map(|o| {
                let mut extra = serde_json::Map::new();
                if let Some(s) = &o.status {
                    extra.insert("current".into(), s.current.clone().into());
                    extra.insert("pending".into(), s.pending.clone().into());
                    extra.insert("drifted".into(), s.drifted.clone().into());
                    extra.insert("in_progress".into(), s.in_progress.clone().into());
                }
                outcome_json(ctx, &done.graph, o, extra)
            })
            .collect();
        ctx.printer
            .print_json(&serde_json::json!({ "databases": report }));
        return Ok(exit_code(done.cancelled, failed));
    }
    let mut rows = vec![[
        "DATABASE".to_owned(),
        "CURRENT".to_owned(),
        "PENDING".to_owned(),
        "DRIFTED".to_owned(),
        "IN PROGRESS".to_owned(),
    ]];
    for o in &outcomes {
        rows.push(match (&o.status, &o.failure) {
            (Some(s), None) => [
                o.name.clone(),
                heads_text(&s.current),
                s.pending.len().to_string(),
                s.drifted.len().to_string(),
                if s.in_progress.is_empty() {
                    "-".to_owned()
                } else {
                    s.in_progress.join(",")
                },
            ],
            _ => [
                o.name.clone(),
                format!("error: {}", failure_text(o)),
                String::new(),
                String::new(),
                String::new(),
            ],
        });
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        ctx.printer.data(line.join("  ").trim_end());
    }
    Ok(exit_code(done.cancelled, failed))
}

fn exit_code(cancelled: bool, failed: bool) -> u8 {
    if cancelled {
        EXIT_INTERRUPTED
    } else if failed {
        EXIT_FAILED
    } else {
        0
    }
}

fn real_heads(graph: &Graph) -> Vec<String> {
    let heads: Vec<String> = graph
        .real_heads()
        .iter()
        .map(|&i| graph.rev(i).id.clone())
        .collect();
    sorted(&heads)
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

fn heads_text(ids: &[String]) -> String {
    if ids.is_empty() {
        "<base>".to_owned()
    } else {
        ids.join(",")
    }
}

/// What went wrong, in one line.
fn failure_text(o: &Outcome) -> String {
    match &o.failure {
        None => String::new(),
        Some(Failure::Error(e)) => e.to_string(),
        Some(Failure::Interrupted) => {
            "stopped by Ctrl+C after the revision that was running".to_owned()
        }
        Some(Failure::NotStarted(why)) => not_started_text(*why).to_owned(),
        Some(Failure::Panicked(message)) => format!("rev panicked: {message}"),
    }
}

fn not_started_text(why: NotStarted) -> &'static str {
    match why {
        NotStarted::FailFast => "not started: --fail-fast, and another database failed",
        NotStarted::CanaryFailed => "not started: a --canary database failed",
        NotStarted::Cancelled => "not started: the run was stopped (Ctrl+C)",
    }
}

/// One database's result line.
fn result_line(o: &Outcome) -> String {
    let name = o.name.bold();
    let url = o.url.to_string().dimmed().to_string();
    match (&o.failure, &o.status) {
        (None, Some(s)) => {
            let in_progress = if s.in_progress.is_empty() {
                String::new()
            } else {
                format!(
                    "  {}",
                    format!("(in progress: {})", s.in_progress.join(",")).red()
                )
            };
            format!("{name}  {url}  {}{in_progress}", heads_text(&s.current))
        }
        (None, None) if o.applied.is_empty() => format!(
            "{} {name}  {url}  at {} (nothing to do)",
            "ok".green(),
            heads_text(&o.to)
        ),
        (None, None) => format!(
            "{} {name}  {url}  {} -> {}  ({} applied)",
            "ok".green(),
            heads_text(&o.from),
            heads_text(&o.to),
            o.applied.len()
        ),
        (Some(Failure::NotStarted(_)), _) => {
            format!("{} {name}  {url}  {}", "--".dimmed(), failure_text(o))
        }
        (Some(_), _) => {
            let done = if o.applied.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} applied before it: {} -> {})",
                    o.applied.len(),
                    heads_text(&o.from),
                    heads_text(&o.to)
                )
            };
            format!(
                "{} {name}  {url}  {}{done}",
                "FAILED".red().bold(),
                failure_text(o)
            )
        }
    }
}

/// The summary after the result lines, on stderr.
fn summary(ctx: &Context, outcomes: &[Outcome]) {
    let ok = outcomes.iter().filter(|o| o.ok()).count();
    let changed = outcomes
        .iter()
        .filter(|o| o.ok() && !o.applied.is_empty())
        .count();
    let not_started = outcomes
        .iter()
        .filter(|o| matches!(o.failure, Some(Failure::NotStarted(_))))
        .count();
    let failed = outcomes.len() - ok - not_started;
    let mut text = format!(
        "rev: {} database{}: {ok} ok ({changed} changed, {} already there)",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" },
        ok - changed
    );
    if failed > 0 {
        text.push_str(&format!(", {}", format!("{failed} failed").red().bold()));
    }
    if not_started > 0 {
        text.push_str(&format!(", {not_started} not started"));
    }
    ctx.printer.status(&text);
}

/// One database in the JSON report; `extra` fields follow the common ones.
fn outcome_json(
    ctx: &Context,
    graph: &Graph,
    o: Outcome,
    extra: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let ok = o.ok();
    let error = match o.failure {
        None => serde_json::Value::Null,
        Some(Failure::Error(e)) => CliError::from_rev(e, Some(graph), Some(&ctx.printer)).to_json(),
        Some(Failure::Interrupted) => CliError::new(
            "interrupted",
            "stopped by Ctrl+C after the revision that was running",
            EXIT_INTERRUPTED,
        )
        .to_json(),
        Some(Failure::NotStarted(why)) => {
            CliError::new("not_started", not_started_text(why), EXIT_FAILED)
                .hint("run the command again: databases already at the target are left alone")
                .to_json()
        }
        Some(Failure::Panicked(message)) => {
            CliError::new("internal", format!("rev panicked: {message}"), EXIT_FAILED).to_json()
        }
    };
    let mut v = serde_json::json!({
        "name": o.name,
        "url": o.url.to_string(),
        "ok": ok,
        "from": o.from,
        "to": o.to,
        "applied": o.applied,
        "error": error,
    });
    if let Some(map) = v.as_object_mut() {
        map.extend(extra);
    }
    v
}
