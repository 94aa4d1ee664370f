//! The library's top-level error: one variant per phase, each wrapping that
//! phase's typed error, plus the checks the [`crate::Migrator`] makes itself.

use crate::backend::BackendError;
use crate::config::ConfigError;
use crate::executor::ExecError;
use crate::graph::LoadError;
use crate::history::HistoryError;
use crate::plan::PlanError;
use crate::rebase::Rebase;
use crate::revision::quoted;
use crate::squash::SquashError;
use crate::target::{ParseTargetError, TargetError};
use crate::url::UrlError;

/// Anything the library can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// config.yaml is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The revision files do not form a valid graph.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The database URL is invalid.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The database failed outside a migration step.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A migration step failed; carries what ran before it.
    #[error(transparent)]
    Migration(Box<ExecError>),
    /// No plan can be made for the target.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A `history` range selects nothing it could list.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A database inside a squashed run cannot go on with these files
    /// (boxed: the largest variant).
    #[error(transparent)]
    Squash(Box<SquashError>),
    /// No database URL anywhere.
    #[error("no database URL: none given with --database-url, DATABASE_URL or `database_url` in config.yaml")]
    NoDatabaseUrl,
    /// The tracking table records revisions no file defines.
    #[error("the database records {} that no file in the script directory defines: {}", if revisions.len() == 1 { "a revision" } else { "revisions" }, quoted(revisions))]
    UnknownApplied {
        /// The unknown ids.
        revisions: Vec<String>,
        /// The tracking table.
        table: String,
    },
    /// The applied set is not closed under ancestors, and the parents the
    /// table recorded match the files: the table was edited.
    #[error("the database records `{revision}` as applied but not its parent `{parent}`: the tracking table was edited by hand or by another tool")]
    AppliedWithoutParent {
        /// The applied revision.
        revision: String,
        /// Its missing parent or dependency.
        parent: String,
        /// The recorded revisions below no other recorded one: `rev stamp`
        /// of them records the missing ancestors and keeps every row.
        stamp_targets: Vec<String>,
    },
    /// The applied set is not closed under ancestors because the history
    /// was rebased under the database (the recorded parents tell).
    #[error("{0}")]
    RebasedHistory(Box<Rebase>),
    /// Applied revisions whose files changed.
    #[error("{} changed since {} applied: {}", if revisions.len() == 1 { "a revision file" } else { "revision files" }, if revisions.len() == 1 { "it was" } else { "they were" }, quoted(revisions))]
    Drift {
        /// The drifted ids.
        revisions: Vec<String>,
    },
    /// A revision named for `accept` is not applied.
    #[error("revision `{revision}` is not applied, so there is no checksum to accept")]
    NotApplied {
        /// The id.
        revision: String,
    },
}

impl From<Box<SquashError>> for Error {
    fn from(e: Box<SquashError>) -> Self {
        Error::Squash(e)
    }
}

impl From<TargetError> for Error {
    fn from(e: TargetError) -> Self {
        Error::Plan(PlanError::Target(e))
    }
}

impl From<ParseTargetError> for Error {
    fn from(e: ParseTargetError) -> Self {
        Error::Plan(PlanError::Target(TargetError::Invalid(e)))
    }
}

impl Error {
    /// A stable name for scripts (`-f json`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(e) => e.kind(),
            Error::Load(e) => e.kind(),
            Error::Url(e) => e.kind(),
            Error::Backend(e) => e.kind(),
            Error::Migration(e) => e.kind(),
            Error::Plan(e) => e.kind(),
            Error::Squash(e) => e.kind(),
            Error::History(e) => e.kind(),
            Error::NoDatabaseUrl => "no_database_url",
            Error::UnknownApplied { .. } => "unknown_applied_revision",
            Error::AppliedWithoutParent { .. } => "applied_without_parent",
            Error::RebasedHistory(_) => "rebased_history",
            Error::Drift { .. } => "drift",
            Error::NotApplied { .. } => "accept_not_applied",
        }
    }
}
