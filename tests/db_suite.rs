//! The `rev` binary against real SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Each scenario is one `async fn(Project)`; `on_every_backend!` runs it on all three
//! backends (`sqlite::…`, `postgres::…`, `mysql::…`), each on a fresh
//! database. Scenarios drive the real binary in a temp project and check the
//! database through the library's read-only calls or the catalog, never
//! through the CLI alone. Where the databases differ by design (MySQL has no
//! transactional DDL) the scenario asserts each behaviour per kind.
//!
//! Server URLs: `REV_TEST_POSTGRES_URL`, `REV_TEST_MYSQL_URL` (defaults: the
//! local test servers); an unreachable server fails the test, or skips it
//! by name under `REV_TEST_SKIP_SERVERS=1` (tests/kit).

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;
#[path = "db_suite/foreign_keys.rs"]
mod foreign_keys;
#[path = "db_suite/tls.rs"]
mod tls;

use kit::{ids, str_array, Project, Rev};
use rev::url::BackendKind;

on_every_backend!(
    clean_database_to_head,
    existing_database_gets_only_new_revisions,
    second_upgrade_is_a_no_op,
    downgrade_base_then_upgrade_head_gives_the_same_schema,
    failing_revision_is_rolled_back_or_reported_in_progress,
    stamp_and_stamp_purge,
    branches_move_one_at_a_time,
    dry_run_and_sql_change_nothing,
    drift_is_found_refused_and_accepted,
    foreign_version_table_is_refused_untouched,
    current_check_heads_exit_codes,
    whole_run_transaction_rolls_back_on_failure,
    non_transactional_revision_runs,
    library_api_upgrades_downgrades_and_reports,
    mistyped_marker_runs_nothing,
    untouched_scaffold_is_refused_before_anything,
    empty_downgrade_section_is_refused_as_empty,
    sql_script_through_the_client_matches_a_direct_run,
    sql_script_stops_in_the_client_where_a_direct_run_fails,
    large_revision_runs_whole_and_a_late_failure_names_its_statement,
    verbose_run_names_each_statement_with_its_time,
);

/// The history most scenarios start from:
///
/// ```text
/// a1 ── a2 ── a3
///  └── b1 ── b2      (b1 labelled `billing`; b2 depends_on a2)
/// ```
///
/// Two heads (a3, b2); every revision creates or changes something visible
/// in the catalog.
fn history(p: &Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);",
        down_sql: "DROP TABLE users;",
    });
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(100) NOT NULL);\n\
             CREATE INDEX posts_user ON posts (user_id);",
        down_sql: "DROP TABLE posts;",
    });
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "ALTER TABLE posts ADD COLUMN published_at VARCHAR(32) NULL;",
        down_sql: "ALTER TABLE posts DROP COLUMN published_at;",
    });
    p.write(&Rev {
        id: "b1",
        down: &["a1"],
        header: &["branch_labels: [billing]"],
        up: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total_cents BIGINT NOT NULL DEFAULT 0);",
        down_sql: "DROP TABLE invoices;",
    });
    p.write(&Rev {
        id: "b2",
        down: &["b1"],
        header: &["depends_on: [a2]"],
        up: "CREATE TABLE payments (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL, post_id INTEGER NOT NULL);",
        down_sql: "DROP TABLE payments;",
    });
}

/// Later work on top of [`history`]: m1 merges the two heads, a4 follows.
fn later_revisions(p: &Project) {
    p.write(&Rev {
        id: "m1",
        down: &["a3", "b2"],
        header: &[],
        up: "-- a merge only joins the branches",
        down_sql: "-- nothing to undo",
    });
    p.write(&Rev {
        id: "a4",
        down: &["m1"],
        header: &[],
        up: "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);",
        down_sql: "DROP TABLE tags;",
    });
}

const ALL_FIRST: [&str; 5] = ["a1", "a2", "a3", "b1", "b2"];

/// The tables of the five first revisions plus the tracking table.
fn first_tables() -> Vec<String> {
    ids(&[
        "invoices",
        "payments",
        "posts",
        "schema_migrations",
        "users",
    ])
}

/// The `revision` fields of a JSON report's `applied` array.
fn applied_in_report(report: &serde_json::Value) -> Vec<String> {
    report["applied"]
        .as_array()
        .expect("applied is an array")
        .iter()
        .map(|s| s["revision"].as_str().expect("revision").to_owned())
        .collect()
}

async fn clean_database_to_head(p: Project) {
    history(&p);
    later_revisions(&p);
    let report = p.json(&["upgrade", "head"]);
    // Parents before children, dependencies before dependents.
    let order = applied_in_report(&report);
    assert_eq!(order.len(), 7, "{report}");
    let pos = |id: &str| order.iter().position(|r| r == id).unwrap();
    for (before, after) in [
        ("a1", "a2"),
        ("a2", "a3"),
        ("a1", "b1"),
        ("b1", "b2"),
        ("a2", "b2"),
        ("a3", "m1"),
        ("b2", "m1"),
        ("m1", "a4"),
    ] {
        assert!(
            pos(before) < pos(after),
            "{before} after {after}: {order:?}"
        );
    }
    assert_eq!(
        p.applied().await,
        ids(&["a1", "a2", "a3", "a4", "b1", "b2", "m1"])
    );
    let mut tables = first_tables();
    tables.push("tags".into());
    tables.sort();
    assert_eq!(p.tables().await, tables);
    let status = p.migrator().status().await.expect("status");
    assert_eq!(status.current, ids(&["a4"]));
    assert!(status.pending.is_empty() && status.drifted.is_empty());
    assert_eq!(str_array(&p.json(&["current"])), ids(&["a4"]));
    // Every row records a checksum and no in-progress flag.
    for row in p.rows().await {
        assert_eq!(row.checksum.len(), 64, "{row:?}");
        assert!(!row.in_progress, "{row:?}");
    }
}

async fn existing_database_gets_only_new_revisions(p: Project) {
    history(&p);
    p.ok(&["upgrade", "heads"]);
    let before = p.rows().await;
    assert_eq!(before.len(), 5);
    later_revisions(&p);
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["pending"]), ids(&["m1", "a4"]));
    let report = p.json(&["upgrade", "head"]);
    assert_eq!(applied_in_report(&report), ids(&["m1", "a4"]));
    // The rows of the revisions applied earlier are exactly as they were.
    let after = p.rows().await;
    for old in &before {
        assert!(after.contains(old), "{old:?} changed or vanished");
    }
    assert_eq!(after.len(), 7);
    assert!(p.tables().await.contains(&"tags".to_owned()));
}

