//! `rev squash OLD:NEW -m MSG`: one revision that replaces a run (see
//! `rev::squash` for how databases before, inside and past the run use it).

use chrono::{SecondsFormat, Utc};
use rev::graph::{Graph, RevIndex};
use rev::revision;
use rev::squash;
use rev::target::Target;

use super::super::args::SquashArgs;
use super::super::error::{target_error, CliError};
use super::super::settings::Context;
use super::new_id;

fn one(ctx: &Context, graph: &Graph, text: &str) -> Result<RevIndex, CliError> {
    let target: Target = text.parse().map_err(|e| {
        CliError::usage(
            "bad_squash_range",
            format!("`{text}` in the squash range: {e}"),
        )
    })?;
    let revs = target
        .resolve(graph, &[])
        .map_err(|e| target_error(e, graph, &ctx.printer))?;
    match revs.as_slice() {
        [i] => Ok(*i),
        _ => Err(CliError::usage(
            "bad_squash_range",
            format!(
                "`{text}` names {} revisions; a squash range names one at each end",
                revs.len()
            ),
        )),
    }
}

pub fn squash(ctx: &Context, args: &SquashArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let Some((from, to)) = args.range.split_once(':') else {
        return Err(CliError::usage(
            "bad_squash_range",
            format!(
                "`{}` is not a range: write `OLD:NEW`, the first and last revisions of the run",
                args.range
            ),
        ));
    };
    let from = one(ctx, &graph, from)?;
    let to = one(ctx, &graph, to)?;
    let run = graph
        .squashable_run(from, to)
        .map_err(|m| CliError::usage("bad_squash_range", m))?;
    let id = new_id(&graph, &args.rev_id)?;
    let revs: Vec<&rev::revision::Revision> = run.iter().map(|&i| graph.rev(i)).collect();
    let file = squash::squash_file(
        &revs,
        id,
        args.message.clone(),
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let text = squash::render(&file);
    let name = rev::template::file_name(
        &ctx.config.file_template,
        &file.id,
        &file.message,
        Utc::now(),
    );
    let path = ctx.config.script_location.join(name);
    // What rev writes, rev must read back: checked before anything is written.
    revision::parse(&text, &path).map_err(|e| {
        CliError::new(
            "squash_unreadable",
            format!("the squashed file would not parse: {e}"),
            1,
        )
    })?;
    super::create_revision_file(ctx, &path, &text)?;
    let shown = ctx.printer.display_path(&path);
    if ctx.printer.json() {
        ctx.printer.print_json(&serde_json::json!({
            "revision": file.id, "down_revisions": file.down_revisions,
            "replaces": file.replaces, "path": shown,
        }));
    } else {
        ctx.printer.data(&shown);
        ctx.printer.status(&format!(
            "created revision {} replacing {}; keep their files until `rev status` says every database is past the run",
            file.id,
            file.replaces.join(", ")
        ));
    }
    Ok(0)
}
