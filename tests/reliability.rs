//! Reliability of the real `rev` binary against real databases: concurrent
//! deploys, `kill -9`, Ctrl+C/SIGTERM, and dead servers.
//!
//! Every scenario runs on SQLite, PostgreSQL and MariaDB. Server URLs come
//! from `REV_TEST_POSTGRES_URL` / `REV_TEST_MYSQL_URL` (default: the local
//! test servers); an unreachable server fails its tests, or skips them by
//! name under `REV_TEST_SKIP_SERVERS=1` (tests/kit). Signals are sent once
//! rev has printed (or the database shows) that it reached the point the
//! test is about, never after a sleep.
//!
//! The histories are linear, `r00` .. `rNN`. Every revision writes one row
//! `rNN` into a log table (`r00` creates it), and on PostgreSQL and SQLite
//! also creates a table `t_rNN`, so a revision's effects can be counted and
//! compared with its tracking row. On MariaDB each revision has exactly one
//! statement with an effect (DDL there commits on its own, so a revision of
//! several effects could be caught half done, which no tool can undo), which
//! lets the test decide which of rev's recovery commands is the right one.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kit::{applied_by_all, step_id, unavailable, Project, Run, Spawned, TestDb};
use rev::url::BackendKind;

on_every_backend!(
    concurrent_upgrades,
    downgrade_races_upgrade,
    kill_9,
    interrupt,
    interrupt_twice,
);

// ---------------------------------------------------------------------------
// Projects and histories.

/// SQL that takes about `secs` on the database without changing anything.
fn slow(kind: BackendKind, secs: f64) -> String {
    match kind {
        BackendKind::Postgres => format!("SELECT pg_sleep({secs});"),
        BackendKind::MySql => format!("DO SLEEP({secs});"),
        // SQLite has no sleep: count through a recursive CTE instead, as
        // many rows as this machine counts in `secs`.
        BackendKind::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) SELECT count(*) FROM c;",
            ((secs * sqlite_rows_per_second()) as u64).max(1)
        ),
    }
}

/// How many rows of the counting CTE SQLite gets through in a second here
/// (same SQLite build as the rev binary's), measured once. Idle-machine
/// speed: under load the revisions only get longer, which the tests allow.
fn sqlite_rows_per_second() -> f64 {
    static RATE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        std::thread::spawn(|| {
            use sqlx::Connection as _;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
                    .await
                    .expect("sqlite memory");
                let rows = 300_000u32;
                let sql = format!(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) SELECT count(*) FROM c"
                );
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let start = Instant::now();
                    let _: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).fetch_one(&mut c).await.expect("count");
                    best = best.min(start.elapsed().as_secs_f64());
                }
                f64::from(rows) / best.max(1e-6)
            })
        })
        .join()
        .expect("calibration thread")
    })
}

/// The upgrade and downgrade of revision `i`; `secs` of slow SQL first.
fn revision_sql(kind: BackendKind, i: usize, secs: f64) -> (String, String) {
    let r = step_id(i);
    let pause = if secs > 0.0 {
        slow(kind, secs)
    } else {
        String::new()
    };
    match (kind, i) {
        (BackendKind::MySql, 0) => (
            // One statement: the table and its first row appear together.
            format!("{pause}\nCREATE TABLE rev_log (rev VARCHAR(20) NOT NULL) SELECT '{r}' AS rev;"),
            "DROP TABLE rev_log;".to_owned(),
        ),
        (BackendKind::MySql, _) => (
            format!("{pause}\nINSERT INTO rev_log (rev) VALUES ('{r}');"),
            format!("DELETE FROM rev_log WHERE rev = '{r}';"),
        ),
        (_, 0) => (
            format!(
                "{pause}\nCREATE TABLE rev_log (rev VARCHAR(20) NOT NULL);\nCREATE TABLE t_{r} (id INTEGER);\nINSERT INTO rev_log (rev) VALUES ('{r}');"
            ),
            format!("DROP TABLE t_{r};\nDROP TABLE rev_log;"),
        ),
        (_, _) => (
            format!(
                "{pause}\nCREATE TABLE t_{r} (id INTEGER);\nINSERT INTO rev_log (rev) VALUES ('{r}');"
            ),
            format!("DELETE FROM rev_log WHERE rev = '{r}';\nDROP TABLE t_{r};"),
        ),
    }
}