async fn second_upgrade_is_a_no_op(p: Project) {
    history(&p);
    later_revisions(&p);
    p.ok(&["upgrade", "head"]);
    let rows = p.rows().await;
    let catalog = p.catalog().await;
    let run = p.run(&["upgrade", "head"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    let report = p.json(&["upgrade", "head"]);
    assert_eq!(applied_in_report(&report), Vec::<String>::new());
    assert_eq!(p.rows().await, rows, "a no-op upgrade rewrote rows");
    assert_eq!(p.catalog().await, catalog);
}

async fn downgrade_base_then_upgrade_head_gives_the_same_schema(p: Project) {
    history(&p);
    later_revisions(&p);
    p.ok(&["upgrade", "head"]);
    let at_head = p.catalog().await;
    assert!(
        at_head.iter().any(|l| l.starts_with("posts.published_at")),
        "{at_head:?}"
    );
    let report = p.json(&["downgrade", "base"]);
    let reverted = applied_in_report(&report);
    assert_eq!(reverted.len(), 7);
    assert_eq!(reverted.first().map(String::as_str), Some("a4"));
    assert_eq!(reverted.last().map(String::as_str), Some("a1"));
    // Only the (empty) tracking table is left.
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
    assert!(p.rows().await.is_empty());
    assert_eq!(str_array(&p.json(&["current"])), Vec::<String>::new());
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.catalog().await, at_head);
}

async fn failing_revision_is_rolled_back_or_reported_in_progress(p: Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE users;",
    });
    // A side branch that is applied and must stay recorded through the
    // recovery of the failure on the other branch.
    p.write(&Rev {
        id: "b1",
        down: &["a1"],
        header: &["branch_labels: [billing]"],
        up: "CREATE TABLE invoices (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE invoices;",
    });
    p.ok(&["upgrade", "heads"]);
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE half (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        down_sql: "DROP TABLE half;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "migration_failed", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("`a2`"), "{message}");
    assert!(message.contains("statement 2"), "{message}");
    assert!(message.contains("no_such_table"), "{message}");

    let fixed = "CREATE TABLE half (id INTEGER PRIMARY KEY);";
    if p.kind() == BackendKind::MySql {
        // DDL commits implicitly: the table stays, and the row says the
        // revision is in progress.
        assert!(message.contains("not transactional"), "{message}");
        assert!(p.tables().await.contains(&"half".to_owned()));
        let status = p.json(&["status"]);
        assert_eq!(str_array(&status["in_progress"]), ids(&["a2"]), "{status}");
        // The next run refuses and says how to recover.
        let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
        assert_eq!(run.json_error()["kind"], "in_progress");
        let hints = run.hints();
        // The schema has none of a2's changes once `half` is gone: follow the
        // hint for that case, exactly as printed.
        p.exec("DROP TABLE half").await;
        let undo = hints
            .iter()
            .find(|h| h.starts_with("if none is"))
            .unwrap_or_else(|| panic!("no recovery hint for undone changes: {hints:?}"));
        let command = undo.split('`').nth(1).expect("a command in backticks");
        let args: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(args[..2], ["rev", "stamp"], "{command}");
        p.ok(&args[1..]);
        // The recovery touches only the failed revision's record.
        assert_eq!(p.applied().await, ids(&["a1", "b1"]));
    } else {
        assert!(message.contains("rolled back"), "{message}");
        // The table created before the failing statement was rolled back.
        assert!(!p.tables().await.contains(&"half".to_owned()));
        assert_eq!(p.applied().await, ids(&["a1", "b1"]));
    }
    p.edit("a2", "\nINSERT INTO no_such_table VALUES (1);", "");
    assert!(std::fs::read_to_string(p.path("versions/a2_rev.sql"))
        .unwrap()
        .contains(fixed));
    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2", "b1"]));
    assert!(p.tables().await.contains(&"half".to_owned()));
    let status = p.migrator().status().await.expect("status");
    assert!(status.in_progress.is_empty(), "{status:?}");
}

