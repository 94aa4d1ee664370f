//! Pictures of the revision graph through the real binary: the terminal
//! graph of `rev history --graph` (exact text, as a snapshot), with and
//! without a database, and the SVG of `rev graph -f svg`, read back by an
//! XML parser.
//!
//! Applied marks are checked against real databases (a SQLite file,
//! PostgreSQL and MariaDB through the `TestDb` kit): the test reads the tracking table
//! and the created tables itself, and the marks must say the same.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::path::PathBuf;

use kit::{Project, TestDb};

on_every_backend!(applied_marks_match_the_database);

/// A project whose config.yaml names `database_url`, or no database.
fn project(database_url: Option<&str>) -> Project {
    let url = database_url
        .map(|u| format!("database_url: '{u}'\n"))
        .unwrap_or_default();
    Project::with_config(&format!("{url}script_location: versions\n"))
}

/// The revisions and pictures of this suite.
impl Project {
    /// Writes revision `id`; `down` is `null`, an id or a `[a, b]` list;
    /// `extra` adds header lines. Its upgrade creates table `t_<id>` with an
    /// index and a first row, as a real revision would.
    fn revision(&self, id: &str, down: &str, extra: &str) -> PathBuf {
        self.write_made(
            "versions",
            id,
            down,
            extra,
            &format!(
                "CREATE TABLE t_{id} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n\
                 CREATE INDEX t_{id}_name ON t_{id} (name);\n\
                 INSERT INTO t_{id} (id, name) VALUES (1, 'first');"
            ),
            &format!("DROP TABLE t_{id};"),
        )
    }

    /// Writes every revision of a compact spec: `id:parents[:label]`,
    /// parents comma-separated, `-` for a base.
    fn history(&self, spec: &str) {
        for entry in spec.split_whitespace() {
            let mut parts = entry.split(':');
            let id = parts.next().unwrap();
            let down = match parts.next().unwrap() {
                "-" => "null".to_string(),
                one if !one.contains(',') => one.to_string(),
                many => format!("[{many}]"),
            };
            let extra = parts
                .next()
                .map(|l| format!("-- branch_labels: [{l}]\n"))
                .unwrap_or_default();
            self.revision(id, &down, &extra);
        }
    }

    /// `rev history --graph` with no database configured: the picture, and
    /// the one line on stderr that says so.
    fn graph_alone(&self, extra: &[&str]) -> String {
        let mut args = vec!["history", "--graph"];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        assert_eq!(
            out.stderr,
            "no database configured: drawing the graph without applied marks\n"
        );
        out.stdout
    }
}

#[test]
fn graph_of_a_chain() {
    let p = project(None);
    p.history("a:- b:a c:b");
    assert_eq!(
        p.graph_alone(&[]),
        "\
* c (head) make c
* b make b
* a make a
"
    );
    // A range draws only its revisions.
    assert_eq!(
        p.graph_alone(&["-r", "b:"]),
        "\
* c (head) make c
* b make b
"
    );
}

#[test]
fn graph_of_a_branch() {
    let p = project(None);
    p.history("a:- b:a c:a");
    assert_eq!(
        p.graph_alone(&[]),
        "\
* c (head) make c
| * b (head) make b
|/
* a make a
"
    );
}

#[test]
fn graph_of_a_merge_of_merges() {
    //     n
    //    / \
    //   m   d
    //  / \  |
    // b   c |
    //  \ /  |
    //   a --+
    let p = project(None);
    p.history("a:- b:a c:a d:a m:b,c n:m,d");
    assert_eq!(
        p.graph_alone(&[]),
        "\
* n (head) make n
|\\
| * d make d
* | m make m
|\\|_
| | * c make c
* | | b make b
|/_/
* a make a
"
    );
}

#[test]
fn graph_of_two_bases() {
    // Two lines that never meet share the column; a line with no lane
    // keeps them apart.
    let p = project(None);
    p.history("x1:- x2:x1 y1:- y2:y1");
    assert_eq!(
        p.graph_alone(&[]),
        "\
* y2 (head) make y2
* y1 make y1

* x2 (head) make x2
* x1 make x1
"
    );
}

#[test]
fn graph_of_a_labelled_branch() {
    let p = project(None);
    p.history("a:- b:a c:a:billing d:c");
    assert_eq!(
        p.graph_alone(&[]),
        "\
* d (head) make d
* c (label: billing) make c
| * b (head) make b
|/
* a make a
"
    );
}

#[test]
fn graph_has_no_json_form() {
    let p = project(None);
    p.history("a:-");
    let out = p.run(&["history", "--graph", "-f", "json"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "graph_as_json");
}

#[test]
fn unreachable_database_draws_the_graph_and_says_so_once() {
    // Nothing listens on port 1; the password must not show in the note.
    let p = project(Some("postgres://app:s3cret@127.0.0.1:1/app"));
    p.history("a:- b:a");
    let out = p.ok(&["history", "--graph"]);
    assert_eq!(out.stdout, "* b (head) make b\n* a make a\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with(
            "cannot read the applied revisions of postgres://app:****@127.0.0.1:1/app"
        ) && lines[0].ends_with("drawing the graph without applied marks"),
        "{}",
        lines[0]
    );
    assert!(!out.stderr.contains("s3cret"));
}

