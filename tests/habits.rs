//! What Alembic users type, and the small surprises a new user meets: flags
//! after targets, `history -r current:`, `upgrade A:B --sql`,
//! `version_locations`, reserved branch labels, `stamp --dry-run -f json`,
//! misspelled header keys and `.sql` files in sub-folders. Each test runs the
//! real binary on a real SQLite file and reads the database back.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use kit::{Project, Run};

use std::path::PathBuf;

use serde_json::Value;

/// The revisions of this suite, on a project whose database is the SQLite
/// file `test.db` beside config.yaml.
impl Project {
    /// A revision in `folder` whose upgrade a user would write: a table,
    /// a trigger keeping an audit row, and seed data.
    fn revision_in(&self, folder: &str, id: &str, down: &str, extra: &str) -> PathBuf {
        self.write_made(
            folder,
            id,
            down,
            extra,
            &format!(
                "CREATE TABLE t_{id} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                 CREATE TABLE t_{id}_audit (id INTEGER, at TEXT);\n\
                 CREATE TRIGGER t_{id}_ins AFTER INSERT ON t_{id} BEGIN\n  \
                 INSERT INTO t_{id}_audit VALUES (NEW.id, 'now');\nEND;\n\
                 INSERT INTO t_{id} (name) VALUES ('seed');"
            ),
            &format!("DROP TABLE t_{id}_audit;\nDROP TABLE t_{id};"),
        )
    }

    fn revision(&self, id: &str, down: &str, extra: &str) -> PathBuf {
        self.revision_in("versions", id, down, extra)
    }

    /// ```text
    ///   c   e (e: branch billing starts at d)
    ///   |   |
    ///   b   d
    ///    \ /
    ///     a
    /// ```
    fn forked(&self) {
        self.revision("a", "null", "");
        self.revision("b", "a", "");
        self.revision("c", "b", "");
        self.revision("d", "a", "-- branch_labels: [billing]\n");
        self.revision("e", "d", "");
    }

    fn expect(&self, args: &[&str], code: i32) -> Run {
        self.exits(code, args)
    }

    /// The tracking table's revisions, sorted.
    fn recorded(&self) -> Vec<String> {
        self.file_rows("SELECT version FROM schema_migrations ORDER BY version")
    }

