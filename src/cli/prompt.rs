//! Asking a person at a terminal for what the configuration does not say:
//! the connection details when no database URL is configured at all, and
//! the password of a URL that names a user but no password.
//!
//! Only ever used when stdin is a terminal; a script gets the error listing
//! the three ways to give a URL instead of a question it cannot answer.
//!
//! The password is kept in memory only: it is never echoed, never printed
//! (every URL rev prints masks it) and never written to config.yaml, which
//! gets the URL without it when the person agrees to save.

/// `eprintln!` that cannot panic: a closed or broken stderr (a detached
/// terminal, `2>&-`) must not turn a finished run into a crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use std::io::{self, BufRead, Write};
use std::path::Path;

use rev::config::Config;
use rev::url::{BackendKind, DatabaseUrl};

/// The questions' side of a terminal, so the dialogue can be tested with a
/// script of answers.
pub trait Terminal {
    /// Shows `question` and reads one line (without its line ending).
    /// End of input is an error: there is no one to answer.
    fn ask(&mut self, question: &str) -> io::Result<String>;
    /// Like [`Terminal::ask`], without echoing what is typed.
    fn ask_secret(&mut self, question: &str) -> io::Result<String>;
    /// Shows a line of information.
    fn say(&mut self, text: &str);
}

/// The real terminal: questions on stderr (stdout stays data only), answers
/// from stdin, the password from the terminal with echo off.
pub struct Tty;

impl Terminal for Tty {
    fn ask(&mut self, question: &str) -> io::Result<String> {
        let mut err = io::stderr().lock();
        write!(err, "{question}")?;
        err.flush()?;
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no answer (end of input)",
            ));
        }
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }

    fn ask_secret(&mut self, question: &str) -> io::Result<String> {
        rpassword::prompt_password(question)
    }

    fn say(&mut self, text: &str) {
        say!("{text}");
    }
}

/// What the person answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    /// The backend.
    pub kind: BackendKind,
    /// A server's host, or the SQLite file.
    pub host: String,
    /// A server's port (unused for SQLite).
    pub port: u16,
    /// A server's database name.
    pub database: String,
    /// A server's user name; empty for none.
    pub user: String,
    /// The password; empty for none. Never saved.
    pub password: String,
}

/// How often a question is asked again after an answer it cannot use.
const TRIES: usize = 3;

