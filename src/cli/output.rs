//! Everything rev prints goes through here: data to stdout, status and
//! errors to stderr, and the JSON shapes of DESIGN.md.
//!
//! # JSON format (`-f json`)
//!
//! A revision object is
//! `{"revision", "down_revisions", "branch_labels", "depends_on", "message",
//! "path", "is_head", "is_base", "is_merge", "is_branch_point"}`; `path` is
//! relative to the config file's folder. Lists of revisions are arrays of
//! those. Errors go to stderr as `{"error": {"kind", "message", "hints"}}`.

use std::io::Write;
use std::path::Path;

use owo_colors::OwoColorize;
use rev::graph::{Graph, RevIndex};
use serde::Serialize;

use super::args::Format;

/// Where output goes, and how much of it.
pub struct Printer {
    pub format: Format,
    pub quiet: bool,
    pub verbose: u8,
    pub base_dir: std::path::PathBuf,
}

/// The JSON revision object of DESIGN.md.
#[derive(Serialize)]
pub struct RevisionJson<'a> {
    pub revision: &'a str,
    pub down_revisions: &'a [String],
    pub branch_labels: &'a [String],
    pub depends_on: &'a [String],
    pub message: &'a str,
    pub path: String,
    pub is_head: bool,
    pub is_base: bool,
    pub is_merge: bool,
    pub is_branch_point: bool,
}

impl Printer {
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// A path as users should read it: relative to the project folder.
    pub fn display_path(&self, path: &Path) -> String {
        let shown = path.strip_prefix(&self.base_dir).unwrap_or(path);
        let shown = shown.strip_prefix("./").unwrap_or(shown);
        shown.display().to_string()
    }

    pub fn revision_json<'a>(&self, graph: &'a Graph, i: RevIndex) -> RevisionJson<'a> {
        let r = graph.rev(i);
        RevisionJson {
            revision: &r.id,
            down_revisions: &r.down_revisions,
            branch_labels: &r.branch_labels,
            depends_on: &r.depends_on,
            message: &r.message,
            path: self.display_path(&r.path),
            is_head: graph.is_head(i),
            is_base: graph.is_base(i),
            is_merge: graph.is_merge(i),
            is_branch_point: graph.is_branch_point(i),
        }
    }

    /// Prints a JSON value on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        self.data(&text);
    }

    /// Prints a JSON value with the keys of every object sorted, as the
    /// reports of runs, stamps and status have always printed them (they
    /// were `json!` objects): a field moved in a struct does not move in
    /// the output.
    pub fn print_json_sorted<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_value(value) {
            Ok(v) => self.print_json(&v),
            Err(e) => self.data(&format!("{{\"error\": \"{e}\"}}")),
        }
    }

    /// A line of data on stdout (printed even with --quiet).
    pub fn data(&self, line: &str) {
        let mut out = anstream::stdout().lock();
        // A closed pipe (`rev history | head`) is not an error worth a message.
        let _ = writeln!(out, "{line}");
    }

    /// A status line on stderr (dropped by --quiet and under -f json).
    pub fn status(&self, line: &str) {
        if self.quiet || self.json() {
            return;
        }
        let _ = writeln!(anstream::stderr().lock(), "{line}");
    }

    /// A warning on stderr (dropped by --quiet).
    pub fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        if self.json() {
            let v = serde_json::json!({"warning": message});
            let _ = writeln!(anstream::stderr().lock(), "{v}");
        } else {
            let _ = writeln!(
                anstream::stderr().lock(),
                "{}: {message}",
                "warning".yellow().bold()
            );
        }
    }

    /// One line describing a revision, as `heads` and `history` print it.
    pub fn revision_line(&self, graph: &Graph, i: RevIndex) -> String {
        let r = graph.rev(i);
        // Heads in green and labels in cyan: the two things a person looks
        // for in `heads` and `history` (plain text without colour).
        let mut tags = Vec::new();
        if graph.is_head(i) {
            // Alembic's name for a head that only `depends_on` points to:
            // `upgrade heads` and `rev current` leave it out.
            tags.push(if graph.dependents(i).is_empty() {
                "head".green().to_string()
            } else {
                "effective head".green().to_string()
            });
        }
        if graph.is_base(i) {
            tags.push("base".to_string());
        }
        if graph.is_merge(i) {
            tags.push("merge".to_string());
        }
        if graph.is_branch_point(i) {
            tags.push("branchpoint".to_string());
        }
        for l in &r.branch_labels {
            tags.push(format!("label: {}", l.cyan()));
        }
        let parents = if r.down_revisions.is_empty() {
            "<base>".to_string()
        } else {
            r.down_revisions.join(", ")
        };
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        // One revision, one line, whatever the message holds.
        let message = r.message.replace(['\n', '\r'], " ");
        let mut line = format!("{} -> {}{}, {}", parents, r.id.bold(), tags, message);
        if self.verbose > 0 {
            line.push_str(&format!("\n    path: {}", self.display_path(&r.path)));
            if !r.depends_on.is_empty() {
                line.push_str(&format!("\n    depends on: {}", r.depends_on.join(", ")));
            }
            if let Some(date) = &r.create_date {
                line.push_str(&format!("\n    created: {date}"));
            }
            if !r.is_reversible() {
                line.push_str(if r.downgrade_line.is_some() {
                    "\n    irreversible: empty downgrade section"
                } else {
                    "\n    irreversible: no downgrade section"
                });
            }
        }
        line
    }
}
