//! Honest state after a failure, on every backend: a revision in progress
//! is never reported as applied, a failed run says what it did on stdout,
//! and a history rebased under an applied database is recognised and
//! settled by the commands the hints print.

use rev::url::BackendKind;
use serde_json::Value;

use crate::kit::{ids, str_array, Project, Rev, Run};

on_every_backend!(
    in_progress_revision_is_never_applied,
    failed_run_prints_partial_report_as_json,
    rebased_history_is_recognised_and_settled,
    inserted_revision_failing_part_way_has_working_hints,
    revision_dropping_the_tracking_table_is_not_recorded,
);

/// The command in the first hint that starts with `prefix` (inside
/// backticks), split into the arguments after `rev`.
fn hinted(run: &Run, prefix: &str) -> Vec<String> {
    let hints = run.hints();
    let command = hints
        .iter()
        .find_map(|h| {
            let start = h.find(&format!("`{prefix}"))? + 1;
            let end = start + h[start..].find('`')?;
            Some(h[start..end].to_owned())
        })
        .unwrap_or_else(|| panic!("no hint with `{prefix}`: {hints:?}"));
    let mut args: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    if args.first().map(String::as_str) == Some("rev") {
        args.remove(0);
    }
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `users` with two rows of data (a1), `invoices` on a labelled branch (b1).
fn base_history(p: &Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n\
             INSERT INTO users (id, email) VALUES (1, 'Ann@Example.org'), (2, 'BOB@example.org');",
        down_sql: "DROP TABLE users;",
    });
    p.write(&Rev {
        id: "b1",
        down: &["a1"],
        header: &["branch_labels: [billing]"],
        up: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);",
        down_sql: "DROP TABLE invoices;",
    });
}

async fn in_progress_revision_is_never_applied(p: Project) {
    base_history(&p);
    p.ok(&["upgrade", "heads"]);
    // Not transactional (the way to an in-progress row on PostgreSQL and
    // SQLite; on MariaDB every revision is): a table and a data fix land,
    // then the third statement fails.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &["transactional: false"],
        up: "CREATE TABLE half (id INTEGER PRIMARY KEY);\n\
             UPDATE users SET email = LOWER(email);\n\
             INSERT INTO no_such_table VALUES (1);",
        down_sql: "DROP TABLE half;",
    });
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "CREATE TABLE after_half (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE after_half;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    assert_eq!(run.json_error()["kind"], "migration_failed");

    // The database: a2's first statements stayed, its row says in progress.
    let rows = p.rows().await;
    let flagged: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r.version.as_str(), r.in_progress))
        .collect();
    assert_eq!(flagged, [("a1", false), ("b1", false), ("a2", true)]);
    assert!(p.tables().await.contains(&"half".to_owned()));
    assert!(!p.tables().await.contains(&"after_half".to_owned()));
    assert_eq!(
        p.strings("SELECT email FROM users").await,
        ids(&["ann@example.org", "bob@example.org"])
    );

    // current: a2 is not applied, so the heads are below it.
    assert_eq!(str_array(&p.json(&["current"])), ids(&["b1"]));
    let text = p.ok(&["current"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("a2 (in progress, failed part-way")),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("a2 (head)")), "{text}");
    let run = p.exits(1, &["current", "--check-heads"]);
    assert!(run.stderr.contains("part-way through a2"), "{}", run.stderr);
    let run = p.exits(1, &["-f", "json", "current", "--check-heads"]);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap(),
        serde_json::json!(["b1"])
    );

    // status: each revision once.
    let status = p.json(&["status"]);
    assert_eq!(
        str_array(&status["applied"]),
        ids(&["a1", "b1"]),
        "{status}"
    );
    assert_eq!(str_array(&status["in_progress"]), ids(&["a2"]), "{status}");
    assert_eq!(str_array(&status["pending"]), ids(&["a3"]), "{status}");
    assert_eq!(str_array(&status["current"]), ids(&["b1"]), "{status}");
    let text = p.ok(&["status"]).stdout;
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("a2 "))
            .count(),
        1,
        "{text}"
    );

    // A dry run refuses exactly as the real run, and neither changes anything.
    let catalog = p.catalog().await;
    for args in [
        ["downgrade", "base"],
        ["downgrade", "a1"],
        ["upgrade", "heads"],
        ["upgrade", "a3"],
    ] {
        for json in [false, true] {
            let mut real: Vec<&str> = if json { vec!["-f", "json"] } else { vec![] };
            real.extend(args);
            let mut dry = real.clone();
            dry.push("--dry-run");
            let dry_run = p.exits(1, &dry);
            let real_run = p.exits(1, &real);
            assert_eq!(dry_run.stderr, real_run.stderr, "{args:?}");
            assert!(dry_run.stdout.is_empty(), "{}", dry_run.stdout);
            if json {
                assert_eq!(real_run.json_error()["kind"], "in_progress");
            }
            assert_eq!(p.rows().await, rows, "{args:?} changed the rows");
        }
    }
    assert_eq!(p.catalog().await, catalog);

    // Everything a2 meant to do is there once its bad line is gone: the
    // hint for that case, run as printed, records it, and the rest follows.
    p.edit("a2", "\nINSERT INTO no_such_table VALUES (1);", "");
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    let done = hinted(&run, "rev stamp a2");
    p.ok(&strs(&done));
    p.ok(&["upgrade", "heads"]);
    p.ok(&["current", "--check-heads"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "b1"]));
    assert!(p.rows().await.iter().all(|r| !r.in_progress));
    assert!(p.tables().await.contains(&"after_half".to_owned()));
}

