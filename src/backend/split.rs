//! A small lexer that cuts a SQL script into statements.
//!
//! It is used where one statement at a time matters: PostgreSQL runs a
//! multi-statement string as one implicit transaction, so a
//! non-transactional step (`CREATE INDEX CONCURRENTLY`) must be sent
//! statement by statement; and an error message names the statement that
//! failed. Transactional steps are still sent whole (and on SQLite, SQLite
//! itself finds the statements), so a case this lexer gets wrong can only
//! blur an error message there, never change what runs.
//!
//! It knows quotes (`'…'`, `"…"`, backticks, `[…]` on SQLite), comments (`--`, `#` on MySQL,
//! nested `/* */`), PostgreSQL dollar quotes, and the `BEGIN … END` bodies
//! that hold `;` of their own: `CREATE TRIGGER` on SQLite and MySQL, stored
//! procedures, functions and events and `BEGIN NOT ATOMIC` on MySQL/MariaDB,
//! and `BEGIN ATOMIC` functions on PostgreSQL.
//!
//! `rev --sql` also uses it to wrap MySQL bodies in `DELIMITER` lines for
//! the `mysql` client, which cuts its input at every `;` (see
//! [`Statement::compound`]).

use crate::url::BackendKind;

/// One statement of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text, trimmed, without its `;`.
    pub text: &'a str,
    /// Byte offset of `text` in the script.
    pub offset: usize,
    /// Whether `text` holds a `;` of its own, inside a `BEGIN … END` body
    /// (a trigger, a stored program, an anonymous block). A client that cuts
    /// its input at every `;`, like `mysql`, needs another delimiter for it.
    pub compound: bool,
}

impl Statement<'_> {
    /// The first line of the statement, for messages.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("").trim()
    }
}

/// How far the leading words of a statement have been read, to find the
/// statements whose body holds `;`: `CREATE [modifiers] TRIGGER` (SQLite,
/// MySQL), `PROCEDURE | FUNCTION | EVENT` (MySQL), `FUNCTION | PROCEDURE
/// … BEGIN ATOMIC` (PostgreSQL), and MariaDB's `BEGIN NOT ATOMIC` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// No word read yet.
    Start,
    /// After `CREATE` and its modifiers; up to `user_words` more words may be
    /// the user name of a `DEFINER = user@host` clause.
    Create { user_words: u8 },
    /// Known: the statement has a body or it has none.
    Done,
}

/// Words that may come between `CREATE` and the kind of object created.
const CREATE_MODIFIERS: [&str; 9] = [
    "or",
    "replace",
    "temp",
    "temporary",
    "definer",
    "sql",
    "security",
    "invoker",
    "aggregate",
];

