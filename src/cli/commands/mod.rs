//! The commands that need no database: init, new, merge and the graph
//! inspectors. Database commands live in `db.rs`.

pub mod db;
mod fleet;
pub mod squash;
pub mod team;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rev::graph::{Graph, RevIndex};
use rev::history;
use rev::render;
use rev::revision;
use rev::target::Target;
use rev::template::{self, NewRevision};

use rev::backend::DatabaseCheck;
use rev::check::{CheckOptions, Problem};
use rev::url::{BackendKind, DatabaseUrl};

use super::args::{
    CheckArgs, Format, GlobalArgs, HistoryArgs, InitArgs, MergeArgs, NewArgs, ShowArgs,
};
use super::error::{history_error, target_error, CliError, EXIT_FAILED};
use super::output::Printer;
use super::settings::Context;

pub fn init(global: &GlobalArgs, args: &InitArgs) -> Result<u8, CliError> {
    let written = template::init(&args.dir)?;
    let printer = Printer {
        format: global.format,
        quiet: global.quiet,
        verbose: global.verbose,
        base_dir: args.dir.clone(),
    };
    if printer.json() {
        let paths: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        printer.print_json(&serde_json::json!({ "created": paths }));
    } else {
        for p in &written {
            printer.status(&format!("created {}", p.display()));
        }
        printer.status(&format!(
            "next: edit {} (database_url), then `rev new -m \"first revision\"`",
            args.dir.join("config.yaml").display()
        ));
    }
    Ok(0)
}

/// Resolves a target that must name exactly one revision.
pub fn resolve_one(
    ctx: &Context,
    graph: &Graph,
    target: &Target,
    what: &str,
) -> Result<RevIndex, CliError> {
    let found = target
        .resolve(graph, &[])
        .map_err(|e| target_error(e, graph, &ctx.printer))?;
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(CliError::usage(
            "ambiguous_revision",
            format!(
                "{what} `{target}` names {} revisions; name one",
                found.len()
            ),
        )),
    }
}

fn heads_list(ctx: &Context, graph: &Graph, heads: &[RevIndex]) -> String {
    heads
        .iter()
        .map(|&h| {
            let r = graph.rev(h);
            format!(
                "\n  {} ({}) {}",
                r.id,
                ctx.printer.display_path(&r.path),
                r.message
            )
        })
        .collect()
}

fn check_new_id(graph: &Graph, id: &str) -> Result<(), CliError> {
    if !revision::is_valid_id(id) {
        return Err(CliError::usage(
            "invalid_revision_id",
            format!("`{id}` is not a valid revision id: use letters, digits and `_` only"),
        ));
    }
    if graph.revision_by_id(id).is_some() || graph.label_owner(id).is_some() {
        return Err(CliError::usage(
            "duplicate_revision",
            format!("`{id}` is already a revision id or a branch label"),
        ));
    }
    Ok(())
}