/// The `revision` fields of a JSON report's `applied` array.
fn revisions(report: &Value) -> Vec<String> {
    report["applied"]
        .as_array()
        .unwrap_or_else(|| panic!("no applied array: {report}"))
        .iter()
        .map(|s| s["revision"].as_str().expect("revision").to_owned())
        .collect()
}

/// The JSON report a failed run printed on stdout.
fn stdout_report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON report on stdout ({e}):\n{}", run.stdout))
}

async fn failed_run_prints_partial_report_as_json(p: Project) {
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
        up: "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);",
        down_sql: "DROP TABLE posts;",
    });
    // Its downgrade names a table that does not exist.
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "CREATE TABLE tags (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE no_such_table;",
    });
    let ok = p.json(&["upgrade", "heads"]);
    assert_eq!(ok["failed"], Value::Null, "{ok}");
    assert_eq!(revisions(&ok), ids(&["a1", "a2", "a3"]));

    // A failed downgrade.
    let run = p.exits(1, &["-f", "json", "downgrade", "base"]);
    assert_eq!(run.json_error()["kind"], "migration_failed");
    let report = stdout_report(&run);
    assert_eq!(revisions(&report), Vec::<String>::new(), "{report}");
    assert_eq!(report["failed"]["revision"], "a3", "{report}");
    assert_eq!(report["failed"]["direction"], "downgrade", "{report}");
    assert_eq!(report["failed"]["error"]["kind"], "migration_failed");
    assert!(report["failed"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no_such_table"));
    assert_eq!(
        str_array(&report["not_run"]),
        ids(&["a2", "a1"]),
        "{report}"
    );
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3"]));
    assert!(p.tables().await.contains(&"tags".to_owned()));
    if p.kind() == BackendKind::MySql {
        // The downgrade flagged a3's row; nothing of it ran, so it is done.
        assert!(p
            .rows()
            .await
            .iter()
            .any(|r| r.version == "a3" && r.in_progress));
        p.ok(&["stamp", "a3"]);
    }
    p.edit("a3", "DROP TABLE no_such_table;", "DROP TABLE tags;");
    p.ok(&["downgrade", "base"]);
    assert!(p.rows().await.is_empty());

    // A failed upgrade: a1 applied, a2 failed, a3 not run.
    p.edit(
        "a2",
        "user_id INTEGER NOT NULL);",
        "user_id INTEGER NOT NULL);\nINSERT INTO no_such_table VALUES (1);",
    );
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "migration_failed");
    let report = stdout_report(&run);
    assert_eq!(revisions(&report), ids(&["a1"]), "{report}");
    assert_eq!(report["applied"][0]["direction"], "upgrade");
    assert_eq!(report["failed"]["revision"], "a2", "{report}");
    assert_eq!(report["failed"]["direction"], "upgrade", "{report}");
    assert_eq!(report["failed"]["error"]["kind"], "migration_failed");
    assert_eq!(str_array(&report["not_run"]), ids(&["a3"]), "{report}");
    assert_eq!(report["interrupted"], false);
    let rows = p.rows().await;
    if p.kind() == BackendKind::MySql {
        let flagged: Vec<(&str, bool)> = rows
            .iter()
            .map(|r| (r.version.as_str(), r.in_progress))
            .collect();
        assert_eq!(flagged, [("a1", false), ("a2", true)]);
        // posts was created before the failing statement and stays.
        assert!(p.tables().await.contains(&"posts".to_owned()));
    } else {
        assert_eq!(p.applied().await, ids(&["a1"]));
        assert!(!p.tables().await.contains(&"posts".to_owned()));
    }
    // The text run names the rest once, apart from the failed revision.
    if p.kind() != BackendKind::MySql {
        let run = p.exits(1, &["upgrade", "heads"]);
        assert!(run.stderr.contains("not run: a3\n"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}

/// `a1 ── a2 ── a3`, applied; then a rebase puts `x` between a1 and a2.
fn rebased_history(p: &Project) {
    base_history(p);
    p.remove("b1");
    let a2 = |down: &'static [&'static str]| {
        Rev {
        id: "a2",
        down,
        header: &[],
        up: "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(100) NOT NULL);",
        down_sql: "DROP TABLE posts;",
    }
    };
    p.write(&a2(&["a1"]));
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "ALTER TABLE posts ADD COLUMN published_at VARCHAR(32) NULL;",
        down_sql: "ALTER TABLE posts DROP COLUMN published_at;",
    });
    p.ok(&["upgrade", "heads"]);
    p.write(&Rev {
        id: "x",
        down: &["a1"],
        header: &[],
        up: "ALTER TABLE users ADD COLUMN email_lower VARCHAR(100) NULL;\n\
             UPDATE users SET email_lower = LOWER(email);",
        down_sql: "ALTER TABLE users DROP COLUMN email_lower;",
    });
    // The same SQL (so no drift), a new parent.
    p.write(&a2(&["x"]));
}