    fn t_tables(&self) -> Vec<String> {
        self.file_rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\' ORDER BY name",
        )
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|r| r["revision"].as_str().unwrap().to_string())
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn flags_work_after_the_targets_of_every_command() {
    let p = Project::sqlite_file();
    p.forked();
    // upgrade / downgrade: flags after the target, and -N still a target.
    let plan = p
        .ok(&["upgrade", "heads", "--dry-run", "-f", "json"])
        .json();
    assert_eq!(plan.as_array().unwrap().len(), 5, "{plan}");
    p.ok(&["upgrade", "c", "-q"]);
    assert_eq!(p.recorded(), ["a", "b", "c"]);
    let down = p.ok(&["downgrade", "-1", "--dry-run", "-f", "json"]).json();
    assert_eq!(ids(&down), ["c"]);
    p.ok(&["downgrade", "-1", "-q"]);
    assert_eq!(p.recorded(), ["a", "b"]);
    assert_eq!(p.t_tables(), ["t_a", "t_a_audit", "t_b", "t_b_audit"]);

    // stamp: `heads --purge`, `X -f json`, `X --dry-run`, `-1 --dry-run`.
    let stamped = p.ok(&["stamp", "heads", "--purge", "-f", "json"]).json();
    assert_eq!(
        stamped["added"],
        serde_json::json!(["c", "d", "e"]),
        "{stamped}"
    );
    assert_eq!(p.recorded(), ["a", "b", "c", "d", "e"]);
    p.ok(&["stamp", "c", "--purge", "-f", "json"]);
    assert_eq!(p.recorded(), ["a", "b", "c"]);
    let out = p.ok(&["stamp", "a", "--dry-run"]);
    assert!(out.stdout.contains("would record: a"), "{}", out.stdout);
    let out = p.ok(&["stamp", "-1", "--dry-run"]);
    assert!(out.stdout.contains("would record: b"), "{}", out.stdout);
    assert_eq!(p.recorded(), ["a", "b", "c"], "dry runs change nothing");

    // The commands that read targets but no database.
    assert_eq!(p.ok(&["show", "c", "-f", "json"]).json()["revision"], "c");
    let head = p.ok(&["show", "billing@head", "-f", "json"]).json();
    assert_eq!(head["revision"], "e");
    let new = p
        .ok(&[
            "new", "-m", "more", "--head", "c", "--rev-id", "f", "-f", "json",
        ])
        .json();
    assert_eq!(new["down_revisions"], serde_json::json!(["c"]));
    let merged = p
        .ok(&[
            "merge", "f", "e", "-m", "join", "--rev-id", "g", "-f", "json",
        ])
        .json();
    assert_eq!(merged["down_revisions"], serde_json::json!(["e", "f"]));
    let hist = p.ok(&["history", "-r", "c:", "-f", "json"]).json();
    assert_eq!(ids(&hist), ["g", "f", "c"]);

    // accept: change an applied file, accept it with a flag after it.
    let c = p.dir().join("versions/c.sql");
    let text = std::fs::read_to_string(&c).unwrap();
    std::fs::write(&c, text.replace("'seed'", "'seed2'")).unwrap();
    let before = p.file_rows("SELECT checksum FROM schema_migrations WHERE version = 'c'");
    let accepted = p.ok(&["accept", "c", "-f", "json"]).json();
    assert_eq!(accepted, serde_json::json!(["c"]));
    let after = p.file_rows("SELECT checksum FROM schema_migrations WHERE version = 'c'");
    assert_ne!(before, after, "accept re-recorded the checksum");

    // A misspelled flag after a target is still a usage error, not a target.
    let out = p.expect(&["stamp", "heads", "--prge"], 2);
    assert!(out.stderr.contains("--prge"), "{}", out.stderr);
    assert_eq!(p.recorded(), ["a", "b", "c"]);
}

#[test]
fn stamp_dry_run_json_has_the_shape_of_stamp_json() {
    let p = Project::sqlite_file();
    p.forked();
    p.ok(&["upgrade", "c", "-q"]);
    let preview = p
        .ok(&["stamp", "e", "--purge", "--dry-run", "-f", "json"])
        .json();
    assert_eq!(p.recorded(), ["a", "b", "c"], "a dry run writes nothing");
    let real = p.ok(&["stamp", "e", "--purge", "-f", "json"]).json();
    assert_eq!(keys(&preview), keys(&real));
    assert_eq!(keys(&real), ["added", "removed"]);
    // The preview said exactly what the stamp then did.
    assert_eq!(preview, real);
    assert_eq!(real["removed"], serde_json::json!(["c", "b"]));
    assert_eq!(real["added"], serde_json::json!(["d", "e"]));
    assert_eq!(p.recorded(), ["a", "d", "e"]);
    // Nothing to do: both empty, in the same shape.
    let none = p.ok(&["stamp", "e", "--dry-run", "-f", "json"]).json();
    assert_eq!(none, serde_json::json!({"added": [], "removed": []}));
}

