//! Hostile input: nothing a user or a checkout can put in front of rev makes
//! it panic, and the broken inputs a person is likely to meet get a clear
//! error naming the file.
//!
//! Three layers:
//! - property tests (proptest) of the parsers on arbitrary and on
//!   format-shaped input: the revision-file parser, the target parser, the
//!   config loader, database URLs and the SQL statement splitter. Where a
//!   round trip exists it is checked too. `PROPTEST_CASES=20000 cargo test
//!   --test hostile_input` fuzzes longer.
//! - a regression corpus, `tests/fuzz_corpus/<parser>/*`: every file is fed
//!   to its parser with the same checks. Inputs that once failed (or that
//!   are nasty on purpose: YAML alias bombs, deep nesting, NUL bytes) live
//!   there; proptest also records its own failures in
//!   `tests/hostile_input.proptest-regressions`.
//! - the CLI against broken projects: a binary file, a huge file, invalid
//!   UTF-8, wrongly typed headers, unknown keys, a bad `version_table`, a
//!   config that is not a mapping.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::path::{Path, PathBuf};

use kit::Project;
use proptest::prelude::*;
use rev::backend::split::split_statements;
use rev::config::Config;
use rev::revision;
use rev::target::Target;
use rev::url::{BackendKind, DatabaseUrl};

// ---------------------------------------------------------------------------
// The checks, shared by the property tests and the corpus.

/// The revision parser never panics; what it accepts is stable under the
/// changes a checkout can make (CRLF line endings, a BOM) and its checksum
/// is that of its upgrade section.
fn check_revision(text: &str) {
    let path = Path::new("versions/fuzz.sql");
    let parsed = revision::parse(text, path);
    if let Err(e) = &parsed {
        // Errors name the file.
        assert!(e.to_string().starts_with("versions/fuzz.sql"), "{e}");
    }
    let Ok(r) = parsed else { return };
    assert!(revision::is_valid_id(&r.id), "{:?}", r.id);
    assert_eq!(r.checksum, revision::checksum(&r.upgrade_sql));
    assert_eq!(
        revision::normalise(&revision::normalise(&r.upgrade_sql)),
        revision::normalise(&r.upgrade_sql)
    );
    let with_bom = if text.starts_with('\u{feff}') {
        text.to_owned()
    } else {
        format!("\u{feff}{text}")
    };
    let again = revision::parse(&with_bom, path).expect("a BOM changes nothing");
    assert_eq!(again, r);
    if !text.contains('\r') {
        let crlf = text.replace('\n', "\r\n");
        let again = revision::parse(&crlf, path).expect("CRLF changes nothing");
        assert_eq!(
            (&again.id, &again.down_revisions, &again.depends_on),
            (&r.id, &r.down_revisions, &r.depends_on)
        );
        assert_eq!(
            again.checksum, r.checksum,
            "CRLF line endings must not read as drift"
        );
    }
}

