//! The database layer against real SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Each scenario is one `async fn(TestDb)`; `on_every_backend!` runs it on all
//! three backends (`backend::sqlite::…`, `backend::postgres::…`,
//! `backend::mysql::…`). Behaviour that differs by design (MySQL has no
//! transactional DDL) is asserted per kind inside the scenario.

use std::path::Path;
use std::time::{Duration, Instant};

use rev::backend::{BackendError, ConnectOptions, Connection, ExecStep, TableName};
use rev::executor::{self, CancelToken, ExecError, ExecOptions, LockedSession};
use rev::step::Direction;
use rev::url::{BackendKind, DatabaseUrl};

use crate::kit::TestDb;

on_every_backend!(
    table_is_created_on_first_use_with_our_shape,
    reading_creates_nothing,
    foreign_table_is_refused_and_left_untouched,
    reserved_word_table_name_is_quoted_and_invalid_names_refused,
    apply_and_read_back_rows_then_downgrade,
    failing_sql_is_reported_and_not_recorded,
    second_connection_times_out_on_lock_then_gets_it_after_unlock,
    lock_is_released_after_a_failing_step,
    whole_plan_transaction_rolls_everything_back,
    cancel_before_start_runs_nothing,
    cancel_during_a_step_stops_after_it,
    stamp_and_checksum_helpers,
    offline_script_runs_and_records_rows,
    dead_server_fails_after_retries_without_leaking_password,
);

