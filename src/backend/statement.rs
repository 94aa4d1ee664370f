//! What running a step's statements reports: each statement as it finishes
//! (to an observer, for `rev -v`), and where a failed script failed.

use std::time::Duration;

/// Called with a statement's 1-based index, its first line and how long it
/// took, as each statement of a step finishes.
pub type StatementObserver = std::sync::Arc<ObserveStatement>;

/// The function behind a [`StatementObserver`].
pub type ObserveStatement = dyn Fn(usize, &str, Duration) + Send + Sync;

/// What a failed script run tells about where it failed.
pub(super) struct ScriptFailure {
    pub(super) statement_index: Option<usize>,
    pub(super) statement: String,
    /// The database's message, as [`super::diagnose::describe`] renders it.
    pub(super) message: String,
}
