//! The lane layout shared by the terminal graph and the SVG.
//!
//! Revisions are drawn newest first, one row each. Every edge from a
//! revision to a parent runs down its own column (its lane) from the child's
//! row to the parent's: the first parent continues the child's column, every
//! other parent of a merge opens a column to the right. Where several lanes
//! wait for the same parent (a branch point), they join into the leftmost one
//! at the parent's row. A head starts in the leftmost free column.
//!
//! Lanes keep their column until their parent's row, rather than drifting
//! left as `git log --graph` does: a branch reads as one straight line, and
//! the layout stays simple enough to prove. Each revision and each edge is
//! handled once, and finding a free column is a lookup in an ordered set, so
//! the layout takes O(n log w) time for n revisions and w columns (linear in
//! practice: w is the number of branches open at once), and memory linear
//! in n.

use std::collections::BTreeSet;

use crate::graph::{Graph, RevIndex};

/// Where each row's revision and edges are drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The rows, newest revision first.
    pub rows: Vec<Row>,
    /// The number of columns used.
    pub width: usize,
    /// The row of each revision of the graph (`usize::MAX` when not drawn).
    row_of: Vec<usize>,
}

/// One revision's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The revision.
    pub rev: RevIndex,
    /// Its column.
    pub column: usize,
    /// Other columns whose lanes end in this revision (it is the parent they
    /// waited for), in ascending order. Each is free below this row.
    pub joins: Vec<usize>,
    /// Its edges to drawn parents, the first parent first.
    pub edges: Vec<Edge>,
    /// Whether no lane led into this row: a head, or a revision whose
    /// children are not drawn.
    pub starts: bool,
}

/// An edge from a row's revision down to one of its parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The parent.
    pub parent: RevIndex,
    /// The column the edge runs down until the parent's row.
    pub lane: usize,
}

/// The revisions for which `keep` holds, newest first, each line of
/// history kept together as `git log --graph --topo-order` does: every
/// child before its parents, and a merge's branches one after the other
/// rather than interleaved (the graph's own topological order breaks ties by
/// id, which would scatter the branches of a long history across the
/// picture).
///
/// It is the reverse post-order of a depth-first walk along `down_revision`
/// edges from the heads of the kept revisions (oldest head first, so the
/// newest is drawn on top; a merge's first parent last, so it stays in the
/// merge's column). The walk keeps its own stack, so a chain of 10,000
/// revisions needs no deep recursion, and visits each revision and edge
/// once.
pub fn newest_first(graph: &Graph, keep: impl Fn(RevIndex) -> bool) -> Vec<RevIndex> {
    let n = graph.len();
    let kept: Vec<bool> = (0..n).map(keep).collect();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(RevIndex, usize)> = Vec::new();
    for &head in graph.topo_order() {
        if !kept[head] || graph.children(head).iter().any(|&c| kept[c]) {
            continue;
        }
        seen[head] = true;
        stack.push((head, 0));
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            match graph.parents(node).get(*next) {
                Some(&p) => {
                    *next += 1;
                    if kept[p] && !seen[p] {
                        seen[p] = true;
                        stack.push((p, 0));
                    }
                }
                None => {
                    stack.pop();
                    order.push(node);
                }
            }
        }
    }
    order.reverse();
    order
}

