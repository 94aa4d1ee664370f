//! The `rev` binary: parse the command line, load the project, run one
//! command, render its result or error, and choose the exit code.
//!
//! Nothing here decides what a migration means; that is the library's job.

mod args;
mod commands;
mod complete;
mod error;
mod examples;
mod output;
mod progress;
mod prompt;
mod settings;
mod terminal;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, Format};
pub use error::CliError;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // `COMPLETE=bash rev ...` is the shell asking for completions (see
    // complete.rs): answer and exit before anything else is read or printed.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version on stdout with exit 0 and usage
            // errors on stderr with exit 2, as DESIGN.md wants. A script
            // that asked for JSON gets its usage error as JSON too.
            if e.use_stderr() && wants_json(std::env::args()) {
                let text = e.render().to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("invalid command line")
                    .trim_start_matches("error: ");
                CliError::usage("usage", first)
                    .hint("run `rev --help` for the commands and flags")
                    .print(true);
                return ExitCode::from(error::EXIT_USAGE);
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { error::EXIT_USAGE } else { 0 });
        }
    };
    terminal::set_color(cli.global.color);
    let json = cli.global.format == Format::Json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            err.print(json);
            ExitCode::from(err.exit)
        }
    }
}

/// Whether the raw arguments ask for `-f json`, read without clap (which
/// just failed on them).
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.windows(2)
        .any(|w| (w[0] == "-f" || w[0] == "--format") && w[1] == "json")
        || args
            .iter()
            .any(|a| a == "--format=json" || a == "-fjson" || a == "-f=json")
}

fn run(cli: Cli) -> Result<u8, CliError> {
    let global = cli.global;
    match &cli.command {
        Command::Init(args) => return commands::init(&global, args),
        Command::Completions(args) => return terminal::completions(args),
        Command::Man => return terminal::man(),
        _ => {}
    }
    let ctx = settings::Context::resolve(global)?;
    if ctx.printer.format != Format::Text
        && ctx.printer.format != Format::Json
        && !matches!(cli.command, Command::Graph)
    {
        return Err(CliError::usage(
            "invalid_format",
            "`-f dot`, `-f mermaid` and `-f svg` are for `rev graph`; other commands take `-f text` or `-f json`",
        ));
    }
    match cli.command {
        Command::Init(_) | Command::Completions(_) | Command::Man => unreachable_init(),
        Command::Edit(args) => terminal::edit(&ctx, &args),
        Command::New(args) => commands::new(&ctx, &args),
        Command::Merge(args) => commands::merge(&ctx, &args),
        Command::Squash(args) => commands::squash::squash(&ctx, &args),
        Command::Heads => commands::heads(&ctx),
        Command::Branches => commands::branches(&ctx),
        Command::History(args) => commands::history(&ctx, &args),
        Command::Show(args) => commands::show(&ctx, &args),
        Command::Check(args) => commands::check(&ctx, &args),
        Command::Graph => commands::graph(&ctx),
        Command::Rebase(args) => commands::team::rebase(&ctx, &args),
        Command::Upgrade(args) => commands::db::migrate(&ctx, &args, rev::step::Direction::Upgrade),
        Command::Downgrade(args) => {
            commands::db::migrate(&ctx, &args, rev::step::Direction::Downgrade)
        }
        Command::Stamp(args) => commands::db::stamp(&ctx, &args),
        Command::Current(args) => commands::db::current(&ctx, &args),
        Command::Status(args) => commands::db::status(&ctx, &args),
        Command::Accept(args) => commands::db::accept(&ctx, &args),
    }
}

// `init`, `completions` and `man` return before the project is loaded; this
// arm exists only so the match stays exhaustive without a wildcard that
// would hide new commands.
fn unreachable_init() -> Result<u8, CliError> {
    Err(CliError::new(
        "internal",
        "init, completions and man are handled before loading a project",
        1,
    ))
}
