//! Which MySQL/MariaDB revisions can run in a transaction.
//!
//! MySQL and MariaDB commit implicitly before and after DDL, so a revision
//! with a `CREATE`, `ALTER`, `GRANT`… cannot be undone and runs with an
//! in-progress tracking row instead. A revision made only of data
//! statements can: it runs in one transaction with its tracking row, like on
//! PostgreSQL, and a failure leaves nothing of it behind.
//!
//! The test is deliberately conservative: a revision counts as data-only
//! when the first keyword of every statement is one that never commits
//! (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `SELECT`, `WITH`, `VALUES`,
//! `TABLE`, `DO`, and `SET` of anything but `autocommit`, a transaction
//! characteristic, a password or a role). Anything else (`CALL`, whose
//! procedure may run DDL; `LOCK TABLES`; `BEGIN`/`COMMIT` of the revision's
//! own; `LOAD DATA`; a keyword not known here) keeps the in-progress path,
//! as does any executable comment (`/*! … */`, `/*M! … */`), which the server
//! runs but a lexer sees as a comment.
//!
//! A transaction undoes changes to transactional tables only (InnoDB, the
//! default engine): rows written to a MyISAM or Aria table stay after a
//! rollback, as they would in any MySQL client.

use super::split;
use crate::url::BackendKind;

/// Statements that never cause an implicit commit.
const DATA_KEYWORDS: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH", "VALUES", "TABLE", "DO",
];

/// Words that make a `SET` end or change a transaction, or touch accounts
/// (which commits implicitly).
const SET_COMMITTING_WORDS: &[&str] = &["AUTOCOMMIT", "TRANSACTION", "PASSWORD", "ROLE"];

/// Whether every statement of `sql` (MySQL syntax) is a data statement that
/// can run inside a transaction. A script with no statement at all (only
/// comments, as in a merge revision) is data-only.
pub fn mysql_data_only(sql: &str) -> bool {
    if sql.contains("/*!") || sql.contains("/*M!") {
        return false;
    }
    split::split_statements(sql, BackendKind::MySql)
        .iter()
        .all(|stmt| is_data_statement(stmt.text))
}

fn is_data_statement(text: &str) -> bool {
    let mut words = words(text);
    let Some(first) = words.next() else {
        // Nothing but punctuation: not something to guess about.
        return false;
    };
    let first = first.to_ascii_uppercase();
    if first == "SET" {
        return !words.any(|w| {
            SET_COMMITTING_WORDS
                .iter()
                .any(|c| w.eq_ignore_ascii_case(c))
        });
    }
    DATA_KEYWORDS.contains(&first.as_str())
}

/// The words of `text` outside comments, in order; a leading `(` (as in
/// `(SELECT …) UNION (SELECT …)`) is skipped. Quoted text is not a word, so
/// `'role'` in a string literal does not count; an unterminated quote ends
/// the scan.
fn words(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'-' if bytes.get(i + 1) == Some(&b'-') => i = line_end(bytes, i),
                b'#' => i = line_end(bytes, i),
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = text[i + 2..]
                        .find("*/")
                        .map_or(bytes.len(), |p| i + 2 + p + 2);
                }
                b'\'' | b'"' | b'`' => i = quote_end(bytes, i),
                c if c.is_ascii_alphabetic() || c == b'_' || c == b'@' => {
                    let start = i;
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric()
                            || matches!(bytes[i], b'_' | b'@' | b'$'))
                    {
                        i += 1;
                    }
                    return Some(&text[start..i]);
                }
                _ => i += 1,
            }
        }
        None
    })
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| from + p + 1)
}

/// The end of a quoted run starting at `from`: a doubled quote or a
/// backslash escape (outside backticks) does not end it.
fn quote_end(bytes: &[u8], from: usize) -> usize {
    let quote = bytes[from];
    let mut i = from + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
            c if c == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_statements_are_data_only() {
        for sql in [
            "UPDATE t SET v = v + 1 WHERE id > 2;\nINSERT INTO t VALUES (1, 'a');",
            "-- fix the totals\nDELETE FROM t WHERE id = 3; REPLACE INTO t VALUES (3, 'x')",
            "/* backfill */ INSERT INTO t SELECT * FROM u; # done",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SET @n = 0; UPDATE t SET pos = (@n := @n + 1)",
            "SET SESSION sql_mode = 'ANSI'; INSERT INTO t VALUES (1)",
            "(SELECT 1) UNION (SELECT 2)",
            "insert into t values ('CREATE TABLE x; GRANT ALL')",
            "UPDATE t SET note = 'role; password'",
            "-- only a comment",
            "",
        ] {
            assert!(mysql_data_only(sql), "{sql}");
        }
    }

    #[test]
    fn anything_that_may_commit_keeps_the_in_progress_path() {
        for sql in [
            "UPDATE t SET v = 1; ALTER TABLE t ADD COLUMN w INT",
            "CREATE TABLE s (v INT); INSERT INTO s VALUES (1)",
            "INSERT INTO t VALUES (1); CALL backfill()",
            "TRUNCATE TABLE t",
            "LOCK TABLES t WRITE; UPDATE t SET v = 1; UNLOCK TABLES",
            "BEGIN; UPDATE t SET v = 1; COMMIT",
            "START TRANSACTION; UPDATE t SET v = 1",
            "SET autocommit = 1; UPDATE t SET v = 1",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET PASSWORD FOR u = PASSWORD('x')",
            "SET DEFAULT ROLE r FOR u",
            "GRANT SELECT ON t TO u",
            "LOAD DATA INFILE 'x' INTO TABLE t",
            "INSERT INTO t VALUES (1); /*!40000 ALTER TABLE t DISABLE KEYS */;",
            "/*M!100100 CREATE TABLE x (i INT) */",
            "RENAME TABLE a TO b",
            "DELIMITER ;;",
            "FLUSH TABLES",
            "ANALYZE TABLE t",
            "( )",
        ] {
            assert!(!mysql_data_only(sql), "{sql}");
        }
    }

    #[test]
    fn words_skip_comments_and_quotes() {
        let w: Vec<&str> =
            words("-- x\n/* y */ # z\n SET @a = 'ROLE', `t``x` = \"q\\\"\" ; go").collect();
        assert_eq!(w, ["SET", "@a", "go"]);
    }
}
