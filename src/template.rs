//! Rendering new revision files and the files of `rev init`.
//!
//! The scaffold is a minijinja template, `templates/revision.sql.j2`. A
//! project's own `templates/revision.sql.j2` wins over the built-in copy, so
//! teams can add their own boilerplate. Every rendered file is parsed back
//! before it is written: a project template that produces a file rev cannot
//! read is an error at `rev new`, not a surprise at deploy time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::revision;
use crate::IoCause;

/// The built-in revision template.
pub const BUILTIN_REVISION_TEMPLATE: &str = include_str!("../templates/revision.sql.j2");

/// The template file name inside a `templates/` folder.
pub const REVISION_TEMPLATE_NAME: &str = "revision.sql.j2";

/// The config.yaml that `rev init` writes: the defaults of
/// [`crate::defaults`], spelled out so a new project shows what it can set.
pub fn init_config() -> String {
    use crate::defaults as d;
    // The URL is written plain: it is a constant that reads back as itself,
    // and quoting it would make the line harder to edit.
    format!(
        "\
# rev configuration. Relative paths are relative to this file's folder.
# The URL may use ${{VAR}} to read from the environment; DATABASE_URL and
# --database-url take precedence over this line. Never put a password here:
# use ${{VAR}}, or let rev ask for it at a terminal.
database_url: {url}
script_location: {script_location}
version_table: {version_table}
file_template: {file_template}
transaction_per_migration: {transaction_per_migration}
lock_timeout_seconds: {lock_timeout}
connect_timeout_seconds: {connect_timeout}
connect_retries: {connect_retries}
# Named databases (one schema, many databases: tenants, shards, regions) for
# `rev upgrade head --all` or `--db NAME`; each URL may use ${{VAR}} too.
# Without --all/--db rev uses database_url above.
# databases:
#   tenant_a: postgres://app:${{TENANT_A_PASSWORD}}@db1:5432/tenant_a
#   tenant_b: sqlite://tenants/b.db?mode=rwc
",
        url = d::INIT_DATABASE_URL,
        script_location = yaml_string(d::SCRIPT_LOCATION),
        version_table = yaml_string(d::VERSION_TABLE),
        file_template = yaml_string(d::FILE_TEMPLATE),
        transaction_per_migration = d::TRANSACTION_PER_MIGRATION,
        lock_timeout = d::LOCK_TIMEOUT_SECONDS,
        connect_timeout = d::CONNECT_TIMEOUT_SECONDS,
        connect_retries = d::CONNECT_RETRIES,
    )
}

/// What a new revision file holds.
#[derive(Debug, Clone)]
pub struct NewRevision {
    /// Its id.
    pub id: String,
    /// Its parents.
    pub down_revisions: Vec<String>,
    /// Labels it carries.
    pub branch_labels: Vec<String>,
    /// Its cross-branch dependencies.
    pub depends_on: Vec<String>,
    /// Its message.
    pub message: String,
    /// When it was created.
    pub create_date: DateTime<Utc>,
    /// `false` writes `transactional: false`.
    pub transactional: bool,
}

/// A problem rendering or writing a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template does not compile or render.
    #[error("template {}: {message}", path.display())]
    Render {
        /// The template file.
        path: PathBuf,
        /// minijinja's message.
        message: String,
    },
    /// The rendered file is not a valid revision.
    #[error("template {} renders a file rev cannot read: {message}", path.display())]
    Invalid {
        /// The template file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: IoCause,
    },
    /// `rev init` would overwrite a file.
    #[error("{} already exists; rev init never overwrites a file", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
}

impl TemplateError {
    /// A stable name for scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            TemplateError::Render { .. } => "template",
            TemplateError::Invalid { .. } => "template_invalid",
            TemplateError::Io { .. } => "io",
            TemplateError::Exists { .. } => "exists",
        }
    }
}