async fn stamp_and_stamp_purge(p: Project) {
    history(&p);
    let report = p.json(&["stamp", "a2"]);
    assert_eq!(str_array(&report["added"]), ids(&["a1", "a2"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    // Stamping runs no SQL: only the tracking table exists.
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
    assert!(p.rows().await.iter().all(|r| r.execution_time_ms == 0));

    p.ok(&["stamp", "heads"]);
    assert_eq!(p.applied().await, ids(&ALL_FIRST));
    // Stamping a revision below an applied one removes what lies above it on
    // that line only.
    let report = p.json(&["stamp", "b1"]);
    assert_eq!(str_array(&report["removed"]), ids(&["b2"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "b1"]));

    // A row no file defines (a revision file deleted after it was applied)
    // blocks everything until `stamp --purge` records the real state.
    p.write(&Rev {
        id: "c1",
        down: &["a3"],
        header: &[],
        up: "SELECT 1;",
        down_sql: "SELECT 1;",
    });
    p.ok(&["stamp", "c1"]);
    p.remove("c1");
    let run = p.exits(1, &["-f", "json", "status"]);
    assert_eq!(run.json_error()["kind"], "unknown_applied_revision");
    assert!(
        run.hints().iter().any(|h| h.contains("rev stamp --purge")),
        "{:?}",
        run.hints()
    );
    let run = p.exits(1, &["stamp", "a3"]);
    assert!(run.stderr.contains("`c1`"), "{}", run.stderr);

    let report = p.json(&["stamp", "--purge", "a2"]);
    assert!(str_array(&report["removed"]).contains(&"c1".to_owned()));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    p.ok(&["stamp", "base"]);
    assert!(p.rows().await.is_empty());
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
}

async fn branches_move_one_at_a_time(p: Project) {
    history(&p);
    p.ok(&["upgrade", "billing@b1"]);
    assert_eq!(p.applied().await, ids(&["a1", "b1"]));
    assert_eq!(
        p.tables().await,
        ids(&["invoices", "schema_migrations", "users"])
    );
    // b2 depends on a2, so the billing head brings a2 but not a3.
    p.ok(&["upgrade", "billing@head"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2", "b1", "b2"]));
    let status = p.migrator().status().await.expect("status");
    assert_eq!(status.pending, ids(&["a3"]));

    p.ok(&["downgrade", "billing@-1"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2", "b1"]));
    assert!(!p.tables().await.contains(&"payments".to_owned()));
    // The branch point reverts billing alone (`billing@base` would revert
    // the root a1 it shares with the main line, and so everything).
    p.ok(&["downgrade", "billing@a1"]);
    // The main line is untouched by the billing downgrades.
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    assert_eq!(
        p.tables().await,
        ids(&["posts", "schema_migrations", "users"])
    );

    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.applied().await, ids(&ALL_FIRST));
    // Down to a1 reverts what lies above it on both branches.
    p.ok(&["downgrade", "a1"]);
    assert_eq!(p.applied().await, ids(&["a1"]));
    assert_eq!(p.tables().await, ids(&["schema_migrations", "users"]));
    p.ok(&["upgrade", "heads"]);
    p.ok(&["downgrade", "billing@base"]);
    assert!(p.applied().await.is_empty());
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
}

async fn dry_run_and_sql_change_nothing(p: Project) {
    history(&p);
    let steps = p.json(&["upgrade", "heads", "--dry-run"]);
    let steps = steps.as_array().expect("dry run gives an array");
    let mut planned = Vec::new();
    for s in steps {
        let keys: Vec<&String> = s.as_object().expect("step object").keys().collect();
        assert_eq!(keys, ["direction", "revision"], "{s}");
        assert_eq!(s["direction"], "upgrade");
        planned.push(s["revision"].as_str().unwrap().to_owned());
    }
    let status = p.migrator().status().await.expect("status");
    assert_eq!(planned, status.pending);
    assert_eq!(planned.len(), 5);
    let text = p.ok(&["upgrade", "heads", "--dry-run"]).stdout;
    assert!(text.lines().any(|l| l.contains("b2")), "{text}");
    // Not even the tracking table was created.
    assert_eq!(p.tables().await, Vec::<String>::new());

    let script = p.ok(&["upgrade", "heads", "--sql"]).stdout;
    let table = match p.kind() {
        BackendKind::MySql => "`schema_migrations`",
        _ => "\"schema_migrations\"",
    };
    assert!(
        script.contains(&format!("CREATE TABLE IF NOT EXISTS {table}")),
        "{script}"
    );
    for id in ALL_FIRST {
        let insert = format!("INSERT INTO {table}");
        assert!(
            script
                .lines()
                .any(|l| l.starts_with(&insert) && l.contains(&format!("'{id}'"))),
            "no tracking insert for {id}:\n{script}"
        );
    }
    assert!(script.contains("CREATE TABLE payments"), "{script}");
    // One transaction per revision where DDL is transactional; MySQL gets
    // in-progress bookkeeping instead.
    let begins = script.lines().filter(|l| *l == "BEGIN;").count();
    if p.kind() == BackendKind::MySql {
        assert_eq!(begins, 0, "{script}");
        assert!(script.contains("SET in_progress = 0"), "{script}");
    } else {
        assert_eq!(begins, 5, "{script}");
        assert_eq!(script.lines().filter(|l| *l == "COMMIT;").count(), 5);
    }
    assert_eq!(p.tables().await, Vec::<String>::new());

    // The same holds going down from a real state.
    p.ok(&["upgrade", "heads"]);
    let rows = p.rows().await;
    let catalog = p.catalog().await;
    let steps = p.json(&["downgrade", "base", "--dry-run"]);
    let down: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["direction"], "downgrade");
            s["revision"].as_str().unwrap()
        })
        .collect();
    assert_eq!(down.len(), 5);
    assert_eq!(down.last(), Some(&"a1"));
    // Without --from, the starting point is read from the database.
    let script = p.ok(&["downgrade", "base", "--sql"]).stdout;
    for id in ALL_FIRST {
        assert!(
            script.contains(&format!("DELETE FROM {table} WHERE version = '{id}'")),
            "{script}"
        );
    }
    assert!(script.contains("DROP TABLE users;"), "{script}");
    assert_eq!(p.rows().await, rows);
    assert_eq!(p.catalog().await, catalog);
}

async fn drift_is_found_refused_and_accepted(p: Project) {
    history(&p);
    p.ok(&["upgrade", "heads"]);
    // Line endings are not drift.
    let a1 = p.path("versions/a1_rev.sql");
    let text = std::fs::read_to_string(&a1).unwrap();
    std::fs::write(&a1, text.replace('\n', "\r\n")).unwrap();
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["drifted"]), Vec::<String>::new());

    p.edit("a2", "title VARCHAR(100)", "title VARCHAR(200)");
    later_revisions(&p);
    let status = p.json(&["status"]);
    let keys: Vec<&String> = status.as_object().unwrap().keys().collect();
    for key in ["current", "applied", "pending", "drifted"] {
        assert!(keys.contains(&&key.to_owned()), "{status}");
    }
    assert_eq!(str_array(&status["drifted"]), ids(&["a2"]));
    assert_eq!(str_array(&status["pending"]), ids(&["m1", "a4"]));
    assert_eq!(str_array(&status["current"]), ids(&["a3", "b2"]));
    assert_eq!(str_array(&status["applied"]).len(), 5);

    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "drift");
    assert!(err["message"].as_str().unwrap().contains("`a2`"), "{err}");
    assert!(
        run.hints().iter().any(|h| h.contains("`rev accept a2`")),
        "{:?}",
        run.hints()
    );
    let text = p.exits(1, &["upgrade", "head"]);
    assert!(text.stderr.contains("rev accept a2"), "{}", text.stderr);
    // Nothing ran.
    assert_eq!(p.applied().await, ids(&ALL_FIRST));
    let old_sum = p
        .rows()
        .await
        .into_iter()
        .find(|r| r.version == "a2")
        .unwrap()
        .checksum;

    assert_eq!(str_array(&p.json(&["accept", "a2"])), ids(&["a2"]));
    let new_sum = p
        .rows()
        .await
        .into_iter()
        .find(|r| r.version == "a2")
        .unwrap()
        .checksum;
    assert_ne!(old_sum, new_sum);
    let file_sum = p.migrator().graph().revisions()[..]
        .iter()
        .find(|r| r.id == "a2")
        .unwrap()
        .checksum
        .clone();
    assert_eq!(new_sum, file_sum);
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["drifted"]), Vec::<String>::new());
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await.len(), 7);
}

