//! Branched and merged histories on every backend: `downgrade -N` counts
//! the revisions applied last (so `-1` at a merge reverts the merge alone),
//! and a branch (`LABEL@...`) is its lineage, as in Alembic.

use serde_json::Value;

use crate::kit::{ids, Project, Rev};

on_every_backend!(
    merge_round_trip_reverts_the_merge_alone,
    downgrade_two_at_a_merge_follows_applied_order,
    branch_point_reverts_one_branch_and_base_reaches_the_shared_root,
);

/// One history split into two labelled branches that share their root,
/// then merged by a revision that reads from both:
///
/// ```text
///        m1            (merge: order_labels from orders and users.nickname)
///       /  \
///  e1 (expand)   c1 (contract)
///       \  /
///        r1            (users, with two rows)
/// ```
fn split_and_merged(p: &Project) {
    p.write(&Rev {
        id: "r1",
        down: &[],
        header: &[],
        up: "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n\
             INSERT INTO users (id, email) VALUES (1, 'ann@example.org'), (2, 'bob@example.org');",
        down_sql: "DROP TABLE users;",
    });
    p.write(&Rev {
        id: "e1",
        down: &["r1"],
        header: &["branch_labels: [expand]"],
        up: "ALTER TABLE users ADD COLUMN nickname VARCHAR(50) NULL;\n\
             UPDATE users SET nickname = 'ann' WHERE id = 1;",
        down_sql: "ALTER TABLE users DROP COLUMN nickname;",
    });
    p.write(&Rev {
        id: "c1",
        down: &["r1"],
        header: &["branch_labels: [contract]"],
        up: "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, \
               total_cents BIGINT NOT NULL DEFAULT 0);\n\
             CREATE INDEX orders_user ON orders (user_id);\n\
             INSERT INTO orders (id, user_id, total_cents) VALUES (10, 1, 500);",
        down_sql: "DROP TABLE orders;",
    });
    p.write(&Rev {
        id: "m1",
        down: &["e1", "c1"],
        header: &[],
        up: "CREATE TABLE order_labels (order_id INTEGER PRIMARY KEY, label VARCHAR(100) NOT NULL);\n\
             INSERT INTO order_labels (order_id, label) \
               SELECT o.id, u.nickname FROM orders o JOIN users u ON u.id = o.user_id;",
        down_sql: "DROP TABLE order_labels;",
    });
}

/// The `applied_at` of each tracking row, by revision.
async fn applied_at(p: &Project) -> std::collections::HashMap<String, String> {
    p.rows()
        .await
        .into_iter()
        .map(|r| (r.version, r.applied_at))
        .collect()
}

fn steps(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap_or_else(|| panic!("a dry run gives an array: {v}"))
        .iter()
        .map(|s| {
            let keys: Vec<&String> = s.as_object().expect("a step is an object").keys().collect();
            assert_eq!(keys, ["direction", "revision"], "{s}");
            (
                s["revision"].as_str().expect("revision").to_owned(),
                s["direction"].as_str().expect("direction").to_owned(),
            )
        })
        .collect()
}

async fn merge_round_trip_reverts_the_merge_alone(p: Project) {
    split_and_merged(&p);
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["c1", "e1", "m1", "r1"]));
    assert_eq!(
        p.strings("SELECT label FROM order_labels").await,
        ids(&["ann"])
    );

    // The dry run names the merge and says why; JSON keeps its shape.
    let planned = p.json(&["downgrade", "-1", "--dry-run"]);
    assert_eq!(steps(&planned), [("m1".to_owned(), "downgrade".to_owned())]);
    let text = p.ok(&["downgrade", "-1", "--dry-run"]).stdout;
    assert!(
        text.contains("m1") && text.contains("applied last"),
        "{text}"
    );
    assert!(!text.contains("c1") && !text.contains("e1"), "{text}");

    let run = p.run(&["downgrade", "-1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("m1") && run.stderr.contains("applied last"),
        "{}",
        run.stderr
    );
    // Both parents stay applied, with their schema and data.
    assert_eq!(p.applied().await, ids(&["c1", "e1", "r1"]));
    assert_eq!(
        p.tables().await,
        ids(&["orders", "schema_migrations", "users"])
    );
    assert_eq!(
        p.strings("SELECT nickname FROM users WHERE id = 1").await,
        ids(&["ann"])
    );
    assert_eq!(
        p.strings("SELECT CASE WHEN total_cents = 500 THEN 'kept' ELSE 'lost' END FROM orders")
            .await,
        ids(&["kept"])
    );
    assert_eq!(
        str_current(&p),
        ids(&["c1", "e1"]),
        "both parents are the current heads"
    );

    // And back up: only the merge runs again.
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.applied().await, ids(&["c1", "e1", "m1", "r1"]));
    assert_eq!(
        p.strings("SELECT label FROM order_labels").await,
        ids(&["ann"])
    );
    assert_eq!(str_current(&p), ids(&["m1"]));
}