/// The target parser never panics, and what it accepts prints as text that
/// parses back to the same target.
fn check_target(text: &str) {
    if let Ok(t) = text.parse::<Target>() {
        let shown = t.to_string();
        let back: Target = shown
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` printed as `{shown}`, which fails: {e}"));
        assert_eq!(back, t, "`{text}` printed as `{shown}`");
    }
}

/// The config loader never panics; errors name the file; an accepted
/// config has its paths under the config's folder.
fn check_config(text: &str) {
    let env = |var: &str| (var == "SET").then(|| "value".to_owned());
    match Config::parse(text, Path::new("proj/config.yaml"), Path::new("proj"), &env) {
        Ok(c) => {
            if !Path::new(&c.script_location).is_absolute() {
                assert!(c.script_location.starts_with("proj"), "{c:?}");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("proj/config.yaml"), "{e}"),
    }
}

/// URL parsing never panics, and no printed form shows a password.
fn check_url(text: &str) {
    if let Ok(u) = DatabaseUrl::parse(text, Path::new("/base")) {
        let _ = (u.kind(), u.host(), u.port(), u.username(), u.has_password());
        let shown = format!("{u} {u:?}");
        if u.has_password() {
            assert!(shown.contains("****"), "{shown}");
        }
    }
}

/// The statement splitter (used to locate a failing statement) never
/// panics, and its statements are the input's own text at their offsets,
/// in order, without overlap, trimmed and not empty.
fn check_sql(text: &str) {
    for kind in [
        BackendKind::Sqlite,
        BackendKind::Postgres,
        BackendKind::MySql,
    ] {
        let mut end = 0;
        for s in split_statements(text, kind) {
            assert!(
                s.offset >= end,
                "{kind}: {:?} overlaps the one before",
                s.text
            );
            assert_eq!(
                text.get(s.offset..s.offset + s.text.len()),
                Some(s.text),
                "{kind}: offset {} does not point at the statement",
                s.offset
            );
            assert!(
                !s.text.is_empty() && s.text.trim() == s.text,
                "{kind}: {:?}",
                s.text
            );
            end = s.offset + s.text.len();
            let _ = s.first_line();
        }
    }
}

// ---------------------------------------------------------------------------
// Generators shaped like the formats, so the parsers are driven past their
// first checks, next to plain arbitrary strings.

fn yaml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("".to_owned()),
        Just("true".to_owned()),
        Just("[a, b]".to_owned()),
        Just("{a: b}".to_owned()),
        Just("[".to_owned()),
        Just("'quoted # not a comment'".to_owned()),
        Just("000000000012".to_owned()),
        Just("1e5".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("!!binary aGVsbG8=".to_owned()),
        Just("- a".to_owned()),
        Just("|".to_owned()),
        "[a-zA-Z0-9_]{1,14}",
        "[a-z0-9_, \\[\\]{}:#'\"&*!|>-]{0,24}",
        any::<String>(),
    ]
}

fn header_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("revision".to_owned()),
        Just("down_revision".to_owned()),
        Just("branch_labels".to_owned()),
        Just("depends_on".to_owned()),
        Just("message".to_owned()),
        Just("create_date".to_owned()),
        Just("transactional".to_owned()),
        "[a-z_]{1,10}",
    ]
}

fn revision_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (header_key(), yaml_value()).prop_map(|(k, v)| format!("-- {k}: {v}")),
        2 => Just("-- +upgrade".to_owned()),
        1 => Just("-- +downgrade".to_owned()),
        1 => Just("".to_owned()),
        1 => Just("   ".to_owned()),
        1 => Just("-- free text".to_owned()),
        2 => "[A-Z ;()'\"0-9a-z$\\-\\\\*/]{0,30}",
        1 => any::<String>(),
    ]
}

/// A file with a valid head start and random lines after it.
fn revision_text() -> impl Strategy<Value = String> {
    (
        "[a-z0-9_]{1,12}",
        prop::option::of("[a-z0-9_]{1,12}"),
        prop::collection::vec(revision_line(), 0..16),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(id, parent, lines, eol)| {
            let mut all = vec![
                format!("-- revision: {id}"),
                format!("-- down_revision: {}", parent.as_deref().unwrap_or("null")),
            ];
            all.extend(lines);
            all.join(eol)
        })
}

fn target_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("head".to_owned()),
        Just("heads".to_owned()),
        Just("base".to_owned()),
        Just("@".to_owned()),
        Just("+".to_owned()),
        Just("-".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("0".to_owned()),
        "[a-f0-9]{1,12}",
        "[a-z_-]{1,8}",
        "[0-9]{1,25}",
    ];
    prop::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

fn config_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("database_url".to_owned()),
        Just("script_location".to_owned()),
        Just("version_table".to_owned()),
        Just("file_template".to_owned()),
        Just("transaction_per_migration".to_owned()),
        Just("lock_timeout_seconds".to_owned()),
        Just("connect_timeout_seconds".to_owned()),
        Just("connect_retries".to_owned()),
        "[a-z_]{1,10}",
    ];
    let value = prop_oneof![
        yaml_value(),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("${SET}".to_owned()),
        Just("${UNSET}".to_owned()),
        Just("postgres://u:${SET}@h/db".to_owned()),
        Just("/absolute".to_owned()),
        Just("../up".to_owned()),
    ];
    prop::collection::vec((key, value, "[ \t]{0,2}"), 0..10).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(k, v, indent)| format!("{indent}{k}: {v}\n"))
            .collect()
    })
}

fn url_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "postgres",
            "postgresql",
            "mysql",
            "mariadb",
            "sqlite",
            "oracle",
            "",
        ]),
        prop::sample::select(vec!["://", ":", ":///", "//"]),
        "[a-z%@:/?=&.\\[\\]0-9]{0,30}",
    )
        .prop_map(|(scheme, sep, rest)| format!("{scheme}{sep}{rest}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn revision_parser_survives_any_text(text in any::<String>()) {
        check_revision(&text);
    }

    #[test]
    fn revision_parser_survives_format_shaped_text(text in revision_text()) {
        check_revision(&text);
    }

    #[test]
    fn revision_files_of_any_bytes_load_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sql");
        std::fs::write(&path, &bytes).unwrap();
        match revision::read(&path) {
            Ok(r) => prop_assert!(std::str::from_utf8(&bytes).is_ok() && revision::is_valid_id(&r.id)),
            Err(e) => prop_assert!(e.to_string().contains("x.sql"), "{}", e),
        }
    }

    #[test]
    fn target_parser_survives_any_text(text in any::<String>()) {
        check_target(&text);
    }

    #[test]
    fn targets_round_trip(text in target_text()) {
        check_target(&text);
    }

    #[test]
    fn config_loader_survives_any_text(text in any::<String>()) {
        check_config(&text);
    }

    #[test]
    fn config_loader_survives_config_shaped_text(text in config_text()) {
        check_config(&text);
    }

    #[test]
    fn urls_survive_and_never_show_a_password(text in url_text(), other in any::<String>()) {
        check_url(&text);
        check_url(&other);
    }

    #[test]
    fn passwords_never_show(user in "[a-z]{1,8}", password in "PW[a-zA-Z0-9@:/%?#]{4,12}", host in "[a-z]{1,8}") {
        let raw = format!(
            "postgres://{user}:{}@{host}:5432/db",
            percent_encoding::utf8_percent_encode(&password, percent_encoding::NON_ALPHANUMERIC)
        );
        let u = DatabaseUrl::parse(&raw, Path::new("/")).unwrap();
        let shown = format!("{u} {u:?}");
        prop_assert!(!shown.contains(&password), "{}", shown);
        let driver_message = format!("failed for {raw} with password {password}");
        prop_assert!(!rev::url::mask_secrets(&driver_message, &u).contains(&password));
    }

    #[test]
    fn sql_splitter_survives_any_text(text in any::<String>()) {
        check_sql(&text);
    }

    #[test]
    fn sql_splitter_survives_sql_shaped_text(text in "[a-zA-Z ;'\"$\\-/*\\n\\\\`]{0,80}") {
        check_sql(&text);
    }
}