#[test]
fn history_takes_current_in_ranges_and_indicates_it() {
    let p = Project::sqlite_file();
    p.forked();
    p.ok(&["upgrade", "b", "-q"]);
    assert_eq!(p.recorded(), ["a", "b"]);
    let above = p.ok(&["history", "-r", "current:", "-f", "json"]).json();
    assert_eq!(ids(&above), ["c", "b"]);
    let below = p
        .ok(&["history", "-r", "base:current", "-f", "json"])
        .json();
    assert_eq!(ids(&below), ["b", "a"]);
    let marked = p
        .ok(&["history", "--indicate-current", "-f", "json"])
        .json();
    let current: Vec<&str> = marked
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["current"] == true)
        .map(|r| r["revision"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["b"]);
    let text = p.ok(&["history", "-i"]).stdout;
    let line = text.lines().find(|l| l.contains("-> b")).unwrap();
    assert!(line.ends_with("make b (current)"), "{text}");
    assert_eq!(text.matches("(current)").count(), 1, "{text}");

    // Move the database, and `current` follows it.
    p.ok(&["upgrade", "billing@head", "-q"]);
    assert_eq!(p.recorded(), ["a", "b", "d", "e"]);
    let above = p.ok(&["history", "-r", "current:", "-f", "json"]).json();
    assert_eq!(ids(&above), ["e", "c", "b"]);
    // At base, `current:` is everything and `base:current` nothing.
    p.ok(&["downgrade", "base", "-q"]);
    assert!(p.recorded().is_empty());
    let all = p.ok(&["history", "-r", "current:", "-f", "json"]).json();
    assert_eq!(all.as_array().unwrap().len(), 5);
    let none = p
        .ok(&["history", "-r", "base:current", "-f", "json"])
        .json();
    assert_eq!(none, serde_json::json!([]));
    // Without `current`, history still needs no database.
    let q = Project::with_config("script_location: versions\n");
    q.revision("a", "null", "");
    q.ok(&["history", "-r", "base:a"]);
    let err = q.expect(&["history", "-r", "current:", "-f", "json"], 2);
    assert_eq!(
        err.error_json()["error"]["kind"],
        "no_database_url",
        "{}",
        err.stderr
    );
}

#[test]
fn an_offline_range_is_the_script_from_its_start() {
    let p = Project::sqlite_file();
    p.forked();
    let range = p.ok(&["upgrade", "a:c", "--sql"]).stdout;
    let from = p.ok(&["upgrade", "c", "--sql", "--from", "a"]).stdout;
    assert_eq!(range, from);
    assert!(range.contains("CREATE TABLE t_b") && !range.contains("CREATE TABLE t_a "));
    let down = p.ok(&["downgrade", "c:a", "--sql"]).stdout;
    assert!(down.contains("DROP TABLE t_c") && down.contains("DROP TABLE t_b"));
    assert!(!down.contains("DROP TABLE t_a"), "{down}");
    assert!(
        !p.dir().join("test.db").exists(),
        "--sql touches no database"
    );

    let err = p.expect(&["upgrade", "a:c", "-f", "json"], 2);
    assert_eq!(err.error_json()["error"]["kind"], "invalid_range");
    let err = p.expect(&["upgrade", "a:c", "--sql", "--from", "b"], 2);
    assert!(err.stderr.contains("give one"), "{}", err.stderr);
    assert!(!p.dir().join("test.db").exists());
}

#[test]
fn version_locations_form_one_graph() {
    let p = Project::with_config(
        "database_url: sqlite://test.db?mode=rwc\nscript_location: versions\nversion_locations: [billing/versions]\n",
    );
    std::fs::create_dir_all(p.dir().join("billing/versions")).unwrap();
    p.revision("a", "null", "");
    p.revision_in(
        "billing/versions",
        "bill1",
        "a",
        "-- branch_labels: [billing]\n",
    );
    p.revision("b", "a", "");
    let heads = p.ok(&["heads", "-f", "json"]).json();
    let mut h = ids(&heads);
    h.sort();
    assert_eq!(h, ["b", "bill1"]);
    // `rev new` writes into the first folder unless told.
    let new = p
        .ok(&[
            "new", "-m", "c", "--head", "b", "--rev-id", "c", "-f", "json",
        ])
        .json();
    assert!(
        new["path"].as_str().unwrap().starts_with("versions/"),
        "{new}"
    );
    let new = p
        .ok(&[
            "new",
            "-m",
            "invoices",
            "--head",
            "billing@head",
            "--rev-id",
            "bill2",
            "--version-path",
            "billing/versions",
            "-f",
            "json",
        ])
        .json();
    assert_eq!(new["path"], "billing/versions/bill2_invoices.sql");
    let err = p.expect(
        &[
            "new",
            "-m",
            "x",
            "--head",
            "c",
            "--version-path",
            "elsewhere",
        ],
        2,
    );
    assert!(
        err.stderr.contains("not one of the version locations"),
        "{}",
        err.stderr
    );

    // One run applies revisions of both folders.
    std::fs::remove_file(p.dir().join("billing/versions/bill2_invoices.sql")).unwrap();
    std::fs::remove_file(p.dir().join("versions/c_c.sql")).unwrap();
    p.revision_in("billing/versions", "bill2", "bill1", "");
    p.revision("c", "b", "");
    p.ok(&["upgrade", "heads", "-q"]);
    assert_eq!(p.recorded(), ["a", "b", "bill1", "bill2", "c"]);
    assert_eq!(p.file_rows("SELECT count(*) FROM t_bill2_audit"), ["1"]);

    // The same id in two folders is a duplicate.
    p.revision_in("billing/versions", "b", "a", "");
    let err = p.expect(&["heads", "-f", "json"], 2);
    assert_eq!(err.error_json()["error"]["kind"], "duplicate_revision");
    std::fs::remove_file(p.dir().join("billing/versions/b.sql")).unwrap();

    // Alembic's one string of folders, and no script_location.
    std::fs::write(
        p.dir().join("config.yaml"),
        "database_url: sqlite://test.db\nversion_locations: billing/versions versions\n",
    )
    .unwrap();
    let new = p
        .ok(&[
            "new", "-m", "x", "--head", "bill2", "--rev-id", "bill3", "-f", "json",
        ])
        .json();
    assert_eq!(new["path"], "billing/versions/bill3_x.sql");
}

