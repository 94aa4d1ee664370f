//! The default of every config.yaml setting, stated once.
//!
//! [`crate::config::Config`] fills a missing key from here, [`crate::Settings`]
//! and [`crate::backend::ConnectOptions`] default to the same values for
//! applications that build them without a file, and the config.yaml that
//! `rev init` writes is rendered from them ([`crate::template::init_config`]),
//! so a new project starts with exactly what an empty file would give.
//! `lock` defaults to [`crate::backend::LockMode::Advisory`], its `#[default]`.

/// `script_location`: the folder of revision files, beside config.yaml.
pub const SCRIPT_LOCATION: &str = "versions";

/// `version_table`: the tracking table.
pub const VERSION_TABLE: &str = "schema_migrations";

/// `file_template`: the name of new revision files (`.sql` is added).
pub const FILE_TEMPLATE: &str = "{rev}_{slug}";

/// `transaction_per_migration`: one transaction per revision.
pub const TRANSACTION_PER_MIGRATION: bool = true;

/// `lock_timeout_seconds`: how long to wait for another rev's lock.
pub const LOCK_TIMEOUT_SECONDS: u64 = 60;

/// `lock_lease_seconds`: how long a `lock: table` lease lasts unrenewed.
pub const LOCK_LEASE_SECONDS: u64 = 60;

/// `connect_timeout_seconds`: the limit of one connection attempt.
pub const CONNECT_TIMEOUT_SECONDS: u64 = 30;

/// `connect_retries`: attempts after the first failed connection.
pub const CONNECT_RETRIES: u32 = 3;

/// The `database_url` of a project made by `rev init` (there is no default
/// URL: without one, commands that need a database refuse to guess).
pub const INIT_DATABASE_URL: &str = "sqlite://app.db?mode=rwc";