/// The scenario behind the applied marks, on any backend: a branch and a
/// merge, upgraded to the labelled side of the branch only.
async fn applied_marks_match_the_database(db: TestDb) {
    let p = project(Some(&db.url.with_credentials_exposed()));
    p.history("a:- b:a:billing c:a m:b,c");
    p.ok(&["upgrade", "b"]);

    // What the database holds, read by the test itself.
    for (id, applied) in [("a", true), ("b", true), ("c", false), ("m", false)] {
        let rows = db
            .query_i64(&format!(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = '{id}'"
            ))
            .await;
        assert_eq!(rows, i64::from(applied), "tracking row of {id}");
        assert_eq!(db.has_table(&format!("t_{id}")).await, applied, "t_{id}");
    }

    let out = p.ok(&["history", "--graph"]);
    assert_eq!(
        out.stdout,
        "\
o m (head) make m
|\\
| o c make c
* | b (current, label: billing) make b
|/
* a make a
"
    );
    let note = format!(
        "database {}: * applied, o not applied, ! stopped part-way\n",
        db.url
    );
    assert_eq!(out.stderr, note);

    // Reading the marks took no lock and changed nothing.
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await,
        2
    );

    p.ok(&["upgrade", "heads"]);
    let out = p.ok(&["history", "--graph"]);
    assert!(
        out.stdout.starts_with("* m (head, current) make m\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("o "), "{}", out.stdout);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await,
        4
    );
}

#[test]
fn reading_the_marks_creates_no_sqlite_file() {
    let p = project(Some("sqlite://app.db?mode=rwc"));
    p.history("a:- b:a");
    let out = p.ok(&["history", "--graph"]);
    assert_eq!(out.stdout, "o b (head) make b\no a make a\n");
    assert!(!p.dir().join("app.db").exists());
}

/// Every `<g class="rev">` of the document: its `id` attribute and its text.
fn svg_revisions(svg: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("the SVG is not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("rev"))
        .map(|g| {
            let text: String = g
                .descendants()
                .find(|n| n.has_tag_name("text"))
                .map(|t| {
                    t.descendants()
                        .filter(|n| n.is_text())
                        .filter_map(|n| n.text())
                        .collect()
                })
                .unwrap_or_default();
            (g.attribute("id").unwrap_or_default().to_string(), text)
        })
        .collect()
}

#[test]
fn svg_is_xml_and_names_every_revision() {
    let p = project(None);
    p.history("a:- b:a c:a:billing m:b,c");
    // A message full of markup, quotes and a control character.
    std::fs::write(
        p.dir().join("versions/z.sql"),
        "-- revision: z\n-- down_revision: m\n\
         -- message: \"<script>alert('x')</script> & \\\"more\\\" \\x01\"\n\n\
         -- +upgrade\nCREATE TABLE t_z (id INTEGER);\n\n-- +downgrade\nDROP TABLE t_z;\n",
    )
    .unwrap();
    let out = p.ok(&["graph", "-f", "svg"]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let revs = svg_revisions(&out.stdout);
    let ids: Vec<&str> = revs.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["rev-z", "rev-m", "rev-c", "rev-b", "rev-a"]);
    assert_eq!(
        revs[0].1,
        "z head <script>alert('x')</script> & \"more\" \u{FFFD}"
    );
    assert_eq!(revs[2].1, "c [billing] make c");
    assert_eq!(revs[4].1, "a make a");
}

#[test]
fn svg_of_three_hundred_revisions() {
    let p = project(None);
    std::fs::remove_dir(p.dir().join("versions")).unwrap();
    rev::synth::write(
        &p.dir().join("versions"),
        rev::synth::Shape::Branches {
            branches: 4,
            merge_every: 20,
        },
        300,
    )
    .unwrap();
    let out = p.ok(&["graph", "-f", "svg"]);
    let revs = svg_revisions(&out.stdout);
    assert_eq!(revs.len(), 300);
    let graph = rev::graph::Graph::load(&p.dir().join("versions")).unwrap();
    for r in graph.revisions() {
        let id = format!("rev-{}", r.id);
        let found = revs.iter().find(|(g, _)| *g == id);
        let (_, text) = found.unwrap_or_else(|| panic!("{} is not in the SVG", r.id));
        assert!(
            text.starts_with(&r.id) && text.ends_with(&r.message),
            "{text}"
        );
    }
    // One row per revision: the picture grows with the history, no more.
    let doc = roxmltree::Document::parse(&out.stdout).unwrap();
    let height: usize = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(height, 2 * 12 + 300 * 24);
}

#[tokio::test]
async fn a_revision_stopped_part_way_is_marked() {
    // A `transactional: false` revision that fails after its first
    // statement stays recorded as in progress: neither applied nor pending.
    let db = TestDb::sqlite().await.expect("a SQLite file");
    let p = project(Some(&db.url.with_credentials_exposed()));
    p.history("a:-");
    std::fs::write(
        p.dir().join("versions/b.sql"),
        "-- revision: b\n-- down_revision: a\n-- transactional: false\n-- message: backfill\n\n\
         -- +upgrade\n\
         CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);\n\
         INSERT INTO audit_typo (note) VALUES ('x');\n\n\
         -- +downgrade\nDROP TABLE audit;\n",
    )
    .unwrap();
    assert_eq!(p.run(&["upgrade", "head"]).code, 1);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_migrations WHERE version = 'b' AND in_progress")
            .await,
        1
    );
    let out = p.ok(&["history", "--graph"]);
    assert_eq!(
        out.stdout,
        "! b (head, in progress) backfill\n* a (current) make a\n"
    );
}
