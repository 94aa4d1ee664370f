//! The revision graph: every revision of a script directory and the edges
//! between them, with the questions the planner and the CLI ask of it.
//!
//! petgraph stays private to this module; callers address revisions by
//! [`RevIndex`] (an index valid for one [`Graph`]) or by id.
//!
//! Edges point from parent to child. A `down_revision` edge makes the parent
//! a non-head; a `depends_on` edge only orders (the dependency must be applied
//! first) and never changes which revisions are heads or bases, as in Alembic.
//!
//! Topological order (used for plans and `history`): parents and dependencies
//! before children, and among revisions that are ready at the same time, the
//! smallest id first. So the order depends only on the graph, never on file
//! names or the order the file system lists them.
//!
//! Reading a script directory into a graph is `graph/load.rs`'s job
//! ([`Graph::load`], [`Graph::load_all`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction as PgDirection;

use crate::revision::{self, ParseError, Revision};
use crate::squash::{self, Squash, View};
use crate::IoCause;

mod load;

pub use load::stray_sql_files;

/// Index of a revision inside one [`Graph`].
pub type RevIndex = usize;

/// The kind of an edge between two revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The child names the parent in `down_revision`.
    Parent,
    /// The child names the other in `depends_on`.
    Dependency,
}

/// A problem that stops the graph from loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A file could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Two files declare the same id.
    #[error("revision `{id}` is defined twice: in {} and in {}", first.display(), second.display())]
    DuplicateId {
        /// The id.
        id: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A parent or dependency names a revision no file defines.
    #[error(
        "{}: {relation} names `{missing}`, which no file in the script directory defines{}",
        path.display(),
        if *relation == "depends_on" { " as a revision id or a branch label" } else { "" }
    )]
    MissingReference {
        /// The revision that refers.
        id: String,
        /// Its file.
        path: PathBuf,
        /// `down_revision` or `depends_on`.
        relation: &'static str,
        /// The id it names.
        missing: String,
    },
    /// The edges form a cycle.
    #[error("the revisions form a cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The ids along the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// A branch label is carried by two revisions.
    #[error("branch label `{label}` is used by both `{first}` and `{second}`")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// The first revision carrying it.
        first: String,
        /// The second.
        second: String,
    },
    /// A branch label equals a revision id, which would make targets ambiguous.
    #[error("branch label `{label}` of `{id}` is also a revision id")]
    LabelIsRevisionId {
        /// The label.
        label: String,
        /// The revision carrying it.
        id: String,
    },
    /// A squashed revision (`replaces:`) breaks a rule of [`crate::squash`].
    #[error("{}: squashed revision `{id}`: {message}", path.display())]
    Squash {
        /// The squashed revision.
        id: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The script directory cannot be read.
    #[error("cannot read the script directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        source: IoCause,
    },
}

impl GraphError {
    /// A stable name for scripts (`-f json`).
    pub fn kind(&self) -> &'static str {
        match self {
            GraphError::Parse(_) => "parse",
            GraphError::DuplicateId { .. } => "duplicate_revision",
            GraphError::MissingReference { .. } => "missing_revision",
            GraphError::Cycle { .. } => "cycle",
            GraphError::DuplicateLabel { .. } => "duplicate_label",
            GraphError::LabelIsRevisionId { .. } => "label_is_revision_id",
            GraphError::Dir { .. } => "script_directory",
            GraphError::Squash { .. } => "squash_run",
        }
    }
}

/// Every problem found while loading, so a user fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_all(.0))]
pub struct LoadError(pub Vec<GraphError>);

fn display_all(errors: &[GraphError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} problems in the revision files:", many.len());
            for e in many {
                s.push_str("\n  ");
                s.push_str(&e.to_string());
            }
            s
        }
    }
}

impl LoadError {
    /// The kind of the first problem, or `load` for several.
    pub fn kind(&self) -> &'static str {
        match self.0.as_slice() {
            [one] => one.kind(),
            _ => "load",
        }
    }
}

/// A warning that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub path: PathBuf,
    /// The line.
    pub line: usize,
    /// What is odd.
    pub message: String,
}

/// The loaded, validated revision graph.
#[derive(Debug, Clone)]
pub struct Graph {
    revisions: Vec<Revision>,
    by_id: HashMap<String, RevIndex>,
    dag: DiGraph<(), EdgeKind, u32>,
    parents: Vec<Vec<RevIndex>>,
    children: Vec<Vec<RevIndex>>,
    dependencies: Vec<Vec<RevIndex>>,
    dependents: Vec<Vec<RevIndex>>,
    labels: BTreeMap<String, RevIndex>,
    topo: Vec<RevIndex>,
    topo_pos: Vec<usize>,
    warnings: Vec<Warning>,
    /// Revisions this view leaves out: the originals of a squash it uses,
    /// or a squashed revision whose originals it uses (see [`crate::squash`]).
    hidden: Vec<bool>,
    squashes: Vec<Squash>,
    /// The revisions as their files say, to build another view from.
    source: Arc<Vec<Revision>>,
}

