//! SQLite: connecting. The migration lock is an OS file lock beside the
//! database (see `lock/sqlite.rs`).
//!
//! Foreign keys: sqlx turns `PRAGMA foreign_keys` on for every connection,
//! and the pragma is a no-op inside a transaction, so a revision cannot turn
//! it off for itself. With it on, SQLite's own table-rebuild recipe (create
//! the new table, copy, `DROP TABLE old`, rename) runs an implicit `DELETE`
//! on the dropped parent that fires `ON DELETE CASCADE` and empties the
//! child tables. So the migration connection runs with enforcement off, as
//! SQLite's schema-change procedure asks (and as the `sqlite3` shell does by
//! default), and the step logic (`foreign_keys.rs`) runs `PRAGMA foreign_key_check`
//! before each commit instead: a revision that leaves a dangling reference
//! is rolled back.

use std::fs::File;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions as _;

use crate::url::DatabaseUrl;

pub(super) struct State {
    pub(super) conn: SqliteConnection,
    /// The open lock file while the migration lock is held.
    pub(super) lock_file: Option<File>,
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
}
