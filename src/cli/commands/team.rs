//! `rev rebase` and the git half of `rev check --against REF`; the work is
//! in the library's `rev::team`.

use std::collections::HashSet;

use rev::graph::Graph;
use rev::team::{self, Finding, RebaseRequest, TeamError};

use super::super::args::RebaseArgs;
use super::super::error::{CliError, EXIT_FAILED};
use super::super::settings::Context;
use super::{db, resolve_one};

impl From<TeamError> for CliError {
    fn from(e: TeamError) -> Self {
        let kind = e.kind();
        let message = e.to_string();
        match e {
            TeamError::GitMissing { .. } => CliError::usage(kind, message)
                .hint("install git, or run this where `git` is on the PATH"),
            TeamError::NotARepository { .. } => CliError::usage(kind, message)
                .hint("`--against` compares with a git ref: run it in a clone of the project"),
            TeamError::UnknownRef { .. } => CliError::usage(kind, message).hint(
                "fetch it first (`git fetch origin main`), or name it as git does: `origin/main`, a tag, a commit id",
            ),
            TeamError::Rebase { kind, hint, .. } => {
                let code = if kind == "rebase_applied" {
                    EXIT_FAILED
                } else {
                    super::super::error::EXIT_USAGE
                };
                CliError::new(kind, message, code).hint(hint)
            }
            _ => CliError::usage(kind, message),
        }
    }
}

/// The findings of `rev check --against REF` for a graph that loaded.
pub fn against(ctx: &Context, graph: &Graph, reference: &str) -> Result<Vec<Finding>, CliError> {
    let dir = std::path::absolute(&ctx.config.script_location)
        .unwrap_or_else(|_| ctx.config.script_location.clone());
    let mut at_ref = team::revisions_at(&dir, reference)?;
    // Paths as the graph holds them, so messages show them the same way.
    for r in &mut at_ref.revisions {
        if let Some(name) = r.path.file_name() {
            r.path = ctx.config.script_location.join(name);
        }
    }
    let mut findings = team::compare(graph, &at_ref);
    for f in &mut findings {
        f.message = shown_paths(ctx, &f.message, &f.files);
        f.fix = shown_paths(ctx, &f.fix, &f.files);
    }
    Ok(findings)
}

/// Messages name files relative to the project, as every other command does.
fn shown_paths(ctx: &Context, message: &str, files: &[std::path::PathBuf]) -> String {
    let mut out = message.to_string();
    for f in files {
        out = out.replace(&f.display().to_string(), &ctx.printer.display_path(f));
    }
    out
}

pub fn rebase(ctx: &Context, args: &RebaseArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let mut revisions = Vec::new();
    for t in &args.revisions {
        revisions.push(resolve_one(ctx, &graph, t, "REV")?);
    }
    let onto = match &args.onto {
        Some(t) => Some(resolve_one(ctx, &graph, t, "--onto")?),
        None => None,
    };
    let applied: HashSet<String> = if args.no_db {
        HashSet::new()
    } else {
        db::recorded(ctx).map_err(|e| {
            e.hint("`rev rebase --no-db` skips asking the database; then make sure no database has applied the revisions it moves")
        })?
    };
    let moves = team::plan_rebase(&graph, &RebaseRequest { revisions, onto }, &applied)?;
    if !args.dry_run {
        team::apply_rebase(&moves)?;
    }
    if ctx.printer.json() {
        let list: Vec<_> = moves
            .iter()
            .map(|m| {
                serde_json::json!({
                    "revision": m.revision, "path": ctx.printer.display_path(&m.path),
                    "from": m.from, "to": m.to, "carried": m.carried,
                })
            })
            .collect();
        ctx.printer
            .print_json(&serde_json::json!({"moved": list, "dry_run": args.dry_run}));
        return Ok(0);
    }
    if moves.is_empty() {
        ctx.printer
            .status("nothing to move: the revisions already build on that revision");
    }
    let verb = if args.dry_run { "would move" } else { "moved" };
    for m in &moves {
        let above = m.carried.len().saturating_sub(1);
        ctx.printer.data(&format!(
            "{verb} {} ({}): down_revision {} -> {}{}",
            m.revision,
            ctx.printer.display_path(&m.path),
            if m.from.is_empty() {
                "null".to_string()
            } else {
                m.from.join(", ")
            },
            m.to.join(", "),
            if above > 0 {
                format!(
                    " ({above} revision{} above it follow)",
                    if above == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        ));
    }
    if args.dry_run {
        ctx.printer.status("dry run: no file was changed");
    } else if !moves.is_empty() && args.no_db {
        ctx.printer.status(
            "the database was not asked (--no-db): a database that applied a moved revision will report a rebased history",
        );
    }
    Ok(0)
}
