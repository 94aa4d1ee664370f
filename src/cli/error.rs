//! The CLI's error: the library error's message, a stable kind, the exit
//! code, and hints computed from the error's data (never from its text).

use std::io::Write;

use owo_colors::OwoColorize;
use rev::backend::BackendError;
use rev::config::ConfigError;
use rev::fleet::SelectError;
use rev::graph::Graph;
use rev::graph::LoadError;
use rev::history::HistoryError;
use rev::plan::{PlanError, Recovery};
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

    /// The error object of DESIGN.md: `{"kind", "message", "hints"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"kind": self.kind, "message": self.message, "hints": self.hints})
    }

    /// Prints the error on stderr, as text or JSON.
    pub fn print(&self, json: bool) {
        let mut err = anstream::stderr().lock();
        if json {
            let v = serde_json::json!({ "error": self.to_json() });
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
            ConfigError::MissingVariable { var, .. }
            | ConfigError::DatabaseVariable { var, .. } => {
                format!("set it: `export {var}=...`")
            }
            ConfigError::Read { .. } => {
                "create one with `rev init`, or point at it with `rev -c PATH`".to_string()
            }
            _ => "see README.md for the settings config.yaml takes".to_string(),
        };
        CliError::usage(e.kind(), e.to_string()).hint(hint)
    }
}