// ---------------------------------------------------------------------------
// The regression corpus.

fn corpus(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", root.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on each corpus file of `dir` (as lossy UTF-8), naming the
/// file if it panics.
fn run_corpus(dir: &str, check: fn(&str)) {
    for (path, bytes) in corpus(dir) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(panic) = std::panic::catch_unwind(|| check(&text)) {
            panic!("{}: {:?}", path.display(), panic.downcast_ref::<String>());
        }
    }
}

#[test]
fn revision_corpus() {
    run_corpus("revision", check_revision);
    // The raw bytes too, through the file reader: the binary and
    // non-UTF-8 entries must fail cleanly, naming the file.
    for (path, _) in corpus("revision") {
        if let Err(e) = revision::read(&path) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(e.to_string().contains(&name), "{e}");
        }
    }
}

#[test]
fn target_corpus() {
    run_corpus("target", check_target);
}

#[test]
fn config_corpus() {
    run_corpus("config", check_config);
}

#[test]
fn url_corpus() {
    run_corpus("url", check_url);
}

#[test]
fn sql_corpus() {
    run_corpus("sql", check_sql);
}

// ---------------------------------------------------------------------------
// The CLI on broken projects.

const GOOD: &str = "-- revision: aaa\n-- down_revision: null\n-- message: first\n\n-- +upgrade\nCREATE TABLE t (id INTEGER);\n\n-- +downgrade\nDROP TABLE t;\n";

