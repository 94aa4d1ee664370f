//! Foreign keys and `rev check --db`.
//!
//! SQLite: rev migrates with foreign-key enforcement off (so SQLite's own
//! table-rebuild recipe cannot cascade into the rows that reference the
//! rebuilt table) and runs `PRAGMA foreign_key_check` before each commit (so
//! a revision that leaves a dangling reference is rolled back). These are
//! SQLite-only scenarios; `check_db_names_what_needs_repair` runs on all
//! three backends.

use rev::url::BackendKind;
use serde_json::Value;

use crate::kit::{ids, Project, Rev};

/// a1: `parent` (2 rows) and `child` (3 rows, `ON DELETE CASCADE`).
fn parent_and_child(p: &Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
             CREATE TABLE child (id INTEGER PRIMARY KEY, \
               parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE, note TEXT);\n\
             INSERT INTO parent (id, name) VALUES (1, 'one'), (2, 'two');\n\
             INSERT INTO child (id, parent_id, note) VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c');",
        down_sql: "DROP TABLE child;\nDROP TABLE parent;",
    });
}

/// SQLite's documented way to change a table's definition (steps 4 to 7 of
/// its twelve): new table, copy, drop the old one, rename.
const REBUILD_PARENT: &str =
    "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
       code TEXT NOT NULL DEFAULT '');\n\
     INSERT INTO new_parent (id, name) SELECT id, name FROM parent;\n\
     DROP TABLE parent;\n\
     ALTER TABLE new_parent RENAME TO parent;";

/// The same recipe back to the old definition.
const UNBUILD_PARENT: &str =
    "CREATE TABLE old_parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
     INSERT INTO old_parent (id, name) SELECT id, name FROM parent;\n\
     DROP TABLE parent;\n\
     ALTER TABLE old_parent RENAME TO parent;";

async fn count(p: &Project, table: &str) -> i64 {
    p.db()
        .query_i64(&format!("SELECT COUNT(*) FROM {table}"))
        .await
}

/// `id:parent_id` of every child row, sorted.
async fn child_rows(p: &Project) -> Vec<String> {
    p.strings("SELECT id || ':' || parent_id FROM child").await
}

async fn parent_columns(p: &Project) -> Vec<String> {
    p.strings("SELECT name FROM pragma_table_info('parent')")
        .await
}

fn message(err: &Value) -> &str {
    err["message"].as_str().expect("message is a string")
}

