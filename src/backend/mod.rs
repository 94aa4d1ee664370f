//! One connection-bound interface over SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! [`Connection`] is a single dedicated sqlx connection (never a pool: the
//! migration lock is held by a session, so the lock, every step and the
//! unlock must share it). It offers the primitives the executor needs: lock,
//! unlock, ensure and read the tracking table, apply a step, stamp rows.
//! Everything that differs per database lives in `sqlite.rs`, `postgres.rs`
//! and `mysql.rs` (connecting and locking) and in [`Dialect`] (SQL text);
//! the step logic here is written once. Ordering steps, cancellation and the
//! report are [`crate::executor`]'s job, not this module's.
//!
//! Every message built here passes through [`mask_secrets`]: drivers may echo
//! the URL, password included.

mod checks;
pub mod classify;
pub mod dialect;
mod mysql;
mod postgres;
pub mod split;
mod sqlite;
mod sqlite_script;

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::Either;

pub use checks::{DatabaseCheck, Finding, FindingKind, ForeignKeyViolation};
pub use dialect::{Dialect, TableName};

use crate::cancel::CancelToken;
use crate::step::Direction;
pub use crate::step::ExecStep;
use crate::url::{mask_secrets, BackendKind, DatabaseUrl};

/// How often a busy lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(100);
/// First wait between connection attempts; doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A database-layer failure. Messages are lower-case, name what failed, and
/// never contain a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No connection after every attempt.
    #[error("cannot connect to {kind} at {server} ({url}) after {attempts} attempt{} in {}: {message}; {}", if *attempts == 1 { "" } else { "s" }, fmt_duration(*elapsed), connect_hint(*kind, *cause))]
    Connect {
        /// The URL, password masked.
        url: String,
        /// The backend, to pick the advice.
        kind: BackendKind,
        /// `host:port` of a server, the file of SQLite.
        server: String,
        /// How many attempts were made.
        attempts: u32,
        /// How long all attempts took, backoff included.
        elapsed: Duration,
        /// What kind of failure the last attempt was, to pick the advice.
        cause: ConnectFailure,
        /// What the driver or server said on the last attempt.
        message: String,
    },
    /// A certificate or key file named in the URL (`sslrootcert`, `ssl-ca`,
    /// ...) cannot be read; found before any connection attempt.
    #[error("cannot read `{}`, the `{param}` of {url}: {message}; give the path of a PEM file (a relative one is taken from the folder of config.yaml, or from the current directory for --database-url and DATABASE_URL)", path.display())]
    CertFile {
        /// The URL, password masked.
        url: String,
        /// The query parameter that names the file.
        param: String,
        /// The file, resolved.
        path: std::path::PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// The run was interrupted (SIGINT/SIGTERM) before it changed anything.
    #[error("interrupted while {during}; nothing was changed")]
    Interrupted {
        /// What rev was waiting for, e.g. `waiting for the migration lock`.
        during: &'static str,
    },
    /// Another session held the migration lock for the whole timeout.
    #[error("timed out after {} waiting for the migration lock on {url}; it is held by {}", fmt_duration(*waited), holder.as_deref().unwrap_or("another session (the database does not say which)"))]
    LockTimeout {
        /// The URL, password masked.
        url: String,
        /// How long we waited.
        waited: Duration,
        /// Who holds the lock, where the database can tell.
        holder: Option<String>,
    },
    /// Taking the lock failed for another reason than a timeout.
    #[error("could not take the migration lock on {url}: {message}")]
    Lock {
        /// The URL, password masked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Releasing the lock failed or the lock was no longer ours.
    #[error("could not release the migration lock on {url}: {message}")]
    Unlock {
        /// The URL, password masked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A table of the tracking table's name exists with another shape.
    #[error("table `{table}` exists but is not a rev tracking table (missing columns: {}); rev never alters it: set `version_table` to another name", missing.join(", "))]
    ForeignVersionTable {
        /// The table name.
        table: String,
        /// Columns rev needs that the table lacks.
        missing: Vec<String>,
    },
    /// The `version_table` setting is not a plain identifier.
    #[error("invalid `version_table` setting `{name}`: {reason}")]
    InvalidTableName {
        /// The name as configured.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A revision's SQL failed.
    #[error("{direction} of revision `{revision}` failed at {}: {message}; {}", statement_label(*statement_index, statement), if *rolled_back { "its changes were rolled back and it is not recorded" } else { "it was not transactional: changes made before the failure remain" })]
    MigrationFailed {
        /// The revision whose SQL failed.
        revision: String,
        /// Which section ran.
        direction: Direction,
        /// 1-based position of the failing statement in the section, when known.
        statement_index: Option<usize>,
        /// The failing statement's first line (or the section's, when unknown).
        statement: String,
        /// The database's message.
        message: String,
        /// Whether the database undid the step (transactional DDL).
        rolled_back: bool,
    },
    /// A revision left rows that reference no row of their parent table.
    /// SQLite only: rev runs its steps with foreign-key enforcement off (so
    /// a table rebuild does not cascade) and checks before each commit.
    /// (Boxed: it is the largest variant.)
    #[error("{0}")]
    ForeignKeyViolation(Box<ForeignKeyViolation>),
    /// A row is flagged in progress: an earlier run stopped inside a
    /// non-transactional step (always possible on MySQL).
    #[error("revision `{revision}` is marked in progress in `{table}`: an earlier run stopped part-way through it; check the schema by hand, then record the real state with `rev stamp`")]
    InProgress {
        /// The revision.
        revision: String,
        /// The tracking table.
        table: String,
        /// Every other revision the table records, so a caller with the
        /// graph can name the stamp that removes only this one.
        others: Vec<String>,
    },
    /// A downgrade or checksum update named a revision with no row.
    #[error("revision `{revision}` is not recorded in `{table}`")]
    NotRecorded {
        /// The revision.
        revision: String,
        /// The tracking table.
        table: String,
    },
    /// A statement of rev's own failed.
    #[error("database error while {operation}: {message}")]
    Database {
        /// What rev was doing, e.g. `reading the tracking table`.
        operation: &'static str,
        /// The database's message.
        message: String,
    },
}

impl BackendError {
    /// A stable identifier for JSON error output.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::Connect { .. } => "connect",
            BackendError::CertFile { .. } => "cert_file",
            BackendError::Interrupted { .. } => "interrupted",
            BackendError::LockTimeout { .. } => "lock_timeout",
            BackendError::Lock { .. } => "lock",
            BackendError::Unlock { .. } => "unlock",
            BackendError::ForeignVersionTable { .. } => "foreign_version_table",
            BackendError::InvalidTableName { .. } => "invalid_table_name",
            BackendError::MigrationFailed { .. } => "migration_failed",
            BackendError::ForeignKeyViolation(_) => "foreign_key_violation",
            BackendError::InProgress { .. } => "in_progress",
            BackendError::NotRecorded { .. } => "not_recorded",
            BackendError::Database { .. } => "database",
        }
    }
}

/// Why the last connection attempt failed, as far as rev can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing listens there, or the network is down (refused, unreachable,
    /// unknown host).
    Unreachable,
    /// No answer within `connect_timeout_seconds`.
    Timeout,
    /// The server refused the credentials.
    Auth,
    /// The server answered, but the database does not exist.
    NoDatabase,
    /// The TLS connection the URL asks for (`sslmode`, `ssl-mode`) could not
    /// be set up. Never retried: the certificates will not change by waiting.
    Tls(TlsFailure),
    /// Anything else (protocol, a bad option, SQLite file errors).
    Other,
}

