//! Connection poolers and `lock: table`, against a real PgBouncer in
//! `pool_mode = transaction` in front of the local PostgreSQL (started by
//! the test on a free loopback port), and `lock: table` directly on
//! SQLite and MariaDB.
//!
//! PgBouncer comes from Debian's `pgbouncer` package (`.ci/run` installs
//! it). Without it the pooler tests fail, unless `REV_TEST_SKIP_SERVERS=1`
//! skips them by name (tests/kit).

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::{applied_by_all, step_id, unavailable, Project, Run, Spawned, TestDb};
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
            unavailable("pgbouncer", "not installed (Debian package `pgbouncer`)");
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

/// config.yaml settings of every project here, then `extra`; the URL is
/// given on the command line (directly, or through the pooler).
fn settings(extra: &str) -> String {
    format!("script_location: versions\nconnect_timeout_seconds: 10\nconnect_retries: 2\n{extra}")
}

/// A project on `db` of `n` revisions; `extra` is put before revision 1's
/// insert; `config` is added to config.yaml.
fn history(db: TestDb, n: usize, config: &str, extra: &str) -> Project {
    let now = match db.kind() {
        BackendKind::Postgres => "clock_timestamp()::text",
        BackendKind::MySql => "CAST(UTC_TIMESTAMP(6) AS CHAR)",
        BackendKind::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    };
    let p = Project::with_db_config(db, &settings(config));
    p.write_steps(n, |i| {
        let r = step_id(i);
        let create = if i == 0 {
            "CREATE TABLE rev_log (rev VARCHAR(20) NOT NULL, at VARCHAR(40) NOT NULL);\n"
        } else {
            ""
        };
        let pause = if i == 1 { extra } else { "" };
        (
            format!("{create}{pause}\nINSERT INTO rev_log (rev, at) VALUES ('{r}', {now});"),
            format!("DELETE FROM rev_log WHERE rev = '{r}';"),
        )
    });
    p
}

impl Project {
    /// Another config file of the project, with the same settings.
    fn with_config_file(&self, name: &str, config: &str) -> String {
        std::fs::write(self.path(name), settings(config)).unwrap();
        name.to_owned()
    }

    /// `rev -c CONFIG --database-url URL ARGS`.
    fn rev_via(&self, config: &str, url: &str, args: &[&str]) -> Command {
        let mut all = vec!["-c", config, "--database-url", url];
        all.extend_from_slice(args);
        self.command(&all)
    }

    /// Runs [`Project::rev_via`] with config.yaml.
    fn run_via(&self, url: &str, args: &[&str]) -> Run {
        Run::from_output(
            self.rev_via("config.yaml", url, args)
                .output()
                .expect("run rev"),
        )
    }
}

const PROCESSES: usize = 8;

/// 8 `rev upgrade head` at once at `url`: all succeed, every revision is
/// applied exactly once, and the lease row is gone afterwards.
async fn concurrent_upgrades_apply_once(p: &Project, url: &str) {
    let db = p.db();
    let n = p.revision_count();
    let children: Vec<Spawned> = (0..PROCESSES)
        .map(|_| Spawned::start(p.rev_via("config.yaml", url, &["-f", "json", "upgrade", "head"])))
        .collect();
    assert_eq!(
        applied_by_all(children),
        n,
        "revisions applied more than once, or not at all"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await as usize,
        n
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM rev_log").await as usize,
        n
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(DISTINCT rev) FROM rev_log")
            .await as usize,
        n,
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
    let url = bouncer.url(&db);
    let p = history(db, 6, "lock: table\nlock_timeout_seconds: 120\n", "");
    concurrent_upgrades_apply_once(&p, &url).await;
    // Reading commands work through the pooler too.
    let out = p.run_via(&url, &["current"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(out.stdout.contains("r05"), "{}", out.text());
}

#[tokio::test]
async fn lock_table_on_sqlite_applies_every_revision_once() {
    let Some(db) = TestDb::sqlite().await else {
        return;
    };
    let url = db.url.with_credentials_exposed();
    let p = history(db, 6, "lock: table\nlock_timeout_seconds: 120\n", "");
    concurrent_upgrades_apply_once(&p, &url).await;
}

#[tokio::test]
async fn lock_table_on_mariadb_applies_every_revision_once() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let url = db.url.with_credentials_exposed();
    let p = history(db, 6, "lock: table\nlock_timeout_seconds: 120\n", "");
    concurrent_upgrades_apply_once(&p, &url).await;
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
    let url = bouncer.url(&db);
    let p = history(db, 3, "lock: advisory\n", "");
    let db = p.db();
    let out = p.run_via(&url, &["-f", "json", "upgrade", "head"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|_| out.error_json());
    let error = if report["error"].is_object() {
        report["error"].clone()
    } else {
        report["failed"]["error"].clone()
    };
    assert_eq!(error["kind"], "pooler_not_pinned", "{}", out.text());
    let all = out.text();
    assert!(all.contains("lock: table"), "{all}");
    assert!(all.contains("directly"), "{all}");
    assert!(!db.has_table("rev_log").await, "a revision ran");
    // Directly, the same project runs.
    let out = p.run_via(&db.url.with_credentials_exposed(), &["upgrade", "head"]);
    assert_eq!(out.code, 0, "{}", out.text());
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
    let pooled = bouncer.url(&db);
    let p = history(db, 1, "lock: table\n", "");
    let db = p.db();
    let out = p.run_via(&pooled, &["upgrade", "head"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM rev_log").await, 1);

    let url = format!("{pooled}?options=-c%20statement_timeout%3D0");
    let out = p.run_via(&url, &["-f", "json", "current"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let error = out.error_json();
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
    let p = history(
        db,
        3,
        "lock: table\nlock_lease_seconds: 20\nlock_timeout_seconds: 120\n",
        wait,
    );
    let db = p.db();
    let no_wait = p.with_config_file(
        "no_wait.yaml",
        "lock: table\nlock_lease_seconds: 20\nlock_timeout_seconds: 0\n",
    );
    p.exec("CREATE TABLE pause (x int)").await;
    let mut first = Spawned::start(p.rev_via("config.yaml", &url, &["upgrade", "head"]));
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
    first.kill();
    first.finish();
    p.exec("DROP TABLE pause").await;
    let expires = db
        .query_i64("SELECT COUNT(*) FROM schema_migrations_lock")
        .await;
    assert_eq!(expires, 1, "the killed rev's lease row is missing");

    // Not before: the lease is still valid, and the run names its holder.
    let out = Run::from_output(
        p.rev_via(&no_wait, &url, &["-f", "json", "upgrade", "head"])
            .output()
            .expect("run rev"),
    );
    assert_eq!(out.code, 1, "{}", out.text());
    let all = out.text();
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
    p.exec("CREATE TABLE old_lease AS SELECT expires_at FROM schema_migrations_lock")
        .await;
    let out = p.run_via(&url, &["upgrade", "head"]);
    assert_eq!(out.code, 0, "{}", out.text());
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
