//! The CLI's error: the library error's message, a stable kind, the exit
//! code, and hints computed from the error's data (never from its text).

use std::io::Write;

use owo_colors::OwoColorize;
use rev::backend::BackendError;
use rev::config::ConfigError;
use rev::graph::Graph;
use rev::graph::LoadError;
use rev::plan::PlanError;
use rev::target::TargetError;
use rev::template::TemplateError;
use rev::Error as RevError;

use super::output::Printer;

/// Exit codes of DESIGN.md.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error ready to be shown to a person or a script.
#[derive(Debug)]
pub struct CliError {
    pub kind: &'static str,
    pub message: String,
    pub hints: Vec<String>,
    pub exit: u8,
}

impl CliError {
    pub fn new(kind: &'static str, message: impl Into<String>, exit: u8) -> Self {
        CliError {
            kind,
            message: message.into(),
            hints: Vec::new(),
            exit,
        }
    }

    pub fn usage(kind: &'static str, message: impl Into<String>) -> Self {
        CliError::new(kind, message, EXIT_USAGE)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Prints the error on stderr, as text or JSON.
    pub fn print(&self, json: bool) {
        let mut err = anstream::stderr().lock();
        if json {
            let v = serde_json::json!({
                "error": {"kind": self.kind, "message": self.message, "hints": self.hints}
            });
            let _ = writeln!(err, "{v}");
            return;
        }
        let _ = writeln!(err, "{}: {}", "error".red().bold(), self.message);
        for hint in &self.hints {
            let _ = writeln!(err, "  {}: {hint}", "hint".cyan().bold());
        }
    }
}

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        CliError::usage(e.kind(), e.to_string())
            .hint("fix the files named above, then run `rev check` to confirm")
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        let hint = match &e {
            ConfigError::MissingVariable { var, .. } => format!("set it: `export {var}=...`"),
            ConfigError::Read { .. } => {
                "create one with `rev init`, or point at it with `rev -c PATH`".to_string()
            }
            _ => "see README.md for the settings config.yaml takes".to_string(),
        };
        CliError::usage(e.kind(), e.to_string()).hint(hint)
    }
}

impl From<TemplateError> for CliError {
    fn from(e: TemplateError) -> Self {
        let mut err = CliError::usage(e.kind(), e.to_string());
        if let TemplateError::Invalid { .. } | TemplateError::Render { .. } = e {
            err = err.hint(
                "compare your templates/revision.sql.j2 with the one `rev init` writes in an empty folder",
            );
        }
        err
    }
}

