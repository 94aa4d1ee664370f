//! One revision file: its header, its two SQL sections and its checksum.
//!
//! This module owns the on-disk format of DESIGN.md and nothing else: it
//! parses one file's text into a [`Revision`] and never looks at other files
//! (the graph module checks parents, duplicates and cycles).
//!
//! Format decisions that DESIGN.md leaves open, written down here:
//! - Header lines are the `-- key: value` comment lines before the
//!   `-- +upgrade` marker; every value is one line of YAML. A comment line
//!   without `key:` is free text and ignored; a blank line is allowed.
//! - Any other text before `-- +upgrade` is an error, as is a second marker of
//!   either kind (the error names both lines) or `-- +downgrade` before
//!   `-- +upgrade`.
//! - A marker is a line that is exactly `-- +upgrade` or `-- +downgrade`;
//!   trailing white space is ignored, leading white space is not. A comment
//!   line that is *almost* a marker is an error naming its line and the exact
//!   marker to write, because read as a plain comment it would move a section
//!   boundary: a mistyped `-- +Downgrade` would make the DROP below it part of
//!   the upgrade. The rule (`near_miss`), for a line that is not exactly
//!   a marker, after trimming it and removing the leading `--`:
//!   1. the rest, with white space and every `+`, `-` and `:` removed, is
//!      `up`, `down`, `upgrade` or `downgrade` in any case, alone or after
//!      `goose` or `migrate` (the markers of goose, sql-migrate and dbmate:
//!      `-- +goose Down`, `-- migrate:down`); this catches `-- +Upgrade`,
//!      `--+downgrade`, `-- + upgrade`, `  -- +downgrade`, `-- ++downgrade`,
//!      `-- downgrade`, `-- +down`, `-- upgrade:`;
//!   2. or the rest starts with `+` and the first word after the `+` signs is
//!      one of those four words, whatever follows (`-- +downgrade -- lossy`).
//!
//!   A comment with other words, such as `-- upgrade the users table to utf8`
//!   or `-- downgrade path is lossy`, stays a plain comment. Markers are found
//!   line by line, in the header and in both sections alike.
//! - An upgrade section with nothing in it (no statement, no comment) is an
//!   untouched scaffold: it parses, and [`Revision::has_empty_upgrade`] lets
//!   `rev check` report it and `rev upgrade` refuse it. A comment line is
//!   enough to say a revision is empty on purpose (`rev merge` writes one).
//! - `revision` is required; `down_revision` is required too (write `null` for
//!   a base), because a forgotten parent would silently create a second base.
//! - Ids are read as the text the file holds, never as YAML numbers, so
//!   `000000000012` stays `000000000012`.
//! - Unknown keys are kept as warnings, not errors, so a file written by a
//!   newer `rev` still loads.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::IoCause;

/// Files larger than this are refused: a revision is hand-written SQL, and a
/// multi-gigabyte file in `versions/` is almost certainly a mistake that would
/// otherwise be read into memory whole.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A parsed revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision id (`revision:` header).
    pub id: String,
    /// Parents (`down_revision:`); empty for a base, several for a merge.
    pub down_revisions: Vec<String>,
    /// Branch labels this revision carries.
    pub branch_labels: Vec<String>,
    /// Cross-branch dependencies.
    pub depends_on: Vec<String>,
    /// Human description.
    pub message: String,
    /// Creation date as written in the file, if any.
    pub create_date: Option<String>,
    /// Whether the upgrade and downgrade run inside a transaction.
    pub transactional: bool,
    /// The upgrade section, as written.
    pub upgrade_sql: String,
    /// The downgrade section; `None` when absent or empty (irreversible).
    pub downgrade_sql: Option<String>,
    /// Line of the `-- +upgrade` marker.
    pub upgrade_line: usize,
    /// Line of the `-- +downgrade` marker; `None` when the file has none
    /// (with a marker and `downgrade_sql` `None`, the section is empty).
    pub downgrade_line: Option<usize>,
    /// Where the file is.
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the normalised upgrade section.
    pub checksum: String,
    /// Header keys this version of rev does not know, with their lines.
    pub unknown_keys: Vec<(usize, String)>,
    /// The run of older revisions this one stands for (`replaces:`, written
    /// by `rev squash`), oldest first; empty for an ordinary revision.
    pub replaces: Vec<String>,
}

impl Revision {
    /// Whether the revision can be downgraded.
    pub fn is_reversible(&self) -> bool {
        self.downgrade_sql.is_some()
    }

    /// Whether the upgrade section holds nothing at all, not even a comment:
    /// an untouched scaffold, which `rev upgrade` refuses to apply. (The same
    /// test as "normalises to nothing", without building the text.)
    pub fn has_empty_upgrade(&self) -> bool {
        self.upgrade_sql.trim().is_empty()
    }
}

