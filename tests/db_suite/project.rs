//! A throw-away rev project around one test database: config.yaml and
//! versions/ in a temp folder, the real `rev` binary run in it, and ways to
//! look at the database that do not go through the CLI under test (the
//! library's read-only calls, or the catalog through a plain sqlx connection).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rev::backend::AppliedRow;
use rev::url::BackendKind;
use rev::Migrator;
use serde_json::Value;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::common::TestDb;

/// What one `rev` run gave back.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `{"error": {...}}` object of a `-f json` failure.
    pub fn json_error(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("{\"error\""))
            .unwrap_or_else(|| panic!("no JSON error on stderr:\n{}", self.stderr));
        let v: Value = serde_json::from_str(line).expect("JSON error line parses");
        v["error"].clone()
    }

    /// The error's hints as strings.
    pub fn hints(&self) -> Vec<String> {
        self.json_error()["hints"]
            .as_array()
            .expect("hints is an array")
            .iter()
            .map(|h| h.as_str().expect("hint is a string").to_owned())
            .collect()
    }
}

/// One revision file, written by [`Project::write`].
pub struct Rev<'a> {
    pub id: &'a str,
    pub down: &'a [&'a str],
    /// Extra header lines, e.g. `branch_labels: [billing]`.
    pub header: &'a [&'a str],
    pub up: &'a str,
    pub down_sql: &'a str,
}

/// Runs `$body` with `$c` bound to a fresh plain sqlx connection to the
/// project's database, whichever kind it is.
macro_rules! with_conn {
    ($p:expr, $c:ident => $body:expr) => {
        match $p.kind() {
            BackendKind::Sqlite => {
                let mut $c = $p.sqlite().await;
                $body
            }
            BackendKind::Postgres => {
                let mut $c = $p.postgres().await;
                $body
            }
            BackendKind::MySql => {
                let mut $c = $p.mysql().await;
                $body
            }
        }
    };
}

pub struct Project {
    pub db: TestDb,
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose config.yaml points at `db`.
    pub fn new(db: TestDb) -> Project {
        Self::with_settings(db, "")
    }

    /// Like [`Project::new`], with extra config.yaml lines.
    pub fn with_settings(db: TestDb, extra: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp project dir");
        std::fs::create_dir(dir.path().join("versions")).expect("versions/");
        let p = Project { db, dir };
        p.set_config(extra);
        p
    }

    /// Rewrites config.yaml (default settings plus `extra` lines).
    pub fn set_config(&self, extra: &str) {
        let url = self.db.url.with_credentials_exposed();
        // A short lock timeout and no connect retries: a stuck test should
        // fail in seconds, not minutes.
        let text = format!(
            "database_url: '{url}'\nscript_location: versions\n\
             lock_timeout_seconds: 10\nconnect_retries: 0\n{extra}\n"
        );
        std::fs::write(self.path("config.yaml"), text).expect("write config.yaml");
    }

