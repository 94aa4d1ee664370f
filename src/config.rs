//! `config.yaml`: where the revisions are and how to reach the database.
//!
//! Relative paths in the file (`script_location`, a SQLite file in
//! `database_url`) are relative to the folder of the config file, so
//! `rev -c some/dir/config.yaml` works from anywhere. `${VAR}` in
//! `database_url` is expanded from the environment (percent-encoded inside
//! the user name or password, see [`expand_url_env`]); a variable that is not
//! set is an error naming it, never an empty string (which would silently
//! produce another URL). Unknown keys are warnings, so a config written for a
//! newer rev still loads.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::LockMode;
use crate::defaults;
use crate::IoCause;

/// The name rev looks for when `-c` is not given.
pub const DEFAULT_FILE: &str = "config.yaml";

/// Config files larger than this are refused rather than read whole.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Settings from `config.yaml`, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The config file this came from, if any.
    pub path: Option<PathBuf>,
    /// The folder relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The database URL as written, `${VAR}` expanded; may hold a password,
    /// so never print it (see [`crate::url`]).
    pub database_url: Option<String>,
    /// The folder of revision files, absolute or relative to the cwd; the
    /// first of [`Config::version_locations`], where `rev new` writes.
    pub script_location: PathBuf,
    /// Every folder of revision files (Alembic's `version_locations`):
    /// `script_location` first, then the others, without repeats. Their
    /// revisions form one graph.
    pub version_locations: Vec<PathBuf>,
    /// The tracking table's name (validated when used).
    pub version_table: String,
    /// Name of new revision files; `{rev}`, `{slug}`, `{year}`, `{month}`,
    /// `{day}` are replaced and `.sql` added.
    pub file_template: String,
    /// One transaction per revision (true) or for the whole run (false).
    pub transaction_per_migration: bool,
    /// How long to wait for another rev to release the database.
    pub lock_timeout_seconds: u64,
    /// How the migration lock is taken: `advisory` (the database's session
    /// lock) or `table` (a lease row, for poolers and engines without one).
    pub lock: LockMode,
    /// `lock: table`: how long a lease lasts unless renewed (it is renewed
    /// every third of that while the run lasts).
    pub lock_lease_seconds: u64,
    /// How long one connection attempt may take.
    pub connect_timeout_seconds: u64,
    /// How many times to retry a failed connection.
    pub connect_retries: u32,
    /// Named databases for `--db NAME` and `--all`: (name, URL), in the
    /// order the file lists them, each URL `${VAR}` expanded like
    /// `database_url` (so it may hold a password: never print it). A URL
    /// whose variable is not set is its error, raised only when that
    /// database is picked: a run on `database_url` (an init container)
    /// needs no fleet's secrets.
    pub databases: Vec<(String, Result<String, ConfigError>)>,
    /// Keys in the file this version does not know.
    pub unknown_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(default)]
struct RawConfig {
    database_url: Option<String>,
    script_location: Option<String>,
    version_locations: Option<Locations>,
    version_table: String,
    file_template: String,
    transaction_per_migration: bool,
    lock_timeout_seconds: u64,
    lock: LockMode,
    lock_lease_seconds: u64,
    connect_timeout_seconds: u64,
    connect_retries: u32,
    // A mapping keeps the file's order (serde_yaml's is ordered); a map type
    // would sort the names and a fleet runs in the order it is written.
    databases: Option<serde_yaml::Mapping>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            database_url: None,
            script_location: None,
            version_locations: None,
            version_table: defaults::VERSION_TABLE.into(),
            file_template: defaults::FILE_TEMPLATE.into(),
            transaction_per_migration: defaults::TRANSACTION_PER_MIGRATION,
            lock_timeout_seconds: defaults::LOCK_TIMEOUT_SECONDS,
            lock: LockMode::default(),
            lock_lease_seconds: defaults::LOCK_LEASE_SECONDS,
            connect_timeout_seconds: defaults::CONNECT_TIMEOUT_SECONDS,
            connect_retries: defaults::CONNECT_RETRIES,
            databases: None,
        }
    }
}

/// `version_locations`: a YAML list, or Alembic's one string of folders
/// separated by spaces or commas.
#[derive(Deserialize)]
#[serde(untagged)]
enum Locations {
    List(Vec<String>),
    Text(String),
}