/// What went wrong setting up TLS, to pick the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The URL requires TLS and the server does not offer it.
    NotOffered,
    /// The server's certificate does not chain to a trusted root (the
    /// system's roots plus `sslrootcert`/`ssl-ca`), or is otherwise invalid.
    Untrusted,
    /// The certificate is trusted but does not list the host of the URL.
    NameMismatch,
    /// Anything else in the handshake (an unreadable PEM, an alert).
    Other,
}

fn connect_hint(kind: BackendKind, cause: ConnectFailure) -> &'static str {
    match (kind, cause) {
        (BackendKind::Sqlite, _) => "check that the file's folder exists and is writable, and add `?mode=rwc` to the URL to create a new database",
        (_, ConnectFailure::Unreachable) => "check that the server is running and listening on that host and port, and that no firewall is in the way",
        (_, ConnectFailure::Timeout) => "check the host and port (a firewall that drops packets looks like this), or raise `connect_timeout_seconds` in config.yaml",
        (_, ConnectFailure::Auth) => "check the user name and password (the password can come from `${VAR}` in config.yaml, or from a prompt at a terminal)",
        (_, ConnectFailure::NoDatabase) => "check the database name at the end of the URL; rev does not create server databases",
        (kind, ConnectFailure::Tls(why)) => tls_hint(kind, why),
        (_, ConnectFailure::Other) => "check that the server is running and reachable at that host and port, and that the user, password and database name are right",
    }
}

/// Advice for a TLS failure, in the spelling of the backend's URL options.
/// Never "check that the server is running": it answered.
fn tls_hint(kind: BackendKind, why: TlsFailure) -> &'static str {
    let pg = kind == BackendKind::Postgres;
    match (why, pg) {
        (TlsFailure::NotOffered, true) => "turn TLS on in the server (`ssl = on` with a certificate and key), or lower `sslmode` to `prefer` or `disable` if an unencrypted connection is acceptable",
        (TlsFailure::NotOffered, false) => "turn TLS on in the server (start it with `ssl_cert` and `ssl_key`; `SELECT @@have_ssl` says YES once it is on), or lower `ssl-mode` to `PREFERRED` or `DISABLED` if an unencrypted connection is acceptable",
        (TlsFailure::Untrusted, true) => "the server's certificate is not signed by a CA rev trusts (the system's root certificates and `sslrootcert`): give the CA that signed it with `sslrootcert=PATH` (a PEM file), or use `sslmode=require` to encrypt without checking the certificate",
        (TlsFailure::Untrusted, false) => "the server's certificate is not signed by a CA rev trusts (the system's root certificates and `ssl-ca`): give the CA that signed it with `ssl-ca=PATH` (a PEM file), or use `ssl-mode=REQUIRED` to encrypt without checking the certificate",
        (TlsFailure::NameMismatch, true) => "the server's certificate does not list the host of the URL: connect by a name it lists (the message says which), or use `sslmode=verify-ca` to check who signed the certificate but not the name (`sslmode=require` encrypts without checking the certificate)",
        (TlsFailure::NameMismatch, false) => "the server's certificate does not list the host of the URL: connect by a name it lists (the message says which), or use `ssl-mode=VERIFY_CA` to check who signed the certificate but not the name (`ssl-mode=REQUIRED` encrypts without checking the certificate)",
        (TlsFailure::Other, true) => "the TLS handshake failed: check `sslmode` and the PEM files named by `sslrootcert`, `sslcert` and `sslkey`",
        (TlsFailure::Other, false) => "the TLS handshake failed: check `ssl-mode` and the PEM files named by `ssl-ca`, `ssl-cert` and `ssl-key`",
    }
}

fn statement_label(index: Option<usize>, statement: &str) -> String {
    match index {
        Some(i) => format!("statement {i} `{statement}`"),
        None => format!("`{statement}`"),
    }
}

fn fmt_duration(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// One row of the tracking table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// The revision id.
    pub version: String,
    /// When it was applied: RFC 3339 text in UTC, as the database wrote it.
    pub applied_at: String,
    /// How long its SQL took, in milliseconds (0 when stamped or run from a script).
    pub execution_time_ms: i64,
    /// The checksum of its upgrade section when applied.
    pub checksum: String,
    /// Its parents when applied, to notice a rebased history.
    pub down_revisions: Vec<String>,
    /// Set while a non-transactional step runs; still set after a failure or crash.
    pub in_progress: bool,
}

/// How to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Limit for one connection attempt.
    pub connect_timeout: Duration,
    /// Attempts after the first one, with exponential backoff in between.
    pub retries: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(30),
            retries: 3,
        }
    }
}

/// Cancels the statement a PostgreSQL session is running, from a second
/// connection (see [`Connection::canceller`]).
#[derive(Debug, Clone)]
pub struct StatementCanceller {
    url: DatabaseUrl,
    pid: i32,
}

impl StatementCanceller {
    /// Ask the server to cancel the session's running statement. Returns
    /// whether the request was delivered; the session then fails that
    /// statement with SQLSTATE 57014 and its transaction rolls back. A
    /// session that is idle at that moment is not affected.
    pub async fn cancel(&self) -> bool {
        let attempt = async {
            let Inner::Postgres(mut s) = Connection::connect_once(&self.url).await.ok()? else {
                return None;
            };
            let sent: bool = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
                .bind(self.pid)
                .fetch_one(&mut s.conn)
                .await
                .ok()?;
            let _ = sqlx::Connection::close(s.conn).await;
            Some(sent)
        };
        tokio::time::timeout(Duration::from_secs(10), attempt)
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
    }
}

enum Inner {
    Sqlite(sqlite::State),
    Postgres(postgres::State),
    MySql(mysql::State),
}