fn str_current(p: &Project) -> Vec<String> {
    let mut v = crate::kit::str_array(&p.json(&["current"]));
    v.sort();
    v
}

async fn downgrade_two_at_a_merge_follows_applied_order(p: Project) {
    split_and_merged(&p);
    // Applied in an order other than the plan's (which runs c1 before e1):
    // expand first, then contract, then the merge.
    // (Not `expand@head`: the merge is on expand's lineage, and its head.)
    p.ok(&["upgrade", "e1"]);
    assert_eq!(p.applied().await, ids(&["e1", "r1"]));
    p.ok(&["upgrade", "c1"]);
    p.ok(&["upgrade", "head"]);
    let at = applied_at(&p).await;
    assert!(at["e1"] < at["c1"] && at["c1"] < at["m1"], "{at:?}");

    let planned = p.json(&["downgrade", "-2", "--dry-run"]);
    assert_eq!(
        steps(&planned),
        [
            ("m1".to_owned(), "downgrade".to_owned()),
            ("c1".to_owned(), "downgrade".to_owned())
        ]
    );
    // Offline there is no applied order: the plan order says e1, and the
    // script says so.
    let script = p.ok(&["downgrade", "-2", "--sql", "--from", "m1"]).stdout;
    assert!(script.contains("plan order"), "{script}");
    let m1 = script.find("order_labels").expect("m1's downgrade");
    let e1 = script.find("DROP COLUMN nickname").expect("e1's downgrade");
    assert!(m1 < e1 && !script.contains("DROP TABLE orders"), "{script}");

    p.ok(&["downgrade", "-2"]);
    // The merge, then the parent applied last (contract), went; expand stays.
    assert_eq!(p.applied().await, ids(&["e1", "r1"]));
    assert_eq!(p.tables().await, ids(&["schema_migrations", "users"]));
    assert_eq!(
        p.strings("SELECT nickname FROM users WHERE id = 1").await,
        ids(&["ann"])
    );

    // One more reverts e1 (the only revision nothing applied needs but r1,
    // and the later of the two); the rows say so.
    p.ok(&["downgrade", "-1"]);
    assert_eq!(p.applied().await, ids(&["r1"]));
    assert_eq!(p.strings("SELECT email FROM users").await.len(), 2);
    let run = p.exits(2, &["-f", "json", "downgrade", "-2"]);
    assert_eq!(run.json_error()["kind"], "overshoot");
    assert_eq!(p.applied().await, ids(&["r1"]));
}

async fn branch_point_reverts_one_branch_and_base_reaches_the_shared_root(p: Project) {
    split_and_merged(&p);
    p.ok(&["upgrade", "head"]);
    // `expand@r1`: above the branch point on expand's lineage (e1 and the
    // merge above it); contract stays.
    p.ok(&["downgrade", "expand@r1"]);
    assert_eq!(p.applied().await, ids(&["c1", "r1"]));
    assert_eq!(
        p.tables().await,
        ids(&["orders", "schema_migrations", "users"])
    );
    assert!(p
        .exec_fails("SELECT nickname FROM users")
        .await
        .to_lowercase()
        .contains("nickname"));

    p.ok(&["upgrade", "head"]);
    // `expand@base` reverts the root the branches share, so contract goes
    // too, and both the dry run and the run say it.
    let text = p.ok(&["downgrade", "expand@base", "--dry-run"]).stdout;
    assert!(text.contains("c1") && text.contains("expand@r1"), "{text}");
    let run = p.run(&["downgrade", "expand@base"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("c1") && run.stderr.contains("expand@r1"),
        "{}",
        run.stderr
    );
    assert!(p.applied().await.is_empty());
    assert_eq!(p.tables().await, ids(&["schema_migrations"]));
}