async fn foreign_version_table_is_refused_untouched(p: Project) {
    history(&p);
    p.exec(
        "CREATE TABLE schema_migrations (id INTEGER, name VARCHAR(20)); \
         INSERT INTO schema_migrations VALUES (1, 'keep'), (2, 'these')",
    )
    .await;
    let before = p.catalog().await;
    for args in [
        &["-f", "json", "upgrade", "heads"][..],
        &["-f", "json", "current"],
        &["-f", "json", "status"],
        &["-f", "json", "stamp", "heads"],
    ] {
        let run = p.exits(1, args);
        let err = run.json_error();
        assert_eq!(err["kind"], "foreign_version_table", "{args:?}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("schema_migrations") && message.contains("version_table"),
            "{message}"
        );
    }
    assert_eq!(p.catalog().await, before, "the foreign table was altered");
    assert_eq!(
        p.strings("SELECT name FROM schema_migrations").await,
        ids(&["keep", "these"])
    );
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));

    // The way out the message names: another table name.
    p.set_config("version_table: rev_versions");
    p.ok(&["upgrade", "heads"]);
    assert!(p.tables().await.contains(&"rev_versions".to_owned()));
    assert_eq!(
        p.strings("SELECT name FROM schema_migrations").await,
        ids(&["keep", "these"])
    );
}

async fn current_check_heads_exit_codes(p: Project) {
    history(&p);
    // A database rev never touched: not at the heads, and reading created nothing.
    let run = p.exits(1, &["-f", "json", "current", "--check-heads"]);
    assert_eq!(run.stdout.trim(), "[]");
    assert_eq!(p.tables().await, Vec::<String>::new());
    p.ok(&["upgrade", "billing@head"]);
    let run = p.exits(1, &["current", "--check-heads"]);
    assert!(run.stderr.contains("a3"), "{}", run.stderr);
    p.ok(&["upgrade", "heads"]);
    p.ok(&["current", "--check-heads"]);
    let mut current = str_array(&p.json(&["current"]));
    current.sort();
    assert_eq!(current, ids(&["a3", "b2"]));
    // A new revision makes the database stale again.
    later_revisions(&p);
    p.exits(1, &["current", "--check-heads"]);
}

async fn whole_run_transaction_rolls_back_on_failure(p: Project) {
    p.set_config("transaction_per_migration: false");
    history(&p);
    p.write(&Rev {
        id: "a4",
        down: &["a3"],
        header: &[],
        up: "CREATE TABLE bad (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        down_sql: "DROP TABLE bad;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    assert_eq!(run.json_error()["kind"], "migration_failed");
    if p.kind() == BackendKind::MySql {
        // MySQL cannot roll DDL back: the revisions before the failure stay
        // applied (the plan runs the main line first), the failing one is
        // left in progress, and the billing branch never ran.
        let status = p.migrator().status().await.expect("status");
        assert_eq!(status.in_progress, ids(&["a4"]));
        assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "a4"]));
        assert!(p.tables().await.contains(&"bad".to_owned()));
    } else {
        assert_eq!(p.tables().await, ids(&["schema_migrations"]));
        assert!(p.rows().await.is_empty());
        // Without the bad revision the whole run commits together.
        p.remove("a4");
        let report = p.json(&["upgrade", "heads"]);
        assert_eq!(applied_in_report(&report).len(), 5);
        assert_eq!(p.applied().await, ids(&ALL_FIRST));
        assert_eq!(p.tables().await, first_tables());
    }
}

async fn non_transactional_revision_runs(p: Project) {
    history(&p);
    // CREATE INDEX CONCURRENTLY refuses to run in a transaction on PostgreSQL;
    // the other databases get a plain index with the same flag.
    let (up, down) = match p.kind() {
        BackendKind::Postgres => (
            "CREATE INDEX CONCURRENTLY posts_title ON posts (title);",
            "DROP INDEX CONCURRENTLY posts_title;",
        ),
        BackendKind::MySql => (
            "CREATE INDEX posts_title ON posts (title);",
            "DROP INDEX posts_title ON posts;",
        ),
        BackendKind::Sqlite => (
            "CREATE INDEX posts_title ON posts (title);",
            "DROP INDEX posts_title;",
        ),
    };
    p.write(&Rev {
        id: "a4",
        down: &["a3"],
        header: &["transactional: false"],
        up,
        down_sql: down,
    });
    let has_index = |catalog: &[String]| catalog.iter().any(|l| l.contains("posts_title"));
    // The offline script treats it as a live run does: outside any
    // transaction, flagged in progress until its SQL has run.
    let script = p.ok(&["upgrade", "heads", "--sql"]).stdout;
    let section = &script[script.find("-- upgrade a4").expect("a4 in the script")..];
    let section = section.split("\n\n").next().unwrap();
    assert!(!section.contains("BEGIN;"), "{section}");
    let flagged = section.find("'a4'").expect("a4's tracking row");
    let ddl = section.find("posts_title").unwrap();
    let done = section
        .find("SET in_progress = 0 WHERE version = 'a4'")
        .unwrap_or_else(|| panic!("a4 is never marked done:\n{section}"));
    assert!(flagged < ddl && ddl < done, "{section}");
    p.ok(&["upgrade", "heads"]);
    assert!(has_index(&p.catalog().await));
    let rows = p.rows().await;
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| !r.in_progress), "{rows:?}");
    p.ok(&["downgrade", "a3"]);
    assert!(!has_index(&p.catalog().await));
    assert_eq!(p.applied().await, ids(&ALL_FIRST));

    // In a whole-run transaction the step runs between two transactions.
    p.ok(&["downgrade", "base"]);
    p.set_config("transaction_per_migration: false");
    p.ok(&["upgrade", "heads"]);
    assert!(has_index(&p.catalog().await));
    assert_eq!(p.applied().await.len(), 6);
}