/// A problem in one revision file, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {kind}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ParseError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a revision file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(#[source] IoCause),
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the file is {size} bytes; revision files are limited to {limit} bytes")]
    TooLarge {
        /// Size of the file.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8 text (a binary file, or another encoding).
    #[error("not UTF-8 text (a binary file, or another encoding?); revision files must be UTF-8")]
    NotUtf8,
    /// No `-- revision:` header: the file is not a revision.
    #[error("not a revision file: no `-- revision: <id>` header line")]
    NotARevision,
    /// A header value is not valid YAML.
    #[error("{key}: invalid YAML value: {message}")]
    BadYaml {
        /// The header key.
        key: String,
        /// The YAML parser's message.
        message: String,
    },
    /// A header value has the wrong shape.
    #[error("{key}: expected {expected}")]
    WrongType {
        /// The header key.
        key: String,
        /// What was expected, e.g. `a string or a list`.
        expected: &'static str,
    },
    /// An id that is not `[A-Za-z0-9_]+`.
    #[error("{key}: `{value}` is not a valid revision id (letters, digits and `_` only)")]
    BadId {
        /// The header key.
        key: String,
        /// The offending text.
        value: String,
    },
    /// A `depends_on` entry that is neither an id nor a label.
    #[error("depends_on: `{value}` is neither a revision id (letters, digits and `_`) nor a branch label (letters, digits, `_` and `-`)")]
    BadDependency {
        /// The offending text.
        value: String,
    },
    /// A branch label with characters that would be ambiguous in a target.
    #[error("branch_labels: `{value}` is not a valid label (letters, digits, `_` and `-` only)")]
    BadLabel {
        /// The offending text.
        value: String,
    },
    /// A branch label that is a target keyword (`head`, `heads`, `base`,
    /// `current`): `rev upgrade head` could never mean the branch.
    #[error("branch_labels: `{value}` is a reserved word in targets ({}) and cannot be a branch label; rename it", RESERVED_LABELS.join(", "))]
    ReservedLabel {
        /// The offending label.
        value: String,
    },
    /// A required header key is missing.
    #[error("missing `-- {key}:` header line{hint}")]
    MissingKey {
        /// The key.
        key: &'static str,
        /// Extra advice.
        hint: &'static str,
    },
    /// The same header key twice.
    #[error("`{key}` is given twice (first on line {first_line})")]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where it was first given.
        first_line: usize,
    },
    /// SQL or other text before `-- +upgrade`.
    #[error("text before the `-- +upgrade` marker: header lines must be `-- key: value` comments")]
    TextBeforeUpgrade,
    /// No `-- +upgrade` marker.
    #[error("no `-- +upgrade` marker line")]
    MissingUpgrade,
    /// A marker out of order.
    #[error("unexpected `{marker}` marker: {why}")]
    MisplacedMarker {
        /// The marker line.
        marker: &'static str,
        /// Why it is wrong here.
        why: &'static str,
    },
    /// A second marker of the same kind.
    #[error("a second `{marker}` marker (the first is on line {first_line}): a file has one upgrade and one downgrade section")]
    DuplicateMarker {
        /// The marker line.
        marker: &'static str,
        /// Where the first one is.
        first_line: usize,
    },
    /// A comment line that is almost a section marker (see the module doc).
    #[error("`{found}` is not a section marker: write `{marker}` exactly, alone at the start of its line (or, if it is a plain comment, reword it)")]
    NearMissMarker {
        /// The line as written (trimmed, and shortened if long).
        found: String,
        /// The marker it resembles.
        marker: &'static str,
    },
}

/// Words a target gives its own meaning (`current` in `history -r
/// current:`), so a branch label with one of these names could never be named.
pub const RESERVED_LABELS: &[&str] = &["head", "heads", "base", "current"];

/// Revision ids for a message: `` `a`, `b` ``.
pub(crate) fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known header key an unknown one is probably a misspelling of.
pub fn similar_key(unknown: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Header keys this version understands.
const KNOWN_KEYS: &[&str] = &[
    "revision",
    "down_revision",
    "branch_labels",
    "depends_on",
    "message",
    "create_date",
    "transactional",
    "replaces",
];

const UPGRADE_MARKER: &str = "-- +upgrade";
const DOWNGRADE_MARKER: &str = "-- +downgrade";

/// Reads and parses one revision file.
pub fn read(path: &Path) -> Result<Revision, ParseError> {
    let err = |kind| ParseError {
        path: path.to_path_buf(),
        line: None,
        kind,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(ParseErrorKind::Io(e.into())))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(err(ParseErrorKind::TooLarge {
            size: meta.len(),
            limit: MAX_FILE_BYTES,
        }));
    }
    let bytes = std::fs::read(path).map_err(|e| err(ParseErrorKind::Io(e.into())))?;
    let text = String::from_utf8(bytes).map_err(|_| err(ParseErrorKind::NotUtf8))?;
    parse(&text, path)
}

