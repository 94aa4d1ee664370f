//! SQLite: connecting, and the migration lock as an OS file lock.
//!
//! SQLite has no session lock that outlives a transaction, and holding a
//! write transaction for the whole run would block the steps' own
//! transactions. So the lock is an exclusive `flock` on `<database>.lock`
//! beside the database file: the OS drops it when the process dies, so a
//! killed `rev` never leaves a stale lock. The holder writes its pid into the
//! file so a timeout can name it. In-memory databases are private to their
//! connection and need no lock.
//!
//! Foreign keys: sqlx turns `PRAGMA foreign_keys` on for every connection,
//! and the pragma is a no-op inside a transaction, so a revision cannot turn
//! it off for itself. With it on, SQLite's own table-rebuild recipe (create
//! the new table, copy, `DROP TABLE old`, rename) runs an implicit `DELETE`
//! on the dropped parent that fires `ON DELETE CASCADE` and empties the
//! child tables. So the migration connection runs with enforcement off, as
//! SQLite's schema-change procedure asks (and as the `sqlite3` shell does by
//! default), and the step logic in `mod.rs` runs `PRAGMA foreign_key_check`
//! before each commit instead: a revision that leaves a dangling reference
//! is rolled back.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions as _;

use super::{BackendError, LOCK_POLL};
use crate::cancel::CancelToken;
use crate::url::DatabaseUrl;

pub(super) struct State {
    pub(super) conn: SqliteConnection,
    lock_file: Option<File>,
}

impl State {
    pub(super) async fn connect(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        Self::connect_with(url, false).await
    }

    /// Opens the file read-only: never creates it, whatever `mode=` says.
    pub(super) async fn connect_read_only(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        Self::connect_with(url, true).await
    }

    async fn connect_with(url: &DatabaseUrl, read_only: bool) -> Result<State, sqlx::Error> {
        let query = url
            .sqlite_query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let opts = match url.sqlite_path() {
            None => SqliteConnectOptions::from_str(&format!("sqlite::memory:{query}"))?,
            // Parse only the query through sqlx (`mode=rwc` etc.), then set the
            // already-resolved path directly so no percent-decoding touches it.
            Some(path) => SqliteConnectOptions::from_str(&format!("sqlite://placeholder{query}"))?
                .filename(path),
        };
        let opts = opts.foreign_keys(false);
        // An in-memory database is new and empty either way.
        let opts = if read_only && url.sqlite_path().is_some() {
            opts.read_only(true).create_if_missing(false)
        } else {
            opts
        };
        Ok(State {
            conn: opts.connect().await?,
            lock_file: None,
        })
    }

    pub(super) async fn lock(
        &mut self,
        url: &DatabaseUrl,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<(), BackendError> {
        let Some(db_path) = url.sqlite_path() else {
            return Ok(());
        };
        let path = lock_path(db_path);
        let lock_err = |what: &str, e: std::io::Error| BackendError::Lock {
            url: url.to_string(),
            message: format!("{what} `{}`: {e}", path.display()),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| lock_err("cannot open lock file", e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    // A cancelled run still takes a free lock (to report its
                    // plan as not run); it only stops waiting for a busy one.
                    if cancel.is_cancelled() {
                        return Err(BackendError::Interrupted {
                            during: "waiting for the migration lock",
                        });
                    }
                    if start.elapsed() >= timeout {
                        return Err(BackendError::LockTimeout {
                            url: url.to_string(),
                            waited: start.elapsed(),
                            holder: read_holder(&mut file, &path),
                        });
                    }
                    tokio::select! {
                        () = tokio::time::sleep(LOCK_POLL.min(timeout)) => {}
                        () = cancel.cancelled() => {}
                    }
                }
                Err(TryLockError::Error(e)) => return Err(lock_err("cannot lock", e)),
            }
        }
        // Best effort: the pid only improves a timeout message elsewhere.
        let _ = file
            .set_len(0)
            .and_then(|()| write!(file, "pid {}", std::process::id()))
            .and_then(|()| file.flush());
        self.lock_file = Some(file);
        Ok(())
    }

    pub(super) fn unlock(&mut self, url: &DatabaseUrl) -> Result<(), BackendError> {
        let Some(file) = self.lock_file.take() else {
            return Ok(());
        };
        // The file itself stays: deleting it would let a waiter lock an
        // unlinked inode while a newcomer locks a fresh file.
        let _ = file.set_len(0);
        file.unlock().map_err(|e| BackendError::Unlock {
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}

/// `<database file>.lock`, beside the database.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn read_holder(file: &mut File, path: &Path) -> Option<String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    let text = text.trim();
    let who = if text.is_empty() {
        "another process".to_owned()
    } else {
        format!("process {}", text.trim_start_matches("pid ").trim())
    };
    Some(format!("{who} (lock file `{}`)", path.display()))
}