    pub fn kind(&self) -> BackendKind {
        self.db.kind()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn file_of(&self, id: &str) -> PathBuf {
        self.path(&format!("versions/{id}_rev.sql"))
    }

    pub fn write(&self, r: &Rev) {
        let down = match r.down {
            [] => "null".to_owned(),
            [one] => (*one).to_owned(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut text = format!("-- revision: {}\n-- down_revision: {down}\n", r.id);
        for h in r.header {
            text.push_str(&format!("-- {h}\n"));
        }
        text.push_str(&format!(
            "-- message: revision {}\n\n-- +upgrade\n{}\n\n-- +downgrade\n{}\n",
            r.id, r.up, r.down_sql
        ));
        std::fs::write(self.file_of(r.id), text).expect("write revision");
    }

    /// Replaces the upgrade section of `id`'s file by text substitution.
    pub fn edit(&self, id: &str, from: &str, to: &str) {
        let path = self.file_of(id);
        let text = std::fs::read_to_string(&path).expect("read revision");
        assert!(text.contains(from), "{id} does not contain {from:?}");
        std::fs::write(&path, text.replace(from, to)).expect("rewrite revision");
    }

    pub fn remove(&self, id: &str) {
        std::fs::remove_file(self.file_of(id)).expect("remove revision");
    }

    /// Runs the real `rev` binary in the project folder.
    pub fn rev(&self, args: &[&str]) -> Run {
        let out = assert_cmd::Command::cargo_bin("rev")
            .expect("the rev binary is built")
            .current_dir(self.dir.path())
            // The URL must come from config.yaml, never from the caller's shell.
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .expect("run rev");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `rev` and requires exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.rev(args);
        assert_eq!(
            run.code, 0,
            "rev {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        run.stdout
    }

    /// Runs `rev` and requires exit `code`.
    pub fn fails(&self, code: i32, args: &[&str]) -> Run {
        let run = self.rev(args);
        assert_eq!(
            run.code, code,
            "rev {args:?}: expected exit {code}, got {}:\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        run
    }

    /// Runs `rev -f json ...`, requires exit 0, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["-f", "json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("rev {args:?}: bad JSON {e}:\n{out}"))
    }

    /// Another project on a fresh database of the same kind, with the same
    /// revision files: to compare two ways of reaching one state.
    pub async fn twin(&self) -> Project {
        let db = match self.kind() {
            BackendKind::Sqlite => TestDb::sqlite().await,
            BackendKind::Postgres => TestDb::postgres().await,
            BackendKind::MySql => TestDb::mysql().await,
        }
        .expect("a second database on the server that gave the first");
        let twin = Project::new(db);
        for entry in std::fs::read_dir(self.path("versions")).expect("read versions/") {
            let entry = entry.expect("versions/ entry");
            std::fs::copy(entry.path(), twin.path("versions").join(entry.file_name()))
                .expect("copy a revision file");
        }
        twin
    }

    /// Runs `script` with the database's own command-line client, as a user
    /// would run a `rev --sql` script: `psql -f FILE`, `mysql DB < FILE`,
    /// `sqlite3 DB < FILE`. Host, port, user and database come from the test
    /// URL; a password goes through the client's environment variable, never
    /// the command line. `None` (with a notice) when the client is not
    /// installed, unless `CI=true`, where that fails the test.
    pub fn client(&self, script: &str) -> Option<Run> {
        let file = self.path("script.sql");
        std::fs::write(&file, script).expect("write the script");
        let (program, mut cmd) = match self.kind() {
            BackendKind::Sqlite => {
                let mut cmd = std::process::Command::new("sqlite3");
                cmd.arg(self.db.url.sqlite_path().expect("file database"));
                ("sqlite3", cmd)
            }
            BackendKind::Postgres => {
                let u = self.server_url();
                let mut cmd = std::process::Command::new("psql");
                // -X: no ~/.psqlrc, so the script's own settings are what counts.
                cmd.args(["-X", "-q", "-h", &u.host, "-p", &u.port, "-U", &u.user])
                    .args(["-d", &u.database, "-f"])
                    .arg(&file);
                if let Some(pw) = &u.password {
                    cmd.env("PGPASSWORD", pw);
                }
                ("psql", cmd)
            }
            BackendKind::MySql => {
                let u = self.server_url();
                let mut cmd = std::process::Command::new("mysql");
                // No option files: only the script decides how the client behaves.
                cmd.args([
                    "--no-defaults",
                    "--protocol=TCP",
                    "-h",
                    &u.host,
                    "-P",
                    &u.port,
                ])
                .args(["-u", &u.user, &u.database]);
                if let Some(pw) = &u.password {
                    cmd.env("MYSQL_PWD", pw);
                }
                ("mysql", cmd)
            }
        };
        if self.kind() != BackendKind::Postgres {
            cmd.stdin(std::fs::File::open(&file).expect("open the script"));
        }
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("the {program} client is not installed");
                }
                eprintln!("note: skipping the {program} client part: {program} is not installed");
                return None;
            }
            Err(e) => panic!("run {program}: {e}"),
        };
        Some(Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The parts of the server URL a command-line client takes as options.
    fn server_url(&self) -> ClientUrl {
        let url = url::Url::parse(&self.db.url.with_credentials_exposed()).expect("server URL");
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        ClientUrl {
            host: url.host_str().expect("server host").to_owned(),
            port: self.db.url.port().expect("server port").to_string(),
            user: decode(url.username()),
            password: url.password().map(decode),
            database: decode(url.path().trim_start_matches('/')),
        }
    }

    /// The library's view of the project, from the same config.yaml.
    pub fn migrator(&self) -> Migrator {
        Migrator::from_config_file(&self.path("config.yaml"), None).expect("load the project")
    }

    /// Tracking rows read through the library (no lock, creates nothing).
    pub async fn rows(&self) -> Vec<AppliedRow> {
        let mut conn = self.db.connect().await;
        let rows = conn.read_applied().await.expect("read tracking rows");
        conn.close().await.expect("close");
        rows
    }

    /// Applied revision ids, sorted (the applied *set*).
    pub async fn applied(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.rows().await.into_iter().map(|r| r.version).collect();
        ids.sort();
        ids
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

    async fn sqlite(&self) -> sqlx::SqliteConnection {
        let path: &Path = self.db.url.sqlite_path().expect("file database");
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .expect("sqlite connect")
    }

    async fn postgres(&self) -> sqlx::PgConnection {
        sqlx::postgres::PgConnectOptions::from_str(&self.db.url.with_credentials_exposed())
            .expect("pg url")
            .connect()
            .await
            .expect("pg connect")
    }

    async fn mysql(&self) -> sqlx::MySqlConnection {
        sqlx::mysql::MySqlConnectOptions::from_str(&self.db.url.with_credentials_exposed())
            .expect("mysql url")
            .connect()
            .await
            .expect("mysql connect")
    }
}

struct ClientUrl {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    database: String,
}

/// `["a", "b"]` as owned strings, for comparisons.
pub fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A JSON array of strings as a Vec.
pub fn str_array(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}
