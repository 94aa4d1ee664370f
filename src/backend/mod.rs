//! One connection-bound interface over SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! [`Connection`] is a single dedicated sqlx connection (never a pool: the
//! migration lock is held by a session, so the lock, every step and the
//! unlock must share it). It offers the primitives the executor needs: lock,
//! unlock, ensure and read the tracking table, apply a step, stamp rows.
//! Ordering steps, cancellation and the report are [`crate::executor`]'s
//! job, not this module's.
//!
//! One file, one job:
//! - `connection.rs`: the connection, its transaction and what it holds;
//! - `connect.rs`: connecting, with retries and TLS file checks;
//! - `lock/`: the migration lock, one waiting loop for every kind;
//! - `tracking.rs`: the tracking table's shape and rows;
//! - `apply.rs`: running a step and recording it; `foreign_keys.rs` and
//!   `dangling.rs`: SQLite's foreign-key check around each step;
//!   `sqlite_script.rs`: SQLite scripts in linear time;
//! - `checks.rs`: `rev check --db`;
//! - `error.rs` and `diagnose.rs`: the typed error, and what a driver's
//!   error means;
//! - `sqlite.rs`, `postgres.rs`, `mysql.rs`: opening each database's session;
//! - [`Dialect`] (`dialect.rs`, `script.rs`), [`split`], [`classify`]: SQL
//!   text, with no connection.
//!
//! Every message built here passes through [`crate::url::mask_secrets`]:
//! drivers may echo the URL, password included.

mod apply;
mod checks;
pub mod classify;
mod connect;
mod connection;
mod dangling;
mod diagnose;
pub mod dialect;
mod error;
mod foreign_keys;
mod lease;
mod lock;
mod mysql;
mod pooler;
mod postgres;
mod script;
pub mod split;
mod sqlite;
mod sqlite_batch;
mod sqlite_script;
mod statement;
mod tracking;

pub use checks::{DatabaseCheck, Finding, FindingKind};
pub use connect::{ConnectOptions, StatementCanceller};
pub use connection::Connection;
pub(crate) use dialect::trusted_sql;
pub use dialect::{Dialect, TableName};
pub use error::{BackendError, ConnectFailure, ForeignKeyViolation, TlsFailure};
pub use lease::{lock_table_name, LockMode, DEFAULT_LEASE};
pub use sqlite_batch::{BatchEvent, BatchObserver, BatchOptions, BatchOutcome, BatchStop};
pub use statement::{ObserveStatement, StatementObserver};
pub use tracking::AppliedRow;

pub use crate::step::ExecStep;