fn up(rev: &str, sql: &str, parents: &[&str]) -> ExecStep {
    ExecStep {
        revision: rev.to_owned(),
        direction: Direction::Upgrade,
        sql: sql.to_owned(),
        checksum: format!("sum-{rev}"),
        transactional: true,
        down_revisions: parents.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn down(rev: &str, sql: &str) -> ExecStep {
    ExecStep {
        direction: Direction::Downgrade,
        ..up(rev, sql, &[])
    }
}

fn lock_timeout() -> Duration {
    Duration::from_secs(5)
}

async fn run_steps(
    db: &TestDb,
    steps: Vec<ExecStep>,
    opts: &ExecOptions,
) -> Result<executor::Report, ExecError> {
    executor::run(db.connect().await, lock_timeout(), opts, |_| {
        Ok::<_, ExecError>(steps)
    })
    .await
}

async fn table_is_created_on_first_use_with_our_shape(db: TestDb) {
    assert!(!db.has_table("schema_migrations").await);
    let mut conn = db.connect().await;
    conn.ensure_table().await.expect("ensure_table");
    assert_eq!(db.column_count("schema_migrations").await, 6);
    // A second call sees our own table and accepts it.
    conn.ensure_table().await.expect("ensure_table twice");
    assert_eq!(conn.read_applied().await.expect("read"), vec![]);
    conn.close().await.expect("close");
}

async fn reading_creates_nothing(db: TestDb) {
    let mut conn = db.connect().await;
    assert_eq!(conn.read_applied().await.expect("read"), vec![]);
    assert!(!db.has_table("schema_migrations").await);
    conn.close().await.expect("close");
}

async fn foreign_table_is_refused_and_left_untouched(db: TestDb) {
    let mut conn = db.connect().await;
    conn.execute_raw(
        "CREATE TABLE schema_migrations (id INTEGER, name VARCHAR(20)); \
         INSERT INTO schema_migrations VALUES (1, 'keep')",
    )
    .await
    .expect("setup");

    let err = conn
        .ensure_table()
        .await
        .expect_err("foreign table accepted");
    assert_eq!(err.kind(), "foreign_version_table");
    match &err {
        BackendError::ForeignVersionTable { table, missing } => {
            assert_eq!(table, "schema_migrations");
            assert!(missing.contains(&"checksum".to_owned()), "{missing:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("`schema_migrations`"), "{err}");
    let read = conn.read_applied().await.expect_err("read foreign table");
    assert_eq!(read.kind(), "foreign_version_table");

    // Through the executor too: the lock must be released afterwards.
    let acquired = LockedSession::acquire(db.connect().await, lock_timeout()).await;
    assert_eq!(
        acquired
            .map(|_| ())
            .expect_err("session on foreign table")
            .kind(),
        "foreign_version_table"
    );
    conn.lock(Duration::from_millis(500))
        .await
        .expect("lock free after refused session");

    assert_eq!(db.column_count("schema_migrations").await, 2);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations WHERE name = 'keep' AND id = 1")
            .await,
        1
    );
    conn.close().await.expect("close");
}

async fn reserved_word_table_name_is_quoted_and_invalid_names_refused(db: TestDb) {
    for bad in ["bad-name", "x; DROP TABLE y", "1st", ""] {
        let err = TableName::new(bad).expect_err(bad);
        assert_eq!(err.kind(), "invalid_table_name");
        assert!(err.to_string().contains("version_table"), "{err}");
    }
    // `order` is reserved everywhere: it only works because it is quoted.
    let mut conn = db.connect_table("order").await;
    conn.ensure_table().await.expect("ensure `order`");
    conn.apply(&up("r1", "CREATE TABLE t1 (id INTEGER)", &[]))
        .await
        .expect("apply");
    let rows = conn.read_applied().await.expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(db.column_count("order").await, 6);
    conn.close().await.expect("close");
}

async fn apply_and_read_back_rows_then_downgrade(db: TestDb) {
    let steps = vec![
        up(
            "r1",
            "CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(50))",
            &[],
        ),
        up(
            "r2",
            "CREATE TABLE note (id INTEGER PRIMARY KEY);\n\
             INSERT INTO account (id, name) VALUES (1, 'it''s; fine');\n\
             INSERT INTO note (id) VALUES (7);",
            &["r1"],
        ),
    ];
    let report = run_steps(&db, steps, &ExecOptions::default())
        .await
        .expect("upgrade");
    let applied: Vec<_> = report
        .applied
        .iter()
        .map(|s| (s.revision.as_str(), s.direction))
        .collect();
    assert_eq!(
        applied,
        vec![("r1", Direction::Upgrade), ("r2", Direction::Upgrade)]
    );
    assert!(report.not_run.is_empty() && !report.interrupted);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM note WHERE id = 7").await,
        1
    );

    let mut conn = db.connect().await;
    let rows = conn.read_applied().await.expect("read");
    assert_eq!(rows.len(), 2);
    let r2 = rows.iter().find(|r| r.version == "r2").expect("r2 row");
    assert_eq!(r2.checksum, "sum-r2");
    assert_eq!(r2.down_revisions, vec!["r1".to_owned()]);
    assert!(!r2.in_progress);
    // The step's SQL ran for a measurable time only if the column is
    // written from the step's own timing, not left at a default.
    let took = report
        .applied
        .iter()
        .find(|a| a.revision == "r2")
        .map(|a| a.elapsed)
        .expect("r2 in the report");
    assert_eq!(
        r2.execution_time_ms,
        i64::try_from(took.as_millis()).unwrap()
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(&r2.applied_at).is_ok(),
        "applied_at {}",
        r2.applied_at
    );
    let r1 = rows.iter().find(|r| r.version == "r1").expect("r1 row");
    assert!(r1.down_revisions.is_empty());
    conn.close().await.expect("close");

    let report = run_steps(
        &db,
        vec![down("r2", "DROP TABLE note")],
        &ExecOptions::default(),
    )
    .await
    .expect("downgrade");
    assert_eq!(report.applied[0].direction, Direction::Downgrade);
    assert!(!db.has_table("note").await);
    let mut conn = db.connect().await;
    let rows = conn.read_applied().await.expect("read");
    assert_eq!(
        rows.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        vec!["r1"]
    );
    // Downgrading something never applied is refused, not silently "done".
    let err = conn
        .apply(&down("zz", "SELECT 1"))
        .await
        .expect_err("downgrade of unrecorded revision");
    assert_eq!(err.kind(), "not_recorded");
    conn.close().await.expect("close");
}

async fn failing_sql_is_reported_and_not_recorded(db: TestDb) {
    let steps = vec![
        up("ok1", "CREATE TABLE first_t (id INTEGER)", &[]),
        up(
            "bad2",
            "CREATE TABLE partial_t (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
            &["ok1"],
        ),
        up("never3", "CREATE TABLE never_t (id INTEGER)", &["bad2"]),
    ];
    let err = run_steps(&db, steps, &ExecOptions::default())
        .await
        .expect_err("failing step");
    assert_eq!(err.kind(), "migration_failed");
    let msg = err.to_string();
    assert!(msg.contains("`bad2`"), "{msg}");
    assert!(msg.contains("no_such_table"), "{msg}");
    match &err.error {
        BackendError::MigrationFailed {
            revision,
            direction,
            statement_index,
            statement,
            message,
            rolled_back,
        } => {
            assert_eq!(revision, "bad2");
            assert_eq!(*direction, Direction::Upgrade);
            assert_eq!(*statement_index, Some(2), "{msg}");
            assert!(
                statement.starts_with("INSERT INTO no_such_table"),
                "{statement}"
            );
            assert!(!message.is_empty());
            assert_eq!(*rolled_back, db.kind() != BackendKind::MySql);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.report
            .applied
            .iter()
            .map(|s| s.revision.as_str())
            .collect::<Vec<_>>(),
        vec!["ok1"]
    );
    assert_eq!(err.report.not_run, vec!["bad2", "never3"]);
    assert!(!db.has_table("never_t").await);

    let mut conn = db.connect().await;
    let rows = conn.read_applied().await.expect("read");
    if db.kind() == BackendKind::MySql {
        // MySQL committed the CREATE TABLE; the row says what was in progress.
        assert!(db.has_table("partial_t").await);
        let bad = rows
            .iter()
            .find(|r| r.version == "bad2")
            .expect("in-progress row");
        assert!(bad.in_progress);
        conn.close().await.expect("close");
        // And the next run refuses to build on it.
        let again = run_steps(&db, vec![up("x", "SELECT 1", &[])], &ExecOptions::default())
            .await
            .expect_err("run on in-progress state");
        assert_eq!(again.kind(), "in_progress");
        assert!(again.to_string().contains("`bad2`"), "{again}");
    } else {
        assert!(
            !db.has_table("partial_t").await,
            "failed step not rolled back"
        );
        assert_eq!(
            rows.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
            vec!["ok1"]
        );
        conn.close().await.expect("close");
    }
}

async fn second_connection_times_out_on_lock_then_gets_it_after_unlock(db: TestDb) {
    let mut first = db.connect().await;
    first.lock(lock_timeout()).await.expect("first lock");
    assert!(first.is_locked());

    let mut second = db.connect().await;
    let wait = Duration::from_millis(600);
    let start = Instant::now();
    let err = second.lock(wait).await.expect_err("second lock succeeded");
    let waited = start.elapsed();
    assert_eq!(err.kind(), "lock_timeout", "{err}");
    assert!(waited >= wait, "gave up after {waited:?}");
    assert!(waited < wait + Duration::from_secs(3), "waited {waited:?}");
    match &err {
        BackendError::LockTimeout { holder, .. } => {
            let holder = holder.as_deref().expect("holder named");
            match db.kind() {
                BackendKind::Postgres => {
                    assert!(
                        holder.contains("pid") && holder.contains("`rev`"),
                        "{holder}"
                    )
                }
                BackendKind::MySql => assert!(holder.contains("connection id"), "{holder}"),
                BackendKind::Sqlite => {
                    assert!(holder.contains(&std::process::id().to_string()), "{holder}")
                }
            }
        }
        other => panic!("unexpected {other:?}"),
    }

    first.unlock().await.expect("unlock");
    assert!(!first.is_locked());
    second
        .lock(Duration::from_secs(2))
        .await
        .expect("lock after unlock");
    second.unlock().await.expect("second unlock");
    first.close().await.expect("close");
    second.close().await.expect("close");
}

async fn lock_is_released_after_a_failing_step(db: TestDb) {
    let err = run_steps(
        &db,
        vec![up("bad", "THIS IS NOT SQL", &[])],
        &ExecOptions::default(),
    )
    .await
    .expect_err("bad SQL");
    assert_eq!(err.kind(), "migration_failed");

    // Also when the planning closure fails after the lock was taken.
    let planned: Result<_, ExecError> = executor::run(
        db.connect().await,
        lock_timeout(),
        &ExecOptions::default(),
        |_| {
            Err(ExecError {
                error: BackendError::NotRecorded {
                    revision: "p".into(),
                    table: "t".into(),
                },
                report: Default::default(),
            })
        },
    )
    .await;
    assert_eq!(planned.expect_err("plan error").kind(), "not_recorded");

    let mut other = db.connect().await;
    other
        .lock(Duration::from_millis(300))
        .await
        .expect("lock leaked after error");
    other.close().await.expect("close");
}

async fn whole_plan_transaction_rolls_everything_back(db: TestDb) {
    let opts = ExecOptions {
        transaction_per_migration: false,
        cancel: CancelToken::new(),
        progress: None,
        statement_events: false,
    };
    let steps = vec![
        up("w1", "CREATE TABLE w1_t (id INTEGER)", &[]),
        up("w2", "CREATE TABLE w2_t (id INTEGER)", &["w1"]),
        up("w3", "INSERT INTO w_missing VALUES (1)", &["w2"]),
    ];
    let err = run_steps(&db, steps, &opts).await.expect_err("w3 fails");
    assert_eq!(err.kind(), "migration_failed");
    let mut conn = db.connect().await;
    let rows = conn.read_applied().await.expect("read");
    conn.close().await.expect("close");
    if db.kind() == BackendKind::MySql {
        // No transactional DDL: w1 and w2 commit on their own and stay;
        // w3 is data only, so it ran in a transaction and left no row.
        assert_eq!(err.report.applied.len(), 2);
        assert!(db.has_table("w2_t").await);
        assert!(rows.iter().all(|r| r.version != "w3"), "{rows:?}");
        assert_eq!(rows.len(), 2, "{rows:?}");
    } else {
        assert!(err.report.applied.is_empty(), "{:?}", err.report);
        assert_eq!(err.report.not_run, vec!["w1", "w2", "w3"]);
        assert!(!db.has_table("w1_t").await);
        assert!(!db.has_table("w2_t").await);
        assert!(rows.is_empty(), "{rows:?}");
    }

    // And when it succeeds, everything is committed.
    let ok = run_steps(
        &db,
        vec![
            up("v1", "CREATE TABLE v1_t (id INTEGER)", &[]),
            up("v2", "CREATE TABLE v2_t (id INTEGER)", &["v1"]),
        ],
        &opts,
    )
    .await;
    assert_eq!(ok.expect("whole plan").applied.len(), 2);
    assert!(db.has_table("v2_t").await);
}

async fn cancel_before_start_runs_nothing(db: TestDb) {
    let opts = ExecOptions::default();
    opts.cancel.cancel();
    let report = run_steps(
        &db,
        vec![up("c1", "CREATE TABLE c1_t (id INTEGER)", &[])],
        &opts,
    )
    .await
    .expect("cancelled run is not an error");
    assert!(report.interrupted);
    assert!(report.applied.is_empty());
    assert_eq!(report.not_run, vec!["c1"]);
    assert!(!db.has_table("c1_t").await);
}

async fn cancel_during_a_step_stops_after_it(db: TestDb) {
    let sleep = match db.kind() {
        BackendKind::Postgres => "SELECT pg_sleep(0.4)",
        BackendKind::MySql => "SELECT SLEEP(0.4)",
        // SQLite has no sleep; a recursive CTE keeps it busy instead.
        BackendKind::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) \
             SELECT COUNT(*) FROM n"
        }
    };
    // Cancel when the slow step has started, not after a fixed delay: on a
    // loaded machine connecting and locking can take longer than any delay.
    let mut opts = ExecOptions::default();
    let token = opts.cancel.clone();
    opts.progress = Some(std::sync::Arc::new(move |event: &executor::StepEvent| {
        if matches!(event, executor::StepEvent::Started { revision, .. } if revision == "s1") {
            token.cancel();
        }
    }));
    let report = run_steps(
        &db,
        vec![
            up("s1", sleep, &[]),
            up("s2", "CREATE TABLE s2_t (id INTEGER)", &["s1"]),
        ],
        &opts,
    )
    .await
    .expect("interrupted run");
    assert!(report.interrupted);
    assert_eq!(report.applied.len(), 1, "{report:?}");
    assert_eq!(report.applied[0].revision, "s1");
    assert_eq!(report.not_run, vec!["s2"]);
    assert!(!db.has_table("s2_t").await);
}

async fn stamp_and_checksum_helpers(db: TestDb) {
    let mut session = LockedSession::acquire(db.connect().await, lock_timeout())
        .await
        .expect("acquire");
    session
        .stamp_applied("st1", "abc", &["p1".into(), "p2".into()])
        .await
        .expect("stamp");
    session
        .set_checksum("st1", "def")
        .await
        .expect("set checksum");
    let rows = session.refresh().await.expect("refresh").to_vec();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].checksum, "def");
    assert_eq!(rows[0].down_revisions, vec!["p1", "p2"]);
    assert_eq!(rows[0].execution_time_ms, 0);
    // Stamping again replaces, never duplicates.
    session
        .stamp_applied("st1", "ghi", &[])
        .await
        .expect("restamp");
    assert_eq!(session.refresh().await.expect("refresh").len(), 1);
    assert_eq!(
        session
            .set_checksum("nope", "x")
            .await
            .expect_err("missing")
            .kind(),
        "not_recorded"
    );
    assert!(session.stamp_removed("st1").await.expect("remove"));
    assert!(!session.stamp_removed("st1").await.expect("remove again"));
    assert!(session.refresh().await.expect("refresh").is_empty());
    session.release().await.expect("release");
}