impl Locations {
    fn into_vec(self) -> Vec<String> {
        match self {
            Locations::List(list) => list,
            Locations::Text(text) => text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

const KNOWN_KEYS: &[&str] = &[
    "database_url",
    "script_location",
    "version_locations",
    "version_table",
    "file_template",
    "transaction_per_migration",
    "lock_timeout_seconds",
    "lock",
    "lock_lease_seconds",
    "connect_timeout_seconds",
    "connect_retries",
    "databases",
];

/// A problem with the config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: IoCause,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The YAML reader's message, with line and column.
        message: String,
    },
    /// `${VAR}` names a variable that is not set.
    #[error("{}: database_url uses `${{{var}}}`, but the environment variable `{var}` is not set", path.display())]
    MissingVariable {
        /// The file.
        path: PathBuf,
        /// The variable.
        var: String,
    },
    /// A URL under `databases:` uses `${VAR}` and the variable is not set.
    #[error("{}: database `{database}` uses `${{{var}}}`, but the environment variable `{var}` is not set", path.display())]
    DatabaseVariable {
        /// The file.
        path: PathBuf,
        /// The name of the database under `databases:`.
        database: String,
        /// The variable.
        var: String,
    },
}

impl ConfigError {
    /// A stable name for scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config_read",
            ConfigError::Invalid { .. } => "config_invalid",
            ConfigError::MissingVariable { .. } | ConfigError::DatabaseVariable { .. } => {
                "config_variable"
            }
        }
    }
}

impl Config {
    /// Defaults for a project rooted at `base_dir` with no config file.
    pub fn defaults(base_dir: &Path) -> Config {
        Config::from_raw(
            RawConfig::default(),
            None,
            base_dir.to_path_buf(),
            Vec::new(),
        )
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |e: std::io::Error| ConfigError::Read {
            path: path.to_path_buf(),
            source: e.into(),
        };
        let invalid = |message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: message.to_owned(),
        };
        // A config is a few lines; refuse to read a huge file whole.
        let size = std::fs::metadata(path).map_err(read_err)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(invalid(&format!(
                "the file is {size} bytes; a config file is limited to {MAX_CONFIG_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid("not UTF-8 text; config.yaml must be UTF-8"))?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, path, &base_dir, &|var| std::env::var(var).ok())
    }

    /// Parses config text; `env` looks up variables for `${VAR}`.
    pub fn parse(
        text: &str,
        path: &Path,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut unknown = Vec::new();
        match &value {
            serde_yaml::Value::Null => {}
            serde_yaml::Value::Mapping(map) => {
                for key in map.keys() {
                    let key = key
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{key:?}"));
                    if !KNOWN_KEYS.contains(&key.as_str()) {
                        unknown.push(key);
                    }
                }
            }
            _ => {
                return Err(invalid(
                    "expected a mapping of `key: value` settings".into(),
                ))
            }
        }
        let mut raw: RawConfig = if value.is_null() {
            RawConfig::default()
        } else {
            // Parse the text again rather than the value: only then does the
            // message carry the key and the line of a wrongly typed setting.
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?
        };
        if let Some(url) = raw.database_url.take() {
            raw.database_url =
                Some(
                    expand_url_env(&url, env).map_err(|var| ConfigError::MissingVariable {
                        path: path.to_path_buf(),
                        var,
                    })?,
                );
        }
        let databases = match raw.databases.take() {
            Some(map) => named_databases(map, path, env)?,
            None => Vec::new(),
        };
        let mut config = Config::from_raw(
            raw,
            Some(path.to_path_buf()),
            base_dir.to_path_buf(),
            unknown,
        );
        config.databases = databases;
        Ok(config)
    }

    fn from_raw(
        raw: RawConfig,
        path: Option<PathBuf>,
        base_dir: PathBuf,
        unknown_keys: Vec<String>,
    ) -> Config {
        // `./versions/x.sql` in every message would be noise.
        let resolve = |p: &str| {
            if base_dir == Path::new(".") {
                PathBuf::from(p)
            } else {
                base_dir.join(p)
            }
        };
        let mut others = raw
            .version_locations
            .map(Locations::into_vec)
            .unwrap_or_default();
        // Without `script_location`, the first of `version_locations` is
        // where new revisions go (an Alembic config names only those).
        let first = match raw.script_location {
            Some(p) => p,
            None if !others.is_empty() => others.remove(0),
            None => defaults::SCRIPT_LOCATION.into(),
        };
        let script_location = resolve(&first);
        let mut version_locations = vec![script_location.clone()];
        for p in others {
            let p = resolve(&p);
            if !version_locations
                .iter()
                .any(|q| q.components().eq(p.components()))
            {
                version_locations.push(p);
            }
        }
        Config {
            script_location,
            version_locations,
            path,
            base_dir,
            database_url: raw.database_url.filter(|u| !u.trim().is_empty()),
            version_table: raw.version_table,
            file_template: raw.file_template,
            transaction_per_migration: raw.transaction_per_migration,
            lock_timeout_seconds: raw.lock_timeout_seconds,
            lock: raw.lock,
            // Renewed every third of it: below 3 s a renewal would be due
            // more often than a slow network answers.
            lock_lease_seconds: raw.lock_lease_seconds.max(3),
            connect_timeout_seconds: raw.connect_timeout_seconds,
            connect_retries: raw.connect_retries,
            databases: Vec::new(),
            unknown_keys,
        }
    }

    /// The project's own templates folder (overrides the built-in template).
    pub fn template_dir(&self) -> PathBuf {
        self.base_dir.join("templates")
    }
}

/// `databases:`: names to URLs, in the file's order, each URL expanded (or
/// the error of its unset variable).
#[allow(clippy::type_complexity)]
fn named_databases(
    map: serde_yaml::Mapping,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Result<String, ConfigError>)>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = match key {
            serde_yaml::Value::String(s) => s,
            // `1: sqlite://...` is a name a person typed; YAML read a number.
            serde_yaml::Value::Number(n) => n.to_string(),
            other => {
                return Err(invalid(format!(
                    "databases: a name must be text, not {other:?}"
                )))
            }
        };
        let serde_yaml::Value::String(url) = value else {
            return Err(invalid(format!(
                "databases: `{name}` must be a URL (text), e.g. `{name}: sqlite://{name}.db?mode=rwc`"
            )));
        };
        let url = expand_url_env(&url, env).map_err(|var| ConfigError::DatabaseVariable {
            path: path.to_path_buf(),
            database: name.clone(),
            var,
        });
        out.push((name, url));
    }
    Ok(out)
}

