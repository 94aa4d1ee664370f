use super::*;
use crate::backend::TableName;

fn dialect(kind: BackendKind) -> Dialect {
    Dialect::new(kind, TableName::new("schema_migrations").unwrap())
}

fn step(rev: &str, direction: Direction, transactional: bool) -> ExecStep {
    ExecStep {
        revision: rev.into(),
        direction,
        sql: "CREATE TABLE a (id INT)".into(),
        checksum: "c".into(),
        transactional,
        down_revisions: vec![],
    }
}

#[test]
fn sqlite_script_turns_foreign_keys_off_before_anything_and_checks_at_the_end() {
    let s = dialect(BackendKind::Sqlite).script(&[step("r1", Direction::Upgrade, true)], true);
    let off = s.find("\nPRAGMA foreign_keys = OFF;\n").expect("pragma");
    assert!(off < s.find("BEGIN;").unwrap(), "{s}");
    let check = s.find("\nPRAGMA foreign_key_check;\n").expect("check");
    assert!(check > s.rfind("COMMIT;").unwrap(), "{s}");
    let pg = dialect(BackendKind::Postgres).script(&[step("r1", Direction::Upgrade, true)], true);
    assert!(!pg.contains("PRAGMA"), "{pg}");
}

#[test]
fn script_wraps_each_step_in_its_own_transaction() {
    let d = dialect(BackendKind::Postgres);
    let s = d.script(
        &[
            step("r1", Direction::Upgrade, true),
            step("r2", Direction::Upgrade, true),
        ],
        true,
    );
    assert_eq!(s.matches("BEGIN;").count(), 2, "{s}");
    assert_eq!(s.matches("COMMIT;").count(), 2, "{s}");
    assert!(s.contains("CREATE TABLE a (id INT);"));
    assert!(s.contains("VALUES ('r2'"));
}

#[test]
fn script_whole_plan_shares_one_transaction_but_not_with_non_transactional_steps() {
    let d = dialect(BackendKind::Sqlite);
    let s = d.script(
        &[
            step("r1", Direction::Upgrade, true),
            step("r2", Direction::Upgrade, true),
            step("r3", Direction::Upgrade, false),
            step("r4", Direction::Downgrade, true),
        ],
        false,
    );
    assert_eq!(s.matches("BEGIN;").count(), 2, "{s}");
    assert_eq!(s.matches("COMMIT;").count(), 2, "{s}");
    let r3 = s.find("upgrade r3").unwrap();
    let first_commit = s.find("COMMIT;").unwrap();
    assert!(first_commit < r3, "{s}");
    assert!(s.contains("DELETE FROM \"schema_migrations\" WHERE version = 'r4';"));
}

#[test]
fn mysql_script_flags_rows_in_progress_and_has_no_transactions() {
    let d = dialect(BackendKind::MySql);
    let s = d.script(&[step("r1", Direction::Upgrade, true)], true);
    assert!(!s.contains("BEGIN"), "{s}");
    let insert = s.find("INSERT INTO `schema_migrations`").unwrap();
    let ddl = s.find("CREATE TABLE a").unwrap();
    let done = s.find("SET in_progress = 0 WHERE version = 'r1'").unwrap();
    assert!(insert < ddl && ddl < done, "{s}");
}

#[test]
fn mysql_script_runs_data_only_steps_in_a_transaction_like_a_live_run() {
    let d = dialect(BackendKind::MySql);
    let mut fix = step("r2", Direction::Upgrade, true);
    fix.sql = "UPDATE a SET id = id + 1;\nINSERT INTO a VALUES (1)".into();
    let s = d.script(&[step("r1", Direction::Upgrade, true), fix.clone()], true);
    // r1 is DDL: flagged, no transaction; r2 is data only: BEGIN, SQL,
    // its row (not in progress), COMMIT.
    assert_eq!(s.matches("BEGIN;").count(), 1, "{s}");
    let begin = s.find("BEGIN;").unwrap();
    assert!(s.find("CREATE TABLE a").unwrap() < begin, "{s}");
    let update = s.find("UPDATE a SET").unwrap();
    let row = s.find("VALUES ('r2'").unwrap();
    let commit = s.rfind("COMMIT;").unwrap();
    assert!(begin < update && update < row && row < commit, "{s}");
    assert!(s[row..].lines().next().unwrap().ends_with(", 0);"), "{s}");
    assert!(!s.contains("WHERE version = 'r2'"), "{s}");
    // Whole-plan mode: consecutive data-only steps share one transaction.
    let mut fix3 = fix.clone();
    fix3.revision = "r3".into();
    let s = d.script(&[fix, fix3], false);
    assert_eq!(s.matches("BEGIN;").count(), 1, "{s}");
    assert_eq!(s.matches("COMMIT;").count(), 1, "{s}");
}

