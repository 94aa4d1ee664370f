//! Fleets: `--all` and `--db NAME` over the `databases:` of one config,
//! against real SQLite files, PostgreSQL and MariaDB databases. Every
//! assertion reads the databases back through their own connections.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use kit::{Project, Rev, TestDb};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A password that must never be printed.
const SECRET: &str = "fleetSecret42";

/// A project of three revisions (a table, a row in it, a second table)
/// over the databases `dbs`; `broken` makes the third one fail everywhere.
fn project(dbs: &[(&str, String)], broken: bool) -> Project {
    project_with(dbs, "INSERT INTO items (id) VALUES (7);", broken)
}

/// r01 of [`slow_project`]: rows enough to take a good part of a second on
/// every backend, so a fleet is still running when Ctrl+C comes.
const SLOW_ROWS: i64 = 1_000_000;

/// [`project`] whose r01 inserts [`SLOW_ROWS`] rows.
fn slow_project(dbs: &[(&str, String)]) -> Project {
    let slow = format!(
        "INSERT INTO items (id) WITH RECURSIVE n(i) AS \
         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SLOW_ROWS}) SELECT i FROM n;"
    );
    project_with(dbs, &slow, false)
}

/// The three revisions of [`project`], with `second` as r01's SQL.
fn project_with(dbs: &[(&str, String)], second: &str, broken: bool) -> Project {
    let mut config = String::from(
        "script_location: versions\nconnect_timeout_seconds: 5\nconnect_retries: 0\ndatabases:\n",
    );
    for (name, url) in dbs {
        config.push_str(&format!("  {name}: '{url}'\n"));
    }
    let p = Project::with_config(&config);
    let third = if broken {
        "CREATE TABLE tags (id INTEGER NOT NULL,);"
    } else {
        "CREATE TABLE tags (id INTEGER NOT NULL);"
    };
    let steps = [
        (
            "r00",
            &[][..],
            "CREATE TABLE items (id INTEGER NOT NULL);",
            "DROP TABLE items;",
        ),
        ("r01", &["r00"][..], second, "DELETE FROM items;"),
        ("r02", &["r01"][..], third, "DROP TABLE tags;"),
    ];
    for (id, down, up, down_sql) in steps {
        p.write(&Rev {
            id,
            down,
            header: &[],
            up,
            down_sql,
        });
    }
    p
}

/// `rev ARGS -f json`: the exit code and the report.
fn fleet_report(p: &Project, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut all = args.to_vec();
    all.extend(["-f", "json"]);
    let out = p.run(&all);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {}", out.text()));
    let dbs = v["databases"]
        .as_array()
        .unwrap_or_else(|| panic!("no databases: {v}"))
        .clone();
    (Some(out.code), dbs)
}

/// The test databases: `sqlite` files, `pg` PostgreSQL and `maria` MariaDB
/// databases, named s00.., p00.., m00.., in that order.
async fn databases(sqlite: usize, pg: usize, maria: usize) -> Option<Vec<(String, TestDb)>> {
    let mut out = Vec::new();
    for i in 0..sqlite {
        out.push((format!("s{i:02}"), TestDb::sqlite().await?));
    }
    for i in 0..pg {
        out.push((format!("p{i:02}"), TestDb::postgres().await?));
    }
    for i in 0..maria {
        out.push((format!("m{i:02}"), TestDb::mysql().await?));
    }
    Some(out)
}

fn urls(dbs: &[(String, TestDb)]) -> Vec<(&str, String)> {
    dbs.iter()
        .map(|(n, db)| (n.as_str(), db.url.with_credentials_exposed()))
        .collect()
}

/// Revisions recorded, and whether the last revision's table exists.
async fn state(db: &TestDb) -> (i64, bool) {
    if let Some(path) = db.url.sqlite_path() {
        if !path.exists() {
            return (-1, false);
        }
    }
    if !db.has_table("schema_migrations").await {
        return (0, false);
    }
    (
        db.query_i64("SELECT COUNT(*) FROM schema_migrations").await,
        db.has_table("tags").await,
    )
}

async fn assert_at_head(name: &str, db: &TestDb) {
    assert_eq!(state(db).await, (3, true), "{name} is not at head");
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM items WHERE id = 7")
            .await,
        1,
        "{name}: the row of r01"
    );
}

fn by_name<'a>(report: &'a [Value], name: &str) -> &'a Value {
    report
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the report: {report:?}"))
}

