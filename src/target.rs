//! Targets: the Alembic-style names of a point in the history that
//! `upgrade`, `downgrade`, `stamp`, `show`, `history -r` and `merge` accept.
//!
//! Two phases, as in jj's revsets: [`Target::from_str`] checks the syntax only
//! (no graph, so clap can reject `billing@@x` with exit 2), and
//! [`Target::resolve`] / [`Target::destination`] look the names up in a
//! [`Graph`] and an applied set. This module does not plan; `plan` does.
//!
//! Syntax (`SYMBOL` is `[A-Za-z0-9_][A-Za-z0-9_-]*`: an id, an id prefix or a
//! branch label; `N` is a positive decimal number):
//!
//! | text | AST |
//! |---|---|
//! | `head`, `heads`, `base` | [`Target::Head`], [`Target::Heads`], [`Target::Base`] |
//! | `SYMBOL` | [`Target::Rev`] |
//! | `+N`, `-N`, `SYMBOL+N`, `head-N`, `base+N` | [`Target::Relative`] |
//! | `X@head`, `X@base`, `X@SYMBOL`, `X@-N`, `X@SYMBOL+N` | [`Target::Branch`] |
//!
//! The keywords win over an id or label spelled the same way. A symbol that
//! ends in `-N` or `+N` is a relative target, but a bare label such as
//! `feature-2` still resolves to that label when one exists (labels may
//! contain `-`; ids cannot).
//!
//! Resolution rules (Alembic's, where Alembic has one):
//! - A symbol is an exact id, else a branch label (the revision carrying it),
//!   else a unique id prefix of any length. So `user` names `user` even when
//!   `user_foo` exists.
//! - In `X@Y`, `X` is a label or a revision id/prefix; it names the branch
//!   [`Graph::branch_members`] of that revision. `X@prefix` looks for the
//!   prefix among the branch's members only.
//! - Relative walks follow `down_revision` only (never `depends_on`), one
//!   revision per step, and stop with [`TargetError::AmbiguousWalk`] at a
//!   merge (going down) or a branch point (going up) where both ways are open.
//!   On a branch (`X@-N`, `X@+N`) only the branch's members count, so a walk
//!   cannot leave the branch: walking down off its first revision reaches
//!   [`Destination::BranchBase`], and further is an overshoot. This keeps
//!   `billing@-N` from ever touching other branches.
//! - `+N`/`-N` start at the current head of the applied set (one is
//!   required), `X@+N`/`X@-N` at the current head of the branch; on an empty
//!   database (or branch) `+N` counts from the root: `+1` is the first
//!   revision. Walking down off a base reaches the state before that base.
//! - `head`/`heads` on a history with no revisions name nothing (so
//!   `upgrade head` right after `rev init` is an empty plan).

use std::fmt;
use std::str::FromStr;

use crate::graph::{Graph, PrefixMatch, RevIndex};

/// A parsed target, not yet looked up in a graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `head`: the single head.
    Head,
    /// `heads`: every head.
    Heads,
    /// `base`: before the first revision.
    Base,
    /// A revision id, id prefix or bare branch label.
    Rev(String),
    /// `X@...`: a point on the branch named by `X` (label or revision).
    Branch {
        /// The label or revision id/prefix before `@`.
        branch: String,
        /// What follows `@`.
        at: BranchAt,
    },
    /// `+N`, `-N`, `REV+N`, `head-N`, `base+N`.
    Relative {
        /// Where the walk starts; `None` for the current state.
        from: Option<Anchor>,
        /// Steps: positive walks up (towards heads), negative down. Never 0.
        delta: i64,
    },
}

/// The start of a relative walk written before `+N`/`-N`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// `head-N`: the single head (of the branch, after `@`).
    Head,
    /// `base+N`: before the first revision (of the branch, after `@`).
    Base,
    /// `REV+N`: a revision id, prefix or label.
    Rev(String),
}

/// What follows `@` in a branch target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BranchAt {
    /// `X@head`: the head of the branch.
    Head,
    /// `X@base`: before the first revision of the branch.
    Base,
    /// `X@prefix`: a revision, checked to be on the branch.
    Rev(String),
    /// `X@+N`, `X@-N`, `X@REV+N`: a walk that stays on the branch.
    Relative {
        /// Where the walk starts; `None` for the branch's current head.
        from: Option<Anchor>,
        /// Steps, never 0.
        delta: i64,
    },
}

impl Target {
    /// Whether this is a walk from the current state (`+N`, `-N`, `X@+N`,
    /// `X@-N`), and which way it goes: `Some(true)` up, `Some(false)` down.
    pub fn relative_to_current(&self) -> Option<bool> {
        match self {
            Target::Relative { from: None, delta }
            | Target::Branch {
                at: BranchAt::Relative { from: None, delta },
                ..
            } => Some(*delta > 0),
            _ => None,
        }
    }
}

/// Why a target's text is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target `{text}`: {kind}")]
pub struct ParseTargetError {
    /// The text as given.
    pub text: String,
    /// What is wrong.
    pub kind: ParseTargetErrorKind,
}

/// What is wrong with a target's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTargetErrorKind {
    /// The empty string.
    #[error("a target cannot be empty (try `head`, `heads`, `base`, a revision or `-1`)")]
    Empty,
    /// A character no target can contain.
    #[error("unexpected character `{0}` (ids and labels are letters, digits, `_` and `-`)")]
    UnexpectedChar(char),
    /// A symbol starting with `-` that is not a relative step.
    #[error("`{0}` must start with a letter, digit or `_`")]
    BadStart(String),
    /// More than one `@`.
    #[error("only one `@` is allowed")]
    SeveralAt,
    /// Nothing before `@`.
    #[error("a branch label or revision must come before `@`")]
    EmptyBranch,
    /// Nothing after `@`.
    #[error("something must follow `@` (`head`, `base`, a revision or `-1`)")]
    EmptyAfterAt,
    /// A keyword used as the branch before `@`.
    #[error("`{0}` is a keyword, not a branch")]
    KeywordBranch(&'static str),
    /// `heads` where only one revision makes sense.
    #[error("`heads` cannot be used here (try `head`)")]
    HeadsNotAllowed,
    /// `+` or `-` without a number after it.
    #[error("`+` and `-` must be followed by a number of steps, as in `+1`")]
    MissingSteps,
    /// `+0` or `-0`.
    #[error("a relative step must be at least 1")]
    ZeroSteps,
    /// A step count that does not fit.
    #[error("the number of steps is too large")]
    TooManySteps,
}