/// The object kinds whose definition can hold a `BEGIN … END` body with `;`.
fn has_body(kind: BackendKind, word: &str) -> bool {
    let kinds: &[&str] = match kind {
        BackendKind::Sqlite => &["trigger"],
        BackendKind::MySql => &["trigger", "procedure", "function", "event"],
        BackendKind::Postgres => &["function", "procedure"],
    };
    kinds.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Split `sql` into statements. Parts holding only white space and comments
/// are dropped.
pub fn split_statements<'a>(sql: &'a str, kind: BackendKind) -> Vec<Statement<'a>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut has_code = false;
    // Bodies contain `;`; track BEGIN/CASE … END depth inside them.
    let mut head = Head::Start;
    let mut in_body = false;
    let mut depth = 0usize;
    let mut compound = false;

    let push = |out: &mut Vec<Statement<'a>>, from: usize, to: usize, has_code, compound| {
        if has_code {
            let raw = &sql[from..to];
            let lead = raw.len() - raw.trim_start().len();
            out.push(Statement {
                text: raw.trim(),
                offset: from + lead,
                compound,
            });
        }
    };

    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                has_code = true;
                i = skip_quoted(bytes, i, c, kind == BackendKind::MySql);
                continue;
            }
            // SQLite's `[name]` identifier (Microsoft style) has no escapes.
            b'[' if kind == BackendKind::Sqlite => {
                has_code = true;
                i = bytes[i..]
                    .iter()
                    .position(|b| *b == b']')
                    .map_or(bytes.len(), |p| i + p + 1);
                continue;
            }
            b'-' if starts_line_comment(bytes, i, kind) => {
                i = skip_line(bytes, i);
                continue;
            }
            b'#' if kind == BackendKind::MySql => {
                i = skip_line(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i, kind == BackendKind::Postgres);
                continue;
            }
            b'$' if kind == BackendKind::Postgres => {
                if let Some(end) = skip_dollar_quoted(sql, i) {
                    has_code = true;
                    i = end;
                    continue;
                }
            }
            b';' if depth > 0 => compound = true,
            b';' => {
                push(&mut out, start, i, has_code, compound);
                start = i + 1;
                has_code = false;
                head = Head::Start;
                in_body = false;
                compound = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let word_end = i + bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$')
                .count();
            let word = &sql[i..word_end];
            let next = next_word(sql, word_end);
            has_code = true;
            let is = |w: &str| word.eq_ignore_ascii_case(w);
            head = match head {
                Head::Start if is("create") => Head::Create { user_words: 0 },
                // MariaDB's anonymous block; a plain BEGIN opens a transaction.
                Head::Start
                    if kind == BackendKind::MySql
                        && is("begin")
                        && next.eq_ignore_ascii_case("not") =>
                {
                    in_body = true;
                    Head::Done
                }
                Head::Create { .. } if has_body(kind, word) => {
                    in_body = true;
                    Head::Done
                }
                Head::Create { .. } if is("definer") => Head::Create { user_words: 2 },
                Head::Create { user_words } if CREATE_MODIFIERS.iter().any(|m| is(m)) => {
                    Head::Create { user_words }
                }
                Head::Create { user_words } if user_words > 0 => Head::Create {
                    user_words: user_words - 1,
                },
                _ => Head::Done,
            };
            let mut end = word_end;
            if in_body {
                let opens_block = if kind == BackendKind::Postgres {
                    // Only the SQL-standard body; a `$$` body was skipped whole.
                    is("begin") && next.eq_ignore_ascii_case("atomic")
                } else {
                    is("begin")
                };
                if opens_block || is("case") {
                    depth += 1;
                } else if is("end") {
                    let is_next = |w: &str| next.eq_ignore_ascii_case(w);
                    if is_next("case") {
                        // `END CASE` closes a CASE statement: that CASE opens nothing.
                        depth = depth.saturating_sub(1);
                        end = sql.len() - sql[word_end..].trim_start().len() + next.len();
                    } else if !["if", "loop", "while", "repeat", "for"]
                        .iter()
                        .any(|w| is_next(w))
                    {
                        depth = depth.saturating_sub(1);
                    }
                }
            }
            i = end;
            continue;
        }
        if !c.is_ascii_whitespace() {
            has_code = true;
        }
        i += 1;
    }
    push(&mut out, start, bytes.len(), has_code, compound);
    out
}

/// `--` starts a comment; on MySQL only when followed by white space, a
/// control character or the end (`1--1` is arithmetic there).
fn starts_line_comment(bytes: &[u8], i: usize, kind: BackendKind) -> bool {
    if bytes.get(i + 1) != Some(&b'-') {
        return false;
    }
    kind != BackendKind::MySql
        || bytes
            .get(i + 2)
            .is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

/// Whether `sql`'s last piece of code is a `;` (comments after it allowed).
pub fn ends_with_terminator(sql: &str, kind: BackendKind) -> bool {
    match split_statements(sql, kind).last() {
        None => true,
        Some(last) => sql[last.offset + last.text.len()..]
            .trim_start()
            .starts_with(';'),
    }
}

/// The statement containing byte `offset`, if any.
pub fn statement_at<'a>(
    statements: &[Statement<'a>],
    offset: usize,
) -> Option<(usize, Statement<'a>)> {
    statements
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| s.offset <= offset)
        .map(|(i, s)| (i, *s))
}

fn next_word(sql: &str, from: usize) -> &str {
    let rest = sql[from..].trim_start();
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    &rest[..len]
}

fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        let c = bytes[i];
        if backslash && c == b'\\' && quote != b'`' {
            i += 2;
            continue;
        }
        if c == quote {
            // A doubled quote is an escaped quote, not the end.
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| start + p + 1)
}

fn skip_block_comment(bytes: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 1;
    let mut i = start + 2;
    while i < bytes.len() {
        if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
            continue;
        }
        if nested && bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
            continue;
        }
        i += 1;
    }
    bytes.len()
}

/// `$tag$ … $tag$`; `None` when `$` at `start` does not open a dollar quote
/// (a `$1` parameter, say).
fn skip_dollar_quoted(sql: &str, start: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return None;
    }
    let tag_len = bytes[start + 1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let close = start + 1 + tag_len;
    if bytes.get(close) != Some(&b'$') || bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &sql[start..=close];
    let body = close + 1;
    Some(
        sql[body..]
            .find(tag)
            .map_or(sql.len(), |p| body + p + tag.len()),
    )
}

#[cfg(test)]
mod tests {
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
        let sql = "CREATE TEMP TRIGGER IF NOT EXISTS t AFTER DELETE ON a BEGIN DELETE FROM b; END; SELECT 1";
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
}