impl Graph {
    /// Reads every `*.sql` file of `dir` (not recursively) and builds the
    /// graph. Every problem is reported, not just the first. See
    /// [`load`](self::load) for the reading.
    pub fn load(dir: &Path) -> Result<Graph, LoadError> {
        load::load_all(&[dir])
    }

    /// Reads every `*.sql` file of each folder (Alembic's
    /// `version_locations`): their revisions form one graph, so an id
    /// defined in two folders is a duplicate like one defined twice in one.
    pub fn load_all<P: AsRef<Path>>(dirs: &[P]) -> Result<Graph, LoadError> {
        load::load_all(dirs)
    }

    /// Builds the graph from parsed revisions, checking ids, references,
    /// labels and cycles.
    pub fn build(revisions: Vec<Revision>) -> Result<Graph, LoadError> {
        Graph::build_view(Arc::new(revisions), &HashSet::new())
    }

    /// The same files seen by a database that applied part of the runs that
    /// the squashed revisions `originals` replace: those squashes are hidden
    /// and their originals used (see [`crate::squash`]). Revision indices
    /// are the same in every view of one set of files.
    pub fn with_originals(&self, originals: &HashSet<String>) -> Result<Graph, LoadError> {
        if self.squashes.is_empty() {
            return Ok(self.clone());
        }
        Graph::build_view(self.source.clone(), originals)
    }

    /// The squashed revisions and the runs they replace.
    pub fn squashes(&self) -> &[Squash] {
        &self.squashes
    }

    /// The revision with exactly this id, hidden in this view or not (for
    /// messages about recorded revisions; targets never name a hidden one).
    pub fn revision_by_id(&self, id: &str) -> Option<&Revision> {
        match self.index_of(id) {
            Some(i) => Some(&self.revisions[i]),
            // Hidden revisions are few (the runs of squashes): a scan is fine.
            None => self
                .revisions
                .iter()
                .enumerate()
                .find(|(i, r)| self.hidden[*i] && r.id == id)
                .map(|(_, r)| r),
        }
    }

    /// Whether this view leaves `i` out (see [`Graph::with_originals`]).
    pub fn is_hidden(&self, i: RevIndex) -> bool {
        self.hidden[i]
    }

    fn build_view(
        source: Arc<Vec<Revision>>,
        originals: &HashSet<String>,
    ) -> Result<Graph, LoadError> {
        let n = source.len();
        let mut errors = Vec::new();
        let mut by_id: HashMap<String, RevIndex> = HashMap::with_capacity(n);
        for (i, r) in source.iter().enumerate() {
            if let Some(&first) = by_id.get(&r.id) {
                errors.push(GraphError::DuplicateId {
                    id: r.id.clone(),
                    first: source[first].path.clone(),
                    second: r.path.clone(),
                });
            } else {
                by_id.insert(r.id.clone(), i);
            }
        }
        let (squashes, broken) = squash::analyze(&source, &by_id);
        errors.extend(broken.into_iter().map(|b| GraphError::Squash {
            id: b.id,
            path: b.path,
            message: b.message,
        }));
        // The files as they are are kept only when another view may be
        // built from them: a history without squashes is not copied.
        let (revisions, hidden, source) = if squashes.is_empty() {
            let revisions = Arc::try_unwrap(source).unwrap_or_else(|shared| (*shared).clone());
            (revisions, vec![false; n], Arc::new(Vec::new()))
        } else {
            let view = View::new(&squashes, originals);
            let hidden: Vec<bool> = source.iter().map(|r| view.hidden.contains(&r.id)).collect();
            let revisions = source.iter().map(|r| view.apply(r)).collect();
            (revisions, hidden, source)
        };
        // A hidden revision is no node of this view: nothing resolves to
        // it, and it has no edges or labels.
        by_id.retain(|_, i| !hidden[*i]);
        // Go on after a duplicate id (its second copy gets no edges or labels,
        // every reference meaning the first) so that missing parents, labels
        // and cycles are reported in the same pass.

        let is_copy = |i: RevIndex| hidden[i] || by_id.get(&revisions[i].id) != Some(&i);
        // Labels first: `depends_on` may name one (as in Alembic), and it
        // then means the labelled revision.
        let mut labels: BTreeMap<String, RevIndex> = BTreeMap::new();
        for (i, r) in revisions.iter().enumerate() {
            if is_copy(i) {
                continue;
            }
            for label in &r.branch_labels {
                if let Some(&first) = labels.get(label) {
                    if first != i {
                        errors.push(GraphError::DuplicateLabel {
                            label: label.clone(),
                            first: revisions[first].id.clone(),
                            second: r.id.clone(),
                        });
                    }
                } else {
                    labels.insert(label.clone(), i);
                }
                if by_id.contains_key(label) {
                    errors.push(GraphError::LabelIsRevisionId {
                        label: label.clone(),
                        id: r.id.clone(),
                    });
                }
            }
        }

        let mut dag: DiGraph<(), EdgeKind, u32> = DiGraph::with_capacity(n, n + n / 4);
        for _ in 0..n {
            dag.add_node(());
        }
        let mut parents = vec![Vec::new(); n];
        let mut children = vec![Vec::new(); n];
        let mut dependencies = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, r) in revisions.iter().enumerate() {
            if is_copy(i) {
                continue;
            }
            for (relation, ids, kind) in [
                ("down_revision", &r.down_revisions, EdgeKind::Parent),
                ("depends_on", &r.depends_on, EdgeKind::Dependency),
            ] {
                for id in ids {
                    let target = match kind {
                        EdgeKind::Parent => by_id.get(id),
                        EdgeKind::Dependency => by_id.get(id).or_else(|| labels.get(id)),
                    };
                    match target {
                        Some(&p) => {
                            dag.add_edge(NodeIndex::new(p), NodeIndex::new(i), kind);
                            match kind {
                                EdgeKind::Parent => {
                                    if !parents[i].contains(&p) {
                                        parents[i].push(p);
                                        children[p].push(i);
                                    }
                                }
                                EdgeKind::Dependency => {
                                    if !dependencies[i].contains(&p) {
                                        dependencies[i].push(p);
                                        dependents[p].push(i);
                                    }
                                }
                            }
                        }
                        None => errors.push(GraphError::MissingReference {
                            id: r.id.clone(),
                            path: r.path.clone(),
                            relation,
                            missing: id.clone(),
                        }),
                    }
                }
            }
        }

