//! Test databases: one fresh database per test, dropped afterwards, and
//! reads of it through plain sqlx connections, so assertions do not go
//! through the code under test.
//!
//! Server URLs come from `REV_TEST_POSTGRES_URL` / `REV_TEST_MYSQL_URL`
//! (defaults: the local test servers). An unreachable server fails the
//! test, or skips it visibly under `REV_TEST_SKIP_SERVERS=1` (see
//! [`unavailable`]).

use std::io::Write as _;
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

    /// A fresh database of `kind`.
    pub async fn of_kind(kind: BackendKind) -> Option<TestDb> {
        match kind {
            BackendKind::Sqlite => TestDb::sqlite().await,
            BackendKind::Postgres => TestDb::postgres().await,
            BackendKind::MySql => TestDb::mysql().await,
        }
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
                unavailable(
                    &format!("the {kind} test server {shown}"),
                    &format!("unreachable: {why} (its URL comes from {var})"),
                );
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

    /// One integer from `sql`.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        with_conn!(self, c => {
            let r = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await;
            c.close().await.expect("close");
            r
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
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

    /// Tables in the database, sorted.
    pub async fn tables(&self) -> Vec<String> {
        let sql = match self.kind() {
            BackendKind::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            BackendKind::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema()"
            }
            BackendKind::MySql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE()"
            }
        };
        self.strings(sql).await
    }

    /// The schema as sorted lines: every column with its type and
    /// nullability, every index with its columns, and every trigger and
    /// stored routine with its body. Two databases with the
    /// same lines have the same schema as far as migrations can tell.
    pub async fn catalog(&self) -> Vec<String> {
        let (columns, indexes) = match self.kind() {
            BackendKind::Sqlite => (
                "SELECT m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" \
                   || ' pk=' || p.pk \
                 FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
                "SELECT tbl_name || ' index ' || name || ' ' || COALESCE(sql, '') \
                 FROM sqlite_master WHERE type = 'index'",
            ),
            BackendKind::Postgres => (
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                   || ' default=' || COALESCE(column_default, '') \
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                "SELECT tablename || ' index ' || indexname || ' ' || indexdef \
                 FROM pg_indexes WHERE schemaname = current_schema()",
            ),
            BackendKind::MySql => (
                "SELECT CAST(CONCAT(table_name, '.', column_name, ' ', column_type, ' ', \
                   is_nullable, ' default=', COALESCE(column_default, '')) AS CHAR) \
                 FROM information_schema.columns WHERE table_schema = DATABASE()",
                "SELECT CAST(CONCAT(table_name, ' index ', index_name, ' (', \
                   GROUP_CONCAT(column_name ORDER BY seq_in_index), ')') AS CHAR) \
                 FROM information_schema.statistics WHERE table_schema = DATABASE() \
                 GROUP BY table_name, index_name",
            ),
        };
        let programs = match self.kind() {
            BackendKind::Sqlite => {
                "SELECT tbl_name || ' trigger ' || name || ' ' || sql \
                 FROM sqlite_master WHERE type = 'trigger'"
            }
            BackendKind::Postgres => {
                "SELECT event_object_table || ' trigger ' || trigger_name || ' ' || action_timing \
                   || ' ' || event_manipulation || ' ' || action_statement \
                 FROM information_schema.triggers WHERE trigger_schema = current_schema() \
                 UNION ALL \
                 SELECT 'routine ' || p.proname || ' ' || pg_get_functiondef(p.oid) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = current_schema()"
            }
            BackendKind::MySql => {
                "SELECT CAST(CONCAT(event_object_table, ' trigger ', trigger_name, ' ', \
                   action_timing, ' ', event_manipulation, ' ', action_statement) AS CHAR) \
                 FROM information_schema.triggers WHERE trigger_schema = DATABASE() \
                 UNION ALL \
                 SELECT CAST(CONCAT('routine ', routine_type, ' ', routine_name, ' ', \
                   routine_definition) AS CHAR) \
                 FROM information_schema.routines WHERE routine_schema = DATABASE()"
            }
        };
        let mut lines = self.strings(columns).await;
        lines.extend(self.strings(indexes).await);
        lines.extend(self.strings(programs).await);
        lines.sort();
        lines
    }

    /// Runs SQL of the test's own through a plain sqlx connection.
    pub async fn exec(&self, sql: &str) {
        with_conn!(self, c => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.expect(sql);
            c.close().await.expect("close");
        });
    }

    /// Runs SQL that must fail; returns the database's message.
    pub async fn exec_fails(&self, sql: &str) -> String {
        with_conn!(self, c => {
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
            c.close().await.expect("close");
            match r {
                Ok(_) => panic!("{sql}: succeeded, expected an error"),
                Err(e) => e.to_string(),
            }
        })
    }

    /// The first column of every row of `sql`, as text, sorted.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let mut v: Vec<String> = with_conn!(self, c => {
            let r = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await;
            c.close().await.expect("close");
            r
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        v.sort();
        v
    }

    pub async fn sqlite_conn(&self) -> sqlx::SqliteConnection {
        let path: &Path = self.url.sqlite_path().expect("file database");
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .expect("sqlite connect")
    }

    pub async fn postgres_conn(&self) -> sqlx::PgConnection {
        self.server_conn::<sqlx::postgres::PgConnectOptions>().await
    }

    pub async fn mysql_conn(&self) -> sqlx::MySqlConnection {
        self.server_conn::<sqlx::mysql::MySqlConnectOptions>().await
    }

    async fn server_conn<O>(&self) -> O::Connection
    where
        O: sqlx::ConnectOptions,
        O::Connection: Sized,
    {
        let url = self.url.with_credentials_exposed();
        let options = O::from_str(&url).unwrap_or_else(|e| panic!("{}: {e}", self.url));
        options
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }
}

/// A server or tool the test needs is missing: fails the test, unless
/// `REV_TEST_SKIP_SERVERS=1` is set (and not `CI=true`), where the test is
/// skipped by name instead: the caller then returns without checking
/// anything.
pub fn unavailable(what: &str, why: &str) {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let skip = std::env::var("REV_TEST_SKIP_SERVERS").as_deref() == Ok("1");
    if ci || !skip {
        let how = if ci {
            "CI=true never skips"
        } else {
            "set REV_TEST_SKIP_SERVERS=1 to skip the tests that need it, each reported as SKIPPED"
        };
        panic!("{what}: {why}; {how}");
    }
    report_skip(&format!("{what}: {why}"));
}

/// Prints `SKIPPED <test>: <why>` where a passing test's output still
/// shows, and adds it to `target/tmp/rev-skipped-tests.txt`: for a test
/// that skips a part of itself the machine cannot run.
pub fn report_skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    let line = format!("SKIPPED {test}: {why}");
    // eprintln! output of a passing test is swallowed by the harness; the
    // process's own stderr is not, so the skip shows beside `ok`.
    let _ = writeln!(std::io::stderr(), "{line}");
    let list = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rev-skipped-tests.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
    {
        let _ = writeln!(f, "{line}");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropping the guard drops the database.
        self.guard.take();
    }
}
