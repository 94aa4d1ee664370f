//! Which databases a command runs on: `--db NAME` (repeatable) or `--all`,
//! picked from the `databases:` of config.yaml.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::url::{DatabaseUrl, UrlError};

/// One named database of a fleet.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name under `databases:`.
    pub name: String,
    /// Its URL (`Display` masks the password).
    pub url: DatabaseUrl,
}

/// Why the databases asked for cannot be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// `--all` or `--db` with no `databases:` in the config.
    #[error("--all and --db pick from `databases:` in {}, and it names none", config.as_deref().map_or_else(|| "config.yaml".to_owned(), |p| p.display().to_string()))]
    NoDatabases {
        /// The config file, if there is one.
        config: Option<PathBuf>,
    },
    /// `--db NAME` names no database of the config.
    #[error("no database named `{name}` under `databases:`")]
    Unknown {
        /// The name given.
        name: String,
        /// The names the config has, in its order.
        known: Vec<String>,
    },
    /// A database's URL names an unset variable.
    #[error(transparent)]
    Variable(#[from] ConfigError),
    /// A database's URL does not parse.
    #[error("database `{name}`: {source}")]
    Url {
        /// The database.
        name: String,
        /// Why its URL is wrong.
        #[source]
        source: UrlError,
    },
}

impl SelectError {
    /// A stable name for scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            SelectError::NoDatabases { .. } => "no_databases",
            SelectError::Unknown { .. } => "unknown_database",
            SelectError::Variable(e) => e.kind(),
            SelectError::Url { source, .. } => source.kind(),
        }
    }
}

/// The databases `names` (in the order given, each once) or, with `all`,
/// every one in the config's order. Relative SQLite paths are relative to
/// `base_dir` (the config's folder), as for `database_url`.
pub fn select(
    config: &Config,
    names: &[String],
    all: bool,
    base_dir: &Path,
) -> Result<Vec<Member>, SelectError> {
    if config.databases.is_empty() {
        return Err(SelectError::NoDatabases {
            config: config.path.clone(),
        });
    }
    let picked: Vec<&(String, Result<String, ConfigError>)> = if all {
        config.databases.iter().collect()
    } else {
        let mut picked: Vec<&(String, Result<String, ConfigError>)> =
            Vec::with_capacity(names.len());
        for name in names {
            let found = config
                .databases
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| SelectError::Unknown {
                    name: name.clone(),
                    known: config.databases.iter().map(|(n, _)| n.clone()).collect(),
                })?;
            if !picked.iter().any(|(n, _)| n == name) {
                picked.push(found);
            }
        }
        picked
    };
    picked
        .into_iter()
        .map(|(name, url)| {
            let url = url.as_ref().map_err(|e| SelectError::Variable(e.clone()))?;
            DatabaseUrl::parse(url, base_dir)
                .map(|url| Member {
                    name: name.clone(),
                    url,
                })
                .map_err(|source| SelectError::Url {
                    name: name.clone(),
                    source,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("c/config.yaml"), Path::new("c"), &|_| None).unwrap()
    }

    #[test]
    fn picks_by_name_in_the_order_given_or_all_in_file_order() {
        let c = config(
            "databases:\n  b: sqlite://b.db\n  a: postgres://u:pw@h/a\n  c: sqlite:///tmp/c.db\n",
        );
        let base = Path::new("/base");
        let names = |m: Vec<Member>| m.into_iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(select(&c, &[], true, base).unwrap()), ["b", "a", "c"]);
        let two = select(&c, &["c".into(), "b".into(), "c".into()], false, base).unwrap();
        assert_eq!(two[1].url.sqlite_path(), Some(Path::new("/base/b.db")));
        assert_eq!(names(two), ["c", "b"]);
        assert_eq!(
            select(&c, &["x".into()], false, base).unwrap_err(),
            SelectError::Unknown {
                name: "x".into(),
                known: vec!["b".into(), "a".into(), "c".into()]
            }
        );
        let none = select(&config("version_table: t\n"), &[], true, base).unwrap_err();
        assert_eq!(none.kind(), "no_databases");
        assert!(none.to_string().contains("c/config.yaml"), "{none}");
        let bad = select(&config("databases:\n  a: nope\n"), &[], true, base).unwrap_err();
        assert_eq!(bad.kind(), "invalid_url");
        assert!(bad.to_string().starts_with("database `a`: "), "{bad}");
        // An unset variable counts only where its database is picked.
        let c = config("databases:\n  a: sqlite://a.db\n  b: postgres://u:${UNSET}@h/b\n");
        assert_eq!(
            names(select(&c, &["a".into()], false, base).unwrap()),
            ["a"]
        );
        let e = select(&c, &[], true, base).unwrap_err();
        assert_eq!(e.kind(), "config_variable");
        assert!(
            e.to_string().contains("database `b` uses `${UNSET}`"),
            "{e}"
        );
    }
}
