//! Working in a team: `rev check --against REF`, `rev rebase` and `rev merge`
//! in real git repositories made in temporary folders, against real SQLite,
//! PostgreSQL and MariaDB databases (tests/kit).

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::collections::BTreeMap;

use kit::{ids, Project, Rev};
use serde_json::Value;

on_every_backend!(
    parallel_branches_are_found_rebased_and_applied,
    moving_an_applied_revision_is_refused,
);

/// Runs git in the project folder and requires success.
fn git(p: &Project, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(p.path(""))
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A git repository around the project, with `a1` committed on `main`.
fn repo_with_base(p: &Project) {
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["config", "user.name", "rev tests"]);
    git(p, &["config", "user.email", "rev@example.com"]);
    git(p, &["config", "commit.gpgsign", "false"]);
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);",
        down_sql: "DROP TABLE account;",
    });
    commit(p, "a1");
}

fn commit(p: &Project, message: &str) {
    git(p, &["add", "-A", "versions", "config.yaml"]);
    git(p, &["commit", "-q", "-m", message]);
}

/// Two people branch from `a1`: `x` adds `b2`, `y` adds `c3`. `x` is merged
/// into main first; then main is merged into `y`, as a pull request's
/// merge commit has it. The work tree is left on `y`.
fn parallel_branches(p: &Project) {
    repo_with_base(p);
    git(p, &["checkout", "-q", "-b", "x"]);
    p.write(&Rev {
        id: "b2",
        down: &["a1"],
        header: &[],
        up: "ALTER TABLE account ADD COLUMN email VARCHAR(100);\nUPDATE account SET email = 'unknown' WHERE email IS NULL;",
        down_sql: "ALTER TABLE account DROP COLUMN email;",
    });
    commit(p, "b2");
    git(p, &["checkout", "-q", "main"]);
    git(p, &["checkout", "-q", "-b", "y"]);
    p.write(&Rev {
        id: "c3",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE invoice (\n  id INTEGER PRIMARY KEY,\n  account_id INTEGER NOT NULL,\n  total INTEGER NOT NULL,\n  FOREIGN KEY (account_id) REFERENCES account (id)\n);",
        down_sql: "DROP TABLE invoice;",
    });
    commit(p, "c3");
    git(p, &["checkout", "-q", "main"]);
    git(p, &["merge", "-q", "--ff-only", "x"]);
    git(p, &["checkout", "-q", "y"]);
    git(p, &["merge", "-q", "--no-edit", "main"]);
}

/// Every file of versions/, by name, as bytes.
fn snapshot(p: &Project) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(p.path("versions"))
        .expect("read versions/")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read file"),
            )
        })
        .collect()
}

fn check_json(p: &Project, args: &[&str], code: i32) -> Value {
    let mut all = vec!["-f", "json", "check"];
    all.extend_from_slice(args);
    let run = p.exits(code, &all);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON {e}:\n{}", run.stdout))
}

