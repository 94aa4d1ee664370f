//! Connecting: each attempt limited in time, failures that waiting can fix
//! retried with backoff, certificate files checked first; and the second
//! connection that cancels a running PostgreSQL statement.

use std::time::{Duration, Instant};

use super::connection::{Connection, Inner};
use super::diagnose::{classify, describe, is_retryable, tls_failure};
use super::dialect::{Dialect, TableName};
use super::error::{fmt_duration, BackendError, ConnectFailure, TlsFailure};
use super::{mysql, postgres, sqlite};
use crate::url::{mask_secrets, BackendKind, DatabaseUrl};

/// First wait between connection attempts; doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
            connect_timeout: Duration::from_secs(crate::defaults::CONNECT_TIMEOUT_SECONDS),
            retries: crate::defaults::CONNECT_RETRIES,
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
            let sent: bool = sqlx::Row::try_get(
                &sqlx::raw_sql(super::trusted_sql(format!(
                    "SELECT pg_cancel_backend({})",
                    self.pid
                )))
                .fetch_one(&mut s.conn)
                .await
                .ok()?,
                0,
            )
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
                        lock_mode: super::lease::LockMode::Advisory,
                        lease_length: super::lease::DEFAULT_LEASE,
                        lease: None,
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
                    if let Some(name) = super::pooler::rejected_startup_parameter(&e) {
                        // A pooler's refusal: no retry changes it.
                        last = format!("{last}: the connection pooler in front of the server (PgBouncer?) refuses the startup parameter `{name}`; add `ignore_startup_parameters = {name}` to its configuration (pgbouncer.ini)");
                        cause = ConnectFailure::PoolerParameter;
                        break;
                    }
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

    pub(super) async fn connect_once(url: &DatabaseUrl) -> Result<Inner, sqlx::Error> {
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
                source: e.into(),
            });
        }
    }
    Ok(())
}