async fn offline_script_runs_and_records_rows(db: TestDb) {
    let mut conn = db.connect().await;
    let steps = vec![
        up(
            "o1",
            "CREATE TABLE o1_t (id INTEGER)\n-- trailing comment",
            &[],
        ),
        up("o2", "INSERT INTO o1_t VALUES (1)", &["o1"]),
    ];
    let script = conn.dialect().script(&steps, true);
    // The preamble's client setting (`\\set ON_ERROR_STOP on`, `.bail on`) is
    // for psql and sqlite3, not SQL; the rest is plain SQL a driver runs
    // (tests/db_suite.rs runs whole scripts through the clients).
    let preamble = conn.dialect().script_preamble();
    let body = script
        .strip_prefix(&preamble)
        .expect("script starts with its preamble");
    conn.execute_raw(body).await.expect("script runs");
    let rows = conn.read_applied().await.expect("read");
    assert_eq!(
        rows.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        vec!["o1", "o2"]
    );
    assert!(rows.iter().all(|r| !r.in_progress));
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM o1_t").await, 1);
    conn.close().await.expect("close");
}

async fn dead_server_fails_after_retries_without_leaking_password(db: TestDb) {
    let (url, opts) = match db.kind() {
        BackendKind::Sqlite => {
            // A folder that does not exist cannot hold a database; retrying is pointless.
            let url = DatabaseUrl::parse(
                "sqlite://missing/dir/x.db?mode=rwc",
                Path::new("/nonexistent"),
            )
            .expect("url");
            (
                url,
                ConnectOptions {
                    connect_timeout: Duration::from_secs(2),
                    retries: 2,
                },
            )
        }
        kind => {
            let text = format!("{kind}://someone:sekrit%21pw@127.0.0.1:1/db");
            let url = DatabaseUrl::parse(&text, Path::new(".")).expect("url");
            (
                url,
                ConnectOptions {
                    connect_timeout: Duration::from_secs(2),
                    retries: 2,
                },
            )
        }
    };
    let start = Instant::now();
    let err = Connection::connect(
        &url,
        TableName::new("schema_migrations").expect("name"),
        &opts,
    )
    .await
    .expect_err("dead server connected");
    let took = start.elapsed();
    assert_eq!(err.kind(), "connect");
    let msg = err.to_string();
    assert!(!msg.contains("sekrit"), "{msg}");
    // Three tries of at most 2s each plus 0.25s + 0.5s of backoff.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    match (&err, db.kind()) {
        (BackendError::Connect { attempts, .. }, BackendKind::Sqlite) => {
            assert_eq!(*attempts, 1, "{msg}");
            assert!(msg.contains("/nonexistent/missing/dir/x.db"), "{msg}");
        }
        (BackendError::Connect { attempts, .. }, _) => {
            assert_eq!(*attempts, 3, "{msg}");
            assert!(msg.contains("127.0.0.1:1"), "{msg}");
            assert!(msg.contains("someone:****@"), "{msg}");
            assert!(took >= Duration::from_millis(700), "no backoff: {took:?}");
        }
        (other, _) => panic!("unexpected {other:?}"),
    }
}