fn ask_until<T>(
    t: &mut dyn Terminal,
    question: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> io::Result<T> {
    for _ in 0..TRIES {
        let answer = t.ask(question)?;
        match parse(answer.trim()) {
            Ok(v) => return Ok(v),
            Err(why) => t.say(&format!("  {why}")),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("no usable answer to `{}`", question.trim_end()),
    ))
}

fn with_default(answer: &str, default: &str) -> String {
    if answer.is_empty() {
        default.to_owned()
    } else {
        answer.to_owned()
    }
}

/// Asks for the backend, then a SQLite file, or host, port, database, user
/// and password. Empty answers take the default shown in brackets.
pub fn ask_details(t: &mut dyn Terminal) -> io::Result<Details> {
    let kind = ask_until(
        t,
        "Database [sqlite/postgres/mysql] (postgres): ",
        |a| match a.to_ascii_lowercase().as_str() {
            "" | "postgres" | "postgresql" | "pg" => Ok(BackendKind::Postgres),
            "mysql" | "mariadb" => Ok(BackendKind::MySql),
            "sqlite" | "sqlite3" => Ok(BackendKind::Sqlite),
            other => Err(format!(
                "`{other}` is not one of sqlite, postgres, mysql (MariaDB is mysql)"
            )),
        },
    )?;
    if kind == BackendKind::Sqlite {
        let file = ask_until(t, "SQLite file, relative to config.yaml (app.db): ", |a| {
            Ok::<_, String>(with_default(a, "app.db"))
        })?;
        return Ok(Details {
            kind,
            host: file,
            port: 0,
            database: String::new(),
            user: String::new(),
            password: String::new(),
        });
    }
    let (default_port, default_user) = match kind {
        BackendKind::Postgres => (5432u16, "postgres"),
        _ => (3306, "root"),
    };
    let host = ask_until(t, "Host (localhost): ", |a| {
        if a.contains(['/', '@', '?', '#', ' ']) {
            Err("a host name or address only, without `/`, `@`, `?`, `#` or spaces".into())
        } else {
            Ok(with_default(a, "localhost"))
        }
    })?;
    let port = ask_until(t, &format!("Port ({default_port}): "), |a| {
        if a.is_empty() {
            Ok(default_port)
        } else {
            a.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{a}` is not a port number (1 to 65535)"))
        }
    })?;
    let database = ask_until(t, "Database name: ", |a| {
        if a.is_empty() {
            Err("a database name is needed".to_owned())
        } else {
            Ok(a.to_owned())
        }
    })?;
    let user = ask_until(t, &format!("User ({default_user}): "), |a| {
        Ok::<_, String>(with_default(a, default_user))
    })?;
    let password = t.ask_secret("Password (not shown, not saved; empty for none): ")?;
    Ok(Details {
        kind,
        host,
        port,
        database,
        user,
        password,
    })
}

/// Everything but URL-unreserved characters is percent-encoded in a user
/// or database name, so `@`, `/`, `:` or `?` in one cannot change the URL.
const URL_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'-')
    .remove(b'.')
    .remove(b'~');

fn encode(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, URL_PART).to_string()
}

/// The URL of `d` without its password: what may be saved.
pub fn url_without_password(d: &Details) -> String {
    match d.kind {
        BackendKind::Sqlite => format!("sqlite://{}?mode=rwc", d.host),
        kind => {
            let scheme = if kind == BackendKind::Postgres {
                "postgres"
            } else {
                "mysql"
            };
            // An IPv6 address goes in brackets.
            let host = if d.host.contains(':') && !d.host.starts_with('[') {
                format!("[{}]", d.host)
            } else {
                d.host.clone()
            };
            let user = if d.user.is_empty() {
                String::new()
            } else {
                format!("{}@", encode(&d.user))
            };
            format!("{scheme}://{user}{host}:{}/{}", d.port, encode(&d.database))
        }
    }
}

/// `text` (a config.yaml, possibly empty) with `database_url` set to `url`.
/// An existing top-level `database_url:` line with no value is replaced;
/// otherwise the line is added first. Returns `None` when the file already
/// gives `database_url` a value (say `${DATABASE_URL}` that expanded to
/// nothing), which is not rev's to overwrite, or when the result would not
/// read back as `url`.
pub fn with_database_url(text: &str, url: &str) -> Option<String> {
    let value = serde_yaml::to_string(url).ok()?;
    let line = format!("database_url: {}", value.trim_end());
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let existing = lines.iter().position(|l| l.starts_with("database_url:"));
    match existing {
        Some(i) => {
            let rest = lines[i]["database_url:".len()..].trim();
            let rest = rest.split(" #").next().unwrap_or("").trim();
            if !matches!(rest, "" | "null" | "~" | "\"\"" | "''") {
                return None;
            }
            lines[i] = line;
        }
        None => lines.insert(0, line),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    // Read it back the way rev will: the URL must come out as written, and
    // nothing else may have changed meaning.
    let parsed = Config::parse(&out, Path::new("config.yaml"), Path::new("."), &|_| None).ok()?;
    (parsed.database_url.as_deref() == Some(url)).then_some(out)
}

/// The whole dialogue when no URL is configured: ask, offer to save the URL
/// without the password into `config_path`, and return the URL to use
/// (with the password).
pub fn connection_dialogue(
    t: &mut dyn Terminal,
    config_path: &Path,
    base_dir: &Path,
) -> Result<DatabaseUrl, String> {
    t.say("No database URL is configured (none from --database-url, DATABASE_URL or `database_url` in config.yaml).");
    t.say("Enter the connection details (Ctrl+C to stop):");
    let details = ask_details(t).map_err(|e| format!("cannot read the connection details: {e}"))?;
    let saved_form = url_without_password(&details);
    let url = DatabaseUrl::parse(&saved_form, base_dir)
        .map_err(|e| format!("those details do not make a valid URL: {e}"))?;
    let url = if details.password.is_empty() {
        url
    } else {
        url.with_password(&details.password)
    };
    let answer = t
        .ask(&format!(
            "Save `database_url: {saved_form}` to {} (the password is never saved)? [y/N]: ",
            config_path.display()
        ))
        .unwrap_or_default();
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        match save(config_path, &saved_form) {
            Ok(()) => t.say(&format!(
                "Saved to {}.{}",
                config_path.display(),
                if details.password.is_empty() {
                    ""
                } else {
                    " rev asks for the password at a terminal; elsewhere put it in the URL via `${VAR}` or set DATABASE_URL."
                }
            )),
            Err(why) => t.say(&format!("Not saved: {why}")),
        }
    }
    Ok(url)
}

fn save(config_path: &Path, url: &str) -> Result<(), String> {
    let text = match std::fs::read_to_string(config_path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", config_path.display())),
    };
    let new = with_database_url(&text, url).ok_or_else(|| {
        format!(
            "{} already sets `database_url`; edit it by hand",
            config_path.display()
        )
    })?;
    std::fs::write(config_path, new)
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))
}

/// Asks for the password of `url` (which has a user but no password).
pub fn ask_password(t: &mut dyn Terminal, url: &DatabaseUrl) -> io::Result<DatabaseUrl> {
    let who = format!(
        "{}@{}:{}",
        url.username().unwrap_or_default(),
        url.host().unwrap_or_default(),
        url.port().unwrap_or_default()
    );
    let password = t.ask_secret(&format!("Password for {who} (not shown, not saved): "))?;
    Ok(url.with_password(&password))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that answers from a script and records what it was told.
    struct Script {
        answers: Vec<&'static str>,
        secrets: Vec<&'static str>,
        shown: Vec<String>,
    }

    impl Script {
        fn new(answers: &[&'static str], secrets: &[&'static str]) -> Script {
            Script {
                answers: answers.iter().rev().copied().collect(),
                secrets: secrets.iter().rev().copied().collect(),
                shown: Vec::new(),
            }
        }
    }

    impl Terminal for Script {
        fn ask(&mut self, question: &str) -> io::Result<String> {
            self.shown.push(question.to_owned());
            self.answers
                .pop()
                .map(str::to_owned)
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof"))
        }
        fn ask_secret(&mut self, question: &str) -> io::Result<String> {
            self.shown.push(question.to_owned());
            self.secrets
                .pop()
                .map(str::to_owned)
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof"))
        }
        fn say(&mut self, text: &str) {
            self.shown.push(text.to_owned());
        }
    }

    #[test]
    fn defaults_make_a_local_postgres_url() {
        let mut t = Script::new(&["", "", "", "app", ""], &["s3cret"]);
        let d = ask_details(&mut t).unwrap();
        assert_eq!(d.kind, BackendKind::Postgres);
        assert_eq!(
            url_without_password(&d),
            "postgres://postgres@localhost:5432/app"
        );
        assert_eq!(d.password, "s3cret");
    }

    #[test]
    fn bad_answers_are_asked_again_then_given_up() {
        let mut t = Script::new(
            &[
                "oracle",
                "MariaDB",
                "db.example",
                "99999",
                "3307",
                "",
                "shop_1",
                "u s@x",
            ],
            &[""],
        );
        let d = ask_details(&mut t).unwrap();
        assert_eq!(d.kind, BackendKind::MySql);
        assert_eq!(d.port, 3307);
        assert!(t.shown.iter().any(|s| s.contains("`oracle` is not one of")));
        assert!(t.shown.iter().any(|s| s.contains("`99999` is not a port")));
        assert_eq!(
            url_without_password(&d),
            "mysql://u%20s%40x@db.example:3307/shop_1"
        );
        let mut t = Script::new(&["x", "y", "z"], &[]);
        assert_eq!(
            ask_details(&mut t).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let mut t = Script::new(&[], &[]);
        assert_eq!(
            ask_details(&mut t).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn sqlite_asks_only_for_a_file() {
        let mut t = Script::new(&["sqlite", "data/x.db"], &[]);
        let d = ask_details(&mut t).unwrap();
        assert_eq!(url_without_password(&d), "sqlite://data/x.db?mode=rwc");
        assert!(!t.shown.iter().any(|s| s.contains("Password")));
    }

    #[test]
    fn ipv6_hosts_are_bracketed_and_parse() {
        let mut t = Script::new(&["postgres", "::1", "", "db", "me"], &[""]);
        let url = url_without_password(&ask_details(&mut t).unwrap());
        assert_eq!(url, "postgres://me@[::1]:5432/db");
        assert!(DatabaseUrl::parse(&url, Path::new("/")).is_ok());
    }

    #[test]
    fn saving_sets_the_url_and_keeps_the_rest() {
        let text =
            "# my project\nscript_location: versions\ndatabase_url:\nlock_timeout_seconds: 5\n";
        let out = with_database_url(text, "postgres://u@h:5432/db").unwrap();
        assert_eq!(
            out,
            "# my project\nscript_location: versions\ndatabase_url: postgres://u@h:5432/db\nlock_timeout_seconds: 5\n"
        );
        let out = with_database_url("", "sqlite://app.db?mode=rwc").unwrap();
        assert_eq!(out, "database_url: sqlite://app.db?mode=rwc\n");
        let out =
            with_database_url("database_url: null # none yet\n", "mysql://r@h:3306/d").unwrap();
        assert_eq!(out, "database_url: mysql://r@h:3306/d\n");
        // A value that is there (but expanded to nothing) is not overwritten.
        assert_eq!(
            with_database_url("database_url: ${DB}\n", "mysql://r@h/d"),
            None
        );
    }

    #[test]
    fn the_dialogue_never_writes_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "script_location: versions\n").unwrap();
        let mut t = Script::new(
            &["postgres", "db.example", "", "app", "alice", "y"],
            &["hunter2"],
        );
        let url = connection_dialogue(&mut t, &path, dir.path()).unwrap();
        assert_eq!(url.to_string(), "postgres://alice:****@db.example:5432/app");
        assert!(url.with_credentials_exposed().contains("hunter2"));
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(
            saved.contains("database_url: postgres://alice@db.example:5432/app"),
            "{saved}"
        );
        assert!(!saved.contains("hunter2"));
        assert!(!t.shown.join("\n").contains("hunter2"));
        // Declining leaves the file alone.
        let before = saved;
        let mut t = Script::new(&["sqlite", "", "n"], &[]);
        connection_dialogue(&mut t, &path, dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn password_prompt_names_user_host_and_port() {
        let url = DatabaseUrl::parse("mysql://bob@db:3307/x", Path::new("/")).unwrap();
        let mut t = Script::new(&[], &["pw"]);
        let with = ask_password(&mut t, &url).unwrap();
        assert_eq!(
            t.shown,
            ["Password for bob@db:3307 (not shown, not saved): "]
        );
        assert_eq!(with.to_string(), "mysql://bob:****@db:3307/x");
    }
}
