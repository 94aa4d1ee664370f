//! Synthetic revision histories, for the benchmarks, the property tests and
//! `examples/gen_history.rs` (which `scripts/bench-heads.sh` runs). The CLI
//! never uses this module; it lives in the library so that benches, tests and
//! examples share one generator that writes real revision files, behind the
//! `synth` feature that only they turn on (see Cargo.toml), so it is not part
//! of the library a user builds.
//!
//! Everything is deterministic: the same shape and size give the same ids,
//! so benchmark runs compare like with like.

use std::path::{Path, PathBuf};

use crate::revision::{self, Revision};

/// The shape of a generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One line: every revision's parent is the previous one.
    Chain,
    /// `branches` lines growing side by side from one root; every
    /// `merge_every` revisions one revision merges all their tips, and the
    /// lines fork again from it. Every 50th revision also `depends_on` the
    /// tip of another line.
    Branches {
        /// Number of parallel lines.
        branches: usize,
        /// Revisions between two merges.
        merge_every: usize,
    },
    /// `heads` independent lines from one root, never merged: a history with
    /// many heads.
    ManyHeads {
        /// Number of lines (and so of heads).
        heads: usize,
    },
}

impl Shape {
    /// A short name for benchmark ids and file names.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Branches { .. } => "branches",
            Shape::ManyHeads { .. } => "many_heads",
        }
    }
}

/// A revision built in memory, as the parser would return it for the file
/// [`file_text`] writes (the path is `versions/<id>.sql`).
pub fn revision(id: &str, parents: &[&str], depends_on: &[&str], labels: &[&str]) -> Revision {
    let upgrade_sql = format!("CREATE TABLE t_{id} (id INTEGER PRIMARY KEY);\n");
    // The marker lines of the file `file_text` writes.
    let upgrade_line = 6 + usize::from(!labels.is_empty()) + usize::from(!depends_on.is_empty());
    Revision {
        id: id.to_string(),
        down_revisions: parents.iter().map(|s| s.to_string()).collect(),
        branch_labels: labels.iter().map(|s| s.to_string()).collect(),
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        message: format!("create t_{id}"),
        create_date: None,
        transactional: true,
        checksum: revision::checksum(&upgrade_sql),
        upgrade_sql,
        downgrade_sql: Some(format!("DROP TABLE t_{id};\n")),
        upgrade_line,
        downgrade_line: Some(upgrade_line + 3),
        path: PathBuf::from(format!("versions/{id}.sql")),
        unknown_keys: Vec::new(),
        replaces: Vec::new(),
    }
}

/// A unique, deterministic, hex-looking 12-character id for revision `i`:
/// six scrambled digits (so prefixes and sort order look like real ids)
/// then six digits of `i` (so ids never collide below 16^6 revisions).
pub fn id(i: usize) -> String {
    let mut x = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    format!("{:06x}{:06x}", x & 0xff_ffff, i & 0xff_ffff)
}

/// The `n` revisions of a history of `shape`, parents before children.
pub fn revisions(shape: Shape, n: usize) -> Vec<Revision> {
    let ids: Vec<String> = (0..n).map(id).collect();
    let mut out: Vec<Revision> = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    out.push(revision(&ids[0], &[], &[], &[]));
    match shape {
        Shape::Chain => {
            for i in 1..n {
                out.push(revision(&ids[i], &[&ids[i - 1]], &[], &[]));
            }
        }
        Shape::Branches {
            branches,
            merge_every,
        } => {
            let branches = branches.max(1);
            let merge_every = merge_every.max(2);
            let mut tips: Vec<usize> = vec![0; branches];
            for i in 1..n {
                if i % merge_every == 0 {
                    let mut parents: Vec<&str> = tips.iter().map(|&t| ids[t].as_str()).collect();
                    parents.sort_unstable();
                    parents.dedup();
                    out.push(revision(&ids[i], &parents, &[], &[]));
                    tips.iter_mut().for_each(|t| *t = i);
                    continue;
                }
                let line = i % branches;
                let parent = ids[tips[line]].as_str();
                let other = ids[tips[(line + 1) % branches]].as_str();
                let deps: &[&str] = if i % 50 == 0 && other != parent {
                    &[other]
                } else {
                    &[]
                };
                out.push(revision(&ids[i], &[parent], deps, &[]));
                tips[line] = i;
            }
        }
        Shape::ManyHeads { heads } => {
            let heads = heads.max(1);
            let mut tips: Vec<usize> = vec![0; heads];
            for i in 1..n {
                let line = i % heads;
                out.push(revision(&ids[i], &[&ids[tips[line]]], &[], &[]));
                tips[line] = i;
            }
        }
    }
    out
}

/// The text of the revision file for `r`, in the format of DESIGN.md.
pub fn file_text(r: &Revision) -> String {
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let mut s = format!("-- revision: {}\n", r.id);
    match r.down_revisions.as_slice() {
        [] => s.push_str("-- down_revision: null\n"),
        [one] => s.push_str(&format!("-- down_revision: {one}\n")),
        many => s.push_str(&format!("-- down_revision: {}\n", list(many))),
    }
    if !r.branch_labels.is_empty() {
        s.push_str(&format!("-- branch_labels: {}\n", list(&r.branch_labels)));
    }
    if !r.depends_on.is_empty() {
        s.push_str(&format!("-- depends_on: {}\n", list(&r.depends_on)));
    }
    s.push_str(&format!("-- message: {}\n", r.message));
    s.push_str("-- create_date: 2026-01-01T00:00:00Z\n\n-- +upgrade\n");
    s.push_str(&r.upgrade_sql);
    if let Some(down) = &r.downgrade_sql {
        s.push_str("\n-- +downgrade\n");
        s.push_str(down);
    }
    s
}

/// Writes the `n` revisions of a history of `shape` into `dir` (created if
/// needed) as `<id>_create_t_<id>.sql` files.
pub fn write(dir: &Path, shape: Shape, n: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for r in revisions(shape, n) {
        std::fs::write(
            dir.join(format!("{}_create_t_{}.sql", r.id, r.id)),
            file_text(&r),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;

    #[test]
    fn written_histories_load_with_the_expected_heads() {
        for (shape, heads) in [
            (Shape::Chain, 1),
            (
                Shape::Branches {
                    branches: 4,
                    merge_every: 40,
                },
                4,
            ),
            (Shape::ManyHeads { heads: 7 }, 7),
        ] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), shape, 205).unwrap();
            let g = Graph::load(dir.path()).unwrap();
            assert_eq!(g.len(), 205);
            assert_eq!(g.heads().len(), heads, "{shape:?}");
            let mem = Graph::build(revisions(shape, 205)).unwrap();
            assert_eq!(mem.heads().len(), heads);
            for (a, b) in mem.revisions().iter().zip(revisions(shape, 205)) {
                let loaded = g.rev(g.index_of(&a.id).unwrap());
                assert_eq!(loaded.down_revisions, b.down_revisions);
                assert_eq!(loaded.depends_on, b.depends_on);
                assert_eq!(loaded.checksum, b.checksum);
            }
        }
    }

    #[test]
    fn ids_are_unique_and_valid() {
        let ids: std::collections::HashSet<String> = (0..20_000).map(id).collect();
        assert_eq!(ids.len(), 20_000);
        assert!(ids
            .iter()
            .all(|i| i.len() == 12 && revision::is_valid_id(i)));
    }
}