/// Splits text into lines, accepting `\n`, `\r\n` and lone `\r`.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                lines.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// Parses the text of a revision file. `path` is only used in errors and
/// stored in the result.
pub fn parse(text: &str, path: &Path) -> Result<Revision, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at = |line: usize, kind| ParseError {
        path: path.to_path_buf(),
        line: Some(line),
        kind,
    };
    if text.contains('\0') {
        return Err(ParseError {
            path: path.to_path_buf(),
            line: None,
            kind: ParseErrorKind::NotUtf8,
        });
    }
    let lines = split_lines(text);

    let mut header: Vec<(usize, &str, &str)> = Vec::new();
    let mut upgrade_start = None;
    let mut downgrade_start = None;
    let mut first_text_line = None;
    let mut near: Option<ParseError> = None;
    for (i, raw) in lines.iter().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end();
        if line == UPGRADE_MARKER {
            if let Some(first_line) = upgrade_start {
                return Err(at(
                    line_no,
                    ParseErrorKind::DuplicateMarker {
                        marker: UPGRADE_MARKER,
                        first_line,
                    },
                ));
            }
            if downgrade_start.is_some() {
                return Err(at(
                    line_no,
                    ParseErrorKind::MisplacedMarker {
                        marker: UPGRADE_MARKER,
                        why: "it must come before `-- +downgrade`",
                    },
                ));
            }
            upgrade_start = Some(i + 1);
            continue;
        }
        if line == DOWNGRADE_MARKER {
            if let Some(first_line) = downgrade_start {
                return Err(at(
                    line_no,
                    ParseErrorKind::DuplicateMarker {
                        marker: DOWNGRADE_MARKER,
                        first_line,
                    },
                ));
            }
            if upgrade_start.is_none() {
                return Err(at(
                    line_no,
                    ParseErrorKind::MisplacedMarker {
                        marker: DOWNGRADE_MARKER,
                        why: "it must come after `-- +upgrade`",
                    },
                ));
            }
            downgrade_start = Some(i + 1);
            continue;
        }
        if let Some(marker) = near_miss(line) {
            let e = at(
                line_no,
                ParseErrorKind::NearMissMarker {
                    found: shorten(line.trim()),
                    marker,
                },
            );
            // A stray .sql file is "not a revision" before anything else;
            // in a revision, the near miss is the cause of whatever would
            // be reported after it (text before the marker, no marker...).
            if header.iter().any(|(_, k, _)| *k == "revision") {
                return Err(e);
            }
            near.get_or_insert(e);
            continue;
        }
        if upgrade_start.is_some() {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            first_text_line.get_or_insert(line_no);
            continue;
        };
        if let Some((key, value)) = header_key_value(comment) {
            header.push((line_no, key, value));
        }
    }

    // A file with no `revision:` header at all is "not a revision" before it
    // is anything else: that message is the useful one for a stray .sql file.
    if !header.iter().any(|(_, k, _)| *k == "revision") {
        return Err(ParseError {
            path: path.to_path_buf(),
            line: None,
            kind: ParseErrorKind::NotARevision,
        });
    }
    if let Some(e) = near {
        return Err(e);
    }
    if let Some(line_no) = first_text_line {
        return Err(at(line_no, ParseErrorKind::TextBeforeUpgrade));
    }
    let Some(upgrade_start) = upgrade_start else {
        return Err(ParseError {
            path: path.to_path_buf(),
            line: None,
            kind: ParseErrorKind::MissingUpgrade,
        });
    };

    let mut fields = Fields::default();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (line_no, key, value) in &header {
        if let Some((_, first_line)) = seen.iter().find(|(k, _)| k == key) {
            return Err(at(
                *line_no,
                ParseErrorKind::DuplicateKey {
                    key: key.to_string(),
                    first_line: *first_line,
                },
            ));
        }
        seen.push((*key, *line_no));
        fields
            .set(key, value, *line_no)
            .map_err(|kind| at(*line_no, kind))?;
    }

    let missing = |key, hint| ParseError {
        path: path.to_path_buf(),
        line: None,
        kind: ParseErrorKind::MissingKey { key, hint },
    };
    let id = fields.revision.ok_or_else(|| missing("revision", ""))?;
    let down_revisions = fields.down_revision.ok_or_else(|| {
        missing(
            "down_revision",
            " (write `-- down_revision: null` for a first revision)",
        )
    })?;

    let upgrade_end = downgrade_start.map(|d| d - 1).unwrap_or(lines.len());
    let upgrade_lines = &lines[upgrade_start..upgrade_end];
    let upgrade_sql = join_section(upgrade_lines);
    let downgrade_sql = downgrade_start
        .map(|d| join_section(&lines[d..]))
        .filter(|sql| !normalise(sql).is_empty());

    Ok(Revision {
        checksum: checksum(&upgrade_sql),
        id,
        down_revisions,
        branch_labels: fields.branch_labels.unwrap_or_default(),
        depends_on: fields.depends_on.unwrap_or_default(),
        message: fields.message.unwrap_or_default(),
        create_date: fields.create_date,
        transactional: fields.transactional.unwrap_or(true),
        upgrade_sql,
        downgrade_sql,
        upgrade_line: upgrade_start,
        downgrade_line: downgrade_start,
        path: path.to_path_buf(),
        unknown_keys: fields.unknown,
        replaces: fields.replaces.unwrap_or_default(),
    })
}

/// The words a marker is made of, as a near miss may spell them.
const MARKER_WORDS: [(&str, &str); 4] = [
    ("upgrade", UPGRADE_MARKER),
    ("downgrade", DOWNGRADE_MARKER),
    ("up", UPGRADE_MARKER),
    ("down", DOWNGRADE_MARKER),
];

fn marker_word(word: &str) -> Option<&'static str> {
    MARKER_WORDS
        .iter()
        .find(|(w, _)| word.eq_ignore_ascii_case(w))
        .map(|(_, marker)| *marker)
}

/// The marker a line that is not exactly one almost is, by the rule of the
/// module doc; `None` for any other line.
fn near_miss(line: &str) -> Option<&'static str> {
    let rest = line.trim().strip_prefix("--")?;
    // Rule 1. The longest word that can match is `migratedowngrade` (16
    // letters): anything longer is prose, and is not collected.
    let squeezed: String = rest
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '+' | '-' | ':')))
        .take(17)
        .collect();
    let word = ["goose", "migrate"]
        .iter()
        .find_map(|tool| {
            squeezed
                .get(..tool.len())
                .filter(|p| p.eq_ignore_ascii_case(tool))
                .map(|_| &squeezed[tool.len()..])
        })
        .unwrap_or(&squeezed);
    if let Some(marker) = marker_word(word) {
        return Some(marker);
    }
    // Rule 2.
    let after_plus = rest.trim_start().strip_prefix('+')?;
    let after_plus = after_plus.trim_start_matches(|c: char| c == '+' || c.is_whitespace());
    let end = after_plus
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(after_plus.len());
    marker_word(&after_plus[..end])
}

/// A line for an error message: at most 60 characters.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