/// A project of `n` revisions on `db`; revision `i` first runs `secs(i)`
/// seconds of slow SQL.
fn history(db: TestDb, n: usize, secs: impl Fn(usize) -> f64) -> Project {
    let url = db.url.with_credentials_exposed();
    let kind = db.kind();
    let config = format!(
        "database_url: '{url}'\nscript_location: versions\nlock_timeout_seconds: 60\nconnect_timeout_seconds: 10\nconnect_retries: 2\n"
    );
    let p = Project::with_db_config(db, &config);
    // The same project, for a rev that must get the lock at once.
    std::fs::write(
        p.path("no_wait.yaml"),
        config.replace("lock_timeout_seconds: 60", "lock_timeout_seconds: 0"),
    )
    .unwrap();
    p.write_steps(n, |i| revision_sql(kind, i, secs(i)));
    p
}

impl Project {
    /// Checks that the database is consistent and returns how many
    /// revisions are applied, plus a revision left in progress (MariaDB
    /// only) with whether its effect is there.
    ///
    /// Consistent: the recorded revisions are `r00..r(k-1)`, each exactly
    /// once; each has its effects exactly once (log row, and table on
    /// PostgreSQL and SQLite); no other revision has any.
    async fn state(&self) -> State {
        let db = self.db();
        let k = if db.has_table("schema_migrations").await {
            db.query_i64("SELECT COUNT(*) FROM schema_migrations WHERE in_progress = 0")
                .await as usize
        } else {
            0
        };
        let in_progress = if k > 0 || db.has_table("schema_migrations").await {
            db.query_i64("SELECT COUNT(*) FROM schema_migrations WHERE in_progress <> 0")
                .await as usize
        } else {
            0
        };
        let bound = step_id(k);
        if k > 0 {
            let prefix = db
                .query_i64(&format!(
                    "SELECT COUNT(*) FROM schema_migrations WHERE in_progress = 0 AND version < '{bound}'"
                ))
                .await as usize;
            assert_eq!(prefix, k, "recorded revisions are not r00..: {k} rows");
        }
        // Only MariaDB runs revisions outside a transaction.
        if self.kind() != BackendKind::MySql {
            assert_eq!(in_progress, 0, "a revision is left in progress");
        }
        assert!(in_progress <= 1, "{in_progress} revisions in progress");
        let in_progress = if in_progress == 1 {
            let rev = step_id(k);
            let flagged = db
                .query_i64(&format!(
                    "SELECT COUNT(*) FROM schema_migrations WHERE in_progress <> 0 AND version = '{rev}'"
                ))
                .await;
            assert_eq!(
                flagged, 1,
                "the revision in progress is not the next one, {rev}"
            );
            Some(rev)
        } else {
            None
        };
        let (logged, distinct, below) = if db.has_table("rev_log").await {
            (
                db.query_i64("SELECT COUNT(*) FROM rev_log").await as usize,
                db.query_i64("SELECT COUNT(DISTINCT rev) FROM rev_log")
                    .await as usize,
                db.query_i64(&format!(
                    "SELECT COUNT(*) FROM rev_log WHERE rev < '{bound}'"
                ))
                .await as usize,
            )
        } else {
            (0, 0, 0)
        };
        assert_eq!(logged, distinct, "a revision ran twice");
        assert_eq!(below, k, "an applied revision's effect is missing");
        let effect_of_in_progress = match &in_progress {
            Some(_) => {
                assert!(
                    logged == k || logged == k + 1,
                    "log has {logged} rows, k={k}"
                );
                logged == k + 1
            }
            None => {
                assert_eq!(logged, k, "effects without tracking rows");
                false
            }
        };
        if self.kind() != BackendKind::MySql {
            let tables = match self.kind() {
                BackendKind::Sqlite => {
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't_r%'"
                }
                _ => {
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 't_r%'"
                }
            };
            assert_eq!(
                db.query_i64(tables).await as usize,
                k,
                "schema does not match the tracking table"
            );
        }
        State {
            applied: k,
            in_progress: in_progress.map(|r| (r, effect_of_in_progress)),
        }
    }

