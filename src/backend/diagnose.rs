//! What a driver's error means: the database's own message, whether it is a
//! TLS failure, which kind of connection failure, whether another attempt
//! could succeed, and where in a script PostgreSQL says it failed.

use super::error::{ConnectFailure, TlsFailure};

/// The database's own message when there is one, else sqlx's.
pub(super) fn describe(e: &sqlx::Error) -> String {
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

/// Whether `e` is a failure to set up TLS, with what rustls or sqlx said.
/// sqlx reports a refused certificate as an I/O error that wraps a
/// `rustls::Error`, and its own refusals (no TLS on the server, a bad PEM)
/// as `Error::Tls`.
pub(super) fn tls_failure(e: &sqlx::Error) -> Option<(TlsFailure, String)> {
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
pub(super) fn classify(e: &sqlx::Error) -> ConnectFailure {
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
pub(super) fn is_retryable(e: &sqlx::Error) -> bool {
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
pub(super) fn pg_error_offset(e: &sqlx::Error, sql: &str) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
