//! `rev squash` and the `replaces:` header on every backend: databases
//! stopped before, inside and past a squashed run all reach the head with
//! the same schema, data, `rev current` and tracking rows; a downgrade goes
//! through the squashed revision; a database inside the run with the
//! original files gone is told what to do.

use rev::url::BackendKind;
use serde_json::Value;

use crate::kit::{ids, str_array, Project, Rev};

on_every_backend!(
    databases_before_inside_and_past_the_run_reach_the_same_head,
    downgrade_goes_through_the_squashed_revision,
    inside_the_run_without_the_original_files_is_told_what_to_do,
    squashed_file_holds_the_sections_in_order_and_reverse,
);

/// ```text
/// a ── b ── c ── d ── e        (b:d is squashed)
/// ```
/// A table, a column with a data fix, a second table with a trigger-free
/// index, and seed data above the run.
fn history(p: &Project) {
    let drop_index = match p.kind() {
        BackendKind::MySql => "DROP INDEX account_email ON account;",
        _ => "DROP INDEX account_email;",
    };
    p.write(&Rev {
        id: "a",
        down: &[],
        header: &[],
        up: "CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n\
             INSERT INTO account (id, name) VALUES (1, 'Ann'), (2, 'Bob');",
        down_sql: "DROP TABLE account;",
    });
    p.write(&Rev {
        id: "b",
        down: &["a"],
        header: &[],
        up: "ALTER TABLE account ADD COLUMN email VARCHAR(200);\n\
             UPDATE account SET email = LOWER(name) WHERE email IS NULL;",
        down_sql: "ALTER TABLE account DROP COLUMN email;",
    });
    p.write(&Rev {
        id: "c",
        down: &["b"],
        header: &[],
        up: "CREATE TABLE audit (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, note VARCHAR(200));\n\
             INSERT INTO audit (id, account_id, note) SELECT id, id, email FROM account;",
        down_sql: "DROP TABLE audit;",
    });
    p.write(&Rev {
        id: "d",
        down: &["c"],
        header: &[],
        up: "CREATE INDEX account_email ON account (email);",
        down_sql: drop_index,
    });
    p.write(&Rev {
        id: "e",
        down: &["d"],
        header: &[],
        up: "INSERT INTO account (id, name, email) VALUES (3, 'Root', 'root@example.org');",
        down_sql: "DELETE FROM account WHERE id = 3;",
    });
}

/// Runs `rev squash b:d` in `p` and returns the new id and file name.
fn squash(p: &Project) -> (String, String) {
    let out = p.json(&["squash", "b:d", "-m", "email and audit"]);
    let id = out["revision"].as_str().expect("revision id").to_owned();
    assert_eq!(str_array(&out["replaces"]), ids(&["b", "c", "d"]));
    let path = out["path"].as_str().expect("path").to_owned();
    let name = std::path::Path::new(&path)
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    (id, name)
}

fn copy_file(from: &Project, to: &Project, name: &str) {
    std::fs::copy(
        from.path("versions").join(name),
        to.path("versions").join(name),
    )
    .expect("copy the squashed file");
}

fn squash_state(status: &Value, squash: &str) -> String {
    let list = status["squashes"].as_array().expect("squashes array");
    let s = list
        .iter()
        .find(|s| s["squash"] == squash)
        .unwrap_or_else(|| panic!("no squash {squash} in {status}"));
    s["state"].as_str().expect("state").to_owned()
}

/// Everything a database holds that the migrations made: schema, data and
/// tracking rows (ids, sorted; one per revision).
async fn state(p: &Project) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut data = p.strings("SELECT name FROM account").await;
    data.extend(p.strings("SELECT COALESCE(email, '-') FROM account").await);
    data.extend(p.strings("SELECT note FROM audit").await);
    // Every row, not the set: a run's rows left beside the squashed one
    // would show here.
    let mut rows: Vec<String> = p.rows().await.into_iter().map(|r| r.version).collect();
    rows.sort();
    (p.catalog().await, data, rows)
}