    /// Waits until no statement of a killed rev still runs on the server.
    ///
    /// MariaDB keeps executing a multi-statement batch after its client
    /// died, until it next writes to the socket; a dead rev's revision can
    /// so still take effect after the kill. rev itself is safe from this:
    /// the dead session holds the lock until it ends, so the next rev reads
    /// the settled state. The test reads without the lock, so it waits too.
    /// PostgreSQL likewise finishes a COMMIT the dead client had already
    /// sent, a moment after the kill: reading in between, with several
    /// queries, could see the revision's effects before its row. So wait
    /// until the dead session's backend is gone. SQLite dies with rev.
    async fn settle(&self) {
        let others = match self.kind() {
            BackendKind::MySql => {
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query'"
            }
            BackendKind::Postgres => {
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()"
            }
            BackendKind::Sqlite => return,
        };
        let start = Instant::now();
        while self.db().query_i64(others).await > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "a killed rev's statement runs on"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Server sessions whose last statement asked for the migration lock
    /// (0 on SQLite).
    async fn sessions_asking_for_the_lock(&self) -> i64 {
        let sql = match self.kind() {
            BackendKind::Postgres => {
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND query LIKE '%pg\\_try\\_advisory\\_lock%'"
            }
            BackendKind::MySql => {
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '%GET\\_LOCK%'"
            }
            BackendKind::Sqlite => return 0,
        };
        self.query_i64(sql).await
    }

    /// Waits until `waiter` is in rev's loop that waits for the busy
    /// lock (a rev prints nothing there): on SQLite it holds the lock file
    /// open; on PostgreSQL and MariaDB one more session than `before` asks
    /// for the lock (`pg_try_advisory_lock`, `GET_LOCK`).
    async fn wait_in_lock_loop(&self, waiter: &Spawned, before: i64) {
        let pid = waiter.id();
        self.wait_for("the waiter to wait for the lock", || async {
            if self.kind() == BackendKind::Sqlite {
                holds_lock_file(pid)
            } else {
                self.sessions_asking_for_the_lock().await > before
            }
        })
        .await;
    }

    /// Waits until the slow statement of a revision runs on the server
    /// (PostgreSQL, MariaDB; SQLite runs it inside rev, where the line
    /// that the revision started is all there is to wait for).
    async fn wait_slow_statement(&self) {
        let sql = match self.kind() {
            BackendKind::Postgres => {
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg\\_sleep%'"
            }
            BackendKind::MySql => {
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '%SLEEP(%'"
            }
            BackendKind::Sqlite => return,
        };
        self.wait_for("the slow statement to run", || async {
            self.query_i64(sql).await > 0
        })
        .await;
    }

    /// Polls `ready` until it holds; the bound only guards against a hang.
    async fn wait_for<F, Fut>(&self, what: &str, ready: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !ready().await {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether process `pid` has rev's SQLite lock file (`<db>.lock`) open.
fn holds_lock_file(pid: u32) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| target.to_string_lossy().ends_with(".lock"))
    })
}

/// The line `rev -v` prints as the long revision starts.
const R01_STARTS: &str = "upgrade of r01 ...";

#[derive(Debug, PartialEq, Eq)]
struct State {
    applied: usize,
    /// A revision flagged in progress, and whether its effect is present.
    in_progress: Option<(String, bool)>,
}

/// A small deterministic generator, seeded per run and printed, so a
/// failing run can be repeated with `REV_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("REV_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("REV_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

// ---------------------------------------------------------------------------
// Concurrency.

const PROCESSES: usize = 8;