#[test]
fn target_words_are_refused_as_branch_labels() {
    for word in ["head", "heads", "base", "current"] {
        let p = Project::sqlite_file();
        p.revision("a", "null", "");
        p.revision("b", "a", &format!("-- branch_labels: [{word}]\n"));
        let out = p.expect(&["check", "-f", "json"], 1);
        let problems = &out.json()["problems"];
        assert_eq!(problems[0]["kind"], "parse", "{out:?}", out = out.stdout);
        let message = problems[0]["message"].as_str().unwrap();
        assert!(message.contains("versions/b.sql:3"), "{message}");
        assert!(message.contains(&format!("`{word}`")), "{message}");
        // Refused before any SQL runs.
        let err = p.expect(&["upgrade", "heads", "-f", "json"], 2);
        assert_eq!(err.error_json()["error"]["kind"], "parse");
        assert!(!p.dir().join("test.db").exists());

        std::fs::remove_file(p.dir().join("versions/b.sql")).unwrap();
        let err = p.expect(&["new", "-m", "x", "--branch-label", word, "-f", "json"], 2);
        assert_eq!(err.error_json()["error"]["kind"], "invalid_label");
    }
}

#[test]
fn heads_show_their_branch_labels_and_show_says_branch_labels() {
    let p = Project::sqlite_file();
    p.forked();
    let text = p.ok(&["heads"]).stdout;
    let e = text.lines().find(|l| l.contains("-> e")).unwrap();
    assert!(e.contains("[branch: billing]"), "{text}");
    let c = text.lines().find(|l| l.contains("-> c")).unwrap();
    assert!(!c.contains("branch:"), "{text}");
    // A head that carries the label itself says it once.
    p.revision("f", "c", "-- branch_labels: [reports]\n");
    let text = p.ok(&["heads"]).stdout;
    let f = text.lines().find(|l| l.contains("-> f")).unwrap();
    assert!(
        f.contains("label: reports") && !f.contains("[branch:"),
        "{text}"
    );
    std::fs::remove_file(p.dir().join("versions/f.sql")).unwrap();
    let json = p.ok(&["heads", "-f", "json"]).json();
    let e = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["revision"] == "e")
        .unwrap();
    assert_eq!(e["branches"], serde_json::json!(["billing"]));

    let show = p.ok(&["show", "e"]).stdout;
    assert!(show.contains("Branch labels: billing"), "{show}");
    assert!(!show.contains("Branches into"), "{show}");
    let show = p.ok(&["show", "a"]).stdout;
    assert!(show.contains("Branches into: b, d"), "{show}");

    // The database: billing@head (named through the label heads shows).
    p.ok(&["upgrade", "billing@head", "-q"]);
    assert_eq!(p.recorded(), ["a", "d", "e"]);
}