impl Layout {
    /// Lays out `rows`: revisions of `graph`, every child before its
    /// parents, as [`newest_first`] orders them. Edges to parents not in
    /// `rows` are left out.
    pub fn new(graph: &Graph, rows: &[RevIndex]) -> Layout {
        let mut row_of = vec![usize::MAX; graph.len()];
        for (k, &i) in rows.iter().enumerate() {
            row_of[i] = k;
        }
        // The columns waiting for each revision; a lane is in exactly one
        // list, so all lists together hold at most one entry per edge.
        let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); graph.len()];
        let mut free: BTreeSet<usize> = BTreeSet::new();
        let mut width = 0;
        let mut out = Vec::with_capacity(rows.len());
        for &i in rows {
            let mut cols = std::mem::take(&mut waiting[i]);
            let starts = cols.is_empty();
            let column = if starts {
                free.pop_first().unwrap_or_else(|| {
                    width += 1;
                    width - 1
                })
            } else {
                cols.sort_unstable();
                cols.remove(0)
            };
            for &j in &cols {
                free.insert(j);
            }
            let mut edges = Vec::new();
            for &p in graph.parents(i) {
                if row_of[p] == usize::MAX || row_of[p] <= row_of[i] {
                    continue;
                }
                let lane = if edges.is_empty() {
                    column
                } else {
                    // Columns right of the node keep a merge's lines from
                    // crossing its own first-parent line.
                    match free.range(column + 1..).next().copied() {
                        Some(c) => {
                            free.remove(&c);
                            c
                        }
                        None => {
                            width += 1;
                            width - 1
                        }
                    }
                };
                waiting[p].push(lane);
                edges.push(Edge { parent: p, lane });
            }
            if edges.is_empty() {
                free.insert(column);
            }
            out.push(Row {
                rev: i,
                column,
                joins: cols,
                edges,
                starts,
            });
        }
        Layout {
            rows: out,
            width,
            row_of,
        }
    }

    /// The row of revision `i`, if it is drawn.
    pub fn row_of(&self, i: RevIndex) -> Option<usize> {
        self.row_of.get(i).copied().filter(|&r| r != usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::graph;

    fn all(g: &Graph) -> Vec<RevIndex> {
        newest_first(g, |_| true)
    }

    /// `id@column` per row, with `<joined columns` and `>lanes of edges`.
    fn describe(g: &Graph, l: &Layout) -> Vec<String> {
        l.rows
            .iter()
            .map(|r| {
                let mut s = format!("{}@{}", g.rev(r.rev).id, r.column);
                for j in &r.joins {
                    s.push_str(&format!(" <{j}"));
                }
                for e in &r.edges {
                    s.push_str(&format!(" >{}", e.lane));
                }
                s
            })
            .collect()
    }

    #[test]
    fn branch_and_merge_use_two_columns() {
        //   m
        //  / \
        // b   c
        //  \ /
        //   a
        let g = graph("a:- b:a c:a m:b,c");
        let l = Layout::new(&g, &all(&g));
        assert_eq!(l.width, 2);
        assert_eq!(
            describe(&g, &l),
            ["m@0 >0 >1", "c@1 >1", "b@0 >0", "a@0 <1"]
        );
    }

    #[test]
    fn a_base_frees_its_column_for_the_next_head() {
        let g = graph("x1:- x2:x1 y1:- y2:y1");
        let l = Layout::new(&g, &all(&g));
        assert_eq!(l.width, 1);
        assert_eq!(describe(&g, &l), ["y2@0 >0", "y1@0", "x2@0 >0", "x1@0"]);
        assert!(l.rows[2].starts);
    }

    #[test]
    fn parents_not_drawn_have_no_edges() {
        let g = graph("a:- b:a c:b");
        let rows: Vec<RevIndex> = ["c", "b"]
            .iter()
            .map(|id| g.index_of(id).unwrap())
            .collect();
        let l = Layout::new(&g, &rows);
        assert_eq!(describe(&g, &l), ["c@0 >0", "b@0"]);
        assert_eq!(l.row_of(g.index_of("a").unwrap()), None);
    }

    #[test]
    fn ten_thousand_revisions_in_a_few_columns() {
        // Ten independent lines of a thousand revisions, merged pairwise
        // every hundred: the width stays bounded by the open branches.
        let mut spec = String::new();
        for line in 0..10 {
            for k in 0..1000 {
                let id = format!("r{line}_{k}");
                let parent = if k == 0 {
                    "-".to_string()
                } else if k % 100 == 0 && line > 0 {
                    format!("r{line}_{},r{}_{}", k - 1, line - 1, k - 1)
                } else {
                    format!("r{line}_{}", k - 1)
                };
                spec.push_str(&format!("{id}:{parent} "));
            }
        }
        let g = graph(&spec);
        let l = Layout::new(&g, &all(&g));
        assert_eq!(l.rows.len(), 10_000);
        assert!(l.width <= 20, "width {}", l.width);
        // Every edge's lane is the child's column or one it opened, and each
        // parent's row joins every lane that waited for it.
        for row in &l.rows {
            for e in &row.edges {
                let parent_row = &l.rows[l.row_of(e.parent).unwrap()];
                assert!(
                    parent_row.column == e.lane || parent_row.joins.contains(&e.lane),
                    "edge of {} does not reach its parent",
                    g.rev(row.rev).id
                );
            }
        }
    }
}
#[cfg(test)]
mod order_tests {
    use super::*;
    use crate::graph::testing::{graph, ids};

    #[test]
    fn lines_stay_together() {
        let g = graph("a:- m:a x1:m x2:x1 x3:x2 y1:m y2:y1 y3:y2");
        assert_eq!(
            ids(&g, &newest_first(&g, |_| true)),
            ["y3", "y2", "y1", "x3", "x2", "x1", "m", "a"]
        );
        // A range keeps its own heads: x2 heads the kept part of its line.
        let kept = |i: RevIndex| !["y3", "x3", "a"].contains(&g.rev(i).id.as_str());
        assert_eq!(
            ids(&g, &newest_first(&g, kept)),
            ["y2", "y1", "x2", "x1", "m"]
        );
    }
}