fn check_new_labels(graph: &Graph, labels: &[String]) -> Result<(), CliError> {
    for label in labels {
        // The parser's rule; the message speaks of the option, not a header.
        match revision::check_label(label) {
            Ok(()) => {}
            Err(revision::ParseErrorKind::ReservedLabel { .. }) => {
                return Err(CliError::usage(
                    "invalid_label",
                    format!(
                        "`{label}` is a reserved word in targets ({}) and cannot be a branch label",
                        revision::RESERVED_LABELS.join(", ")
                    ),
                ))
            }
            Err(_) => {
                return Err(CliError::usage(
                    "invalid_label",
                    format!(
                        "`{label}` is not a valid branch label: use letters, digits, `_` and `-`"
                    ),
                ))
            }
        }
        if let Some(owner) = graph.label_owner(label) {
            return Err(CliError::usage(
                "duplicate_label",
                format!(
                    "branch label `{label}` is already carried by `{}`",
                    graph.rev(owner).id
                ),
            )
            .hint(format!(
                "put the revision on that branch with `--head {label}@head`"
            )));
        }
        if graph.index_of(label).is_some() {
            return Err(CliError::usage(
                "label_is_revision_id",
                format!("branch label `{label}` is also a revision id"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn new_id(graph: &Graph, given: &Option<String>) -> Result<String, CliError> {
    match given {
        Some(id) => {
            check_new_id(graph, id)?;
            Ok(id.clone())
        }
        None => loop {
            let id = revision::generate_id();
            if graph.revision_by_id(&id).is_none() {
                break Ok(id);
            }
        },
    }
}

fn write_revision(ctx: &Context, new: &NewRevision, dir: &Path) -> Result<u8, CliError> {
    let text = template::render(&ctx.config.template_dir(), new)?;
    let name = template::file_name(
        &ctx.config.file_template,
        &new.id,
        &new.message,
        new.create_date,
    );
    let path = dir.join(name);
    create_revision_file(ctx, &path, &text)?;
    let shown = ctx.printer.display_path(&path);
    if ctx.printer.json() {
        ctx.printer.print_json(&serde_json::json!({
            "revision": new.id, "down_revisions": new.down_revisions, "path": shown,
        }));
    } else {
        ctx.printer.data(&shown);
        ctx.printer.status(&format!(
            "created revision {} on {}",
            new.id,
            if new.down_revisions.is_empty() {
                "<base>".to_string()
            } else {
                new.down_revisions.join(", ")
            }
        ));
    }
    Ok(0)
}

/// Writes a new revision file; one that exists already is never
/// overwritten (two ids would then share a file name).
pub(crate) fn create_revision_file(ctx: &Context, path: &Path, text: &str) -> Result<(), CliError> {
    let io = |e: std::io::Error| {
        CliError::usage(
            "write_revision",
            format!("cannot write {}: {e}", ctx.printer.display_path(path)),
        )
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)
}

/// `rev new` and `rev merge` build on heads only, unless told otherwise.
fn not_a_head(graph: &Graph, i: RevIndex) -> CliError {
    let children: Vec<&str> = graph
        .children(i)
        .iter()
        .map(|&c| graph.rev(c).id.as_str())
        .collect();
    CliError::usage(
        "not_a_head",
        format!(
            "`{}` is not a head: it already has children ({})",
            graph.rev(i).id,
            children.join(", ")
        ),
    )
}

pub fn new(ctx: &Context, args: &NewArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let down_revisions: Vec<String> = match &args.head {
        Some(Target::Base) => Vec::new(),
        Some(target) => {
            let i = resolve_one(ctx, &graph, target, "--head")?;
            if !graph.is_head(i) && !args.splice {
                return Err(not_a_head(&graph, i)
                    .hint("pass --splice to start a new branch from it on purpose"));
            }
            vec![graph.rev(i).id.clone()]
        }
        None => {
            let heads = graph.heads();
            match heads.as_slice() {
                [] => Vec::new(),
                [one] => vec![graph.rev(*one).id.clone()],
                many => {
                    return Err(CliError::usage(
                        "new_without_head",
                        format!(
                            "the graph has {} heads; which one should the new revision follow?{}",
                            many.len(),
                            heads_list(ctx, &graph, many)
                        ),
                    )
                    .hint("pick one with `--head REV` or `--head LABEL@head`")
                    .hint("or join them first with `rev merge heads -m \"merge\"`"))
                }
            }
        }
    };
    check_new_labels(&graph, &args.branch_label)?;
    let mut depends_on = Vec::new();
    for target in &args.depends_on {
        let i = resolve_one(ctx, &graph, target, "--depends-on")?;
        // A branch label is written as given, as Alembic does: the
        // dependency then follows the label if it moves to another revision.
        // (`feature-2` parses as a walk, but names the label when one
        // exists, so the text is what to compare.)
        let text = target.to_string();
        if graph.index_of(&text).is_none() && graph.label_owner(&text) == Some(i) {
            depends_on.push(text);
        } else {
            depends_on.push(graph.rev(i).id.clone());
        }
    }
    let id = new_id(&graph, &args.rev_id)?;
    write_revision(
        ctx,
        &NewRevision {
            id,
            down_revisions,
            branch_labels: args.branch_label.clone(),
            depends_on,
            message: args.message.clone(),
            create_date: Utc::now(),
            transactional: !args.no_transaction,
        },
        &version_path(ctx, args.version_path.as_deref())?,
    )
}

/// The folder `rev new --version-path` names, which must be one of the
/// version locations: a file anywhere else would not be read back.
fn version_path(ctx: &Context, given: Option<&Path>) -> Result<PathBuf, CliError> {
    let locations = &ctx.config.version_locations;
    let Some(given) = given else {
        return Ok(ctx.config.script_location.clone());
    };
    let canonical = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .and_then(|p| p.canonicalize().ok())
    };
    let wanted = canonical(given);
    locations
        .iter()
        .find(|l| wanted.is_some() && canonical(l) == wanted)
        .cloned()
        .ok_or_else(|| {
            let listed: Vec<String> = locations
                .iter()
                .map(|l| ctx.printer.display_path(l))
                .collect();
            CliError::usage(
                "version_path",
                format!(
                    "--version-path {} is not one of the version locations ({})",
                    given.display(),
                    listed.join(", ")
                ),
            )
            .hint("add it to `version_locations` in config.yaml first: rev reads revisions only from those folders")
        })
}

pub fn merge(ctx: &Context, args: &MergeArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let targets = if args.revisions.is_empty() {
        vec![Target::Heads]
    } else {
        args.revisions.clone()
    };
    let mut picked = BTreeSet::new();
    for t in &targets {
        // A merge joins what `rev heads` lists: a revision only a dependency
        // points to has no child, so it is a head to join, although the
        // target `heads` (where `upgrade heads` goes) leaves it out.
        if *t == Target::Heads {
            picked.extend(graph.heads());
            continue;
        }
        picked.extend(
            t.resolve(&graph, &[])
                .map_err(|e| target_error(e, &graph, &ctx.printer))?,
        );
    }
    let mut picked: Vec<RevIndex> = picked.into_iter().collect();
    graph.sort_topo(&mut picked);
    if picked.len() < 2 {
        return Err(CliError::usage(
            "nothing_to_merge",
            format!(
                "a merge needs at least two revisions; {} named {}",
                targets
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" "),
                picked.len()
            ),
        ));
    }
    for &a in &picked {
        let ancestors = graph.ancestors([a]);
        if let Some(&b) = picked.iter().find(|&&b| b != a && ancestors[b]) {
            return Err(CliError::usage(
                "merge_ancestor",
                format!(
                    "`{}` is an ancestor of `{}`: there is nothing to merge between them",
                    graph.rev(b).id,
                    graph.rev(a).id
                ),
            ));
        }
    }
    // A merge joins heads. Naming a revision that already has children would
    // fork a second line above it rather than join anything (Alembic refuses
    // this too); `rev new --head REV --splice` is the way to branch on purpose.
    if let Some(&i) = picked.iter().find(|&&i| !graph.is_head(i)) {
        return Err(not_a_head(&graph, i).hint(
            "a merge joins heads: `rev heads` lists them, `rev merge heads` joins them all",
        ));
    }
    check_new_labels(&graph, &args.branch_label)?;
    let id = new_id(&graph, &args.rev_id)?;
    let joined: Vec<String> = picked.iter().map(|&i| graph.rev(i).id.clone()).collect();
    // Without -m the message says what was joined, as Alembic's does not.
    let message = args
        .message
        .clone()
        .unwrap_or_else(|| match joined.as_slice() {
            [a, b] => format!("merge {a} and {b}"),
            many => format!("merge {}", many.join(", ")),
        });
    if !ctx.printer.json() {
        ctx.printer.status(&format!(
            "joining {} heads:{}",
            picked.len(),
            heads_list(ctx, &graph, &picked)
        ));
    }
    write_revision(
        ctx,
        &NewRevision {
            id,
            down_revisions: joined,
            branch_labels: args.branch_label.clone(),
            depends_on: Vec::new(),
            message,
            create_date: Utc::now(),
            transactional: true,
        },
        &ctx.config.script_location,
    )
}

fn print_revisions(ctx: &Context, graph: &Graph, revs: &[RevIndex]) {
    if ctx.printer.json() {
        let objs: Vec<_> = revs
            .iter()
            .map(|&i| ctx.printer.revision_json(graph, i))
            .collect();
        ctx.printer.print_json(&objs);
    } else {
        for &i in revs {
            ctx.printer.data(&ctx.printer.revision_line(graph, i));
        }
    }
}

/// Each head with the labels of the branches it is on (Alembic prints
/// `ae10 (billing) (head)`): the label is on the branch's first revision,
/// but it is how a person names the head (`billing@head`). In JSON, the
/// revision object gains `"branches": [...]`.
pub fn heads(ctx: &Context) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let heads = graph.heads();
    if ctx.printer.json() {
        let objs: Vec<_> = heads
            .iter()
            .map(|&i| {
                let mut v =
                    serde_json::to_value(ctx.printer.revision_json(&graph, i)).unwrap_or_default();
                v["branches"] = graph.labels_of(i).into();
                v
            })
            .collect();
        ctx.printer.print_json(&objs);
        return Ok(0);
    }
    for &i in &heads {
        let line = ctx.printer.revision_line(&graph, i);
        // The head's own labels are already on the line (`label: X`).
        let own = &graph.rev(i).branch_labels;
        let labels: Vec<&str> = graph
            .labels_of(i)
            .into_iter()
            .filter(|l| !own.iter().any(|o| o == l))
            .collect();
        if labels.is_empty() {
            ctx.printer.data(&line);
        } else {
            let (first, rest) = line.split_once('\n').unwrap_or((&line, ""));
            let rest = if rest.is_empty() {
                String::new()
            } else {
                format!("\n{rest}")
            };
            ctx.printer
                .data(&format!("{first} [branch: {}]{rest}", labels.join(", ")));
        }
    }
    Ok(0)
}

pub fn branches(ctx: &Context) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let points: Vec<RevIndex> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| graph.is_branch_point(i))
        .collect();
    if ctx.printer.json() {
        print_revisions(ctx, &graph, &points);
        return Ok(0);
    }
    for &i in &points {
        ctx.printer.data(&ctx.printer.revision_line(&graph, i));
        for &c in graph.children(i) {
            let r = graph.rev(c);
            ctx.printer.data(&format!("    -> {}, {}", r.id, r.message));
        }
    }
    Ok(0)
}

pub fn history(ctx: &Context, args: &HistoryArgs) -> Result<u8, CliError> {
    if args.graph && ctx.printer.json() {
        return Err(CliError::usage(
            "graph_as_json",
            "`rev history --graph` draws for people and has no JSON form",
        )
        .hint("`rev history -f json` lists the revisions with their parents; `rev graph -f dot` gives a picture source"));
    }
    let range = args
        .range
        .as_deref()
        .map(history::Range::parse)
        .transpose()
        .map_err(|e| history_error(e, None, None))?;
    // Only `current` and --indicate-current read the database; otherwise
    // history works without one, as before.
    let needs_db = args.indicate_current || range.as_ref().is_some_and(|r| r.reads_current());
    let (graph, current) = if needs_db {
        let (graph, current) = db::current_heads(ctx)?;
        (graph, Some(current))
    } else {
        (ctx.graph()?, None)
    };
    let revs = history::select(
        &graph,
        range.as_ref(),
        current.as_deref().unwrap_or_default(),
    )
    .map_err(|e| history_error(e, Some(&graph), Some(&ctx.printer)))?;
    if args.graph {
        let marks = db::applied_marks(ctx, &graph);
        let mut kept = vec![false; graph.len()];
        for &i in &revs {
            kept[i] = true;
        }
        let rows = render::newest_first(&graph, |i| kept[i]);
        let layout = render::Layout::new(&graph, &rows);
        for line in render::terminal(&graph, &layout, marks.as_deref()) {
            ctx.printer.data(&line);
        }
        return Ok(0);
    }
    match (&current, args.indicate_current) {
        (Some(current), true) => print_indicating(ctx, &graph, &revs, current),
        _ => print_revisions(ctx, &graph, &revs),
    }
    Ok(0)
}

/// `history --indicate-current`: Alembic's `(current)` mark on the
/// revisions the database is at; in JSON, `"current": true|false` on each.
fn print_indicating(ctx: &Context, graph: &Graph, revs: &[RevIndex], current: &[RevIndex]) {
    let is_current = |i: RevIndex| current.contains(&i);
    if ctx.printer.json() {
        let objs: Vec<_> = revs
            .iter()
            .map(|&i| {
                let mut v =
                    serde_json::to_value(ctx.printer.revision_json(graph, i)).unwrap_or_default();
                v["current"] = is_current(i).into();
                v
            })
            .collect();
        ctx.printer.print_json(&objs);
    } else {
        for &i in revs {
            let line = ctx.printer.revision_line(graph, i);
            if is_current(i) {
                // After the first line: with -v the line has more below.
                let (first, rest) = line.split_once('\n').unwrap_or((&line, ""));
                let rest = if rest.is_empty() {
                    String::new()
                } else {
                    format!("\n{rest}")
                };
                ctx.printer.data(&format!("{first} (current){rest}"));
            } else {
                ctx.printer.data(&line);
            }
        }
    }
}

pub fn show(ctx: &Context, args: &ShowArgs) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let revs = args
        .target
        .resolve(&graph, &[])
        .map_err(|e| target_error(e, &graph, &ctx.printer))?;
    if revs.is_empty() && !graph.is_empty() {
        return Err(CliError::usage(
            "no_revision",
            format!(
                "`{}` names no revision (it is the state before the first one)",
                args.target
            ),
        )
        .hint("`rev show` takes a revision, a label, `head` or `heads`"));
    }
    if ctx.printer.json() {
        match revs.as_slice() {
            [one] if !matches!(args.target, Target::Heads) => ctx
                .printer
                .print_json(&ctx.printer.revision_json(&graph, *one)),
            _ => print_revisions(ctx, &graph, &revs),
        }
        return Ok(0);
    }
    for (n, &i) in revs.iter().enumerate() {
        if n > 0 {
            ctx.printer.data("");
        }
        let r = graph.rev(i);
        let labels = graph.labels_of(i);
        ctx.printer.data(&format!("Rev: {}", r.id));
        ctx.printer.data(&format!(
            "Parent: {}",
            if r.down_revisions.is_empty() {
                "<base>".to_string()
            } else {
                r.down_revisions.join(", ")
            }
        ));
        if !r.depends_on.is_empty() {
            ctx.printer
                .data(&format!("Depends on: {}", r.depends_on.join(", ")));
        }
        let children: Vec<&str> = graph
            .children(i)
            .iter()
            .map(|&c| graph.rev(c).id.as_str())
            .collect();
        // Alembic's words: "Branches into" lists the children at a branch
        // point; the labels of the branches a revision is on are its labels.
        if graph.is_branch_point(i) {
            ctx.printer
                .data(&format!("Branches into: {}", children.join(", ")));
        } else if !children.is_empty() {
            ctx.printer
                .data(&format!("Children: {}", children.join(", ")));
        }
        if !labels.is_empty() {
            ctx.printer
                .data(&format!("Branch labels: {}", labels.join(", ")));
        }
        ctx.printer
            .data(&format!("Path: {}", ctx.printer.display_path(&r.path)));
        if let Some(date) = &r.create_date {
            ctx.printer.data(&format!("Created: {date}"));
        }
        ctx.printer.data(&format!("Checksum: {}", r.checksum));
        ctx.printer
            .data(&format!("Transactional: {}", r.transactional));
        ctx.printer.data(&format!("\n    {}\n", r.message));
        ctx.printer.data("-- +upgrade");
        ctx.printer.data(&revision::normalise(&r.upgrade_sql));
        match &r.downgrade_sql {
            Some(sql) => {
                ctx.printer.data("-- +downgrade");
                ctx.printer.data(&revision::normalise(sql));
            }
            None if r.downgrade_line.is_some() => {
                ctx.printer.data("-- +downgrade\n-- (empty: irreversible)")
            }
            None => ctx.printer.data("-- (no downgrade: irreversible)"),
        }
    }
    Ok(0)
}

