//! rev: Alembic-style schema migrations for branching histories.
#![warn(missing_docs)]

pub mod config;
pub mod graph;
pub mod revision;
pub mod step;
pub mod template;
