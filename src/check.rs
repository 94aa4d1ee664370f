//! What `rev check` finds in revision files that load: the problems other
//! commands only warn about or meet late (an upgrade refusing a scaffold
//! half-way through a deploy). A graph that does not load never gets here:
//! its error comes from loading it.

use crate::graph::{Graph, RevIndex};
use crate::revision;

/// One problem of a loaded graph.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Several heads and no branch label to tell them apart: `head` is
    /// ambiguous, and nothing names one line of history.
    UnlabelledHeads {
        /// The heads without a label, in topological order.
        heads: Vec<RevIndex>,
    },
    /// A header key rev does not know (a misspelled `transactinal:` leaves
    /// the revision silently transactional).
    UnknownKey {
        /// The revision.
        revision: RevIndex,
        /// The key's line in its file.
        line: usize,
        /// The key as written.
        key: String,
        /// The known key it is closest to, if one is close.
        similar: Option<&'static str>,
    },
    /// An empty `-- +upgrade` section (an untouched scaffold), which
    /// `upgrade` refuses.
    EmptyUpgrade {
        /// The revision.
        revision: RevIndex,
    },
}

impl Problem {
    /// A stable name for scripts (`-f json`); never changes for a variant.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::UnlabelledHeads { .. } => "unlabelled_heads",
            Problem::UnknownKey { .. } => "unknown_key",
            Problem::EmptyUpgrade { .. } => "empty_upgrade",
        }
    }
}

/// What to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Unknown header keys are there on purpose: not a problem.
    pub allow_unknown_keys: bool,
}

/// The problems of `graph`: unlabelled heads first, then each revision's
/// in topological order (the order an upgrade from base meets them).
pub fn problems(graph: &Graph, options: CheckOptions) -> Vec<Problem> {
    let mut found = Vec::new();
    let heads = graph.unlabelled_heads();
    if heads.len() > 1 {
        found.push(Problem::UnlabelledHeads { heads });
    }
    for &i in graph.topo_order() {
        let r = graph.rev(i);
        if !options.allow_unknown_keys {
            found.extend(
                r.unknown_keys
                    .iter()
                    .map(|(line, key)| Problem::UnknownKey {
                        revision: i,
                        line: *line,
                        key: key.clone(),
                        similar: revision::similar_key(key),
                    }),
            );
        }
        if r.has_empty_upgrade() {
            found.push(Problem::EmptyUpgrade { revision: i });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::revisions;

    /// The graph of `spec` with every upgrade section filled in, but for
    /// `empty`, and `unknown` keys on their revisions.
    fn graph(spec: &str, empty: &[&str], unknown: &[(&str, usize, &str)]) -> Graph {
        let mut revs = revisions(spec);
        for r in &mut revs {
            if !empty.contains(&r.id.as_str()) {
                r.upgrade_sql = "SELECT 1;".into();
            }
            for (id, line, key) in unknown {
                if *id == r.id {
                    r.unknown_keys.push((*line, key.to_string()));
                }
            }
        }
        Graph::build(revs).unwrap()
    }

    fn kinds(found: &[Problem]) -> Vec<&'static str> {
        found.iter().map(Problem::kind).collect()
    }

    #[test]
    fn a_clean_graph_has_no_problem() {
        let g = graph("a:- b:a c:b", &[], &[]);
        assert_eq!(problems(&g, CheckOptions::default()), []);
        // One unlabelled head beside a labelled branch is fine.
        let g = graph("a:- b:a c:a::billing", &[], &[]);
        assert_eq!(problems(&g, CheckOptions::default()), []);
    }

    #[test]
    fn problems_come_heads_first_then_in_topological_order() {
        let g = graph("a:- b:a c:a", &["b", "c"], &[("b", 3, "transactinal")]);
        let (b, c) = (g.index_of("b").unwrap(), g.index_of("c").unwrap());
        let found = problems(&g, CheckOptions::default());
        assert_eq!(
            kinds(&found),
            [
                "unlabelled_heads",
                "unknown_key",
                "empty_upgrade",
                "empty_upgrade"
            ]
        );
        assert_eq!(found[0], Problem::UnlabelledHeads { heads: vec![b, c] });
        assert_eq!(
            found[1],
            Problem::UnknownKey {
                revision: b,
                line: 3,
                key: "transactinal".into(),
                similar: Some("transactional"),
            }
        );
        assert_eq!(found[2], Problem::EmptyUpgrade { revision: b });
        assert_eq!(found[3], Problem::EmptyUpgrade { revision: c });
        let allowed = problems(
            &g,
            CheckOptions {
                allow_unknown_keys: true,
            },
        );
        assert_eq!(
            kinds(&allowed),
            ["unlabelled_heads", "empty_upgrade", "empty_upgrade"]
        );
    }
}