/// Hints for a target that does not resolve, computed from its data. With the
/// graph at hand, the heads of a `head` ambiguity are listed with their
/// messages and files.
fn target_hints(
    err: CliError,
    e: &TargetError,
    graph: Option<&Graph>,
    printer: Option<&Printer>,
) -> CliError {
    match e {
        TargetError::MultipleHeads { heads, .. } => {
            let mut err = err;
            if let (Some(graph), Some(printer)) = (graph, printer) {
                for id in heads {
                    if let Some(i) = graph.index_of(id) {
                        let r = graph.rev(i);
                        let labels = graph.labels_of(i);
                        err.message.push_str(&format!(
                            "\n  {id}{} ({}) {}",
                            if labels.is_empty() {
                                String::new()
                            } else {
                                format!(" [{}]", labels.join(", "))
                            },
                            printer.display_path(&r.path),
                            r.message
                        ));
                    }
                }
            }
            err.hint(format!(
                "name one head (`{}`) or its branch (`LABEL@head`), or use `heads` for all of them",
                heads.first().map(String::as_str).unwrap_or("REV")
            ))
            .hint("or join them into one with `rev merge heads -m \"merge heads\"`")
        }
        TargetError::MultipleCurrentHeads { heads, .. } => err.hint(format!(
            "count from one of them instead: `{}+1`, or from a branch: `LABEL@+1`",
            heads.first().map(String::as_str).unwrap_or("REV")
        )),
        TargetError::AmbiguousPrefix { candidates, .. } => err.hint(format!(
            "type more characters of one of: {}",
            candidates.join(", ")
        )),
        TargetError::UnknownRevision { similar, .. }
        | TargetError::UnknownBranch { similar, .. } => {
            let err = if similar.is_empty() {
                err
            } else {
                err.hint(format!(
                    "did you mean {}?",
                    similar
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ))
            };
            err.hint("`rev history` lists every revision, `rev branches` the branch points")
        }
        TargetError::AmbiguousWalk { choices, .. } => err.hint(format!(
            "name the way to go: a revision ({}) or a branch (`LABEL@-1`)",
            choices
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        TargetError::Overshoot {
            available, upward, ..
        } => {
            if *available == 0 {
                err.hint(if *upward {
                    "there is nothing above to walk to"
                } else {
                    "there is nothing below to walk to"
                })
            } else {
                err.hint(format!(
                    "use at most {}{available}",
                    if *upward { "+" } else { "-" }
                ))
            }
        }
        _ => err,
    }
}

impl CliError {
    /// Converts a library error, with hints from its data.
    pub fn from_rev(e: RevError, graph: Option<&Graph>, printer: Option<&Printer>) -> CliError {
        let kind = e.kind();
        let message = e.to_string();
        match e {
            RevError::Config(e) => e.into(),
            RevError::Load(e) => e.into(),
            RevError::Url(_) => CliError::usage(kind, message)
                .hint("URLs look like `sqlite://app.db?mode=rwc`, `postgres://user@host:5432/db` or `mysql://user@host:3306/db`"),
            RevError::NoDatabaseUrl => CliError::usage(kind, message)
                .hint("pass `--database-url URL`")
                .hint("or set the environment variable `DATABASE_URL`")
                .hint("or set `database_url:` in config.yaml (use `${VAR}` for the password)"),
            RevError::Plan(PlanError::Target(t)) => {
                target_hints(CliError::usage(kind, message), &t, graph, printer)
            }
            RevError::Plan(p) => {
                let err = CliError::usage(kind, message);
                match p {
                    PlanError::Irreversible { .. } => err.hint(
                        "write a `-- +downgrade` section for it, or downgrade to a target above it",
                    ),
                    PlanError::NotApplied { .. } => {
                        err.hint("`rev current` shows where the database is; `rev upgrade` moves up")
                    }
                    _ => err,
                }
            }
            RevError::Backend(b) => backend_hints(CliError::new(kind, message, EXIT_FAILED), &b, graph),
            RevError::Migration(m) => {
                let mut err = CliError::new(kind, message, EXIT_FAILED);
                let report = &m.report;
                let done: Vec<String> = report.applied.iter().map(|(r, d, _)| format!("{d} {r}")).collect();
                err.message.push_str(&format!(
                    "\n  done before the failure: {}",
                    if done.is_empty() { "nothing".to_string() } else { done.join(", ") }
                ));
                if !report.not_run.is_empty() {
                    err.message
                        .push_str(&format!("\n  not run: {}", report.not_run.join(", ")));
                }
                backend_hints(err, &m.error, graph)
            }
            RevError::UnknownApplied { revisions, .. } => CliError::new(kind, message, EXIT_FAILED)
                .hint("check out the branch that has those revision files, or restore them")
                .hint(format!(
                    "if they were removed on purpose, record the real state with `rev stamp --purge REV` (the revision the schema is at); `{}` is among the unknown",
                    revisions.first().map(String::as_str).unwrap_or_default()
                )),
            RevError::AppliedWithoutParent { revision, .. } => {
                CliError::new(kind, message, EXIT_FAILED).hint(format!(
                    "if the schema really has everything `{revision}` needs, `rev stamp {revision}` records its ancestors too"
                ))
            }
            RevError::Drift { revisions } => CliError::new(kind, message, EXIT_FAILED)
                .hint("an applied revision is never run again, so an edit does not reach this database")
                .hint(format!(
                    "if the new text is what you want recorded: `rev accept {}`; otherwise restore the file from version control",
                    revisions.join(" ")
                )),
            RevError::NotApplied { .. } => CliError::usage(kind, message),
            _ => CliError::new(kind, message, EXIT_FAILED),
        }
    }
}

fn backend_hints(err: CliError, e: &BackendError, graph: Option<&Graph>) -> CliError {
    match e {
        BackendError::LockTimeout { .. } => err
            .hint("another rev is changing this database; let it finish, or raise `lock_timeout_seconds` in config.yaml"),
        BackendError::InProgress { revision, .. } => {
            // `X-1` cannot walk down from a merge (two ways down): name its
            // parents instead, which stamps the same state.
            let parents = graph
                .and_then(|g| g.index_of(revision).map(|i| g.rev(i).down_revisions.clone()))
                .unwrap_or_default();
            let below = if parents.len() > 1 {
                parents.join(" ")
            } else {
                format!("{revision}-1")
            };
            err.hint(format!(
                "if every change of `{revision}` is in the schema: `rev stamp {revision}` records it as done"
            ))
            .hint(format!(
                "if none is: `rev stamp {below}` removes the record (then fix the file and run `rev upgrade` again)"
            ))
        }
        BackendError::MigrationFailed { revision, .. } => err.hint(format!(
            "fix the SQL in the file of `{revision}`, then run the command again"
        )),
        _ => err,
    }
}

impl From<TargetError> for CliError {
    fn from(e: TargetError) -> Self {
        CliError::from_rev(RevError::from(e), None, None)
    }
}

/// A target error with the heads listed from the graph.
pub fn target_error(e: TargetError, graph: &Graph, printer: &Printer) -> CliError {
    CliError::from_rev(RevError::from(e), Some(graph), Some(printer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rev::executor::ExecError;
    use rev::synth::revision;

    fn in_progress(graph: &Graph, rev: &str) -> Vec<String> {
        let e = RevError::Migration(Box::new(ExecError {
            error: BackendError::InProgress {
                revision: rev.into(),
                table: "schema_migrations".into(),
            },
            report: Box::default(),
        }));
        let err = CliError::from_rev(e, Some(graph), None);
        assert_eq!(err.kind, "in_progress");
        err.hints
    }

    /// The recovery commands must be runnable as printed: `X-1` for one
    /// parent (or a base), the parents themselves for a merge, where `X-1`
    /// would be an ambiguous walk.
    #[test]
    fn in_progress_hints_name_commands_that_work() {
        let graph = Graph::build(vec![
            revision("a", &[], &[], &[]),
            revision("b", &["a"], &[], &[]),
            revision("c", &["a"], &[], &[]),
            revision("m", &["b", "c"], &[], &[]),
        ])
        .unwrap();
        let hints = in_progress(&graph, "b");
        assert!(hints[0].contains("`rev stamp b`"), "{hints:?}");
        assert!(hints[1].contains("`rev stamp b-1`"), "{hints:?}");
        let hints = in_progress(&graph, "m");
        assert!(hints[0].contains("`rev stamp m`"), "{hints:?}");
        assert!(hints[1].contains("`rev stamp b c`"), "{hints:?}");
        let hints = in_progress(&graph, "a");
        assert!(hints[1].contains("`rev stamp a-1`"), "{hints:?}");
    }
}
