//! What a person sees while `upgrade` or `downgrade` runs.
//!
//! Each finished revision gets a line (`upgrade   ae10  create users (12 ms)`),
//! as it finishes, on stderr. At a terminal, a plan of [`LIVE_MIN`] or more
//! revisions also gets one live line below those (indicatif): revision n of
//! N, the running revision's id and message, the elapsed time and an
//! estimate. It is redrawn in place and cleared when the run ends, however
//! it ends (an error, Ctrl+C), so the terminal is left with the finished
//! lines only. Without a terminal (a pipe, a CI log) there is no live line
//! and no escape code, only the finished lines; `-q` and `-f json` print
//! none of this. `-v` adds a line as each revision starts.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;
use rev::executor::StepEvent;
use rev::step::Direction;
use rev::Migrator;

use super::output::Printer;

/// The smallest plan that gets a live line: below it, the finished lines
/// appear about as fast as a live line would be drawn.
pub const LIVE_MIN: usize = 3;

/// A handle on the live line of a run (if any), shared by the progress
/// callback, the signal watcher and the command that ends the run.
#[derive(Clone, Default)]
pub struct RunDisplay {
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl RunDisplay {
    /// Shows the run's progress as described in the module docs.
    pub fn install(printer: &Printer, m: &mut Migrator) -> RunDisplay {
        let display = RunDisplay::default();
        if printer.quiet || printer.json() {
            return display;
        }
        let messages: HashMap<String, String> = m
            .graph()
            .revisions()
            .iter()
            .map(|r| (r.id.clone(), r.message.replace(['\n', '\r'], " ")))
            .collect();
        let verbose = printer.verbose > 0;
        // indicatif draws only where stderr is a terminal; its own test
        // decides, so a line is never handed to a hidden bar and lost.
        let live = !ProgressDrawTarget::stderr().is_hidden();
        m.report_statements(verbose);
        let shared = display.clone();
        // (steps in the plan, steps started so far): the callback is `Fn`.
        let total_cell = Mutex::new((0usize, 0usize));
        m.on_progress(move |event| {
            let message = |id: &str| messages.get(id).map(String::as_str).unwrap_or_default();
            match event {
                StepEvent::Planned { total } => {
                    if let Ok(mut t) = total_cell.lock() {
                        *t = (*total, 0);
                    }
                    if live && *total >= LIVE_MIN {
                        shared.start(*total);
                    }
                }
                StepEvent::Started {
                    revision,
                    direction,
                } => {
                    let n = total_cell.lock().map_or((0, 0), |mut t| {
                        t.1 += 1;
                        *t
                    });
                    shared.set_running(n.1, n.0, *direction, revision, message(revision));
                    if verbose {
                        shared.line(&format!("running   {direction} of {revision} ..."));
                    }
                }
                StepEvent::Statement {
                    index,
                    statement,
                    took,
                    ..
                } => {
                    shared.line(&format!(
                        "          statement {index} ({} ms)  {statement}",
                        took.as_millis()
                    ));
                }
                StepEvent::Finished {
                    revision,
                    direction,
                    took,
                } => {
                    let line = finished_line(*direction, revision, message(revision), *took);
                    shared.line(&line);
                    shared.advance();
                }
            }
        });
        display
    }

    /// A fleet's live line (at a terminal, unless `-q` or `-f json`):
    /// databases done, failed and running of the total.
    pub fn fleet(printer: &Printer, total: usize) -> RunDisplay {
        let display = RunDisplay::default();
        if printer.quiet || printer.json() || ProgressDrawTarget::stderr().is_hidden() {
            return display;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        if let Ok(mut slot) = display.bar.lock() {
            *slot = Some(bar);
        }
        display.fleet_counts(0, 0, 0, total);
        display
    }

    /// Redraws a fleet's live line.
    pub fn fleet_counts(&self, done: usize, failed: usize, running: usize, total: usize) {
        self.with_bar(|bar| {
            bar.set_position((done + failed) as u64);
            bar.set_message(format!(
                "databases: {done} done, {failed} failed, {running} running of {total}"
            ));
        });
    }

    fn start(&self, total: usize) {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] revision {prefix} · eta {eta} · {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        // Redrawn while a long revision runs, so the clock keeps moving.
        bar.enable_steady_tick(Duration::from_millis(250));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn with_bar<T>(&self, f: impl FnOnce(&ProgressBar) -> T) -> Option<T> {
        let slot = self.bar.lock().ok()?;
        slot.as_ref().map(f)
    }

    fn set_running(&self, n: usize, total: usize, d: Direction, id: &str, message: &str) {
        self.with_bar(|bar| {
            bar.set_prefix(format!("{n} of {total}"));
            bar.set_message(format!("{d} {id}  {message}"));
        });
    }

    fn advance(&self) {
        self.with_bar(|bar| bar.inc(1));
    }

    /// A line on stderr, above the live line when there is one.
    pub fn line(&self, line: &str) {
        if self.with_bar(|bar| bar.println(for_stderr(line))).is_none() {
            let _ = writeln!(anstream::stderr().lock(), "{line}");
        }
    }

    /// Runs `f` (which writes to stderr) with the live line out of the way.
    pub fn suspend(&self, f: impl FnOnce()) {
        let bar = self.bar.lock().ok().and_then(|slot| slot.clone());
        match bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Clears the live line: the run is over, whichever way it ended.
    pub fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// The line printed when a revision finishes.
fn finished_line(d: Direction, id: &str, message: &str, took: Duration) -> String {
    let dir = format!("{d:<9}");
    let dir = match d {
        Direction::Upgrade => dir.green().to_string(),
        Direction::Downgrade => dir.yellow().to_string(),
    };
    format!(
        "{dir} {}  {message} {}",
        id.bold(),
        format!("({} ms)", took.as_millis()).dimmed()
    )
}

/// indicatif writes to the terminal itself, past anstream: strip the
/// colour there when `--color never` or `NO_COLOR` says so.
fn for_stderr(line: &str) -> String {
    match anstream::AutoStream::choice(&std::io::stderr()) {
        anstream::ColorChoice::Never => anstream::adapter::strip_str(line).to_string(),
        _ => line.to_string(),
    }
}
