//! The terminal graph of `rev history --graph`, drawn like
//! `git log --graph`: one line per revision, newest first, `|` for a lane,
//! `/` where a lane joins another at a branch point, `\` where a merge opens
//! a lane for its other parent, `_` where such a line runs across columns.
//!
//! The node is `*`; when the applied state is known, a revision that is not
//! applied is `o` and one an earlier run stopped inside is `!`. After the
//! node: the id, its tags in parentheses (`head`, `current` for the
//! database's current revisions, `label: NAME`, `depends on: ID`), and the
//! message. Two unrelated lines that happen to share a column (a base, then
//! the head of another line) are kept apart by a line holding only the
//! other lanes.

use super::lanes::Layout;
use crate::graph::{Graph, RevIndex};

/// What the database says about one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Applied, and one of the database's current heads.
    Current,
    /// Applied.
    Applied,
    /// Not applied.
    Pending,
    /// An earlier run stopped inside it: neither applied nor pending.
    InProgress,
}

impl Mark {
    fn glyph(self) -> char {
        match self {
            Mark::Current | Mark::Applied => '*',
            Mark::Pending => 'o',
            Mark::InProgress => '!',
        }
    }
}

/// The terminal graph, one `String` per line. `marks`, when given, holds one
/// [`Mark`] per revision of `graph` (by [`RevIndex`]).
pub fn terminal(graph: &Graph, layout: &Layout, marks: Option<&[Mark]>) -> Vec<String> {
    let width = layout.width;
    let mut lines = Vec::with_capacity(layout.rows.len() + layout.rows.len() / 4);
    let mut occupied = vec![false; width];
    let mut ended_above: Option<usize> = None;
    for row in &layout.rows {
        let c = row.column;
        if row.starts && ended_above == Some(c) && occupied.iter().any(|&o| o) {
            lines.push(finish(lanes(&occupied)));
        } else if row.starts && ended_above == Some(c) {
            lines.push(String::new());
        }
        if let Some(&last) = row.joins.last() {
            let mut buf = lanes(&occupied);
            for &j in &row.joins {
                buf[2 * j] = ' ';
                buf[2 * j - 1] = '/';
            }
            fill(&mut buf, 2 * c + 1, 2 * last - 1);
            lines.push(finish(buf));
            for &j in &row.joins {
                occupied[j] = false;
            }
        }
        occupied[c] = true;
        let mut buf = lanes(&occupied);
        let mark = marks.map(|m| m[row.rev]);
        buf[2 * c] = mark.map_or('*', Mark::glyph);
        let used = occupied.iter().rposition(|&o| o).unwrap_or(c) + 1;
        buf.truncate(2 * used);
        let mut line: String = buf.into_iter().collect();
        line.push_str(&describe(graph, row.rev, mark));
        lines.push(line);

        ended_above = None;
        if row.edges.is_empty() {
            occupied[c] = false;
            ended_above = Some(c);
        }
        if let Some(last) = row.edges.iter().skip(1).map(|e| e.lane).max() {
            let mut buf = lanes(&occupied);
            buf[2 * c + 1] = '\\';
            fill(&mut buf, 2 * c + 2, 2 * last);
            lines.push(finish(buf));
            for e in &row.edges[1..] {
                occupied[e.lane] = true;
            }
        }
    }
    lines
}

/// `|` for every occupied column, two characters a column.
fn lanes(occupied: &[bool]) -> Vec<char> {
    occupied
        .iter()
        .flat_map(|&o| [if o { '|' } else { ' ' }, ' '])
        .collect()
}

/// `_` over the blanks of `from..to`.
fn fill(buf: &mut [char], from: usize, to: usize) {
    for ch in buf.iter_mut().take(to).skip(from) {
        if *ch == ' ' {
            *ch = '_';
        }
    }
}

fn finish(buf: Vec<char>) -> String {
    let s: String = buf.into_iter().collect();
    s.trim_end().to_string()
}

/// `id (tags) message`.
fn describe(graph: &Graph, i: RevIndex, mark: Option<Mark>) -> String {
    let r = graph.rev(i);
    let mut tags: Vec<String> = Vec::new();
    if graph.is_head(i) {
        tags.push("head".into());
    }
    match mark {
        Some(Mark::Current) => tags.push("current".into()),
        Some(Mark::InProgress) => tags.push("in progress".into()),
        _ => {}
    }
    for l in &r.branch_labels {
        tags.push(format!("label: {l}"));
    }
    if !r.depends_on.is_empty() {
        tags.push(format!("depends on: {}", r.depends_on.join(", ")));
    }
    let mut out = r.id.clone();
    if !tags.is_empty() {
        out.push_str(&format!(" ({})", tags.join(", ")));
    }
    let message = super::one_line(&r.message);
    if !message.is_empty() {
        out.push(' ');
        out.push_str(&message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::graph;

    fn draw(spec: &str) -> String {
        let g = graph(spec);
        let rows = super::super::lanes::newest_first(&g, |_| true);
        terminal(&g, &Layout::new(&g, &rows), None).join("\n")
    }

    #[test]
    fn three_way_merge() {
        // m merges b, c and d, all on a: the merge opens two lanes to its
        // right, and the three lanes join again at a.
        assert_eq!(
            draw("a:- b:a c:a d:a m:b,c,d"),
            "\
* m (head)
|\\__
| | * d
| * | c
* | | b
|/_/
* a"
        );
    }

    #[test]
    fn two_lanes_join_a_third_at_a_branch_point() {
        assert_eq!(
            draw("a:- b:a c:b d:a e:c,d f:a"),
            "\
* f (head)
| * e (head)
| |\\
| | * d
| * | c
| * | b
|/_/
* a"
        );
    }

    #[test]
    fn a_join_runs_under_a_lane_that_goes_on() {
        // b's lane (column 2) joins d's (column 0) at a1, under c's lane,
        // which waits for a0 further down.
        assert_eq!(
            draw("a0:- a1:a0 b:a1 c:a0 d:a1"),
            "\
* d (head)
| * c (head)
| | * b (head)
|_|/
* | a1
|/
* a0"
        );
    }
}