/// Everything but URL-unreserved characters is percent-encoded in a value
/// put into a URL's user name or password.
const USERINFO_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'-')
    .remove(b'.')
    .remove(b'~');

/// [`expand_env`] for a database URL: a `${VAR}` inside the user name or
/// password (between `scheme://` and the `@` before the host) stands for
/// exactly its value, so the value is percent-encoded there: a password
/// `p@ss:w/rd#?` cannot end the password, or the URL, early. Elsewhere (a
/// whole URL in `${DATABASE_URL}`, a host, a database name) the value is put
/// in as it is.
pub fn expand_url_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let userinfo = userinfo_span(text);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = text[pos..].find("${") {
        let start = pos + found;
        out.push_str(&text[pos..start]);
        let Some(len) = text[start + 2..].find('}') else {
            pos = start;
            break;
        };
        let var = &text[start + 2..start + 2 + len];
        let value = env(var).ok_or_else(|| var.to_owned())?;
        if userinfo.contains(&start) {
            out.extend(percent_encoding::utf8_percent_encode(
                &value,
                USERINFO_VALUE,
            ));
        } else {
            out.push_str(&value);
        }
        pos = start + 2 + len + 1;
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

/// The byte range of the user name and password in a URL template, found
/// from its literal characters (`${…}` placeholders are skipped, so a value
/// cannot move the boundaries): from after `://` to the last `@` before the
/// authority ends at `/`, `?` or `#`. Empty when there is no `@`.
fn userinfo_span(text: &str) -> std::ops::Range<usize> {
    let Some(scheme_end) = text.find("://") else {
        return 0..0;
    };
    let start = scheme_end + 3;
    let bytes = text.as_bytes();
    let mut i = start;
    let mut last_at = None;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => match text[i..].find('}') {
                Some(end) => {
                    i += end + 1;
                    continue;
                }
                None => break,
            },
            b'@' => last_at = Some(i),
            b'/' | b'?' | b'#' => break,
            _ => {}
        }
        i += 1;
    }
    last_at.map_or(0..0, |at| start..at)
}