pub fn check(ctx: &Context, args: &CheckArgs) -> Result<u8, CliError> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut summary = String::new();
    let mut against: Option<Vec<rev::team::Finding>> = None;
    match ctx.graph() {
        Err(e) if e.kind != "script_directory" => {
            problems.push((e.kind.to_string(), e.message.clone()));
        }
        Err(e) => return Err(e),
        Ok(graph) => {
            let heads = graph.heads();
            let options = CheckOptions {
                allow_unknown_keys: args.allow_unknown_keys,
            };
            for problem in rev::check::problems(&graph, options) {
                problems.push((problem.kind().into(), problem_text(ctx, &graph, &problem)));
            }
            summary = format!(
                "{} revisions, {} head{}, {} branch label{}",
                graph.len(),
                heads.len(),
                if heads.len() == 1 { "" } else { "s" },
                graph.labels().len(),
                if graph.labels().len() == 1 { "" } else { "s" }
            );
            if let Some(reference) = &args.against {
                against = Some(team::against(ctx, &graph, reference)?);
            }
        }
    }
    // A tree whose files do not load cannot be compared; the load problem
    // is reported, and `--against` still checks that the ref exists.
    if against.is_none() {
        if let Some(reference) = &args.against {
            let dir = std::path::absolute(&ctx.config.script_location)
                .unwrap_or_else(|_| ctx.config.script_location.clone());
            rev::team::revisions_at(&dir, reference)?;
        }
    }
    let database = if args.db {
        Some(db::check_database(ctx)?)
    } else {
        None
    };
    let findings = database.as_ref().map_or(0, |(_, c)| c.findings.len());
    let against_failed = against.iter().flatten().any(|f| f.kind.fails());
    let ok = problems.is_empty() && findings == 0 && !against_failed;
    if ctx.printer.json() {
        let list: Vec<_> = problems
            .iter()
            .map(|(k, m)| serde_json::json!({"kind": k, "message": m}))
            .collect();
        let mut out = serde_json::json!({"ok": ok, "problems": list});
        if let Some(found) = &against {
            out["findings"] = found
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "kind": f.kind.as_str(), "message": f.message, "revisions": f.revisions,
                        "files": f.files.iter().map(|p| ctx.printer.display_path(p)).collect::<Vec<_>>(),
                        "fix": f.fix,
                    })
                })
                .collect();
        }
        if let Some((url, check)) = &database {
            let findings: Vec<_> = check
                .findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "kind": f.kind.as_str(), "table": f.table, "name": f.name,
                        "message": f.message, "fix": f.fix,
                    })
                })
                .collect();
            out["database"] = serde_json::json!({
                "url": url.to_string(), "checks": check.checks, "findings": findings,
            });
        }
        ctx.printer.print_json(&out);
        return Ok(if ok { 0 } else { EXIT_FAILED });
    }
    if problems.is_empty() {
        ctx.printer.data(&format!("ok: {summary}"));
    } else {
        for (_, message) in &problems {
            ctx.printer.data(&format!("problem: {message}"));
        }
    }
    if let (Some(found), Some(reference)) = (&against, &args.against) {
        for f in found {
            let label = if f.kind.fails() { "problem" } else { "note" };
            ctx.printer.data(&format!("{label}: {}", f.message));
            ctx.printer.data(&format!("  fix: {}", f.fix));
        }
        if !against_failed {
            ctx.printer.data(&format!(
                "ok: no revision changed, moved or deleted since {reference}, and the new ones build on its heads"
            ));
        }
    }
    if let Some((url, check)) = &database {
        print_database_check(ctx, url, check);
    }
    Ok(if ok { 0 } else { EXIT_FAILED })
}