fn kinds(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn parallel_branches_are_found_rebased_and_applied(p: Project) {
    parallel_branches(&p);

    let run = p.exits(1, &["check", "--against", "main"]);
    assert!(run.stdout.contains("`c3`"), "{}", run.stdout);
    assert!(run.stdout.contains("new head `c3`"), "{}", run.stdout);
    assert!(
        run.stdout.contains("rev rebase c3 --onto b2"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("rev merge b2 c3"), "{}", run.stdout);
    let v = check_json(&p, &["--against", "main"], 1);
    assert_eq!(v["ok"], false);
    assert_eq!(kinds(&v), ids(&["not_on_ref_heads"]));
    let finding = &v["findings"][0];
    assert_eq!(finding["revisions"], serde_json::json!(["c3"]));
    assert_eq!(finding["files"], serde_json::json!(["versions/c3_rev.sql"]));
    assert!(finding["fix"].as_str().unwrap().contains("rev merge"));

    // A dry run says what would move and changes no byte.
    let before = snapshot(&p);
    let out = p.ok(&["rebase", "--onto", "b2", "--dry-run"]).stdout;
    assert!(out.contains("would move c3"), "{out}");
    assert_eq!(snapshot(&p), before);

    // With --onto alone, the other head's line moves: c3.
    let out = p.ok(&["rebase", "--onto", "b2"]).stdout;
    assert!(out.contains("moved c3"), "{out}");
    let after = snapshot(&p);
    for (name, bytes) in &before {
        let expected = if name == "c3_rev.sql" {
            String::from_utf8(bytes.clone())
                .unwrap()
                .replace("-- down_revision: a1\n", "-- down_revision: b2\n")
                .into_bytes()
        } else {
            bytes.clone()
        };
        assert_eq!(&after[name], &expected, "{name}");
    }

    let v = check_json(&p, &["--against", "main"], 0);
    assert_eq!(v["ok"], true);
    assert_eq!(v["findings"], serde_json::json!([]));
    assert_eq!(v["problems"], serde_json::json!([]));

    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "b2", "c3"]));
    let rows = p.rows().await;
    let c3 = rows.iter().find(|r| r.version == "c3").expect("c3 row");
    assert_eq!(c3.down_revisions, ids(&["b2"]));
    let tables = p.tables().await;
    assert!(tables.contains(&"account".to_owned()), "{tables:?}");
    assert!(tables.contains(&"invoice".to_owned()), "{tables:?}");
    // Both revisions' schema is there: b2's column and c3's table.
    p.exec("INSERT INTO account (id, name, email) VALUES (1, 'ann', 'ann@example.com')")
        .await;
    p.exec("INSERT INTO invoice (id, account_id, total) VALUES (1, 1, 250)")
        .await;
    assert_eq!(
        p.db()
            .query_i64(
                "SELECT COUNT(*) FROM invoice i JOIN account a ON a.id = i.account_id \
             WHERE a.email = 'ann@example.com'"
            )
            .await,
        1
    );
}

async fn moving_an_applied_revision_is_refused(p: Project) {
    repo_with_base(&p);
    git(&p, &["checkout", "-q", "-b", "x"]);
    p.write(&Rev {
        id: "b2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, note VARCHAR(200));",
        down_sql: "DROP TABLE audit_log;",
    });
    commit(&p, "b2");
    git(&p, &["checkout", "-q", "main"]);
    git(&p, &["checkout", "-q", "-b", "y"]);
    p.write(&Rev {
        id: "c3",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE invoice (id INTEGER PRIMARY KEY, total INTEGER NOT NULL);\nINSERT INTO invoice (id, total) VALUES (1, 10);",
        down_sql: "DROP TABLE invoice;",
    });
    commit(&p, "c3");
    // The developer of `y` has applied c3 to their database.
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "c3"]));
    git(&p, &["checkout", "-q", "main"]);
    git(&p, &["merge", "-q", "--ff-only", "x"]);
    git(&p, &["checkout", "-q", "y"]);
    git(&p, &["merge", "-q", "--no-edit", "main"]);

    let before = snapshot(&p);
    let run = p.exits(1, &["-f", "json", "rebase", "c3", "--onto", "b2"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "rebase_applied");
    assert!(err["message"].as_str().unwrap().contains("`c3`"), "{err}");
    assert!(
        run.hints().iter().any(|h| h.contains("rev merge b2 c3")),
        "{:?}",
        run.hints()
    );
    assert_eq!(snapshot(&p), before, "a refused rebase changes no file");

    // --no-db does not ask the database (the dry run shows the move).
    let out = p
        .ok(&["rebase", "c3", "--onto", "b2", "--no-db", "--dry-run"])
        .stdout;
    assert!(out.contains("would move c3"), "{out}");
    assert_eq!(snapshot(&p), before);

    // The suggested merge joins the heads; the upgrade applies b2 and the merge.
    p.ok(&[
        "merge",
        "b2",
        "c3",
        "-m",
        "join b2 and c3",
        "--rev-id",
        "m4",
    ]);
    p.ok(&["check", "--against", "main"]);
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "b2", "c3", "m4"]));
    let tables = p.tables().await;
    assert!(tables.contains(&"audit_log".to_owned()), "{tables:?}");
    assert_eq!(p.db().query_i64("SELECT COUNT(*) FROM invoice").await, 1);
}