/// Run `$body` with `$c` bound to the concrete sqlx connection, whichever it is.
macro_rules! on_conn {
    ($inner:expr, $c:ident => $body:expr) => {
        match $inner {
            Inner::Sqlite(s) => {
                let $c = &mut s.conn;
                $body
            }
            Inner::Postgres(s) => {
                let $c = &mut s.conn;
                $body
            }
            Inner::MySql(s) => {
                let $c = &mut s.conn;
                $body
            }
        }
    };
}

/// Decode one tracking row, whatever the database.
macro_rules! decode_row {
    ($row:expr) => {{
        use sqlx::Row;
        let row = $row;
        (|| -> Result<AppliedRow, sqlx::Error> {
            let in_progress: i16 = row.try_get(5)?;
            let parents: String = row.try_get(4)?;
            Ok(AppliedRow {
                version: row.try_get(0)?,
                applied_at: row.try_get(1)?,
                execution_time_ms: row.try_get(2)?,
                checksum: row.try_get(3)?,
                down_revisions: parents
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                in_progress: in_progress != 0,
            })
        })()
    }};
}

/// What a failed script run tells about where it failed.
struct ScriptFailure {
    statement_index: Option<usize>,
    statement: String,
    /// The database's message, as [`describe`] renders it.
    message: String,
}

/// A dedicated connection to the database being migrated.
///
/// Typical use is through [`crate::executor::LockedSession`], which takes the
/// lock and guarantees its release; the methods here are the primitives.
pub struct Connection {
    url: DatabaseUrl,
    dialect: Dialect,
    inner: Inner,
    /// An explicit transaction we opened is still open.
    in_tx: bool,
    /// We hold the migration lock (so `lock` is not taken twice: PostgreSQL
    /// and MySQL locks nest per session and would need two unlocks).
    locked: bool,
    /// SQLite: the dangling references as of the last checked step, so a
    /// step is blamed only for those it adds. Taken before the first step;
    /// dropped with any rollback (the state it described may be gone).
    fk_baseline: Option<Vec<checks::DanglingRefs>>,
    /// SQLite: whether any table declares a foreign key (`None`: not looked
    /// at yet). While none does, a step whose SQL never says `REFERENCES`
    /// cannot add one, and `PRAGMA foreign_key_check` (whose cost grows with
    /// the number of tables) is skipped: that keeps a long run linear.
    fk_declared: Option<bool>,
    /// Told as each statement of a step finishes (`rev -v`).
    statement_observer: Option<StatementObserver>,
}

/// Called with a statement's 1-based index, its first line and how long it
/// took, as each statement of a step finishes.
pub type StatementObserver = std::sync::Arc<ObserveStatement>;

/// The function behind a [`StatementObserver`].
pub type ObserveStatement = dyn Fn(usize, &str, Duration) + Send + Sync;

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("table", &self.dialect.table())
            .field("in_tx", &self.in_tx)
            .field("locked", &self.locked)
            .finish()
    }
}

impl Connection {
    /// Connect to `url`, trying `1 + opts.retries` times with exponential
    /// backoff, each attempt limited to `opts.connect_timeout`. Errors that
    /// another try cannot fix (bad password, unknown database) stop at once.
    /// The error names the masked URL and what the server said last.
    pub async fn connect(
        url: &DatabaseUrl,
        table: TableName,
        opts: &ConnectOptions,
    ) -> Result<Connection, BackendError> {
        Self::connect_with(url, table, opts, false).await
    }

    /// Like [`Connection::connect`], for reading only: a SQLite file is
    /// opened read-only and never created, whatever the URL's `mode=` says.
    /// (Server connections are the same as [`Connection::connect`]'s.)
    pub async fn connect_read_only(
        url: &DatabaseUrl,
        table: TableName,
        opts: &ConnectOptions,
    ) -> Result<Connection, BackendError> {
        Self::connect_with(url, table, opts, true).await
    }