fn join_section(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Splits `key: value` out of a comment's text; `None` for free text.
pub(crate) fn header_key_value(comment: &str) -> Option<(&str, &str)> {
    let comment = comment.trim_start();
    let (key, value) = comment.split_once(':')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some((key, value.trim()))
}

#[derive(Default)]
struct Fields {
    revision: Option<String>,
    down_revision: Option<Vec<String>>,
    branch_labels: Option<Vec<String>>,
    depends_on: Option<Vec<String>>,
    message: Option<String>,
    create_date: Option<String>,
    transactional: Option<bool>,
    replaces: Option<Vec<String>>,
    unknown: Vec<(usize, String)>,
}

impl Fields {
    fn set(&mut self, key: &str, raw: &str, line: usize) -> Result<(), ParseErrorKind> {
        let value = yaml(key, raw)?;
        match key {
            "revision" => {
                let ids = ids(key, raw, &value)?;
                match ids.as_slice() {
                    [one] => self.revision = Some(one.clone()),
                    _ => {
                        return Err(ParseErrorKind::WrongType {
                            key: key.into(),
                            expected: "one revision id",
                        })
                    }
                }
            }
            "down_revision" => self.down_revision = Some(ids(key, raw, &value)?),
            "depends_on" => {
                // A revision id or, as in Alembic, a branch label (the
                // graph resolves it to the labelled revision).
                let refs = scalars(key, raw, &value)?;
                if let Some(bad) = refs.iter().find(|r| !is_valid_label(r)) {
                    return Err(ParseErrorKind::BadDependency { value: bad.clone() });
                }
                self.depends_on = Some(refs);
            }
            "replaces" => self.replaces = Some(ids(key, raw, &value)?),
            "branch_labels" => {
                let labels = scalars(key, raw, &value)?;
                for label in &labels {
                    check_label(label)?;
                }
                self.branch_labels = Some(labels);
            }
            "message" => {
                self.message = Some(match value {
                    serde_yaml::Value::Null => String::new(),
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_) => {
                        strip_comment(raw).to_string()
                    }
                    _ => {
                        return Err(ParseErrorKind::WrongType {
                            key: key.into(),
                            expected: "a string",
                        })
                    }
                })
            }
            "create_date" => {
                self.create_date = match value {
                    serde_yaml::Value::Null => None,
                    serde_yaml::Value::String(s) => Some(s),
                    serde_yaml::Value::Number(_) => Some(strip_comment(raw).to_string()),
                    _ => {
                        return Err(ParseErrorKind::WrongType {
                            key: key.into(),
                            expected: "a date string",
                        })
                    }
                }
            }
            "transactional" => match value {
                serde_yaml::Value::Bool(b) => self.transactional = Some(b),
                _ => {
                    return Err(ParseErrorKind::WrongType {
                        key: key.into(),
                        expected: "true or false",
                    })
                }
            },
            _ => self.unknown.push((line, key.to_string())),
        }
        Ok(())
    }
}

fn yaml(key: &str, raw: &str) -> Result<serde_yaml::Value, ParseErrorKind> {
    if !KNOWN_KEYS.contains(&key) {
        return Ok(serde_yaml::Value::Null);
    }
    if let Some(value) = plain_value(raw) {
        return Ok(value);
    }
    serde_yaml::from_str(raw).map_err(|e| ParseErrorKind::BadYaml {
        key: key.into(),
        message: e.to_string(),
    })
}

/// The value of the common, simple header values without the YAML parser,
/// which costs more than reading the file: loading 10,000 revisions spent
/// most of its time there. Only text whose YAML meaning is certain takes
/// this path (null, booleans, bare words, dates, flat lists of bare words);
/// anything else returns `None` and goes to serde_yaml. Numbers need no
/// care: callers read ids and messages from the raw text either way.
fn plain_value(raw: &str) -> Option<serde_yaml::Value> {
    use serde_yaml::Value;
    let word = |w: &str| {
        !w.is_empty()
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !matches!(
                w,
                "null"
                    | "Null"
                    | "NULL"
                    | "true"
                    | "True"
                    | "TRUE"
                    | "false"
                    | "False"
                    | "FALSE"
                    | "y"
                    | "Y"
                    | "n"
                    | "N"
                    | "yes"
                    | "no"
                    | "on"
                    | "off"
            )
    };
    let text = raw.trim();
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let items: Vec<&str> = inner.split(',').map(str::trim).collect();
        if items.iter().all(|w| word(w)) {
            return Some(Value::Sequence(
                items
                    .into_iter()
                    .map(|w| Value::String(w.to_string()))
                    .collect(),
            ));
        }
        return None;
    }
    // A bare word, `1234e5678901` included: where YAML would see a number,
    // callers read the raw text anyway.
    if word(text) {
        return Some(Value::String(text.to_string()));
    }
    // An RFC 3339 date, which YAML reads as a plain string.
    let is_date = text.len() >= 10
        && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[4] == b'-'
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || "-:TZ.+".contains(c));
    if is_date {
        return Some(Value::String(text.to_string()));
    }
    // Prose of words and simple punctuation (a typical message).
    let prose = text
        .chars()
        .all(|c| c.is_alphanumeric() || " _-.,()/".contains(c))
        && text.starts_with(|c: char| c.is_alphabetic())
        && text.contains(' ');
    if prose {
        return Some(Value::String(text.to_string()));
    }
    None
}

