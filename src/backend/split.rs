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
mod tests;