/// `CREATE INDEX CONCURRENTLY` refuses any transaction, including the
/// implicit one PostgreSQL wraps around a multi-statement string: the step
/// must be sent statement by statement, outside a transaction.
#[tokio::test]
async fn postgres_non_transactional_step_runs_outside_a_transaction() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut conn = db.connect().await;
    conn.execute_raw("CREATE TABLE big (id INTEGER)")
        .await
        .expect("setup");
    let mut step = up(
        "idx",
        "CREATE INDEX CONCURRENTLY big_id ON big (id);\nCREATE INDEX CONCURRENTLY big_id2 ON big (id);",
        &[],
    );
    // Sent whole it would fail: that is what `transactional: false` avoids.
    step.transactional = false;
    let report = run_steps(&db, vec![step], &ExecOptions::default())
        .await
        .expect("concurrent index");
    assert_eq!(report.applied.len(), 1);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'big'")
            .await,
        2
    );
    let rows = conn.read_applied().await.expect("read");
    assert!(rows.iter().any(|r| r.version == "idx" && !r.in_progress));
    conn.close().await.expect("close");
}

/// SQLite runs a revision through its C API (see `src/backend/sqlite_script.rs`):
/// SQLite finds the statements itself, whatever `;` they hide.
#[tokio::test]
async fn sqlite_runs_every_statement_sqlite_parses() {
    let Some(db) = TestDb::sqlite().await else {
        return;
    };
    let sql = "CREATE TABLE [odd;name] ([a;b] INTEGER, note TEXT);\n\
               CREATE TABLE audit (what TEXT);\n\
               -- a comment; with a semicolon\n\
               CREATE TRIGGER log_insert AFTER INSERT ON [odd;name] BEGIN\n\
                 INSERT INTO audit VALUES (CASE WHEN new.[a;b] > 1 THEN 'big;' ELSE 'small' END);\n\
                 INSERT INTO audit VALUES ('row ' || new.note);\n\
               END;\n\
               ;;\n\
               SELECT * FROM sqlite_master; /* rows nobody reads */\n\
               INSERT INTO [odd;name] VALUES (1, 'it''s; one'), (2, 'two');\n\
               INSERT INTO [odd;name] VALUES (3, 'three') -- no final semicolon";
    let mut conn = db.connect().await;
    conn.ensure_table().await.expect("table");
    conn.apply(&up("odd", sql, &[])).await.expect("applies");
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM [odd;name]").await, 3);
    assert_eq!(db.query_i64("SELECT SUM([a;b]) FROM [odd;name]").await, 6);
    // The trigger's two statements ran for each row.
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM audit").await, 6);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM audit WHERE what IN ('big;', 'row it''s; one')")
            .await,
        3
    );
    let rows = conn.read_applied().await.expect("read");
    assert_eq!(rows.len(), 1);
    conn.close().await.expect("close");
}