impl From<SelectError> for CliError {
    fn from(e: SelectError) -> Self {
        let err = CliError::usage(e.kind(), e.to_string());
        match &e {
            SelectError::NoDatabases { .. } => err.hint(
                "name them in config.yaml: `databases:` then one `NAME: URL` line each; without --all/--db rev uses database_url",
            ),
            SelectError::Variable(ConfigError::DatabaseVariable { var, .. }) => {
                err.hint(format!("set it: `export {var}=...`"))
            }
            SelectError::Unknown { known, .. } => {
                err.hint(format!("the databases are: {}", known.join(", ")))
            }
            _ => err.hint("URLs look like `sqlite://app.db?mode=rwc`, `postgres://user@host:5432/db` or `mysql://user@host:3306/db`"),
        }
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
        TargetError::MultipleCurrentHeads { heads, target } => {
            let step = step_of(target);
            err.hint(format!(
                "count from one of them instead: `{}{step}`, or from a branch: `LABEL@{step}`",
                heads.first().map(String::as_str).unwrap_or("REV")
            ))
        }
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
        TargetError::AmbiguousWalk {
            choices, target, ..
        } => {
            let step = step_of(target);
            let err = err.hint(format!(
                "name the way to go: a revision ({}) or a branch (`LABEL@{step}`)",
                choices
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            if step.starts_with('-') {
                // A walk down stops at a merge; counting applied revisions
                // does not.
                err.hint(format!(
                    "or `rev downgrade {step}`, which reverts the revisions applied last, merge or not"
                ))
            } else {
                err
            }
        }
        TargetError::NotOnBranch { branch, .. } => err.hint(format!(
            "`{branch}@REV` takes a revision of the branch's lineage: the revision `{branch}` names, its ancestors or its descendants (`rev history` shows them)"
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

/// The step of a relative target as written (`+2` for `billing@+2`), so a
/// hint suggests a walk in the direction the user asked for; `-1` when the
/// text is not a relative target.
fn step_of(target: &str) -> String {
    use rev::target::{BranchAt, Target};
    match target.parse::<Target>() {
        Ok(Target::Relative { delta, .. })
        | Ok(Target::Branch {
            at: BranchAt::Relative { delta, .. },
            ..
        }) => format!("{delta:+}"),
        _ => "-1".to_string(),
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
            RevError::History(h) => history_error(h, graph, printer),
            RevError::Plan(PlanError::Target(t)) => {
                target_hints(CliError::usage(kind, message), &t, graph, printer)
            }
            RevError::Plan(p) => {
                let err = CliError::usage(kind, message);
                match p {
                    PlanError::Irreversible {
                        downgrade_line: None,
                        ..
                    } => err.hint(
                        "write a `-- +downgrade` section for it, or downgrade to a target above it",
                    ),
                    PlanError::Irreversible { .. } => err.hint(
                        "write the SQL that undoes it under its `-- +downgrade` line, or downgrade to a target above it",
                    ),
                    PlanError::EmptyUpgrade { .. } => err
                        .hint("nothing was run: write the revision's SQL under its `-- +upgrade` line")
                        .hint("if it is empty on purpose, write a comment line there, such as `-- intentionally empty`"),
                    PlanError::NotApplied { .. } => {
                        err.hint("`rev current` shows where the database is; `rev upgrade` moves up")
                    }
                    _ => err,
                }
            }
            RevError::Backend(b) => {
                backend_hints(CliError::new(kind, message, EXIT_FAILED), &b, graph)
            }
            RevError::Migration(m) => {
                let mut err = CliError::new(kind, message, EXIT_FAILED);
                let report = &m.report;
                let done: Vec<String> = report.applied.iter().map(|s| format!("{} {}", s.direction, s.revision)).collect();
                // A refusal before the first step has no "before".
                if !matches!(m.error, BackendError::InProgress { .. }) {
                    err.message.push_str(&format!(
                        "\n  done before the failure: {}",
                        if done.is_empty() { "nothing".to_string() } else { done.join(", ") }
                    ));
                }
                // The failed revision is named above; list the others once.
                let failed = report.failed.as_ref().map(|s| &s.revision);
                let not_run: Vec<&str> = report
                    .not_run
                    .iter()
                    .filter(|r| Some(*r) != failed)
                    .map(String::as_str)
                    .collect();
                if !not_run.is_empty() {
                    err.message
                        .push_str(&format!("\n  not run: {}", not_run.join(", ")));
                }
                backend_hints(err, &m.error, graph)
            }
            RevError::UnknownApplied { revisions, .. } => CliError::new(kind, message, EXIT_FAILED)
                .hint("check out the branch that has those revision files, or restore them")
                .hint(format!(
                    "if they were removed on purpose, record the real state with `rev stamp --purge REV` (the revision the schema is at); `{}` is among the unknown",
                    revisions.first().map(String::as_str).unwrap_or_default()
                )),
            RevError::AppliedWithoutParent { revision, stamp_targets, .. } => {
                // Stamping the recorded revisions below no other one adds
                // their missing ancestors and drops no row (`rev stamp
                // REV` alone would drop what lies above REV).
                CliError::new(kind, message, EXIT_FAILED).hint(format!(
                    "if the schema really has everything `{revision}` needs, `rev stamp {}` records the missing ancestors and keeps every other record",
                    stamp_targets.join(" ")
                ))
            }
            RevError::RebasedHistory(rebase) => rebase_hints(CliError::new(kind, message, EXIT_FAILED), &rebase),
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
        BackendError::LeaseLost { .. } => err
            .hint("the revisions before this one are recorded; run the same command again once the other run is done")
            .hint("a lease is lost when it cannot be renewed for `lock_lease_seconds` (config.yaml): raise it if the database can be unreachable for that long"),
        BackendError::PoolerNotPinned { .. } => err
            .hint("connect to PostgreSQL directly (not through the pooler) for migrations: give rev the server's own host and port")
            .hint("or set `lock: table` in config.yaml: a lease row that holds through a pooler in transaction mode"),
        BackendError::InProgress {
            revision,
            others,
            table,
        } => {
            let undo = match graph.and_then(|g| rev::plan::recovery(g, revision, others)) {
                Some(Recovery::Inserted { above, keep }) => {
                    // A revision inserted below applied ones (a rebased
                    // history) stopped part-way: a stamp cannot drop its
                    // record without dropping theirs, and `rev stamp REV`
                    // would drop theirs.
                    return err
                        .hint(format!(
                            "if every change of `{revision}` is in the schema: `rev stamp {}` records it as done and keeps every other record",
                            keep.join(" ")
                        ))
                        .hint(format!(
                            "if none is: delete its row, `DELETE FROM {table} WHERE version = '{revision}'` (a stamp cannot: {} applied above it would lose {} records), then fix the file and run `rev upgrade {revision}` again",
                            above.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
                            if above.len() == 1 { "its" } else { "their" }
                        ));
                }
                Some(Recovery::Stamp { undo }) => format!(
                    "if none is: `rev stamp {}` removes its record and keeps every other one (then fix the file and run `rev upgrade` again)",
                    undo.join(" ")
                ),
                None => format!(
                    "if none is: remove the record of `{revision}` with `rev stamp`, naming the revisions that stay applied"
                ),
            };
            err.hint(format!(
                "if every change of `{revision}` is in the schema: `rev stamp {revision}` records it as done"
            ))
            .hint(undo)
        }
        BackendError::ForeignKeyViolation(v) => {
            let rev::backend::ForeignKeyViolation {
                revision,
                table,
                parent,
                parent_exists,
                rolled_back,
                ..
            } = &**v;
            let err = if *parent_exists {
                err.hint(format!(
                    "rev runs SQLite revisions with foreign-key enforcement off, as SQLite's table-rebuild procedure asks, so ON DELETE CASCADE and SET NULL do not fire: delete or update the rows of `{table}` in the revision itself"
                ))
            } else {
                err.hint(format!(
                    "the revision dropped or renamed `{parent}`, and renaming a table renames the references to it too; to change a table, rebuild it as SQLite documents: CREATE TABLE new_t (...), INSERT INTO new_t SELECT ... FROM t, DROP TABLE t, ALTER TABLE new_t RENAME TO t"
                ))
            };
            if *rolled_back {
                let file = graph
                    .and_then(|g| g.index_of(revision).map(|i| g.rev(i).path.display().to_string()))
                    .unwrap_or_else(|| format!("the file of `{revision}`"));
                err.hint(format!("fix {file}, then run the command again; `rev check --db` lists the dangling rows"))
            } else {
                err.hint(format!(
                    "`{revision}` stays marked in progress: repair the rows of `{table}` by hand (`rev check --db` lists them), then record the real state with `rev stamp`"
                ))
            }
        }
        BackendError::MigrationFailed {
            revision,
            rolled_back: false,
            ..
        } => err.hint(format!(
            "`{revision}` stays marked in progress, so the next run stops there and shows the `rev stamp` that records what the schema really has; fix the SQL in its file first"
        )),
        BackendError::MigrationFailed { revision, .. } => {
            let file = graph
                .and_then(|g| g.index_of(revision).map(|i| g.rev(i).path.display().to_string()))
                .unwrap_or_else(|| format!("the file of `{revision}`"));
            err.hint(format!("fix the SQL in {file}, then run the command again"))
        }
        _ => err,
    }
}

/// How to settle a history rebased under the database: apply the inserted
/// revisions (out of order, named on purpose), or record them as done.
fn rebase_hints(err: CliError, rebase: &rev::rebase::Rebase) -> CliError {
    let above = rebase
        .applied_above
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let commands = rebase
        .upgrade_targets
        .iter()
        .map(|t| format!("`rev upgrade {t}`"))
        .collect::<Vec<_>>()
        .join(", then ");
    let (it, runs) = if rebase.inserted.len() == 1 {
        ("it", "its SQL runs")
    } else {
        ("them", "their SQL runs")
    };
    err.hint(format!(
        "{commands} applies {} and nothing else; {runs} after {above}, which are already applied (out of order): check that {it} does not need to run before them. The rows above then record their new parents",
        rebase
            .inserted
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", "),
    ))
    .hint(format!(
        "if the schema already has {it} (applied by hand): `rev stamp {}` records {it} without running {it} and keeps every other record",
        rebase.stamp_targets.join(" ")
    ))
    .hint("`rev upgrade heads` refuses until then: it would run the inserted revisions without saying so")
}

/// A `rev history` range error, with the hints its data gives; a side
/// that does not resolve is a target error, listed from the graph.
pub fn history_error(
    e: HistoryError,
    graph: Option<&Graph>,
    printer: Option<&Printer>,
) -> CliError {
    let err = CliError::usage(e.kind(), e.to_string());
    match e {
        HistoryError::Target(t) => target_hints(err, &t, graph, printer),
        HistoryError::CountsFromCurrent { .. } => {
            err.hint("count from a revision instead, e.g. `REV-1`, or use `current:`")
        }
        HistoryError::Reversed { lower, upper, .. } => err.hint(format!(
            "write the older revision first: `-r {upper}:{lower}` if that is what you meant"
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
    use rev::synth::revision;

    /// `a1 ── x ── a2 ── a3`: x was inserted below a2 and a3, then stopped
    /// part-way. No stamp removes its record alone; the hints say so (the
    /// stamps themselves are tested with `rev::plan::recovery`).
    #[test]
    fn inserted_revision_in_progress_gets_hints_that_keep_every_row() {
        let g = Graph::build(vec![
            revision("a1", &[], &[], &[]),
            revision("x", &["a1"], &[], &[]),
            revision("a2", &["x"], &[], &[]),
            revision("a3", &["a2"], &[], &[]),
        ])
        .unwrap();
        let e = BackendError::InProgress {
            revision: "x".into(),
            table: "schema_migrations".into(),
            others: vec!["a1".into(), "a2".into(), "a3".into()],
        };
        let err = backend_hints(CliError::new("in_progress", "", EXIT_FAILED), &e, Some(&g));
        assert!(err.hints[0].contains("`rev stamp a3`"), "{:?}", err.hints);
        assert!(
            err.hints[1].contains("`DELETE FROM schema_migrations WHERE version = 'x'`"),
            "{:?}",
            err.hints
        );
        // Where nothing is applied above it, the plain hints stay.
        let e = BackendError::InProgress {
            revision: "a3".into(),
            table: "schema_migrations".into(),
            others: vec!["a1".into(), "x".into(), "a2".into()],
        };
        let err = backend_hints(CliError::new("in_progress", "", EXIT_FAILED), &e, Some(&g));
        assert!(err.hints[0].contains("`rev stamp a3`"), "{:?}", err.hints);
        assert!(err.hints[1].contains("`rev stamp a2`"), "{:?}", err.hints);
    }

    /// The string literal at the start of `text` (after white space), if any.
    fn leading_literal(text: &str) -> Option<&str> {
        let rest = text.trim_start().strip_prefix('"')?;
        rest.find('"').map(|end| &rest[..end])
    }

    /// Every JSON error kind the code can produce, read from its source,
    /// with each place that produces it (`file:line`): the string literals
    /// of each `fn kind(&self) -> &'static str` (one arm, `A | B => "x"`,
    /// is one place), and the literal kinds given to
    /// `CliError::usage`/`CliError::new`. Test modules are left out.
    fn kinds_in_source() -> std::collections::BTreeMap<String, Vec<String>> {
        let mut kinds: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let shown = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let mut add = |kind: &str, at: usize| {
                    let line = code[..at].lines().count();
                    kinds
                        .entry(kind.to_string())
                        .or_default()
                        .push(format!("{shown}:{line}"));
                };
                for (at, _) in code.match_indices("fn kind(&self) -> &'static str {") {
                    let body = &code[at..];
                    let mut depth = 0;
                    let mut end = body.len();
                    for (i, c) in body.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = i;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    let mut offset = at;
                    for (n, part) in body[..end].split('"').enumerate() {
                        if n % 2 == 1 {
                            add(part, offset);
                        }
                        offset += part.len() + 1;
                    }
                }
                for call in ["CliError::usage(", "CliError::new(", "refuse("] {
                    for (at, _) in code.match_indices(call) {
                        if let Some(kind) = leading_literal(&code[at + call.len()..]) {
                            add(kind, at);
                        }
                    }
                }
            }
        }
        kinds
    }

    /// The kinds listed in the README's "Error kinds" table.
    fn kinds_in_readme() -> Vec<String> {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let section = readme
            .split("### Error kinds")
            .nth(1)
            .expect("the README has an `### Error kinds` section");
        let section = section.split("\n#").next().unwrap_or_default();
        section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
            .collect()
    }

    #[test]
    fn the_readme_lists_every_error_kind_once() {
        let code = kinds_in_source();
        let readme = kinds_in_readme();
        assert!(
            code.len() > 40,
            "the source scan found too little: {code:?}"
        );
        for (kind, places) in &code {
            let file = &places[0];
            assert!(
                kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "`{kind}` ({file}) is not a snake_case kind"
            );
            assert!(
                readme.contains(kind),
                "the kind `{kind}` ({file}) is missing from the README's error kinds"
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for kind in &readme {
            assert!(seen.insert(kind), "`{kind}` is listed twice in the README");
            assert!(
                code.contains_key(kind),
                "the README lists `{kind}`, which the code never produces"
            );
        }
    }

    /// Kinds produced in more than one place, each for one error: the
    /// README's one line must say what every place means. A new place for
    /// an existing kind is either the same error (add it here, with why) or
    /// a different one (give it a kind of its own).
    const ONE_ERROR_MANY_PLACES: &[(&str, &str)] = &[
        ("ambiguous_revision", "a target naming several revisions where one is needed: the prefix match in the library, the one-revision check in the CLI"),
        ("bad_squash_range", "each end of `rev squash OLD:NEW` and the run between them"),
        ("duplicate_revision", "an id defined twice: by two files (loading), or by `--rev-id` (the CLI)"),
        ("duplicate_label", "a label used twice: by two files (loading), or by `--branch-label` (the CLI)"),
        ("invalid_label", "`--branch-label` that is not a label: its syntax, or a reserved word"),
        ("invalid_range", "a range `A:B` malformed, reversed or used online: `rev history`'s ranges (library) and `upgrade --sql`'s (CLI)"),
        ("invalid_target", "a target's text that does not parse, alone or inside a range"),
        ("label_is_revision_id", "a label equal to an id: in the files (loading), or given to `--branch-label` (the CLI)"),
        ("empty_upgrade", "an empty upgrade section: refused by a plan, or found by `rev check`"),
        ("connect", "the server cannot be reached or refuses the login: the connection's error, or a password it asks for that cannot be read"),
        ("editor_failed", "`rev edit`'s editor could not start, or exited with an error"),
        ("rebase_ambiguous", "the revisions to move are not one line: where the line starts, or where it goes on"),
        ("usage", "a command line rev does not accept: clap's parse, or flags that do not go together (`--sql` with `--all`)"),
        ("internal", "a bug in rev: an arm that cannot run, or a fleet task that panicked"),
        ("interrupted", "a signal stopped the run: before anything changed, or a fleet database after its running revision"),
        ("script_directory", "a folder of revisions that does not exist (the CLI looks first) or cannot be read (loading)"),
    ];

    #[test]
    fn each_error_kind_names_one_error() {
        let code = kinds_in_source();
        let unexplained: Vec<String> = code
            .iter()
            .filter(|(kind, places)| {
                places.len() > 1 && !ONE_ERROR_MANY_PLACES.iter().any(|(k, _)| k == kind)
            })
            .map(|(kind, places)| format!("`{kind}` ({})", places.join(", ")))
            .collect();
        assert!(
            unexplained.is_empty(),
            "kinds produced in several places: {}\ngive each different error a kind of its own, or list the kind in ONE_ERROR_MANY_PLACES if every place means the same error",
            unexplained.join("; ")
        );
        for (kind, _) in ONE_ERROR_MANY_PLACES {
            assert!(
                code.get(*kind).is_some_and(|p| p.len() > 1),
                "`{kind}` is in ONE_ERROR_MANY_PLACES but produced in one place or none: {:?}",
                code.get(*kind)
            );
        }
    }
}
