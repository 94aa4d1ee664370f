//! Stopping a run from outside: a signal handler sets the token, and the
//! executor and the backend (waiting for a connection or the lock) look at it.
//! Its own module so that both can use it without depending on each other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Set from a signal handler to stop a run.
///
/// Two levels, matching a first and a second Ctrl+C:
/// - [`CancelToken::cancel`]: stop before the next step; the running step
///   finishes (and commits) first. Also ends a wait for a connection or for
///   the migration lock, since nothing has run yet then.
/// - [`CancelToken::abort_running`]: also cancel the running step's
///   statement where that can be undone: on PostgreSQL, for a transactional
///   step, the executor sends `pg_cancel_backend` from a second connection
///   and the step's transaction (SQL and tracking row together) rolls back.
///   Elsewhere the step still runs to its end: MySQL's DDL commits as it
///   goes, so cutting it short would leave a half-applied revision, and
///   SQLite offers no cancel that sqlx exposes.
///
/// Cheap to clone; all clones share one state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    abort: AtomicBool,
    changed: Notify,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Ask the run to stop after the step that is running.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }

    /// Ask the run to stop now: [`CancelToken::cancel`], and cancel the
    /// running step where the database rolls it back whole.
    pub fn abort_running(&self) {
        self.0.abort.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// Whether [`CancelToken::cancel`] (or `abort_running`) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Whether [`CancelToken::abort_running`] was called.
    pub fn is_aborting(&self) -> bool {
        self.0.abort.load(Ordering::SeqCst)
    }

    /// Resolves once the token is cancelled.
    pub async fn cancelled(&self) {
        self.wait_for(Self::is_cancelled).await
    }

    /// Resolves once the running step is to be aborted.
    pub async fn aborted(&self) {
        self.wait_for(Self::is_aborting).await
    }

    async fn wait_for(&self, done: fn(&CancelToken) -> bool) {
        loop {
            // Register before checking, so a notification between the check
            // and the await is not lost.
            let notified = self.0.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(self) {
                return;
            }
            notified.await;
        }
    }
}
