//! The `rev` binary against real SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Each scenario is one `async fn(Project)`; `suite!` runs it on all three
//! backends (`sqlite::…`, `postgres::…`, `mysql::…`), each on a fresh
//! database. Scenarios drive the real binary in a temp project and check the
//! database through the library's read-only calls or the catalog, never
//! through the CLI alone. Where the databases differ by design (MySQL has no
//! transactional DDL) the scenario asserts each behaviour per kind.
//!
//! Server URLs: `REV_TEST_POSTGRES_URL`, `REV_TEST_MYSQL_URL` (defaults: the
//! local test servers); an unreachable server skips with a notice, unless
//! `CI=true`.

// The helpers are shared with tests/it, which uses some this binary does not.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;
#[path = "db_suite/project.rs"]
mod project;

use project::{ids, str_array, Project, Rev};
use rev::url::BackendKind;

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

suite!(
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
    large_revision_runs_whole_and_a_late_failure_names_its_statement,
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
    let run = p.rev(&["upgrade", "head"]);
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
    let run = p.fails(1, &["-f", "json", "upgrade", "heads"]);
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
        let run = p.fails(1, &["-f", "json", "upgrade", "heads"]);
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
    let run = p.fails(1, &["-f", "json", "status"]);
    assert_eq!(run.json_error()["kind"], "unknown_applied_revision");
    assert!(
        run.hints().iter().any(|h| h.contains("rev stamp --purge")),
        "{:?}",
        run.hints()
    );
    let run = p.fails(1, &["stamp", "a3"]);
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
    p.ok(&["downgrade", "billing@base"]);
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
    let text = p.ok(&["upgrade", "heads", "--dry-run"]);
    assert!(text.lines().any(|l| l.contains("b2")), "{text}");
    // Not even the tracking table was created.
    assert_eq!(p.tables().await, Vec::<String>::new());

    let script = p.ok(&["upgrade", "heads", "--sql"]);
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
    let script = p.ok(&["downgrade", "base", "--sql"]);
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

    let run = p.fails(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "drift");
    assert!(err["message"].as_str().unwrap().contains("`a2`"), "{err}");
    assert!(
        run.hints().iter().any(|h| h.contains("`rev accept a2`")),
        "{:?}",
        run.hints()
    );
    let text = p.fails(1, &["upgrade", "head"]);
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
        let run = p.fails(1, args);
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
    let run = p.fails(1, &["-f", "json", "current", "--check-heads"]);
    assert_eq!(run.stdout.trim(), "[]");
    assert_eq!(p.tables().await, Vec::<String>::new());
    p.ok(&["upgrade", "billing@head"]);
    let run = p.fails(1, &["current", "--check-heads"]);
    assert!(run.stderr.contains("a3"), "{}", run.stderr);
    p.ok(&["upgrade", "heads"]);
    p.ok(&["current", "--check-heads"]);
    let mut current = str_array(&p.json(&["current"]));
    current.sort();
    assert_eq!(current, ids(&["a3", "b2"]));
    // A new revision makes the database stale again.
    later_revisions(&p);
    p.fails(1, &["current", "--check-heads"]);
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
    let run = p.fails(1, &["-f", "json", "upgrade", "heads"]);
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
    let script = p.ok(&["upgrade", "heads", "--sql"]);
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
    let done: Vec<&str> = report.applied.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(done.len(), 4);
    // a2 came in as b2's dependency; with a3 pending it is a head of the
    // main line.
    assert_eq!(m.current().await.expect("current"), ids(&["a2", "b2"]));

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
        .all(|(_, d, _)| *d == rev::step::Direction::Downgrade));
    assert!(m.current().await.expect("current").is_empty());
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));

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

/// Statements in the large revisions of
/// [`large_revision_runs_whole_and_a_late_failure_names_its_statement`].
/// On MySQL every INSERT commits on its own (an fsync of InnoDB's log, a few
/// ms on the test server), so it gets fewer.
fn large_revision_statements(kind: BackendKind) -> usize {
    match kind {
        BackendKind::MySql => 5_000,
        _ => 20_000,
    }
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
    let db = &p.db;
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
    let run = p.fails(1, &["-f", "json", "upgrade", "heads"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "migration_failed", "{err}");
    let message = err["message"].as_str().unwrap();
    let named = format!(
        "statement {bad} `INSERT INTO orders (id, customer_id, total_cents) VALUES (1, {}, {})`",
        bad % 97 + 1,
        bad * 3
    );
    assert!(message.contains(&named), "{message}");
    let orders_left = db.query_i64("SELECT COUNT(*) FROM orders").await;
    if p.kind() == BackendKind::MySql {
        // Each INSERT committed: those before the failing one stay.
        assert_eq!(orders_left, bad as i64 - 1);
        let status = p.migrator().status().await.expect("status");
        assert_eq!(status.in_progress, ids(&["a3"]));
    } else {
        assert!(message.contains("rolled back"), "{message}");
        assert_eq!(orders_left, 0);
        assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    }
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM customers").await,
        n as i64
    );
}
