//! Test databases: one fresh database per test, dropped afterwards.
//!
//! Server URLs come from `REV_TEST_POSTGRES_URL` / `REV_TEST_MYSQL_URL`
//! (defaults: the local test servers). When a server is unreachable the test
//! is skipped with a notice, unless `CI=true`, where it fails.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rev::backend::{ConnectOptions, Connection, TableName};
use rev::url::{BackendKind, DatabaseUrl};
use sqlx::{ConnectOptions as _, Connection as _};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_MYSQL: &str = "mysql://root@127.0.0.1:3306/test";

/// A database that exists for one test.
pub struct TestDb {
    pub url: DatabaseUrl,
    guard: Option<DropGuard>,
    _dir: Option<tempfile::TempDir>,
}

/// Drops the server database when the test ends, pass or fail.
struct DropGuard {
    admin_url: String,
    kind: BackendKind,
    name: String,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let kind = self.kind;
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // do the async work on a thread with its own small runtime.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let sql = match kind {
                    BackendKind::Postgres => {
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
                    }
                    _ => format!("DROP DATABASE IF EXISTS `{name}`"),
                };
                let _ = admin_exec(kind, &admin, &sql).await;
            });
        });
        let _ = handle.join();
    }
}

async fn admin_exec(kind: BackendKind, admin_url: &str, sql: &str) -> Result<(), sqlx::Error> {
    match kind {
        BackendKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await?;
            c.close().await
        }
        _ => {
            let mut c = sqlx::MySqlConnection::connect(admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await?;
            c.close().await
        }
    }
}

fn unique_name() -> String {
    format!(
        "rev_test_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestDb {
    /// A SQLite file in a fresh temporary folder (`mode=rwc`).
    pub async fn sqlite() -> Option<TestDb> {
        let dir = tempfile::tempdir().ok()?;
        let url = DatabaseUrl::parse("sqlite://test.db?mode=rwc", dir.path()).ok()?;
        Some(TestDb {
            url,
            guard: None,
            _dir: Some(dir),
        })
    }

    pub async fn postgres() -> Option<TestDb> {
        Self::server(BackendKind::Postgres, "REV_TEST_POSTGRES_URL", DEFAULT_PG).await
    }

    pub async fn mysql() -> Option<TestDb> {
        Self::server(BackendKind::MySql, "REV_TEST_MYSQL_URL", DEFAULT_MYSQL).await
    }

    async fn server(kind: BackendKind, var: &str, default: &str) -> Option<TestDb> {
        let admin_url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        let name = unique_name();
        let create = match kind {
            BackendKind::Postgres => format!("CREATE DATABASE \"{name}\""),
            _ => format!("CREATE DATABASE `{name}`"),
        };
        let created = tokio::time::timeout(
            Duration::from_secs(10),
            admin_exec(kind, &admin_url, &create),
        )
        .await;
        match created {
            Ok(Ok(())) => {}
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                let parsed = DatabaseUrl::parse(&admin_url, Path::new("."));
                let shown =
                    parsed.map_or_else(|_| "(unparsable URL)".to_owned(), |u| u.to_string());
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("{kind} test server {shown} unreachable: {why}");
                }
                eprintln!("note: skipping {kind} test: server {shown} unreachable: {why}");
                return None;
            }
        }
        let guard = DropGuard {
            admin_url: admin_url.clone(),
            kind,
            name: name.clone(),
        };
        let mut url = url::Url::parse(&admin_url).ok()?;
        url.set_path(&format!("/{name}"));
        let parsed = DatabaseUrl::parse(url.as_str(), Path::new(".")).ok()?;
        Some(TestDb {
            url: parsed,
            guard: Some(guard),
            _dir: None,
        })
    }

    pub fn kind(&self) -> BackendKind {
        self.url.kind()
    }

    /// A new connection with the default table name.
    pub async fn connect(&self) -> Connection {
        self.connect_table("schema_migrations").await
    }

    pub async fn connect_table(&self, table: &str) -> Connection {
        let table = TableName::new(table).expect("valid test table name");
        Connection::connect(&self.url, table, &ConnectOptions::default())
            .await
            .expect("connect to the test database")
    }

    /// One integer from `sql`, through a separate plain sqlx connection, so
    /// assertions do not go through the code under test.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let r = match self.kind() {
            BackendKind::Sqlite => {
                let path = self.url.sqlite_path().expect("file database");
                let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .connect()
                    .await
                    .expect("sqlite connect");
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut c)
                    .await
            }
            BackendKind::Postgres => {
                let opts = sqlx::postgres::PgConnectOptions::from_str(
                    &self.url.with_credentials_exposed(),
                )
                .expect("pg url");
                let mut c = opts.connect().await.expect("pg connect");
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut c)
                    .await
            }
            BackendKind::MySql => {
                let opts = sqlx::mysql::MySqlConnectOptions::from_str(
                    &self.url.with_credentials_exposed(),
                )
                .expect("mysql url");
                let mut c = opts.connect().await.expect("mysql connect");
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut c)
                    .await
            }
        };
        r.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Number of columns of `table` (0 when it does not exist).
    pub async fn column_count(&self, table: &str) -> i64 {
        let sql = match self.kind() {
            BackendKind::Sqlite => format!("SELECT COUNT(*) FROM pragma_table_info('{table}')"),
            BackendKind::Postgres => format!(
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            BackendKind::MySql => format!(
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = '{table}'"
            ),
        };
        self.query_i64(&sql).await
    }

    /// Whether `table` exists.
    pub async fn has_table(&self, table: &str) -> bool {
        self.column_count(table).await > 0
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropping the guard drops the database.
        self.guard.take();
    }
}