#[test]
fn non_transactional_step_is_flagged_in_progress_like_a_live_run() {
    let d = dialect(BackendKind::Postgres);
    let s = d.script(&[step("r1", Direction::Upgrade, false)], true);
    assert!(!s.contains("BEGIN"), "{s}");
    let insert = s.find("INSERT INTO \"schema_migrations\"").unwrap();
    assert!(
        s[insert..].lines().next().unwrap().ends_with(", 1);"),
        "{s}"
    );
    let ddl = s.find("CREATE TABLE a").unwrap();
    let done = s.find("SET in_progress = 0 WHERE version = 'r1'").unwrap();
    assert!(insert < ddl && ddl < done, "{s}");
}

#[test]
fn script_starts_with_the_clients_stop_on_error_setting() {
    let first_code_line = |kind| {
        let s = dialect(kind).script(&[step("r1", Direction::Upgrade, true)], true);
        s.lines()
            .find(|l| !l.starts_with("--"))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        first_code_line(BackendKind::Postgres),
        "\\set ON_ERROR_STOP on"
    );
    assert_eq!(first_code_line(BackendKind::Sqlite), ".bail on");
    assert_eq!(first_code_line(BackendKind::MySql), "");
    let mysql = dialect(BackendKind::MySql).script_preamble();
    assert!(mysql.contains("--force"), "{mysql}");
    assert!(mysql.lines().all(|l| l.starts_with("-- ")), "{mysql}");
}

#[test]
fn mysql_bodies_get_delimiter_lines() {
    let d = dialect(BackendKind::MySql);
    let sql = "CREATE TABLE a (id INT);\n\
               CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.id = 1;\n  SET @x = 2;\nEND; SELECT 1;\n\
               CREATE FUNCTION f() RETURNS INT RETURN 1;";
    assert_eq!(
        d.script_sql(sql),
        "CREATE TABLE a (id INT);\n\
         DELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.id = 1;\n  SET @x = 2;\nEND\n$$\nDELIMITER ;\n\
         SELECT 1;\n\
         CREATE FUNCTION f() RETURNS INT RETURN 1;"
    );
    // The delimiter is one the body does not contain; a comment before
    // the `;` is kept, and the delimiter goes on the next line; a last
    // body needs no `;`.
    let sql = "CREATE PROCEDURE p() BEGIN SELECT '$$'; SELECT '//'; END -- done\n;\n\
               CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; END";
    assert_eq!(
        d.script_sql(sql),
        "DELIMITER $$1$$\nCREATE PROCEDURE p() BEGIN SELECT '$$'; SELECT '//'; END -- done\n$$1$$\nDELIMITER ;\n\
         DELIMITER $$\nCREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; END\n$$\nDELIMITER ;"
    );
    // Other databases' clients read bodies themselves.
    let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM b; END;";
    assert_eq!(dialect(BackendKind::Sqlite).script_sql(trigger), trigger);
}

#[test]
fn terminated_adds_semicolon_only_when_needed() {
    let k = BackendKind::Postgres;
    assert_eq!(terminated("SELECT 1", k), "SELECT 1;");
    assert_eq!(terminated("SELECT 1;\n", k), "SELECT 1;");
    assert_eq!(terminated("SELECT 1;\n-- done", k), "SELECT 1;\n-- done");
    assert_eq!(terminated("SELECT 1\n-- done", k), "SELECT 1\n-- done\n;");
    assert_eq!(terminated("  ", k), "");
}

#[test]
fn comment_prefixes_every_line() {
    assert_eq!(
        dialect(BackendKind::Sqlite).comment("a\n\nb"),
        "-- a\n--\n-- b"
    );
}
