//! rev: Alembic-style schema migrations for branching histories.
//!
//! The engine, from the files up:
//! - [`revision`] parses one revision file; [`graph`] loads a folder of them
//!   into a checked DAG (petgraph stays inside it).
//! - [`target`] parses Alembic targets (`head`, `billing@-1`, `ae10+2`) and
//!   resolves them; [`plan`] turns a target and the applied set into ordered
//!   steps. Both are pure.
//! - [`url`], [`backend`] and [`executor`] talk to SQLite, PostgreSQL and
//!   MySQL/MariaDB: one connection, a lock, the tracking table, one
//!   transaction per step where the database allows it.
//! - [`Migrator`] ties these together for applications and for the CLI;
//!   [`check`] finds what `rev check` reports in files that load, and
//!   [`history`] selects what `rev history` lists.
//! - [`fleet`] runs a [`Migrator`] on each of many named databases at once.
//! - [`config`] reads config.yaml; [`template`] renders new revision files;
//!   [`render`] draws the graph (dot, mermaid, SVG, the terminal graph).
//! - [`team`] compares the files with a git ref and rebases revisions.
//!
//! The library never prints; the `rev` binary (src/cli) does.
#![warn(missing_docs)]

pub mod backend;
pub mod cancel;
pub mod check;
pub mod config;
pub mod defaults;
mod error;
pub mod executor;
pub mod fleet;
pub mod graph;
pub mod history;
mod io_cause;
pub mod migrator;
pub mod plan;
pub mod rebase;
pub mod render;
pub mod revision;
pub mod squash;
pub mod step;
// The history generator of benches, tests and examples: built only for them
// (the `synth` feature), never part of the shipped library.
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod target;
pub mod team;
pub mod template;
pub mod url;

pub use error::Error;
pub use io_cause::IoCause;
pub use migrator::{Migrator, Settings, SquashStatus, StampReport, Status};