/// Replaces `${VAR}`; returns the name of the first unset variable as error.
/// `$$` is not special and a lone `$` is kept, so passwords with `$` survive.
pub fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let var = &after[..end];
                match env(var) {
                    Some(value) => out.push_str(&value),
                    None => return Err(var.to_string()),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            Path::new("proj/config.yaml"),
            Path::new("proj"),
            &|v| (v == "DB_PASS").then(|| "s3cr$t".to_string()),
        )
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse("database_url: sqlite://app.db?mode=rwc\n").unwrap();
        assert_eq!(c.script_location, PathBuf::from("proj/versions"));
        assert_eq!(c.version_table, "schema_migrations");
        assert_eq!(c.file_template, "{rev}_{slug}");
        assert!(c.transaction_per_migration);
        assert_eq!(
            (
                c.lock_timeout_seconds,
                c.connect_timeout_seconds,
                c.connect_retries
            ),
            (60, 30, 3)
        );
        let c = parse("").unwrap();
        assert_eq!(c.database_url, None);
    }

    #[test]
    fn expands_variables() {
        let c = parse("database_url: postgres://u:${DB_PASS}@h/db\n").unwrap();
        assert_eq!(
            c.database_url.as_deref(),
            Some("postgres://u:s3cr%24t@h/db")
        );
        let e = parse("database_url: postgres://u:${NOPE}@h/db\n").unwrap_err();
        assert_eq!(
            e,
            ConfigError::MissingVariable {
                path: "proj/config.yaml".into(),
                var: "NOPE".into()
            }
        );
        assert_eq!(expand_env("a$b${", &|_| None), Ok("a$b${".to_string()));
    }

    #[test]
    fn variables_in_user_and_password_are_percent_encoded() {
        let env = |v: &str| match v {
            "PW" => Some("p@ss:w/rd#?%".to_owned()),
            "USER" => Some("me@corp".to_owned()),
            "HOST" => Some("db.example:5433".to_owned()),
            "URL" => Some("postgres://u:p%40ss@h/db".to_owned()),
            _ => None,
        };
        assert_eq!(
            expand_url_env("postgres://${USER}:${PW}@${HOST}/app?x=${PW}", &env).unwrap(),
            "postgres://me%40corp:p%40ss%3Aw%2Frd%23%3F%25@db.example:5433/app?x=p@ss:w/rd#?%"
        );
        // A whole URL from a variable is taken as written.
        assert_eq!(
            expand_url_env("${URL}", &env).unwrap(),
            "postgres://u:p%40ss@h/db"
        );
        // Literal text is never touched, `@` in a literal password included.
        assert_eq!(
            expand_url_env("mysql://u:a%40b@h/db", &env).unwrap(),
            "mysql://u:a%40b@h/db"
        );
        assert_eq!(expand_url_env("x${", &env), Ok("x${".to_owned()));
        assert_eq!(
            expand_url_env("mysql://u:${NOPE}@h/d", &env),
            Err("NOPE".to_owned())
        );
        let parsed = url::Url::parse(
            &expand_url_env("postgres://app:${PW}@127.0.0.1:5432/db", &env).unwrap(),
        )
        .unwrap();
        assert_eq!(parsed.host_str(), Some("127.0.0.1"));
        assert_eq!(parsed.path(), "/db");
        let password = percent_encoding::percent_decode_str(parsed.password().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(password, "p@ss:w/rd#?%");
    }

    #[test]
    fn version_locations_add_folders_after_script_location() {
        let p = |s: &str| PathBuf::from(s);
        let c = parse("script_location: v\nversion_locations: [a, v, b/c]\n").unwrap();
        assert_eq!(c.script_location, p("proj/v"));
        assert_eq!(
            c.version_locations,
            [p("proj/v"), p("proj/a"), p("proj/b/c")]
        );
        // Alembic's one string; without script_location its first folder is
        // where `rev new` writes.
        let c = parse("version_locations: 'x, y  z'\n").unwrap();
        assert_eq!(c.script_location, p("proj/x"));
        assert_eq!(c.version_locations, [p("proj/x"), p("proj/y"), p("proj/z")]);
        let c = parse("version_table: t\n").unwrap();
        assert_eq!(c.version_locations, [p("proj/versions")]);
        assert!(c.unknown_keys.is_empty());
        let e = parse("version_locations: {a: 1}\n").unwrap_err();
        assert_eq!(e.kind(), "config_invalid");
    }

    /// The I/O error is kept as the cause, not only as text: a caller can
    /// tell a missing file from a permission problem.
    #[test]
    fn an_unreadable_file_keeps_the_io_error_as_its_source() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.yaml");
        let os_text = std::fs::metadata(&path).unwrap_err().to_string();
        let e = Config::load(&path).unwrap_err();
        assert_eq!(e.kind(), "config_read");
        assert_eq!(
            e.to_string(),
            format!("cannot read {}: {os_text}", path.display())
        );
        let source = e.source().expect("the I/O error is the source");
        let cause = source.downcast_ref::<IoCause>().expect("an IoCause");
        assert_eq!(cause.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(source.to_string(), os_text);

        let e = crate::revision::read(&path).unwrap_err();
        let cause = e.kind.source().and_then(|s| s.downcast_ref::<IoCause>());
        assert_eq!(cause.map(IoCause::kind), Some(std::io::ErrorKind::NotFound));
        assert_eq!(
            e.to_string(),
            format!("{}: cannot read the file: {os_text}", path.display())
        );
    }

    #[test]
    fn named_databases_keep_their_order_and_expand_variables() {
        let c = parse(
            "databases:\n  zeta: sqlite://z.db\n  alpha: postgres://u:${DB_PASS}@h/a\n  7: sqlite://7.db\n",
        )
        .unwrap();
        assert_eq!(
            c.databases,
            [
                ("zeta".to_owned(), Ok("sqlite://z.db".to_owned())),
                (
                    "alpha".to_owned(),
                    Ok("postgres://u:s3cr%24t@h/a".to_owned())
                ),
                ("7".to_owned(), Ok("sqlite://7.db".to_owned())),
            ]
        );
        assert!(c.unknown_keys.is_empty());
        assert!(parse("").unwrap().databases.is_empty());
        // An unset variable is the error of its database only.
        let c = parse("database_url: sqlite://x.db\ndatabases:\n  a: sqlite://a.db\n  b: mysql://u:${NOPE}@h/b\n").unwrap();
        assert_eq!(c.databases[0].1, Ok("sqlite://a.db".to_owned()));
        let e = c.databases[1].1.clone().unwrap_err();
        assert_eq!(
            e,
            ConfigError::DatabaseVariable {
                path: "proj/config.yaml".into(),
                database: "b".into(),
                var: "NOPE".into()
            }
        );
        assert_eq!(e.kind(), "config_variable");
        assert!(e.to_string().contains("database `b` uses `${NOPE}`"), "{e}");
        let e = parse("databases:\n  a: [1]\n").unwrap_err();
        assert_eq!(e.kind(), "config_invalid");
        assert!(e.to_string().contains("`a` must be a URL"), "{e}");
    }

    #[test]
    fn the_init_template_parses_and_its_databases_example_works_uncommented() {
        let init = crate::template::init_config();
        assert!(parse(&init).unwrap().databases.is_empty());
        let uncommented: String = init
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.starts_with("databases:") || rest.starts_with("  ") => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c = Config::parse(&uncommented, Path::new("c.yaml"), Path::new("."), &|_| {
            Some("pw".to_owned())
        })
        .unwrap();
        let names: Vec<&str> = c.databases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["tenant_a", "tenant_b"]);
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
    }

    #[test]
    fn bad_files() {
        assert_eq!(parse("- a\n- b\n").unwrap_err().kind(), "config_invalid");
        let e = parse("lock_timeout_seconds: soon\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("proj/config.yaml: lock_timeout_seconds"),
            "{e}"
        );
        assert_eq!(parse("a: [\n").unwrap_err().kind(), "config_invalid");
        let c = parse("colour: blue\nversion_table: x\n").unwrap();
        assert_eq!(c.unknown_keys, vec!["colour"]);
    }
}