fn parents_of(rows: &[rev::backend::AppliedRow], id: &str) -> Vec<String> {
    rows.iter()
        .find(|r| r.version == id)
        .unwrap_or_else(|| panic!("no row for {id}: {rows:?}"))
        .down_revisions
        .clone()
}

async fn rebased_history_is_recognised_and_settled(p: Project) {
    rebased_history(&p);
    let rows = p.rows().await;
    let catalog = p.catalog().await;
    assert_eq!(parents_of(&rows, "a2"), ids(&["a1"]));

    // Said for what it is, by every command that reads the state.
    let run = p.exits(1, &["-f", "json", "status"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "rebased_history", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("rebased"), "{message}");
    assert!(
        message.contains("`a2` was applied on top of `a1`, and its file now names `x`"),
        "{message}"
    );
    assert!(!message.contains("by hand"), "{message}");
    p.exits(1, &["current", "--check-heads"]);
    // Nothing runs the inserted revision without naming it, and a dry run
    // says the same as the real run.
    for args in [["upgrade", "heads"], ["downgrade", "a1"]] {
        let mut real = vec!["-f", "json"];
        real.extend(args);
        let mut dry = real.clone();
        dry.push("--dry-run");
        let dry_run = p.exits(1, &dry);
        let real_run = p.exits(1, &real);
        assert_eq!(real_run.json_error()["kind"], "rebased_history");
        assert_eq!(dry_run.stderr, real_run.stderr);
    }
    assert_eq!(p.rows().await, rows);
    assert_eq!(p.catalog().await, catalog);

    // The way out, exactly as printed: applies x alone.
    let upgrade = hinted(&run, "rev upgrade");
    assert_eq!(upgrade, ["upgrade", "x"]);
    let plan = p.json(&["upgrade", "x", "--dry-run"]);
    assert_eq!(
        plan,
        serde_json::json!([{"revision": "x", "direction": "upgrade"}])
    );
    let done = p.run(&strs(&upgrade));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stderr.contains("out of order"), "{}", done.stderr);
    let rows = p.rows().await;
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "x"]));
    // a2 now records the parent its file names; x ran after a2 and a3.
    assert_eq!(parents_of(&rows, "a2"), ids(&["x"]));
    assert_eq!(parents_of(&rows, "x"), ids(&["a1"]));
    assert_eq!(
        p.strings("SELECT email_lower FROM users").await,
        ids(&["ann@example.org", "bob@example.org"])
    );
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["current"]), ids(&["a3"]), "{status}");
    assert!(str_array(&status["pending"]).is_empty(), "{status}");
    p.ok(&["current", "--check-heads"]);
    let settled = p.catalog().await;
    // The history now runs both ways, in order.
    p.ok(&["downgrade", "base"]);
    assert!(p.rows().await.is_empty());
    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.catalog().await, settled);

    // Another rebase: y between x and a2, whose SQL a person already ran
    // by hand. The stamp the hint prints records it and keeps every row.
    p.write(&Rev {
        id: "y",
        down: &["x"],
        header: &[],
        up: "CREATE INDEX users_email_lower ON users (email_lower);",
        down_sql: match p.kind() {
            BackendKind::MySql => "DROP INDEX users_email_lower ON users;",
            _ => "DROP INDEX users_email_lower;",
        },
    });
    p.edit("a2", "-- down_revision: x", "-- down_revision: y");
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    assert_eq!(run.json_error()["kind"], "rebased_history");
    p.exec("CREATE INDEX users_email_lower ON users (email_lower)")
        .await;
    let stamp = hinted(&run, "rev stamp");
    assert_eq!(stamp, ["stamp", "a3"]);
    // Its dry run agrees and changes nothing.
    let rows = p.rows().await;
    let mut dry = strs(&stamp);
    dry.insert(1, "--dry-run");
    assert_eq!(p.ok(&dry).stdout.trim(), "would record: a3");
    assert_eq!(p.rows().await, rows);
    p.ok(&strs(&stamp));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "x", "y"]));
    assert_eq!(parents_of(&p.rows().await, "a2"), ids(&["y"]));
    p.ok(&["current", "--check-heads"]);

    // A row deleted by hand is not a rebase: the recorded parents match.
    p.exec("DELETE FROM schema_migrations WHERE version = 'y'")
        .await;
    let run = p.exits(1, &["-f", "json", "status"]);
    assert_eq!(run.json_error()["kind"], "applied_without_parent");
    let stamp = hinted(&run, "rev stamp");
    assert_eq!(stamp, ["stamp", "a3"]);
    p.ok(&strs(&stamp));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "x", "y"]));
    p.ok(&["current", "--check-heads"]);
}

