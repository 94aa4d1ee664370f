//! What can go wrong in the database layer, as one typed error, with the
//! advice each failure carries. Telling what a driver's error means is
//! [`super::diagnose`]'s job.

use std::time::Duration;

use super::dangling::DanglingRefs;
use crate::step::Direction;
use crate::url::BackendKind;

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
    #[error("cannot read `{}`, the `{param}` of {url}: {source}; give the path of a PEM file (a relative one is taken from the folder of config.yaml, or from the current directory for --database-url and DATABASE_URL)", path.display())]
    CertFile {
        /// The URL, password masked.
        url: String,
        /// The query parameter that names the file.
        param: String,
        /// The file, resolved.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: crate::IoCause,
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
    /// `lock: table`: the lease could not be renewed in time, or another run
    /// took it over after it expired; the run stopped before its next step.
    #[error(
        "lost the migration lock on {url}: {message}; the run stopped before its next revision"
    )]
    LeaseLost {
        /// The URL, password masked.
        url: String,
        /// Why the lease is no longer ours.
        message: String,
    },
    /// `lock: advisory` on PostgreSQL through a pooler in transaction mode:
    /// the session lock would not protect anything.
    #[error("the advisory lock cannot protect a run on {url}: {evidence}, so the connection is not pinned to one server session (a connection pooler such as PgBouncer in transaction mode?); rev ran nothing")]
    PoolerNotPinned {
        /// The URL, password masked.
        url: String,
        /// What rev saw.
        evidence: String,
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
            BackendError::LeaseLost { .. } => "lease_lost",
            BackendError::PoolerNotPinned { .. } => "pooler_not_pinned",
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
    /// A connection pooler in front of the server refuses a startup
    /// parameter (PgBouncer's `unsupported startup parameter`). Never
    /// retried: only the pooler's configuration can change it.
    PoolerParameter,
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
        (_, ConnectFailure::PoolerParameter) => "the server answered, through a connection pooler: change the pooler's configuration as the message says, or give rev the URL of the server itself",
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

pub(super) fn fmt_duration(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// A revision left rows that reference no row of their parent table (see
/// [`crate::backend::BackendError::ForeignKeyViolation`]). Rows that dangled
/// before the revision ran are not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyViolation {
    /// The revision.
    pub revision: String,
    /// Which section ran.
    pub direction: Direction,
    /// The child table holding the dangling rows.
    pub table: String,
    /// The first of them by rowid that did not dangle before, where known
    /// (`None` for a `WITHOUT ROWID` table).
    pub first_rowid: Option<i64>,
    /// How many more rows dangle than before the revision.
    pub rows: u64,
    /// The table they should reference.
    pub parent: String,
    /// Whether that table exists at all.
    pub parent_exists: bool,
    /// The foreign key as SQL, e.g. `child(parent_id) REFERENCES parent(id)`.
    pub reference: String,
    /// Whether the revision was rolled back (it was transactional).
    pub rolled_back: bool,
}

impl std::fmt::Display for ForeignKeyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refs = DanglingRefs {
            table: self.table.clone(),
            parent: self.parent.clone(),
            parent_exists: self.parent_exists,
            rows: self.rows,
            first_rowid: self.first_rowid,
            reference: self.reference.clone(),
            rowids: None,
        };
        write!(
            f,
            "{} of revision `{}` leaves {}; {}",
            self.direction,
            self.revision,
            refs.describe("pointing to", "pointing to"),
            if self.rolled_back {
                "its changes were rolled back and it is not recorded"
            } else {
                "it was not transactional: its changes remain and it stays marked in progress"
            }
        )
    }
}

#[cfg(test)]
mod tests;
