//! A throw-away rev project: config.yaml and versions/ in a temp folder,
//! usually around one [`TestDb`], where the real `rev` binary runs. The
//! database is looked at without the CLI under test: through the library's
//! read-only calls, or plain sqlx connections ([`TestDb`]'s reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use rev::backend::AppliedRow;
use rev::url::BackendKind;
use rev::Migrator;
use serde_json::Value;

use super::db::{unavailable, TestDb};
use super::run::{Run, Spawned};

/// One revision file, written by [`Project::write`] as
/// `versions/<id>_rev.sql` with the message `revision <id>`.
pub struct Rev<'a> {
    pub id: &'a str,
    pub down: &'a [&'a str],
    /// Extra header lines, e.g. `branch_labels: [billing]`.
    pub header: &'a [&'a str],
    pub up: &'a str,
    pub down_sql: &'a str,
}

/// The header of a file written by [`Project::write_revision`].
pub struct Header<'a> {
    pub id: &'a str,
    /// YAML: `null`, an id or a `[a, b]` list.
    pub down: &'a str,
    /// Whole header lines (`-- key: value\n`), or nothing.
    pub extra: &'a str,
    pub message: &'a str,
}

/// The text of a revision file. `down` is YAML (`null`, an id or a
/// `[a, b]` list); `extra` is whole header lines (`-- key: value\n`).
pub fn revision_text(
    id: &str,
    down: &str,
    extra: &str,
    message: &str,
    up: &str,
    down_sql: &str,
) -> String {
    format!(
        "-- revision: {id}\n-- down_revision: {down}\n{extra}-- message: {message}\n\n\
         -- +upgrade\n{up}\n\n-- +downgrade\n{down_sql}\n"
    )
}

/// The id of revision `i` of [`Project::write_steps`]: `r00`, `r01`, ...
pub fn step_id(i: usize) -> String {
    format!("r{i:02}")
}

pub struct Project {
    db: Option<TestDb>,
    dir: tempfile::TempDir,
}

/// Lets `on_every_backend!` hand a scenario a project on its database.
impl From<TestDb> for Project {
    fn from(db: TestDb) -> Project {
        Project::new(db)
    }
}

impl Project {
    /// A project on a fresh SQLite file.
    pub async fn sqlite() -> Project {
        let db = TestDb::sqlite().await.expect("a temporary SQLite file");
        Project::new(db)
    }

    /// A project on a fresh PostgreSQL database (`None`: skipped).
    pub async fn postgres() -> Option<Project> {
        TestDb::postgres().await.map(Project::new)
    }

    /// A project on a fresh MySQL/MariaDB database (`None`: skipped).
    pub async fn mysql() -> Option<Project> {
        TestDb::mysql().await.map(Project::new)
    }

    /// A project whose config.yaml points at `db`.
    pub fn new(db: TestDb) -> Project {
        Self::with_settings(db, "")
    }

    /// Like [`Project::new`], with extra config.yaml lines.
    pub fn with_settings(db: TestDb, extra: &str) -> Project {
        let p = Self::folder(Some(db));
        p.set_config(extra);
        p
    }

    /// A project around `db` whose config.yaml is exactly `config`.
    pub fn with_db_config(db: TestDb, config: &str) -> Project {
        let p = Self::folder(Some(db));
        p.write_config(config);
        p
    }

    /// A project with no test database of its own, whose config.yaml is
    /// exactly `config`.
    pub fn with_config(config: &str) -> Project {
        let p = Self::folder(None);
        p.write_config(config);
        p
    }

    /// A project on the SQLite file `test.db` beside config.yaml (a
    /// relative URL, as `rev init` writes it).
    pub fn sqlite_file() -> Project {
        Self::with_config("database_url: sqlite://test.db?mode=rwc\nscript_location: versions\n")
    }

    fn folder(db: Option<TestDb>) -> Project {
        let dir = tempfile::tempdir().expect("temp project dir");
        std::fs::create_dir(dir.path().join("versions")).expect("versions/");
        Project { db, dir }
    }