#[tokio::test]
async fn upgrade_all_brings_25_databases_to_head_and_a_second_run_applies_nothing() {
    let Some(dbs) = databases(20, 5, 0).await else {
        return;
    };
    let p = project(&urls(&dbs), false);
    let (code, report) = fleet_report(&p, &["upgrade", "head", "--all", "-j", "4"]);
    assert_eq!(code, Some(0), "{report:?}");
    assert_eq!(report.len(), 25);
    // The report keeps the config's order.
    let names: Vec<&str> = report.iter().map(|d| d["name"].as_str().unwrap()).collect();
    let expected: Vec<&str> = dbs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected);
    for d in &report {
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(d["error"], Value::Null, "{d}");
        assert_eq!(d["from"], serde_json::json!([]), "{d}");
        assert_eq!(d["to"], serde_json::json!(["r02"]), "{d}");
        assert_eq!(
            d["applied"],
            serde_json::json!(["r00", "r01", "r02"]),
            "{d}"
        );
    }
    for (name, db) in &dbs {
        assert_at_head(name, db).await;
    }
    // A second run finds every database at head and changes nothing: no
    // revision applied, no row added.
    let (code, report) = fleet_report(&p, &["upgrade", "head", "--all", "-j", "4"]);
    assert_eq!(code, Some(0));
    for d in &report {
        assert_eq!(
            (d["ok"].clone(), d["applied"].clone()),
            (Value::Bool(true), serde_json::json!([])),
            "{d}"
        );
        assert_eq!(d["from"], serde_json::json!(["r02"]));
        assert_eq!(d["to"], serde_json::json!(["r02"]));
    }
    for (name, db) in &dbs {
        assert_at_head(name, db).await;
    }
    // Text: one line per database and a summary.
    let out = p.run(&["upgrade", "head", "--all"]);
    assert_eq!(Some(out.code), Some(0), "{}", out.text());
    let stdout = out.stdout.clone();
    assert_eq!(stdout.lines().count(), 25, "{stdout}");
    assert!(
        stdout.lines().all(|l| l.contains("nothing to do")),
        "{stdout}"
    );
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains("25 databases: 25 ok (0 changed, 25 already there)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_unreachable_database_fails_alone_and_its_password_is_not_printed() {
    let Some(dbs) = databases(20, 4, 0).await else {
        return;
    };
    let mut list = urls(&dbs);
    // Nothing listens on port 1 of the loopback.
    let dead = format!("postgres://app:{SECRET}@127.0.0.1:1/nowhere");
    list.insert(7, ("gone", dead));
    let p = project(&list, false);
    let out = p.run(&["upgrade", "head", "--all", "-j", "4", "-f", "json"]);
    assert_eq!(Some(out.code), Some(1), "{}", out.text());
    let all = format!("{}{}", out.stdout.clone(), out.stderr.clone());
    assert!(
        !all.contains(SECRET),
        "the password was printed: {}",
        out.text()
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let report = report["databases"].as_array().unwrap();
    assert_eq!(report.len(), 25);
    let gone = by_name(report, "gone");
    assert_eq!(gone["ok"], false);
    assert_eq!(
        gone["url"], "postgres://app:****@127.0.0.1:1/nowhere",
        "{gone}"
    );
    assert_eq!(gone["error"]["kind"], "connect", "{gone}");
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{gone}"
    );
    assert_eq!(gone["applied"], serde_json::json!([]));
    assert_eq!(report.iter().filter(|d| d["ok"] == true).count(), 24);
    for (name, db) in &dbs {
        assert_at_head(name, db).await;
    }
    // In text too: the failed database's line names it, masked.
    let out = p.run(&["upgrade", "head", "--all"]);
    assert_eq!(Some(out.code), Some(1));
    let stdout = out.stdout.clone();
    let line = stdout
        .lines()
        .find(|l| l.contains("gone"))
        .unwrap_or_else(|| panic!("{}", out.text()));
    assert!(
        line.starts_with("FAILED gone  postgres://app:****@127.0.0.1:1/nowhere"),
        "{line}"
    );
    assert!(!out.stderr.clone().contains(SECRET));
    assert!(
        out.stderr
            .clone()
            .contains("24 ok (0 changed, 24 already there), 1 failed"),
        "{}",
        out.text()
    );
}

