//! rev: Alembic-style schema migrations for branching histories.
#![warn(missing_docs)]

pub mod graph;
pub mod plan;
pub mod revision;
pub mod step;
pub mod synth;
pub mod target;