impl FromStr for Target {
    type Err = ParseTargetError;

    fn from_str(text: &str) -> Result<Target, ParseTargetError> {
        parse(text).map_err(|kind| ParseTargetError {
            text: text.to_string(),
            kind,
        })
    }
}

fn parse(text: &str) -> Result<Target, ParseTargetErrorKind> {
    use ParseTargetErrorKind as K;
    if text.is_empty() {
        return Err(K::Empty);
    }
    if let Some(c) = text
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '@')))
    {
        return Err(K::UnexpectedChar(c));
    }
    if let Some((branch, rest)) = text.split_once('@') {
        if rest.contains('@') {
            return Err(K::SeveralAt);
        }
        if branch.is_empty() {
            return Err(K::EmptyBranch);
        }
        if let Some(keyword) = keyword(branch) {
            return Err(K::KeywordBranch(keyword));
        }
        symbol(branch)?;
        let at = match rest {
            "" => return Err(K::EmptyAfterAt),
            "head" => BranchAt::Head,
            "base" => BranchAt::Base,
            "heads" => return Err(K::HeadsNotAllowed),
            _ => match point(rest)? {
                Point::Rev(s) => BranchAt::Rev(s),
                Point::Relative(from, delta) => BranchAt::Relative { from, delta },
            },
        };
        return Ok(Target::Branch {
            branch: branch.to_string(),
            at,
        });
    }
    Ok(match text {
        "head" => Target::Head,
        "heads" => Target::Heads,
        "base" => Target::Base,
        _ => match point(text)? {
            Point::Rev(s) => Target::Rev(s),
            Point::Relative(from, delta) => Target::Relative { from, delta },
        },
    })
}

fn keyword(s: &str) -> Option<&'static str> {
    ["head", "heads", "base"].into_iter().find(|k| *k == s)
}

enum Point {
    Rev(String),
    Relative(Option<Anchor>, i64),
}

/// A symbol or a relative step, with no `@` in it.
fn point(s: &str) -> Result<Point, ParseTargetErrorKind> {
    use ParseTargetErrorKind as K;
    if s.ends_with(['+', '-']) {
        return Err(K::MissingSteps);
    }
    if let Some(pos) = s.rfind(['+', '-']) {
        let digits = &s[pos + 1..];
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            let magnitude: i64 = digits.parse().map_err(|_| K::TooManySteps)?;
            if magnitude == 0 {
                return Err(K::ZeroSteps);
            }
            let delta = if s.as_bytes()[pos] == b'-' {
                -magnitude
            } else {
                magnitude
            };
            let from = match &s[..pos] {
                "" => None,
                "head" => Some(Anchor::Head),
                "base" => Some(Anchor::Base),
                "heads" => return Err(K::HeadsNotAllowed),
                other => {
                    symbol(other)?;
                    Some(Anchor::Rev(other.to_string()))
                }
            };
            return Ok(Point::Relative(from, delta));
        }
        if s.contains('+') {
            // `a+b`: a `+` can only introduce a number of steps.
            return Err(K::MissingSteps);
        }
    }
    symbol(s)?;
    Ok(Point::Rev(s.to_string()))
}

/// Checks an id, prefix or label: `[A-Za-z0-9_][A-Za-z0-9_-]*`.
fn symbol(s: &str) -> Result<(), ParseTargetErrorKind> {
    use ParseTargetErrorKind as K;
    if let Some(c) = s.chars().find(|&c| !crate::revision::is_label_char(c)) {
        return Err(match c {
            '+' => K::MissingSteps,
            '@' => K::SeveralAt,
            c => K::UnexpectedChar(c),
        });
    }
    if s.starts_with('-') {
        return Err(K::BadStart(s.to_string()));
    }
    Ok(())
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anchor::Head => f.write_str("head"),
            Anchor::Base => f.write_str("base"),
            Anchor::Rev(s) => f.write_str(s),
        }
    }
}

fn write_relative(f: &mut fmt::Formatter<'_>, from: &Option<Anchor>, delta: i64) -> fmt::Result {
    if let Some(from) = from {
        write!(f, "{from}")?;
    }
    write!(f, "{delta:+}")
}

impl fmt::Display for BranchAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BranchAt::Head => f.write_str("head"),
            BranchAt::Base => f.write_str("base"),
            BranchAt::Rev(s) => f.write_str(s),
            BranchAt::Relative { from, delta } => write_relative(f, from, *delta),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Head => f.write_str("head"),
            Target::Heads => f.write_str("heads"),
            Target::Base => f.write_str("base"),
            Target::Rev(s) => f.write_str(s),
            Target::Branch { branch, at } => write!(f, "{branch}@{at}"),
            Target::Relative { from, delta } => write_relative(f, from, *delta),
        }
    }
}