async fn databases_before_inside_and_past_the_run_reach_the_same_head(p: Project) {
    history(&p);
    // Four databases stopped before the squash file exists: at `a` (before
    // the run), at `c` (inside it), at `d` (at its end) and at `e` (past it),
    // plus a fresh one that applied nothing.
    let inside = p.twin().await;
    let at_end = p.twin().await;
    let past = p.twin().await;
    let fresh = p.twin().await;
    p.ok(&["upgrade", "a"]);
    inside.ok(&["upgrade", "c"]);
    at_end.ok(&["upgrade", "d"]);
    past.ok(&["upgrade", "e"]);

    let (s, name) = squash(&p);
    for other in [&inside, &at_end, &past, &fresh] {
        copy_file(&p, other, &name);
    }

    // Before any write: status tells each database where it stands.
    assert_eq!(squash_state(&p.json(&["status"]), &s), "before");
    assert_eq!(squash_state(&fresh.json(&["status"]), &s), "before");
    assert_eq!(squash_state(&inside.json(&["status"]), &s), "inside");
    assert_eq!(squash_state(&at_end.json(&["status"]), &s), "past");
    assert_eq!(squash_state(&past.json(&["status"]), &s), "past");
    // A database inside the run is at `c`, and has the rest of the run to go.
    assert_eq!(str_array(&inside.json(&["current"])), ids(&["c"]));
    assert_eq!(
        str_array(
            &inside
                .json(&["upgrade", "head", "--dry-run"])
                .as_array()
                .expect("steps")
                .iter()
                .map(|s| s["revision"].clone())
                .collect::<Value>()
        ),
        ids(&["d", "e"])
    );
    // One past the run reads as at the squashed revision, before any write.
    assert_eq!(str_array(&at_end.json(&["current"])), ids(&[&s]));
    // One before the run runs the squashed revision, not the originals.
    let steps = p.json(&["upgrade", "head", "--dry-run"]);
    let steps: Vec<String> = steps
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["revision"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(steps, ids(&[&s, "e"]));

    for db in [&p, &inside, &at_end, &past, &fresh] {
        db.ok(&["upgrade", "head"]);
    }
    let expected = state(&p).await;
    let mut rows = ids(&[&s, "a", "e"]);
    rows.sort();
    assert_eq!(expected.2, rows);
    assert_eq!(
        expected.1,
        ids(&[
            "Ann",
            "Bob",
            "Root",
            "ann",
            "bob",
            "root@example.org",
            "ann",
            "bob"
        ])
    );
    for db in [&inside, &at_end, &past, &fresh] {
        assert_eq!(state(db).await, expected, "{:?}", db.kind());
        assert_eq!(str_array(&db.json(&["current"])), ids(&["e"]));
        assert_eq!(squash_state(&db.json(&["status"]), &s), "past");
    }
    assert_eq!(str_array(&p.json(&["current"])), ids(&["e"]));
}

async fn downgrade_goes_through_the_squashed_revision(p: Project) {
    history(&p);
    let only_a = p.twin().await;
    // Applied with the originals; the squash comes later.
    p.ok(&["upgrade", "e"]);
    let (s, name) = squash(&p);
    copy_file(&p, &only_a, &name);
    only_a.ok(&["upgrade", "a"]);

    // Down to `a`: `e`, then the squashed revision's downgrade (the run's
    // downgrades in reverse), and the run's rows are gone with it.
    p.ok(&["downgrade", "a"]);
    assert_eq!(p.applied().await, ids(&["a"]));
    assert_eq!(p.catalog().await, only_a.catalog().await);
    assert_eq!(
        p.strings("SELECT name FROM account").await,
        ids(&["Ann", "Bob"])
    );
    // And up again through the squashed revision alone.
    p.ok(&["upgrade", "head"]);
    let mut want = ids(&[&s, "a", "e"]);
    want.sort();
    assert_eq!(p.applied().await, want);
    // `-2` from the head reverts `e`, then the squashed revision whole.
    p.ok(&["downgrade", "-2"]);
    assert_eq!(p.applied().await, ids(&["a"]));
    assert!(!p.tables().await.contains(&"audit".to_owned()));
}

async fn inside_the_run_without_the_original_files_is_told_what_to_do(p: Project) {
    history(&p);
    p.ok(&["upgrade", "b"]);
    let (s, _) = squash(&p);
    let catalog_before = p.catalog().await;
    for id in ["b", "c", "d"] {
        p.remove(id);
    }
    // Every command that reads the rows stops with the same explanation,
    // and nothing changes.
    for args in [
        &["upgrade", "head"][..],
        &["upgrade", "head", "--dry-run"][..],
        &["status"][..],
    ] {
        let mut all = vec!["-f", "json"];
        all.extend_from_slice(args);
        let run = p.exits(1, &all);
        let e = run.json_error();
        assert_eq!(e["kind"], "squash_incomplete", "{args:?}");
        let message = e["message"].as_str().expect("message");
        assert!(message.contains(&format!("`{s}`")), "{message}");
        assert!(message.contains("`b`"), "{message}");
        assert!(message.contains("git checkout"), "{message}");
        assert!(message.contains(&format!("rev stamp {s}")), "{message}");
    }
    assert_eq!(p.applied().await, ids(&["a", "b"]));
    assert_eq!(p.catalog().await, catalog_before);

    // The first way out: restore the files; the run finishes from them and
    // the squashed revision takes the run's rows.
    history(&p);
    p.ok(&["upgrade", "head"]);
    let mut want = ids(&[&s, "a", "e"]);
    want.sort();
    assert_eq!(p.applied().await, want);
    assert!(p.tables().await.contains(&"audit".to_owned()));
}

async fn squashed_file_holds_the_sections_in_order_and_reverse(p: Project) {
    history(&p);
    let (s, name) = squash(&p);
    let text = std::fs::read_to_string(p.path("versions").join(&name)).expect("read");
    assert!(text.contains(&format!("-- revision: {s}\n")), "{text}");
    assert!(text.contains("-- down_revision: a\n"), "{text}");
    assert!(text.contains("-- replaces: [b, c, d]\n"), "{text}");
    let (up, down) = text
        .split_once("-- +downgrade\n")
        .expect("a downgrade section");
    let up = up
        .split_once("-- +upgrade\n")
        .expect("an upgrade section")
        .1;
    let pos = |hay: &str, needle: &str| {
        hay.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in\n{hay}"))
    };
    // Upgrade: b, c, d, each headed by the revision it came from.
    let (b, c, d) = (
        pos(
            up,
            "-- from b: revision b\nALTER TABLE account ADD COLUMN email",
        ),
        pos(up, "-- from c: revision c\nCREATE TABLE audit"),
        pos(up, "-- from d: revision d\nCREATE INDEX account_email"),
    );
    assert!(b < c && c < d, "{up}");
    // Downgrade: d, c, b.
    let (b, c, d) = (
        pos(
            down,
            "-- from b: revision b\nALTER TABLE account DROP COLUMN email",
        ),
        pos(down, "-- from c: revision c\nDROP TABLE audit"),
        pos(down, "-- from d: revision d\nDROP INDEX account_email"),
    );
    assert!(d < c && c < b, "{down}");
    // The original files stay; the squashed one runs as written.
    for id in ["b", "c", "d"] {
        assert!(p.path(&format!("versions/{id}_rev.sql")).exists());
    }
    p.ok(&["upgrade", "head"]);
    assert_eq!(
        p.strings("SELECT email FROM account WHERE email IS NOT NULL")
            .await,
        ids(&["ann", "bob", "root@example.org"])
    );
    // A squashed revision is not squashed again: the run would hide it.
    let run = p.exits(2, &["-f", "json", "squash", "a:e", "-m", "again"]);
    assert_eq!(run.json_error()["kind"], "bad_squash_range");
    assert!(
        run.stderr
            .contains(&format!("`{s}` is itself a squashed revision")),
        "{}",
        run.stderr
    );
    // A revision written later on a replaced one makes a branch point
    // inside the run: the files no longer load, and the error names both.
    p.write(&Rev {
        id: "x",
        down: &["c"],
        header: &[],
        up: "SELECT 1;",
        down_sql: "SELECT 1;",
    });
    let run = p.exits(2, &["-f", "json", "heads"]);
    let e = run.json_error();
    assert_eq!(e["kind"], "squash_run", "{e}");
    let message = e["message"].as_str().expect("message");
    assert!(
        message.contains("`c` is inside the run") && message.contains("`x`"),
        "{message}"
    );
}
