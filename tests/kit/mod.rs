//! The one test kit, shared by every integration test crate (each mounts it
//! with `#[macro_use] #[path = "kit/mod.rs"] mod kit;`), so a scenario, a
//! backend or a way to look at a database is added in one place:
//!
//! - [`db`]: [`TestDb`], a fresh database per test on SQLite, PostgreSQL or
//!   MySQL/MariaDB, dropped afterwards, and plain sqlx reads of it;
//! - [`project`]: [`Project`], a temp folder with config.yaml and versions/
//!   where the real `rev` binary runs;
//! - [`run`]: [`Run`], a finished `rev`, and [`Spawned`], a running one
//!   that can be waited on line by line and sent signals;
//! - `on_every_backend!`: one test per scenario and backend.
//!
//! A server or tool a test needs that is missing fails the test, unless
//! `REV_TEST_SKIP_SERVERS=1` is set: then the test prints
//! `SKIPPED <test>: <reason>` past the test harness's capture and adds the
//! line to `target/tmp/rev-skipped-tests.txt`. `CI=true` never skips.

// Each test crate uses its own part of the kit.
#![allow(dead_code, unused_imports, unused_macros)]

/// Runs `$body` with `$c` bound to a fresh plain sqlx connection (not
/// rev's code) to `$db`'s database, whichever kind it is; `$db` has the
/// `sqlite_conn()`, `postgres_conn()` and `mysql_conn()` methods of
/// [`TestDb`].
macro_rules! with_conn {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.kind() {
            rev::url::BackendKind::Sqlite => {
                let mut $c = $db.sqlite_conn().await;
                $body
            }
            rev::url::BackendKind::Postgres => {
                let mut $c = $db.postgres_conn().await;
                $body
            }
            rev::url::BackendKind::MySql => {
                let mut $c = $db.mysql_conn().await;
                $body
            }
        }
    };
}

/// `on_every_backend!(a, b)`: each `async fn` scenario becomes three tests,
/// `sqlite::a`, `postgres::a` and `mysql::a`, each on a fresh database. A
/// scenario takes a [`TestDb`] or anything made `From<TestDb>`, such as a
/// [`Project`].
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        on_every_backend!(@on sqlite: $($name),*);
        on_every_backend!(@on postgres: $($name),*);
        on_every_backend!(@on mysql: $($name),*);
    };
    // One module per backend, named like the TestDb constructor.
    (@on $backend:ident: $($name:ident),*) => {
        mod $backend {
            $(#[tokio::test]
            async fn $name() {
                if let Some(db) = crate::kit::TestDb::$backend().await {
                    super::$name(db.into()).await;
                }
            })*
        }
    };
}

pub mod db;
pub mod project;
pub mod run;

pub use db::{report_skip, unavailable, TestDb};
pub use project::{ids, step_id, str_array, Header, Project, Rev};
pub use run::{applied_by_all, Run, Spawned};