/// A target that cannot be resolved against the graph and applied set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The text is not a target.
    #[error(transparent)]
    Invalid(#[from] ParseTargetError),
    /// `head` (or `X@head`) with several heads.
    #[error("target `{target}` is ambiguous: there are {} heads ({})", heads.len(), list(heads))]
    MultipleHeads {
        /// The target as written.
        target: String,
        /// Every head it could mean, in topological order.
        heads: Vec<String>,
    },
    /// A walk from the current state (`+1`, `billing@-1`) when the database
    /// (or branch) has several current heads.
    #[error(
        "target `{target}` is ambiguous: it counts from the current head, and there are {} ({})",
        heads.len(),
        list(heads)
    )]
    MultipleCurrentHeads {
        /// The target as written.
        target: String,
        /// The applied heads it could start from.
        heads: Vec<String>,
    },
    /// A prefix matching several ids.
    #[error("revision `{prefix}` is ambiguous: it matches {}", list(candidates))]
    AmbiguousPrefix {
        /// The prefix as written.
        prefix: String,
        /// Every matching id, sorted.
        candidates: Vec<String>,
    },
    /// No id, label or prefix matches.
    #[error("no revision or branch label matches `{text}`")]
    UnknownRevision {
        /// The text as written.
        text: String,
        /// Close ids and labels, best first, for "did you mean".
        similar: Vec<String>,
    },
    /// The `X` of `X@Y` names no label or revision.
    #[error("`{branch}` before `@` is neither a branch label nor a revision")]
    UnknownBranch {
        /// The text before `@`.
        branch: String,
        /// Close ids and labels, best first.
        similar: Vec<String>,
    },
    /// `X@rev` where the revision is not on that branch.
    #[error("revision `{revision}` is not on branch `{branch}`")]
    NotOnBranch {
        /// The revision id.
        revision: String,
        /// The branch as written.
        branch: String,
    },
    /// A relative walk that reaches a merge (down) or branch point (up) or
    /// several bases (up from nothing) with more than one way to go.
    #[error(
        "target `{target}` is ambiguous: the walk reaches {} where it could go to {}",
        from.as_deref().map(|f| format!("`{f}`")).unwrap_or_else(|| "the base".into()),
        list(choices)
    )]
    AmbiguousWalk {
        /// The target as written.
        target: String,
        /// Where the walk stood; `None` before the first revision.
        from: Option<String>,
        /// The revisions it could step to (parents of a merge, children of a
        /// branch point, or bases).
        choices: Vec<String>,
    },
    /// A relative walk longer than the history allows.
    #[error(
        "target `{target}` overshoots: there {} only {available} {} {}, not {requested}",
        if *available == 1 { "is" } else { "are" },
        if *available == 1 { "step" } else { "steps" },
        if *upward { "up" } else { "down" }
    )]
    Overshoot {
        /// The target as written.
        target: String,
        /// Steps asked for.
        requested: u64,
        /// Steps that exist.
        available: u64,
        /// Whether the walk went up (towards heads).
        upward: bool,
    },
    /// `-N` (or `X@-N`) when nothing (on that branch) is applied.
    #[error("target `{target}` counts down from the current state, but no revision is applied{}", branch.as_deref().map(|b| format!(" on branch `{b}`")).unwrap_or_default())]
    NothingApplied {
        /// The target as written.
        target: String,
        /// The branch, for `X@-N`.
        branch: Option<String>,
    },
}

fn list(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

impl TargetError {
    /// A stable name for scripts (`-f json`); never changes for a variant.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetError::Invalid(_) => "invalid_target",
            TargetError::MultipleHeads { .. } => "multiple_heads",
            TargetError::MultipleCurrentHeads { .. } => "multiple_current_heads",
            TargetError::AmbiguousPrefix { .. } => "ambiguous_revision",
            TargetError::UnknownRevision { .. } => "unknown_revision",
            TargetError::UnknownBranch { .. } => "unknown_branch",
            TargetError::NotOnBranch { .. } => "not_on_branch",
            TargetError::AmbiguousWalk { .. } => "ambiguous_walk",
            TargetError::Overshoot { .. } => "overshoot",
            TargetError::NothingApplied { .. } => "nothing_applied",
        }
    }
}

/// Where a target puts the database, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// These revisions applied (with everything they need). Several only for
    /// `heads`; empty for `head`/`heads` on a history without revisions.
    Revisions(Vec<RevIndex>),
    /// Nothing applied (`base`).
    Base,
    /// Nothing of the branch owned by this revision applied: where a walk
    /// from the current state (`X@-N`) lands when it goes down off the
    /// branch's first revision. See [`Graph::branch_members`].
    BranchBase(RevIndex),
    /// These base revisions (and so all their descendants, and what needs
    /// those) not applied: where `REV-N` lands when it walks down off a base
    /// (one base), and `X@base`, which names the roots of `X`'s lineage (all
    /// of them, so branches that share a root go with it, as in Alembic).
    Before(Vec<RevIndex>),
}

/// A branch named before `@`, looked up once.
struct Branch<'a> {
    text: &'a str,
    /// [`Graph::branch_members`]: where walks from the current state stay.
    members: Vec<bool>,
    /// [`Graph::lineage`]: what every other `X@...` form works on.
    lineage: Vec<bool>,
    owner: RevIndex,
}

/// The graph and applied set a target is resolved against.
struct Ctx<'a> {
    graph: &'a Graph,
    applied: &'a [RevIndex],
    target: &'a Target,
}

impl Target {
    /// The revisions a target names, for commands that need revisions
    /// (`show`, `stamp`, `history -r`, `merge`). `base`, `X@base` and a walk
    /// off a base name no revision and give an empty list.
    pub fn resolve(
        &self,
        graph: &Graph,
        applied: &[RevIndex],
    ) -> Result<Vec<RevIndex>, TargetError> {
        Ok(match self.destination(graph, applied)? {
            Destination::Revisions(revs) => revs,
            Destination::Base | Destination::BranchBase(_) | Destination::Before(_) => Vec::new(),
        })
    }

    /// Where the target puts the database. `applied` is the applied set (any
    /// order); it matters only for walks from the current state.
    pub fn destination(
        &self,
        graph: &Graph,
        applied: &[RevIndex],
    ) -> Result<Destination, TargetError> {
        let cx = Ctx {
            graph,
            applied,
            target: self,
        };
        match self {
            Target::Head => cx.single_head(None).map(one_or_none),
            Target::Heads => Ok(Destination::Revisions(graph.real_heads())),
            Target::Base => Ok(Destination::Base),
            Target::Rev(text) => cx
                .symbol(text, None)
                .map(|i| Destination::Revisions(vec![i])),
            Target::Relative { from, delta } => {
                // `feature-2` is a bare label when such a label exists: labels
                // may contain `-`, and the parser cannot know the labels.
                if let (Some(Anchor::Rev(name)), true) = (from, *delta < 0) {
                    if let Some(owner) = graph.label_owner(&format!("{name}{delta}")) {
                        return Ok(Destination::Revisions(vec![owner]));
                    }
                }
                cx.walk(from.as_ref(), *delta, None)
            }
            Target::Branch { branch, at } => {
                let branch = cx.branch(branch)?;
                match at {
                    BranchAt::Head => cx.single_head(Some(&branch)).map(one_or_none),
                    BranchAt::Base => Ok(Destination::Before(lineage_roots(graph, &branch))),
                    BranchAt::Rev(text) => cx
                        .symbol(text, Some(&branch))
                        .map(|i| Destination::Revisions(vec![i])),
                    BranchAt::Relative { from, delta } => {
                        cx.walk(from.as_ref(), *delta, Some(&branch))
                    }
                }
            }
        }
    }
}

