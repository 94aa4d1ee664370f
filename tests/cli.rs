//! The `rev` binary without a database: init, new, merge, the graph
//! inspectors and check, their exit codes, JSON and text.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use kit::{Project, Run};

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// The revisions and exit codes of this suite, on a project whose
/// database is the SQLite file `test.db` beside config.yaml.
impl Project {
    /// Writes a revision file; `down` is `null`, an id, or a `[a, b]` list.
    fn revision(&self, id: &str, down: &str, extra: &str) -> PathBuf {
        self.write_made(
            "versions",
            id,
            down,
            extra,
            &format!("CREATE TABLE t_{id} (x INTEGER);"),
            &format!("DROP TABLE t_{id};"),
        )
    }

    fn fail(&self, args: &[&str]) -> Run {
        self.exits(1, args)
    }

    fn usage(&self, args: &[&str]) -> Run {
        self.exits(2, args)
    }

    /// The branchy history used by several tests:
    ///
    /// ```text
    ///     m            (merge of c and e)
    ///    / \
    ///   c   e (billing, depends_on b)
    ///   |   |
    ///   b   d
    ///    \ /
    ///     a
    /// ```
    fn branchy(&self) {
        self.revision("a", "null", "");
        self.revision("b", "a", "");
        self.revision("c", "b", "");
        self.revision("d", "a", "-- branch_labels: [billing]\n");
        self.revision("e", "d", "-- depends_on: [b]\n");
        self.revision("m", "[c, e]", "");
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn heads_json_has_every_design_field() {
    let p = Project::sqlite_file();
    p.branchy();
    let v = p.ok(&["heads", "-f", "json"]).json();
    assert_eq!(ids(&v), ["m"]);
    let m = &v[0];
    assert_eq!(m["down_revisions"], serde_json::json!(["c", "e"]));
    assert_eq!(m["branch_labels"], serde_json::json!([]));
    assert_eq!(m["depends_on"], serde_json::json!([]));
    assert_eq!(m["message"], "make m");
    assert_eq!(m["path"], "versions/m.sql");
    assert_eq!(m["is_head"], true);
    assert_eq!(m["is_base"], false);
    assert_eq!(m["is_merge"], true);
    assert_eq!(m["is_branch_point"], false);
}

#[test]
fn history_is_newest_first_and_takes_ranges() {
    let p = Project::sqlite_file();
    p.branchy();
    let all = ids(&p.ok(&["history", "-f", "json"]).json());
    assert_eq!(all.len(), 6);
    assert_eq!(all.first().map(String::as_str), Some("m"));
    assert_eq!(all.last().map(String::as_str), Some("a"));
    let pos = |id: &str| all.iter().position(|x| x == id).unwrap();
    assert!(pos("e") < pos("b"), "depends_on orders e after b: {all:?}");
    assert_eq!(
        ids(&p.ok(&["history", "-r", "b:m", "-f", "json"]).json()),
        ["m", "c", "b"]
    );
    assert_eq!(
        ids(&p.ok(&["history", "-r", ":c", "-f", "json"]).json()),
        ["c", "b", "a"]
    );
    let text = p.ok(&["history", "-v"]).stdout;
    assert!(text.contains("path: versions/m.sql"), "{text}");
    p.usage(&["history", "-r", "nope"]);
    // A reversed or sideways range is an error, not an empty listing.
    let out = p.usage(&["history", "-r", "c:b"]);
    assert!(
        out.stderr.contains("`c` is not an ancestor of `b`"),
        "{}",
        out.stderr
    );
    p.usage(&["history", "-r", "d:c"]);
    assert_eq!(
        ids(&p.ok(&["history", "-r", "c:c", "-f", "json"]).json()),
        ["c"]
    );
}

#[test]
fn branches_and_show() {
    let p = Project::sqlite_file();
    p.branchy();
    assert_eq!(ids(&p.ok(&["branches", "-f", "json"]).json()), ["a"]);
    let v = p.ok(&["show", "billing", "-f", "json"]).json();
    assert_eq!(v["revision"], "d");
    assert_eq!(v["branch_labels"], serde_json::json!(["billing"]));
    let v = p.ok(&["show", "heads", "-f", "json"]).json();
    assert!(v.is_array());
    let text = p.ok(&["show", "e"]).stdout;
    assert!(text.contains("Depends on: b"), "{text}");
    assert!(text.contains("DROP TABLE t_e;"), "{text}");
}

#[test]
fn multiple_heads_are_listed_with_message_and_file() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    p.revision("b", "a", "");
    p.revision("c", "a", "");
    let out = p.usage(&["show", "head"]);
    assert!(
        out.stderr
            .contains("target `head` is ambiguous: there are 2 heads"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("versions/b.sql) make b"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("rev merge heads"), "{}", out.stderr);
    let err = p.usage(&["show", "head", "-f", "json"]).error_json();
    assert_eq!(err["error"]["kind"], "multiple_heads");
    assert!(err["error"]["message"].as_str().unwrap().contains("`b`"));
    // `check` fails on two unlabelled heads; `rev new` refuses and lists them.
    let out = p.fail(&["check"]);
    assert!(
        out.stdout.contains("2 heads carry no branch label"),
        "{}",
        out.stdout
    );
    let v = p.fail(&["check", "-f", "json"]).json();
    assert_eq!(v["problems"][0]["kind"], "unlabelled_heads", "{v}");
    let out = p.usage(&["new", "-m", "x"]);
    assert!(out.stderr.contains("--head"), "{}", out.stderr);
    let err = p.usage(&["new", "-m", "x", "-f", "json"]).error_json();
    assert_eq!(err["error"]["kind"], "new_without_head");
}

#[test]
fn ambiguous_and_unknown_revisions_get_hints() {
    let p = Project::sqlite_file();
    p.revision("abc1", "null", "");
    p.revision("abc2", "abc1", "");
    let err = p.usage(&["show", "abc", "-f", "json"]).error_json();
    assert_eq!(err["error"]["kind"], "ambiguous_revision");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`abc1`") && message.contains("`abc2`"),
        "{message}"
    );
    let out = p.usage(&["show", "abc3"]);
    assert!(out.stderr.contains("did you mean"), "{}", out.stderr);
    // An exact id wins over a longer id it prefixes.
    p.revision("abc", "abc2", "");
    assert_eq!(
        p.ok(&["show", "abc", "-f", "json"]).json()["revision"],
        "abc"
    );
}

#[test]
fn ambiguous_walk_hints_keep_the_direction_asked_for() {
    let p = Project::sqlite_file();
    p.branchy();
    // From `a` going up there are two ways (b and d): the hint must suggest an
    // upward walk, not `LABEL@-1`.
    let hints = p
        .usage(&["upgrade", "a+1", "--dry-run", "-f", "json"])
        .error_json()["error"]["hints"]
        .to_string();
    assert!(
        hints.contains("LABEL@+1") && !hints.contains("@-1"),
        "{hints}"
    );
    // Down from the merge `m`: two parents, so `LABEL@-2` for `m-2`.
    let hints = p
        .usage(&["downgrade", "m-2", "--sql", "--from", "m", "-f", "json"])
        .error_json()["error"]["hints"]
        .to_string();
    assert!(hints.contains("LABEL@-2"), "{hints}");
    // A walk down from a merge also points at `rev downgrade -2`, which
    // counts applied revisions instead.
    assert!(hints.contains("`rev downgrade -2`"), "{hints}");
    // Two applied heads (c and e): the walk `stamp -1` cannot pick one, and
    // the hint counts down from one of them rather than up.
    p.ok(&["stamp", "c", "e"]);
    let hints = p
        .usage(&["stamp", "--dry-run", "-f", "json", "-1"])
        .error_json()["error"]["hints"]
        .to_string();
    assert!(
        hints.contains("`c-1`") && hints.contains("LABEL@-1"),
        "{hints}"
    );
    assert!(!hints.contains("+1"), "{hints}");
    // `downgrade -1` counts applied revisions: e, stamped in the same run as
    // c but later in plan order.
    let plan = p.ok(&["downgrade", "-1", "--dry-run", "-f", "json"]).json();
    assert_eq!(
        plan,
        serde_json::json!([{"revision": "e", "direction": "downgrade"}])
    );
}

#[test]
fn bad_targets_are_usage_errors() {
    let p = Project::sqlite_file();
    p.branchy();
    let out = p.usage(&["upgrade", "billing@@x"]);
    assert!(out.stderr.contains("billing@@x"), "{}", out.stderr);
    p.usage(&["show", "+"]);
    p.usage(&["heads", "-f", "dot"]);
}

#[test]
fn check_reports_every_broken_file() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    std::fs::write(
        p.dir().join("versions/bad.sql"),
        "-- revision: bad\n-- down_revision: {x: 1}\n-- +upgrade\n",
    )
    .unwrap();
    std::fs::write(p.dir().join("versions/bin.sql"), [0u8, 159, 146, 150]).unwrap();
    p.revision("orphan", "zzz", "");
    let out = p.fail(&["check"]);
    assert!(
        out.stdout
            .contains("versions/bad.sql:2: down_revision: expected a string or a list"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("versions/bin.sql"), "{}", out.stdout);
    // Parse errors come first; the missing parent shows once the files parse.
    std::fs::remove_file(p.dir().join("versions/bad.sql")).unwrap();
    std::fs::remove_file(p.dir().join("versions/bin.sql")).unwrap();
    let v = p.fail(&["check", "-f", "json"]).json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["kind"], "missing_revision");
    // Other commands refuse a broken graph as an input error.
    let out = p.usage(&["heads"]);
    assert!(
        out.stderr.contains("down_revision names `zzz`"),
        "{}",
        out.stderr
    );
}

#[test]
fn cycles_and_duplicates_are_named() {
    let p = Project::sqlite_file();
    p.revision("a", "c", "");
    p.revision("b", "a", "");
    p.revision("c", "b", "");
    let out = p.fail(&["check"]);
    assert!(out.stdout.contains("cycle: "), "{}", out.stdout);
    assert!(out.stdout.contains(" -> "), "{}", out.stdout);
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    std::fs::copy(
        p.dir().join("versions/a.sql"),
        p.dir().join("versions/a_copy.sql"),
    )
    .unwrap();
    let out = p.fail(&["check"]);
    assert!(
        out.stdout.contains("versions/a.sql") && out.stdout.contains("versions/a_copy.sql"),
        "{}",
        out.stdout
    );
}

#[test]
fn new_and_merge_build_a_history() {
    let p = Project::sqlite_file();
    let first = p
        .ok(&["new", "-m", "create users", "--rev-id", "u1", "-f", "json"])
        .json();
    assert_eq!(first["path"], "versions/u1_create_users.sql");
    assert_eq!(first["down_revisions"], serde_json::json!([]));
    p.ok(&["new", "-m", "posts", "--rev-id", "p1"]);
    // --head on a non-head needs --splice.
    let out = p.usage(&["new", "-m", "side", "--head", "u1"]);
    assert!(out.stderr.contains("--splice"), "{}", out.stderr);
    p.ok(&[
        "new",
        "-m",
        "side",
        "--head",
        "u1",
        "--splice",
        "--branch-label",
        "side",
        "--rev-id",
        "s1",
    ]);
    p.ok(&[
        "new",
        "-m",
        "more side",
        "--head",
        "side@head",
        "--depends-on",
        "p1",
        "--rev-id",
        "s2",
    ]);
    let heads = ids(&p.ok(&["heads", "-f", "json"]).json());
    assert_eq!(heads, ["p1", "s2"]);
    let text = std::fs::read_to_string(p.dir().join("versions/s2_more_side.sql")).unwrap();
    assert!(text.contains("-- down_revision: s1\n"), "{text}");
    assert!(text.contains("-- depends_on: [p1]\n"), "{text}");
    p.usage(&["new", "-m", "dup", "--rev-id", "s1", "--head", "p1"]);
    p.usage(&[
        "new",
        "-m",
        "dup label",
        "--branch-label",
        "side",
        "--head",
        "p1",
    ]);
    let merged = p
        .ok(&["merge", "-m", "join", "--rev-id", "j1", "-f", "json"])
        .json();
    assert_eq!(merged["down_revisions"], serde_json::json!(["p1", "s2"]));
    assert_eq!(ids(&p.ok(&["heads", "-f", "json"]).json()), ["j1"]);
    // The four scaffolds are untouched: check names each; the merge has a
    // comment in its upgrade section and is fine as it is.
    let v = p.fail(&["check", "-f", "json"]).json();
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "{v}");
    for (problem, file) in problems.iter().zip([
        "versions/u1_create_users.sql:",
        "versions/p1_posts.sql:",
        "versions/s1_side.sql:",
        "versions/s2_more_side.sql:",
    ]) {
        assert_eq!(problem["kind"], "empty_upgrade", "{v}");
        assert!(problem["message"].as_str().unwrap().contains(file), "{v}");
    }
    for (i, file) in ["u1_create_users", "p1_posts", "s1_side", "s2_more_side"]
        .iter()
        .enumerate()
    {
        let path = p.dir().join(format!("versions/{file}.sql"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen(
            "-- +upgrade\n",
            &format!("-- +upgrade\nCREATE TABLE t{i} (x INTEGER);\n"),
            1,
        );
        std::fs::write(&path, text).unwrap();
    }
    p.ok(&["check"]);
    // The merge has a (no-op) downgrade, so it never blocks `downgrade`.
    let show = p.ok(&["show", "j1"]).stdout;
    assert!(!show.contains("irreversible"), "{show}");
    // Nothing left to merge.
    p.usage(&["merge", "-m", "again"]);
}

/// Writes `versions/m.sql`: a base revision whose sections are `up` and
/// `down`, with `marker` where its `-- +downgrade` line would be.
fn with_marker(p: &Project, marker: &str) -> PathBuf {
    let path = p.dir().join("versions/m.sql");
    std::fs::write(
        &path,
        format!("-- revision: m\n-- down_revision: null\n-- message: users v2\n\n-- +upgrade\nCREATE TABLE users_v2 (id INTEGER PRIMARY KEY);\n\n{marker}\nDROP TABLE users_v2;\n"),
    )
    .unwrap();
    path
}

#[test]
fn mistyped_markers_fail_check_naming_file_line_and_marker() {
    let p = Project::sqlite_file();
    for marker in [
        "-- +Downgrade",
        "--+downgrade",
        "  -- +downgrade",
        "-- ++downgrade",
        "-- downgrade:",
        "-- +down",
        "-- +downgrade -- drops the new table",
    ] {
        with_marker(&p, marker);
        let out = p.fail(&["check"]);
        assert!(
            out.stdout
                .contains(&format!("versions/m.sql:8: `{}`", marker.trim())),
            "{marker:?}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("write `-- +downgrade` exactly"),
            "{}",
            out.stdout
        );
        assert_eq!(
            p.fail(&["check", "-f", "json"]).json()["problems"][0]["kind"],
            "parse"
        );
        // Every command that reads the files refuses it, and no database
        // is created, let alone changed.
        for args in [
            &["upgrade", "head"][..],
            &["upgrade", "head", "--sql"],
            &["upgrade", "head", "--dry-run"],
        ] {
            let out = p.usage(args);
            assert!(out.stderr.contains("versions/m.sql:8"), "{}", out.stderr);
        }
        assert!(!p.dir().join("test.db").exists());
    }
    // A second marker names the line of the first.
    with_marker(&p, "-- +downgrade\nDROP TABLE users_v2;\n-- +downgrade");
    let out = p.fail(&["check"]);
    assert!(
        out.stdout.contains(
            "versions/m.sql:10: a second `-- +downgrade` marker (the first is on line 8)"
        ),
        "{}",
        out.stdout
    );
    // Ordinary comments that use the words are SQL; the marker is exact.
    with_marker(
        &p,
        "-- upgrade the users table to v2\n-- downgrade path is lossy\n-- +downgrade   ",
    );
    p.ok(&["check"]);
    let show = p.ok(&["show", "m"]).stdout;
    assert!(
        show.ends_with("-- +downgrade\nDROP TABLE users_v2;\n"),
        "{show}"
    );
}

#[test]
fn untouched_scaffold_is_reported_and_refused() {
    let p = Project::sqlite_file();
    p.ok(&["new", "-m", "create users", "--rev-id", "u1"]);
    let file = p.dir().join("versions/u1_create_users.sql");
    let out = p.fail(&["check"]);
    assert!(
        out.stdout.contains(
            "versions/u1_create_users.sql:6: revision `u1` has an empty `-- +upgrade` section"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("`-- intentionally empty`"),
        "{}",
        out.stdout
    );
    let v = p.fail(&["check", "-f", "json"]).json();
    assert_eq!(v["problems"][0]["kind"], "empty_upgrade", "{v}");
    // upgrade, --sql and --dry-run: the same plan, the same refusal, and no
    // database file.
    for args in [
        &["upgrade", "head", "-f", "json"][..],
        &["upgrade", "head", "--sql", "-f", "json"],
        &["upgrade", "head", "--dry-run", "-f", "json"],
    ] {
        let err = p.usage(args).error_json();
        assert_eq!(err["error"]["kind"], "empty_upgrade", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("revision `u1`") && message.contains("u1_create_users.sql:6"),
            "{message}"
        );
    }
    let out = p.usage(&["upgrade", "head"]);
    assert!(
        out.stderr.contains("hint: nothing was run"),
        "{}",
        out.stderr
    );
    assert!(!p.dir().join("test.db").exists());
    // A comment says it is empty on purpose.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("-- +upgrade\n", "-- +upgrade\n-- intentionally empty\n", 1),
    )
    .unwrap();
    p.ok(&["check"]);
    p.ok(&["upgrade", "head", "--sql"]);
    // Its downgrade section is there but empty: irreversible, and said so.
    assert!(p
        .ok(&["show", "u1"])
        .stdout
        .contains("(empty: irreversible)"));
    let out = p.ok(&["history", "-v"]);
    assert!(
        out.stdout.contains("irreversible: empty downgrade section"),
        "{}",
        out.stdout
    );
    let out = p.usage(&["downgrade", "base", "--sql", "--from", "u1"]);
    assert!(
        out.stderr
            .contains("its `-- +downgrade` section (versions/u1_create_users.sql:10) is empty"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("has no `-- +downgrade` section"),
        "{}",
        out.stderr
    );
}

#[test]
fn merge_refuses_revisions_that_are_not_heads() {
    // b
    // |
    // a   c
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    p.revision("b", "a", "");
    p.revision("c", "null", "");
    // `a` already has a child: a merge naming it would start a second line
    // above `a` instead of joining heads. Alembic refuses it too.
    let out = p.usage(&["merge", "a", "c", "-m", "odd"]);
    assert_eq!(
        p.run(&["merge", "a", "c", "-m", "odd", "-f", "json"])
            .error_json()["error"]["kind"],
        "not_a_head"
    );
    assert!(out.stderr.contains("`a` is not a head"), "{}", out.stderr);
    assert!(out.stderr.contains("rev heads"), "{}", out.stderr);
    let files = std::fs::read_dir(p.dir().join("versions")).unwrap().count();
    assert_eq!(files, 3, "nothing was written");
    p.ok(&["merge", "b", "c", "-m", "join"]);
}

#[test]
fn project_template_overrides_the_builtin_one() {
    let p = Project::sqlite_file();
    std::fs::create_dir(p.dir().join("templates")).unwrap();
    std::fs::write(
        p.dir().join("templates/revision.sql.j2"),
        "-- revision: {{ revision }}\n-- down_revision: {{ down_revision }}\n-- message: {{ message }}\n-- ticket: none\n-- +upgrade\n-- +downgrade\n",
    )
    .unwrap();
    p.ok(&["new", "-m", "x", "--rev-id", "t1"]);
    let text = std::fs::read_to_string(p.dir().join("versions/t1_x.sql")).unwrap();
    assert!(text.contains("-- ticket: none"), "{text}");
    // The unknown key is a warning, not an error.
    let out = p.ok(&["heads"]);
    assert!(
        out.stderr.contains("unknown header key `ticket`"),
        "{}",
        out.stderr
    );
}

#[test]
fn init_creates_a_project_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(dir.path())
        .args(["init", "proj"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("proj/config.yaml").is_file());
    assert!(dir.path().join("proj/templates/revision.sql.j2").is_file());
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(dir.path())
        .args(["-c", "proj/config.yaml", "new", "-m", "first"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(dir.path())
        .args(["init", "proj"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn graph_renders_dot_and_mermaid() {
    let p = Project::sqlite_file();
    p.branchy();
    let dot = p.ok(&["graph"]).stdout;
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("\"m\" -> \"c\""), "{dot}");
    assert!(dot.contains("\"e\" -> \"b\" [style=dashed"), "{dot}");
    let mermaid = p.ok(&["graph", "-f", "mermaid"]).stdout;
    assert!(mermaid.starts_with("flowchart"), "{mermaid}");
    assert!(mermaid.contains("m --> c"), "{mermaid}");
}

#[test]
fn no_project_and_no_url_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(dir.path())
        .arg("heads")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rev init"));
    let p = Project::sqlite_file();
    std::fs::write(p.dir().join("config.yaml"), "script_location: versions\n").unwrap();
    let out = p.usage(&["current"]);
    for way in ["--database-url", "DATABASE_URL", "config.yaml"] {
        assert!(out.stderr.contains(way), "{}", out.stderr);
    }
}

#[test]
fn sql_and_dry_run_need_no_database_changes() {
    let p = Project::sqlite_file();
    p.branchy();
    let out = p.ok(&["upgrade", "heads", "--sql"]);
    assert!(out.stdout.contains("CREATE TABLE t_a"), "{}", out.stdout);
    assert!(out.stdout.contains("schema_migrations"), "{}", out.stdout);
    assert!(
        !p.dir().join("test.db").exists(),
        "--sql must not create the database"
    );
    let out = p.ok(&["downgrade", "base", "--sql", "--from", "c"]);
    let drop_c = out.stdout.find("DROP TABLE t_c").unwrap();
    let drop_a = out.stdout.find("DROP TABLE t_a").unwrap();
    assert!(drop_c < drop_a, "children first:\n{}", out.stdout);
    assert!(
        !out.stdout.contains("DROP TABLE t_d"),
        "d was not applied:\n{}",
        out.stdout
    );
}

#[test]
fn upgrade_reports_each_revision_as_it_runs() {
    let p = Project::sqlite_file();
    p.branchy();
    let out = p.ok(&["upgrade", "heads"]);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("upgrade "))
        .collect();
    assert_eq!(lines.len(), 6, "{}", out.stderr);
    assert!(
        lines[0].starts_with("upgrade   a  make a ("),
        "{}",
        out.stderr
    );
    assert!(
        lines[5].starts_with("upgrade   m  make m ("),
        "{}",
        out.stderr
    );
    // -q keeps stderr for errors only; JSON keeps it for errors only.
    assert_eq!(p.ok(&["downgrade", "base", "-q"]).stderr, "");
    let out = p.ok(&["upgrade", "heads", "-f", "json"]);
    assert_eq!(out.stderr, "");
    assert_eq!(out.json()["applied"].as_array().map(Vec::len), Some(6));
}

#[test]
fn reading_commands_create_no_sqlite_file() {
    let p = Project::sqlite_file();
    p.branchy();
    assert_eq!(
        p.ok(&["current", "-f", "json"]).json(),
        serde_json::json!([])
    );
    let status = p.ok(&["status", "-f", "json"]).json();
    assert_eq!(status["pending"].as_array().map(Vec::len), Some(6));
    let plan = p
        .ok(&["upgrade", "heads", "--dry-run", "-f", "json"])
        .json();
    assert_eq!(plan.as_array().map(Vec::len), Some(6));
    assert!(
        !p.dir().join("test.db").exists(),
        "a read created the database file"
    );
}

#[test]
fn usage_errors_are_json_when_json_is_asked_for() {
    let p = Project::sqlite_file();
    p.branchy();
    let out = p.usage(&["upgrade", "billing@@x", "-f", "json"]);
    let err = out.error_json();
    assert_eq!(err["error"]["kind"], "usage");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("billing@@x"),
        "{err}"
    );
    let out = p.usage(&["upgrade", "billing@@x"]);
    assert!(
        out.stderr.starts_with("error: invalid value 'billing@@x'"),
        "{}",
        out.stderr
    );
}

#[test]
fn review_gaps_short_ids_base_and_multiline_messages() {
    let p = Project::sqlite_file();
    p.revision("d1", "null", "");
    p.revision("d2", "d1", "");
    let out = p.usage(&["show", "d3"]);
    assert!(out.stderr.contains("did you mean"), "{}", out.stderr);
    let out = p.usage(&["show", "base"]);
    assert!(out.stderr.contains("names no revision"), "{}", out.stderr);
    p.ok(&["new", "-m", "line one\nline two", "--rev-id", "d3"]);
    let heads = p.ok(&["heads"]).stdout;
    assert_eq!(heads.lines().count(), 1, "{heads}");
    assert!(heads.contains("line one line two"), "{heads}");
}

#[test]
fn history_range_relative_to_current_is_explained() {
    let p = Project::sqlite_file();
    p.branchy();
    let out = p.usage(&["history", "-r", "-1:"]);
    assert!(out.stderr.contains("does not read"), "{}", out.stderr);
    assert_eq!(
        ids(&p.ok(&["history", "-r", "c-1:c", "-f", "json"]).json()),
        ["c", "b"]
    );
}

// ---- Branches as Alembic defines them, and `downgrade -N` by applied order.

impl Project {
    /// The first column of every row of `sql` in the project's SQLite
    /// database, read with sqlx rather than through rev, sorted.
    fn db_strings(&self, sql: &str) -> Vec<String> {
        let mut v = self.file_rows(sql);
        v.sort();
        v
    }

    /// The applied revisions, from the tracking table.
    fn recorded(&self) -> Vec<String> {
        self.db_strings("SELECT version FROM schema_migrations")
    }

    /// The revisions' tables (each revision creates `t_<id>`).
    fn t_tables(&self) -> Vec<String> {
        self.db_strings(
            "SELECT substr(name, 3) FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 2) = 't_'",
        )
    }

    /// A history split at `b`, with `c2` labelled `feature`:
    ///
    /// ```text
    ///   d1    d2
    ///   |     |
    ///   c1    c2 (feature)
    ///    \   /
    ///      b
    ///      |
    ///      a
    /// ```
    fn split(&self) {
        self.revision("a", "null", "");
        self.revision("b", "a", "");
        self.revision("c1", "b", "");
        self.revision("d1", "c1", "");
        self.revision("c2", "b", "-- branch_labels: [feature]\n");
        self.revision("d2", "c2", "");
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn depends_on_names_a_branch_label_as_written() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    p.revision("b", "a", "-- branch_labels: [feature-2]\n");
    p.revision("x", "null", "-- depends_on: [feature-2]\n");
    // The label is the labelled revision: it is applied first.
    assert_eq!(
        ids(&p.ok(&["history", "-f", "json"]).json()),
        ["x", "b", "a"]
    );
    p.ok(&["upgrade", "x"]);
    assert_eq!(p.recorded(), strs(&["a", "b", "x"]));
    assert_eq!(p.t_tables(), strs(&["a", "b", "x"]));
    // `rev new --depends-on LABEL` writes the label as given; an id or a
    // prefix is written as the full id.
    p.ok(&[
        "new",
        "-m",
        "y",
        "--rev-id",
        "y",
        "--head",
        "x",
        "--depends-on",
        "feature-2",
        "--depends-on",
        "a",
    ]);
    let text = std::fs::read_to_string(p.dir().join("versions").join("y_y.sql"))
        .or_else(|_| {
            let path = std::fs::read_dir(p.dir().join("versions"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("y_"))
                .unwrap();
            std::fs::read_to_string(path)
        })
        .unwrap();
    assert!(text.contains("-- depends_on: [feature-2, a]"), "{text}");
    let y = p.ok(&["show", "y", "-f", "json"]).json();
    assert_eq!(y["depends_on"], serde_json::json!(["feature-2", "a"]));
    // Neither an id nor a label: the error names the file and says so.
    p.revision("z", "null", "-- depends_on: [nope]\n");
    let out = p.usage(&["heads"]);
    assert!(
        out.stderr.contains("z.sql: depends_on names `nope`")
            && out.stderr.contains("branch label"),
        "{}",
        out.stderr
    );
}

#[test]
fn label_at_rev_below_the_branch_point_reverts_the_lineage_only() {
    let p = Project::sqlite_file();
    p.split();
    p.ok(&["upgrade", "heads"]);
    // The branch point is on feature's lineage: only c2 and d2 go.
    p.ok(&["downgrade", "feature@b"]);
    assert_eq!(p.recorded(), strs(&["a", "b", "c1", "d1"]));
    assert_eq!(p.t_tables(), strs(&["a", "b", "c1", "d1"]));
    p.ok(&["upgrade", "heads"]);
    // Below it, b goes, and c1 and d1 are built on b.
    let plan = ids(&p
        .ok(&["downgrade", "feature@a", "--dry-run", "-f", "json"])
        .json());
    assert_eq!(plan, ["d2", "d1", "c2", "c1", "b"]);
    // The revision before `@` names its lineage too.
    p.ok(&["downgrade", "c1@b"]);
    assert_eq!(p.recorded(), strs(&["a", "b", "c2", "d2"]));
    // Off the lineage: refused, naming the branch, nothing changed.
    let out = p.usage(&["downgrade", "feature@c1", "-f", "json"]);
    let err = out.error_json();
    assert_eq!(err["error"]["kind"], "not_on_branch");
    assert_eq!(
        err["error"]["message"],
        "revision `c1` is not on branch `feature`"
    );
    assert!(
        err["error"]["hints"].to_string().contains("lineage"),
        "{err}"
    );
    assert_eq!(p.recorded(), strs(&["a", "b", "c2", "d2"]));
}

#[test]
fn label_at_prefix_and_base_plus_n_work_on_the_lineage() {
    let p = Project::sqlite_file();
    p.split();
    // `d` is d1 or d2 in the graph, only d2 on feature's lineage.
    assert_eq!(
        p.usage(&["show", "d", "-f", "json"]).error_json()["error"]["kind"],
        "ambiguous_revision"
    );
    assert_eq!(
        p.ok(&["show", "feature@d", "-f", "json"]).json()["revision"],
        "d2"
    );
    assert_eq!(
        p.ok(&["show", "feature@c", "-f", "json"]).json()["revision"],
        "c2"
    );
    // A prefix matching two revisions of the lineage is ambiguous, and the
    // error lists those two, not c1 beside them.
    p.revision("cz", "d2", "");
    let err = p.usage(&["show", "feature@c", "-f", "json"]).error_json();
    assert_eq!(err["error"]["kind"], "ambiguous_revision");
    let message = err["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "revision `c` is ambiguous: it matches `c2` and `cz`"
    );
    std::fs::remove_file(p.dir().join("versions/cz.sql")).unwrap();

    // `feature@base+2` is b: two up the lineage from its root.
    p.ok(&["upgrade", "feature@base+2"]);
    assert_eq!(p.recorded(), strs(&["a", "b"]));
    p.ok(&["upgrade", "feature@base+4"]);
    assert_eq!(p.recorded(), strs(&["a", "b", "c2", "d2"]));
    let out = p.usage(&["upgrade", "feature@base+5", "-f", "json"]);
    assert_eq!(out.error_json()["error"]["kind"], "overshoot");
    // Down to the first revision: everything above it on the lineage.
    p.ok(&["downgrade", "feature@base+1"]);
    assert_eq!(p.recorded(), strs(&["a"]));
    assert_eq!(p.t_tables(), strs(&["a"]));
}

#[test]
fn label_at_base_reaches_a_shared_root_and_says_so() {
    let p = Project::sqlite_file();
    p.split();
    p.ok(&["upgrade", "heads"]);
    let out = p.ok(&["downgrade", "feature@base", "--dry-run"]);
    assert!(
        out.stdout.contains("the root of `feature` (a)")
            && out.stdout.contains("so also d1, c1, not on `feature`")
            && out
                .stdout
                .contains("`rev downgrade feature@b` reverts `feature` alone"),
        "{}",
        out.stdout
    );
    // JSON stays an array of steps.
    let plan = p
        .ok(&["downgrade", "feature@base", "--dry-run", "-f", "json"])
        .json();
    assert_eq!(ids(&plan), ["d2", "d1", "c2", "c1", "b", "a"]);
    let out = p.ok(&["downgrade", "feature@base"]);
    assert!(
        out.stderr.contains("reverted the root of `feature` (a)"),
        "{}",
        out.stderr
    );
    assert!(p.recorded().is_empty());
    assert!(p.t_tables().is_empty());
}

#[test]
fn heads_and_current_leave_out_a_dependency_only_head() {
    // x2 depends on y1, which nothing else builds on.
    let p = Project::sqlite_file();
    p.revision("x1", "null", "");
    p.revision("x2", "x1", "-- depends_on: [y1]\n");
    p.revision("y1", "null", "");
    // `rev heads` lists every revision no down_revision names, y1 as an
    // "effective head" (Alembic's name)...
    assert_eq!(ids(&p.ok(&["heads", "-f", "json"]).json()), ["y1", "x2"]);
    let text = p.ok(&["heads"]).stdout;
    assert!(text.contains("y1 (effective head, base)"), "{text}");
    assert!(text.contains("x2 (head)"), "{text}");
    // ...the target `heads` only what nothing names.
    assert_eq!(ids(&p.ok(&["show", "heads", "-f", "json"]).json()), ["x2"]);
    p.ok(&["upgrade", "heads"]);
    assert_eq!(p.recorded(), strs(&["x1", "x2", "y1"]));
    assert_eq!(
        p.ok(&["current", "-f", "json"]).json(),
        serde_json::json!(["x2"])
    );
    p.ok(&["current", "--check-heads"]);
    // Reverting x2 makes y1 a current head again.
    p.ok(&["downgrade", "x1"]);
    assert_eq!(p.recorded(), strs(&["x1", "y1"]));
    assert_eq!(
        p.ok(&["current", "-f", "json"]).json(),
        serde_json::json!(["x1", "y1"])
    );
    p.fail(&["current", "--check-heads"]);
}

#[test]
fn downgrade_minus_n_counts_applied_revisions_with_ties_by_plan_order() {
    //   m
    //  / \
    // b   c
    //  \ /
    //   a
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    p.revision("b", "a", "");
    p.revision("c", "a", "");
    p.revision("m", "[b, c]", "");
    p.ok(&["upgrade", "head"]);
    // Alembic's `-1` stops here ("Ambiguous walk"); rev reverts the merge.
    let out = p.ok(&["downgrade", "-1", "--dry-run"]);
    assert!(
        out.stdout
            .contains("`-1` reverts the revision applied last"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("downgrade m  make m  (applied 20"),
        "{}",
        out.stdout
    );
    let out = p.ok(&["downgrade", "-1"]);
    assert!(
        out.stderr
            .contains("`-1` reverted m, the revision applied last"),
        "{}",
        out.stderr
    );
    assert_eq!(p.recorded(), strs(&["a", "b", "c"]));
    assert_eq!(p.t_tables(), strs(&["a", "b", "c"]));
    p.ok(&["upgrade", "head"]);
    assert_eq!(p.recorded(), strs(&["a", "b", "c", "m"]));

    // b applied after c: `-2` reverts m, then b.
    p.file_exec(
        "UPDATE schema_migrations SET applied_at = CASE version \
           WHEN 'a' THEN '2026-05-01T10:00:00.100Z' WHEN 'c' THEN '2026-05-01T10:00:00.200Z' \
           WHEN 'b' THEN '2026-05-01T10:00:00.300Z' ELSE '2026-05-01T10:00:00.400Z' END",
    );
    let plan = ids(&p.ok(&["downgrade", "-2", "--dry-run", "-f", "json"]).json());
    assert_eq!(plan, ["m", "b"]);
    // b and c in one millisecond: a tie, and c is later in plan order.
    p.file_exec(
        "UPDATE schema_migrations SET applied_at = '2026-05-01T10:00:00.300Z' WHERE version = 'c'",
    );
    let out = p.ok(&["downgrade", "-2"]);
    assert!(
        out.stderr.contains("reverted the 2 revisions applied last, newest first: m (applied 2026-05-01T10:00:00.400Z), c (applied 2026-05-01T10:00:00.300Z)"),
        "{}",
        out.stderr
    );
    assert_eq!(p.recorded(), strs(&["a", "b"]));
    assert_eq!(p.t_tables(), strs(&["a", "b"]));
    // Too many: an overshoot, and nothing runs.
    let out = p.usage(&["downgrade", "-3", "-f", "json"]);
    assert_eq!(out.error_json()["error"]["kind"], "overshoot");
    assert_eq!(p.recorded(), strs(&["a", "b"]));
    // `REV-N` still walks the graph.
    p.ok(&["upgrade", "head"]);
    let out = p.usage(&["downgrade", "m-1", "-f", "json"]);
    assert_eq!(out.error_json()["error"]["kind"], "ambiguous_walk");

    // A script from --from has no applied order: plan order, said in it.
    let out = p.ok(&["downgrade", "-2", "--sql", "--from", "m"]);
    assert!(
        out.stdout.contains("counts back in plan order"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("DROP TABLE t_c") && !out.stdout.contains("DROP TABLE t_b"),
        "{}",
        out.stdout
    );
    // Without --from it reads the database, and its applied order.
    p.file_exec(
        "UPDATE schema_migrations SET applied_at = CASE version \
           WHEN 'a' THEN '2026-05-01T10:00:00.100Z' WHEN 'c' THEN '2026-05-01T10:00:00.200Z' \
           WHEN 'b' THEN '2026-05-01T10:00:00.300Z' ELSE '2026-05-01T10:00:00.400Z' END",
    );
    let out = p.ok(&["downgrade", "-2", "--sql"]);
    assert!(
        out.stdout.contains("DROP TABLE t_b") && !out.stdout.contains("DROP TABLE t_c"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("plan order"), "{}", out.stdout);
    assert_eq!(p.recorded(), strs(&["a", "b", "c", "m"]));
}

#[test]
fn usage_errors_are_json_with_an_equals_sign_too() {
    let p = Project::sqlite_file();
    p.branchy();
    for flag in [["-f=json"], ["--format=json"], ["-fjson"]] {
        let out = p.usage(&[flag[0], "upgrade", "billing@@x"]);
        assert_eq!(out.error_json()["error"]["kind"], "usage", "{flag:?}");
    }
}

#[test]
fn empty_database_url_leaves_a_relative_sqlite_path_beside_config_yaml() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    let elsewhere = tempfile::tempdir().unwrap();
    let config = p.dir().join("config.yaml");
    let out = Command::cargo_bin("rev")
        .unwrap()
        .current_dir(elsewhere.path())
        .env("DATABASE_URL", "")
        .env("NO_COLOR", "1")
        .args(["-c", config.to_str().unwrap(), "upgrade", "head"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(p.dir().join("test.db").exists(), "not beside config.yaml");
    assert!(!elsewhere.path().join("test.db").exists());
}