#[tokio::test]
async fn sqlite_table_rebuild_keeps_the_rows_that_reference_it() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    p.ok(&["upgrade", "head"]);
    assert_eq!(count(&p, "child").await, 3);
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: REBUILD_PARENT,
        down_sql: UNBUILD_PARENT,
    });
    p.ok(&["upgrade", "head"]);
    // Before the fix, DROP TABLE parent cascaded and left 0 rows here.
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    assert_eq!(parent_columns(&p).await, ids(&["code", "id", "name"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    // The downgrade rebuilds the other way, with the same care.
    p.ok(&["downgrade", "a1"]);
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    assert_eq!(parent_columns(&p).await, ids(&["id", "name"]));
    assert_eq!(p.applied().await, ids(&["a1"]));
    // In whole-run mode too.
    p.set_config("transaction_per_migration: false");
    p.ok(&["upgrade", "head"]);
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    // The foreign key survived the rebuild: an application connection
    // (sqlx turns enforcement on) still cascades through it.
    p.exec("PRAGMA foreign_keys = ON; DELETE FROM parent WHERE id = 1")
        .await;
    assert_eq!(child_rows(&p).await, ids(&["3:2"]));
    p.ok(&["check", "--db"]);
}

#[tokio::test]
async fn sqlite_revision_that_leaves_dangling_rows_is_rolled_back() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    p.ok(&["upgrade", "head"]);
    // A data fix that relies on ON DELETE CASCADE, which does not fire
    // while rev migrates.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);\n\
             INSERT INTO audit (what) VALUES ('removed parent 1');\n\
             UPDATE parent SET name = 'changed';\n\
             DELETE FROM parent WHERE id = 1;",
        down_sql: "DROP TABLE audit;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "foreign_key_violation", "{err}");
    let text = message(&err);
    for part in [
        "upgrade of revision `a2`",
        "2 rows of `child` (rowid 1 first)",
        "no row of `parent`",
        "child(parent_id) REFERENCES parent(id)",
        "rolled back",
    ] {
        assert!(text.contains(part), "{part:?} not in: {text}");
    }
    assert!(
        run.hints().iter().any(|h| h.contains("ON DELETE CASCADE")),
        "{:?}",
        run.hints()
    );
    // None of a2's changes are there, and it is not recorded.
    assert_eq!(
        p.tables().await,
        ids(&["child", "parent", "schema_migrations"])
    );
    assert_eq!(
        p.strings("SELECT name FROM parent").await,
        ids(&["one", "two"])
    );
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    assert_eq!(p.applied().await, ids(&["a1"]));

    // Deleting the children too is what the revision meant.
    p.edit(
        "a2",
        "DELETE FROM parent WHERE id = 1;",
        "DELETE FROM child WHERE parent_id = 1;\nDELETE FROM parent WHERE id = 1;",
    );
    p.ok(&["upgrade", "head"]);
    assert_eq!(child_rows(&p).await, ids(&["3:2"]));
    assert_eq!(
        p.strings("SELECT name FROM parent").await,
        ids(&["changed"])
    );
    assert_eq!(count(&p, "audit").await, 1);
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
}

#[tokio::test]
async fn sqlite_rows_that_dangled_before_do_not_fail_a_revision() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    p.ok(&["upgrade", "head"]);
    // An application that ran with enforcement off left an orphan.
    p.exec(
        "PRAGMA foreign_keys = OFF; \
         INSERT INTO child (id, parent_id, note) VALUES (7, 99, 'orphan')",
    )
    .await;
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "CREATE INDEX child_note ON child (note);",
        down_sql: "DROP INDEX child_note;",
    });
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    // A revision that adds one more is still caught, and the row named is
    // the new one, not the old orphan.
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "INSERT INTO child (id, parent_id, note) VALUES (8, 98, 'new orphan');",
        down_sql: "DELETE FROM child WHERE id = 8;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "foreign_key_violation", "{err}");
    assert!(
        message(&err).contains("leaves 1 row of `child` (rowid 8)"),
        "{err}"
    );
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2", "7:99"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
    // `rev check --db` is where the old orphan shows.
    let run = p.exits(1, &["-f", "json", "check", "--db"]);
    let out: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let findings = out["database"]["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{out}");
    assert_eq!(findings[0]["kind"], "foreign_key");
    assert_eq!(findings[0]["table"], "child");
    assert!(
        message(&findings[0]).contains("(rowid 7) points to no row of `parent`"),
        "{out}"
    );
    // The library gives the same, typed.
    let check = p.migrator().check_database().await.expect("check");
    assert_eq!(check.findings.len(), 1);
    assert_eq!(
        check.findings[0].kind,
        rev::backend::FindingKind::ForeignKey
    );
    assert_eq!(check.findings[0].table.as_deref(), Some("child"));
}

#[tokio::test]
async fn sqlite_whole_run_with_a_dangling_reference_rolls_back_every_revision() {
    let p = Project::sqlite().await;
    p.set_config("transaction_per_migration: false");
    parent_and_child(&p);
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: REBUILD_PARENT,
        down_sql: UNBUILD_PARENT,
    });
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "CREATE TABLE audit (id INTEGER PRIMARY KEY);\nDELETE FROM parent WHERE id = 2;",
        down_sql: "DROP TABLE audit;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "foreign_key_violation", "{err}");
    let text = message(&err);
    assert!(text.contains("revision `a3`"), "{text}");
    assert!(text.contains("1 row of `child` (rowid 3)"), "{text}");
    // The failed revision is named once, as failed, not again as not run.
    assert!(
        text.contains("not run: a1, a2\n") || text.ends_with("not run: a1, a2"),
        "{text}"
    );
    // The run was one transaction: nothing of it is left.
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
    assert!(p.rows().await.is_empty());

    p.edit(
        "a3",
        "DELETE FROM parent WHERE id = 2;",
        "DELETE FROM child WHERE parent_id = 2;\nDELETE FROM parent WHERE id = 2;",
    );
    p.ok(&["upgrade", "head"]);
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1"]));
    assert_eq!(parent_columns(&p).await, ids(&["code", "id", "name"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3"]));
}

#[tokio::test]
async fn sqlite_non_transactional_revision_that_leaves_dangling_rows_stays_in_progress() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    p.ok(&["upgrade", "head"]);
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &["transactional: false"],
        up: "DELETE FROM parent WHERE id = 2;",
        down_sql: "INSERT INTO parent (id, name) VALUES (2, 'two');",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "foreign_key_violation", "{err}");
    assert!(message(&err).contains("not transactional"), "{err}");
    // Outside a transaction nothing could be undone: the change is there and
    // the revision is flagged, so the next run stops and says so.
    assert_eq!(count(&p, "parent").await, 1);
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    let status = p.migrator().status().await.expect("status");
    assert_eq!(status.in_progress, ids(&["a2"]));
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    assert_eq!(run.json_error()["kind"], "in_progress");
}

