//! Database URLs that cannot leak their password.
//!
//! [`DatabaseUrl`] owns parsing (scheme → [`BackendKind`], relative SQLite
//! paths resolved against the config folder) and masking: both `Display` and
//! `Debug` print `****` in place of the password, so a URL can be put in any
//! message or log. Reading the secret takes an explicit call
//! ([`DatabaseUrl::with_credentials_exposed`]). [`mask_secrets`] scrubs the
//! password out of text that did not come from us, such as driver errors.
//!
//! TLS options ride in the query string, as the drivers read them:
//! `sslmode`, `sslrootcert`, `sslcert`, `sslkey` on PostgreSQL, `ssl-mode`,
//! `ssl-ca`, `ssl-cert`, `ssl-key` on MySQL/MariaDB (see [`CERT_PARAMS`]).
//! A relative certificate path is resolved like a SQLite path, against the
//! folder of config.yaml, so `sslrootcert=certs/ca.pem` names the same file
//! whatever the current directory. A certificate or key written inline as
//! PEM is left alone, and a key's PEM is masked like a password.
//!
//! This module does not connect to anything; see [`crate::backend`].

use std::fmt;
use std::path::{Component, Path, PathBuf};

use url::Url;

/// The schemes `rev` understands, as shown in error messages.
pub const SUPPORTED_SCHEMES: &[&str] = &["sqlite", "postgres", "postgresql", "mysql", "mariadb"];

/// What stands in for a password in every printed URL or message.
pub const MASK: &str = "****";

/// Query parameters whose value is a certificate or key file (the spellings
/// sqlx accepts for PostgreSQL and MySQL). A relative path is taken relative
/// to the config folder; a value that is PEM text is used as it is.
pub const CERT_PARAMS: &[&str] = &[
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

/// The parameters among [`CERT_PARAMS`] that hold a private key.
const KEY_PARAMS: &[&str] = &["sslkey", "ssl-key"];

/// Whether a certificate parameter's value is PEM text rather than a path
/// (sqlx's own test: it starts with `-----BEGIN` and ends with `-----`).
fn is_inline_pem(value: &str) -> bool {
    let v = value.trim();
    v.starts_with("-----BEGIN") && v.ends_with("-----")
}

/// The database family a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// SQLite: a file beside the project, or memory.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB (one wire protocol and one dialect for `rev`'s needs).
    MySql,
}

impl BackendKind {
    /// A stable lower-case name (`sqlite`, `postgres`, `mysql`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
            BackendKind::MySql => "mysql",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a database URL was refused. Messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not one `rev` can connect to.
    #[error("unsupported database URL scheme `{scheme}`; supported schemes: {}", SUPPORTED_SCHEMES.join(", "))]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// The text has no `scheme:` prefix at all.
    #[error("database URL has no scheme; expected one of: {}", SUPPORTED_SCHEMES.join(", "))]
    MissingScheme,
    /// The URL could not be parsed. `reason` comes from the URL parser and
    /// does not repeat the input (which may hold a password).
    #[error("database URL is not valid: {reason}")]
    Invalid {
        /// What the parser objected to.
        reason: String,
    },
    /// A server URL without a host.
    #[error("{kind} database URL has no host")]
    MissingHost {
        /// Which backend the scheme selected.
        kind: BackendKind,
    },
    /// A MySQL/MariaDB URL that names no database: the session would have
    /// no schema to keep the tracking table in.
    #[error("the MySQL/MariaDB URL {url} names no database; add it after the host and port, as in {example}")]
    MissingDatabase {
        /// The URL, password masked.
        url: String,
        /// The same URL with a `/DBNAME` path, password masked.
        example: String,
    },
}

impl UrlError {
    /// A stable identifier for JSON error output.
    pub fn kind(&self) -> &'static str {
        "invalid_url"
    }
}

#[derive(Clone, PartialEq, Eq)]
enum Inner {
    /// `path` is absolute (resolved against the caller's base dir); `None` is memory.
    Sqlite {
        path: Option<PathBuf>,
        query: Option<String>,
    },
    Server {
        kind: BackendKind,
        url: Url,
    },
}

/// A parsed database URL whose `Display` and `Debug` mask the password.
///
/// ```
/// # use std::path::Path;
/// let url = rev::url::DatabaseUrl::parse("postgres://u:hunter2@h/db", Path::new("/")).unwrap();
/// assert_eq!(url.to_string(), "postgres://u:****@h/db");
/// assert_eq!(format!("{url:?}"), "postgres://u:****@h/db");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Inner);