async fn library_api_upgrades_downgrades_and_reports(p: Project) {
    history(&p);
    let m = p.migrator();
    let status = m.status().await.expect("status");
    assert!(status.applied.is_empty() && status.current.is_empty());
    assert_eq!(status.pending.len(), 5);

    let report = m
        .upgrade(&"billing@head".parse().unwrap())
        .await
        .expect("upgrade");
    let done: Vec<&str> = report.applied.iter().map(|s| s.revision.as_str()).collect();
    assert_eq!(done.len(), 4);
    // a2 came in as b2's dependency: with a3 pending, only b2 names it, so
    // it is not a current head (as Alembic's version table drops it).
    assert_eq!(m.current().await.expect("current"), ids(&["b2"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "b1", "b2"]));

    // `history` lists every revision, or a range read against the
    // database's current heads.
    let listed = |revs: Vec<&rev::revision::Revision>| {
        let mut ids: Vec<String> = revs.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(m.history(None).await.expect("history").len(), 5);
    let below = rev::history::Range::parse(":current").unwrap();
    assert_eq!(
        listed(m.history(Some(&below)).await.expect("history :current")),
        // Down the parents: a2, which b2 depends on, is on another line.
        ids(&["a1", "b1", "b2"])
    );
    let above = rev::history::Range::parse("current:").unwrap();
    assert_eq!(
        listed(m.history(Some(&above)).await.expect("history current:")),
        ids(&["b2"])
    );
    let reversed = rev::history::Range::parse("b2:a1").unwrap();
    assert_eq!(
        m.history(Some(&reversed)).await.unwrap_err().kind(),
        "invalid_range"
    );

    // `head` is ambiguous with two heads: a typed error naming both.
    let err = m.upgrade(&"head".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), "multiple_heads");
    let message = err.to_string();
    assert!(
        message.contains("a3") && message.contains("b2"),
        "{message}"
    );

    m.upgrade(&"heads".parse().unwrap()).await.expect("heads");
    let status = m.status().await.expect("status");
    assert!(status.pending.is_empty());
    assert_eq!(status.applied.len(), 5);

    let report = m
        .downgrade(&"base".parse().unwrap())
        .await
        .expect("downgrade");
    assert_eq!(report.applied.len(), 5);
    assert!(report
        .applied
        .iter()
        .all(|s| s.direction == rev::step::Direction::Downgrade));
    assert!(m.current().await.expect("current").is_empty());
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
    // Nothing applied: no checksum to accept, and a kind of its own.
    let err = m.accept(&["a1".parse().unwrap()]).await.unwrap_err();
    assert_eq!(err.kind(), "accept_not_applied");

    // A failure is typed and carries what ran before it.
    p.write(&Rev {
        id: "a4",
        down: &["a3"],
        header: &[],
        up: "INSERT INTO no_such_table VALUES (1);",
        down_sql: "SELECT 1;",
    });
    let m = p.migrator();
    let err = m.upgrade(&"a4".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), "migration_failed");
    let report = rev::migrator::failed_report(&err).expect("a failed run has a report");
    assert_eq!(report.applied.len(), 3);
    assert_eq!(report.not_run, ids(&["a4"]));
}

/// The tracking rows, the schema and the users' e-mails: what a refused run
/// must leave exactly as it was.
async fn snapshot(p: &Project) -> (Vec<rev::backend::AppliedRow>, Vec<String>, Vec<String>) {
    (
        p.rows().await,
        p.catalog().await,
        p.strings("SELECT email FROM users").await,
    )
}

async fn mistyped_marker_runs_nothing(p: Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);",
        down_sql: "DROP TABLE users;",
    });
    p.ok(&["upgrade", "head"]);
    p.exec("INSERT INTO users (id, email) VALUES (1, 'ann@example.com'), (2, 'bob@example.com')")
        .await;
    // A table rebuild: copy the users into a new shape. Read as one section
    // with its downgrade, it would create the copy, drop it, and record the
    // revision as applied.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE users_v2 (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, active INTEGER NOT NULL DEFAULT 1);\n\
             INSERT INTO users_v2 (id, email) SELECT id, email FROM users;",
        down_sql: "DROP TABLE users_v2;",
    });
    let before = snapshot(&p).await;
    for typo in [
        "-- +Downgrade",
        "  -- +downgrade",
        "--+downgrade",
        "-- downgrade:",
    ] {
        p.edit("a2", "\n-- +downgrade\n", &format!("\n{typo}\n"));
        let out = p.exits(1, &["check"]);
        assert!(
            out.stdout
                .contains(&format!("versions/a2_rev.sql:9: `{}`", typo.trim())),
            "{typo:?}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("write `-- +downgrade` exactly"),
            "{}",
            out.stdout
        );
        let run = p.exits(2, &["-f", "json", "upgrade", "head"]);
        let err = run.json_error();
        assert_eq!(err["kind"], "parse", "{err}");
        assert!(
            err["message"].as_str().unwrap().contains("a2_rev.sql:9"),
            "{err}"
        );
        assert_eq!(snapshot(&p).await, before, "{typo:?} changed the database");
        p.edit("a2", &format!("\n{typo}\n"), "\n-- +downgrade\n");
    }
    assert!(!p.tables().await.contains(&"users_v2".to_owned()));

    // Fixed, it runs as written, and its downgrade is a downgrade again.
    p.ok(&["check"]);
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    assert_eq!(
        p.strings("SELECT email FROM users_v2").await,
        ids(&["ann@example.com", "bob@example.com"])
    );
    p.ok(&["downgrade", "-1"]);
    assert_eq!(p.applied().await, ids(&["a1"]));
    assert!(!p.tables().await.contains(&"users_v2".to_owned()));
    assert_eq!(snapshot(&p).await.2, before.2);
}