#[tokio::test]
async fn sqlite_a_revision_cannot_turn_enforcement_back_on_for_later_ones() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    // Outside a transaction the pragma does take effect on rev's connection.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &["transactional: false"],
        up: "PRAGMA foreign_keys = ON;",
        down_sql: "SELECT 1;",
    });
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: REBUILD_PARENT,
        down_sql: UNBUILD_PARENT,
    });
    p.ok(&["upgrade", "head"]);
    assert_eq!(child_rows(&p).await, ids(&["1:1", "2:1", "3:2"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3"]));
}

#[tokio::test]
async fn sqlite_rebuild_by_renaming_the_old_table_away_is_refused() {
    let p = Project::sqlite().await;
    parent_and_child(&p);
    p.ok(&["upgrade", "head"]);
    // Renaming first makes SQLite rewrite child's REFERENCES to the old
    // name, which is then dropped: every child row dangles.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "ALTER TABLE parent RENAME TO parent_old;\n\
             CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
             INSERT INTO parent (id, name) SELECT id, name FROM parent_old;\n\
             DROP TABLE parent_old;",
        down_sql: "SELECT 1;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "foreign_key_violation", "{err}");
    assert!(
        message(&err).contains("3 rows of `child` (rowid 1 first) pointing to table `parent_old`, which does not exist"),
        "{err}"
    );
    assert!(
        run.hints().iter().any(|h| h.contains("`parent_old`")
            && h.contains("DROP TABLE t, ALTER TABLE new_t RENAME TO t")),
        "{:?}",
        run.hints()
    );
    assert_eq!(
        p.strings("SELECT \"table\" FROM pragma_foreign_key_list('child')")
            .await,
        ids(&["parent"])
    );
    assert_eq!(
        p.tables().await,
        ids(&["child", "parent", "schema_migrations"])
    );
    assert_eq!(p.applied().await, ids(&["a1"]));
}

/// The `database` part of `rev -f json check --db`, and the exit code.
fn check_db(p: &Project) -> (i32, Value) {
    let run = p.run(&["-f", "json", "check", "--db"]);
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}: {}",
        run.code,
        run.stderr
    );
    let out: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(out["ok"], run.code == 0, "{out}");
    (run.code, out["database"].clone())
}

/// The first command in backticks in a finding's `fix`.
fn first_command(finding: &Value) -> String {
    let fix = finding["fix"].as_str().expect("fix");
    fix.split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {fix}"))
        .to_owned()
}

on_every_backend!(check_db_names_what_needs_repair);