    async fn connect_with(
        url: &DatabaseUrl,
        table: TableName,
        opts: &ConnectOptions,
        read_only: bool,
    ) -> Result<Connection, BackendError> {
        check_cert_files(url).await?;
        let attempts = opts.retries.saturating_add(1);
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        let mut cause = ConnectFailure::Other;
        let mut made = 0;
        for attempt in 1..=attempts {
            made = attempt;
            let once = Self::connect_once_with(url, read_only);
            match tokio::time::timeout(opts.connect_timeout, once).await {
                Ok(Ok(inner)) => {
                    return Ok(Connection {
                        url: url.clone(),
                        dialect: Dialect::new(url.kind(), table),
                        inner,
                        in_tx: false,
                        locked: false,
                        fk_baseline: None,
                        fk_declared: None,
                        statement_observer: None,
                    })
                }
                Ok(Err(e)) => {
                    cause = classify(&e);
                    last = match tls_failure(&e) {
                        Some((TlsFailure::NotOffered, _)) => {
                            "the URL requires TLS and the server does not offer it".to_owned()
                        }
                        Some((_, why)) => format!("TLS handshake failed: {why}"),
                        None => describe(&e),
                    };
                    if !is_retryable(&e) {
                        break;
                    }
                }
                Err(_) => {
                    last = format!("no answer within {}", fmt_duration(opts.connect_timeout));
                    cause = ConnectFailure::Timeout;
                }
            }
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        let server = match (url.host(), url.port(), url.sqlite_path()) {
            (Some(host), Some(port), _) => format!("{host}:{port}"),
            (_, _, Some(path)) => path.display().to_string(),
            _ => "memory".to_owned(),
        };
        Err(BackendError::Connect {
            url: url.to_string(),
            kind: url.kind(),
            server: mask_secrets(&server, url),
            attempts: made,
            elapsed: started.elapsed(),
            cause,
            message: mask_secrets(&last, url),
        })
    }

    async fn connect_once(url: &DatabaseUrl) -> Result<Inner, sqlx::Error> {
        Self::connect_once_with(url, false).await
    }

    async fn connect_once_with(url: &DatabaseUrl, read_only: bool) -> Result<Inner, sqlx::Error> {
        Ok(match url.kind() {
            BackendKind::Sqlite if read_only => {
                Inner::Sqlite(sqlite::State::connect_read_only(url).await?)
            }
            BackendKind::Sqlite => Inner::Sqlite(sqlite::State::connect(url).await?),
            BackendKind::Postgres => Inner::Postgres(postgres::State::connect(url).await?),
            BackendKind::MySql => Inner::MySql(mysql::State::connect(url).await?),
        })
    }

    /// Have `observer` told as each statement of the next steps finishes.
    pub fn observe_statements(&mut self, observer: Option<StatementObserver>) {
        self.statement_observer = observer;
    }

    /// The URL this connection was made from (masked when printed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The SQL dialect, with the tracking table name.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// Whether this connection holds the migration lock.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether an explicit transaction is open on this connection.
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    fn mask(&self, text: &str) -> String {
        mask_secrets(text, &self.url)
    }

    fn db_error(&self, operation: &'static str, e: &sqlx::Error) -> BackendError {
        BackendError::Database {
            operation,
            message: self.mask(&describe(e)),
        }
    }

    /// Take the migration lock, waiting at most `timeout`. PostgreSQL polls
    /// `pg_try_advisory_lock` (a session blocked in `pg_advisory_lock`
    /// deadlocks with `CREATE INDEX CONCURRENTLY`); MySQL uses `GET_LOCK` with
    /// its result checked; SQLite locks `<file>.lock`, which the OS releases if
    /// the process dies. In-memory SQLite needs no lock. Calling it while
    /// holding the lock does nothing.
    pub async fn lock(&mut self, timeout: Duration) -> Result<(), BackendError> {
        self.lock_or_cancel(timeout, &CancelToken::new()).await
    }

    /// Like [`Connection::lock`], but gives up with
    /// [`BackendError::Interrupted`] soon after `cancel` is set (within one
    /// poll on PostgreSQL and SQLite, within a second on MySQL), so Ctrl+C
    /// does not wait out `lock_timeout_seconds`.
    pub async fn lock_or_cancel(
        &mut self,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<(), BackendError> {
        if self.locked {
            return Ok(());
        }
        let url = self.url.clone();
        let table = self.dialect.table().clone();
        let result = match &mut self.inner {
            Inner::Sqlite(s) => s.lock(&url, timeout, cancel).await,
            Inner::Postgres(s) => s.lock(&url, &table, timeout, cancel).await,
            Inner::MySql(s) => s.lock(&url, &table, timeout, cancel).await,
        };
        self.locked = result.is_ok();
        result
    }

    /// A handle that can cancel the statement this connection is running,
    /// from another task: PostgreSQL only (`pg_cancel_backend` from a second
    /// connection). `None` elsewhere, or if the backend pid cannot be read.
    pub async fn canceller(&mut self) -> Option<StatementCanceller> {
        match &mut self.inner {
            Inner::Postgres(s) => {
                let pid = s.backend_pid().await?;
                Some(StatementCanceller {
                    url: self.url.clone(),
                    pid,
                })
            }
            _ => None,
        }
    }

    /// Release the migration lock, rolling back an open transaction first
    /// (PostgreSQL refuses `pg_advisory_unlock` in an aborted transaction).
    /// Fails if the database says the lock was not ours.
    pub async fn unlock(&mut self) -> Result<(), BackendError> {
        self.rollback_if_open().await;
        if !self.locked {
            return Ok(());
        }
        if let Inner::Postgres(s) = &mut self.inner {
            // Revision SQL may have opened a transaction of its own that we do
            // not know about; in an aborted one pg_advisory_unlock would fail.
            // Outside a transaction this is only a warning.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut s.conn).await;
        }
        let url = self.url.clone();
        let result = match &mut self.inner {
            Inner::Sqlite(s) => s.unlock(&url),
            // A cancel request sent for the last step (a second Ctrl+C) can
            // reach the server only after that step ended and hit the unlock
            // instead; the unlock is then simply asked again.
            Inner::Postgres(s) => match s.unlock(&url).await {
                Err(BackendError::Unlock { .. }) if s.has_key() => s.unlock(&url).await,
                other => other,
            },
            Inner::MySql(s) => s.unlock(&url).await,
        };
        // Whatever the result, we must not try to release it again: a second
        // release could free a lock re-taken by the same session later.
        self.locked = false;
        result
    }

    /// Open a transaction (for one step, or several in whole-plan mode).
    /// Returns whether one is open. On MySQL/MariaDB it holds data
    /// statements only: DDL would commit it (see
    /// [`Dialect::runs_in_transaction`]).
    pub async fn begin(&mut self) -> Result<bool, BackendError> {
        if self.in_tx {
            return Ok(true);
        }
        let Some(begin) = self.dialect.begin() else {
            return Ok(false);
        };
        // SQLite: take the write lock now. A step reads before it writes
        // (the foreign-key baseline, `INSERT ... SELECT`), and a deferred
        // transaction that must later upgrade its read lock fails at once
        // (SQLITE_BUSY, no retry) if another connection wrote meanwhile;
        // an immediate one waits for the busy timeout instead.
        let begin = match self.dialect.kind() {
            BackendKind::Sqlite => "BEGIN IMMEDIATE",
            _ => begin,
        };
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(begin).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map_err(|e| self.db_error("opening a transaction", &e))?;
        self.in_tx = true;
        Ok(true)
    }

    /// Commit the open transaction, if any.
    pub async fn commit(&mut self) -> Result<(), BackendError> {
        if !self.in_tx {
            return Ok(());
        }
        self.in_tx = false;
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql("COMMIT").execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ())
            .map_err(|e| self.db_error("committing a transaction", &e))
    }

    /// Roll back the open transaction, if any. Errors are ignored: this runs
    /// on failure paths, and a connection too broken to roll back has lost
    /// its transaction anyway.
    pub async fn rollback_if_open(&mut self) {
        self.fk_baseline = None;
        self.fk_declared = None;
        if self.in_tx {
            self.in_tx = false;
            let _ = on_conn!(&mut self.inner, c => sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.map(|r| r.rows_affected()));
        }
    }

    async fn table_columns(&mut self) -> Result<Vec<String>, BackendError> {
        let q = self.dialect.columns_query();
        let table = self.dialect.table().as_str().to_owned();
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query_scalar::<_, String>(q).bind(&table).fetch_all(&mut *c).await
        });
        r.map_err(|e| self.db_error("inspecting the tracking table", &e))
    }

    /// `Ok(true)` if the table exists with our columns, `Ok(false)` if absent.
    async fn check_shape(&mut self) -> Result<bool, BackendError> {
        let columns = self.table_columns().await?;
        if columns.is_empty() {
            return Ok(false);
        }
        let missing: Vec<String> = dialect::COLUMNS
            .iter()
            .filter(|want| !columns.iter().any(|c| c.eq_ignore_ascii_case(want)))
            .map(|c| (*c).to_owned())
            .collect();
        if missing.is_empty() {
            Ok(true)
        } else {
            Err(BackendError::ForeignVersionTable {
                table: self.dialect.table().to_string(),
                missing,
            })
        }
    }

    /// Create the tracking table if absent. A table of that name with another
    /// shape is an error and is left untouched.
    pub async fn ensure_table(&mut self) -> Result<(), BackendError> {
        if self.check_shape().await? {
            return Ok(());
        }
        let sql = self.dialect.create_table();
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(sql)).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ())
            .map_err(|e| self.db_error("creating the tracking table", &e))
    }

    /// Every tracking row, oldest first. A missing table reads as empty and
    /// is not created. Rows applied within one clock tick (SQLite keeps
    /// milliseconds) tie on `applied_at` and fall back to version order, so
    /// order by the revision graph where the order matters.
    pub async fn read_applied(&mut self) -> Result<Vec<AppliedRow>, BackendError> {
        if !self.check_shape().await? {
            return Ok(Vec::new());
        }
        let sql = self.dialect.select_rows();
        let r = on_conn!(&mut self.inner, c => {
            match sqlx::query(trusted_sql(sql)).fetch_all(&mut *c).await {
                Ok(rows) => rows.iter().map(|row| decode_row!(row)).collect::<Result<Vec<_>, _>>(),
                Err(e) => Err(e),
            }
        });
        r.map_err(|e| self.db_error("reading the tracking table", &e))
    }

    /// Run one step and record it; returns how long its SQL took.
    ///
    /// - A step that [runs in a transaction](Dialect::runs_in_transaction)
    ///   (transactional steps on PostgreSQL and SQLite; data-only ones on
    ///   MySQL/MariaDB): the SQL and the tracking row commit in one
    ///   transaction, so a crash can never leave a migration applied but
    ///   unrecorded, or recorded but not applied (the failure sqlx fixed in
    ///   <https://github.com/launchbadge/sqlx/issues/1966>), and a failure
    ///   leaves nothing of it. If a transaction is already open (whole-plan
    ///   mode, see [`Connection::begin`]) the step joins it and nothing is
    ///   committed here.
    /// - Otherwise (DDL on MySQL, which commits implicitly, or a step marked
    ///   `transactional: false`): the row is written with `in_progress = 1`
    ///   *before* the SQL runs (a downgrade flags its existing row), and
    ///   cleared (or deleted) after. A failure or crash in between leaves a
    ///   visible in-progress row naming the revision, instead of silently
    ///   half-applied DDL.
    /// - SQLite, either way: the connection runs with foreign-key enforcement
    ///   off (see `sqlite.rs`), so after the step's SQL `PRAGMA
    ///   foreign_key_check` must find no dangling reference the step added;
    ///   otherwise [`BackendError::ForeignKeyViolation`], and a transactional
    ///   step rolls back (in whole-plan mode the caller rolls back the run).
    pub async fn apply(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        if self.dialect.runs_in_transaction(step) {
            let own_tx = !self.in_tx;
            if own_tx {
                self.begin().await?;
            }
            let result = self.apply_in_tx(step).await;
            if own_tx {
                match &result {
                    Ok(_) => self.commit().await?,
                    Err(_) => self.rollback_if_open().await,
                }
            }
            result
        } else {
            if self.in_tx {
                // Whole-plan mode: the executor commits before such a step. Running
                // it inside the transaction would fail on PostgreSQL anyway.
                self.commit().await?;
            }
            self.apply_flagged(step).await
        }
    }

    async fn apply_in_tx(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        self.fk_before().await?;
        let start = Instant::now();
        self.run_script(step, false)
            .await
            .map_err(|f| self.step_error(step, f, true))?;
        let elapsed = start.elapsed();
        // Inside the step's transaction, so a dangling reference rolls the
        // step back whole; in whole-plan mode every step is checked this
        // way, so the check before the final commit is the last step's.
        self.fk_after(step, true).await?;
        match step.direction {
            Direction::Upgrade => self.insert_row(step, elapsed, false).await?,
            Direction::Downgrade => {
                self.delete_row(&step.revision, true).await?;
            }
        }
        Ok(elapsed)
    }

    async fn apply_flagged(&mut self, step: &ExecStep) -> Result<Duration, BackendError> {
        self.fk_before().await?;
        match step.direction {
            Direction::Upgrade => self.insert_row(step, Duration::ZERO, true).await?,
            Direction::Downgrade => self.set_in_progress(&step.revision, true).await?,
        }
        let start = Instant::now();
        // PostgreSQL runs a multi-statement string as one implicit transaction,
        // which `CREATE INDEX CONCURRENTLY` refuses: send statements one by one.
        let split = self.dialect.kind() == BackendKind::Postgres;
        let ran = self.run_script(step, split).await;
        // Outside a transaction the step's SQL can turn enforcement back on
        // for this connection; later steps must not cascade either.
        self.sqlite_fk_off().await?;
        ran.map_err(|f| self.step_error(step, f, false))?;
        let elapsed = start.elapsed();
        // Nothing to roll back here: a dangling reference leaves the step
        // flagged in progress, like any other failure of such a step.
        self.fk_after(step, false).await?;
        match step.direction {
            Direction::Upgrade => {
                let sql = self.dialect.finish_row_bound();
                let ms = duration_ms(elapsed);
                let r = on_conn!(&mut self.inner, c => {
                    sqlx::query(trusted_sql(sql)).bind(ms).bind(&step.revision).execute(&mut *c).await.map(|r| r.rows_affected())
                });
                r.map_err(|e| self.db_error("recording an applied revision", &e))?;
            }
            Direction::Downgrade => {
                self.delete_row(&step.revision, true).await?;
            }
        }
        Ok(elapsed)
    }

    /// SQLite: read the dangling references before a step, unless the last
    /// checked step left them known.
    async fn fk_before(&mut self) -> Result<(), BackendError> {
        if self.fk_baseline.is_some() {
            return Ok(());
        }
        if !self.sqlite_foreign_keys_declared(None).await? {
            self.fk_baseline = Some(Vec::new());
            return Ok(());
        }
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let before = checks::sqlite_dangling(&mut s.conn)
            .await
            .map_err(|e| self.db_error("checking foreign keys before a revision", &e))?;
        self.fk_baseline = Some(before);
        Ok(())
    }

    /// SQLite: `PRAGMA foreign_key_check` after a step's SQL. References the
    /// step left dangling (beyond those before it) fail the step.
    async fn fk_after(&mut self, step: &ExecStep, rolled_back: bool) -> Result<(), BackendError> {
        if !self.sqlite_foreign_keys_declared(Some(&step.sql)).await? {
            self.fk_baseline = Some(Vec::new());
            return Ok(());
        }
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let before = self.fk_baseline.take().unwrap_or_default();
        let after = match checks::sqlite_dangling(&mut s.conn).await {
            Ok(after) => after,
            // E.g. "foreign key mismatch": a reference to columns that are
            // not the parent's key, which the step's schema change made.
            Err(error) => {
                let failure = ScriptFailure {
                    statement_index: None,
                    statement: "PRAGMA foreign_key_check".to_owned(),
                    message: describe(&error),
                };
                return Err(self.step_error(step, failure, rolled_back));
            }
        };
        if let Some(d) = checks::new_dangling(&before, &after) {
            return Err(BackendError::ForeignKeyViolation(Box::new(
                ForeignKeyViolation {
                    revision: step.revision.clone(),
                    direction: step.direction,
                    table: d.table,
                    first_rowid: d.first_rowid,
                    rows: d.rows,
                    parent: d.parent,
                    parent_exists: d.parent_exists,
                    reference: d.reference,
                    rolled_back,
                },
            )));
        }
        self.fk_baseline = Some(after);
        Ok(())
    }

    /// SQLite: whether any table declares a foreign key, after `ran` (the
    /// SQL of a step that just ran, if any). Looks at the schema only when
    /// that could have changed the answer (see `fk_declared`).
    async fn sqlite_foreign_keys_declared(
        &mut self,
        ran: Option<&str>,
    ) -> Result<bool, BackendError> {
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(false);
        };
        let may_add = ran.is_some_and(|sql| {
            sql.as_bytes()
                .windows(b"references".len())
                .any(|w| w.eq_ignore_ascii_case(b"references"))
        });
        if self.fk_declared == Some(false) && !may_add {
            return Ok(false);
        }
        // LIKE is case-insensitive for ASCII; a false positive only costs
        // the full check.
        let r = sqlx::query_scalar::<_, i64>(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%REFERENCES%')",
        )
        .fetch_one(&mut s.conn)
        .await;
        let declared = r.map_err(|e| self.db_error("looking for foreign keys", &e))? != 0;
        self.fk_declared = Some(declared);
        Ok(declared)
    }

    /// SQLite: foreign-key enforcement off for this connection (it is set at
    /// connect; this restores it after SQL that ran outside a transaction).
    async fn sqlite_fk_off(&mut self) -> Result<(), BackendError> {
        let Inner::Sqlite(s) = &mut self.inner else {
            return Ok(());
        };
        let r = sqlx::raw_sql("PRAGMA foreign_keys = OFF")
            .execute(&mut s.conn)
            .await;
        r.map(|_| ())
            .map_err(|e| self.db_error("turning foreign-key enforcement off", &e))
    }

    /// Integrity and consistency checks of the data and catalog (see
    /// [`DatabaseCheck`]); reads only, needs no lock.
    pub async fn check_database(&mut self) -> Result<DatabaseCheck, BackendError> {
        let r = match &mut self.inner {
            Inner::Sqlite(s) => checks::sqlite_check(&mut s.conn).await,
            Inner::Postgres(s) => checks::postgres_check(&mut s.conn).await,
            Inner::MySql(_) => Ok(DatabaseCheck::default()),
        };
        r.map_err(|e| self.db_error("checking the database", &e))
    }

    /// Run the step's SQL. With `split`, statement by statement; otherwise as
    /// one script, counting finished statements to locate a failure.
    async fn run_script(&mut self, step: &ExecStep, split: bool) -> Result<(), ScriptFailure> {
        let observer = self.statement_observer.clone();
        if let Inner::Sqlite(s) = &mut self.inner {
            // Through sqlx a long script costs O(n²) on SQLite: see `sqlite_script`.
            return sqlite_script::run(&mut s.conn, &step.sql, observer).await;
        }
        let kind = self.dialect.kind();
        let statements = split::split_statements(&step.sql, kind);
        let tell = |index: usize, took: Duration| {
            if let (Some(observe), Some(stmt)) = (&observer, statements.get(index - 1)) {
                observe(index, stmt.first_line(), took);
            }
        };
        if split {
            for (i, stmt) in statements.iter().enumerate() {
                let started = Instant::now();
                let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(stmt.text)).execute(&mut *c).await.map(|r| r.rows_affected()));
                tell(i + 1, started.elapsed());
                if let Err(error) = r {
                    return Err(ScriptFailure {
                        statement_index: Some(i + 1),
                        statement: stmt.first_line().to_owned(),
                        message: describe(&error),
                    });
                }
            }
            return Ok(());
        }
        if statements.is_empty() {
            // Nothing to run; some drivers reject an empty query string.
            return Ok(());
        }
        let mut done = 0usize;
        let mut since = Instant::now();
        let r: Result<(), sqlx::Error> = on_conn!(&mut self.inner, c => {
            let mut stream = sqlx::raw_sql(trusted_sql(&step.sql)).fetch_many(&mut *c);
            loop {
                match stream.try_next().await {
                    Ok(Some(Either::Left(_))) => {
                        // The script goes in one message; each statement's
                        // result marks its end, so its time is the gap
                        // since the one before.
                        done += 1;
                        tell(done, since.elapsed());
                        since = Instant::now();
                    }
                    Ok(Some(Either::Right(_))) => {}
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        });
        let Err(error) = r else {
            return Ok(());
        };
        // PostgreSQL reports the character position of a syntax error, which
        // pins the statement exactly; otherwise the count of finished
        // statements does, as far as our splitting matches the server's.
        let located = pg_error_offset(&error, &step.sql)
            .and_then(|off| split::statement_at(&statements, off))
            .or_else(|| statements.get(done).map(|s| (done, *s)));
        Err(match located {
            Some((i, stmt)) => ScriptFailure {
                statement_index: Some(i + 1),
                statement: stmt.first_line().to_owned(),
                message: describe(&error),
            },
            None => ScriptFailure {
                statement_index: None,
                statement: statements
                    .first()
                    .map(|s| s.first_line().to_owned())
                    .unwrap_or_default(),
                message: describe(&error),
            },
        })
    }

    fn step_error(&self, step: &ExecStep, f: ScriptFailure, rolled_back: bool) -> BackendError {
        BackendError::MigrationFailed {
            revision: step.revision.clone(),
            direction: step.direction,
            statement_index: f.statement_index,
            statement: self.mask(&truncate(&f.statement, 200)),
            message: self.mask(&f.message),
            rolled_back,
        }
    }

    async fn insert_row(
        &mut self,
        step: &ExecStep,
        elapsed: Duration,
        in_progress: bool,
    ) -> Result<(), BackendError> {
        self.insert_values(
            &step.revision,
            &step.checksum,
            &step.down_revisions,
            duration_ms(elapsed),
            in_progress,
        )
        .await
    }

    async fn insert_values(
        &mut self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
        ms: i64,
        in_progress: bool,
    ) -> Result<(), BackendError> {
        let sql = self.dialect.insert_row_bound();
        let parents = down_revisions.join(",");
        let flag = i16::from(in_progress);
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query(trusted_sql(sql))
                .bind(version)
                .bind(ms)
                .bind(checksum)
                .bind(&parents)
                .bind(flag)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        });
        r.map(|_| ())
            .map_err(|e| self.db_error("recording an applied revision", &e))
    }

    /// Delete a row; with `must_exist`, a missing row is [`BackendError::NotRecorded`].
    async fn delete_row(&mut self, version: &str, must_exist: bool) -> Result<bool, BackendError> {
        let sql = self.dialect.delete_row_bound();
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query(trusted_sql(sql)).bind(version).execute(&mut *c).await.map(|r| r.rows_affected())
        });
        let n = r.map_err(|e| self.db_error("removing a revision's record", &e))?;
        if n == 0 && must_exist {
            return Err(self.not_recorded(version));
        }
        Ok(n > 0)
    }

    async fn set_in_progress(&mut self, version: &str, flag: bool) -> Result<(), BackendError> {
        let sql = self.dialect.set_in_progress_bound();
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query(trusted_sql(sql)).bind(i16::from(flag)).bind(version).execute(&mut *c).await.map(|r| r.rows_affected())
        });
        let n = r.map_err(|e| self.db_error("flagging a revision in progress", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }

    fn not_recorded(&self, version: &str) -> BackendError {
        BackendError::NotRecorded {
            revision: version.to_owned(),
            table: self.dialect.table().to_string(),
        }
    }

    /// Record `version` as applied without running SQL (`rev stamp`). An
    /// existing row for it (even one left in progress) is replaced.
    pub async fn stamp_applied(
        &mut self,
        version: &str,
        checksum: &str,
        down_revisions: &[String],
    ) -> Result<(), BackendError> {
        let own_tx = !self.in_tx && self.begin().await?;
        let result = async {
            self.delete_row(version, false).await?;
            self.insert_values(version, checksum, down_revisions, 0, false)
                .await
        }
        .await;
        if own_tx {
            match &result {
                Ok(()) => self.commit().await?,
                Err(_) => self.rollback_if_open().await,
            }
        }
        result
    }

    /// Remove `version`'s row without running SQL; `Ok(false)` if there was none.
    pub async fn stamp_removed(&mut self, version: &str) -> Result<bool, BackendError> {
        self.delete_row(version, false).await
    }

    /// Store a new checksum for an applied revision (accepting an edited file).
    pub async fn set_checksum(
        &mut self,
        version: &str,
        checksum: &str,
    ) -> Result<(), BackendError> {
        let sql = self.dialect.update_checksum_bound();
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query(trusted_sql(sql)).bind(checksum).bind(version).execute(&mut *c).await.map(|r| r.rows_affected())
        });
        let n = r.map_err(|e| self.db_error("updating a checksum", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }

    /// Record new parents for an applied revision (a history rebased under
    /// the database, once the revisions inserted below it have run).
    pub async fn set_parents(
        &mut self,
        version: &str,
        down_revisions: &[String],
    ) -> Result<(), BackendError> {
        let sql = self.dialect.update_parents_bound();
        let parents = down_revisions.join(",");
        let r = on_conn!(&mut self.inner, c => {
            sqlx::query(trusted_sql(sql)).bind(&parents).bind(version).execute(&mut *c).await.map(|r| r.rows_affected())
        });
        let n = r.map_err(|e| self.db_error("recording a revision's parents", &e))?;
        if n == 0 {
            return Err(self.not_recorded(version));
        }
        Ok(())
    }

    /// Run SQL text of the caller's with no bookkeeping (tests and setup).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<(), BackendError> {
        let r = on_conn!(&mut self.inner, c => sqlx::raw_sql(trusted_sql(sql)).execute(&mut *c).await.map(|r| r.rows_affected()));
        r.map(|_| ()).map_err(|e| self.db_error("running SQL", &e))
    }

    /// Roll back, release the lock if held, and close the connection.
    /// Returns the unlock error if there was one (the connection is closed
    /// regardless; closing also ends the session's locks).
    pub async fn close(mut self) -> Result<(), BackendError> {
        let unlocked = self.unlock().await;
        let closed = match self.inner {
            Inner::Sqlite(s) => sqlx::Connection::close(s.conn).await,
            Inner::Postgres(s) => sqlx::Connection::close(s.conn).await,
            Inner::MySql(s) => sqlx::Connection::close(s.conn).await,
        };
        unlocked?;
        closed.map_err(|e| BackendError::Database {
            operation: "closing the connection",
            message: mask_secrets(&describe(&e), &self.url),
        })
    }
}

