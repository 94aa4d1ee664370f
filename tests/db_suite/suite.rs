//! `suite!(scenario, ...)`: runs each `async fn(Project)` scenario on
//! SQLite, PostgreSQL and MySQL/MariaDB, each on a fresh database. Shared by
//! every test binary that includes `it/common` as `common` and
//! `db_suite/project.rs` as `project`, so a backend is added in one place.

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        suite!(@on sqlite: $($name),*);
        suite!(@on postgres: $($name),*);
        suite!(@on mysql: $($name),*);
    };
    // One module per backend, named like the TestDb constructor.
    (@on $backend:ident: $($name:ident),*) => {
        mod $backend {
            $(#[tokio::test]
            async fn $name() {
                if let Some(db) = crate::common::TestDb::$backend().await {
                    super::$name(crate::project::Project::new(db)).await;
                }
            })*
        }
    };
}