async fn untouched_scaffold_is_refused_before_anything(p: Project) {
    // A fresh database and a scaffold as `rev new` writes it.
    p.ok(&["new", "-m", "create users", "--rev-id", "s1"]);
    let run = p.exits(1, &["-f", "json", "check"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "empty_upgrade", "{report}");
    for args in [
        &["-f", "json", "upgrade", "head"][..],
        &["-f", "json", "upgrade", "head", "--dry-run"],
        &["-f", "json", "upgrade", "head", "--sql"],
    ] {
        let err = p.exits(2, args).json_error();
        assert_eq!(err["kind"], "empty_upgrade", "{args:?}: {err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("s1_create_users.sql:6"),
            "{err}"
        );
    }
    // The library refuses it the same way.
    let m = p.migrator();
    let problems: Vec<_> = m.check().iter().map(|p| p.kind()).collect();
    assert_eq!(problems, ["empty_upgrade"]);
    let e = m.upgrade(&"head".parse().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), "empty_upgrade");
    // Not even the tracking table (or, on SQLite, the file) was created.
    if let Some(path) = p.db().url.sqlite_path() {
        assert!(!path.exists(), "the refusal created the database file");
    }
    assert_eq!(p.tables().await, Vec::<String>::new());

    // Filled in, it runs.
    let s1 = p.path("versions/s1_create_users.sql");
    let fill = |path: &std::path::Path, sql: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        std::fs::write(
            path,
            text.replacen("-- +upgrade\n", &format!("-- +upgrade\n{sql}\n"), 1),
        )
        .unwrap();
    };
    fill(
        &s1,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n\
         INSERT INTO users (id, email) VALUES (1, 'ann@example.com');",
    );
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["s1"]));

    // A second scaffold above real data: refused, and nothing moves.
    p.ok(&["new", "-m", "add nickname", "--rev-id", "s2"]);
    let before = snapshot(&p).await;
    let err = p.exits(2, &["-f", "json", "upgrade", "heads"]).json_error();
    assert_eq!(err["kind"], "empty_upgrade", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("revision `s2`"),
        "{err}"
    );
    assert_eq!(snapshot(&p).await, before);

    // Empty on purpose: a comment line is enough, and nothing runs but the
    // record.
    fill(
        &p.path("versions/s2_add_nickname.sql"),
        "-- intentionally empty",
    );
    p.ok(&["check"]);
    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.applied().await, ids(&["s1", "s2"]));
    let after = snapshot(&p).await;
    assert_eq!((&after.1, &after.2), (&before.1, &before.2));

    // A scaffold recorded without running (stamped, or applied by an older
    // rev) is not in any plan, so it blocks nothing above it.
    p.ok(&["new", "-m", "placeholder", "--rev-id", "s3"]);
    p.ok(&["stamp", "s3"]);
    p.write(&Rev {
        id: "s4",
        down: &["s3"],
        header: &[],
        up: "ALTER TABLE users ADD COLUMN nickname VARCHAR(50) NULL;",
        down_sql: "ALTER TABLE users DROP COLUMN nickname;",
    });
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["s1", "s2", "s3", "s4"]));
    assert!(
        p.catalog()
            .await
            .iter()
            .any(|l| l.starts_with("users.nickname")),
        "{:?}",
        p.catalog().await
    );
}

async fn empty_downgrade_section_is_refused_as_empty(p: Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);",
        down_sql: "",
    });
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);",
        down_sql: "DROP TABLE posts;",
    });
    p.ok(&["upgrade", "head"]);
    p.exec("INSERT INTO users (id, email) VALUES (1, 'ann@example.com')")
        .await;
    let before = snapshot(&p).await;
    let run = p.exits(2, &["-f", "json", "downgrade", "base"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "irreversible", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("revision `a1`: its `-- +downgrade` section (")
            && message.contains("a1_rev.sql:8) is empty"),
        "{message}"
    );
    assert!(
        run.hints()
            .iter()
            .any(|h| h.contains("under its `-- +downgrade` line")),
        "{:?}",
        run.hints()
    );
    // Refused before anything ran: a2 is still applied too.
    assert_eq!(snapshot(&p).await, before);
    // Without the marker at all, the message says so instead.
    p.edit("a1", "\n-- +downgrade\n", "\n");
    let err = p
        .exits(2, &["-f", "json", "downgrade", "base"])
        .json_error();
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("has no `-- +downgrade` section"),
        "{message}"
    );
    assert_eq!(snapshot(&p).await, before);
    // Above it, downgrades work.
    p.ok(&["downgrade", "a1"]);
    assert_eq!(p.applied().await, ids(&["a1"]));
    assert!(!p.tables().await.contains(&"posts".to_owned()));
}

/// A history a user would write: tables, a trigger whose body has several
/// statements (PostgreSQL: a plpgsql function with a `$$` body), and a data
/// fix that fires the trigger.
fn trigger_history(p: &Project) {
    p.write(&Rev {
        id: "t1",
        down: &[],
        header: &[],
        up: "CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, \
             active INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE audit (note VARCHAR(100) NOT NULL);",
        down_sql: "DROP TABLE audit;\nDROP TABLE account;",
    });
    let (up, down_sql) = match p.kind() {
        BackendKind::Sqlite => (
            "CREATE TRIGGER account_added AFTER INSERT ON account\n\
             BEGIN\n\
             \x20 UPDATE account SET name = upper(NEW.name) WHERE id = NEW.id;\n\
             \x20 INSERT INTO audit (note) VALUES ('added ' || NEW.id || '; checked');\n\
             END;",
            "DROP TRIGGER account_added;",
        ),
        BackendKind::Postgres => (
            "CREATE FUNCTION account_added() RETURNS trigger AS $$\n\
             BEGIN\n\
             \x20 NEW.name := upper(NEW.name);\n\
             \x20 INSERT INTO audit (note) VALUES ('added ' || NEW.id || '; checked');\n\
             \x20 RETURN NEW;\n\
             END\n\
             $$ LANGUAGE plpgsql;\n\
             CREATE TRIGGER account_added BEFORE INSERT ON account\n\
             \x20 FOR EACH ROW EXECUTE FUNCTION account_added();",
            "DROP TRIGGER account_added ON account;\nDROP FUNCTION account_added();",
        ),
        BackendKind::MySql => (
            "-- normalise names and keep an audit trail\n\
             CREATE TRIGGER account_added BEFORE INSERT ON account FOR EACH ROW\n\
             BEGIN\n\
             \x20 SET NEW.name = UPPER(NEW.name);\n\
             \x20 IF NEW.verified = 1 THEN\n\
             \x20   INSERT INTO audit (note) VALUES (CONCAT('added ', NEW.id, '; checked'));\n\
             \x20 ELSE\n\
             \x20   INSERT INTO audit (note) VALUES (CONCAT('added ', NEW.id, '; unchecked'));\n\
             \x20 END IF;\n\
             END;",
            "DROP TRIGGER account_added;",
        ),
    };
    p.write(&Rev {
        id: "t2",
        down: &["t1"],
        header: &[],
        up,
        down_sql,
    });
    // On MySQL `||` is a logical OR unless the session's sql_mode says
    // otherwise: a direct run must read it as the mysql client does.
    let or = match p.kind() {
        BackendKind::MySql => "UPDATE account SET active = active || verified;",
        _ => "UPDATE account SET active = 1 WHERE active = 1 OR verified = 1;",
    };
    p.write(&Rev {
        id: "t3",
        down: &["t2"],
        header: &[],
        up: &format!(
            "INSERT INTO account (id, name, active, verified) VALUES (1, 'ada', 0, 1);\n\
             INSERT INTO account (id, name, active, verified) VALUES (2, 'bob', 1, 0);\n\
             INSERT INTO account (id, name, active, verified) VALUES (3, 'cy', 0, 0);\n{or}"
        ),
        down_sql: "DELETE FROM account;\nDELETE FROM audit;",
    });
}

