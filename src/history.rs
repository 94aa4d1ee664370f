//! What `rev history` lists: every revision newest first, or those of a
//! range `A:B` (Alembic's `-r`), where `current` stands for the revisions
//! the database is at.

use crate::graph::{Graph, RevIndex};
use crate::target::{ParseTargetError, Target, TargetError};

/// `current` in a range: the database's current heads (Alembic's
/// `-r current:`). It is not a target elsewhere, and not a valid label.
pub const CURRENT: &str = "current";

/// A range `A:B`, `A:` or `:B` as written; each side is a target, `base`,
/// [`CURRENT`] or empty (unbounded). The sides are read by [`select`], in
/// the order it needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    text: String,
    lower: String,
    upper: String,
}

impl Range {
    /// Splits `text` at its `:`.
    pub fn parse(text: &str) -> Result<Range, HistoryError> {
        let (lower, upper) = text
            .split_once(':')
            .ok_or_else(|| HistoryError::NotARange {
                range: text.to_owned(),
            })?;
        Ok(Range {
            text: text.to_owned(),
            lower: lower.to_owned(),
            upper: upper.to_owned(),
        })
    }

    /// Whether a side is [`CURRENT`], so the database's state is needed.
    pub fn reads_current(&self) -> bool {
        self.lower == CURRENT || self.upper == CURRENT
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a range selects nothing it could list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The text has no `:`.
    #[error("`{range}` is not a range: write `A:B`, `A:` or `:B`")]
    NotARange {
        /// The text as written.
        range: String,
    },
    /// A side is not a target.
    #[error("in range `{range}`: {error}")]
    InvalidTarget {
        /// The range as written.
        range: String,
        /// Why the side does not parse.
        #[source]
        error: ParseTargetError,
    },
    /// A side counts from the current state (`-1`, `X@+1`): a range is read
    /// from the files, and only [`CURRENT`] names the database's state.
    #[error(
        "`{side}` counts from the database's current state, which `rev history` does not read"
    )]
    CountsFromCurrent {
        /// The side as written.
        side: String,
    },
    /// The lower side is not below the upper one (`-r c:b`): the range
    /// would list nothing, which reads as "no history".
    #[error("in range `{range}`: `{outside}` is not an ancestor of `{upper}`")]
    Reversed {
        /// The range as written.
        range: String,
        /// A revision of the lower side outside the upper side's ancestors.
        outside: String,
        /// The lower side as written.
        lower: String,
        /// The upper side as written.
        upper: String,
    },
    /// A side does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl HistoryError {
    /// A stable name for scripts (`-f json`); never changes for a variant.
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryError::NotARange { .. }
            | HistoryError::CountsFromCurrent { .. }
            | HistoryError::Reversed { .. } => "invalid_range",
            HistoryError::InvalidTarget { .. } => "invalid_target",
            HistoryError::Target(e) => e.kind(),
        }
    }
}

