//! `rev graph -f svg`: a standalone SVG drawn from the lane layout, with no
//! Graphviz. One row per revision, newest on top: the node in its lane, then
//! the id, `head`, the branch labels and the message.
//!
//! Each edge is one `<path>`: from the child down its lane and into the
//! parent, so a picture of n revisions has O(n) elements and stays readable
//! (and quick to open) at a few hundred revisions or more. Every bit of text
//! is escaped for XML, and characters XML 1.0 cannot hold at all (control
//! characters) become U+FFFD.

use std::fmt::Write as _;

use super::lanes::Layout;
use crate::graph::Graph;

const ROW: usize = 24;
const COL: usize = 16;
const MARGIN: usize = 12;
/// An estimate of one character's width in the 12px monospace font, to size
/// the picture so no message is cut.
const CHAR: f64 = 7.3;
const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

fn x(col: usize) -> usize {
    MARGIN + col * COL + COL / 2
}

fn y(row: usize) -> usize {
    MARGIN + row * ROW + ROW / 2
}

/// The SVG document for the whole graph.
pub fn svg(graph: &Graph) -> String {
    let rows = super::lanes::newest_first(graph, |_| true);
    let layout = Layout::new(graph, &rows);
    let text_x = MARGIN + layout.width.max(1) * COL + 8;

    let mut edges = String::new();
    let mut nodes = String::new();
    let mut longest = 0;
    for (k, row) in layout.rows.iter().enumerate() {
        for e in &row.edges {
            let Some(pr) = layout.row_of(e.parent) else {
                continue;
            };
            let pc = layout.rows[pr].column;
            let mut points = vec![(x(row.column), y(k))];
            if pr - k >= 2 {
                if e.lane != row.column {
                    points.push((x(e.lane), y(k + 1)));
                }
                if e.lane != pc {
                    points.push((x(e.lane), y(pr - 1)));
                }
            }
            points.push((x(pc), y(pr)));
            let mut d = String::new();
            for (n, (px, py)) in points.iter().enumerate() {
                let _ = write!(d, "{}{px} {py}", if n == 0 { "M" } else { " L" });
            }
            let _ = writeln!(
                edges,
                r#"<path d="{d}" stroke="{}"/>"#,
                PALETTE[e.lane % PALETTE.len()]
            );
        }

        let r = graph.rev(row.rev);
        let head = graph.is_head(row.rev);
        let message = super::one_line(&r.message);
        let mut shown = r.id.chars().count() + 2 + message.chars().count();
        let mut line = format!(r#"<tspan class="id">{}</tspan>"#, escape(&r.id));
        if head {
            line.push_str(r#" <tspan class="head">head</tspan>"#);
            shown += 5;
        }
        for l in &r.branch_labels {
            let _ = write!(line, r#" <tspan class="label">[{}]</tspan>"#, escape(l));
            shown += l.chars().count() + 3;
        }
        if !r.depends_on.is_empty() {
            let deps = r.depends_on.join(", ");
            let _ = write!(
                line,
                r#" <tspan class="dep">(depends on {})</tspan>"#,
                escape(&deps)
            );
            shown += deps.chars().count() + 14;
        }
        let _ = write!(line, " {}", escape(&message));
        longest = longest.max(shown);
        let _ = writeln!(
            nodes,
            r#"<g class="rev" id="rev-{id}"><title>{id}: {msg}</title><circle cx="{cx}" cy="{cy}" r="5" fill="{fill}" stroke="{stroke}"/><text x="{text_x}" y="{cy}" dy="0.35em">{line}</text></g>"#,
            id = escape(&r.id),
            msg = escape(&message),
            cx = x(row.column),
            cy = y(k),
            fill = if head {
                "#ffffff"
            } else {
                PALETTE[row.column % PALETTE.len()]
            },
            stroke = PALETTE[row.column % PALETTE.len()],
        );
    }

    let width = text_x + (longest as f64 * CHAR).ceil() as usize + MARGIN;
    let height = 2 * MARGIN + layout.rows.len().max(1) * ROW;
    let mut out = String::with_capacity(edges.len() + nodes.len() + 1024);
    let _ = writeln!(
        out,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">
<title>revision graph: {n} revisions</title>
<style>
.id {{ font-weight: bold; }}
.head {{ fill: #b8860b; font-weight: bold; }}
.label {{ fill: #2ca02c; font-weight: bold; }}
.dep {{ fill: #777777; }}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<g fill="none" stroke-width="2" stroke-linejoin="round">"##,
        n = layout.rows.len()
    );
    out.push_str(&edges);
    out.push_str("</g>\n<g stroke-width=\"2\">\n");
    out.push_str(&nodes);
    out.push_str("</g>\n</svg>\n");
    out
}

/// Text made safe for XML character data and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{FFFD}"
        );
    }
}
