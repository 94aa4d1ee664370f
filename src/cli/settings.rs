//! Resolved settings: the one place where flags, the environment and
//! config.yaml are combined.
//!
//! Precedence for the database URL: `--database-url`, then `DATABASE_URL`,
//! then `database_url` in config.yaml. Config file: `-c PATH`, else
//! `./config.yaml`, else (when `./versions/` exists) built-in defaults.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use rev::config::{Config, DEFAULT_FILE};
use rev::graph::Graph;
use rev::url::DatabaseUrl;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::Printer;
use super::prompt;

/// Everything a command needs besides its own arguments.
pub struct Context {
    pub config: Config,
    pub printer: Printer,
    pub global: GlobalArgs,
}

impl Context {
    pub fn resolve(global: GlobalArgs) -> Result<Context, CliError> {
        let config = match &global.config {
            Some(path) => Config::load(path)?,
            None => {
                let default = PathBuf::from(DEFAULT_FILE);
                if default.exists() {
                    Config::load(&default)?
                } else if Path::new(rev::defaults::SCRIPT_LOCATION).is_dir() {
                    Config::defaults(Path::new("."))
                } else {
                    return Err(CliError::usage(
                        "no_project",
                        "no config.yaml in the current folder (and no versions/ folder)",
                    )
                    .hint("create a project with `rev init`, or point at one with `rev -c path/to/config.yaml`"));
                }
            }
        };
        let printer = Printer {
            format: global.format,
            quiet: global.quiet,
            verbose: global.verbose,
            base_dir: config.base_dir.clone(),
        };
        for key in &config.unknown_keys {
            let file = config
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            printer.warn(&format!("{file}: unknown setting `{key}` is ignored"));
        }
        Ok(Context {
            config,
            printer,
            global,
        })
    }

    /// The database URL: `--database-url`, then `DATABASE_URL`, then
    /// config.yaml.
    pub fn database_url(&self) -> Result<DatabaseUrl, CliError> {
        // An empty DATABASE_URL counts as unset, here and for the base
        // folder below: one reading of the variable decides both.
        let from_env = std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let from_config = self.global.database_url.is_none() && from_env.is_none();
        let text = self
            .global
            .database_url
            .clone()
            .or(from_env)
            .or_else(|| self.config.database_url.clone());
        let Some(text) = text else {
            // A person at a terminal is asked; a script gets the error that
            // lists the three ways to give a URL, at once.
            if std::io::stdin().is_terminal() {
                return self.ask_for_url();
            }
            return Err(CliError::from_rev(rev::Error::NoDatabaseUrl, None, None));
        };
        // A URL from the flag or the environment is relative to the cwd, one
        // from config.yaml to the config's folder.
        let base = if from_config {
            self.config.base_dir.clone()
        } else {
            PathBuf::from(".")
        };
        let base = std::path::absolute(&base).unwrap_or(base);
        DatabaseUrl::parse(&text, &base).map_err(|e| CliError::from_rev(e.into(), None, None))
    }

    /// Asks for connection details at the terminal and offers to save them
    /// (never the password) into config.yaml.
    fn ask_for_url(&self) -> Result<DatabaseUrl, CliError> {
        let path = self
            .config
            .path
            .clone()
            .unwrap_or_else(|| self.config.base_dir.join(DEFAULT_FILE));
        let base = std::path::absolute(&self.config.base_dir)
            .unwrap_or_else(|_| self.config.base_dir.clone());
        prompt::connection_dialogue(&mut prompt::Tty, &path, &base)
            .map_err(|why| CliError::from_rev(rev::Error::NoDatabaseUrl, None, None).hint(why))
    }

    /// Loads the revision graph from every version location, printing its
    /// warnings.
    pub fn graph(&self) -> Result<Graph, CliError> {
        let dirs = &self.config.version_locations;
        for dir in dirs {
            if !dir.is_dir() {
                return Err(CliError::usage(
                    "script_directory",
                    format!(
                        "the script directory {} does not exist",
                        self.printer.display_path(dir)
                    ),
                )
                .hint(
                    "create it, or fix `script_location` (or `version_locations`) in config.yaml",
                ));
            }
        }
        let graph = Graph::load_all(dirs)?;
        for w in graph.warnings() {
            self.printer.warn(&format!(
                "{}:{}: {}",
                self.printer.display_path(&w.path),
                w.line,
                w.message
            ));
        }
        for dir in dirs {
            let stray = rev::graph::stray_sql_files(dir, dirs);
            if !stray.is_empty() {
                let names: Vec<String> =
                    stray.iter().map(|p| self.printer.display_path(p)).collect();
                self.printer.warn(&format!(
                    "{} in sub-folders of {} {} not read (rev reads only the folder itself): {}; move revisions up, or list their folder in `version_locations`",
                    if stray.len() == 1 { "a .sql file".to_string() } else { format!("{} .sql files", stray.len()) },
                    self.printer.display_path(dir),
                    if stray.len() == 1 { "is" } else { "are" },
                    names.join(", ")
                ));
            }
        }
        Ok(graph)
    }
}