    /// Rewrites config.yaml (default settings plus `extra` lines).
    pub fn set_config(&self, extra: &str) {
        let url = self.db().url.with_credentials_exposed();
        // A short lock timeout and no connect retries: a stuck test should
        // fail in seconds, not minutes.
        self.write_config(&format!(
            "database_url: '{url}'\nscript_location: versions\n\
             lock_timeout_seconds: 10\nconnect_retries: 0\n{extra}\n"
        ));
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path("config.yaml"), text).expect("write config.yaml");
    }

    /// The project's test database.
    pub fn db(&self) -> &TestDb {
        self.db
            .as_ref()
            .expect("this project was made without a test database")
    }

    pub fn kind(&self) -> BackendKind {
        self.db().kind()
    }

    /// The project folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
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
        let extra: String = r.header.iter().map(|h| format!("-- {h}\n")).collect();
        let message = format!("revision {}", r.id);
        let text = revision_text(r.id, &down, &extra, &message, r.up, r.down_sql);
        std::fs::write(self.file_of(r.id), text).expect("write revision");
    }

    /// Writes the revision file `rel` (`versions/a.sql`) with `header`
    /// and the two sections; returns its path.
    pub fn write_revision(&self, rel: &str, header: Header, up: &str, down_sql: &str) -> PathBuf {
        let Header {
            id,
            down,
            extra,
            message,
        } = header;
        let path = self.path(rel);
        std::fs::write(&path, revision_text(id, down, extra, message, up, down_sql))
            .expect("write revision");
        path
    }

    /// Writes `<folder>/<id>.sql` with the message `make <id>`, the
    /// naming of the suites without a server; returns its path.
    pub fn write_made(
        &self,
        folder: &str,
        id: &str,
        down: &str,
        extra: &str,
        up: &str,
        down_sql: &str,
    ) -> PathBuf {
        let message = format!("make {id}");
        let header = Header {
            id,
            down,
            extra,
            message: &message,
        };
        self.write_revision(&format!("{folder}/{id}.sql"), header, up, down_sql)
    }

    /// Writes the linear history `r00` <- `r01` <- ... of `n` revisions,
    /// `versions/rNN_step.sql` with the message `step <i>`; `sql(i)` gives
    /// revision `i`'s upgrade and downgrade.
    pub fn write_steps(&self, n: usize, sql: impl Fn(usize) -> (String, String)) {
        for i in 0..n {
            let (up, down) = sql(i);
            let r = step_id(i);
            let parent = if i == 0 {
                "null".to_owned()
            } else {
                step_id(i - 1)
            };
            self.write_revision(
                &format!("versions/{r}_step.sql"),
                Header {
                    id: &r,
                    down: &parent,
                    extra: "",
                    message: &format!("step {i}"),
                },
                &up,
                &down,
            );
        }
    }

    /// How many files versions/ holds.
    pub fn revision_count(&self) -> usize {
        std::fs::read_dir(self.path("versions"))
            .expect("read versions/")
            .count()
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

    /// `rev ARGS` in the project folder, not yet started: no
    /// `DATABASE_URL` from the caller's shell (the URL must come from the
    /// project), no colour, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rev"));
        cmd.current_dir(self.dir())
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .args(args);
        cmd
    }

    /// Runs the real `rev` binary in the project folder.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from_output(self.command(args).output().expect("run rev"))
    }

    /// Runs `rev` and requires exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        self.exits(0, args)
    }

    /// Runs `rev` and requires exit `code`.
    pub fn exits(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
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
        self.ok(&all).json()
    }

    /// Starts `rev ARGS` in the project folder.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned::start(self.command(args))
    }

    /// Another project on a fresh database of the same kind, with the same
    /// revision files: to compare two ways of reaching one state.
    pub async fn twin(&self) -> Project {
        let db = TestDb::of_kind(self.kind())
            .await
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
    /// the command line. `None` when the client is not installed and
    /// [`unavailable`] allows a skip.
    pub fn client(&self, script: &str) -> Option<Run> {
        let file = self.path("script.sql");
        std::fs::write(&file, script).expect("write the script");
        let (program, mut cmd) = match self.kind() {
            BackendKind::Sqlite => {
                let mut cmd = std::process::Command::new("sqlite3");
                cmd.arg(self.db().url.sqlite_path().expect("file database"));
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
                unavailable(&format!("the {program} client"), "not installed");
                return None;
            }
            Err(e) => panic!("run {program}: {e}"),
        };
        Some(Run::from_output(out))
    }

    /// The parts of the server URL a command-line client takes as options.
    fn server_url(&self) -> ClientUrl {
        let url = url::Url::parse(&self.db().url.with_credentials_exposed()).expect("server URL");
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        ClientUrl {
            host: url.host_str().expect("server host").to_owned(),
            port: self.db().url.port().expect("server port").to_string(),
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
        let mut conn = self.db().connect().await;
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

    /// The rows of `sql` on the SQLite file `test.db` of a
    /// [`Project::sqlite_file`] project, read with sqlx (not rev) on a
    /// runtime of its own, for the tests that are not async: one string per
    /// row, its columns joined by `|`, in the query's order.
    pub fn file_rows(&self, sql: &str) -> Vec<String> {
        use sqlx::Row as _;
        self.on_file(sql, |mut c, sql| async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await;
            rows.unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<String, _>(i)
                                .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect()
        })
    }

    /// Runs SQL of the test's own on the SQLite file `test.db`, as
    /// [`Project::file_rows`] reads it.
    pub fn file_exec(&self, sql: &str) {
        self.on_file(sql, |mut c, sql| async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        });
    }

    fn on_file<T, F>(&self, sql: &str, f: impl FnOnce(sqlx::SqliteConnection, String) -> F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        use sqlx::Connection as _;
        let path = self.path("test.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
            let c = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            f(c, sql.to_owned()).await
        })
    }

    /// Tables in the database, sorted.
    pub async fn tables(&self) -> Vec<String> {
        self.db().tables().await
    }

    /// The schema as sorted lines (see [`TestDb::catalog`]).
    pub async fn catalog(&self) -> Vec<String> {
        self.db().catalog().await
    }

    /// Runs SQL of the test's own through a plain sqlx connection.
    pub async fn exec(&self, sql: &str) {
        self.db().exec(sql).await;
    }

    /// Runs SQL that must fail; returns the database's message.
    pub async fn exec_fails(&self, sql: &str) -> String {
        self.db().exec_fails(sql).await
    }

    /// The first column of every row of `sql`, as text, sorted.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.db().strings(sql).await
    }

    /// One integer from `sql`.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        self.db().query_i64(sql).await
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