/// The database's own message when there is one, else sqlx's.
fn describe(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => {
            let mut msg = db.message().to_owned();
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    msg.push_str(&format!(" ({detail})"));
                }
            }
            match db.code() {
                Some(code) => format!("{msg} [{code}]"),
                None => msg,
            }
        }
        None => e.to_string(),
    }
}

/// Fails with [`BackendError::CertFile`] if a certificate or key file the
/// URL names cannot be read. sqlx would report it in the handshake as a bare
/// "No such file or directory", which reads like an unreachable server.
async fn check_cert_files(url: &DatabaseUrl) -> Result<(), BackendError> {
    for (param, path) in url.cert_files() {
        if let Err(e) = tokio::fs::read(&path).await {
            return Err(BackendError::CertFile {
                url: url.to_string(),
                param,
                path,
                message: e.to_string(),
            });
        }
    }
    Ok(())
}

/// Whether `e` is a failure to set up TLS, with what rustls or sqlx said.
/// sqlx reports a refused certificate as an I/O error that wraps a
/// `rustls::Error`, and its own refusals (no TLS on the server, a bad PEM)
/// as `Error::Tls`.
fn tls_failure(e: &sqlx::Error) -> Option<(TlsFailure, String)> {
    let from_rustls = |r: &rustls::Error| {
        let why = match r {
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            ) => TlsFailure::NameMismatch,
            rustls::Error::InvalidCertificate(_) => TlsFailure::Untrusted,
            _ => TlsFailure::Other,
        };
        (why, r.to_string())
    };
    match e {
        sqlx::Error::Tls(inner) => Some(match inner.downcast_ref::<rustls::Error>() {
            Some(r) => from_rustls(r),
            None => {
                let text = inner.to_string();
                // sqlx's only words for a server that answers "no TLS".
                let why = if text.contains("does not support TLS") {
                    TlsFailure::NotOffered
                } else {
                    TlsFailure::Other
                };
                (why, text)
            }
        }),
        sqlx::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(from_rustls),
        _ => None,
    }
}

