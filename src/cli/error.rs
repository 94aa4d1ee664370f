//! The CLI's error: the library error's message, a stable kind, the exit
//! code, and hints computed from the error's data (never from its text).

use std::io::Write;

use owo_colors::OwoColorize;
use rev::config::ConfigError;
use rev::graph::LoadError;
use rev::template::TemplateError;

/// Exit codes of DESIGN.md.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error ready to be shown to a person or a script.
#[derive(Debug)]
pub struct CliError {
    pub kind: &'static str,
    pub message: String,
    pub hints: Vec<String>,
    pub exit: u8,
}

impl CliError {
    pub fn new(kind: &'static str, message: impl Into<String>, exit: u8) -> Self {
        CliError {
            kind,
            message: message.into(),
            hints: Vec::new(),
            exit,
        }
    }

    pub fn usage(kind: &'static str, message: impl Into<String>) -> Self {
        CliError::new(kind, message, EXIT_USAGE)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Prints the error on stderr, as text or JSON.
    pub fn print(&self, json: bool) {
        let mut err = anstream::stderr().lock();
        if json {
            let v = serde_json::json!({
                "error": {"kind": self.kind, "message": self.message, "hints": self.hints}
            });
            let _ = writeln!(err, "{v}");
            return;
        }
        let _ = writeln!(err, "{}: {}", "error".red().bold(), self.message);
        for hint in &self.hints {
            let _ = writeln!(err, "  {}: {hint}", "hint".cyan().bold());
        }
    }
}

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        CliError::usage(e.kind(), e.to_string())
            .hint("fix the files named above, then run `rev check` to confirm")
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        let hint = match &e {
            ConfigError::MissingVariable { var, .. } => format!("set it: `export {var}=...`"),
            ConfigError::Read { .. } => {
                "create one with `rev init`, or point at it with `rev -c PATH`".to_string()
            }
            _ => "see README.md for the settings config.yaml takes".to_string(),
        };
        CliError::usage(e.kind(), e.to_string()).hint(hint)
    }
}

impl From<TemplateError> for CliError {
    fn from(e: TemplateError) -> Self {
        let mut err = CliError::usage(e.kind(), e.to_string());
        if let TemplateError::Invalid { .. } | TemplateError::Render { .. } = e {
            err = err.hint(
                "compare your templates/revision.sql.j2 with the one `rev init` writes in an empty folder",
            );
        }
        err
    }
}