/// [`repo_with_base`] and a committed b2 on a1 that makes table `note`.
async fn repo_with_b2() -> Project {
    let p = Project::sqlite().await;
    repo_with_base(&p);
    p.write(&Rev {
        id: "b2",
        down: &["a1"],
        header: &[],
        up: "CREATE TABLE note (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE note;",
    });
    commit(&p, "b2");
    p
}

#[tokio::test]
async fn edited_and_moved_revisions_are_flagged() {
    let p = repo_with_b2().await;
    p.ok(&["check", "--against", "main"]);

    // Line endings and trailing spaces are no edit (the checksum normalises).
    let path = p.path("versions/a1_rev.sql");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace('\n', "  \r\n")).unwrap();
    p.ok(&["check", "--against", "main"]);

    p.edit(
        "a1",
        "name VARCHAR(50) NOT NULL",
        "name VARCHAR(80) NOT NULL",
    );
    let v = check_json(&p, &["--against", "main"], 1);
    assert_eq!(kinds(&v), ids(&["changed_since_ref"]));
    assert_eq!(v["findings"][0]["revisions"], serde_json::json!(["a1"]));
    assert_eq!(
        v["findings"][0]["files"],
        serde_json::json!(["versions/a1_rev.sql"])
    );
    assert!(v["findings"][0]["fix"]
        .as_str()
        .unwrap()
        .contains("rev new"));
    git(&p, &["checkout", "--", "versions"]);

    // A revision that exists at main gets another parent: shared history moved.
    p.write(&Rev {
        id: "z0",
        down: &[],
        header: &[],
        up: "SELECT 1;",
        down_sql: "",
    });
    p.ok(&["rebase", "a1", "--onto", "z0", "--no-db"]);
    let v = check_json(&p, &["--against", "main"], 1);
    assert!(kinds(&v).contains(&"moved_since_ref".to_owned()), "{v}");
}