/// The scalar text of a one-line YAML value with its trailing comment removed.
fn strip_comment(raw: &str) -> &str {
    let mut in_single = false;
    let mut in_double = false;
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' if !in_double => in_single = !in_single,
            b'"' if !in_single => in_double = !in_double,
            b'#' if !in_single && !in_double && (i == 0 || bytes[i - 1].is_ascii_whitespace()) => {
                return raw[..i].trim();
            }
            _ => {}
        }
    }
    raw.trim()
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Reads a value that is null, one scalar, or a flow list of scalars, keeping
/// the text as written (YAML would turn `000012` into the number 12).
fn scalars(key: &str, raw: &str, value: &serde_yaml::Value) -> Result<Vec<String>, ParseErrorKind> {
    use serde_yaml::Value;
    let wrong = || ParseErrorKind::WrongType {
        key: key.into(),
        expected: "a string or a list",
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Number(_) | Value::Bool(_) => Ok(vec![strip_comment(raw).to_string()]),
        Value::Sequence(items) => {
            if items
                .iter()
                .any(|v| !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
            {
                return Err(wrong());
            }
            let text = strip_comment(raw);
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(wrong)?;
            Ok(inner
                .split(',')
                .map(unquote)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect())
        }
        _ => Err(wrong()),
    }
}

fn ids(key: &str, raw: &str, value: &serde_yaml::Value) -> Result<Vec<String>, ParseErrorKind> {
    let ids = scalars(key, raw, value)?;
    for id in &ids {
        if !is_valid_id(id) {
            return Err(ParseErrorKind::BadId {
                key: key.into(),
                value: id.clone(),
            });
        }
    }
    Ok(ids)
}

/// Whether `id` is a valid revision id: `[A-Za-z0-9_]+`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `label` is a valid branch label: `[A-Za-z0-9_-]+`. Every valid
/// revision id is one too.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty() && label.chars().all(is_label_char)
}

