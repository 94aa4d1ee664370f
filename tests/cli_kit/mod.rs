//! Running the real `rev` binary in a project folder and reading what it
//! printed: shared by the CLI test binaries (`cli`, `habits`, `pictures`),
//! which each keep their own project builders.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// What one run of `rev` printed, and how it exited.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// The last line of stderr as JSON (the `{"error": ...}` object).
    pub fn error_json(&self) -> Value {
        let line = self.stderr.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}):\n{}", self.stderr))
    }
}

/// `rev ARGS` in `dir`, with no `DATABASE_URL` from the caller's shell and
/// no colour.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