/// 8 `rev upgrade head` started together: all succeed, and every revision
/// is applied exactly once, by exactly one of them.
async fn concurrent_upgrades(db: TestDb) {
    let p = history(db, 6, |_| 0.02);
    let children: Vec<Spawned> = (0..PROCESSES)
        .map(|_| p.spawn(&["-f", "json", "upgrade", "head"]))
        .collect();
    assert_eq!(
        applied_by_all(children),
        p.revision_count(),
        "revisions applied more than once, or not at all"
    );
    assert_eq!(
        p.state().await,
        State {
            applied: p.revision_count(),
            in_progress: None
        }
    );
    assert_eq!(
        p.query_i64("SELECT COUNT(*) FROM schema_migrations").await as usize,
        p.revision_count()
    );
}

/// `downgrade base` racing `upgrade head`: both succeed, and the database
/// ends fully applied or empty, its tracking table matching its schema.
async fn downgrade_races_upgrade(db: TestDb) {
    let p = history(db, 5, |_| 0.02);
    let mut ends = Vec::new();
    for round in 0..4 {
        let args_up = ["-f", "json", "upgrade", "head"];
        let args_down = ["-f", "json", "downgrade", "base"];
        // Alternate who starts first; the lock decides who runs first.
        let (a, b) = if round % 2 == 0 {
            (p.spawn(&args_up), p.spawn(&args_down))
        } else {
            let down = p.spawn(&args_down);
            (p.spawn(&args_up), down)
        };
        let up = a.finish();
        let down = b.finish();
        assert_eq!(up.code, 0, "{}", up.text());
        assert_eq!(down.code, 0, "{}", down.text());
        let state = p.state().await;
        assert!(state.in_progress.is_none(), "{state:?}");
        assert!(
            state.applied == 0 || state.applied == p.revision_count(),
            "ended half way: {state:?}"
        );
        ends.push(state.applied);
        // Start the next round from empty.
        p.ok(&["downgrade", "base"]);
    }
    eprintln!("{:?}: applied after each round: {ends:?}", p.kind());
}

// ---------------------------------------------------------------------------
// kill -9.

const KILLS: usize = 20;

/// `kill -9` at random moments of `upgrade head` over slow revisions.
/// PostgreSQL and SQLite: every revision's effects are there exactly when
/// its tracking row is, and the next `upgrade head` just works. MariaDB: the
/// next run works, or names the revision in progress with the commands that
/// recover it; following the right one, the run after works.
async fn kill_9(db: TestDb) {
    let p = history(db, 8, |_| 0.04);
    let mut rng = Rng::new();
    // How long a whole run takes here, process start included, so the kills
    // land anywhere in it (some before the first revision, some after the
    // last).
    let start = Instant::now();
    p.ok(&["upgrade", "head"]);
    let whole = start.elapsed();
    p.ok(&["downgrade", "base"]);
    let mut killed_midway = 0;
    let mut recovered_by_hint = 0;
    for round in 0..KILLS {
        let mut child = p.spawn(&["upgrade", "head"]);
        let at = Duration::from_millis(rng.below(whole.as_millis() as u64 + 50));
        // A random moment, not a readiness wait: the kills are meant to
        // land anywhere in the run.
        std::thread::sleep(at);
        child.kill();
        child.finish();
        p.settle().await;
        let state = p.state().await;
        if state.applied > 0 && state.applied < p.revision_count() {
            killed_midway += 1;
        }
        if p.kind() == BackendKind::MySql {
            recovered_by_hint += recover_mysql(&p, state).await;
        } else if round % 3 == 2 || state.applied == p.revision_count() {
            // Finish, then start again from empty. Other rounds kill the
            // next run on top of the state this kill left.
            p.ok(&["upgrade", "head"]);
            assert_eq!(p.state().await.applied, p.revision_count());
            p.ok(&["downgrade", "base"]);
            assert_eq!(p.state().await.applied, 0);
        }
    }
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.state().await.applied, p.revision_count());
    eprintln!(
        "{:?}: {KILLS} kills, {killed_midway} part-way through the history, {recovered_by_hint} recovered by a hint; a whole run took {whole:?}",
        p.kind()
    );
    // Random timing that never once landed inside the history would make
    // this test prove nothing.
    assert!(killed_midway > 0, "no kill landed between revisions");
}