/// A project with one good revision and a SQLite database.
fn project() -> Project {
    let p = Project::with_config("database_url: sqlite://app.db?mode=rwc\n");
    std::fs::write(p.path("versions/aaa_first.sql"), GOOD).unwrap();
    p
}

/// Runs `check` and a database command on a project with `name` holding
/// `bytes`: both fail with `exit` (check: 1; others: 2, an input error),
/// name the file, say `what`, and never panic.
fn refused(name: &str, bytes: &[u8], what: &str) {
    let p = project();
    std::fs::write(p.dir().join("versions").join(name), bytes).unwrap();
    for (args, exit) in [(&["check"][..], 1), (&["upgrade", "head"][..], 2)] {
        let out = p.run(args);
        // `check` lists problems on stdout, errors go to stderr.
        let err = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, exit, "{args:?}: {err}");
        assert!(err.contains(name), "{args:?}: no file name in: {err}");
        assert!(err.contains(what), "{args:?}: expected `{what}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The files are read before any connection: no database was created.
    assert!(!p.dir().join("app.db").exists());
}

#[test]
fn binary_file_in_versions() {
    let mut bytes = b"-- revision: bbb\n-- down_revision: aaa\n-- +upgrade\n".to_vec();
    bytes.extend([0u8, 159, 146, 150, 0, 1, 2, 255, 254]);
    refused("bbb_blob.sql", &bytes, "not UTF-8 text (a binary file");
    // Valid UTF-8 with NUL bytes is binary too.
    refused(
        "ccc_nul.sql",
        b"-- revision: ccc\n-- down_revision: aaa\n-- +upgrade\nSELECT\0 1;\n",
        "a binary file",
    );
}

#[test]
fn invalid_utf8_file() {
    refused(
        "bbb_latin1.sql",
        b"-- revision: bbb\n-- down_revision: aaa\n-- message: caf\xe9\n-- +upgrade\nSELECT 1;\n",
        "must be UTF-8",
    );
}

#[test]
fn huge_file() {
    let mut text = String::from("-- revision: bbb\n-- down_revision: aaa\n-- +upgrade\n");
    let line = "INSERT INTO t VALUES (1);\n";
    let lines = (revision::MAX_FILE_BYTES as usize) / line.len() + 2;
    text.reserve(lines * line.len());
    for _ in 0..lines {
        text.push_str(line);
    }
    refused("bbb_huge.sql", text.as_bytes(), "limited to 16777216 bytes");
}

#[test]
fn header_values_of_the_wrong_shape() {
    for (header, what) in [
        (
            "-- down_revision: {a: b}",
            "down_revision: expected a string or a list",
        ),
        (
            "-- down_revision: [a, [b]]",
            "down_revision: expected a string or a list",
        ),
        (
            "-- down_revision: aaa\n-- transactional: maybe",
            "transactional: expected true or false",
        ),
        (
            "-- down_revision: aaa\n-- message: [unclosed",
            "message: invalid YAML value",
        ),
        (
            "-- down_revision: aaa\n-- branch_labels: {x: 1}",
            "branch_labels: expected a string or a list",
        ),
        ("-- down_revision: 'a b'", "is not a valid revision id"),
        (
            "-- down_revision: aaa\n-- create_date: [1]",
            "create_date: expected a date string",
        ),
    ] {
        let text = format!("-- revision: bbb\n{header}\n-- +upgrade\nSELECT 1;\n");
        refused("bbb_bad.sql", text.as_bytes(), what);
    }
}

#[test]
fn unknown_header_key_is_a_warning() {
    let p = project();
    std::fs::write(
        p.dir().join("versions/bbb_second.sql"),
        "-- revision: bbb\n-- down_revision: aaa\n-- colour: blue\n-- +upgrade\nCREATE TABLE u (id INTEGER);\n",
    )
    .unwrap();
    let out = p.run(&["upgrade", "head"]);
    let err = &out.stderr;
    assert_eq!(out.code, 0, "{err}");
    assert!(
        err.contains("versions/bbb_second.sql:3: unknown header key `colour`"),
        "{err}"
    );
}

#[test]
fn version_table_that_is_not_an_identifier() {
    for name in ["\"x; DROP TABLE t\"", "\"a.b\"", "\"\"", "[1, 2]"] {
        let p = project();
        std::fs::write(
            p.dir().join("config.yaml"),
            format!("database_url: sqlite://app.db?mode=rwc\nversion_table: {name}\n"),
        )
        .unwrap();
        for args in [
            &["upgrade", "head"][..],
            &["current"],
            &["upgrade", "head", "--sql"],
        ] {
            let out = p.run(args);
            let err = &out.stderr;
            assert_eq!(out.code, 2, "{name} {args:?}: {err}");
            assert!(err.contains("config.yaml"), "{err}");
            assert!(err.contains("version_table"), "{err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        // Nothing was created: the name never reached the database.
        assert!(!p.dir().join("app.db").exists(), "{name}");
    }
}

#[test]
fn config_that_is_not_a_mapping_or_not_text() {
    for (text, what) in [
        (&b"- a\n- b\n"[..], "expected a mapping"),
        (b"just a string\n", "expected a mapping"),
        (b"lock_timeout_seconds: -5\n", "lock_timeout_seconds"),
        (b"connect_retries: [1]\n", "connect_retries"),
        (b"\xff\xfe\x00d\x00b", "not UTF-8"),
        (b"a: &a [*a, *a]\n", "recursion limit"),
    ] {
        let p = project();
        std::fs::write(p.dir().join("config.yaml"), text).unwrap();
        let out = p.run(&["current"]);
        let err = &out.stderr;
        assert_eq!(out.code, 2, "{err}");
        assert!(err.contains("config.yaml") && err.contains(what), "{err}");
    }
}

#[test]
fn no_url_without_a_terminal_fails_at_once_listing_the_three_ways() {
    let p = project();
    std::fs::write(p.dir().join("config.yaml"), "script_location: versions\n").unwrap();
    let start = std::time::Instant::now();
    let out = p.run(&["current"]);
    let err = &out.stderr;
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.code, 2, "{err}");
    for way in ["--database-url", "DATABASE_URL", "database_url"] {
        assert!(err.contains(way), "{way} missing: {err}");
    }
    // Nothing was asked and nothing written.
    assert!(!err.contains("Database ["), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.dir().join("config.yaml")).unwrap(),
        "script_location: versions\n"
    );
    let out = p.run(&["-f", "json", "current"]);
    let v: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(v["error"]["kind"], "no_database_url");
}

#[test]
fn hostile_targets_on_the_command_line() {
    let p = project();
    for target in [
        "",
        "@",
        "a@@b",
        "+99999999999999999999",
        "-0",
        "head@x",
        "ä",
        "a b",
        "--1",
    ] {
        let out = p.run(&["upgrade", target, "--sql"]);
        let err = &out.stderr;
        assert_eq!(out.code, 2, "{target:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