/// Whether `c` may appear in a branch label: `[A-Za-z0-9_-]`. Targets are
/// parsed with the same set, so every label can be named in one.
pub fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `label` may be a new branch label: valid ([`is_valid_label`])
/// and not a word targets reserve ([`RESERVED_LABELS`]). The error is
/// [`ParseErrorKind::BadLabel`] or [`ParseErrorKind::ReservedLabel`]; the
/// parser and `rev new --branch-label` both ask here.
pub fn check_label(label: &str) -> Result<(), ParseErrorKind> {
    if !is_valid_label(label) {
        Err(ParseErrorKind::BadLabel {
            value: label.to_owned(),
        })
    } else if RESERVED_LABELS.contains(&label) {
        Err(ParseErrorKind::ReservedLabel {
            value: label.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// A new revision id: 12 lowercase hex characters from a UUID v4.
pub fn generate_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// The normalised form of a section that the checksum covers: BOM removed,
/// line endings unified, trailing white space trimmed from every line,
/// leading and trailing blank lines dropped.
pub fn normalise(section: &str) -> String {
    normalised_lines(section).join("\n")
}

/// The lines of [`normalise`], not yet joined with `\n`: the one statement
/// of the rule, which [`checksum`] hashes without building the text.
fn normalised_lines(section: &str) -> Vec<&str> {
    let section = section.strip_prefix('\u{feff}').unwrap_or(section);
    let mut lines: Vec<&str> = split_lines(section)
        .into_iter()
        .map(str::trim_end)
        .collect();
    match lines.iter().rposition(|l| !l.is_empty()) {
        Some(end) => {
            lines.truncate(end + 1);
            let start = lines.iter().position(|l| !l.is_empty()).unwrap_or(0);
            lines.drain(..start);
            lines
        }
        None => Vec::new(),
    }
}

/// Lowercase hex SHA-256 of the normalised section. Hashes the lines as it
/// walks them rather than building the normalised text: this runs once per
/// file on every load.
pub fn checksum(section: &str) -> String {
    let mut hasher = Sha256::new();
    for (k, line) in normalised_lines(section).iter().enumerate() {
        if k > 0 {
            hasher.update(b"\n");
        }
        hasher.update(line.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Revision, ParseError> {
        parse(text, Path::new("versions/x.sql"))
    }

    const BASIC: &str = "-- revision: 1975ea83b712\n\
-- down_revision: ae1027a6acf0          # null for a base; a list for a merge\n\
-- branch_labels: [billing]\n\
-- depends_on: [55af2cb1c267]\n\
-- message: create account table\n\
-- create_date: 2026-11-21T10:00:00Z\n\
\n\
-- +upgrade\n\
CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
\n\
-- +downgrade\n\
DROP TABLE account;\n";

    #[test]
    fn parses_the_design_example() {
        let r = p(BASIC).unwrap();
        assert_eq!(r.id, "1975ea83b712");
        assert_eq!(r.down_revisions, vec!["ae1027a6acf0"]);
        assert_eq!(r.branch_labels, vec!["billing"]);
        assert_eq!(r.depends_on, vec!["55af2cb1c267"]);
        assert_eq!(r.message, "create account table");
        assert_eq!(r.create_date.as_deref(), Some("2026-11-21T10:00:00Z"));
        assert!(r.transactional);
        assert_eq!(
            normalise(&r.upgrade_sql),
            "CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
        );
        assert_eq!(
            r.downgrade_sql.as_deref().map(normalise).as_deref(),
            Some("DROP TABLE account;")
        );
    }

    #[test]
    fn checksum_frozen_vectors() {
        // Frozen: changing these breaks every database's drift detection.
        assert_eq!(
            checksum("CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
            "52872fa7d77f82fea23da838984086f7e41c724f332fcde0aba76ba18c7105bc"
        );
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let lf = "\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1);\n\n";
        let crlf = "\r\n\r\nCREATE TABLE a (x int);   \r\nINSERT INTO a VALUES (1);\t\r\n";
        let cr = "\u{feff}CREATE TABLE a (x int);\rINSERT INTO a VALUES (1);\r\r";
        assert_eq!(checksum(lf), checksum(crlf));
        assert_eq!(checksum(lf), checksum(cr));
        // Several lines, blank lines around them, a BOM and trailing blanks.
        assert_eq!(
            checksum(crlf),
            "7971613a76375d539168facf6c24f126d30ff7f8798442b15b5ad49474e8f3e6"
        );
        // The checksum is the hash of the normalised text, and of nothing else.
        for text in [lf, crlf, cr, "", "\n \n", "x", " a \n\n b "] {
            assert_eq!(
                checksum(text),
                hex::encode(Sha256::digest(normalise(text).as_bytes())),
                "{text:?}"
            );
        }
        assert_ne!(
            checksum(lf),
            checksum("CREATE TABLE a (x int);\nINSERT INTO a VALUES (2);")
        );
        assert_ne!(
            checksum(lf),
            checksum("CREATE TABLE a (x  int);\nINSERT INTO a VALUES (1);")
        );
    }

    #[test]
    fn crlf_and_bom_files_parse_and_match_lf() {
        let crlf = format!("\u{feff}{}", BASIC.replace('\n', "\r\n"));
        let a = p(BASIC).unwrap();
        let b = p(&crlf).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.checksum, b.checksum);
    }

    #[test]
    fn replaces_is_a_list_of_ids() {
        let r = p("-- revision: s1\n-- down_revision: a\n-- replaces: [b, 000000000012]\n-- +upgrade\nSELECT 1;\n").unwrap();
        assert_eq!(r.replaces, vec!["b", "000000000012"]);
        assert!(r.unknown_keys.is_empty());
        let e = p("-- revision: s1\n-- down_revision: a\n-- replaces: [b, c-d]\n-- +upgrade\n")
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            matches!(e.kind, ParseErrorKind::BadId { ref key, .. } if key == "replaces"),
            "{e}"
        );
        let r = p("-- revision: s1\n-- down_revision: a\n-- +upgrade\n").unwrap();
        assert!(r.replaces.is_empty());
    }

    #[test]
    fn ids_stay_text() {
        let r = p("-- revision: 000000000012\n-- down_revision: [1234e5678901, 000000000011]\n-- +upgrade\nSELECT 1;\n").unwrap();
        assert_eq!(r.id, "000000000012");
        assert_eq!(r.down_revisions, vec!["1234e5678901", "000000000011"]);
        let r = p("-- revision: 1234e5678901\n-- down_revision: 0012\n-- +upgrade\n").unwrap();
        assert_eq!(r.id, "1234e5678901");
        assert_eq!(r.down_revisions, vec!["0012"]);
    }

    #[test]
    fn base_merge_and_quoted_forms() {
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\n").unwrap();
        assert!(r.down_revisions.is_empty());
        let r = p("-- revision: 'a'\n-- down_revision: [\"b\", 'c']\n-- +upgrade\n").unwrap();
        assert_eq!(r.id, "a");
        assert_eq!(r.down_revisions, vec!["b", "c"]);
        let r = p("-- revision: a\n-- down_revision: ~\n-- +upgrade\n").unwrap();
        assert!(r.down_revisions.is_empty());
    }

    #[test]
    fn missing_or_empty_downgrade_is_irreversible() {
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\nSELECT 1;\n").unwrap();
        assert!(!r.is_reversible());
        let r = p(
            "-- revision: a\n-- down_revision: null\n-- +upgrade\nSELECT 1;\n-- +downgrade\n\n  \n",
        )
        .unwrap();
        assert!(!r.is_reversible());
    }

    fn kind(text: &str) -> (Option<usize>, ParseErrorKind) {
        let e = p(text).unwrap_err();
        (e.line, e.kind)
    }

    #[test]
    fn errors_name_the_line() {
        let (line, k) = kind("-- revision: a\n-- down_revision: {x: 1}\n-- +upgrade\n");
        assert_eq!(line, Some(2));
        assert_eq!(
            k,
            ParseErrorKind::WrongType {
                key: "down_revision".into(),
                expected: "a string or a list"
            }
        );
        let e = p("-- revision: a\n-- down_revision: {x: 1}\n-- +upgrade\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "versions/x.sql:2: down_revision: expected a string or a list"
        );
        assert!(matches!(
            kind("-- revision: a-b\n-- down_revision: null\n-- +upgrade\n").1,
            ParseErrorKind::BadId { .. }
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: null\nCREATE TABLE x();\n-- +upgrade\n"),
            (Some(3), ParseErrorKind::TextBeforeUpgrade)
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: null\n"),
            (None, ParseErrorKind::MissingUpgrade)
        ));
        assert!(matches!(
            kind("-- revision: a\n-- +upgrade\n").1,
            ParseErrorKind::MissingKey {
                key: "down_revision",
                ..
            }
        ));
        assert!(matches!(
            kind("-- revision: a\n-- revision: b\n-- down_revision: null\n-- +upgrade\n"),
            (Some(2), ParseErrorKind::DuplicateKey { .. })
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: null\n-- +downgrade\n-- +upgrade\n"),
            (Some(3), ParseErrorKind::MisplacedMarker { .. })
        ));
        assert_eq!(
            kind("-- revision: a\n-- down_revision: null\n-- +upgrade\n-- +upgrade\n"),
            (
                Some(4),
                ParseErrorKind::DuplicateMarker {
                    marker: UPGRADE_MARKER,
                    first_line: 3
                }
            )
        );
        assert!(matches!(
            kind("CREATE TABLE x (a int);\n").1,
            ParseErrorKind::NotARevision
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: null\n-- transactional: maybe\n-- +upgrade\n"),
            (Some(3), ParseErrorKind::WrongType { .. })
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: [b\n-- +upgrade\n"),
            (Some(2), ParseErrorKind::BadYaml { .. })
        ));
        assert!(matches!(
            kind("-- revision: a\n-- down_revision: null\n-- branch_labels: [a@b]\n-- +upgrade\n"),
            (Some(3), ParseErrorKind::BadLabel { .. })
        ));
        // `depends_on` takes ids and, as in Alembic, branch labels.
        let r = p(
            "-- revision: a\n-- down_revision: null\n-- depends_on: [feature-2, b1]\n-- +upgrade\n",
        )
        .unwrap();
        assert_eq!(r.depends_on, ["feature-2", "b1"]);
        let (line, k) =
            kind("-- revision: a\n-- down_revision: null\n-- depends_on: [a@b]\n-- +upgrade\n");
        assert_eq!(line, Some(3));
        assert_eq!(
            k.to_string(),
            "depends_on: `a@b` is neither a revision id (letters, digits and `_`) nor a branch label (letters, digits, `_` and `-`)"
        );
    }

    const HEAD: &str =
        "-- revision: a\n-- down_revision: null\n\n-- +upgrade\nCREATE TABLE t (x int);\n";

    #[test]
    fn near_miss_markers_are_errors_naming_line_and_marker() {
        let cases = [
            ("-- +Downgrade", DOWNGRADE_MARKER),
            ("-- +DOWNGRADE", DOWNGRADE_MARKER),
            ("--+downgrade", DOWNGRADE_MARKER),
            ("  -- +downgrade", DOWNGRADE_MARKER),
            ("\t-- +downgrade", DOWNGRADE_MARKER),
            ("-- + downgrade", DOWNGRADE_MARKER),
            ("-- ++downgrade", DOWNGRADE_MARKER),
            ("--  +downgrade", DOWNGRADE_MARKER),
            ("-- downgrade", DOWNGRADE_MARKER),
            ("-- Downgrade:", DOWNGRADE_MARKER),
            ("-- +downgrade:", DOWNGRADE_MARKER),
            ("-- +down", DOWNGRADE_MARKER),
            ("-- down", DOWNGRADE_MARKER),
            ("--- +downgrade", DOWNGRADE_MARKER),
            (
                "-- +downgrade -- irreversible in practice",
                DOWNGRADE_MARKER,
            ),
            ("-- +downgrade;", DOWNGRADE_MARKER),
            ("-- +goose Down", DOWNGRADE_MARKER),
            ("-- +migrate Down", DOWNGRADE_MARKER),
            ("-- migrate:down", DOWNGRADE_MARKER),
            ("-- +up", UPGRADE_MARKER),
            ("-- upgrade:", UPGRADE_MARKER),
            ("-- +Upgrade", UPGRADE_MARKER),
            ("-- + upgrade", UPGRADE_MARKER),
        ];
        for (line, marker) in cases {
            let text = format!("{HEAD}{line}\nDROP TABLE t;\n");
            let e = p(&text).unwrap_err();
            assert_eq!(e.line, Some(6), "{line:?}");
            assert_eq!(
                e.kind,
                ParseErrorKind::NearMissMarker {
                    found: line.trim().to_string(),
                    marker
                },
                "{line:?}"
            );
            let shown = e.to_string();
            assert!(shown.starts_with("versions/x.sql:6: "), "{shown}");
            assert!(
                shown.contains(&format!("write `{marker}` exactly")),
                "{shown}"
            );
        }
        // A near miss of the upgrade marker in place of it: the error is
        // the near miss, not the text after it or the missing marker.
        for text in [
            "-- revision: a\n-- down_revision: null\n-- +Upgrade\nCREATE TABLE t (x int);\n",
            "-- revision: a\n-- down_revision: null\n--+upgrade\n",
            "-- revision: a\n-- down_revision: null\n-- +Upgrade\nCREATE TABLE t (x int);\n-- +downgrade\nDROP TABLE t;\n",
        ] {
            assert_eq!(
                kind(text),
                (
                    Some(3),
                    ParseErrorKind::NearMissMarker {
                        found: text.lines().nth(2).unwrap().to_string(),
                        marker: UPGRADE_MARKER
                    }
                ),
                "{text}"
            );
        }
        // Before the revision header, it waits: a stray .sql file is "not a
        // revision" first.
        assert_eq!(
            kind("-- up\nCREATE TABLE t (x int);\n").1,
            ParseErrorKind::NotARevision
        );
        assert!(matches!(
            kind("-- Up\n-- revision: a\n-- down_revision: null\n-- +upgrade\n"),
            (Some(1), ParseErrorKind::NearMissMarker { .. })
        ));
        // A long line is shortened in the message.
        let long = format!("-- +downgrade {}", "é".repeat(200));
        let e = p(&format!("{HEAD}{long}\n")).unwrap_err();
        let ParseErrorKind::NearMissMarker { found, .. } = e.kind else {
            panic!("{e}")
        };
        assert!(
            found.ends_with("...") && found.chars().count() == 63,
            "{found}"
        );
    }

    #[test]
    fn plain_comments_that_mention_the_words_are_sql() {
        for line in [
            "-- upgrade the users table to utf8",
            "-- downgrade path is lossy",
            "-- Downgrade: drop the table",
            "-- upgrades",
            "-- +1 for the new index",
            "-- +downgraded rows are kept",
            "-- up to 5 rows per user",
            "-- goose",
            "--",
            "-- +",
            "-- update",
            "SELECT 1; -- +downgrade",
            "/* -- +downgrade */",
        ] {
            let text = format!("{HEAD}{line}\n-- +downgrade\nDROP TABLE t;\n");
            let r = p(&text).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(r.upgrade_sql.contains(line), "{line:?}");
            assert_eq!(r.downgrade_line, Some(7));
            assert_eq!(r.downgrade_sql.as_deref(), Some("DROP TABLE t;\n"));
        }
        // Trailing white space after an exact marker is still a marker.
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade  \nSELECT 1;\n-- +downgrade\t\r\nSELECT 2;\n").unwrap();
        assert_eq!((r.upgrade_line, r.downgrade_line), (3, Some(5)));
        assert_eq!(r.downgrade_sql.as_deref(), Some("SELECT 2;\n"));
    }

    #[test]
    fn second_marker_names_the_first() {
        let e = p(&format!(
            "{HEAD}-- +downgrade\nDROP TABLE t;\n-- +downgrade\nSELECT 1;\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, &e.kind),
            (
                Some(8),
                &ParseErrorKind::DuplicateMarker {
                    marker: DOWNGRADE_MARKER,
                    first_line: 6
                }
            )
        );
        assert_eq!(
            e.to_string(),
            "versions/x.sql:8: a second `-- +downgrade` marker (the first is on line 6): \
             a file has one upgrade and one downgrade section"
        );
    }

    #[test]
    fn empty_sections_are_told_apart() {
        // The untouched scaffold: an empty upgrade section.
        let r =
            p("-- revision: a\n-- down_revision: null\n\n-- +upgrade\n\n  \n\n-- +downgrade\n\n")
                .unwrap();
        assert!(r.has_empty_upgrade());
        assert_eq!(r.upgrade_line, 4);
        // Empty downgrade: the marker is there, the section is not.
        assert_eq!(
            (r.downgrade_line, r.downgrade_sql.as_ref()),
            (Some(8), None)
        );
        assert!(!r.is_reversible());
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\n").unwrap();
        assert!(r.has_empty_upgrade());
        assert_eq!(r.downgrade_line, None);
        // A comment says "empty on purpose", in either section.
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\n-- intentionally empty\n-- +downgrade\n-- nothing to undo\n").unwrap();
        assert!(!r.has_empty_upgrade());
        assert!(r.is_reversible());
        // The checksum of an empty section is unchanged by the new rules.
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\n\n").unwrap();
        assert_eq!(
            r.checksum,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn target_keywords_are_refused_as_labels_with_the_line() {
        for word in RESERVED_LABELS {
            let text = format!(
                "-- revision: a\n-- down_revision: null\n-- branch_labels: [ok, {word}]\n-- +upgrade\n"
            );
            let e = p(&text).unwrap_err();
            assert_eq!(e.line, Some(3), "{word}");
            assert!(matches!(&e.kind, ParseErrorKind::ReservedLabel { value } if value == word));
            assert!(e.to_string().contains("reserved"), "{e}");
        }
        // Only the whole word: `headless` is a fine label.
        let r =
            p("-- revision: a\n-- down_revision: null\n-- branch_labels: headless\n-- +upgrade\n")
                .unwrap();
        assert_eq!(r.branch_labels, vec!["headless"]);
    }

    #[test]
    fn a_misspelled_key_has_a_suggestion() {
        assert_eq!(similar_key("transactinal"), Some("transactional"));
        assert_eq!(similar_key("down_revison"), Some("down_revision"));
        assert_eq!(similar_key("branch_label"), Some("branch_labels"));
        assert_eq!(similar_key("author"), None);
    }

    #[test]
    fn unknown_keys_and_free_comments() {
        let r = p("-- A free comment line.\n-- revision: a\n-- down_revision: null\n-- author: me\n-- +upgrade\n").unwrap();
        assert_eq!(r.unknown_keys, vec![(4, "author".to_string())]);
        let r = p("-- revision: a\n-- down_revision: null\n-- transactional: false\n-- +upgrade\n")
            .unwrap();
        assert!(!r.transactional);
    }

    #[test]
    fn comment_lines_inside_sections_are_sql() {
        let r = p("-- revision: a\n-- down_revision: null\n-- +upgrade\n-- message: not a header\nSELECT 1;\n").unwrap();
        assert_eq!(r.message, "");
        assert!(r.upgrade_sql.contains("not a header"));
    }

    #[test]
    fn plain_values_read_as_yaml_would() {
        for text in [
            "",
            "~",
            "null",
            "NULL",
            "true",
            "False",
            "abc_123",
            "000000000012",
            "1234e5678901",
            "[a, b_2, 0012]",
            "[]",
            "[a,b]",
            "2026-11-21T10:00:00Z",
            "2026-11-21",
            "create account table",
            "add users (v2), drop old/legacy stuff.",
            "yes",
            "no",
            "on",
            "y",
            "0x1F",
            "1e3",
            ".inf",
            "- a",
            "a: b",
            "[a, [b]]",
            "{a: 1}",
            "'q'",
        ] {
            let Some(fast) = plain_value(text) else {
                continue;
            };
            let slow: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
            match (&fast, &slow) {
                // Ids and messages are read from the raw text when YAML sees
                // a number, so a string here is equivalent.
                (serde_yaml::Value::String(_), serde_yaml::Value::Number(_)) => {}
                (serde_yaml::Value::Sequence(f), serde_yaml::Value::Sequence(s)) => {
                    assert_eq!(f.len(), s.len(), "{text}")
                }
                _ => assert_eq!(fast, slow, "`{text}`"),
            }
        }
    }

    #[test]
    fn generated_ids_are_12_hex() {
        let id = generate_id();
        assert_eq!(id.len(), 12);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