async fn check_db_names_what_needs_repair(p: Project) {
    let kind = p.kind();
    let references = if kind == BackendKind::Sqlite {
        " REFERENCES parent (id)"
    } else {
        ""
    };
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: &format!(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n\
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL{references}, \
               email VARCHAR(100));\n\
             INSERT INTO parent (id, name) VALUES (1, 'one');\n\
             INSERT INTO child (id, parent_id, email) VALUES (1, 1, 'a@example.com');"
        ),
        down_sql: "DROP TABLE child;\nDROP TABLE parent;",
    });
    // Before anything ran: reading creates nothing, not even the file.
    let (code, db) = check_db(&p);
    assert_eq!(code, 0, "{db}");
    if let Some(path) = p.db().url.sqlite_path() {
        assert!(!path.exists(), "check --db created {}", path.display());
        assert_eq!(db["checks"], serde_json::json!([]));
    } else {
        assert_eq!(p.tables().await, Vec::<String>::new());
    }

    p.ok(&["upgrade", "head"]);
    let (code, db) = check_db(&p);
    assert_eq!(code, 0, "{db}");
    assert_eq!(db["findings"], serde_json::json!([]));
    let expected = match kind {
        BackendKind::Sqlite => serde_json::json!(["integrity_check", "foreign_key_check"]),
        BackendKind::Postgres => serde_json::json!(["not_valid_constraints", "invalid_indexes"]),
        BackendKind::MySql => serde_json::json!([]),
    };
    assert_eq!(db["checks"], expected);

    match kind {
        BackendKind::MySql => {
            // Nothing is checked there, and the output says so.
            let text = p.ok(&["check", "--db"]).stdout;
            assert!(
                text.contains("no data or catalog checks on MySQL/MariaDB"),
                "{text}"
            );
        }
        BackendKind::Sqlite => {
            p.exec(
                "PRAGMA foreign_keys = OFF; \
                 INSERT INTO child (id, parent_id, email) VALUES (5, 42, 'b@example.com')",
            )
            .await;
            let (code, db) = check_db(&p);
            assert_eq!(code, 1, "{db}");
            let findings = db["findings"].as_array().expect("findings");
            assert_eq!(findings.len(), 1, "{db}");
            assert_eq!(findings[0]["kind"], "foreign_key");
            assert_eq!(findings[0]["table"], "child");
            assert!(
                message(&findings[0])
                    .contains("1 row of `child` (rowid 5) points to no row of `parent`"),
                "{db}"
            );
            let text = p.exits(1, &["check", "--db"]).stdout;
            assert!(text.contains("problem: 1 row of `child`"), "{text}");
            assert!(text.contains("fix: "), "{text}");
            p.exec("DELETE FROM child WHERE id = 5").await;
            assert_eq!(check_db(&p).0, 0);
        }
        BackendKind::Postgres => {
            // An orphan and a duplicate, then the two things a failed or
            // cautious migration leaves behind: a constraint added NOT VALID,
            // and the invalid index of a failed CREATE INDEX CONCURRENTLY.
            p.exec(
                "INSERT INTO child (id, parent_id, email) VALUES (2, 42, 'a@example.com'); \
                 ALTER TABLE child ADD CONSTRAINT child_parent_fk \
                   FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID",
            )
            .await;
            let failed = p
                .exec_fails("CREATE UNIQUE INDEX CONCURRENTLY child_email ON child (email)")
                .await;
            assert!(failed.contains("could not create unique index"), "{failed}");
            let (code, db) = check_db(&p);
            assert_eq!(code, 1, "{db}");
            let findings = db["findings"].as_array().expect("findings").clone();
            assert_eq!(findings.len(), 2, "{db}");
            let constraint = &findings[0];
            assert_eq!(constraint["kind"], "not_valid_constraint");
            assert_eq!(constraint["table"], "public.child");
            assert_eq!(constraint["name"], "child_parent_fk");
            assert!(message(constraint).contains("NOT VALID"), "{constraint}");
            let validate = first_command(constraint);
            assert_eq!(
                validate,
                "ALTER TABLE public.child VALIDATE CONSTRAINT child_parent_fk;"
            );
            let index = &findings[1];
            assert_eq!(index["kind"], "invalid_index");
            assert_eq!(index["table"], "public.child");
            assert_eq!(index["name"], "public.child_email");
            let reindex = first_command(index);
            assert_eq!(reindex, "REINDEX INDEX CONCURRENTLY public.child_email;");
            let text = p.exits(1, &["check", "--db"]).stdout;
            assert!(text.contains("child_parent_fk"), "{text}");
            assert!(text.contains("child_email"), "{text}");

            // The fixes, as printed, work once the rows are repaired.
            let refused = p.exec_fails(&validate).await;
            assert!(refused.contains("child_parent_fk"), "{refused}");
            p.exec("DELETE FROM child WHERE id = 2").await;
            p.exec(&validate).await;
            p.exec(&reindex).await;
            let (code, db) = check_db(&p);
            assert_eq!(code, 0, "{db}");
            assert_eq!(
                p.strings(
                    "SELECT indexrelid::regclass::text FROM pg_index \
                     WHERE indisvalid AND indexrelid::regclass::text = 'child_email'"
                )
                .await,
                ids(&["child_email"])
            );
        }
    }
    // Plain `rev check` stays a graph check: it needs no database at all.
    let text = p
        .ok(&[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "check",
        ])
        .stdout;
    assert!(text.starts_with("ok: 1 revisions"), "{text}");
}
