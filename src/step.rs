//! The unit of work shared by the planner, the executor and the backend.

use serde::Serialize;

/// Which way a step moves the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Run the revision's upgrade section and record it as applied.
    Upgrade,
    /// Run the revision's downgrade section and remove its record.
    Downgrade,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        })
    }
}

/// One revision to run, in one direction, as the planner produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStep {
    /// The revision id.
    pub revision: String,
    /// Upgrade (run upgrade SQL, insert row) or downgrade (run downgrade SQL, delete row).
    pub direction: Direction,
    /// The section's SQL, possibly several statements.
    pub sql: String,
    /// The revision's checksum, recorded on upgrade.
    pub checksum: String,
    /// False for SQL that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`).
    pub transactional: bool,
    /// The revision's parents, recorded on upgrade.
    pub down_revisions: Vec<String>,
}