#[tokio::test]
async fn a_failing_canary_stops_the_fleet_before_the_others() {
    let Some(dbs) = databases(4, 2, 0).await else {
        return;
    };
    let p = project(&urls(&dbs), true);
    let (code, report) = fleet_report(
        &p,
        &["upgrade", "head", "--all", "--canary", "2", "-j", "2"],
    );
    assert_eq!(code, Some(1));
    for (i, d) in report.iter().enumerate() {
        assert_eq!(d["ok"], false, "{d}");
        if i < 2 {
            assert_eq!(d["error"]["kind"], "migration_failed", "{d}");
            // r00 and r01 committed before r02 failed, each in its own
            // transaction.
            assert_eq!(d["applied"], serde_json::json!(["r00", "r01"]), "{d}");
        } else {
            assert_eq!(d["error"]["kind"], "not_started", "{d}");
            assert!(
                d["error"]["message"].as_str().unwrap().contains("canary"),
                "{d}"
            );
        }
    }
    for (i, (name, db)) in dbs.iter().enumerate() {
        let (recorded, tags) = state(db).await;
        if i < 2 {
            assert_eq!((recorded, tags), (2, false), "{name}");
        } else {
            // Never opened: no SQLite file, no tracking table.
            assert!(recorded <= 0 && !tags, "{name} was touched: {recorded}");
            assert!(
                !db.has_table("items").await || db.url.sqlite_path().is_some_and(|p| !p.exists()),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn fail_fast_starts_no_database_after_a_failure() {
    let Some(dbs) = databases(3, 1, 0).await else {
        return;
    };
    let mut list = urls(&dbs);
    list.insert(
        0,
        (
            "gone",
            format!("postgres://app:{SECRET}@127.0.0.1:1/nowhere"),
        ),
    );
    let p = project(&list, false);
    let (code, report) = fleet_report(&p, &["upgrade", "head", "--all", "-j", "1", "--fail-fast"]);
    assert_eq!(code, Some(1));
    assert_eq!(by_name(&report, "gone")["error"]["kind"], "connect");
    for (name, db) in &dbs {
        assert_eq!(by_name(&report, name)["error"]["kind"], "not_started");
        assert!(state(db).await.0 <= 0, "{name} was touched");
    }
    // Without --fail-fast the others go on.
    let (code, report) = fleet_report(&p, &["upgrade", "head", "--all", "-j", "1"]);
    assert_eq!(code, Some(1));
    assert_eq!(report.iter().filter(|d| d["ok"] == true).count(), 4);
    for (name, db) in &dbs {
        assert_at_head(name, db).await;
    }
}

#[tokio::test]
async fn db_picks_only_the_named_databases_mariadb_included() {
    let Some(dbs) = databases(2, 1, 2).await else {
        return;
    };
    let p = project(&urls(&dbs), false);
    let (code, report) = fleet_report(
        &p,
        &[
            "upgrade", "head", "--db", "m01", "--db", "s00", "--db", "p00",
        ],
    );
    assert_eq!(code, Some(0), "{report:?}");
    let names: Vec<&str> = report.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["m01", "s00", "p00"]);
    for (name, db) in &dbs {
        if names.contains(&name.as_str()) {
            assert_at_head(name, db).await;
        } else {
            assert_eq!(state(db).await.0.max(0), 0, "{name} was touched");
        }
    }
    // A downgrade of one, and a stamp of another, through --db.
    let (code, report) = fleet_report(&p, &["downgrade", "r00", "--db", "m01"]);
    assert_eq!(code, Some(0));
    assert_eq!(report[0]["applied"], serde_json::json!(["r02", "r01"]));
    assert_eq!(report[0]["to"], serde_json::json!(["r00"]));
    let m01 = &dbs.iter().find(|(n, _)| n == "m01").unwrap().1;
    assert_eq!(state(m01).await, (1, false));
    let (code, report) = fleet_report(&p, &["stamp", "r01", "--db", "m00"]);
    assert_eq!(code, Some(0));
    assert_eq!(report[0]["to"], serde_json::json!(["r01"]), "{report:?}");
    let m00 = &dbs.iter().find(|(n, _)| n == "m00").unwrap().1;
    assert_eq!(state(m00).await, (2, false));
    assert!(!m00.has_table("items").await, "a stamp runs no SQL");
    // `current --all`, with --check-heads: exit 1 while one is behind.
    let (code, report) = fleet_report(&p, &["current", "--all", "--check-heads"]);
    assert_eq!(code, Some(1));
    assert_eq!(by_name(&report, "s00")["at_heads"], true);
    assert_eq!(by_name(&report, "s01")["at_heads"], false);
    assert_eq!(by_name(&report, "m00")["to"], serde_json::json!(["r01"]));
    // Unknown names and a config without `databases:` are usage errors.
    let out = p.run(&["upgrade", "head", "--db", "nope", "-f", "json"]);
    assert_eq!(Some(out.code), Some(2), "{}", out.text());
    let err: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "unknown_database");
    assert_eq!(
        err["error"]["hints"][0],
        "the databases are: s00, s01, p00, m00, m01"
    );
}

#[tokio::test]
async fn status_all_lists_the_databases_behind_first() {
    let Some(dbs) = databases(3, 1, 1).await else {
        return;
    };
    let p = project(&urls(&dbs), false);
    let (code, _) = fleet_report(&p, &["upgrade", "head", "--db", "s00", "--db", "p00"]);
    assert_eq!(code, Some(0));
    let (code, _) = fleet_report(&p, &["upgrade", "r00", "--db", "m00"]);
    assert_eq!(code, Some(0));
    let (code, report) = fleet_report(&p, &["status", "--all"]);
    assert_eq!(code, Some(0));
    let names: Vec<&str> = report.iter().map(|d| d["name"].as_str().unwrap()).collect();
    // Behind (config order among them), then at head.
    assert_eq!(names, ["s01", "s02", "m00", "s00", "p00"]);
    let m00 = by_name(&report, "m00");
    assert_eq!(m00["current"], serde_json::json!(["r00"]));
    assert_eq!(m00["pending"], serde_json::json!(["r01", "r02"]));
    assert_eq!(m00["drifted"], serde_json::json!([]));
    assert_eq!(
        by_name(&report, "s01")["pending"].as_array().unwrap().len(),
        3
    );
    assert_eq!(by_name(&report, "p00")["pending"], serde_json::json!([]));
    // Reading created nothing.
    let s01 = &dbs.iter().find(|(n, _)| n == "s01").unwrap().1;
    assert_eq!(state(s01).await, (-1, false));
    // The table.
    let out = p.run(&["status", "--all"]);
    assert_eq!(Some(out.code), Some(0), "{}", out.text());
    let stdout = out.stdout.clone();
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["DATABASE", "CURRENT", "PENDING", "DRIFTED", "IN", "PROGRESS"]
    );
    assert_eq!(lines[1], ["s01", "<base>", "3", "0", "-"]);
    assert_eq!(lines[3], ["m00", "r00", "2", "0", "-"]);
    assert_eq!(lines[5], ["p00", "r02", "0", "0", "-"]);
}

#[test]
fn all_without_databases_is_a_usage_error() {
    let p = Project::with_config("database_url: sqlite://a.db?mode=rwc\n");
    let out = p.exits(2, &["status", "--all", "-f", "json"]);
    let err: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "no_databases");
    assert!(!p.dir().join("a.db").exists());
}