/// A statement SQLite cannot parse fails in `prepare`, before it runs: the
/// error still names it, and the revision rolls back whole.
#[tokio::test]
async fn sqlite_syntax_error_names_its_statement_and_rolls_back() {
    let Some(db) = TestDb::sqlite().await else {
        return;
    };
    let mut conn = db.connect().await;
    conn.ensure_table().await.expect("table");
    let sql = "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\n\
               -- the typo\nINSERT INTO t VALUES (2) oops;\nINSERT INTO t VALUES (3);";
    let err = conn.apply(&up("bad", sql, &[])).await.expect_err("fails");
    match &err {
        BackendError::MigrationFailed {
            statement_index,
            statement,
            message,
            rolled_back,
            ..
        } => {
            assert_eq!(*statement_index, Some(3), "{err}");
            assert_eq!(statement, "-- the typo", "{err}");
            assert!(message.contains("syntax error"), "{message}");
            assert!(*rolled_back);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!db.has_table("t").await);
    assert!(conn.read_applied().await.expect("read").is_empty());
    // A NUL would end the SQL early for SQLite: refused, not cut short.
    let err = conn
        .apply(&up(
            "nul",
            "CREATE TABLE n (id INTEGER);\0DROP TABLE n;",
            &[],
        ))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("NUL"), "{err}");
    assert!(!db.has_table("n").await);
    conn.close().await.expect("close");
}

