//! SQLite's migration lock: an exclusive `flock` on `<database>.lock`.
//!
//! SQLite has no session lock that outlives a transaction, and holding a
//! write transaction for the whole run would block the steps' own
//! transactions. So the lock is an OS file lock beside the database file:
//! the OS drops it when the process dies, so a killed `rev` never leaves a
//! stale lock. The holder writes its pid into the file so a timeout can name
//! it. In-memory databases are private to their connection and need no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{wait_for, LockAttempt, Request};
use crate::backend::error::BackendError;
use crate::backend::sqlite::State;
use crate::url::DatabaseUrl;

/// One try of the file lock.
struct FileLock<'a> {
    file: &'a mut File,
    path: &'a Path,
    url: &'a DatabaseUrl,
}

impl LockAttempt for FileLock<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, BackendError> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(lock_error(self.url, "cannot lock", self.path, e)),
        }
    }

    async fn holder(&mut self) -> Option<String> {
        read_holder(self.file, self.path)
    }
}

pub(super) async fn lock(state: &mut State, request: &Request<'_>) -> Result<(), BackendError> {
    let url = request.url;
    let Some(db_path) = url.sqlite_path() else {
        return Ok(());
    };
    let path = lock_path(db_path);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| lock_error(url, "cannot open lock file", &path, e))?;
    let mut attempt = FileLock {
        file: &mut file,
        path: &path,
        url,
    };
    wait_for(&mut attempt, request).await?;
    // Best effort: the pid only improves a timeout message elsewhere.
    let _ = file
        .set_len(0)
        .and_then(|()| write!(file, "pid {}", std::process::id()))
        .and_then(|()| file.flush());
    state.lock_file = Some(file);
    Ok(())
}

pub(super) fn unlock(state: &mut State, url: &DatabaseUrl) -> Result<(), BackendError> {
    let Some(file) = state.lock_file.take() else {
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

fn lock_error(url: &DatabaseUrl, what: &str, path: &Path, e: std::io::Error) -> BackendError {
    BackendError::Lock {
        url: url.to_string(),
        message: format!("{what} `{}`: {e}", path.display()),
    }
}

/// `<database file>.lock`, beside the database.
fn lock_path(db: &Path) -> PathBuf {
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