impl Target {
    /// The revision that names the branch of a `X@...` target (the label's
    /// owner, or the revision `X` names), whose [`Graph::lineage`] the
    /// target works on; `None` for other targets, or when `X` names nothing
    /// (which [`Target::destination`] reports).
    pub fn branch_owner(&self, graph: &Graph) -> Option<RevIndex> {
        let Target::Branch { branch, .. } = self else {
            return None;
        };
        graph
            .label_owner(branch)
            .or_else(|| match graph.resolve_prefix(branch) {
                PrefixMatch::One(i) => Some(i),
                _ => None,
            })
    }
}

/// The roots of a branch's lineage: its members without a parent, in
/// topological order. Every ancestor is in the lineage, so these are the
/// bases the labelled revision is built on.
fn lineage_roots(graph: &Graph, branch: &Branch) -> Vec<RevIndex> {
    graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&i| branch.lineage[i] && graph.is_base(i))
        .collect()
}

fn one_or_none(head: Option<RevIndex>) -> Destination {
    Destination::Revisions(head.into_iter().collect())
}

impl Ctx<'_> {
    fn id(&self, i: RevIndex) -> String {
        self.graph.rev(i).id.clone()
    }

    fn ids(&self, revs: &[RevIndex]) -> Vec<String> {
        revs.iter().map(|&i| self.id(i)).collect()
    }

    fn text(&self) -> String {
        self.target.to_string()
    }

    /// The single head of the graph or branch; `None` for an empty graph.
    fn single_head(&self, branch: Option<&Branch>) -> Result<Option<RevIndex>, TargetError> {
        let mut heads = self.graph.heads();
        if let Some(b) = branch {
            // The heads on the lineage are those above the labelled revision
            // (its ancestors have children).
            heads.retain(|&h| b.lineage[h]);
        }
        match heads.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(TargetError::MultipleHeads {
                target: self.text(),
                heads: self.ids(many),
            }),
        }
    }

    /// The branch named before `@`: a label first, then a revision.
    fn branch<'b>(&self, text: &'b str) -> Result<Branch<'b>, TargetError> {
        let owner = match self.graph.label_owner(text) {
            Some(owner) => owner,
            None => match self.graph.resolve_prefix(text) {
                PrefixMatch::One(i) => i,
                PrefixMatch::Many(found) => {
                    return Err(TargetError::AmbiguousPrefix {
                        prefix: text.to_string(),
                        candidates: self.ids(&found),
                    })
                }
                PrefixMatch::None => {
                    return Err(TargetError::UnknownBranch {
                        branch: text.to_string(),
                        similar: self.graph.similar_ids(text),
                    })
                }
            },
        };
        Ok(Branch {
            text,
            members: self.graph.branch_members(owner),
            lineage: self.graph.lineage(owner),
            owner,
        })
    }

    /// An id, label or prefix; on a branch, only the revisions of its
    /// lineage.
    fn symbol(&self, text: &str, branch: Option<&Branch>) -> Result<RevIndex, TargetError> {
        let graph = self.graph;
        let check = |i: RevIndex| match branch {
            Some(b) if !b.lineage[i] => Err(TargetError::NotOnBranch {
                revision: self.id(i),
                branch: b.text.to_string(),
            }),
            _ => Ok(i),
        };
        if let Some(i) = graph.index_of(text) {
            return check(i);
        }
        if let Some(i) = graph.label_owner(text) {
            return check(i);
        }
        match graph.resolve_prefix(text) {
            PrefixMatch::One(i) => check(i),
            PrefixMatch::None => Err(TargetError::UnknownRevision {
                text: text.to_string(),
                similar: graph.similar_ids(text),
            }),
            PrefixMatch::Many(mut found) => {
                if let Some(b) = branch {
                    // `billing@ae` narrows the candidates to the lineage
                    // first.
                    let outside = found.clone();
                    found.retain(|&i| b.lineage[i]);
                    match found.as_slice() {
                        [one] => return Ok(*one),
                        [] => {
                            return Err(TargetError::AmbiguousPrefix {
                                prefix: text.to_string(),
                                candidates: self.ids(&outside),
                            })
                        }
                        _ => {}
                    }
                }
                Err(TargetError::AmbiguousPrefix {
                    prefix: text.to_string(),
                    candidates: self.ids(&found),
                })
            }
        }
    }

    /// Walks `delta` steps from `from` (or from the current state), staying on
    /// `branch` when given.
    fn walk(
        &self,
        from: Option<&Anchor>,
        delta: i64,
        branch: Option<&Branch>,
    ) -> Result<Destination, TargetError> {
        let graph = self.graph;
        let upward = delta > 0;
        // A walk from the current state (`X@-N`, `X@+N`) stays on the
        // branch's own revisions, so `billing@-N` never touches another
        // branch; one from a point written in the target (`X@base+N`,
        // `X@REV-N`, `X@head-1`) walks X's lineage, as in Alembic.
        let scope: Option<&[bool]> = branch.map(|b| match from {
            None => b.members.as_slice(),
            Some(_) => b.lineage.as_slice(),
        });
        let in_scope = |i: RevIndex| scope.is_none_or(|s| s[i]);
        // `None` stands for "before the first revision" (of the branch).
        let start: Option<RevIndex> = match from {
            Some(Anchor::Head) => self.single_head(branch)?,
            Some(Anchor::Base) => None,
            Some(Anchor::Rev(text)) => Some(self.symbol(text, branch)?),
            None => {
                // On a branch, a revision only a dependency points to (on
                // another branch) still counts as where the branch stands.
                let mut heads = match branch {
                    None => graph.current_heads(self.applied),
                    Some(_) => graph.applied_tips(self.applied),
                };
                heads.retain(|&h| in_scope(h));
                match heads.as_slice() {
                    [] if upward => None,
                    [] => {
                        return Err(TargetError::NothingApplied {
                            target: self.text(),
                            branch: branch.map(|b| b.text.to_string()),
                        })
                    }
                    [one] => Some(*one),
                    many => {
                        return Err(TargetError::MultipleCurrentHeads {
                            target: self.text(),
                            heads: self.ids(many),
                        })
                    }
                }
            }
        };
        let steps = delta.unsigned_abs();
        let mut at = start;
        // A downward walk off the first revision lands "before" it; only
        // then is the walk finished and any further step an overshoot.
        let mut below: Option<RevIndex> = None;
        for taken in 0..steps {
            let overshoot = || TargetError::Overshoot {
                target: self.text(),
                requested: steps,
                available: taken,
                upward,
            };
            let next: Vec<RevIndex> = if upward {
                match at {
                    Some(i) => graph
                        .children(i)
                        .iter()
                        .copied()
                        .filter(|&c| in_scope(c))
                        .collect(),
                    None => match scope {
                        // The first revisions in scope: those none of whose
                        // parents are (on a lineage, its roots).
                        Some(s) => graph
                            .topo_order()
                            .iter()
                            .copied()
                            .filter(|&i| s[i] && !graph.parents(i).iter().any(|&p| s[p]))
                            .collect(),
                        None => graph.bases(),
                    },
                }
            } else {
                match at {
                    Some(i) => graph
                        .parents(i)
                        .iter()
                        .copied()
                        .filter(|&p| in_scope(p))
                        .collect(),
                    None => return Err(overshoot()),
                }
            };
            match next.as_slice() {
                [] if upward => return Err(overshoot()),
                [] => {
                    below = at;
                    at = None;
                }
                [one] => at = Some(*one),
                many => {
                    let mut choices = many.to_vec();
                    graph.sort_topo(&mut choices);
                    return Err(TargetError::AmbiguousWalk {
                        target: self.text(),
                        from: at.map(|i| self.id(i)),
                        choices: self.ids(&choices),
                    });
                }
            }
        }
        Ok(match (at, below, branch) {
            (Some(i), _, _) => Destination::Revisions(vec![i]),
            (None, _, Some(b)) if from.is_none() => Destination::BranchBase(b.owner),
            // Off a lineage's root: before that root, whatever else is
            // built on it (Alembic walks to `base` there).
            (None, Some(first), _) => Destination::Before(vec![first]),
            (None, None, Some(b)) => Destination::Before(lineage_roots(graph, b)),
            (None, None, None) => Destination::Base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testing::{graph, ids};

    fn t(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> ParseTargetErrorKind {
        match s.parse::<Target>() {
            Ok(t) => panic!("`{s}` parsed as {t:?}"),
            Err(e) => e.kind,
        }
    }

    fn idx(g: &Graph, id: &str) -> RevIndex {
        g.index_of(id).unwrap()
    }

    fn applied(g: &Graph, list: &[&str]) -> Vec<RevIndex> {
        list.iter().map(|id| idx(g, id)).collect()
    }

    /// Resolves `s` to ids, with `on` applied.
    fn res(g: &Graph, on: &[&str], s: &str) -> Result<Vec<String>, TargetError> {
        t(s).resolve(g, &applied(g, on)).map(|r| ids(g, &r))
    }

    fn dest(g: &Graph, on: &[&str], s: &str) -> Destination {
        t(s).destination(g, &applied(g, on)).unwrap()
    }

    #[test]
    fn parse_keywords_symbols_and_relatives() {
        use Target::*;
        assert_eq!(t("head"), Head);
        assert_eq!(t("heads"), Heads);
        assert_eq!(t("base"), Base);
        assert_eq!(t("ae10"), Rev("ae10".into()));
        assert_eq!(t("my-label"), Rev("my-label".into()));
        assert_eq!(
            t("+2"),
            Relative {
                from: None,
                delta: 2
            }
        );
        assert_eq!(
            t("-1"),
            Relative {
                from: None,
                delta: -1
            }
        );
        assert_eq!(
            t("ae10+2"),
            Relative {
                from: Some(Anchor::Rev("ae10".into())),
                delta: 2
            }
        );
        assert_eq!(
            t("head-1"),
            Relative {
                from: Some(Anchor::Head),
                delta: -1
            }
        );
        assert_eq!(
            t("base+3"),
            Relative {
                from: Some(Anchor::Base),
                delta: 3
            }
        );
        assert_eq!(
            t("billing@head"),
            Branch {
                branch: "billing".into(),
                at: BranchAt::Head
            }
        );
        assert_eq!(
            t("billing@base"),
            Branch {
                branch: "billing".into(),
                at: BranchAt::Base
            }
        );
        assert_eq!(
            t("billing@ae10"),
            Branch {
                branch: "billing".into(),
                at: BranchAt::Rev("ae10".into())
            }
        );
        assert_eq!(
            t("billing@-1"),
            Branch {
                branch: "billing".into(),
                at: BranchAt::Relative {
                    from: None,
                    delta: -1
                }
            }
        );
        assert_eq!(
            t("billing@ae10+2"),
            Branch {
                branch: "billing".into(),
                at: BranchAt::Relative {
                    from: Some(Anchor::Rev("ae10".into())),
                    delta: 2
                }
            }
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "head",
            "heads",
            "base",
            "ae10",
            "user_foo",
            "my-label",
            "+2",
            "-1",
            "ae10+2",
            "ae10-12",
            "head-1",
            "base+1",
            "billing@head",
            "billing@base",
            "billing@ae10",
            "billing@-1",
            "billing@+3",
            "billing@ae10+2",
            "billing@head-1",
            "my-label@-2",
        ] {
            assert_eq!(t(s).to_string(), s);
            assert_eq!(t(&t(s).to_string()), t(s));
        }
        assert_eq!(t("+02").to_string(), "+2");
    }

    #[test]
    fn parse_errors() {
        use ParseTargetErrorKind as K;
        assert_eq!(bad(""), K::Empty);
        assert_eq!(bad("billing@@x"), K::SeveralAt);
        assert_eq!(bad("a@b@c"), K::SeveralAt);
        assert_eq!(bad("+"), K::MissingSteps);
        assert_eq!(bad("-"), K::MissingSteps);
        assert_eq!(bad("a+"), K::MissingSteps);
        assert_eq!(bad("a+b"), K::MissingSteps);
        assert_eq!(bad("+0"), K::ZeroSteps);
        assert_eq!(bad("a-0"), K::ZeroSteps);
        assert_eq!(bad("+99999999999999999999"), K::TooManySteps);
        assert_eq!(bad("@head"), K::EmptyBranch);
        assert_eq!(bad("billing@"), K::EmptyAfterAt);
        assert_eq!(bad("head@x"), K::KeywordBranch("head"));
        assert_eq!(bad("billing@heads"), K::HeadsNotAllowed);
        assert_eq!(bad("heads-1"), K::HeadsNotAllowed);
        assert_eq!(bad("ae 10"), K::UnexpectedChar(' '));
        assert_eq!(bad("ae10;drop"), K::UnexpectedChar(';'));
        assert_eq!(bad("-x"), K::BadStart("-x".into()));
        assert_eq!(bad("a+-1"), K::MissingSteps);
        let e = "billing@@x".parse::<Target>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid target `billing@@x`: only one `@` is allowed"
        );
        assert_eq!(TargetError::from(e).kind(), "invalid_target");
    }

    #[test]
    fn head_and_heads() {
        //   c   d
        //    \ /
        //     b
        //     |
        //     a
        let g = graph("a:- b:a c:b d:b");
        let e = res(&g, &[], "head").unwrap_err();
        assert_eq!(e.kind(), "multiple_heads");
        assert_eq!(
            e,
            TargetError::MultipleHeads {
                target: "head".into(),
                heads: vec!["c".into(), "d".into()]
            }
        );
        assert_eq!(
            e.to_string(),
            "target `head` is ambiguous: there are 2 heads (`c` and `d`)"
        );
        assert_eq!(res(&g, &[], "heads").unwrap(), ["c", "d"]);
        assert_eq!(res(&g, &[], "base").unwrap(), Vec::<String>::new());
        let linear = graph("a:- b:a");
        assert_eq!(res(&linear, &[], "head").unwrap(), ["b"]);
        let empty = graph("");
        assert_eq!(res(&empty, &[], "head").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn exact_id_beats_prefix_and_labels() {
        // abc2
        //  |
        // abc1
        //  |
        // user_foo (billing)
        //  |
        // user
        let g = graph("user:- user_foo:user::billing abc1:user_foo abc2:abc1");
        assert_eq!(res(&g, &[], "user").unwrap(), ["user"]);
        assert_eq!(res(&g, &[], "user_").unwrap(), ["user_foo"]);
        assert_eq!(res(&g, &[], "u").unwrap_err().kind(), "ambiguous_revision");
        assert_eq!(res(&g, &[], "billing").unwrap(), ["user_foo"]);
        let e = res(&g, &[], "abc").unwrap_err();
        assert_eq!(
            e,
            TargetError::AmbiguousPrefix {
                prefix: "abc".into(),
                candidates: vec!["abc1".into(), "abc2".into()]
            }
        );
        assert_eq!(
            e.to_string(),
            "revision `abc` is ambiguous: it matches `abc1` and `abc2`"
        );
        let e = res(&g, &[], "abc3").unwrap_err();
        assert_eq!(e.kind(), "unknown_revision");
        assert!(
            matches!(&e, TargetError::UnknownRevision { text, similar } if text == "abc3" && similar == &["abc1", "abc2"])
        );
        assert_eq!(e.to_string(), "no revision or branch label matches `abc3`");
    }

    #[test]
    fn labelled_branches() {
        //  b2 (billing)   s2 (shop)
        //  |              |
        //  b1             s1
        //    \           /
        //     +-- a ----+
        let g = graph("a:- b1:a b2:b1::billing s1:a s2:s1::shop");
        assert_eq!(res(&g, &[], "billing@head").unwrap(), ["b2"]);
        assert_eq!(res(&g, &[], "billing@b1").unwrap(), ["b1"]);
        assert_eq!(
            res(&g, &[], "shop@s").unwrap_err().kind(),
            "ambiguous_revision"
        );
        let e = res(&g, &[], "billing@s1").unwrap_err();
        assert_eq!(
            e,
            TargetError::NotOnBranch {
                revision: "s1".into(),
                branch: "billing".into()
            }
        );
        assert_eq!(e.kind(), "not_on_branch");
        assert_eq!(e.to_string(), "revision `s1` is not on branch `billing`");
        // A revision can name its branch too.
        assert_eq!(res(&g, &[], "s1@head").unwrap(), ["s2"]);
        assert_eq!(res(&g, &[], "a@head").unwrap_err().kind(), "multiple_heads");
        let e = res(&g, &[], "bill@head").unwrap_err();
        assert_eq!(e.kind(), "unknown_branch");
        // `X@base` is before the roots of X's lineage: here the root `a`
        // that billing shares with shop.
        assert_eq!(
            dest(&g, &[], "billing@base"),
            Destination::Before(vec![idx(&g, "a")])
        );
        assert_eq!(res(&g, &[], "billing@base").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn label_at_prefix_narrows_to_the_branch() {
        // fa (billing)   fb (shop)
        //   \           /
        //    +--- a ---+
        let g = graph("a:- fa:a::billing fb:a::shop");
        assert_eq!(res(&g, &[], "f").unwrap_err().kind(), "ambiguous_revision");
        assert_eq!(res(&g, &[], "billing@f").unwrap(), ["fa"]);
        assert_eq!(res(&g, &[], "shop@f").unwrap(), ["fb"]);
        let e = res(&g, &[], "billing@fb").unwrap_err();
        assert_eq!(e.kind(), "not_on_branch");
    }

    #[test]
    fn hyphenated_label_is_not_a_walk() {
        // b (feature-2)
        // |
        // a
        let g = graph("a:- b:a::feature-2");
        assert_eq!(res(&g, &[], "feature-2").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "feature-2@head").unwrap(), ["b"]);
    }

    #[test]
    fn relative_walks_and_overshoot() {
        // d
        // |
        // c
        // |
        // b
        // |
        // a
        let g = graph("a:- b:a c:b d:c");
        assert_eq!(res(&g, &["a", "b"], "+1").unwrap(), ["c"]);
        assert_eq!(res(&g, &["a", "b"], "+2").unwrap(), ["d"]);
        assert_eq!(res(&g, &["a", "b"], "-1").unwrap(), ["a"]);
        assert_eq!(
            dest(&g, &["a", "b"], "-2"),
            Destination::Before(vec![idx(&g, "a")])
        );
        assert_eq!(res(&g, &[], "b+2").unwrap(), ["d"]);
        assert_eq!(res(&g, &[], "d-3").unwrap(), ["a"]);
        assert_eq!(res(&g, &[], "head-1").unwrap(), ["c"]);
        assert_eq!(res(&g, &[], "base+1").unwrap(), ["a"]);
        // Empty database: `+N` counts from the root.
        assert_eq!(res(&g, &[], "+1").unwrap(), ["a"]);
        assert_eq!(res(&g, &[], "+4").unwrap(), ["d"]);
        let e = res(&g, &["a", "b"], "+5").unwrap_err();
        assert_eq!(
            e,
            TargetError::Overshoot {
                target: "+5".into(),
                requested: 5,
                available: 2,
                upward: true
            }
        );
        assert_eq!(
            e.to_string(),
            "target `+5` overshoots: there are only 2 steps up, not 5"
        );
        let e = res(&g, &["a", "b"], "-3").unwrap_err();
        assert!(matches!(
            e,
            TargetError::Overshoot {
                requested: 3,
                available: 2,
                upward: false,
                ..
            }
        ));
        assert_eq!(res(&g, &[], "+5").unwrap_err().kind(), "overshoot");
        assert_eq!(res(&g, &[], "head+1").unwrap_err().kind(), "overshoot");
        let e = res(&g, &[], "-1").unwrap_err();
        assert_eq!(e.kind(), "nothing_applied");
        assert_eq!(
            e.to_string(),
            "target `-1` counts down from the current state, but no revision is applied"
        );
    }

    #[test]
    fn ambiguous_walks_name_the_choices() {
        //     m
        //    / \
        //   b   c
        //    \ /
        //     a
        let g = graph("a:- b:a c:a m:b,c");
        let all = ["a", "b", "c", "m"];
        let e = res(&g, &all, "-1").unwrap_err();
        assert_eq!(
            e,
            TargetError::AmbiguousWalk {
                target: "-1".into(),
                from: Some("m".into()),
                choices: vec!["b".into(), "c".into()]
            }
        );
        assert_eq!(
            e.to_string(),
            "target `-1` is ambiguous: the walk reaches `m` where it could go to `b` and `c`"
        );
        let e = res(&g, &["a"], "+1").unwrap_err();
        assert!(
            matches!(&e, TargetError::AmbiguousWalk { from: Some(f), choices, .. } if f == "a" && choices == &["b", "c"])
        );
        // `+1` with several current heads.
        let e = res(&g, &["a", "b", "c"], "+1").unwrap_err();
        assert_eq!(
            e,
            TargetError::MultipleCurrentHeads {
                target: "+1".into(),
                heads: vec!["b".into(), "c".into()]
            }
        );
        assert_eq!(e.kind(), "multiple_current_heads");
        assert!(e.to_string().contains("`b` and `c`"));
        // Several bases: `+1` from nothing is ambiguous.
        let two = graph("x1:- y1:-");
        let e = res(&two, &[], "+1").unwrap_err();
        assert!(
            matches!(&e, TargetError::AmbiguousWalk { from: None, choices, .. } if choices == &["x1", "y1"])
        );
        assert!(e.to_string().contains("reaches the base"), "{e}");
    }

    #[test]
    fn branch_walks_stay_on_the_branch() {
        //     m (merges b2 and s1)
        //    / \
        //   b2  |        b2 carries `billing`, s1 carries `shop`
        //   |   s1
        //   b1  |
        //    \ /
        //     a
        let g = graph("a:- b1:a b2:b1::billing s1:a::shop m:b2,s1");
        let all = ["a", "b1", "b2", "s1", "m"];
        // `-1` from the merge is ambiguous; `billing@-1` is not... except
        // that m is on both branches, so start below it.
        assert_eq!(res(&g, &all, "-1").unwrap_err().kind(), "ambiguous_walk");
        assert_eq!(res(&g, &all, "billing@-1").unwrap(), ["b2"]);
        assert_eq!(res(&g, &all, "billing@-2").unwrap(), ["b1"]);
        assert_eq!(res(&g, &all, "shop@-1").unwrap(), ["s1"]);
        assert_eq!(
            dest(&g, &all, "shop@-2"),
            Destination::BranchBase(idx(&g, "s1"))
        );
        assert_eq!(res(&g, &all, "shop@-3").unwrap_err().kind(), "overshoot");
        // Up from nothing on the branch: its first revision.
        assert_eq!(res(&g, &["a"], "billing@+1").unwrap(), ["b1"]);
        assert_eq!(res(&g, &[], "billing@+2").unwrap(), ["b2"]);
        assert_eq!(res(&g, &["a", "b1"], "billing@+1").unwrap(), ["b2"]);
        let e = res(&g, &["a"], "billing@-1").unwrap_err();
        assert_eq!(
            e,
            TargetError::NothingApplied {
                target: "billing@-1".into(),
                branch: Some("billing".into())
            }
        );
        assert_eq!(res(&g, &[], "billing@b2-1").unwrap(), ["b1"]);
        assert_eq!(res(&g, &[], "billing@head-2").unwrap(), ["b1"]);
    }

    #[test]
    fn a_branch_is_its_lineage_below_the_branch_point_too() {
        //   d1    d2
        //   |     |
        //   c1    c2 (feature)
        //    \   /
        //      b
        //      |
        //      a
        let g = graph("a:- b:a c1:b d1:c1 c2:b::feature d2:c2");
        // Any revision of the lineage, the branch point and below included.
        assert_eq!(res(&g, &[], "feature@b").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "feature@a").unwrap(), ["a"]);
        assert_eq!(res(&g, &[], "feature@d2").unwrap(), ["d2"]);
        assert_eq!(res(&g, &[], "feature@head").unwrap(), ["d2"]);
        // The sibling branch is outside it, with an error naming the branch.
        for outside in ["c1", "d1"] {
            let e = res(&g, &[], &format!("feature@{outside}")).unwrap_err();
            assert_eq!(
                e,
                TargetError::NotOnBranch {
                    revision: outside.into(),
                    branch: "feature".into()
                }
            );
        }
        // Before `@`, a revision names its own lineage.
        assert_eq!(res(&g, &[], "c2@b").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "c1@b").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "c1@d2").unwrap_err().kind(), "not_on_branch");
        assert_eq!(
            res(&g, &[], "d@head").unwrap_err().kind(),
            "ambiguous_revision"
        );
        assert_eq!(res(&g, &[], "d1@head").unwrap(), ["d1"]);
        // `X@base+N` counts up the lineage from its root.
        assert_eq!(res(&g, &[], "feature@base+1").unwrap(), ["a"]);
        assert_eq!(res(&g, &[], "feature@base+2").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "feature@base+3").unwrap(), ["c2"]);
        assert_eq!(res(&g, &[], "feature@base+4").unwrap(), ["d2"]);
        assert_eq!(res(&g, &[], "c1@base+3").unwrap(), ["c1"]);
        let e = res(&g, &[], "feature@base+5").unwrap_err();
        assert_eq!(
            e,
            TargetError::Overshoot {
                target: "feature@base+5".into(),
                requested: 5,
                available: 4,
                upward: true
            }
        );
        // Walks from a written point follow the lineage down and up.
        assert_eq!(res(&g, &[], "feature@head-2").unwrap(), ["b"]);
        assert_eq!(res(&g, &[], "feature@a+2").unwrap(), ["c2"]);
        assert_eq!(
            dest(&g, &[], "feature@d2-4"),
            Destination::Before(vec![idx(&g, "a")])
        );
        assert_eq!(
            res(&g, &[], "feature@d2-5").unwrap_err().kind(),
            "overshoot"
        );
        // `X@base` is before the lineage's roots.
        assert_eq!(
            dest(&g, &[], "feature@base"),
            Destination::Before(vec![idx(&g, "a")])
        );
        // A walk from the current state still stays on the branch's own
        // revisions (c2 and d2): `feature@-2` lands before c2, not on b.
        let all = ["a", "b", "c1", "d1", "c2", "d2"];
        assert_eq!(res(&g, &all, "feature@-1").unwrap(), ["c2"]);
        assert_eq!(
            dest(&g, &all, "feature@-2"),
            Destination::BranchBase(idx(&g, "c2"))
        );
        assert_eq!(res(&g, &all, "feature@-3").unwrap_err().kind(), "overshoot");
    }

    #[test]
    fn a_prefix_after_at_is_looked_up_in_the_lineage() {
        //  y5      y6
        //  |       |
        //  x2      x3 (right)
        //  (left)  |
        //    \    /
        //      x1
        //      |
        //      r0
        let g = graph("r0:- x1:r0 x2:x1::left x3:x1::right y5:x2 y6:x3");
        // Ambiguous in the whole graph, unique in the lineage.
        assert_eq!(res(&g, &[], "y").unwrap_err().kind(), "ambiguous_revision");
        assert_eq!(res(&g, &[], "left@y").unwrap(), ["y5"]);
        assert_eq!(res(&g, &[], "right@y").unwrap(), ["y6"]);
        // Two revisions of the lineage, the branch point one of them.
        let e = res(&g, &[], "left@x").unwrap_err();
        assert_eq!(
            e,
            TargetError::AmbiguousPrefix {
                prefix: "x".into(),
                candidates: vec!["x1".into(), "x2".into()]
            }
        );
        // A prefix of one revision outside the lineage names the branch.
        assert_eq!(
            res(&g, &[], "left@y6").unwrap_err(),
            TargetError::NotOnBranch {
                revision: "y6".into(),
                branch: "left".into()
            }
        );
    }

    #[test]
    fn heads_leaves_out_a_revision_only_a_dependency_points_to() {
        // x2 ..depends_on..> y1
        // |
        // x1
        let g = graph("x1:- x2:x1:y1 y1:-");
        assert_eq!(res(&g, &[], "heads").unwrap(), ["x2"]);
        // `head` counts every head, as Alembic's does.
        assert_eq!(res(&g, &[], "head").unwrap_err().kind(), "multiple_heads");
        assert_eq!(ids(&g, &g.heads()), ["y1", "x2"]);
        // With a line of its own above it, y1's line has a head again.
        let g = graph("x1:- x2:x1:y1 y1:- y2:y1");
        assert_eq!(res(&g, &[], "heads").unwrap(), ["x2", "y2"]);
    }

    #[test]
    fn every_kind_is_stable() {
        let g = graph("a:- b:a c:a");
        for (target, kind) in [
            ("head", "multiple_heads"),
            ("zz", "unknown_revision"),
            ("z", "unknown_revision"),
            ("-5", "overshoot"),
            ("b@head-5", "overshoot"),
            ("nope@head", "unknown_branch"),
            ("b@c", "not_on_branch"),
            ("+1", "ambiguous_walk"),
        ] {
            let applied: &[&str] = if target == "+1" { &["a"] } else { &["a", "b"] };
            assert_eq!(
                res(&g, applied, target).unwrap_err().kind(),
                kind,
                "{target}"
            );
        }
    }
}
