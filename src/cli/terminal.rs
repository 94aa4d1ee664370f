//! What rev does for the person at the terminal beyond running commands:
//! colour, `rev completions`, `rev man` and `rev edit`.
//!
//! Colour goes through anstream, which every print in the CLI uses: with
//! `--color auto` (the default) escape codes reach only a terminal, and
//! never when `NO_COLOR` is set or `TERM=dumb`; `--color always` keeps them
//! even in a pipe (`rev status --color always | less -R`).

use std::io::{IsTerminal, Write};

use clap::CommandFactory;

use super::args::{Cli, ColorWhen, CompletionShell, EditArgs};
use super::commands::resolve_one;
use super::error::{CliError, EXIT_FAILED};
use super::settings::Context;

/// Applies `--color` to everything printed from here on.
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// `rev completions SHELL [--dynamic]`.
///
/// The static script (the default) knows every command and flag and needs
/// nothing at TAB time. The dynamic one runs `COMPLETE=SHELL rev` at each
/// TAB, which also completes target arguments from the project's files
/// (see complete.rs).
pub fn completions(args: &super::args::CompletionsArgs) -> Result<u8, CliError> {
    let mut out = Vec::new();
    if args.dynamic {
        let name = match args.shell {
            CompletionShell::Bash => "bash",
            CompletionShell::Zsh => "zsh",
            CompletionShell::Fish => "fish",
            CompletionShell::Powershell => "powershell",
            CompletionShell::Elvish => "elvish",
        };
        let shells = clap_complete::env::Shells::builtins();
        let shell = shells.completer(name).ok_or_else(|| {
            CliError::usage("invalid_shell", format!("no dynamic completion for {name}"))
        })?;
        shell
            .write_registration("COMPLETE", "rev", "rev", "rev", &mut out)
            .map_err(|e| write_error("the completion script", e))?;
    } else {
        use clap_complete::Shell;
        let shell = match args.shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
            CompletionShell::Elvish => Shell::Elvish,
        };
        clap_complete::generate(shell, &mut Cli::command(), "rev", &mut out);
    }
    write_stdout(&out, "the completion script")
}

/// `rev man`: the man page in roff, for `man -l -` or a man1 folder.
pub fn man() -> Result<u8, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| write_error("the man page", e))?;
    write_stdout(&out, "the man page")
}

fn write_error(what: &str, e: std::io::Error) -> CliError {
    CliError::new(
        "write_output",
        format!("cannot write {what}: {e}"),
        EXIT_FAILED,
    )
}

fn write_stdout(bytes: &[u8], what: &str) -> Result<u8, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // `rev man | head` closing the pipe early is not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(write_error(what, e)),
        _ => Ok(0),
    }
}

/// `rev edit TARGET`: opens the revision's file in `$VISUAL`, else
/// `$EDITOR` (as git does, through `sh -c`, so `EDITOR="code --wait"`
/// works), else `vi` when a person is at the terminal.
pub fn edit(ctx: &Context, args: &EditArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let i = resolve_one(ctx, &graph, &args.target, "rev edit")?;
    let path = graph.rev(i).path.clone();
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    let editor = match editor {
        Some(e) => e,
        None if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() => {
            "vi".to_string()
        }
        None => {
            return Err(CliError::usage(
                "no_editor",
                format!(
                    "no editor to open {}: neither VISUAL nor EDITOR is set",
                    ctx.printer.display_path(&path)
                ),
            )
            .hint("set one, e.g. `export EDITOR=nano`, or open the file yourself"))
        }
    };
    let status = editor_command(&editor, &path).status().map_err(|e| {
        CliError::new(
            "editor_failed",
            format!("cannot start the editor `{editor}`: {e}"),
            EXIT_FAILED,
        )
        .hint("check VISUAL / EDITOR: the program must be on PATH")
    })?;
    if !status.success() {
        return Err(CliError::new(
            "editor_failed",
            format!(
                "the editor `{editor}` exited with {status} on {}",
                ctx.printer.display_path(&path)
            ),
            EXIT_FAILED,
        ));
    }
    Ok(0)
}

#[cfg(unix)]
fn editor_command(editor: &str, path: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    // The path is passed as `$1`, never pasted into the shell text.
    cmd.arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg("rev-edit")
        .arg(path);
    cmd
}

#[cfg(not(unix))]
fn editor_command(editor: &str, path: &std::path::Path) -> std::process::Command {
    let mut parts = editor.split_whitespace();
    let mut cmd = std::process::Command::new(parts.next().unwrap_or(editor));
    cmd.args(parts).arg(path);
    cmd
}