/// After a kill on MariaDB: the next run succeeds, or reports the
/// revision in progress with `rev stamp` commands; the right one is run,
/// then `upgrade head` succeeds. Ends back at an empty database. Returns 1
/// if a hint was followed.
async fn recover_mysql(p: &Project, state: State) -> usize {
    let out = p.run(&["-f", "json", "upgrade", "head"]);
    let mut followed = 0;
    if out.code != 0 {
        let (rev, effect_present) = state
            .in_progress
            .unwrap_or_else(|| panic!("failed with nothing in progress: {}", out.text()));
        assert_eq!(out.code, 1, "{}", out.text());
        // All of stderr is the one JSON error object.
        let err: serde_json::Value =
            serde_json::from_str(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", out.text()));
        assert_eq!(err["error"]["kind"], "in_progress", "{err}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&rev), "{message}");
        let commands: Vec<String> = err["error"]["hints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| {
                let h = h.as_str()?;
                let start = h.find("`rev stamp ")? + 1;
                let end = start + h[start..].find('`')?;
                Some(h[start..end].to_owned())
            })
            .collect();
        let done = format!("rev stamp {rev}");
        // The undo names the parents and the other applied heads (the
        // exact targets are unit-tested in src/cli/error.rs).
        let undone = commands
            .iter()
            .find(|c| **c != done)
            .cloned()
            .unwrap_or_default();
        assert!(
            commands.contains(&done) && !undone.is_empty(),
            "hints lack the recovery commands: {err}"
        );
        // The effect decides: all of the revision is there, or none of it.
        let chosen = if effect_present { &done } else { &undone };
        let args: Vec<&str> = chosen.split(' ').skip(1).collect();
        p.ok(&args);
        assert!(p.state().await.in_progress.is_none());
        p.ok(&["upgrade", "head"]);
        followed = 1;
    }
    assert_eq!(
        p.state().await,
        State {
            applied: p.revision_count(),
            in_progress: None
        }
    );
    p.ok(&["downgrade", "base"]);
    assert_eq!(p.state().await.applied, 0);
    followed
}

// ---------------------------------------------------------------------------
// Ctrl+C and SIGTERM.

/// How long the long revision of the interrupt tests takes.
const LONG: f64 = 2.5;

/// One signal during a long revision: it finishes and is recorded, the
/// next is not run, rev says so and exits 130, and the lock is free at once.
/// A rev waiting for the lock meanwhile stops at once on its own signal.
async fn interrupt(db: TestDb) {
    let p = history(db, 3, |i| if i == 1 { LONG } else { 0.0 });
    // `-v` prints a line as each revision starts: the readiness signal.
    let mut child = p.spawn(&["-v", "upgrade", "head"]);
    child.wait_until(R01_STARTS);
    // Meanwhile a second rev starts and waits for the lock.
    let before = p.sessions_asking_for_the_lock().await;
    let waiter = p.spawn(&["upgrade", "head"]);
    p.wait_in_lock_loop(&waiter, before).await;

    // The signal reaches the first rev inside its long revision.
    // SIGTERM (a pod being stopped) behaves like Ctrl+C.
    let sig = if p.kind() == BackendKind::Sqlite {
        "-TERM"
    } else {
        "-INT"
    };
    child.signal(sig);

    // A signal ends the waiter's wait at once, while the first rev still
    // finishes its revision and holds the lock: the waiter is done before
    // the first rev is (no clock needed to tell "at once").
    waiter.signal("-INT");
    let out = waiter.finish();
    assert_eq!(out.code, 130, "{}", out.text());
    assert!(
        out.stderr.contains("nothing was changed") || out.stderr.contains("done: nothing"),
        "{}",
        out.text()
    );
    assert!(child.running(), "the first rev did not finish its revision");

    let out = child.finish();
    let err = &out.stderr;
    assert_eq!(out.code, 130, "{}", out.text());
    assert!(err.contains("done: r00, r01"), "{err}");
    assert!(err.contains("not run: r02"), "{err}");
    assert_eq!(
        p.state().await,
        State {
            applied: 2,
            in_progress: None
        }
    );
    // The lock was released: a rev that does not wait at all gets it.
    p.ok(&["-c", "no_wait.yaml", "upgrade", "head"]);
    assert_eq!(p.state().await.applied, 3);
}

/// Two signals during a long revision. PostgreSQL cancels the running
/// statement: the revision rolls back at once, unrecorded. MariaDB and
/// SQLite let it finish (cutting MariaDB DDL short would leave it half
/// applied). Either way: exit 130, nothing half recorded, lock free.
async fn interrupt_twice(db: TestDb) {
    let p = history(db, 3, |i| if i == 1 { LONG } else { 0.0 });
    let mut child = p.spawn(&["-v", "upgrade", "head"]);
    child.wait_until(R01_STARTS);
    p.wait_slow_statement().await;
    child.signal("-INT");
    child.wait_until("rev: stopping after the revision that is running");
    child.signal("-INT");
    let out = child.finish();
    let err = &out.stderr;
    assert_eq!(out.code, 130, "{}", out.text());
    let state = p.state().await;
    assert!(state.in_progress.is_none(), "{state:?}");
    if p.kind() == BackendKind::Postgres {
        // r01 unrecorded and its effects gone: the cancel cut its slow
        // statement short (run to its end, r01 would be recorded).
        assert!(
            err.contains("`r01` was cancelled while running and rolled back"),
            "{err}"
        );
        assert!(err.contains("not run: r01, r02"), "{err}");
        assert_eq!(state.applied, 1);
    } else {
        assert!(err.contains("not run: r02"), "{err}");
        assert_eq!(state.applied, 2);
    }
    p.ok(&["-c", "no_wait.yaml", "upgrade", "head"]);
    assert_eq!(p.state().await.applied, 3);
}

// ---------------------------------------------------------------------------
// Dead servers.

/// A project with no database of its own, for URLs that go nowhere.
fn bare_project(timeout_s: u64, retries: u32) -> Project {
    Project::with_config(&format!(
        "connect_timeout_seconds: {timeout_s}\nconnect_retries: {retries}\n"
    ))
}

/// `rev --database-url URL ARGS` in `p`.
fn rev_at(p: &Project, url: &str, args: &[&str]) -> Command {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    p.command(&all)
}

fn run_at(p: &Project, url: &str, args: &[&str]) -> Run {
    Run::from_output(rev_at(p, url, args).output().expect("run rev"))
}

/// A closed port: every try is refused at once, so the run takes the
/// backoff between tries (0.25 s + 0.5 s) and no more; the message has the
/// masked URL, host and port, the number of tries, and never the password.
#[test]
fn closed_port_fails_after_the_retries_with_the_masked_url() {
    // A try that waited out the 5 s connect timeout would take the run past
    // the 4 s bound below: the bound tells "refused at once" from "timed out"
    // with seconds to spare on a loaded machine.
    let p = bare_project(5, 2);
    for (url, masked) in [
        (
            "postgres://u:hunter2secret@127.0.0.1:1/db",
            "postgres://u:****@127.0.0.1:1/db",
        ),
        (
            "mysql://u:hunter2secret@127.0.0.1:1/db",
            "mysql://u:****@127.0.0.1:1/db",
        ),
    ] {
        for args in [
            &["upgrade", "head"][..],
            &["current"],
            &["-f", "json", "status"],
        ] {
            let start = Instant::now();
            let out = run_at(&p, url, args);
            let took = start.elapsed();
            let all = out.text();
            assert_eq!(out.code, 1, "{all}");
            assert!(all.contains(masked), "{all}");
            assert!(all.contains("127.0.0.1:1"), "{all}");
            assert!(all.contains("after 3 attempts"), "{all}");
            assert!(all.contains("refused"), "{all}");
            assert!(!all.contains("hunter2secret"), "password shown: {all}");
            assert!(took >= Duration::from_millis(700), "no backoff: {took:?}");
            assert!(took < Duration::from_secs(4), "too slow: {took:?}");
        }
    }
}

/// A server that accepts the connection and never answers: each try ends
/// at `connect_timeout_seconds`, so 1 + 1 tries of 1 s with 0.25 s between.
/// A signal while connecting ends the run at once with 130.
#[test]
fn silent_server_times_out_per_try_and_a_signal_stops_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = bare_project(1, 1);
    let url = format!("postgres://u:hunter2secret@127.0.0.1:{port}/db");
    let start = Instant::now();
    let out = run_at(&p, &url, &["upgrade", "head"]);
    let took = start.elapsed();
    let all = out.text();
    assert_eq!(out.code, 1, "{all}");
    assert!(all.contains("no answer within 1.0s"), "{all}");
    assert!(all.contains("after 2 attempts"), "{all}");
    assert!(
        all.contains(&format!("postgres://u:****@127.0.0.1:{port}/db")),
        "{all}"
    );
    assert!(!all.contains("hunter2secret"), "{all}");
    assert!(
        took >= Duration::from_millis(2200) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // A listener of its own: the one above still holds the first run's
    // connections in its backlog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://u:hunter2secret@127.0.0.1:{port}/db");
    let p = bare_project(30, 3);
    let child = Spawned::start(rev_at(&p, &url, &["upgrade", "head"]));
    // Ready: rev has connected and waits for the server's first word (the
    // signal handlers are in place before rev connects).
    let (conn, _) = listener.accept().expect("rev connects");
    let asked = Instant::now();
    child.signal("-INT");
    let out = child.finish();
    assert_eq!(out.code, 130, "{}", out.text());
    // Half the 30 s connect timeout: any run this short was cut by the
    // signal, not by the timeout.
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
    drop(conn);
    drop(listener);
}

/// A wrong password on a real server: one try (another cannot help), the
/// server's answer, and the password nowhere in the output, JSON included.
#[tokio::test]
async fn wrong_password_is_not_retried_and_never_shown() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let user = format!("rev_pw_{}", std::process::id());
    let admin = db.url.with_credentials_exposed();
    let setup = format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'; CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-pw'"
    );
    mysql_exec(&admin, &setup).await;
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("Wr0ngPassw0rd")).unwrap();
    let p = bare_project(5, 3);
    for args in [&["current"][..], &["-f", "json", "upgrade", "head"]] {
        let out = run_at(&p, url.as_str(), args);
        let all = out.text();
        assert_eq!(out.code, 1, "{all}");
        // One try, as the message counts it: no clock bound, which the
        // retries' backoff (0.25 + 0.5 + 1 s) is too short to separate
        // from a slow machine.
        assert!(all.contains("after 1 attempt "), "{all}");
        assert!(all.contains("Access denied"), "{all}");
        assert!(all.contains(&format!("{user}:****@")), "{all}");
        assert!(!all.contains("Wr0ngPassw0rd"), "password shown: {all}");
    }
    mysql_exec(
        &admin,
        &format!("DROP USER '{user}'@'%'; DROP USER '{user}'@'localhost'"),
    )
    .await;
}

