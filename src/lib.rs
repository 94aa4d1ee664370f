//! rev: Alembic-style schema migrations for branching histories.
#![warn(missing_docs)]

pub mod backend;
pub mod executor;
pub mod step;
pub mod url;