/// What a run leaves: the schema (tables, columns, indexes, triggers,
/// routines), the rows of the user's tables, and the tracking rows without
/// their times.
async fn state(p: &Project) -> (Vec<String>, Vec<String>, Vec<String>) {
    let accounts = match p.kind() {
        BackendKind::MySql => {
            "SELECT CAST(CONCAT(id, ':', name, ':', active) AS CHAR) FROM account"
        }
        _ => "SELECT id || ':' || name || ':' || active FROM account",
    };
    let mut data = Vec::new();
    if p.tables().await.contains(&"account".to_owned()) {
        data.extend(p.strings(accounts).await);
        data.extend(p.strings("SELECT note FROM audit").await);
        data.sort();
    }
    let rows = p
        .rows()
        .await
        .into_iter()
        .map(|r| {
            format!(
                "{} checksum={} down={} in_progress={}",
                r.version,
                r.checksum,
                r.down_revisions.join(","),
                r.in_progress
            )
        })
        .collect();
    (p.catalog().await, data, rows)
}

async fn sql_script_through_the_client_matches_a_direct_run(p: Project) {
    trigger_history(&p);
    let direct = p.twin().await;
    let script = p.ok(&["upgrade", "head", "--sql"]).stdout;
    let Some(run) = p.client(&script) else {
        return;
    };
    assert_eq!(
        run.code, 0,
        "the client failed on the script:\n{script}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    direct.ok(&["upgrade", "head"]);

    let client_state = state(&p).await;
    assert_eq!(client_state, state(&direct).await);
    let (catalog, data, rows) = client_state;
    // The state is the one the revisions describe, not merely the same twice.
    assert!(
        catalog.iter().any(|l| l.contains("account_added")),
        "{catalog:?}"
    );
    let checked = if p.kind() == BackendKind::MySql {
        [
            "added 1; checked",
            "added 2; unchecked",
            "added 3; unchecked",
        ]
    } else {
        ["added 1; checked", "added 2; checked", "added 3; checked"]
    };
    let mut expected = ids(&["1:ADA:1", "2:BOB:1", "3:CY:0"]);
    expected.extend(ids(&checked));
    expected.sort();
    assert_eq!(data, expected);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.ends_with("in_progress=false")),
        "{rows:?}"
    );

    // rev reads the client-made tracking table as its own.
    assert_eq!(str_array(&p.json(&["current"])), ids(&["t3"]));
    let status = p.json(&["status"]);
    assert_eq!(
        str_array(&status["drifted"]),
        Vec::<String>::new(),
        "{status}"
    );
    assert_eq!(
        str_array(&status["pending"]),
        Vec::<String>::new(),
        "{status}"
    );
    assert!(applied_in_report(&p.json(&["upgrade", "head"])).is_empty());

    // Going down through the client matches going down directly too.
    let script = p.ok(&["downgrade", "t1", "--sql"]).stdout;
    let run = p.client(&script).expect("the client ran before");
    assert_eq!(run.code, 0, "{script}\n{}", run.stderr);
    direct.ok(&["downgrade", "t1"]);
    assert_eq!(state(&p).await, state(&direct).await);
    assert_eq!(p.applied().await, ids(&["t1"]));
}