async fn mysql_exec(url: &str, sql: &str) {
    use sqlx::Connection as _;
    let mut c = sqlx::MySqlConnection::connect(url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .expect(sql);
    let _ = c.close().await;
}

// ---------------------------------------------------------------------------
// Connection details at a terminal (run under tmux, which gives rev a real
// terminal: the password prompt reads it with echo off).

/// A tmux server of its own (`-L`), so no one's sessions are touched; it
/// is killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// `None` when tmux is not installed and [`unavailable`] allows a skip.
    fn start(dir: &Path, command: &str) -> Option<Tmux> {
        let socket = format!(
            "rev-test-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                "-s",
                "t",
            ])
            .arg(format!(
                "cd '{}' && {command}; echo EXIT=$?; sleep 60",
                dir.display()
            ))
            .env_remove("DATABASE_URL")
            .env_remove("TMUX")
            .status();
        match started {
            Ok(s) if s.success() => Some(Tmux { socket }),
            _ => {
                unavailable("tmux", "not available");
                None
            }
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "`{text}` never appeared:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` and Enter.
    fn type_line(&self, text: &str) {
        for keys in [&["-l", text][..], &["Enter"]] {
            let ok = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", "t"])
                .args(keys)
                .status()
                .expect("tmux send-keys")
                .success();
            assert!(ok);
        }
    }

    /// Answers the question that shows `prompt` (the n-th time it shows).
    fn answer(&self, prompt: &str, text: &str) {
        self.wait_for(prompt);
        self.type_line(text);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// No URL anywhere, at a terminal: rev asks for the details, the password
/// without echo, offers to save, saves the URL without the password, and
/// goes on to run the command. The next run uses the saved URL.
#[tokio::test]
async fn terminal_asks_for_connection_details_and_saves_all_but_the_password() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let p = Project::with_config("# my project\nscript_location: versions\n");
    let rev = shell_quote(env!("CARGO_BIN_EXE_rev"));
    let Some(tmux) = Tmux::start(p.dir(), &format!("{rev} current")) else {
        return;
    };
    let url = &db.url;
    let database = url::Url::parse(&url.with_credentials_exposed())
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    // Trust authentication accepts any password; a distinctive one shows
    // whether it leaks anywhere. A configured test password is typed for real.
    let secret = url::Url::parse(&url.with_credentials_exposed())
        .unwrap()
        .password()
        .map(str::to_owned)
        .unwrap_or_else(|| "Hunter2Terminal".to_owned());
    tmux.answer("Database [sqlite/postgres/mysql]", "postgres");
    tmux.answer("Host (localhost):", url.host().unwrap());
    tmux.answer("Port (5432):", &url.port().unwrap().to_string());
    tmux.answer("Database name:", &database);
    tmux.answer("User (postgres):", &url.username().unwrap_or_default());
    tmux.answer("Password (not shown", &secret);
    tmux.answer("[y/N]", "y");
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("<base> (no revision applied)"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains(&secret),
        "the password was echoed:\n{screen}"
    );
    let saved = std::fs::read_to_string(p.path("config.yaml")).unwrap();
    let expected = format!(
        "database_url: postgres://{}@{}:{}/{database}",
        url.username().unwrap_or_default(),
        url.host().unwrap(),
        url.port().unwrap()
    );
    assert!(saved.contains(&expected), "{saved}");
    assert!(saved.contains("# my project") && saved.contains("script_location: versions"));
    assert!(!saved.contains(&secret), "the password was saved:\n{saved}");
    drop(tmux);

    // The saved URL is used next time; trust needs no password, so none is asked.
    let Some(tmux) = Tmux::start(p.dir(), &format!("{rev} current")) else {
        return;
    };
    let screen = tmux.wait_for("EXIT=");
    assert!(
        screen.contains("<base> (no revision applied)") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(!screen.contains("Password"), "{screen}");
}

/// A URL with a user and no password, for a server that wants one: at a
/// terminal rev asks for it (no echo) and goes on; without a terminal it
/// fails with the server's answer instead of waiting for input.
#[tokio::test]
async fn terminal_asks_for_a_missing_password() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let admin = db.url.with_credentials_exposed();
    let user = format!("rev_tty_{}", std::process::id());
    let secret = "Tty-Secret-42";
    let db_name = url::Url::parse(&admin)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    mysql_exec(
        &admin,
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'; CREATE USER '{user}'@'localhost' IDENTIFIED BY '{secret}'; \
             GRANT ALL ON `{db_name}`.* TO '{user}'@'%'; GRANT ALL ON `{db_name}`.* TO '{user}'@'localhost'"
        ),
    )
    .await;
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(None).unwrap();
    let p = bare_project(5, 0);
    let rev = shell_quote(env!("CARGO_BIN_EXE_rev"));
    let command = format!("{rev} --database-url {} current", shell_quote(url.as_str()));
    if let Some(tmux) = Tmux::start(p.dir(), &command) {
        tmux.answer(&format!("Password for {user}@"), secret);
        let screen = tmux.wait_for("EXIT=");
        assert!(
            screen.contains("<base> (no revision applied)") && screen.contains("EXIT=0"),
            "{screen}"
        );
        assert!(
            !screen.contains(secret),
            "the password was echoed:\n{screen}"
        );
    }
    let out = run_at(&p, url.as_str(), &["current"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert!(out.text().contains("Access denied"), "{}", out.text());
    mysql_exec(
        &admin,
        &format!("DROP USER '{user}'@'%'; DROP USER '{user}'@'localhost'"),
    )
    .await;
}