        let warnings = revisions
            .iter()
            .flat_map(|r| {
                r.unknown_keys.iter().map(|(line, key)| Warning {
                    path: r.path.clone(),
                    line: *line,
                    message: match revision::similar_key(key) {
                        Some(known) => format!(
                            "unknown header key `{key}` is ignored (did you mean `{known}`?)"
                        ),
                        None => format!("unknown header key `{key}` is ignored"),
                    },
                })
            })
            .collect();

        let mut graph = Graph {
            revisions,
            by_id,
            dag,
            parents,
            children,
            dependencies,
            dependents,
            labels,
            topo: Vec::new(),
            topo_pos: Vec::new(),
            warnings,
            hidden,
            squashes,
            source,
        };
        // A cycle among the edges that did resolve is real whatever else is
        // wrong, so it is looked for even when other errors were found.
        match graph.topological_order() {
            Ok(topo) => {
                let mut pos = vec![0; n];
                for (k, &i) in topo.iter().enumerate() {
                    pos[i] = k;
                }
                graph.topo = topo;
                graph.topo_pos = pos;
            }
            Err(cycle) => errors.push(GraphError::Cycle { cycle }),
        }
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(LoadError(errors))
        }
    }

    /// Kahn's algorithm with a min-heap on the id, so ties break the same way
    /// on every machine. On a cycle, returns its path.
    fn topological_order(&self) -> Result<Vec<RevIndex>, Vec<String>> {
        let n = self.revisions.len();
        let mut indegree: Vec<usize> = (0..n)
            .map(|i| {
                self.dag
                    .edges_directed(NodeIndex::new(i), PgDirection::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<(&str, RevIndex)>> = indegree
            .iter()
            .enumerate()
            .filter(|(i, d)| **d == 0 && !self.hidden[*i])
            .map(|(i, _)| Reverse((self.revisions[i].id.as_str(), i)))
            .collect();
        let n = n - self.hidden.iter().filter(|h| **h).count();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse((_, i))) = ready.pop() {
            order.push(i);
            for e in self
                .dag
                .edges_directed(NodeIndex::new(i), PgDirection::Outgoing)
            {
                let t = e.target().index();
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.push(Reverse((self.revisions[t].id.as_str(), t)));
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        Err(self.find_cycle(&indegree))
    }

    /// Walks backwards along incoming edges among the nodes Kahn could not
    /// order (all of them lie on or behind a cycle) until a node repeats.
    fn find_cycle(&self, indegree: &[usize]) -> Vec<String> {
        let Some(start) = (0..indegree.len())
            .filter(|&i| indegree[i] > 0)
            .min_by_key(|&i| &self.revisions[i].id)
        else {
            return Vec::new();
        };
        let mut seen_at: HashMap<RevIndex, usize> = HashMap::new();
        let mut path = vec![start];
        let mut node = start;
        loop {
            seen_at.insert(node, path.len() - 1);
            let Some(prev) = self
                .dag
                .edges_directed(NodeIndex::new(node), PgDirection::Incoming)
                .map(|e| e.source().index())
                .filter(|&s| indegree[s] > 0)
                .min_by_key(|&s| &self.revisions[s].id)
            else {
                return Vec::new();
            };
            if let Some(&at) = seen_at.get(&prev) {
                // Edges run from path[k + 1] to path[k], and prev (which is
                // path[at]) is a parent of the last node: read forwards, the
                // cycle is path[at] -> path[last] -> ... -> path[at].
                let cycle: Vec<String> = std::iter::once(prev)
                    .chain(path[at..].iter().rev().copied())
                    .map(|i| self.revisions[i].id.clone())
                    .collect();
                return cycle;
            }
            path.push(prev);
            node = prev;
        }
    }

    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    /// Whether there are no revisions.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// All revisions, indexed by [`RevIndex`].
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// The revision at `i`.
    pub fn rev(&self, i: RevIndex) -> &Revision {
        &self.revisions[i]
    }

    /// The index of the revision with exactly this id.
    pub fn index_of(&self, id: &str) -> Option<RevIndex> {
        self.by_id.get(id).copied()
    }

    /// Warnings found while loading (unknown header keys).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// `down_revision` parents.
    pub fn parents(&self, i: RevIndex) -> &[RevIndex] {
        &self.parents[i]
    }

    /// Revisions naming `i` as a `down_revision`.
    pub fn children(&self, i: RevIndex) -> &[RevIndex] {
        &self.children[i]
    }

    /// `depends_on` targets.
    pub fn dependencies(&self, i: RevIndex) -> &[RevIndex] {
        &self.dependencies[i]
    }

    /// What `i` needs applied before it: its parents, then its
    /// dependencies.
    pub fn needs(&self, i: RevIndex) -> impl Iterator<Item = RevIndex> + '_ {
        self.parents[i]
            .iter()
            .chain(self.dependencies[i].iter())
            .copied()
    }

    /// Revisions naming `i` in `depends_on`.
    pub fn dependents(&self, i: RevIndex) -> &[RevIndex] {
        &self.dependents[i]
    }

    /// Whether no revision names `i` as a `down_revision`.
    pub fn is_head(&self, i: RevIndex) -> bool {
        self.children[i].is_empty()
    }

    /// Whether `i` has no `down_revision`.
    pub fn is_base(&self, i: RevIndex) -> bool {
        self.parents[i].is_empty()
    }

    /// Whether `i` has several parents.
    pub fn is_merge(&self, i: RevIndex) -> bool {
        self.parents[i].len() > 1
    }

    /// Whether several revisions name `i` as their parent.
    pub fn is_branch_point(&self, i: RevIndex) -> bool {
        self.children[i].len() > 1
    }

    /// All revisions in topological order (see the module docs for ties).
    pub fn topo_order(&self) -> &[RevIndex] {
        &self.topo
    }

    /// Position of `i` in [`Graph::topo_order`].
    pub fn topo_position(&self, i: RevIndex) -> usize {
        self.topo_pos[i]
    }

    /// Sorts revisions into topological order.
    pub fn sort_topo(&self, revs: &mut [RevIndex]) {
        revs.sort_by_key(|&i| self.topo_pos[i]);
    }

    /// The heads, in topological order.
    pub fn heads(&self) -> Vec<RevIndex> {
        self.topo
            .iter()
            .copied()
            .filter(|&i| self.is_head(i))
            .collect()
    }

    /// The heads that nothing names at all, neither as `down_revision` nor
    /// in `depends_on`, in topological order: what the target `heads` means
    /// (Alembic's `_real_heads`). A revision that only `depends_on` points to
    /// is a head for [`Graph::heads`] (and `rev heads`) but not here: once
    /// its dependent is applied there is nothing of its own left to reach.
    pub fn real_heads(&self) -> Vec<RevIndex> {
        self.topo
            .iter()
            .copied()
            .filter(|&i| self.is_head(i) && self.dependents[i].is_empty())
            .collect()
    }

    /// The bases (no `down_revision`, with or without `depends_on`), in
    /// topological order.
    pub fn bases(&self) -> Vec<RevIndex> {
        self.topo
            .iter()
            .copied()
            .filter(|&i| self.is_base(i))
            .collect()
    }

    /// Heads that no branch label reaches. More than one of them means
    /// `head` is ambiguous with no label to tell them apart, which `rev
    /// check` reports.
    pub fn unlabelled_heads(&self) -> Vec<RevIndex> {
        let mut labelled = vec![false; self.len()];
        for &owner in self.labels.values() {
            for (l, m) in labelled.iter_mut().zip(self.branch_members(owner)) {
                *l |= m;
            }
        }
        self.heads().into_iter().filter(|&h| !labelled[h]).collect()
    }

    /// Every branch label and the revision that carries it, by label.
    pub fn labels(&self) -> &BTreeMap<String, RevIndex> {
        &self.labels
    }

    /// The revision carrying `label`.
    pub fn label_owner(&self, label: &str) -> Option<RevIndex> {
        self.labels.get(label).copied()
    }

    /// Marks `from` and everything reachable from it by `step`.
    fn closure<F, I>(&self, from: impl IntoIterator<Item = RevIndex>, step: F) -> Vec<bool>
    where
        F: Fn(RevIndex) -> I,
        I: Iterator<Item = RevIndex>,
    {
        let mut marked = vec![false; self.len()];
        let mut stack: Vec<RevIndex> = Vec::new();
        for i in from {
            if !marked[i] {
                marked[i] = true;
                stack.push(i);
            }
        }
        while let Some(i) = stack.pop() {
            for j in step(i) {
                if !marked[j] {
                    marked[j] = true;
                    stack.push(j);
                }
            }
        }
        marked
    }

    /// `from` and all their ancestors through `down_revision` and
    /// `depends_on`: what must be applied for `from` to be applied.
    pub fn ancestors_with_deps(&self, from: impl IntoIterator<Item = RevIndex>) -> Vec<bool> {
        self.closure(from, |i| self.needs(i))
    }

    /// `from` and all their ancestors through `down_revision` only.
    pub fn ancestors(&self, from: impl IntoIterator<Item = RevIndex>) -> Vec<bool> {
        self.closure(from, |i| self.parents[i].iter().copied())
    }

    /// `from` and all their descendants through `down_revision` only.
    pub fn descendants(&self, from: impl IntoIterator<Item = RevIndex>) -> Vec<bool> {
        self.closure(from, |i| self.children[i].iter().copied())
    }

    /// `from` and everything that needs one of them: descendants through
    /// `down_revision` and `depends_on`.
    pub fn dependents_closure(&self, from: impl IntoIterator<Item = RevIndex>) -> Vec<bool> {
        self.closure(from, |i| {
            self.children[i]
                .iter()
                .chain(self.dependents[i].iter())
                .copied()
        })
    }

    /// The revisions on the branch `label`, following Alembic: the labelled
    /// revision, all its descendants, and its ancestors down to (not
    /// including) the nearest branch point or merge.
    pub fn branch_members(&self, owner: RevIndex) -> Vec<bool> {
        let mut members = self.descendants([owner]);
        let mut node = owner;
        while let [parent] = self.parents[node].as_slice() {
            let parent = *parent;
            if self.is_branch_point(parent) || self.is_merge(parent) {
                break;
            }
            members[parent] = true;
            node = parent;
        }
        members
    }

    /// The lineage of `owner`, which `LABEL@...` targets work on (Alembic's
    /// `filter_for_lineage`): `owner` with all its ancestors and all its
    /// descendants, through `down_revision` only. Revisions on sibling
    /// branches are outside it, even where they share an ancestor with it.
    /// Unlike [`Graph::branch_members`] it goes below the branch point, down
    /// to the roots.
    pub fn lineage(&self, owner: RevIndex) -> Vec<bool> {
        let mut marks = self.descendants([owner]);
        for (m, a) in marks.iter_mut().zip(self.ancestors([owner])) {
            *m |= a;
        }
        marks
    }

    /// The labels whose branch contains `i`.
    pub fn labels_of(&self, i: RevIndex) -> Vec<&str> {
        self.labels
            .iter()
            .filter(|(_, &owner)| self.branch_members(owner)[i])
            .map(|(l, _)| l.as_str())
            .collect()
    }

    /// Revisions whose id starts with `prefix`, an exact match winning over
    /// longer ids.
    pub fn resolve_prefix(&self, prefix: &str) -> PrefixMatch {
        if let Some(i) = self.index_of(prefix) {
            return PrefixMatch::One(i);
        }
        let mut found: Vec<RevIndex> = self
            .revisions
            .iter()
            .enumerate()
            .filter(|(i, r)| !self.hidden[*i] && r.id.starts_with(prefix))
            .map(|(i, _)| i)
            .collect();
        match found.len() {
            0 => PrefixMatch::None,
            1 => PrefixMatch::One(found[0]),
            _ => {
                found.sort_by(|&a, &b| self.revisions[a].id.cmp(&self.revisions[b].id));
                PrefixMatch::Many(found)
            }
        }
    }

    /// Ids close to `text`, for "did you mean" hints.
    pub fn similar_ids(&self, text: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &str)> = self
            .revisions
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.hidden[*i])
            .map(|(_, r)| r.id.as_str())
            .chain(self.labels.keys().map(String::as_str))
            .map(|id| (strsim::jaro_winkler(text, id), id))
            // Jaro-Winkler alone misses one-character typos of short ids
            // (`d3` for `d2`), which one edit catches.
            .filter(|(s, id)| *s > 0.75 || (text.len() <= 4 && strsim::levenshtein(text, id) <= 1))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(3)
            .map(|(_, id)| id.to_string())
            .collect()
    }

    /// Heads of the applied set, as `rev current` reports them: applied
    /// revisions that no applied revision names, neither as `down_revision`
    /// nor in `depends_on`, in topological order. As in Alembic (whose
    /// version table drops a dependency once its dependent is applied), a
    /// revision that only something applied *depends on* is not a current
    /// head.
    pub fn current_heads(&self, applied: &[RevIndex]) -> Vec<RevIndex> {
        let is_applied = self.marks(applied);
        self.topo
            .iter()
            .copied()
            .filter(|&i| {
                is_applied[i]
                    && !self.children[i]
                        .iter()
                        .chain(&self.dependents[i])
                        .any(|&c| is_applied[c])
            })
            .collect()
    }

    /// Applied revisions with no applied child through `down_revision`, in
    /// topological order: where each line of the applied set stands, a
    /// dependency on another branch included. Walks on a branch (`X@+N`,
    /// `X@-N`) start from these.
    pub fn applied_tips(&self, applied: &[RevIndex]) -> Vec<RevIndex> {
        let is_applied = self.marks(applied);
        self.topo
            .iter()
            .copied()
            .filter(|&i| is_applied[i] && !self.children[i].iter().any(|&c| is_applied[c]))
            .collect()
    }

    /// One flag per revision, set for those in `revs`.
    pub(crate) fn marks(&self, revs: &[RevIndex]) -> Vec<bool> {
        let mut marks = vec![false; self.len()];
        for &i in revs {
            marks[i] = true;
        }
        marks
    }

    /// The run `from:to` that `rev squash` may replace (see
    /// [`crate::squash`]): `to` and its ancestors back to `from`, oldest first,
    /// checked to be a path with no branch point, merge or dependency inside
    /// it. The error says which rule the range breaks.
    pub fn squashable_run(&self, from: RevIndex, to: RevIndex) -> Result<Vec<RevIndex>, String> {
        let graph = self;
        let id = |i| graph.rev(i).id.clone();
        let mut run = vec![to];
        let mut at = to;
        while at != from {
            match graph.parents(at) {
                [one] => {
                    at = *one;
                    run.push(at);
                }
                [] => {
                    return Err(format!(
                        "`{}` is not an ancestor of `{}`: write the older revision first (`rev squash OLD:NEW`)",
                        id(from),
                        id(to)
                    ))
                }
                _ => {
                    return Err(format!(
                        "`{}` is a merge: a squashed run is a path without merges inside it",
                        id(at)
                    ))
                }
            }
        }
        run.reverse();
        if run.len() < 2 {
            return Err(format!(
                "`{}:{}` is one revision: a squash replaces two or more",
                id(from),
                id(to)
            ));
        }
        for (k, &i) in run.iter().enumerate() {
            if !graph.rev(i).replaces.is_empty() {
                return Err(format!(
                    "`{}` is itself a squashed revision; squash a run of other revisions",
                    id(i)
                ));
            }
            if k + 1 < run.len() {
                if graph.children(i).len() > 1 {
                    return Err(format!(
                        "`{}` is a branch point inside the run: a squashed run is a path without branch points",
                        id(i)
                    ));
                }
                if !graph.dependents(i).is_empty() {
                    return Err(format!(
                        "`{}` is inside the run, and `{}` depends on it: a squashed run has no dependency inside it",
                        id(i),
                        id(graph.dependents(i)[0])
                    ));
                }
            }
        }
        Ok(run)
    }
}