async fn sql_script_stops_in_the_client_where_a_direct_run_fails(p: Project) {
    p.write(&Rev {
        id: "f1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n\
             INSERT INTO users (id, email) VALUES (1, 'a@example.com');",
        down_sql: "DROP TABLE users;",
    });
    // On MySQL the change before the failure goes through a stored
    // procedure, whose body the error's statement count must step over.
    let (change, failing) = match p.kind() {
        BackendKind::MySql => (
            "CREATE PROCEDURE touch_users()\n\
             BEGIN\n\
             \x20 UPDATE users SET email = 'changed' WHERE id = 1;\n\
             \x20 INSERT INTO half (id) VALUES (1);\n\
             END;\n\
             CALL touch_users();",
            "statement 4",
        ),
        _ => (
            "UPDATE users SET email = 'changed' WHERE id = 1;",
            "statement 3",
        ),
    };
    p.write(&Rev {
        id: "f2",
        down: &["f1"],
        header: &[],
        up: &format!(
            "CREATE TABLE half (id INTEGER PRIMARY KEY);\n{change}\n\
             INSERT INTO no_such_table VALUES (1);"
        ),
        down_sql: "DROP TABLE half;",
    });
    p.write(&Rev {
        id: "f3",
        down: &["f2"],
        header: &[],
        up: "CREATE TABLE after_failure (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE after_failure;",
    });
    let direct = p.twin().await;
    let script = p.ok(&["upgrade", "head", "--sql"]).stdout;
    let Some(run) = p.client(&script) else {
        return;
    };
    assert_ne!(
        run.code, 0,
        "the client went past the failure:\n{}",
        run.stdout
    );
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("no_such_table"),
        "{}",
        run.stderr
    );
    let err = direct
        .exits(1, &["-f", "json", "upgrade", "head"])
        .json_error();
    let message = err["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("{failing} `INSERT INTO no_such_table")),
        "{message}"
    );

    let state_of_client = state(&p).await;
    assert_eq!(state_of_client, state(&direct).await);
    // Nothing after the failure ran or was recorded.
    let tables = p.tables().await;
    assert!(!tables.contains(&"after_failure".to_owned()), "{tables:?}");
    let status = p.json(&["status"]);
    if p.kind() == BackendKind::MySql {
        // No transactional DDL: the failed revision is left flagged in
        // progress (which is not applied), with what ran before the failure,
        // exactly as rev leaves it.
        assert_eq!(str_array(&status["applied"]), ids(&["f1"]), "{status}");
        assert_eq!(str_array(&status["in_progress"]), ids(&["f2"]), "{status}");
        assert!(tables.contains(&"half".to_owned()), "{tables:?}");
        assert_eq!(
            p.strings("SELECT email FROM users").await,
            ids(&["changed"])
        );
    } else {
        // The failed revision's transaction was rolled back whole.
        assert_eq!(p.applied().await, ids(&["f1"]));
        assert_eq!(str_array(&p.json(&["current"])), ids(&["f1"]));
        assert!(!tables.contains(&"half".to_owned()), "{tables:?}");
        assert_eq!(
            p.strings("SELECT email FROM users").await,
            ids(&["a@example.com"])
        );
        // Once fixed, rev carries on from the client-made state.
        for project in [&p, &direct] {
            project.edit("f2", "\nINSERT INTO no_such_table VALUES (1);", "");
            project.ok(&["upgrade", "head"]);
        }
        assert_eq!(p.applied().await, ids(&["f1", "f2", "f3"]));
        assert_eq!(state(&p).await, state(&direct).await);
    }
}
// After the kit, whose `on_every_backend!` they use.
#[path = "db_suite/branches.rs"]
mod branches;
#[path = "db_suite/squash.rs"]
mod squash;
#[path = "db_suite/state.rs"]
mod state;

/// Statements in the large revisions of
/// [`large_revision_runs_whole_and_a_late_failure_names_its_statement`].
/// They are data statements only, so they run in one transaction on every
/// backend and MySQL does not pay an fsync per INSERT.
fn large_revision_statements(_kind: BackendKind) -> usize {
    20_000
}

/// One customer row's note: quotes, a `;` and comment markers inside a
/// string, so a statement splitter that mistakes them would show.
fn customer_note(i: usize) -> String {
    format!("It's customer {i}; see /* not a comment */ -- nor this")
}

async fn large_revision_runs_whole_and_a_late_failure_names_its_statement(p: Project) {
    let n = large_revision_statements(p.kind());
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, \
             note VARCHAR(200) NOT NULL, balance_cents BIGINT NOT NULL);\n\
             CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
             total_cents BIGINT NOT NULL);",
        down_sql: "DROP TABLE orders;\nDROP TABLE customers;",
    });
    let mut load = String::new();
    let (mut balance_sum, mut note_chars) = (0i64, 0i64);
    for i in 1..=n {
        let balance = (i as i64 * 7919) % 1_000_003 - 500_000;
        let note = customer_note(i);
        balance_sum += balance;
        note_chars += note.len() as i64;
        if i % 1000 == 0 {
            load.push_str(&format!("-- customers from {i}\n"));
        }
        load.push_str(&format!(
            "INSERT INTO customers (id, name, note, balance_cents) VALUES ({i}, 'Customer {i}', '{}', {balance});\n",
            note.replace('\'', "''")
        ));
    }
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: &load,
        down_sql: "DELETE FROM customers;",
    });
    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    let int = if p.kind() == BackendKind::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    };
    let db = p.db();
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM customers").await,
        n as i64
    );
    assert_eq!(
        db.query_i64(&format!(
            "SELECT CAST(SUM(balance_cents) AS {int}) FROM customers"
        ))
        .await,
        balance_sum
    );
    assert_eq!(
        db.query_i64(&format!(
            "SELECT CAST(SUM(LENGTH(note)) AS {int}) FROM customers"
        ))
        .await,
        note_chars
    );
    let last = n - 1;
    assert_eq!(
        p.strings(&format!("SELECT note FROM customers WHERE id = {last}"))
            .await,
        vec![customer_note(last)]
    );

    // The same size again, failing near its end on a duplicate key.
    let bad = n - 3;
    let mut orders = String::new();
    for i in 1..=n {
        let id = if i == bad { 1 } else { i };
        orders.push_str(&format!(
            "INSERT INTO orders (id, customer_id, total_cents) VALUES ({id}, {}, {});\n",
            i % 97 + 1,
            i * 3
        ));
    }
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: &orders,
        down_sql: "DELETE FROM orders;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "migration_failed", "{err}");
    let message = err["message"].as_str().unwrap();
    let named = format!(
        "statement {bad} `INSERT INTO orders (id, customer_id, total_cents) VALUES (1, {}, {})`",
        bad % 97 + 1,
        bad * 3
    );
    assert!(message.contains(&named), "{message}");
    // A data-only revision runs in one transaction on every backend (on
    // MySQL/MariaDB too), so nothing of it is left.
    assert!(message.contains("rolled back"), "{message}");
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    assert!(p
        .migrator()
        .status()
        .await
        .expect("status")
        .in_progress
        .is_empty());
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM customers").await,
        n as i64
    );
}

/// `rev -v` prints a line per statement as it finishes, with its time, on
/// every backend (each runs a revision's SQL its own way), and runs the SQL
/// exactly as without `-v`.
async fn verbose_run_names_each_statement_with_its_time(p: Project) {
    p.write(&Rev {
        id: "v1",
        down: &[],
        header: &[],
        up: "CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);\n\
             INSERT INTO ledger (id, amount) VALUES (1, 10);\n\
             UPDATE ledger SET amount = amount * 3 WHERE id = 1;",
        down_sql: "DROP TABLE ledger;",
    });
    let run = p.run(&["-v", "upgrade", "head"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("statement "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    for (n, start) in [
        (1, "CREATE TABLE ledger"),
        (2, "INSERT INTO ledger"),
        (3, "UPDATE ledger"),
    ] {
        let line = lines[n - 1].trim_start();
        assert!(line.starts_with(&format!("statement {n} (")), "{line}");
        assert!(line.contains(" ms)  ") && line.contains(start), "{line}");
    }
    assert_eq!(
        p.db()
            .query_i64("SELECT COUNT(*) FROM ledger WHERE id = 1 AND amount = 30")
            .await,
        1
    );
    assert_eq!(p.applied().await, ids(&["v1"]));
    // Without -v: no statement lines.
    p.ok(&["downgrade", "base"]);
    let quiet = p.run(&["upgrade", "head"]);
    assert!(!quiet.stderr.contains("statement 1"), "{}", quiet.stderr);
}