/// What kind of connection failure `e` is, for the advice in the message.
fn classify(e: &sqlx::Error) -> ConnectFailure {
    use std::io::ErrorKind as K;
    if let Some((why, _)) = tls_failure(e) {
        return ConnectFailure::Tls(why);
    }
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable
            | K::NotFound => ConnectFailure::Unreachable,
            K::TimedOut => ConnectFailure::Timeout,
            // Name resolution failures come as `Other` with the resolver's text.
            _ if io.to_string().contains("lookup") => ConnectFailure::Unreachable,
            _ => ConnectFailure::Other,
        },
        sqlx::Error::PoolTimedOut => ConnectFailure::Timeout,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: class 28 is authorization, 3D000 an unknown
            // database. MySQL: 28000 access denied, 42000 with 1049 an
            // unknown database.
            if code.starts_with("28") {
                ConnectFailure::Auth
            } else if code == "3D000" || db.message().contains("Unknown database") {
                ConnectFailure::NoDatabase
            } else {
                ConnectFailure::Other
            }
        }
        _ => ConnectFailure::Other,
    }
}

/// Whether another connection attempt could succeed: not for a wrong
/// password (SQLSTATE class 28), a missing database (3D) or access denied
/// (42, MySQL's unknown database), nor for a bad configuration or a TLS
/// failure (a certificate does not change by waiting).
fn is_retryable(e: &sqlx::Error) -> bool {
    if tls_failure(e).is_some() {
        return false;
    }
    match e {
        sqlx::Error::Configuration(_) => false,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if code.len() == 5 {
                !(code.starts_with("28") || code.starts_with("3D") || code.starts_with("42"))
            } else {
                // SQLite codes are numbers; nothing there improves by waiting.
                false
            }
        }
        _ => true,
    }
}

