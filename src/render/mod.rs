//! Every picture of the revision graph, in one place: Graphviz dot and
//! Mermaid sources, the terminal graph of `rev history --graph`, and the SVG
//! of `rev graph -f svg`.
//!
//! The graph module answers questions about the DAG; this module only turns
//! it into text. The terminal graph and the SVG share one lane layout
//! ([`lanes::Layout`]), so both draw a history the same way: newest revision
//! first, one row each, a branch in its own column.
//!
//! Nothing here prints or reads a database: the caller passes what it knows
//! about the applied state as [`Mark`]s.

pub mod lanes;
mod svg;
mod text;

pub use lanes::{newest_first, Layout};
pub use svg::svg;
pub use text::{terminal, Mark};

use crate::graph::Graph;

/// Graphviz dot text for the graph.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from("digraph revisions {\n  rankdir=BT;\n  node [shape=box];\n");
    for &i in graph.topo_order() {
        let r = graph.rev(i);
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\\n{}\"];\n",
            r.id,
            r.id,
            escape_dot(&r.message)
        ));
    }
    for &i in graph.topo_order() {
        for &p in graph.parents(i) {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                graph.rev(i).id,
                graph.rev(p).id
            ));
        }
        for &d in graph.dependencies(i) {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\" [style=dashed, label=\"depends_on\"];\n",
                graph.rev(i).id,
                graph.rev(d).id
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart text for the graph.
pub fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart BT\n");
    for &i in graph.topo_order() {
        let r = graph.rev(i);
        out.push_str(&format!(
            "  {}[\"{}<br/>{}\"]\n",
            r.id,
            r.id,
            r.message.replace('"', "#quot;")
        ));
    }
    for &i in graph.topo_order() {
        for &p in graph.parents(i) {
            out.push_str(&format!("  {} --> {}\n", graph.rev(i).id, graph.rev(p).id));
        }
        for &d in graph.dependencies(i) {
            out.push_str(&format!(
                "  {} -. depends_on .-> {}\n",
                graph.rev(i).id,
                graph.rev(d).id
            ));
        }
    }
    out
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One line of a revision's message: a picture has one row per revision,
/// whatever the message holds.
fn one_line(message: &str) -> String {
    message.replace(['\n', '\r'], " ")
}
