use super::*;

fn texts(sql: &str, kind: BackendKind) -> Vec<&str> {
    split_statements(sql, kind)
        .into_iter()
        .map(|s| s.text)
        .collect()
}

#[test]
fn splits_on_semicolons_outside_quotes_and_comments() {
    let sql = "CREATE TABLE a (x TEXT DEFAULT 'a;b');\n-- c; d\nINSERT INTO a VALUES ('it''s;');\n/* e; */ SELECT \"f;\" FROM a";
    assert_eq!(
        texts(sql, BackendKind::Sqlite),
        vec![
            "CREATE TABLE a (x TEXT DEFAULT 'a;b')",
            "-- c; d\nINSERT INTO a VALUES ('it''s;')",
            "/* e; */ SELECT \"f;\" FROM a",
        ]
    );
}

#[test]
fn comment_only_parts_are_dropped() {
    assert!(texts("-- nothing;\n  ;\n/* x */;", BackendKind::Postgres).is_empty());
}

#[test]
fn postgres_dollar_quotes_and_nested_comments() {
    let sql = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
               /* a /* b; */ c; */ SELECT $1;\nDO $$ BEGIN PERFORM 1; END $$";
    let t = texts(sql, BackendKind::Postgres);
    assert_eq!(t.len(), 3, "{t:?}");
    assert!(t[0].ends_with("LANGUAGE sql"));
    assert!(t[1].ends_with("SELECT $1"));
    assert!(t[2].starts_with("DO $$"));
}

#[test]
fn sqlite_trigger_body_stays_whole() {
    let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = CASE WHEN 1 THEN 2 END;\n  DELETE FROM b;\nEND;\nSELECT 1;";
    let t = texts(sql, BackendKind::Sqlite);
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t[0].ends_with("END"));
    assert_eq!(t[1], "SELECT 1");
}

fn compound(sql: &str, kind: BackendKind) -> Vec<bool> {
    split_statements(sql, kind)
        .into_iter()
        .map(|s| s.compound)
        .collect()
}

#[test]
fn mysql_stored_program_bodies_stay_whole() {
    let sql = "CREATE TABLE a (id INT);\n\
               CREATE DEFINER=`root`@`%` TRIGGER t BEFORE INSERT ON a FOR EACH ROW\n\
               BEGIN\n  SET NEW.id = NEW.id + 1;\n  INSERT INTO b VALUES (NEW.id);\nEND;\n\
               CREATE OR REPLACE DEFINER = admin@localhost PROCEDURE p(IN x INT)\n\
               lbl: BEGIN\n  DECLARE n INT DEFAULT 0;\n  CASE x WHEN 1 THEN SET n = 1; ELSE SET n = 2; END CASE;\n\
               \x20 IF n > 1 THEN LEAVE lbl; END IF;\n  WHILE n < 3 DO SET n = n + 1; END WHILE;\n\
               \x20 SELECT CASE WHEN n = 3 THEN 'x;' END;\nEND lbl;\n\
               CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;\n\
               CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; DELETE FROM b; END;\n\
               BEGIN NOT ATOMIC SELECT 1; SELECT 2; END;\n\
               BEGIN;\nSELECT 3";
    let t = texts(sql, BackendKind::MySql);
    assert_eq!(t.len(), 8, "{t:#?}");
    assert!(t[1].starts_with("CREATE DEFINER") && t[1].ends_with("END"));
    assert!(t[2].starts_with("CREATE OR REPLACE") && t[2].ends_with("END lbl"));
    assert!(t[4].starts_with("CREATE EVENT") && t[4].ends_with("END"));
    assert!(t[5].starts_with("BEGIN NOT ATOMIC") && t[5].ends_with("END"));
    assert_eq!(&t[6..], ["BEGIN", "SELECT 3"]);
    assert_eq!(
        compound(sql, BackendKind::MySql),
        [false, true, true, false, true, true, false, false]
    );
}

#[test]
fn mysql_double_dash_needs_a_space_to_be_a_comment() {
    assert_eq!(
        texts(
            "SELECT 1--1;\nSELECT 2 -- x;\n;SELECT 3 --",
            BackendKind::MySql
        ),
        ["SELECT 1--1", "SELECT 2 -- x;\n", "SELECT 3 --"]
            .map(str::trim)
            .to_vec()
    );
    assert_eq!(
        texts("SELECT 1--1;", BackendKind::Postgres),
        ["SELECT 1--1;"]
    );
}

#[test]
fn postgres_begin_atomic_body_stays_whole() {
    let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  \
               SELECT CASE WHEN true THEN 2 END;\nEND;\n\
               CREATE FUNCTION g() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;\n\
               BEGIN; SELECT 3";
    let t = texts(sql, BackendKind::Postgres);
    assert_eq!(t.len(), 4, "{t:#?}");
    assert!(t[0].ends_with("END"));
    assert_eq!(
        compound(sql, BackendKind::Postgres),
        [true, false, false, false]
    );
}

#[test]
fn sqlite_temp_trigger_body_is_compound() {
    let sql =
        "CREATE TEMP TRIGGER IF NOT EXISTS t AFTER DELETE ON a BEGIN DELETE FROM b; END; SELECT 1";
    assert_eq!(compound(sql, BackendKind::Sqlite), [true, false]);
}

#[test]
fn mysql_backslash_escapes_and_hash_comments() {
    let sql = "INSERT INTO a VALUES ('x\\';y');\n# z;\nSELECT `a;b` FROM c";
    assert_eq!(
        texts(sql, BackendKind::MySql),
        vec![
            "INSERT INTO a VALUES ('x\\';y')",
            "# z;\nSELECT `a;b` FROM c"
        ]
    );
}

#[test]
fn postgres_trigger_without_body_splits_normally() {
    let sql = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f(); SELECT 1";
    assert_eq!(texts(sql, BackendKind::Postgres).len(), 2);
}

#[test]
fn offsets_point_into_the_script() {
    let sql = "SELECT 1;\n  SELECT 2";
    let st = split_statements(sql, BackendKind::Postgres);
    assert_eq!(&sql[st[1].offset..], "SELECT 2");
    assert_eq!(statement_at(&st, 14).map(|(i, _)| i), Some(1));
    assert_eq!(statement_at(&st, 3).map(|(i, _)| i), Some(0));
}

#[test]
fn sqlite_bracket_identifiers_hide_semicolons() {
    let sql = "CREATE TABLE [a;b] ([x;y] INT);\nSELECT [x;y] FROM [a;b]";
    assert_eq!(
        texts(sql, BackendKind::Sqlite),
        vec!["CREATE TABLE [a;b] ([x;y] INT)", "SELECT [x;y] FROM [a;b]"]
    );
    // Elsewhere `[` is an array subscript, not a quote.
    assert_eq!(
        texts("SELECT a[1]; SELECT ';]'", BackendKind::Postgres).len(),
        2
    );
}

#[test]
fn terminator_detection_ignores_trailing_comments() {
    assert!(ends_with_terminator(
        "SELECT 1; -- done",
        BackendKind::Sqlite
    ));
    assert!(!ends_with_terminator(
        "SELECT 1\n-- done",
        BackendKind::Sqlite
    ));
    assert!(ends_with_terminator(
        "-- only a comment",
        BackendKind::Sqlite
    ));
}