/// The byte offset PostgreSQL gave for an error in `sql`, if any.
fn pg_error_offset(e: &sqlx::Error, sql: &str) -> Option<usize> {
    let pg = e
        .as_database_error()?
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    match pg.position()? {
        sqlx::postgres::PgErrorPosition::Original(chars) => sql
            .char_indices()
            .nth(chars.saturating_sub(1))
            .map(|(b, _)| b),
        _ => None,
    }
}

/// SQL that sqlx may run although it is not a `&'static str` (sqlx 0.9's
/// `SqlSafeStr` guard against SQL built from data). Every such string in rev
/// is either the user's own revision SQL, run as written by design, or built
/// from constants and the tracking table's name, which [`TableName::new`]
/// restricts to a plain identifier and [`Dialect`] quotes; values always go
/// in as bind parameters. Keep it that way for anything passed here.
pub(crate) fn trusted_sql(sql: impl Into<String>) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.into())
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((b, _)) => format!("{}…", &s[..b]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These strings are part of the JSON error output: changing one breaks scripts.
    #[test]
    fn error_kinds_are_stable() {
        let s = String::new;
        let kinds: Vec<&str> = [
            BackendError::Connect {
                url: s(),
                kind: BackendKind::Postgres,
                server: s(),
                attempts: 1,
                elapsed: Duration::ZERO,
                cause: ConnectFailure::Other,
                message: s(),
            },
            BackendError::CertFile {
                url: s(),
                param: s(),
                path: std::path::PathBuf::new(),
                message: s(),
            },
            BackendError::Interrupted { during: "x" },
            BackendError::LockTimeout {
                url: s(),
                waited: Duration::ZERO,
                holder: None,
            },
            BackendError::Lock {
                url: s(),
                message: s(),
            },
            BackendError::Unlock {
                url: s(),
                message: s(),
            },
            BackendError::ForeignVersionTable {
                table: s(),
                missing: vec![],
            },
            BackendError::InvalidTableName {
                name: s(),
                reason: "",
            },
            BackendError::MigrationFailed {
                revision: s(),
                direction: Direction::Upgrade,
                statement_index: None,
                statement: s(),
                message: s(),
                rolled_back: true,
            },
            BackendError::ForeignKeyViolation(Box::new(ForeignKeyViolation {
                revision: s(),
                direction: Direction::Upgrade,
                table: s(),
                first_rowid: None,
                rows: 1,
                parent: s(),
                parent_exists: true,
                reference: s(),
                rolled_back: true,
            })),
            BackendError::InProgress {
                revision: s(),
                table: s(),
                others: vec![],
            },
            BackendError::NotRecorded {
                revision: s(),
                table: s(),
            },
            BackendError::Database {
                operation: "x",
                message: s(),
            },
        ]
        .iter()
        .map(BackendError::kind)
        .collect();
        assert_eq!(
            kinds,
            [
                "connect",
                "cert_file",
                "interrupted",
                "lock_timeout",
                "lock",
                "unlock",
                "foreign_version_table",
                "invalid_table_name",
                "migration_failed",
                "foreign_key_violation",
                "in_progress",
                "not_recorded",
                "database"
            ]
        );
    }

    #[test]
    fn lock_timeout_message_names_the_holder_or_says_it_is_unknown() {
        let known = BackendError::LockTimeout {
            url: "postgres://u:****@h/db".into(),
            waited: Duration::from_millis(1500),
            holder: Some("backend pid 7".into()),
        };
        assert_eq!(
            known.to_string(),
            "timed out after 1.5s waiting for the migration lock on postgres://u:****@h/db; it is held by backend pid 7"
        );
        let unknown = BackendError::LockTimeout {
            url: "x".into(),
            waited: Duration::ZERO,
            holder: None,
        };
        assert!(unknown.to_string().contains("does not say which"));
    }

    fn io_wrapping(e: rustls::Error) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn tls_failures_are_their_own_cause_and_never_retried() {
        use rustls::CertificateError as C;
        let cases = [
            (
                io_wrapping(rustls::Error::InvalidCertificate(C::UnknownIssuer)),
                TlsFailure::Untrusted,
            ),
            (
                io_wrapping(rustls::Error::InvalidCertificate(C::NotValidForName)),
                TlsFailure::NameMismatch,
            ),
            (
                io_wrapping(rustls::Error::AlertReceived(
                    rustls::AlertDescription::HandshakeFailure,
                )),
                TlsFailure::Other,
            ),
            (
                sqlx::Error::Tls("server does not support TLS".into()),
                TlsFailure::NotOffered,
            ),
            (
                sqlx::Error::Tls("Invalid certificate file: /x".into()),
                TlsFailure::Other,
            ),
        ];
        for (e, why) in cases {
            assert_eq!(classify(&e), ConnectFailure::Tls(why), "{e}");
            assert!(!is_retryable(&e), "{e}");
        }
        // A refused TCP connection is not TLS, and is worth another try.
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(classify(&refused), ConnectFailure::Unreachable);
        assert!(is_retryable(&refused));
    }

    #[test]
    fn tls_hints_talk_about_certificates_never_about_a_server_that_is_down() {
        for kind in [BackendKind::Postgres, BackendKind::MySql] {
            for why in [
                TlsFailure::NotOffered,
                TlsFailure::Untrusted,
                TlsFailure::NameMismatch,
                TlsFailure::Other,
            ] {
                let hint = connect_hint(kind, ConnectFailure::Tls(why));
                assert!(!hint.contains("is running"), "{hint}");
                let option = if kind == BackendKind::Postgres {
                    "sslmode"
                } else {
                    "ssl-mode"
                };
                assert!(hint.contains(option), "{kind}: {hint}");
            }
        }
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
