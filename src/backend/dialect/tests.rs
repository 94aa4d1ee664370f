use super::*;

fn dialect(kind: BackendKind) -> Dialect {
    Dialect::new(kind, TableName::new("schema_migrations").unwrap())
}

#[test]
fn table_names_are_validated() {
    for ok in ["schema_migrations", "_x", "T1", &"a".repeat(63)] {
        assert!(TableName::new(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "1abc",
        "a-b",
        "a b",
        "x\"; DROP TABLE y; --",
        "tbl`",
        "é",
        &"a".repeat(64),
    ] {
        let err = TableName::new(bad).unwrap_err();
        assert_eq!(err.kind(), "invalid_table_name", "{bad}");
        assert!(err.to_string().contains("version_table"), "{err}");
    }
}

#[test]
fn identifiers_are_quoted_per_dialect() {
    assert_eq!(
        dialect(BackendKind::Postgres).quoted_table(),
        "\"schema_migrations\""
    );
    assert_eq!(
        dialect(BackendKind::Sqlite).quoted_table(),
        "\"schema_migrations\""
    );
    assert_eq!(
        dialect(BackendKind::MySql).quoted_table(),
        "`schema_migrations`"
    );
    assert_eq!(dialect(BackendKind::MySql).quote_ident("a`b"), "`a``b`");
    assert_eq!(
        dialect(BackendKind::Postgres).quote_ident("a\"b"),
        "\"a\"\"b\""
    );
}

#[test]
fn literals_are_escaped_per_dialect() {
    assert_eq!(
        dialect(BackendKind::Postgres).quote_literal("it's\\"),
        "'it''s\\'"
    );
    assert_eq!(
        dialect(BackendKind::MySql).quote_literal("it's\\"),
        "'it''s\\\\'"
    );
}

#[test]
fn create_table_has_every_column() {
    for kind in [
        BackendKind::Sqlite,
        BackendKind::Postgres,
        BackendKind::MySql,
    ] {
        let sql = dialect(kind).create_table();
        assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS"));
        for col in COLUMNS {
            assert!(sql.contains(col), "{kind}: {col}");
        }
    }
}

#[test]
fn insert_row_renders_literals() {
    let sql = dialect(BackendKind::Sqlite).insert_row(
        "ae1027a6acf0",
        "abc",
        &["p1".into(), "p2".into()],
        12,
        false,
    );
    assert_eq!(
        sql,
        "INSERT INTO \"schema_migrations\" (version, applied_at, execution_time_ms, checksum, \
         down_revisions, in_progress) VALUES ('ae1027a6acf0', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
         12, 'abc', 'p1,p2', 0)"
    );
}

#[test]
fn bound_statements_use_dialect_placeholders() {
    assert!(dialect(BackendKind::Postgres)
        .delete_row_bound()
        .ends_with("= $1"));
    assert!(dialect(BackendKind::MySql)
        .delete_row_bound()
        .ends_with("= ?"));
}
