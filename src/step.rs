//! The unit of work shared by the planner and the executor.

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