/// Dropping a running step (a caller's timeout, say) interrupts its SQLite
/// statement and hands the connection back, instead of waiting for the
/// statement to end or leaving the connection to a thread still running.
#[tokio::test]
async fn sqlite_dropped_step_interrupts_its_statement_and_frees_the_connection() {
    let Some(db) = TestDb::sqlite().await else {
        return;
    };
    let mut conn = db.connect().await;
    conn.ensure_table().await.expect("table");
    conn.execute_raw("CREATE TABLE big (x INTEGER)")
        .await
        .expect("setup");
    // Far more rows than any machine inserts before the timeout below.
    let mut step = up(
        "long",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)\n\
         INSERT INTO big SELECT x FROM c;",
        &[],
    );
    // Outside a transaction: had the INSERT finished, its rows would stay.
    step.transactional = false;
    let applied = tokio::time::timeout(Duration::from_secs(1), conn.apply(&step)).await;
    assert!(
        applied.is_err(),
        "the step ended before the timeout: {applied:?}"
    );
    // The connection works again, the interrupted INSERT left nothing, and
    // the step's tracking row says it stopped part-way.
    let rows = conn.read_applied().await.expect("read after the drop");
    assert!(
        rows.iter().any(|r| r.version == "long" && r.in_progress),
        "{rows:?}"
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM big").await, 0);
    conn.close().await.expect("close");
}