async fn inserted_revision_failing_part_way_has_working_hints(p: Project) {
    rebased_history(&p);
    p.edit(
        "x",
        "UPDATE users SET email_lower = LOWER(email);",
        "UPDATE users SET email_lower = LOWER(email);\nINSERT INTO no_such_table VALUES (1);",
    );
    p.edit("x", "-- message:", "-- transactional: false\n-- message:");
    let run = p.exits(1, &["-f", "json", "upgrade", "x"]);
    assert_eq!(run.json_error()["kind"], "migration_failed");
    let rows = p.rows().await;
    assert!(
        rows.iter().any(|r| r.version == "x" && r.in_progress),
        "{rows:?}"
    );
    assert!(p
        .catalog()
        .await
        .iter()
        .any(|l| l.starts_with("users.email_lower")));
    // Neither applied nor pending, and the database is not at its head.
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["in_progress"]), ids(&["x"]), "{status}");
    assert_eq!(str_array(&status["applied"]), ids(&["a1", "a2", "a3"]));
    p.exits(1, &["current", "--check-heads"]);

    // None of x is to stay: the hint's statement removes its row (a stamp
    // could not without dropping a2 and a3), and the fixed file runs.
    let run = p.exits(1, &["-f", "json", "upgrade", "x"]);
    assert_eq!(run.json_error()["kind"], "in_progress");
    let hints = run.hints();
    // The stamp for the other case keeps every row: a3 is the top.
    assert!(
        hints.iter().any(|h| h.contains("`rev stamp a3`")),
        "{hints:?}"
    );
    let delete = hints
        .iter()
        .find_map(|h| {
            let start = h.find("`DELETE FROM")? + 1;
            let end = start + h[start..].find('`')?;
            Some(h[start..end].to_owned())
        })
        .unwrap_or_else(|| panic!("no DELETE hint: {hints:?}"));
    p.exec("ALTER TABLE users DROP COLUMN email_lower").await;
    p.exec(&delete).await;
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3"]));
    p.edit("x", "\nINSERT INTO no_such_table VALUES (1);", "");
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    assert_eq!(run.json_error()["kind"], "rebased_history");
    let mut upgrade = vec!["-f", "json"];
    let hint = hinted(&run, "rev upgrade");
    upgrade.extend(strs(&hint));
    let report = serde_json::from_str::<Value>(&p.ok(&upgrade).stdout).unwrap();
    assert_eq!(revisions(&report), ids(&["x"]), "{report}");
    assert_eq!(str_array(&report["out_of_order"]), ids(&["x"]), "{report}");
    assert_eq!(report["failed"], Value::Null, "{report}");
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "x"]));
    assert!(p.rows().await.iter().all(|r| !r.in_progress));
    assert_eq!(parents_of(&p.rows().await, "a2"), ids(&["x"]));
    assert_eq!(
        p.strings("SELECT email_lower FROM users").await,
        ids(&["ann@example.org", "bob@example.org"])
    );
    p.ok(&["current", "--check-heads"]);

    // The other case: z, inserted below x, stops after its first statement,
    // and that statement is all z had to do. The stamp the hint prints
    // records z as done and x records its new parent.
    p.write(&Rev {
        id: "z",
        down: &["a1"],
        header: &["transactional: false"],
        up: "CREATE TABLE audit (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        down_sql: "DROP TABLE audit;",
    });
    p.edit("x", "-- down_revision: a1", "-- down_revision: z");
    p.exits(1, &["upgrade", "z"]);
    assert!(p.tables().await.contains(&"audit".to_owned()));
    p.edit("z", "\nINSERT INTO no_such_table VALUES (1);", "");
    let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
    assert_eq!(run.json_error()["kind"], "in_progress");
    let done = hinted(&run, "rev stamp");
    assert_eq!(done, ["stamp", "a3"]);
    p.ok(&strs(&done));
    let rows = p.rows().await;
    assert!(rows.iter().all(|r| !r.in_progress), "{rows:?}");
    assert_eq!(parents_of(&rows, "x"), ids(&["z"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3", "x", "z"]));
    p.ok(&["current", "--check-heads"]);
}

/// A revision that drops rev's own table (a careless `DROP TABLE` of every
/// table, a restore script) cannot be recorded: where DDL is transactional
/// the whole revision rolls back with the error, in either transaction mode,
/// and what ran before it stays applied and recorded.
async fn revision_dropping_the_tracking_table_is_not_recorded(p: Project) {
    if p.kind() == BackendKind::MySql {
        // DROP TABLE commits at once there: nothing can take it back, and
        // the in-progress row it would clear is gone with the table.
        return;
    }
    base_history(&p);
    p.write(&Rev {
        id: "c1",
        down: &["b1"],
        header: &[],
        up: "INSERT INTO users (id, email) VALUES (3, 'carol@example.org');\n\
             DROP TABLE schema_migrations;\n\
             CREATE TABLE audit (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE audit;",
    });
    for one_transaction in [false, true] {
        let mode = if one_transaction { "false" } else { "true" };
        p.set_config(&format!("transaction_per_migration: {mode}\n"));
        p.ok(&["upgrade", "b1"]);
        let run = p.exits(1, &["-f", "json", "upgrade", "heads"]);
        let error = run.json_error();
        assert_eq!(error["kind"], "database", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("recording an applied revision"),
            "{message}"
        );
        assert_eq!(stdout_report(&run)["failed"]["revision"], "c1");
        // Nothing of c1 is left: its row, its table, its data.
        assert!(!p.tables().await.contains(&"audit".to_owned()));
        assert_eq!(p.query_i64("SELECT COUNT(*) FROM users").await, 2);
        assert_eq!(p.applied().await, ids(&["a1", "b1"]));

        p.ok(&["downgrade", "base"]);
        assert_eq!(p.applied().await, Vec::<String>::new());
        p.exits(1, &["upgrade", "heads"]);
        let tables = p.tables().await;
        if one_transaction {
            // One transaction for the run: a1 and b1 went with c1.
            assert_eq!(p.applied().await, Vec::<String>::new());
            assert!(!tables.contains(&"users".to_owned()), "{tables:?}");
        } else {
            assert_eq!(p.applied().await, ids(&["a1", "b1"]));
            assert!(tables.contains(&"invoices".to_owned()), "{tables:?}");
            p.ok(&["downgrade", "base"]);
        }
    }
}