impl DatabaseUrl {
    /// Parse `text`. A relative SQLite path is taken relative to `base_dir`
    /// (the folder holding config.yaml), so the result does not depend on the
    /// current directory.
    pub fn parse(text: &str, base_dir: &Path) -> Result<DatabaseUrl, UrlError> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(UrlError::MissingScheme);
        };
        if scheme.is_empty() {
            return Err(UrlError::MissingScheme);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::parse_sqlite(rest, base_dir)),
            "postgres" | "postgresql" => Self::parse_server(text, BackendKind::Postgres, base_dir),
            "mysql" | "mariadb" => Self::parse_server(text, BackendKind::MySql, base_dir),
            _ => Err(UrlError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }

    fn parse_sqlite(rest: &str, base_dir: &Path) -> DatabaseUrl {
        // The same forms sqlx accepts: `sqlite::memory:`, `sqlite://path`, `sqlite:path`.
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (db, query) = match rest.split_once('?') {
            Some((db, q)) => (db, Some(q.to_owned()).filter(|q| !q.is_empty())),
            None => (rest, None),
        };
        let memory_mode = query.as_deref().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "mode" && v == "memory")
        });
        let path = if db.is_empty() || db == ":memory:" || memory_mode {
            None
        } else {
            let decoded = percent_encoding::percent_decode_str(db).decode_utf8_lossy();
            Some(normalize(&base_dir.join(decoded.as_ref())))
        };
        DatabaseUrl(Inner::Sqlite { path, query })
    }

    fn parse_server(
        text: &str,
        kind: BackendKind,
        base_dir: &Path,
    ) -> Result<DatabaseUrl, UrlError> {
        let url = Url::parse(text).map_err(|e| UrlError::Invalid {
            reason: e.to_string(),
        })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::MissingHost { kind });
        }
        let url = resolve_cert_paths(url, base_dir);
        // PostgreSQL falls back to a database named like the user; MySQL
        // would connect to no database at all, where rev can neither read
        // nor create its table, so `current` would say "nothing applied".
        if kind == BackendKind::MySql && url.path().trim_matches('/').is_empty() {
            let parsed = DatabaseUrl(Inner::Server { kind, url });
            let mut example = parsed.clone();
            if let Inner::Server { url, .. } = &mut example.0 {
                url.set_path("/DBNAME");
            }
            return Err(UrlError::MissingDatabase {
                url: parsed.to_string(),
                example: example.to_string(),
            });
        }
        Ok(DatabaseUrl(Inner::Server { kind, url }))
    }

    /// Which backend this URL selects.
    pub fn kind(&self) -> BackendKind {
        match &self.0 {
            Inner::Sqlite { .. } => BackendKind::Sqlite,
            Inner::Server { kind, .. } => *kind,
        }
    }

    /// The absolute path of a SQLite database file; `None` for memory or a server.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.0 {
            Inner::Sqlite { path, .. } => path.as_deref(),
            Inner::Server { .. } => None,
        }
    }

    /// Whether this is an in-memory SQLite database (gone when the connection closes).
    pub fn is_memory(&self) -> bool {
        matches!(&self.0, Inner::Sqlite { path: None, .. })
    }

    /// The SQLite query string (`mode=rwc`), if any.
    pub fn sqlite_query(&self) -> Option<&str> {
        match &self.0 {
            Inner::Sqlite { query, .. } => query.as_deref(),
            Inner::Server { .. } => None,
        }
    }

    /// The server host, for server databases.
    pub fn host(&self) -> Option<&str> {
        match &self.0 {
            Inner::Server { url, .. } => url.host_str(),
            Inner::Sqlite { .. } => None,
        }
    }

    /// The server port: the one written, else the backend's default.
    pub fn port(&self) -> Option<u16> {
        match &self.0 {
            Inner::Server { kind, url } => Some(url.port().unwrap_or(match kind {
                BackendKind::Postgres => 5432,
                _ => 3306,
            })),
            Inner::Sqlite { .. } => None,
        }
    }

    /// The user name, if one is written (percent-decoded).
    pub fn username(&self) -> Option<String> {
        match &self.0 {
            Inner::Server { url, .. } if !url.username().is_empty() => Some(
                percent_encoding::percent_decode_str(url.username())
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
            _ => None,
        }
    }

    /// The certificate and key files the URL names, as `(parameter, path)`,
    /// paths already resolved against the config folder. Inline PEM values
    /// are not files and are left out.
    pub fn cert_files(&self) -> Vec<(String, PathBuf)> {
        let Inner::Server { url, .. } = &self.0 else {
            return Vec::new();
        };
        url.query_pairs()
            .filter(|(k, v)| CERT_PARAMS.contains(&k.as_ref()) && !is_inline_pem(v))
            .map(|(k, v)| (k.into_owned(), PathBuf::from(v.as_ref())))
            .collect()
    }

    /// Whether a password is written in the URL. Lets the CLI decide to prompt
    /// without ever looking at the secret.
    pub fn has_password(&self) -> bool {
        matches!(&self.0, Inner::Server { url, .. } if url.password().is_some())
    }

    /// A copy with `password` set (e.g. from an interactive prompt). SQLite
    /// URLs are returned unchanged.
    pub fn with_password(&self, password: &str) -> DatabaseUrl {
        match &self.0 {
            Inner::Server { kind, url } => {
                let mut url = url.clone();
                // Cannot fail: the host was checked in `parse`.
                let _ = url.set_password(Some(password));
                DatabaseUrl(Inner::Server { kind: *kind, url })
            }
            Inner::Sqlite { .. } => self.clone(),
        }
    }

    /// The full URL including the password. Only for handing to a driver;
    /// never print it.
    pub fn with_credentials_exposed(&self) -> String {
        match &self.0 {
            Inner::Server { url, .. } => url.as_str().to_owned(),
            Inner::Sqlite { .. } => self.to_string(),
        }
    }

    /// The parsed server URL, password included, for building driver options.
    pub(crate) fn server_url(&self) -> Option<&Url> {
        match &self.0 {
            Inner::Server { url, .. } => Some(url),
            Inner::Sqlite { .. } => None,
        }
    }

    /// The password as written in the URL (percent-encoded) and decoded.
    fn password_forms(&self) -> Vec<String> {
        let Inner::Server { url, .. } = &self.0 else {
            return Vec::new();
        };
        let Some(raw) = url.password() else {
            return Vec::new();
        };
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        let mut forms = vec![raw.to_owned(), decoded];
        // Longest first, so a decoded form that contains the raw one is replaced whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms.retain(|f| !f.is_empty());
        forms
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Sqlite { path: None, query } => match query {
                Some(q) => write!(f, "sqlite::memory:?{q}"),
                None => f.write_str("sqlite::memory:"),
            },
            Inner::Sqlite {
                path: Some(path),
                query,
            } => {
                write!(f, "sqlite://{}", path.display())?;
                match query {
                    Some(q) => write!(f, "?{q}"),
                    None => Ok(()),
                }
            }
            Inner::Server { url, .. } => {
                if url.password().is_some() || has_inline_key(url) {
                    let mut masked = url.clone();
                    if url.password().is_some() {
                        let _ = masked.set_password(Some(MASK));
                    }
                    if has_inline_key(url) {
                        mask_inline_keys(&mut masked);
                    }
                    f.write_str(masked.as_str())
                } else {
                    f.write_str(url.as_str())
                }
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Make relative certificate paths in the query absolute against `base_dir`.
/// Only those pairs are rewritten; the rest of the URL keeps its text.
fn resolve_cert_paths(mut url: Url, base_dir: &Path) -> Url {
    rewrite_query(&mut url, |k, v| {
        (CERT_PARAMS.contains(&k) && !is_inline_pem(v) && Path::new(v).is_relative())
            .then(|| normalize(&base_dir.join(v)).to_string_lossy().into_owned())
    });
    url
}

fn has_inline_key(url: &Url) -> bool {
    url.query_pairs()
        .any(|(k, v)| KEY_PARAMS.contains(&k.as_ref()) && is_inline_pem(&v))
}

/// Replace a private key written inline as PEM by [`MASK`].
fn mask_inline_keys(url: &mut Url) {
    rewrite_query(url, |k, v| {
        (KEY_PARAMS.contains(&k) && is_inline_pem(v)).then(|| MASK.to_owned())
    });
}

/// Characters a query value cannot hold as they are: the pair separators,
/// `+` (read as a space) and `%`, besides what a URL never holds raw.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>');

/// Give the query pairs for which `new_value(key, value)` (both decoded)
/// returns a value that value, keeping every other pair's text as written.
fn rewrite_query(url: &mut Url, new_value: impl Fn(&str, &str) -> Option<String>) {
    let Some(query) = url.query() else {
        return;
    };
    let mut changed = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|raw| {
            let Some((k, v)) = url::form_urlencoded::parse(raw.as_bytes()).next() else {
                return raw.to_owned();
            };
            match new_value(&k, &v) {
                Some(v) => {
                    changed = true;
                    let key = raw.split('=').next().unwrap_or_default();
                    format!(
                        "{key}={}",
                        percent_encoding::utf8_percent_encode(&v, QUERY_VALUE)
                    )
                }
                None => raw.to_owned(),
            }
        })
        .collect();
    if changed {
        url.set_query(Some(&pairs.join("&")));
    }
}

/// Remove `url`'s password from `text` (a driver error, say), in both its
/// written and its percent-decoded form.
pub fn mask_secrets(text: &str, url: &DatabaseUrl) -> String {
    let mut out = text.replace(&url.with_credentials_exposed(), &url.to_string());
    for secret in url.password_forms() {
        out = out.replace(&secret, MASK);
    }
    out
}

/// Drop `.` components so `base/./app.db` prints as `base/app.db`. `..` is
/// kept: resolving it lexically would be wrong through symlinks.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DatabaseUrl {
        match DatabaseUrl::parse(s, Path::new("/proj")) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn user_only_is_printed_as_is() {
        let u = parse("postgres://alice@db.example:5433/app");
        assert_eq!(u.to_string(), "postgres://alice@db.example:5433/app");
        assert!(!u.has_password());
        assert_eq!(u.username().as_deref(), Some("alice"));
        assert_eq!(u.port(), Some(5433));
    }

    #[test]
    fn password_only_is_masked() {
        let u = parse("postgres://:s3cret@h/db");
        assert_eq!(u.to_string(), "postgres://:****@h/db");
        assert_eq!(format!("{u:?}"), "postgres://:****@h/db");
        assert!(u.has_password());
        assert_eq!(u.username(), None);
    }

    #[test]
    fn user_and_password_are_masked_in_display_and_debug() {
        let u = parse("mysql://root:hunter2@127.0.0.1:3306/test");
        assert_eq!(u.to_string(), "mysql://root:****@127.0.0.1:3306/test");
        assert_eq!(format!("{u:?}"), "mysql://root:****@127.0.0.1:3306/test");
        assert!(!format!("{u} {u:?} {u:#?}").contains("hunter2"));
        assert_eq!(
            u.with_credentials_exposed(),
            "mysql://root:hunter2@127.0.0.1:3306/test"
        );
        assert_eq!(u.kind(), BackendKind::MySql);
    }

    #[test]
    fn no_auth() {
        let u = parse("postgresql://localhost/db");
        assert_eq!(u.to_string(), "postgresql://localhost/db");
        assert_eq!(u.kind(), BackendKind::Postgres);
        assert_eq!(u.port(), Some(5432));
        assert_eq!(parse("mariadb://h/db").port(), Some(3306));
    }

    #[test]
    fn with_password_is_masked_too() {
        let u = parse("postgres://u@h/db").with_password("p@ss");
        assert!(u.has_password());
        assert_eq!(u.to_string(), "postgres://u:****@h/db");
        assert!(u.with_credentials_exposed().contains("p%40ss"));
    }

    #[test]
    fn relative_sqlite_path_is_resolved_against_base_dir() {
        let u = parse("sqlite://app.db?mode=rwc");
        assert_eq!(u.kind(), BackendKind::Sqlite);
        assert_eq!(u.sqlite_path(), Some(Path::new("/proj/app.db")));
        assert_eq!(u.sqlite_query(), Some("mode=rwc"));
        assert_eq!(u.to_string(), "sqlite:///proj/app.db?mode=rwc");
        let dotted = parse("sqlite:./data/app.db");
        assert_eq!(dotted.sqlite_path(), Some(Path::new("/proj/data/app.db")));
    }

    #[test]
    fn absolute_sqlite_path_is_kept() {
        let u = parse("sqlite:///var/lib/app.db");
        assert_eq!(u.sqlite_path(), Some(Path::new("/var/lib/app.db")));
    }

    #[test]
    fn sqlite_memory_forms() {
        for s in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
        ] {
            let u = parse(s);
            assert!(u.is_memory(), "{s}");
            assert_eq!(u.sqlite_path(), None, "{s}");
        }
    }

    #[test]
    fn bad_scheme_names_it_and_lists_supported() {
        let err = DatabaseUrl::parse("oracle://u:pw@h/db", Path::new("/")).unwrap_err();
        assert_eq!(
            err,
            UrlError::UnsupportedScheme {
                scheme: "oracle".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("`oracle`"), "{msg}");
        assert!(msg.contains("postgres") && msg.contains("sqlite") && msg.contains("mysql"));
        assert!(!msg.contains("pw"));
        assert_eq!(err.kind(), "invalid_url");
    }

    #[test]
    fn missing_scheme_and_host() {
        assert_eq!(
            DatabaseUrl::parse("app.db", Path::new("/")),
            Err(UrlError::MissingScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres:///db", Path::new("/")),
            Err(UrlError::MissingHost {
                kind: BackendKind::Postgres
            })
        );
    }

    #[test]
    fn mysql_url_without_database_is_refused_with_the_masked_url() {
        for (text, shown, example) in [
            (
                "mysql://root@127.0.0.1:3306",
                "mysql://root@127.0.0.1:3306",
                "mysql://root@127.0.0.1:3306/DBNAME",
            ),
            (
                "mariadb://root:hunter2@db/?ssl-mode=required",
                "mariadb://root:****@db/?ssl-mode=required",
                "mariadb://root:****@db/DBNAME?ssl-mode=required",
            ),
        ] {
            let err = DatabaseUrl::parse(text, Path::new("/")).unwrap_err();
            assert_eq!(
                err,
                UrlError::MissingDatabase {
                    url: shown.into(),
                    example: example.into()
                },
                "{text}"
            );
            let msg = err.to_string();
            assert!(msg.contains(shown) && msg.contains(example), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        // PostgreSQL defaults the database to the user's name: allowed.
        assert!(DatabaseUrl::parse("postgres://u@h", Path::new("/")).is_ok());
        assert!(DatabaseUrl::parse("mysql://u@h/app", Path::new("/")).is_ok());
    }

    #[test]
    fn mask_secrets_removes_raw_and_decoded_password() {
        let u = parse("postgres://u:p%40ss%2Fword@h/db");
        let text = format!(
            "failed for {} (password p@ss/word, raw p%40ss%2Fword)",
            u.with_credentials_exposed()
        );
        let masked = mask_secrets(&text, &u);
        assert!(!masked.contains("p@ss/word"), "{masked}");
        assert!(!masked.contains("p%40ss%2Fword"), "{masked}");
        assert!(masked.contains("postgres://u:****@h/db"), "{masked}");
    }

    #[test]
    fn relative_cert_paths_are_resolved_against_base_dir() {
        let u = parse(
            "postgres://u:pw@h/db?sslmode=verify-ca&sslrootcert=certs/ca.pem&application_name=x",
        );
        assert_eq!(
            u.cert_files(),
            vec![(
                "sslrootcert".to_owned(),
                PathBuf::from("/proj/certs/ca.pem")
            )]
        );
        // The other parameters survive for the driver, in their order.
        assert_eq!(
            u.to_string(),
            "postgres://u:****@h/db?sslmode=verify-ca&sslrootcert=/proj/certs/ca.pem&application_name=x"
        );
        let m = parse("mysql://root@h/db?ssl-mode=VERIFY_CA&ssl-ca=./ca.pem&ssl-cert=/etc/c.pem");
        assert_eq!(
            m.cert_files(),
            vec![
                ("ssl-ca".to_owned(), PathBuf::from("/proj/ca.pem")),
                ("ssl-cert".to_owned(), PathBuf::from("/etc/c.pem")),
            ]
        );
    }

    #[test]
    fn resolved_cert_path_keeps_spaces_and_plus_signs() {
        let u = parse("postgres://h/db?sslrootcert=my%20certs/c%2Ba.pem&sslmode=verify-ca");
        assert_eq!(
            u.cert_files(),
            vec![(
                "sslrootcert".to_owned(),
                PathBuf::from("/proj/my certs/c+a.pem")
            )]
        );
    }

    #[test]
    fn url_without_relative_cert_path_keeps_its_text() {
        let text =
            "postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&options=-c%20a%3Db";
        assert_eq!(parse(text).to_string(), text);
    }

    #[test]
    fn inline_pem_is_not_a_path_and_an_inline_key_is_masked() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----";
        let ca = "-----BEGIN CERTIFICATE-----\nMIIpublic\n-----END CERTIFICATE-----";
        let text = format!(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert={}&sslkey={}",
            percent_encoding::utf8_percent_encode(ca, percent_encoding::NON_ALPHANUMERIC),
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC),
        );
        let u = parse(&text);
        assert!(u.cert_files().is_empty());
        let shown = u.to_string();
        assert!(!shown.contains("MIIsecret"), "{shown}");
        assert!(shown.contains("sslkey=****"), "{shown}");
        assert!(shown.contains("MIIpublic"), "{shown}");
        // The driver still gets the key.
        assert!(u.with_credentials_exposed().contains("MIIsecret"));
    }

    #[test]
    fn mask_secrets_without_password_changes_nothing() {
        let u = parse("postgres://u@h/db");
        assert_eq!(mask_secrets("plain text", &u), "plain text");
    }
}