/// One YAML value on one line: an id list as `null`, `abc` or `[a, b]`.
pub(crate) fn yaml_ids(ids: &[String]) -> String {
    match ids {
        [] => "null".into(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// A string as a one-line YAML scalar: plain when that reads back the same,
/// JSON-quoted otherwise (JSON strings are valid YAML).
pub(crate) fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _-.,()/'".contains(c))
        && !s.starts_with([' ', '-', '\''])
        && !s.ends_with(' ')
        && matches!(serde_yaml::from_str::<serde_yaml::Value>(s), Ok(serde_yaml::Value::String(ref v)) if v == s);
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

/// The template text to use: the project's own, or the built-in one.
pub fn revision_template(template_dir: &Path) -> Result<(PathBuf, String), TemplateError> {
    let path = template_dir.join(REVISION_TEMPLATE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
            PathBuf::from("(built-in) templates/revision.sql.j2"),
            BUILTIN_REVISION_TEMPLATE.to_string(),
        )),
        Err(e) => Err(TemplateError::Io {
            path,
            source: e.into(),
        }),
    }
}

/// Renders a new revision and checks that it parses back to the same header.
pub fn render(template_dir: &Path, new: &NewRevision) -> Result<String, TemplateError> {
    let (path, text) = revision_template(template_dir)?;
    let render_err = |e: minijinja::Error| TemplateError::Render {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.add_template("revision", &text).map_err(render_err)?;
    let ctx = minijinja::context! {
        revision => new.id,
        down_revision => yaml_ids(&new.down_revisions),
        down_revisions => new.down_revisions,
        branch_labels => if new.branch_labels.is_empty() { String::new() } else { format!("[{}]", new.branch_labels.join(", ")) },
        depends_on => if new.depends_on.is_empty() { String::new() } else { format!("[{}]", new.depends_on.join(", ")) },
        message => yaml_string(&new.message),
        raw_message => new.message,
        create_date => new.create_date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        transactional => new.transactional,
        is_merge => new.down_revisions.len() > 1,
    };
    let rendered = env
        .get_template("revision")
        .and_then(|t| t.render(ctx))
        .map_err(render_err)?;
    let parsed = revision::parse(&rendered, Path::new("(rendered)")).map_err(|e| {
        TemplateError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        }
    })?;
    let same = parsed.id == new.id
        && parsed.down_revisions == new.down_revisions
        && parsed.branch_labels == new.branch_labels
        && parsed.depends_on == new.depends_on
        && parsed.message == new.message;
    if !same {
        return Err(TemplateError::Invalid {
            path,
            message: "the header it renders does not match the revision being created \
                      (check the revision, down_revision, branch_labels, depends_on and message lines)"
                .into(),
        });
    }
    Ok(rendered)
}

/// A file-name-safe slug of a message: lowercase words joined by `_`, at
/// most 40 characters.
pub fn slug(message: &str) -> String {
    // Counted in characters, not bytes: messages may be in any language, and
    // cutting a multi-byte letter in half would not be a string.
    let mut out = String::new();
    let mut chars = 0;
    for word in message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let len = word.chars().count();
        let sep = usize::from(!out.is_empty());
        if chars + sep + len > 40 {
            if out.is_empty() {
                out = word.chars().take(40).collect();
            }
            break;
        }
        if sep == 1 {
            out.push('_');
        }
        out.push_str(&word);
        chars += sep + len;
    }
    out
}

/// The file name for a new revision from `file_template`.
pub fn file_name(file_template: &str, id: &str, message: &str, date: DateTime<Utc>) -> String {
    let slug = slug(message);
    let mut name = file_template
        .replace("{rev}", id)
        .replace("{slug}", &slug)
        .replace("{year}", &date.format("%Y").to_string())
        .replace("{month}", &date.format("%m").to_string())
        .replace("{day}", &date.format("%d").to_string())
        .replace("{epoch}", &date.timestamp().to_string());
    // An empty slug would leave `abc_.sql`; a path separator would write
    // outside versions/.
    name = name.trim_end_matches(['_', '-']).replace(['/', '\\'], "_");
    format!("{name}.sql")
}