/// A `rev check` problem as a person reads it, with the fix.
fn problem_text(ctx: &Context, graph: &Graph, problem: &Problem) -> String {
    match problem {
        Problem::UnlabelledHeads { heads } => format!(
            "{} heads carry no branch label:{}\n  merge them with `rev merge heads -m \"merge\"`, or label their branches",
            heads.len(),
            heads_list(ctx, graph, heads)
        ),
        Problem::UnknownKey {
            revision,
            line,
            key,
            similar,
        } => {
            let r = graph.rev(*revision);
            let guess = similar
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            format!(
                "{}:{line}: unknown header key `{key}` in revision `{}`\n  {guess}(pass --allow-unknown-keys if it is there on purpose)",
                ctx.printer.display_path(&r.path),
                r.id
            )
        }
        Problem::EmptyUpgrade { revision } => {
            let r = graph.rev(*revision);
            format!(
                "{}:{}: revision `{}` has an empty `-- +upgrade` section (an untouched scaffold), which `rev upgrade` refuses\n  write its SQL there, or a comment line such as `-- intentionally empty` if it is empty on purpose",
                ctx.printer.display_path(&r.path),
                r.upgrade_line,
                r.id
            )
        }
        _ => format!("{problem:?}"),
    }
}

fn print_database_check(ctx: &Context, url: &DatabaseUrl, check: &DatabaseCheck) {
    for f in &check.findings {
        ctx.printer.data(&format!("problem: {}", f.message));
        ctx.printer.data(&format!("  fix: {}", f.fix));
    }
    if !check.findings.is_empty() {
        return;
    }
    let line = match (check.checks.is_empty(), url.kind()) {
        (false, _) => format!(
            "ok: database {url}: {} found nothing",
            check.checks.join(", ")
        ),
        (true, BackendKind::MySql) => format!(
            "ok: database {url} is reachable; rev runs no data or catalog checks on MySQL/MariaDB"
        ),
        (true, _) => format!("ok: database {url} does not exist yet; nothing to check"),
    };
    ctx.printer.data(&line);
}

pub fn graph(ctx: &Context) -> Result<u8, CliError> {
    let graph = ctx.graph()?;
    let text = match ctx.printer.format {
        Format::Mermaid => render::mermaid(&graph),
        Format::Svg => render::svg(&graph),
        Format::Json => {
            let objs: Vec<_> = graph
                .topo_order()
                .iter()
                .map(|&i| ctx.printer.revision_json(&graph, i))
                .collect();
            ctx.printer.print_json(&objs);
            return Ok(0);
        }
        Format::Dot | Format::Text => render::dot(&graph),
    };
    ctx.printer.data(text.trim_end());
    Ok(0)
}
