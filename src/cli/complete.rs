//! Dynamic shell completion (clap_complete's engine, reached through
//! `COMPLETE=$SHELL rev` or the script of `rev completions SHELL --dynamic`).
//!
//! Target arguments complete to `head`, `heads`, `base`, every revision id,
//! every branch label and `label@head`. The project is found as rev finds it
//! for a command: `-c PATH` / `--config PATH` on the line being completed,
//! else `./config.yaml`, else `./versions/`. A project that does not load
//! still completes the three keywords: completion never prints an error
//! into the person's prompt.

use std::path::{Path, PathBuf};

use clap_complete::engine::CompletionCandidate;
use rev::config::{Config, DEFAULT_FILE};
use rev::graph::Graph;

/// The candidates for a target argument.
pub fn targets() -> Vec<CompletionCandidate> {
    let mut out: Vec<CompletionCandidate> = [
        ("head", "the single head"),
        ("heads", "every head"),
        ("base", "before the first revision"),
    ]
    .into_iter()
    .map(|(v, help)| CompletionCandidate::new(v).help(Some(help.into())))
    .collect();
    let Some(graph) = load_graph(config_arg(std::env::args()).as_deref()) else {
        return out;
    };
    for label in graph.labels().keys() {
        out.push(CompletionCandidate::new(label.as_str()).help(Some("branch label".into())));
        out.push(
            CompletionCandidate::new(format!("{label}@head"))
                .help(Some(format!("the head of branch {label}").into())),
        );
    }
    // Newest first: the revision a person most likely wants comes up first
    // in shells that keep the order.
    for &i in graph.topo_order().iter().rev() {
        let r = graph.rev(i);
        let message = r.message.lines().next().unwrap_or_default().to_string();
        out.push(CompletionCandidate::new(r.id.as_str()).help(Some(message.into())));
    }
    out
}

/// The value of `-c`/`--config` among the words being completed.
fn config_arg(args: impl Iterator<Item = String>) -> Option<PathBuf> {
    let args: Vec<String> = args.collect();
    for (k, a) in args.iter().enumerate() {
        if a == "-c" || a == "--config" {
            return args.get(k + 1).map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

fn load_graph(config: Option<&Path>) -> Option<Graph> {
    let config = match config {
        Some(path) => Config::load(path).ok()?,
        None if Path::new(DEFAULT_FILE).exists() => Config::load(Path::new(DEFAULT_FILE)).ok()?,
        None if Path::new(rev::defaults::SCRIPT_LOCATION).is_dir() => {
            Config::defaults(Path::new("."))
        }
        None => return None,
    };
    Graph::load(&config.script_location).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_flag_is_read_from_the_line_being_completed() {
        let words = |s: &str| {
            s.split(' ')
                .map(String::from)
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            config_arg(words("rev -- rev -c db/config.yaml upgrade")),
            Some(PathBuf::from("db/config.yaml"))
        );
        assert_eq!(
            config_arg(words("rev -- rev upgrade --config=x.yaml")),
            Some(PathBuf::from("x.yaml"))
        );
        assert_eq!(config_arg(words("rev -- rev upgrade")), None);
    }
}