/// Ctrl+C in the middle of a fleet: the run ends with 130, no database is
/// left with a revision half-applied or recorded without its SQL, and the
/// databases it had not reached are untouched.
#[tokio::test]
async fn ctrl_c_stops_a_fleet_with_every_database_whole() {
    let Some(dbs) = databases(8, 1, 0).await else {
        return;
    };
    let p = slow_project(&urls(&dbs));
    let mut run = p.spawn(&["upgrade", "head", "--all", "-j", "2"]);
    // Ctrl+C once one of the two databases started first is at head: the
    // others are running or waiting then. (The result lines go to stdout,
    // which is only read at the end; the databases themselves tell.)
    let started = Instant::now();
    'first: loop {
        for (_, db) in &dbs[..2] {
            if state(db).await == (3, true) {
                break 'first;
            }
        }
        assert!(
            run.running(),
            "the fleet ended before a database was seen at head"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no database at head after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.signal("-INT");
    let out = run.finish();
    assert_eq!(out.code, 130, "{}", out.text());

    let (mut whole, mut short) = (0, 0);
    for (name, db) in &dbs {
        let (recorded, has_tags) = state(db).await;
        match recorded {
            // Never reached: no tracking table (SQLite: not even a file).
            -1 | 0 => assert!(!db.has_table("items").await, "{name}: items without r00"),
            1 => assert_eq!(
                db.query_i64("SELECT COUNT(*) FROM items").await,
                0,
                "{name}: r01's rows without r01 recorded"
            ),
            2 | 3 => assert_eq!(
                db.query_i64("SELECT COUNT(*) FROM items").await,
                SLOW_ROWS,
                "{name}: r01 recorded without all its rows"
            ),
            n => panic!("{name}: {n} revisions recorded"),
        }
        assert_eq!(has_tags, recorded == 3, "{name}: tags and r02 disagree");
        if recorded == 3 {
            whole += 1;
        } else {
            short += 1;
        }
    }
    assert!(whole >= 1, "no database at head after the run");
    assert!(short >= 1, "Ctrl+C stopped nothing:\n{}", out.text());
    assert!(
        out.stderr.contains("not started") || out.stderr.contains("stopped by Ctrl+C"),
        "the summary does not say what was left: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