#[test]
fn check_fails_on_a_misspelled_header_key() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    p.revision("b", "a", "-- transactinal: false\n");
    let out = p.expect(&["check"], 1);
    assert!(out.stdout.contains("versions/b.sql:3"), "{}", out.stdout);
    assert!(
        out.stdout.contains("did you mean `transactional`?"),
        "{}",
        out.stdout
    );
    let json = p.expect(&["check", "-f", "json"], 1).json();
    assert_eq!(json["problems"][0]["kind"], "unknown_key");
    let out = p.ok(&["check", "--allow-unknown-keys"]);
    assert!(out.stdout.starts_with("ok:"), "{}", out.stdout);
    assert!(
        out.stderr.contains("did you mean `transactional`?"),
        "{}",
        out.stderr
    );

    // Other commands warn and go on: b ran in a transaction, as the
    // misspelling means.
    let out = p.ok(&["upgrade", "heads"]);
    assert!(
        out.stderr.contains("unknown header key `transactinal`"),
        "{}",
        out.stderr
    );
    assert_eq!(p.recorded(), ["a", "b"]);
    assert_eq!(p.file_rows("SELECT count(*) FROM t_b_audit"), ["1"]);
}

#[test]
fn sql_files_in_sub_folders_are_named() {
    let p = Project::sqlite_file();
    p.revision("a", "null", "");
    std::fs::create_dir_all(p.dir().join("versions/old/deeper")).unwrap();
    p.revision_in("versions/old", "b", "a", "");
    p.revision_in("versions/old/deeper", "c", "b", "");
    std::fs::write(p.dir().join("versions/old/notes.txt"), "not sql").unwrap();
    std::fs::create_dir_all(p.dir().join("versions/.hidden")).unwrap();
    p.revision_in("versions/.hidden", "h", "a", "");
    let out = p.ok(&["heads"]);
    assert!(
        out.stderr
            .contains("2 .sql files in sub-folders of versions"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("versions/old/b.sql"), "{}", out.stderr);
    assert!(
        out.stderr.contains("versions/old/deeper/c.sql"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("notes.txt") && !out.stderr.contains(".hidden"));
    // They are not revisions: only a runs.
    p.ok(&["upgrade", "heads", "-q"]);
    assert_eq!(p.recorded(), ["a"]);
    // A sub-folder listed in version_locations is read, not warned about.
    std::fs::write(
        p.dir().join("config.yaml"),
        "database_url: sqlite://test.db\nversion_locations: [versions, versions/old]\n",
    )
    .unwrap();
    let out = p.ok(&["upgrade", "heads"]);
    assert!(
        out.stderr.contains("versions/old/deeper/c.sql"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("versions/old/b.sql"), "{}", out.stderr);
    assert_eq!(p.recorded(), ["a", "b"]);
}

#[test]
fn revision_is_alembics_word_for_new() {
    let p = Project::sqlite_file();
    let first = p
        .ok(&[
            "revision",
            "-m",
            "create users",
            "--rev-id",
            "a1",
            "-f",
            "json",
        ])
        .json();
    assert_eq!(first["path"], "versions/a1_create_users.sql");
    let second = p
        .ok(&[
            "revision",
            "-m",
            "add email",
            "--rev-id",
            "b2",
            "-f",
            "json",
        ])
        .json();
    let text = std::fs::read_to_string(p.dir().join(second["path"].as_str().unwrap())).unwrap();
    assert!(text.contains("-- down_revision: a1"), "{text}");
    let help = p.ok(&["--help"]).stdout;
    assert!(
        help.contains("revision"),
        "the alias is shown in --help:\n{help}"
    );
    for (file, sql) in [
        (&first, "CREATE TABLE users (id INTEGER PRIMARY KEY);"),
        (&second, "ALTER TABLE users ADD COLUMN email TEXT;"),
    ] {
        let path = p.dir().join(file["path"].as_str().unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("-- +upgrade\n", &format!("-- +upgrade\n{sql}\n"), 1);
        std::fs::write(&path, text).unwrap();
    }
    p.ok(&["upgrade", "head"]);
    assert_eq!(
        p.file_rows("SELECT name FROM pragma_table_info('users') ORDER BY cid"),
        ["id", "email"]
    );
    assert_eq!(p.recorded(), ["a1", "b2"]);
}