/// The revisions `rev history` lists, newest first (reverse topological
/// order): all of them, or those between the range's sides, both
/// included. `current` is the database's current heads, read only for a
/// side that is [`CURRENT`]. A side that is `base` or empty bounds nothing.
pub fn select(
    graph: &Graph,
    range: Option<&Range>,
    current: &[RevIndex],
) -> Result<Vec<RevIndex>, HistoryError> {
    let mut keep = vec![true; graph.len()];
    if let Some(range) = range {
        // `None`: the side is `base`, which bounds nothing.
        let side = |s: &str| -> Result<Option<Vec<RevIndex>>, HistoryError> {
            if s == CURRENT {
                return Ok(Some(current.to_vec()));
            }
            let target = s
                .parse::<Target>()
                .map_err(|error| HistoryError::InvalidTarget {
                    range: range.text.clone(),
                    error,
                })?;
            if target.relative_to_current().is_some() {
                return Err(HistoryError::CountsFromCurrent { side: s.to_owned() });
            }
            if matches!(target, Target::Base) {
                return Ok(None);
            }
            Ok(Some(target.resolve(graph, &[])?))
        };
        let (lower, upper) = (range.lower.as_str(), range.upper.as_str());
        let bounded_above = !upper.is_empty();
        if bounded_above {
            // `base` above keeps nothing but the empty state.
            keep = graph.ancestors(side(upper)?.unwrap_or_default());
        }
        if !lower.is_empty() {
            if let Some(lower_revs) = side(lower)? {
                if let Some(&outside) = lower_revs.iter().find(|&&i| bounded_above && !keep[i]) {
                    return Err(HistoryError::Reversed {
                        range: range.text.clone(),
                        outside: graph.rev(outside).id.clone(),
                        lower: lower.to_owned(),
                        upper: upper.to_owned(),
                    });
                }
                // The database at base: `current:` is everything.
                if !(lower == CURRENT && lower_revs.is_empty()) {
                    let below = graph.descendants(lower_revs);
                    for (k, b) in keep.iter_mut().zip(below) {
                        *k &= b;
                    }
                }
            }
        }
    }
    Ok(graph
        .topo_order()
        .iter()
        .rev()
        .copied()
        .filter(|&i| keep[i])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::{graph, ids};

    /// ```text
    /// a ── b ── c
    ///      └─── d
    /// ```
    fn g() -> Graph {
        graph("a:- b:a c:b d:b")
    }

    fn listed(g: &Graph, range: &str, current: &[&str]) -> Result<Vec<String>, HistoryError> {
        let current: Vec<RevIndex> = current.iter().map(|id| g.index_of(id).unwrap()).collect();
        let range = Range::parse(range)?;
        Ok(ids(g, &select(g, Some(&range), &current)?))
    }

    #[test]
    fn everything_newest_first_without_a_range() {
        let g = g();
        let all = ids(&g, &select(&g, None, &[]).unwrap());
        assert_eq!(all.len(), 4);
        assert_eq!(all.last().map(String::as_str), Some("a"));
        assert_eq!(all[2], "b");
    }

    #[test]
    fn a_range_keeps_what_lies_between_its_sides() {
        let g = g();
        assert_eq!(listed(&g, "b:c", &[]).unwrap(), ["c", "b"]);
        assert_eq!(listed(&g, ":b", &[]).unwrap(), ["b", "a"]);
        assert_eq!(listed(&g, "base:b", &[]).unwrap(), ["b", "a"]);
        assert_eq!(listed(&g, "c:", &[]).unwrap(), ["c"]);
        assert_eq!(listed(&g, ":base", &[]).unwrap(), Vec::<String>::new());
        let mut from_b = listed(&g, "b:", &[]).unwrap();
        from_b.sort();
        assert_eq!(from_b, ["b", "c", "d"]);
    }

    #[test]
    fn current_is_the_database_state() {
        let g = g();
        assert_eq!(listed(&g, ":current", &["c"]).unwrap(), ["c", "b", "a"]);
        assert_eq!(listed(&g, "current:", &["c"]).unwrap(), ["c"]);
        // At base: nothing below, everything above.
        assert_eq!(listed(&g, ":current", &[]).unwrap(), Vec::<String>::new());
        assert_eq!(listed(&g, "current:", &[]).unwrap().len(), 4);
        assert!(Range::parse("current:").unwrap().reads_current());
        assert!(Range::parse("a:current").unwrap().reads_current());
        assert!(!Range::parse("a:c").unwrap().reads_current());
    }

    #[test]
    fn bad_ranges_are_typed_errors() {
        let g = g();
        let e = listed(&g, "abc", &[]).unwrap_err();
        assert_eq!(e.kind(), "invalid_range");
        assert!(matches!(e, HistoryError::NotARange { .. }), "{e:?}");
        let e = listed(&g, "c:b", &[]).unwrap_err();
        assert_eq!(
            e,
            HistoryError::Reversed {
                range: "c:b".into(),
                outside: "c".into(),
                lower: "c".into(),
                upper: "b".into(),
            }
        );
        let e = listed(&g, "-1:c", &[]).unwrap_err();
        assert_eq!(e, HistoryError::CountsFromCurrent { side: "-1".into() });
        assert_eq!(e.kind(), "invalid_range");
        let e = listed(&g, "a:b@@", &[]).unwrap_err();
        assert_eq!(e.kind(), "invalid_target", "{e:?}");
        let e = listed(&g, "a:nope", &[]).unwrap_err();
        assert_eq!(e.kind(), "unknown_revision");
        // The upper side is read first.
        let e = listed(&g, "b@@:nope", &[]).unwrap_err();
        assert_eq!(e.kind(), "unknown_revision");
    }
}