/// An in-memory database lives and dies with its one connection: no lock
/// file, and the whole cycle works on that connection alone.
#[tokio::test]
async fn sqlite_memory_database_needs_no_lock_file() {
    let url = DatabaseUrl::parse("sqlite::memory:", Path::new("/nonexistent")).expect("url");
    let table = TableName::new("schema_migrations").expect("name");
    let conn = Connection::connect(&url, table, &ConnectOptions::default())
        .await
        .expect("connect");
    let mut session = LockedSession::acquire(conn, Duration::from_millis(100))
        .await
        .expect("acquire");
    let report = session
        .execute(
            vec![up("m1", "CREATE TABLE m (id INTEGER)", &[])],
            &ExecOptions::default(),
        )
        .await
        .expect("execute");
    assert_eq!(report.applied.len(), 1);
    assert_eq!(session.refresh().await.expect("refresh").len(), 1);
    session.release().await.expect("release");
}

/// PostgreSQL refuses `pg_advisory_unlock` inside an aborted transaction
/// (SQLSTATE 25P02), which leaked sqlx users' locks. A transaction the
/// revision SQL opened itself must not keep the lock held.
#[tokio::test]
async fn postgres_unlock_survives_an_aborted_transaction_opened_by_revision_sql() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut conn = db.connect().await;
    conn.lock(lock_timeout()).await.expect("lock");
    conn.ensure_table().await.expect("table");
    let mut step = up("tx", "BEGIN; SELECT * FROM no_such_table;", &[]);
    step.transactional = false;
    let err = conn.apply(&step).await.expect_err("fails");
    assert_eq!(err.kind(), "migration_failed");
    conn.unlock().await.expect("unlock in aborted transaction");
    let mut other = db.connect().await;
    other
        .lock(Duration::from_millis(300))
        .await
        .expect("lock is free");
    other.close().await.expect("close");
    conn.close().await.expect("close");
}
