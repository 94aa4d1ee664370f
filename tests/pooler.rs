//! Connection poolers and `lock: table`, against a real PgBouncer in
//! `pool_mode = transaction` in front of the local PostgreSQL (started by
//! the test on a free loopback port), and `lock: table` directly on
//! SQLite and MariaDB.
//!
//! PgBouncer comes from Debian's `pgbouncer` package (`.ci/run` installs
//! it). Without it the pooler tests fail under `CI=true` and are skipped
//! with a notice otherwise.

#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use rev::url::BackendKind;

// ---------------------------------------------------------------------------
// PgBouncer.

struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn pgbouncer_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgBouncer {
    /// A PgBouncer in transaction mode in front of the database of `db`,
    /// with `pool_size` server connections per database and user.
    async fn start(db: &TestDb, pool_size: usize) -> Option<PgBouncer> {
        let Some(binary) = pgbouncer_binary() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("pgbouncer is not installed (Debian package `pgbouncer`)");
            }
            eprintln!("note: skipping pooler test: pgbouncer is not installed");
            return None;
        };
        let host = db.url.host().expect("server url").to_owned();
        let server_port = db.url.port().expect("server port");
        let user = db.url.username().unwrap_or_else(|| "postgres".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        std::fs::write(
            d.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={host} port={server_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
                 default_pool_size = {pool_size}\nmax_client_conn = 200\n\
                 logfile = {log}\npidfile = {pid}\n",
                users = d.join("users.txt").display(),
                log = d.join("pgbouncer.log").display(),
                pid = d.join("pgbouncer.pid").display(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new(binary);
        // PgBouncer refuses to run as root; it drops to `-u USER` itself,
        // which must be able to write its log and pid file here.
        if running_as_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(d.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let bouncer = PgBouncer { child, port, dir };
        bouncer.wait_ready(db).await;
        Some(bouncer)
    }

    /// Polls until a query through the pooler answers.
    async fn wait_ready(&self, db: &TestDb) {
        use sqlx::Connection as _;
        let url = self.url(db);
        let start = Instant::now();
        loop {
            // sqlx's default startup message has `extra_float_digits`,
            // which PgBouncer refuses.
            let opts = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
                .expect("pooler url")
                .extra_float_digits(None);
            if let Ok(mut c) = sqlx::ConnectOptions::connect(&opts).await {
                if sqlx::raw_sql("SELECT 1").execute(&mut c).await.is_ok() {
                    let _ = c.close().await;
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "pgbouncer did not come up: {}",
                std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `db`'s URL, through the pooler.
    fn url(&self, db: &TestDb) -> String {
        let mut u = url::Url::parse(&db.url.with_credentials_exposed()).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Projects: revision i inserts one row `rNN` (with the database's time)
// into a log table, so applications can be counted.

struct Project {
    dir: tempfile::TempDir,
    n: usize,
}

fn id(i: usize) -> String {
    format!("r{i:02}")
}

impl Project {
    /// `n` revisions; `extra` is put before revision 1's insert.
    fn new(kind: BackendKind, n: usize, config: &str, extra: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let versions = dir.path().join("versions");
        std::fs::create_dir(&versions).unwrap();
        let now = match kind {
            BackendKind::Postgres => "clock_timestamp()::text",
            BackendKind::MySql => "CAST(UTC_TIMESTAMP(6) AS CHAR)",
            BackendKind::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        };
        for i in 0..n {
            let r = id(i);
            let parent = if i == 0 { "null".to_owned() } else { id(i - 1) };
            let create = if i == 0 {
                "CREATE TABLE rev_log (rev VARCHAR(20) NOT NULL, at VARCHAR(40) NOT NULL);\n"
            } else {
                ""
            };
            let pause = if i == 1 { extra } else { "" };
            std::fs::write(
                versions.join(format!("{r}_step.sql")),
                format!(
                    "-- revision: {r}\n-- down_revision: {parent}\n-- message: step {i}\n\n-- +upgrade\n{create}{pause}\nINSERT INTO rev_log (rev, at) VALUES ('{r}', {now});\n\n-- +downgrade\nDELETE FROM rev_log WHERE rev = '{r}';\n"
                ),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("script_location: versions\nconnect_timeout_seconds: 10\nconnect_retries: 2\n{config}"),
        )
        .unwrap();
        Project { dir, n }
    }

    fn with_config(&self, name: &str, config: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!("script_location: versions\nconnect_timeout_seconds: 10\nconnect_retries: 2\n{config}"),
        )
        .unwrap();
        path
    }

    fn cmd(&self, config: &Path, url: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rev"));
        c.arg("-c")
            .arg(config)
            .arg("--database-url")
            .arg(url)
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn error_json(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON error: {}", text(out)));
    serde_json::from_str(line).unwrap()
}

const PROCESSES: usize = 8;

/// 8 `rev upgrade head` at once at `url`: all succeed, every revision is
/// applied exactly once, and the lease row is gone afterwards.
async fn concurrent_upgrades_apply_once(db: &TestDb, p: &Project, url: &str) {
    let children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            p.cmd(&p.config(), url, &["-f", "json", "upgrade", "head"])
                .spawn()
                .expect("start rev")
        })
        .collect();
    let mut applied_total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        applied_total += report["applied"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(
        applied_total, p.n,
        "revisions applied more than once, or not at all"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await as usize,
        p.n
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM rev_log").await as usize,
        p.n
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(DISTINCT rev) FROM rev_log")
            .await as usize,
        p.n,
        "a revision ran twice"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations_lock")
            .await,
        0,
        "the lease was not released"
    );
}

#[tokio::test]
async fn lock_table_through_pgbouncer_applies_every_revision_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 4).await else {
        return;
    };
    let p = Project::new(
        BackendKind::Postgres,
        6,
        "lock: table\nlock_timeout_seconds: 120\n",
        "",
    );
    concurrent_upgrades_apply_once(&db, &p, &bouncer.url(&db)).await;
    // Reading commands work through the pooler too.
    let out = p
        .cmd(&p.config(), &bouncer.url(&db), &["current"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("r05"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn lock_table_on_sqlite_applies_every_revision_once() {
    let Some(db) = TestDb::sqlite().await else {
        return;
    };
    let p = Project::new(
        BackendKind::Sqlite,
        6,
        "lock: table\nlock_timeout_seconds: 120\n",
        "",
    );
    concurrent_upgrades_apply_once(&db, &p, &db.url.with_credentials_exposed()).await;
}

#[tokio::test]
async fn lock_table_on_mariadb_applies_every_revision_once() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let p = Project::new(
        BackendKind::MySql,
        6,
        "lock: table\nlock_timeout_seconds: 120\n",
        "",
    );
    concurrent_upgrades_apply_once(&db, &p, &db.url.with_credentials_exposed()).await;
}

/// With `lock: advisory`, rev refuses a connection through PgBouncer in
/// transaction mode and runs nothing. One server connection in the pool
/// makes it deterministic: every client is served by the same session.
#[tokio::test]
async fn lock_advisory_through_pgbouncer_is_refused() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 1).await else {
        return;
    };
    let p = Project::new(BackendKind::Postgres, 3, "lock: advisory\n", "");
    let out = p
        .cmd(
            &p.config(),
            &bouncer.url(&db),
            &["-f", "json", "upgrade", "head"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| error_json(&out));
    let error = if report["error"].is_object() {
        report["error"].clone()
    } else {
        report["failed"]["error"].clone()
    };
    assert_eq!(error["kind"], "pooler_not_pinned", "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("lock: table"), "{all}");
    assert!(all.contains("directly"), "{all}");
    assert!(!db.has_table("rev_log").await, "a revision ran");
    // Directly, the same project runs.
    let out = p
        .cmd(
            &p.config(),
            &db.url.with_credentials_exposed(),
            &["upgrade", "head"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM rev_log").await, 3);
}

/// rev sends no `extra_float_digits` (PgBouncer, without
/// `ignore_startup_parameters`, would refuse it); a parameter the pooler
/// does refuse fails at once, naming the setting to add.
#[tokio::test]
async fn startup_parameters_through_pgbouncer() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 2).await else {
        return;
    };
    let p = Project::new(BackendKind::Postgres, 1, "lock: table\n", "");
    let out = p
        .cmd(&p.config(), &bouncer.url(&db), &["upgrade", "head"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM rev_log").await, 1);

    let url = format!("{}?options=-c%20statement_timeout%3D0", bouncer.url(&db));
    let out = p
        .cmd(&p.config(), &url, &["-f", "json", "current"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = error_json(&out);
    assert_eq!(error["error"]["kind"], "connect");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("ignore_startup_parameters = options"),
        "{message}"
    );
    assert!(message.contains("after 1 attempt "), "retried: {message}");
}

/// A lease left by a `kill -9` stops the next run until it expires, naming
/// its holder, and is taken over after that. Revision r01 waits while the
/// table `pause` exists, so the first rev is killed inside it.
#[tokio::test]
async fn lease_of_a_killed_rev_is_taken_over_once_expired_and_not_before() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 4).await else {
        return;
    };
    let url = bouncer.url(&db);
    let wait = "DO $$ BEGIN WHILE EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'pause') \
                LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;\n";
    let p = Project::new(
        BackendKind::Postgres,
        3,
        "lock: table\nlock_lease_seconds: 20\nlock_timeout_seconds: 120\n",
        wait,
    );
    let no_wait = p.with_config(
        "no_wait.yaml",
        "lock: table\nlock_lease_seconds: 20\nlock_timeout_seconds: 0\n",
    );
    direct_exec(&db, "CREATE TABLE pause (x int)").await;
    let mut first = p
        .cmd(&p.config(), &url, &["upgrade", "head"])
        .spawn()
        .unwrap();
    let first_pid = first.id();
    // r00 committed and r01 waiting: the lease is held.
    let start = Instant::now();
    while !(db.has_table("schema_migrations").await
        && db.query_i64("SELECT COUNT(*) FROM schema_migrations").await == 1
        && db
            .query_i64("SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'DO $$%pause%' AND state = 'active'")
            .await
            == 1)
    {
        assert!(start.elapsed() < Duration::from_secs(60), "r01 never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    let _ = first.wait();
    direct_exec(&db, "DROP TABLE pause").await;
    let expires = db
        .query_i64("SELECT COUNT(*) FROM schema_migrations_lock")
        .await;
    assert_eq!(expires, 1, "the killed rev's lease row is missing");

    // Not before: the lease is still valid, and the run names its holder.
    let out = p
        .cmd(&no_wait, &url, &["-f", "json", "upgrade", "head"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("lock_timeout"), "{all}");
    assert!(
        all.contains(&format!("rev pid {first_pid}")),
        "holder not named: {all}"
    );
    assert!(all.contains("expires"), "{all}");
    assert_eq!(
        db.query_i64(&format!(
            "SELECT COUNT(*) FROM schema_migrations_lock WHERE pid = {first_pid} AND expires_at > clock_timestamp()"
        ))
        .await,
        1,
        "the refused run came after the lease expired: the test cannot tell"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await,
        1
    );

    // Once expired: taken over, and the rest applied once, all after the expiry.
    direct_exec(
        &db,
        "CREATE TABLE old_lease AS SELECT expires_at FROM schema_migrations_lock",
    )
    .await;
    let out = p
        .cmd(&p.config(), &url, &["upgrade", "head"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await,
        3
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM rev_log").await, 3);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM rev_log WHERE rev > 'r00' AND at::timestamptz < (SELECT expires_at FROM old_lease)")
            .await,
        0,
        "a revision ran before the killed rev's lease expired"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations_lock")
            .await,
        0
    );
}

async fn direct_exec(db: &TestDb, sql: &str) {
    use sqlx::{ConnectOptions as _, Connection as _};
    use std::str::FromStr;
    let opts =
        sqlx::postgres::PgConnectOptions::from_str(&db.url.with_credentials_exposed()).unwrap();
    let mut c = opts.connect().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
    let _ = c.close().await;
}