/// The result of a prefix lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixMatch {
    /// No revision matches.
    None,
    /// Exactly one.
    One(RevIndex),
    /// Several, sorted by id.
    Many(Vec<RevIndex>),
}

/// Builds revisions from a compact description, for tests in this crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// `spec` is `id:parent,parent[:dep,dep][:label]` per entry, separated by
    /// spaces; `-` for no parents.
    pub fn graph(spec: &str) -> Graph {
        try_graph(spec).unwrap_or_else(|e| panic!("test graph does not build: {e}"))
    }

    pub fn try_graph(spec: &str) -> Result<Graph, LoadError> {
        Graph::build(revisions(spec))
    }

    /// The revisions of [`graph`]'s `spec`, to change before building.
    pub fn revisions(spec: &str) -> Vec<Revision> {
        spec.split_whitespace()
            .map(|entry| {
                let mut parts = entry.split(':');
                let id = parts.next().unwrap_or_default().to_string();
                let list = |s: Option<&str>| -> Vec<String> {
                    match s {
                        None | Some("-") | Some("") => Vec::new(),
                        Some(s) => s.split(',').map(str::to_string).collect(),
                    }
                };
                let down_revisions = list(parts.next());
                let depends_on = list(parts.next());
                let branch_labels = list(parts.next());
                Revision {
                    path: PathBuf::from(format!("versions/{id}.sql")),
                    checksum: revision::checksum(""),
                    id,
                    down_revisions,
                    branch_labels,
                    depends_on,
                    message: String::new(),
                    create_date: None,
                    transactional: true,
                    upgrade_sql: String::new(),
                    downgrade_sql: Some("SELECT 1;".into()),
                    upgrade_line: 1,
                    downgrade_line: Some(2),
                    unknown_keys: Vec::new(),
                    replaces: Vec::new(),
                }
            })
            .collect()
    }

    pub fn ids(g: &Graph, revs: &[RevIndex]) -> Vec<String> {
        revs.iter().map(|&i| g.rev(i).id.clone()).collect()
    }

    pub fn marked(g: &Graph, marks: &[bool]) -> Vec<String> {
        let mut v: Vec<String> = marks
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| g.rev(i).id.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn linear() {
        // c
        // |
        // b
        // |
        // a
        let g = graph("c:b b:a a:-");
        assert_eq!(ids(&g, g.topo_order()), ["a", "b", "c"]);
        assert_eq!(ids(&g, &g.heads()), ["c"]);
        assert_eq!(ids(&g, &g.bases()), ["a"]);
        assert_eq!(
            marked(&g, &g.ancestors([g.index_of("b").unwrap()])),
            ["a", "b"]
        );
    }

    #[test]
    fn branch_and_merge() {
        //   m
        //  / \
        // b   c
        //  \ /
        //   a
        let g = graph("a:- b:a c:a m:b,c");
        let a = g.index_of("a").unwrap();
        let m = g.index_of("m").unwrap();
        assert!(g.is_branch_point(a));
        assert!(g.is_merge(m));
        assert_eq!(ids(&g, &g.heads()), ["m"]);
        assert_eq!(ids(&g, g.topo_order()), ["a", "b", "c", "m"]);
        assert_eq!(
            marked(&g, &g.descendants([g.index_of("b").unwrap()])),
            ["b", "m"]
        );
    }

    #[test]
    fn two_bases_and_labels() {
        // y2 (billing)   x2
        // |              |
        // y1             x1
        let g = graph("x1:- x2:x1 y1:- y2:y1::billing");
        assert_eq!(ids(&g, &g.bases()), ["x1", "y1"]);
        assert_eq!(ids(&g, &g.heads()), ["x2", "y2"]);
        let owner = g.label_owner("billing").unwrap();
        assert_eq!(marked(&g, &g.branch_members(owner)), ["y1", "y2"]);
        assert_eq!(g.labels_of(g.index_of("y1").unwrap()), ["billing"]);
        assert!(g.labels_of(g.index_of("x1").unwrap()).is_empty());
    }

    #[test]
    fn unlabelled_heads_ignore_labelled_branches() {
        // c   d (billing)   e
        //  \  |            /
        //   b +-----------+
        //   |
        //   a
        let g = graph("a:- b:a c:b d:b::billing e:b");
        assert_eq!(ids(&g, &g.unlabelled_heads()), ["c", "e"]);
        let g = graph("a:- b:a c:a::billing");
        assert_eq!(ids(&g, &g.unlabelled_heads()), ["b"]);
    }

    #[test]
    fn branch_members_stop_at_branch_point() {
        // c (billing)  d
        //  \          /
        //   b ------ +
        //   |
        //   a
        let g = graph("a:- b:a c:b::billing d:b");
        let owner = g.label_owner("billing").unwrap();
        assert_eq!(marked(&g, &g.branch_members(owner)), ["c"]);
    }

    #[test]
    fn depends_on_orders_but_keeps_heads() {
        // x2 ..depends_on..> y1
        // |                  |
        // x1                 (base)
        let g = graph("x1:- x2:x1:y1 y1:-");
        assert_eq!(ids(&g, &g.heads()), ["y1", "x2"]);
        let x2 = g.index_of("x2").unwrap();
        assert_eq!(marked(&g, &g.ancestors_with_deps([x2])), ["x1", "x2", "y1"]);
        let y1 = g.index_of("y1").unwrap();
        assert!(g.topo_position(y1) < g.topo_position(x2));
        assert_eq!(marked(&g, &g.dependents_closure([y1])), ["x2", "y1"]);
    }

    #[test]
    fn depends_on_may_name_a_branch_label() {
        // c ..depends_on `billing`..> b (billing)
        //                             |
        //                             a
        let g = graph("a:- b:a::billing c:-:billing");
        let (b, c) = (g.index_of("b").unwrap(), g.index_of("c").unwrap());
        assert_eq!(g.dependencies(c), [b]);
        assert_eq!(g.dependents(b), [c]);
        assert!(g.topo_position(b) < g.topo_position(c));
        // A label may hold `-`, which an id cannot.
        let g = graph("a:- b:a::feature-2 c:-:feature-2");
        assert_eq!(ids(&g, g.dependencies(g.index_of("c").unwrap())), ["b"]);
        // Neither an id nor a label: the error says both were looked for.
        let e = try_graph("a:- c:-:billing").unwrap_err();
        assert_eq!(e.kind(), "missing_revision");
        assert_eq!(
            e.to_string(),
            "versions/c.sql: depends_on names `billing`, which no file in the script directory defines as a revision id or a branch label"
        );
        // A revision depending on its own label is a cycle.
        assert_eq!(try_graph("a:-:own:own").unwrap_err().kind(), "cycle");
    }

    #[test]
    fn real_heads_leave_out_dependency_only_heads() {
        // x2 ..depends_on..> y1
        // |
        // x1
        let g = graph("x1:- x2:x1:y1 y1:-");
        assert_eq!(ids(&g, &g.heads()), ["y1", "x2"]);
        assert_eq!(ids(&g, &g.real_heads()), ["x2"]);
    }

    #[test]
    fn lineage_is_ancestors_and_descendants() {
        //   m             (merges c2 and s1)
        //   |\
        //   | c2  c1
        //   |  \ /
        //   s1  b
        //   |   |
        //   z   a
        let g = graph("a:- b:a c1:b c2:b::feature z:- s1:z m:c2,s1");
        let c2 = g.index_of("c2").unwrap();
        assert_eq!(marked(&g, &g.lineage(c2)), ["a", "b", "c2", "m"]);
        // Alembic's branch labels stop at the branch point.
        assert_eq!(marked(&g, &g.branch_members(c2)), ["c2", "m"]);
    }

    #[test]
    fn parentless_revision_with_only_depends_on_is_a_base() {
        let g = graph("a:- b:-:a");
        assert_eq!(ids(&g, &g.bases()), ["a", "b"]);
    }

    #[test]
    fn merges_of_merges() {
        //     n
        //    / \
        //   m   d
        //  / \  |
        // b   c |
        //  \ /  |
        //   a --+
        let g = graph("a:- b:a c:a d:a m:b,c n:m,d");
        assert_eq!(ids(&g, &g.heads()), ["n"]);
        assert_eq!(ids(&g, g.topo_order()), ["a", "b", "c", "d", "m", "n"]);
    }

    #[test]
    fn errors_are_all_reported() {
        let e = try_graph("a:- b:zz c:a:yy").unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert!(
            matches!(&e.0[0], GraphError::MissingReference { id, missing, relation: "down_revision", .. } if id == "b" && missing == "zz")
        );
        assert!(matches!(
            &e.0[1],
            GraphError::MissingReference {
                relation: "depends_on",
                ..
            }
        ));
        assert!(e
            .to_string()
            .contains("versions/b.sql: down_revision names `zz`"));
    }

    #[test]
    fn duplicate_ids_missing_parents_labels_and_cycles_are_reported_together() {
        // x -> y -> x (a cycle), c names a missing `zz`, l1 and l2 share a
        // label: one `rev check` lists all three, so a user fixes them in one
        // pass instead of one per run.
        let mut revs = try_graph("a:- b:a c:zz l1:a::lab l2:a::lab x:y y:x")
            .unwrap_err()
            .0;
        assert_eq!(revs.len(), 3, "missing ref, label and cycle: {revs:?}");
        revs.sort_by_key(|e| e.kind());
        let kinds: Vec<&str> = revs.iter().map(GraphError::kind).collect();
        assert_eq!(kinds, ["cycle", "duplicate_label", "missing_revision"]);

        // A duplicate id no longer hides the other problems either.
        let base = try_graph("a:- b:a").unwrap().revisions().to_vec();
        let mut revisions = base.clone();
        let mut dup = base[1].clone();
        dup.path = PathBuf::from("versions/other.sql");
        revisions.push(dup);
        let mut c = base[1].clone();
        c.id = "c".into();
        c.path = PathBuf::from("versions/c.sql");
        c.down_revisions = vec!["zz".into()];
        revisions.push(c);
        let e = Graph::build(revisions).unwrap_err();
        let kinds: Vec<&str> = e.0.iter().map(GraphError::kind).collect();
        assert_eq!(kinds, ["duplicate_revision", "missing_revision"], "{e}");
    }

    #[test]
    fn duplicate_id_names_both_files() {
        let mut g = try_graph("a:- b:a").unwrap().revisions().to_vec();
        let mut dup = g[1].clone();
        dup.path = PathBuf::from("versions/other.sql");
        g.push(dup);
        let e = Graph::build(g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "revision `b` is defined twice: in versions/b.sql and in versions/other.sql"
        );
    }

    #[test]
    fn cycle_prints_its_path() {
        // a -> b -> c -> a, with d hanging off the cycle
        let e = try_graph("a:c b:a c:b d:c").unwrap_err();
        match &e.0[0] {
            GraphError::Cycle { cycle } => {
                assert_eq!(cycle.first(), cycle.last());
                assert_eq!(cycle.len(), 4);
                let mut inner = cycle[..3].to_vec();
                inner.sort();
                assert_eq!(inner, ["a", "b", "c"]);
            }
            other => panic!("expected a cycle, got {other}"),
        }
        let e = try_graph("a:a").unwrap_err();
        assert_eq!(e.to_string(), "the revisions form a cycle: a -> a");
    }

    #[test]
    fn duplicate_label() {
        let e = try_graph("a:-::x b:a::x").unwrap_err();
        assert_eq!(e.0[0].kind(), "duplicate_label");
        let e = try_graph("a:-::b b:a").unwrap_err();
        assert_eq!(e.0[0].kind(), "label_is_revision_id");
    }

    #[test]
    fn prefixes() {
        let g = graph("user:- user_foo:user abc1:user_foo abc2:abc1");
        assert_eq!(
            g.resolve_prefix("user"),
            PrefixMatch::One(g.index_of("user").unwrap())
        );
        assert_eq!(
            g.resolve_prefix("user_"),
            PrefixMatch::One(g.index_of("user_foo").unwrap())
        );
        assert!(matches!(g.resolve_prefix("abc"), PrefixMatch::Many(v) if v.len() == 2));
        assert_eq!(g.resolve_prefix("zzz"), PrefixMatch::None);
        assert_eq!(g.similar_ids("abc3"), ["abc1", "abc2"]);
    }
}