/// Writes the files of a new project into `dir`; returns what was written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let io = |path: &Path, e: std::io::Error| TemplateError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let config = dir.join(crate::config::DEFAULT_FILE);
    let template = dir.join("templates").join(REVISION_TEMPLATE_NAME);
    for path in [&config, &template] {
        if path.exists() {
            return Err(TemplateError::Exists { path: path.clone() });
        }
    }
    let versions = dir.join(crate::defaults::SCRIPT_LOCATION);
    std::fs::create_dir_all(&versions).map_err(|e| io(&versions, e))?;
    std::fs::create_dir_all(dir.join("templates")).map_err(|e| io(dir, e))?;
    std::fs::write(&config, init_config()).map_err(|e| io(&config, e))?;
    std::fs::write(&template, BUILTIN_REVISION_TEMPLATE).map_err(|e| io(&template, e))?;
    Ok(vec![config, versions, template])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn new(down: &[&str], message: &str) -> NewRevision {
        NewRevision {
            id: "1975ea83b712".into(),
            down_revisions: down.iter().map(|s| s.to_string()).collect(),
            branch_labels: vec!["billing".into()],
            depends_on: vec![],
            message: message.into(),
            create_date: Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap(),
            transactional: true,
        }
    }

    #[test]
    fn renders_a_file_that_parses_back() {
        let dir = tempfile::tempdir().unwrap();
        let text = render(
            dir.path(),
            &new(&["ae1027a6acf0"], "create account: table #1"),
        )
        .unwrap();
        assert!(text.starts_with("-- revision: 1975ea83b712\n-- down_revision: ae1027a6acf0\n-- branch_labels: [billing]\n"), "{text}");
        assert!(text.contains("-- create_date: 2026-11-21T10:00:00Z\n"));
        let r = revision::parse(&text, Path::new("x.sql")).unwrap();
        assert_eq!(r.message, "create account: table #1");
        assert!(!r.is_reversible());
        let merge = render(dir.path(), &new(&["a", "b"], "merge")).unwrap();
        let r = revision::parse(&merge, Path::new("x.sql")).unwrap();
        assert_eq!(r.down_revisions, ["a", "b"]);
        assert!(r.is_reversible(), "a merge must not block downgrades");
    }

    #[test]
    fn project_template_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(REVISION_TEMPLATE_NAME), "-- revision: {{ revision }}\n-- down_revision: {{ down_revision }}\n-- branch_labels: {{ branch_labels }}\n-- message: {{ message }}\n-- owner: team-db\n-- +upgrade\n").unwrap();
        let text = render(dir.path(), &new(&[], "x")).unwrap();
        assert!(text.contains("-- owner: team-db"));
        std::fs::write(
            dir.path().join(REVISION_TEMPLATE_NAME),
            "-- revision: {{ revision }}\n",
        )
        .unwrap();
        assert_eq!(
            render(dir.path(), &new(&[], "x")).unwrap_err().kind(),
            "template_invalid"
        );
        std::fs::write(dir.path().join(REVISION_TEMPLATE_NAME), "{% if %}").unwrap();
        assert_eq!(
            render(dir.path(), &new(&[], "x")).unwrap_err().kind(),
            "template"
        );
    }

    #[test]
    fn slugs_and_names() {
        assert_eq!(slug("Create account table!"), "create_account_table");
        assert_eq!(slug("   "), "");
        assert_eq!(slug("Add Ünïcode naïve"), "add_ünïcode_naïve");
        assert_eq!(slug(&"é".repeat(50)).chars().count(), 40);
        assert!(slug(&"word ".repeat(30)).len() <= 40);
        let d = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(
            file_name("{rev}_{slug}", "abc", "Add users", d),
            "abc_add_users.sql"
        );
        assert_eq!(file_name("{rev}_{slug}", "abc", "", d), "abc.sql");
        assert_eq!(
            file_name("{year}{month}{day}_{rev}", "abc", "", d),
            "20260102_abc.sql"
        );
        assert_eq!(file_name("../{rev}", "abc", "", d), ".._abc.sql");
    }

    #[test]
    fn init_writes_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let written = init(dir.path()).unwrap();
        assert_eq!(written.len(), 3);
        assert!(dir.path().join("versions").is_dir());
        let c = crate::config::Config::load(&dir.path().join("config.yaml")).unwrap();
        assert!(c.unknown_keys.is_empty());
        assert_eq!(init(dir.path()).unwrap_err().kind(), "exists");
    }

    /// The file `rev init` writes sets every key to what an empty config.yaml
    /// gives, and to what an application's `Settings::default()` uses.
    #[test]
    fn init_config_states_the_defaults() {
        use crate::backend::ConnectOptions;
        use crate::config::Config;
        use std::time::Duration;

        let base = Path::new("proj");
        let mut parsed =
            Config::parse(&init_config(), &base.join("config.yaml"), base, &|_| None).unwrap();
        assert_eq!(parsed.unknown_keys, Vec::<String>::new());
        assert_eq!(
            parsed.database_url.as_deref(),
            Some(crate::defaults::INIT_DATABASE_URL)
        );
        // The two things a file has and the defaults do not.
        parsed.path = None;
        parsed.database_url = None;
        assert_eq!(parsed, Config::defaults(base));

        let from_file = crate::Settings::from_config(&parsed);
        let default = crate::Settings::default();
        assert_eq!(from_file.version_table, default.version_table);
        assert_eq!(
            from_file.transaction_per_migration,
            default.transaction_per_migration
        );
        assert_eq!(from_file.lock_timeout, default.lock_timeout);
        assert_eq!(from_file.connect, default.connect);
        assert_eq!(from_file.connect, ConnectOptions::default());
        assert_eq!(from_file.lock, default.lock);
        assert_eq!(from_file.lock_lease, default.lock_lease);
        assert_eq!(default.lock_lease, Duration::from_secs(60));
    }

    /// Rendering the init config from the constants did not change the file
    /// a new project gets (its settings, then the commented `databases:`).
    #[test]
    fn init_config_text_is_unchanged() {
        assert_eq!(
            init_config(),
            "# rev configuration. Relative paths are relative to this file's folder.\n\
             # The URL may use ${VAR} to read from the environment; DATABASE_URL and\n\
             # --database-url take precedence over this line. Never put a password here:\n\
             # use ${VAR}, or let rev ask for it at a terminal.\n\
             database_url: sqlite://app.db?mode=rwc\n\
             script_location: versions\n\
             version_table: schema_migrations\n\
             file_template: \"{rev}_{slug}\"\n\
             transaction_per_migration: true\n\
             lock_timeout_seconds: 60\n\
             connect_timeout_seconds: 30\n\
             connect_retries: 3\n\
             # Named databases (one schema, many databases: tenants, shards, regions) for\n\
             # `rev upgrade head --all` or `--db NAME`; each URL may use ${VAR} too.\n\
             # Without --all/--db rev uses database_url above.\n\
             # databases:\n\
             #   tenant_a: postgres://app:${TENANT_A_PASSWORD}@db1:5432/tenant_a\n\
             #   tenant_b: sqlite://tenants/b.db?mode=rwc\n"
        );
    }
}