#[tokio::test]
async fn a_deleted_revision_is_flagged() {
    let p = repo_with_b2().await;
    p.remove("b2");
    let v = check_json(&p, &["--against", "main"], 1);
    assert_eq!(kinds(&v), ids(&["deleted_since_ref"]));
    assert_eq!(v["findings"][0]["revisions"], serde_json::json!(["b2"]));
    let run = p.exits(1, &["check", "--against", "main"]);
    assert!(run.stdout.contains("`b2`"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("git checkout main -- versions/b2_rev.sql"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_merge_or_a_new_labelled_branch_passes_the_check() {
    let p = Project::sqlite().await;
    parallel_branches(&p);
    p.exits(1, &["check", "--against", "main"]);
    p.ok(&["merge", "-m", "join", "--rev-id", "m4"]);
    let v = check_json(&p, &["--against", "main"], 0);
    assert_eq!(v["findings"], serde_json::json!([]));

    // A new branch opened on purpose, under a new label, is not a mistake.
    p.write(&Rev {
        id: "d5",
        down: &["a1"],
        header: &["branch_labels: [reports]"],
        up: "CREATE TABLE report (id INTEGER PRIMARY KEY);",
        down_sql: "DROP TABLE report;",
    });
    check_json(&p, &["--against", "main"], 0);
}

#[tokio::test]
async fn against_combines_with_db() {
    let p = Project::sqlite().await;
    parallel_branches(&p);
    p.ok(&["rebase", "c3", "--onto", "b2"]);
    p.ok(&["upgrade", "head"]);
    let v = check_json(&p, &["--against", "main", "--db"], 0);
    assert_eq!(v["ok"], true);
    assert_eq!(v["findings"], serde_json::json!([]));
    assert!(v["database"]["checks"].is_array(), "{v}");
    // A finding from either side fails the whole check.
    p.edit("a1", "VARCHAR(50)", "VARCHAR(60)");
    let v = check_json(&p, &["--db", "--against", "main"], 1);
    assert_eq!(kinds(&v), ids(&["changed_since_ref"]));
    assert!(v["database"].is_object(), "{v}");
}

#[tokio::test]
async fn rebase_keeps_every_other_byte_of_crlf_and_bom_files() {
    let p = Project::sqlite().await;
    let files = [
        (
            "a1_rev.sql",
            "-- revision: a1\n-- down_revision: null\n-- message: base\n\n-- +upgrade\nCREATE TABLE t (id INTEGER);\n",
        ),
        (
            "b2_rev.sql",
            "-- revision: b2\n-- down_revision: a1\n-- message: other head\n\n-- +upgrade\nSELECT 1;\n",
        ),
        (
            "c3_rev.sql",
            "\u{feff}-- revision: c3\r\n-- down_revision: a1       # was the head\r\n-- message: crlf \r\n\r\n-- +upgrade\r\n-- down_revision: a1\r\nCREATE TABLE u (id INTEGER);  \r\n\r\n-- +downgrade\r\nDROP TABLE u;",
        ),
        (
            "d4_rev.sql",
            "-- revision: d4\r\n-- down_revision: c3\r\n-- message: above c3\r\n-- +upgrade\r\nSELECT 2;\r\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(p.path("versions").join(name), text).unwrap();
    }
    let before = snapshot(&p);
    let checksum = |p: &Project| {
        let g = rev::graph::Graph::load(&p.path("versions")).expect("the files load");
        g.rev(g.index_of("c3").unwrap()).checksum.clone()
    };
    let checksum_before = checksum(&p);
    let out = p.ok(&["rebase", "c3", "--onto", "b2", "--no-db"]).stdout;
    assert!(out.contains("1 revision above it follow"), "{out}");
    let after = snapshot(&p);
    assert_eq!(after["a1_rev.sql"], before["a1_rev.sql"]);
    assert_eq!(after["b2_rev.sql"], before["b2_rev.sql"]);
    assert_eq!(after["d4_rev.sql"], before["d4_rev.sql"]);
    assert_eq!(
        String::from_utf8(after["c3_rev.sql"].clone()).unwrap(),
        "\u{feff}-- revision: c3\r\n-- down_revision: b2       # was the head\r\n-- message: crlf \r\n\r\n-- +upgrade\r\n-- down_revision: a1\r\nCREATE TABLE u (id INTEGER);  \r\n\r\n-- +downgrade\r\nDROP TABLE u;"
    );
    assert_eq!(checksum(&p), checksum_before);
    let heads = p.json(&["heads"]);
    assert_eq!(heads.as_array().unwrap().len(), 1);
    assert_eq!(heads[0]["revision"], "d4");
    // No temporary file is left beside the files.
    assert_eq!(std::fs::read_dir(p.path("versions")).unwrap().count(), 4);
    // The database is not needed with --no-db, even one that cannot be reached.
    let run = p.run(&[
        "--database-url",
        "postgres://nobody:secret@127.0.0.1:9/none",
        "rebase",
        "d4",
        "--onto",
        "a1",
        "--no-db",
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("secret") && !run.stderr.contains("secret"));
}

#[tokio::test]
async fn rebase_refusals_name_what_to_do() {
    let p = Project::sqlite().await;
    parallel_branches(&p);
    // Onto a revision that descends from the one moved: a cycle.
    p.write(&Rev {
        id: "e5",
        down: &["c3"],
        header: &[],
        up: "SELECT 1;",
        down_sql: "",
    });
    let err = p
        .exits(2, &["-f", "json", "rebase", "c3", "--onto", "e5"])
        .json_error();
    assert_eq!(err["kind"], "rebase_cycle");
    // Two heads and no --onto: which one is not guessed.
    let run = p.exits(2, &["-f", "json", "rebase"]);
    assert_eq!(run.json_error()["kind"], "rebase_onto_needed");
    assert!(run.hints().iter().any(|h| h.contains("--onto")));
    // An unknown revision.
    p.exits(2, &["rebase", "zzzz", "--onto", "b2", "--no-db"]);
}

#[tokio::test]
async fn merge_without_revisions_joins_the_two_heads() {
    let p = Project::sqlite().await;
    parallel_branches(&p);
    let run = p.run(&["merge", "--rev-id", "m4"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "versions/m4_merge_b2_and_c3.sql");
    // The heads it joins, with their messages, then the new revision.
    assert!(run.stderr.contains("joining 2 heads"), "{}", run.stderr);
    assert!(
        run.stderr.contains("b2 (versions/b2_rev.sql) revision b2"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("c3 (versions/c3_rev.sql) revision c3"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("created revision m4 on b2, c3"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(p.path("versions/m4_merge_b2_and_c3.sql")).unwrap();
    assert!(text.contains("-- down_revision: [b2, c3]\n"), "{text}");
    assert!(text.contains("-- message: merge b2 and c3\n"), "{text}");
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["a1", "b2", "c3", "m4"]));
    assert!(p.tables().await.contains(&"invoice".to_owned()));
}

#[tokio::test]
async fn outside_git_or_with_an_unknown_ref_exit_2() {
    let p = Project::sqlite().await;
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "SELECT 1;",
        down_sql: "",
    });
    // A temp folder is not in a git repository (unless the machine's /tmp is).
    let outside = std::process::Command::new("git")
        .current_dir(p.path(""))
        .args(["rev-parse", "--git-dir"])
        .output()
        .unwrap();
    if !outside.status.success() {
        let run = p.exits(2, &["-f", "json", "check", "--against", "main"]);
        assert_eq!(run.json_error()["kind"], "not_a_git_repository");
    }
    repo_with_base_at(&p);
    let run = p.exits(2, &["-f", "json", "check", "--against", "no-such-branch"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "unknown_ref");
    assert!(err["message"].as_str().unwrap().contains("no-such-branch"));
    // A ref that looks like an option is a ref, not an option.
    let run = p.exits(2, &["-f", "json", "check", "--against=--output=x"]);
    assert_eq!(run.json_error()["kind"], "unknown_ref");
    assert!(!p.path("x").exists());
}

/// A repository holding whatever versions/ has now, on `main`.
fn repo_with_base_at(p: &Project) {
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["config", "user.name", "rev tests"]);
    git(p, &["config", "user.email", "rev@example.com"]);
    git(p, &["config", "commit.gpgsign", "false"]);
    commit(p, "start");
}

#[tokio::test]
async fn against_reads_only_the_script_folder_at_the_ref() {
    let p = Project::sqlite().await;
    repo_with_base(&p);
    // Files outside versions/ or in a subfolder of it are no revisions.
    std::fs::create_dir(p.path("versions/old")).unwrap();
    std::fs::write(
        p.path("versions/old/x9_rev.sql"),
        "-- revision: x9\n-- down_revision: null\n-- +upgrade\nSELECT 1;\n",
    )
    .unwrap();
    std::fs::write(p.path("notes.sql"), "SELECT 'not a revision';\n").unwrap();
    git(&p, &["add", "-A", "."]);
    git(&p, &["commit", "-q", "-m", "more files"]);
    let v = check_json(&p, &["--against", "HEAD"], 0);
    assert_eq!(v["findings"], serde_json::json!([]));
}

/// The files a squash replaces may go once every database is past the run:
/// their deletion, and a child naming the squash instead of the run's last
/// revision, is not history rewritten.
#[tokio::test]
async fn originals_of_a_squash_may_be_deleted() {
    let p = Project::sqlite().await;
    repo_with_base(&p);
    for (id, down) in [("b2", "a1"), ("c3", "b2"), ("d4", "c3")] {
        p.write(&Rev {
            id,
            down: &[down],
            header: &[],
            up: &format!("CREATE TABLE t_{id} (id INTEGER PRIMARY KEY);"),
            down_sql: &format!("DROP TABLE t_{id};"),
        });
    }
    commit(&p, "b2 c3 d4");
    p.ok(&["squash", "b2:c3", "-m", "b and c", "--rev-id", "s1"]);
    commit(&p, "squash");
    p.remove("b2");
    p.remove("c3");
    let v = check_json(&p, &["--against", "main"], 0);
    assert_eq!(v["findings"], serde_json::json!([]), "{v}");
    // Deleting a revision no squash stands for is still found.
    p.remove("d4");
    let v = check_json(&p, &["--against", "main"], 1);
    assert_eq!(kinds(&v), ids(&["deleted_since_ref"]), "{v}");
}
