//! Working in a team: the revision files as a git ref holds them, what
//! changed since then (`rev check --against REF`), and moving revisions onto
//! another parent (`rev rebase`).
//!
//! Git is reached through the `git` program, never a library: the revisions
//! at a ref are listed with one `git ls-tree` and read with one
//! `git cat-file --batch`, so thousands of files cost two processes.
//!
//! Decisions DESIGN.md leaves open, written down here:
//! - **What `--against` compares.** Revisions are matched by id, not by file
//!   name (a renamed file is the same revision). A revision present at REF
//!   whose upgrade checksum differs is *changed*; one whose `down_revision`
//!   differs is *moved*; one missing now is *deleted*. A revision new since
//!   REF that builds on a revision that is not a head at REF *forks* REF's
//!   history: two people extended the same head. The fork is fine once a
//!   merge revision joins it back (every head that descends from the new
//!   revision also descends from a head REF has there), or when the new
//!   revisions open a branch under a label REF does not have (a branch made
//!   on purpose).
//! - **What `rebase` moves.** Each named revision gets the new parent; its
//!   descendants follow it unchanged, since they name it, not its parent.
//!   Several named revisions are stacked: the first onto TARGET, the next
//!   onto the head of the first one's line, and so on, so the result is one
//!   line. Only the `-- down_revision:` line of each moved file is
//!   rewritten; every other byte (a BOM, CRLF line ends, a trailing YAML
//!   comment on that line) stays as it was, and the upgrade checksum cannot
//!   change.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::graph::{Graph, RevIndex};
use crate::revision::{self, ParseError, Revision};
use crate::IoCause;

/// A problem reaching git or rewriting a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TeamError {
    /// The `git` program cannot be run.
    #[error("cannot run `git`: {message}")]
    GitMissing {
        /// The OS message.
        message: String,
    },
    /// The script directory is not inside a git work tree.
    #[error("{} is not inside a git repository", dir.display())]
    NotARepository {
        /// The script directory.
        dir: PathBuf,
    },
    /// The ref names no commit.
    #[error("`{reference}` is not a commit, branch or tag in this git repository")]
    UnknownRef {
        /// The ref as given.
        reference: String,
    },
    /// git failed in another way.
    #[error("`git {command}` failed: {message}")]
    Git {
        /// The git subcommand.
        command: String,
        /// What git said.
        message: String,
    },
    /// A file to rewrite has no `-- down_revision:` header line.
    #[error("{}: no `-- down_revision:` header line to rewrite", path.display())]
    NoDownRevisionLine {
        /// The file.
        path: PathBuf,
    },
    /// A rebase that cannot be done as asked.
    #[error("{message}")]
    Rebase {
        /// Stable kind.
        kind: &'static str,
        /// What is wrong, naming the revisions.
        message: String,
        /// What to do instead.
        hint: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said (`InvalidData` for a rewrite that would not
        /// parse back).
        source: IoCause,
    },
}

impl TeamError {
    /// A stable name for scripts (`-f json`).
    pub fn kind(&self) -> &'static str {
        match self {
            TeamError::GitMissing { .. } => "git_missing",
            TeamError::NotARepository { .. } => "not_a_git_repository",
            TeamError::UnknownRef { .. } => "unknown_ref",
            TeamError::Git { .. } => "git",
            TeamError::NoDownRevisionLine { .. } => "no_down_revision_line",
            TeamError::Rebase { kind, .. } => kind,
            TeamError::Io { .. } => "rebase_io",
        }
    }
}

/// The revision files of the script directory as a git commit holds them.
#[derive(Debug, Clone)]
pub struct RefRevisions {
    /// The ref as given.
    pub reference: String,
    /// The commit it names (full hex id).
    pub commit: String,
    /// The revisions that parse. Their `path` is where the file would be in
    /// the work tree (the script directory joined with the file name).
    pub revisions: Vec<Revision>,
    /// Files at the ref that do not parse (they are left out of the
    /// comparison).
    pub unreadable: Vec<ParseError>,
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, TeamError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TeamError::GitMissing {
            message: e.to_string(),
        })
}

fn git_failed(args: &[&str], out: &std::process::Output) -> TeamError {
    TeamError::Git {
        command: args.join(" "),
        message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// Reads the revision files that `script_dir` held at `reference`. Only
/// `*.sql` files directly in the folder count, as [`Graph::load`] reads them.
pub fn revisions_at(script_dir: &Path, reference: &str) -> Result<RefRevisions, TeamError> {
    // `--show-prefix` is the script directory relative to the top of the work
    // tree, with a trailing `/` (empty at the top), which is what `ls-tree`
    // takes; it fails outside a repository.
    let out = git(script_dir, &["rev-parse", "--show-prefix"])?;
    if !out.status.success() {
        return Err(TeamError::NotARepository {
            dir: script_dir.to_path_buf(),
        });
    }
    let prefix = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
    let spec = format!("{reference}^{{commit}}");
    // `--end-of-options` keeps a ref that starts with `-` from being read as
    // an option.
    let out = git(
        script_dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )?;
    if !out.status.success() {
        return Err(TeamError::UnknownRef {
            reference: reference.to_string(),
        });
    }
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let top = git(script_dir, &["rev-parse", "--show-toplevel"])?;
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim_end());
    let mut args = vec!["ls-tree", "-z", "--full-tree", commit.as_str()];
    if !prefix.is_empty() {
        args.push("--");
        args.push(&prefix);
    }
    let out = git(&top, &args)?;
    if !out.status.success() {
        return Err(git_failed(&args, &out));
    }
    // Entries are `<mode> <type> <object>\t<path>`, NUL-terminated; only
    // regular files (not symlinks, not folders) directly in the folder.
    let mut blobs: Vec<(String, String)> = Vec::new();
    for entry in out.stdout.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (meta.next(), meta.next(), meta.next()) else {
            continue;
        };
        let name = path.strip_prefix(prefix.as_str()).unwrap_or(path);
        if kind != "blob"
            || !(mode == "100644" || mode == "100755")
            || name.contains('/')
            || name.starts_with('.')
            || !name.ends_with(".sql")
        {
            continue;
        }
        blobs.push((oid.to_string(), name.to_string()));
    }
    let texts = cat_blobs(&top, blobs.iter().map(|(oid, _)| oid.as_str()))?;
    let mut revisions = Vec::with_capacity(blobs.len());
    let mut unreadable = Vec::new();
    for ((_, name), bytes) in blobs.iter().zip(texts) {
        let path = script_dir.join(name);
        let parsed = match String::from_utf8(bytes) {
            Ok(text) => revision::parse(&text, &path),
            Err(_) => Err(ParseError {
                path: path.clone(),
                line: None,
                kind: revision::ParseErrorKind::NotUtf8,
            }),
        };
        match parsed {
            Ok(r) => revisions.push(r),
            Err(e) => unreadable.push(e),
        }
    }
    Ok(RefRevisions {
        reference: reference.to_string(),
        commit,
        revisions,
        unreadable,
    })
}

/// The contents of blobs, in order, through one `git cat-file --batch`.
fn cat_blobs<'a>(
    dir: &Path,
    oids: impl Iterator<Item = &'a str>,
) -> Result<Vec<Vec<u8>>, TeamError> {
    let input: String = oids.map(|o| format!("{o}\n")).collect();
    if input.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TeamError::GitMissing {
            message: e.to_string(),
        })?;
    let failed = |message: String| TeamError::Git {
        command: "cat-file --batch".into(),
        message,
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread: git answers while it reads, and a full pipe
    // each way would otherwise deadlock.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut out = Vec::new();
    let mut header = String::new();
    let result = loop {
        header.clear();
        match reader.read_line(&mut header) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(failed(e.to_string())),
        }
        // `<oid> <type> <size>`, or `<oid> missing`.
        let size = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<usize>().ok());
        let Some(size) = size else {
            break Err(failed(format!("unexpected answer `{}`", header.trim())));
        };
        let mut body = vec![0; size + 1];
        if let Err(e) = reader.read_exact(&mut body) {
            break Err(failed(e.to_string()));
        }
        body.pop();
        out.push(body);
    };
    let _ = writer.join();
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    result?;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(failed(err.trim().to_string()));
    }
    Ok(out)
}

/// What kind of finding `rev check --against` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A revision present at REF whose upgrade section changed.
    Changed,
    /// A revision present at REF whose `down_revision` changed.
    Moved,
    /// A revision present at REF that no file defines now.
    Deleted,
    /// New revisions that fork REF's history below its heads.
    NotOnRefHeads,
    /// A file at REF that does not parse (a note; does not fail the check).
    UnreadableAtRef,
}

impl FindingKind {
    /// The stable JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Changed => "changed_since_ref",
            FindingKind::Moved => "moved_since_ref",
            FindingKind::Deleted => "deleted_since_ref",
            FindingKind::NotOnRefHeads => "not_on_ref_heads",
            FindingKind::UnreadableAtRef => "unreadable_at_ref",
        }
    }

    /// Whether the finding fails the check.
    pub fn fails(self) -> bool {
        !matches!(self, FindingKind::UnreadableAtRef)
    }
}

/// One thing `rev check --against REF` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// For people, naming the revisions and files.
    pub message: String,
    /// The revisions concerned.
    pub revisions: Vec<String>,
    /// Their files (work-tree paths; at REF for a deleted one).
    pub files: Vec<PathBuf>,
    /// What to do, as commands where there is one.
    pub fix: String,
}

/// Compares the work tree's graph with the revisions at a ref. Linear in the
/// number of revisions (plus one descendant walk per fork found).
pub fn compare(graph: &Graph, at_ref: &RefRevisions) -> Vec<Finding> {
    let reference = &at_ref.reference;
    let mut findings = Vec::new();
    let by_id: HashMap<&str, &Revision> = at_ref
        .revisions
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();

    // A squash stands for the revisions it `replaces`: their files may go
    // once every database is past the run, and a parent named by either id
    // means the same revision.
    let squashed_into: HashMap<&str, &str> = graph
        .revisions()
        .iter()
        .flat_map(|s| {
            s.replaces
                .iter()
                .map(move |old| (old.as_str(), s.id.as_str()))
        })
        .collect();
    let same_parents = |a: &[String], b: &[String]| {
        let norm = |ids: &[String]| -> Vec<String> {
            ids.iter()
                .map(|id| {
                    squashed_into
                        .get(id.as_str())
                        .map_or(id.as_str(), |s| s)
                        .to_owned()
                })
                .collect()
        };
        norm(a) == norm(b)
    };

    let files_now: std::collections::HashSet<&str> =
        graph.revisions().iter().map(|x| x.id.as_str()).collect();
    for r in &at_ref.revisions {
        if squashed_into.contains_key(r.id.as_str()) && !files_now.contains(r.id.as_str()) {
            continue;
        }
        let Some(i) = graph.index_of(&r.id) else {
            findings.push(Finding {
                kind: FindingKind::Deleted,
                message: format!(
                    "revision `{}` ({}) exists at {reference} but no file defines it now: a database that applied it will not find it",
                    r.id,
                    r.path.display()
                ),
                revisions: vec![r.id.clone()],
                files: vec![r.path.clone()],
                fix: format!(
                    "restore the file (`git checkout {reference} -- {}`); to undo what it did, write a new revision that reverts it",
                    r.path.display()
                ),
            });
            continue;
        };
        let now = graph.rev(i);
        if now.checksum != r.checksum {
            findings.push(Finding {
                kind: FindingKind::Changed,
                message: format!(
                    "revision `{}` ({}) has another upgrade section than at {reference}: databases that applied it will not run the change",
                    r.id,
                    now.path.display()
                ),
                revisions: vec![r.id.clone()],
                files: vec![now.path.clone()],
                fix: format!(
                    "restore it (`git checkout {reference} -- {}`) and put the change in a new revision: `rev new -m \"...\"`",
                    now.path.display()
                ),
            });
        }
        if !same_parents(&now.down_revisions, &r.down_revisions) {
            findings.push(Finding {
                kind: FindingKind::Moved,
                message: format!(
                    "revision `{}` ({}) names other parents than at {reference} ({} there, {} now): it is shared history, which must not be rebased",
                    r.id,
                    now.path.display(),
                    ids_or_base(&r.down_revisions),
                    ids_or_base(&now.down_revisions)
                ),
                revisions: vec![r.id.clone()],
                files: vec![now.path.clone()],
                fix: format!(
                    "restore its `down_revision` line as at {reference}; to join histories use `rev merge` instead"
                ),
            });
        }
    }

    // The heads at REF, from REF's own parent links.
    let named: HashSet<&str> = at_ref
        .revisions
        .iter()
        .flat_map(|r| r.down_revisions.iter().map(String::as_str))
        .collect();
    let ref_heads: Vec<RevIndex> = at_ref
        .revisions
        .iter()
        .filter(|r| !named.contains(r.id.as_str()))
        .filter_map(|r| graph.index_of(&r.id))
        .collect();
    let ref_labels: HashSet<&str> = at_ref
        .revisions
        .iter()
        .flat_map(|r| r.branch_labels.iter().map(String::as_str))
        .collect();
    let is_new = |i: RevIndex| !by_id.contains_key(graph.rev(i).id.as_str());
    let heads = graph.heads();
    let above_ref_heads = graph.descendants(ref_heads.iter().copied());

    for &i in graph.topo_order() {
        if !is_new(i) {
            continue;
        }
        let r = graph.rev(i);
        // Where the new revision leaves REF's history: a parent REF has but
        // not as a head, or the base of a non-empty history.
        let fork: Option<Option<RevIndex>> = if r.down_revisions.is_empty() {
            (!at_ref.revisions.is_empty()).then_some(None)
        } else {
            graph
                .parents(i)
                .iter()
                .copied()
                .find(|&p| !is_new(p) && !ref_heads.contains(&p))
                .map(Some)
        };
        let Some(fork) = fork else {
            continue;
        };
        let below = graph.descendants([i]);
        let new_label = graph
            .topo_order()
            .iter()
            .filter(|&&j| below[j] && is_new(j))
            .flat_map(|&j| graph.rev(j).branch_labels.iter())
            .any(|l| !ref_labels.contains(l.as_str()));
        if new_label {
            continue;
        }
        let new_heads: Vec<RevIndex> = heads.iter().copied().filter(|&h| below[h]).collect();
        // Joined back: every head above the new revision is also above a
        // head of REF.
        if new_heads.iter().all(|&h| above_ref_heads[h]) {
            continue;
        }
        let targets: Vec<RevIndex> = match fork {
            Some(p) => {
                let from_p = graph.descendants([p]);
                ref_heads.iter().copied().filter(|&h| from_p[h]).collect()
            }
            None => ref_heads.clone(),
        };
        let onto = targets
            .first()
            .map(|&t| graph.rev(t).id.clone())
            .unwrap_or_else(|| "REV".into());
        let head_ids: Vec<String> = new_heads.iter().map(|&h| graph.rev(h).id.clone()).collect();
        let mut revisions = vec![r.id.clone()];
        revisions.extend(head_ids.iter().filter(|h| **h != r.id).cloned());
        let mut merge_heads = vec![onto.clone()];
        merge_heads.extend(head_ids.iter().cloned());
        findings.push(Finding {
            kind: FindingKind::NotOnRefHeads,
            message: format!(
                "revision `{}` ({}) is new since {reference} and builds on {}, which is not a head there ({reference} is at {}): merged as it is, the history has a new head {}",
                r.id,
                r.path.display(),
                match fork {
                    Some(p) => format!("`{}`", graph.rev(p).id),
                    None => "nothing (a second base)".into(),
                },
                quoted_ids(graph, &targets),
                head_ids.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
            ),
            revisions,
            files: vec![r.path.clone()],
            fix: format!(
                "if no database has applied `{}` yet: `rev rebase {} --onto {onto}`; otherwise join the heads: `rev merge {} -m \"merge\"`",
                r.id,
                r.id,
                merge_heads.join(" ")
            ),
        });
    }

    for e in &at_ref.unreadable {
        findings.push(Finding {
            kind: FindingKind::UnreadableAtRef,
            message: format!("at {reference}: {e} (left out of the comparison)"),
            revisions: Vec::new(),
            files: vec![e.path.clone()],
            fix: "none needed unless the file is a revision".into(),
        });
    }
    findings
}

fn ids_or_base(ids: &[String]) -> String {
    if ids.is_empty() {
        "<base>".into()
    } else {
        ids.join(", ")
    }
}

fn quoted_ids(graph: &Graph, revs: &[RevIndex]) -> String {
    if revs.is_empty() {
        return "<base>".into();
    }
    revs.iter()
        .map(|&i| format!("`{}`", graph.rev(i).id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text of a revision file with its `-- down_revision:` line naming
/// `parents`, every other byte unchanged. A trailing YAML comment on that
/// line is kept.
pub fn set_down_revision(text: &str, parents: &[String], path: &Path) -> Result<String, TeamError> {
    let value = match parents {
        [] => "null".to_string(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        let content_len = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..content_len];
        let scanned = if start == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if scanned.trim_end() == "-- +upgrade" {
            break;
        }
        if let Some(comment) = scanned.trim_start().strip_prefix("--") {
            if let Some((key, _)) = revision::header_key_value(comment) {
                if key == "down_revision" {
                    let colon = line.find(':').expect("a header line has a colon");
                    let after = &line[colon + 1..];
                    let gap_len = after.len() - after.trim_start().len();
                    let gap = if gap_len == 0 { " " } else { &after[..gap_len] };
                    let raw = &after[gap_len..];
                    // A YAML comment starts at a `#` after white space; ids
                    // and `[a, b]` lists hold no `#`.
                    let comment_at = raw
                        .char_indices()
                        .find(|&(k, c)| c == '#' && raw[..k].ends_with(|p: char| p.is_whitespace()))
                        .map(|(k, _)| raw[..k].trim_end().len());
                    let tail = comment_at.map_or("", |k| &raw[k..]);
                    let mut out = String::with_capacity(text.len() + value.len());
                    out.push_str(&text[..start]);
                    out.push_str(&line[..colon + 1]);
                    out.push_str(gap);
                    out.push_str(&value);
                    out.push_str(tail);
                    out.push_str(&rest[content_len..]);
                    return Ok(out);
                }
            }
        }
        let mut next = start + content_len;
        if text[next..].starts_with("\r\n") {
            next += 2;
        } else if next < text.len() {
            next += 1;
        }
        start = next;
    }
    Err(TeamError::NoDownRevisionLine {
        path: path.to_path_buf(),
    })
}

/// One revision file a rebase rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The revision.
    pub revision: String,
    /// Its file.
    pub path: PathBuf,
    /// Its parents before.
    pub from: Vec<String>,
    /// Its parents after.
    pub to: Vec<String>,
    /// The revisions that change place with it (it and its descendants).
    pub carried: Vec<String>,
    /// The new text of the file.
    pub text: String,
}

/// What to move where, as the user named it.
#[derive(Debug, Clone, Default)]
pub struct RebaseRequest {
    /// The revisions to move (the bottom of each line); empty: the lines of
    /// the heads that do not descend from `onto`.
    pub revisions: Vec<RevIndex>,
    /// The new parent; `None`: the one head that none of `revisions` leads to.
    pub onto: Option<RevIndex>,
}

/// Works out a rebase and the new text of every file it rewrites, reading
/// the files but writing nothing. The result is checked to load as a graph.
/// `applied` is the set of revision ids the database records (empty when
/// not consulted): moving any of them, or anything above them, is refused.
pub fn plan_rebase(
    graph: &Graph,
    request: &RebaseRequest,
    applied: &HashSet<String>,
) -> Result<Vec<Move>, TeamError> {
    let refuse = |kind: &'static str, message: String, hint: String| TeamError::Rebase {
        kind,
        message,
        hint,
    };
    let id = |i: RevIndex| graph.rev(i).id.clone();
    let heads = graph.heads();
    let onto = match request.onto {
        Some(t) => t,
        None => {
            let moving = graph.descendants(request.revisions.iter().copied());
            let candidates: Vec<RevIndex> = heads.iter().copied().filter(|&h| !moving[h]).collect();
            match candidates.as_slice() {
                [one] if !request.revisions.is_empty() => *one,
                _ => {
                    return Err(refuse(
                        "rebase_onto_needed",
                        format!(
                            "name the revision to move onto: the heads are {}",
                            heads.iter().map(|&h| format!("`{}` ({})", id(h), graph.rev(h).message)).collect::<Vec<_>>().join(", ")
                        ),
                        format!(
                            "name it: `rev rebase --onto {}` moves the other heads' revisions on top of it; `rev check --against origin/main` names the revisions that are new on your branch",
                            heads.first().map(|&h| id(h)).unwrap_or_else(|| "REV".into())
                        ),
                    ))
                }
            }
        }
    };
    let mut bottoms: Vec<RevIndex> = request.revisions.clone();
    if bottoms.is_empty() {
        // The lines of the heads that do not lead to `onto`: each line is
        // what the head has that `onto` does not.
        let keep = graph.ancestors([onto]);
        let above_onto = graph.descendants([onto]);
        for &h in &heads {
            if keep[h] || above_onto[h] {
                continue;
            }
            let line = graph.ancestors([h]);
            let starts: Vec<RevIndex> = graph
                .topo_order()
                .iter()
                .copied()
                .filter(|&j| line[j] && !keep[j])
                .filter(|&j| graph.parents(j).iter().all(|&p| keep[p]))
                .collect();
            match starts.as_slice() {
                [one] => bottoms.push(*one),
                _ => {
                    return Err(refuse(
                        "rebase_ambiguous",
                        format!(
                        "the line of head `{}` starts at {} revisions ({}); name the ones to move",
                        id(h),
                        starts.len(),
                        starts.iter().map(|&j| id(j)).collect::<Vec<_>>().join(", ")
                    ),
                        format!("`rev rebase REV --onto {}`", id(onto)),
                    ))
                }
            }
        }
        if bottoms.is_empty() {
            return Err(refuse(
                "nothing_to_rebase",
                format!(
                    "every head already descends from `{}`: there is nothing to move",
                    id(onto)
                ),
                "`rev heads` lists the heads".into(),
            ));
        }
    }
    graph.sort_topo(&mut bottoms);
    bottoms.dedup();
    for (k, &b) in bottoms.iter().enumerate() {
        let below = graph.descendants([b]);
        if let Some(&other) = bottoms[..k].iter().find(|&&o| graph.descendants([o])[b]) {
            return Err(refuse(
                "rebase_nested",
                format!(
                    "`{}` already moves with `{}`, which it descends from",
                    id(b),
                    id(other)
                ),
                format!("name only `{}`", id(other)),
            ));
        }
        if below[onto] {
            return Err(refuse(
                "rebase_cycle",
                format!(
                    "`{}` cannot move onto `{}`, which descends from it",
                    id(b),
                    id(onto)
                ),
                "move the other line instead: `rev rebase REV --onto TARGET` with the roles swapped".into(),
            ));
        }
        if graph.is_merge(b) {
            return Err(refuse(
                "rebase_merge",
                format!(
                    "`{}` is a merge revision (of {}): a rebase gives a revision one new parent",
                    id(b),
                    graph.rev(b).down_revisions.join(", ")
                ),
                "move the lines below the merge instead".into(),
            ));
        }
    }
    // Nothing that moves may be applied: its tracking row records the old
    // parents, and its SQL already ran in the old order.
    let moving = graph.descendants(bottoms.iter().copied());
    let applied_moving: Vec<String> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&j| moving[j] && applied.contains(&graph.rev(j).id))
        .map(id)
        .collect();
    if !applied_moving.is_empty() {
        let mut merge_heads: BTreeSet<String> = BTreeSet::new();
        merge_heads.insert(id(onto));
        for &h in &heads {
            if moving[h] {
                merge_heads.insert(id(h));
            }
        }
        return Err(refuse(
            "rebase_applied",
            format!(
                "the database has applied {}, which this rebase would move: its recorded parents and the order its SQL ran in would no longer match the files",
                applied_moving.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ),
            format!(
                "join the heads with a merge revision instead: `rev merge {} -m \"merge\"`",
                merge_heads.into_iter().collect::<Vec<_>>().join(" ")
            ),
        ));
    }

    let mut moves = Vec::new();
    let mut new_revisions: Vec<Revision> = graph.revisions().to_vec();
    let mut parent = onto;
    for &b in &bottoms {
        let r = graph.rev(b);
        let to = vec![id(parent)];
        let line = graph.descendants([b]);
        let line_heads: Vec<RevIndex> = heads.iter().copied().filter(|&h| line[h]).collect();
        if r.down_revisions != to {
            let text = std::fs::read_to_string(&r.path).map_err(|e| TeamError::Io {
                path: r.path.clone(),
                source: e.into(),
            })?;
            let new_text = set_down_revision(&text, &to, &r.path)?;
            let parsed = revision::parse(&new_text, &r.path).map_err(|e| TeamError::Io {
                path: r.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the rewritten file does not parse: {e}"),
                )
                .into(),
            })?;
            // The line rewrite must change the parents and nothing else.
            if parsed.down_revisions != to || parsed.checksum != r.checksum || parsed.id != r.id {
                return Err(TeamError::NoDownRevisionLine {
                    path: r.path.clone(),
                });
            }
            new_revisions[b] = parsed;
            moves.push(Move {
                revision: r.id.clone(),
                path: r.path.clone(),
                from: r.down_revisions.clone(),
                to,
                carried: graph
                    .topo_order()
                    .iter()
                    .copied()
                    .filter(|&j| line[j])
                    .map(id)
                    .collect(),
                text: new_text,
            });
        }
        match line_heads.as_slice() {
            [one] => parent = *one,
            _ if b == *bottoms.last().expect("non-empty") => {}
            _ => {
                return Err(refuse(
                    "rebase_ambiguous",
                    format!(
                        "the line above `{}` has {} heads, so the next revision has no single place to go",
                        id(b),
                        line_heads.len()
                    ),
                    "rebase one line at a time: `rev rebase REV --onto TARGET`".into(),
                ))
            }
        }
    }
    if let Err(e) = Graph::build(new_revisions) {
        return Err(refuse(
            "rebase_invalid",
            format!("after this rebase the revisions would not load: {e}"),
            "choose another --onto".into(),
        ));
    }
    Ok(moves)
}

/// Writes the files of a planned rebase. Each file is written beside itself
/// under a hidden name and renamed over the original, so a crash leaves
/// either the old or the new file, never half of one.
pub fn apply_rebase(moves: &[Move]) -> Result<(), TeamError> {
    for m in moves {
        let io = |e: std::io::Error| TeamError::Io {
            path: m.path.clone(),
            source: e.into(),
        };
        let name = m
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = m.path.with_file_name(format!(".{name}.rev-rebase"));
        std::fs::write(&tmp, m.text.as_bytes()).map_err(io)?;
        if let Ok(meta) = std::fs::metadata(&m.path) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        if let Err(e) = std::fs::rename(&tmp, &m.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, parents: &[&str]) -> String {
        let parents: Vec<String> = parents.iter().map(|s| s.to_string()).collect();
        set_down_revision(text, &parents, Path::new("x.sql")).unwrap()
    }

    #[test]
    fn only_the_down_revision_line_changes() {
        let text = "\u{feff}-- revision: c\r\n-- down_revision: a   # was here\r\n-- message: x\r\n\r\n-- +upgrade\r\n-- down_revision: a\r\nSELECT 1;\r\n";
        let out = set(text, &["b"]);
        assert_eq!(
            out,
            "\u{feff}-- revision: c\r\n-- down_revision: b   # was here\r\n-- message: x\r\n\r\n-- +upgrade\r\n-- down_revision: a\r\nSELECT 1;\r\n"
        );
        assert_eq!(
            set(
                "-- revision: c\n--down_revision:a\n-- +upgrade\n",
                &["b", "d"]
            ),
            "-- revision: c\n--down_revision: [b, d]\n-- +upgrade\n"
        );
        assert_eq!(
            set(
                "-- revision: c\r-- down_revision: null\r-- +upgrade\r",
                &["b"]
            ),
            "-- revision: c\r-- down_revision: b\r-- +upgrade\r"
        );
    }

    fn rev(id: &str, down: &[&str], sql: &str) -> Revision {
        let down = match down {
            [] => "null".to_string(),
            many => format!("[{}]", many.join(", ")),
        };
        let text = format!("-- revision: {id}\n-- down_revision: {down}\n-- +upgrade\n{sql}\n");
        revision::parse(&text, Path::new(&format!("versions/{id}.sql"))).unwrap()
    }

    fn at_ref(revisions: Vec<Revision>) -> RefRevisions {
        RefRevisions {
            reference: "main".into(),
            commit: "0".repeat(40),
            revisions,
            unreadable: Vec::new(),
        }
    }

    fn kinds(findings: &[Finding]) -> Vec<(&'static str, Vec<String>)> {
        findings
            .iter()
            .map(|f| (f.kind.as_str(), f.revisions.clone()))
            .collect()
    }

    #[test]
    fn compare_finds_forks_edits_moves_and_deletions() {
        let base = vec![rev("a", &[], "SELECT 1;"), rev("b", &["a"], "SELECT 2;")];
        // c forks at a, which main has moved past.
        let mut now = base.clone();
        now.push(rev("c", &["a"], "SELECT 3;"));
        let g = Graph::build(now.clone()).unwrap();
        let found = compare(&g, &at_ref(base.clone()));
        assert_eq!(
            kinds(&found),
            vec![("not_on_ref_heads", vec!["c".to_string()])]
        );
        assert!(
            found[0].fix.contains("rev rebase c --onto b"),
            "{}",
            found[0].fix
        );
        // Joined by a merge: fine. Built on the head: fine.
        now.push(rev("m", &["b", "c"], "-- merge"));
        assert!(compare(&Graph::build(now).unwrap(), &at_ref(base.clone())).is_empty());
        let on_head = vec![
            base[0].clone(),
            base[1].clone(),
            rev("c", &["b"], "SELECT 3;"),
        ];
        assert!(compare(&Graph::build(on_head).unwrap(), &at_ref(base.clone())).is_empty());
        // A second base is a fork too.
        let second_base = vec![base[0].clone(), base[1].clone(), rev("z", &[], "SELECT 9;")];
        let found = compare(&Graph::build(second_base).unwrap(), &at_ref(base.clone()));
        assert_eq!(
            kinds(&found),
            vec![("not_on_ref_heads", vec!["z".to_string()])]
        );
        // Edited, moved, deleted.
        let changed = vec![rev("a", &[], "SELECT 10;"), rev("b", &[], "SELECT 2;")];
        let found = compare(&Graph::build(changed).unwrap(), &at_ref(base.clone()));
        assert_eq!(
            kinds(&found),
            vec![
                ("changed_since_ref", vec!["a".to_string()]),
                ("moved_since_ref", vec!["b".to_string()])
            ]
        );
        let found = compare(&Graph::build(vec![base[0].clone()]).unwrap(), &at_ref(base));
        assert_eq!(
            kinds(&found),
            vec![("deleted_since_ref", vec!["b".to_string()])]
        );
    }

    #[test]
    fn rebase_refuses_applied_revisions_and_cycles() {
        let g = Graph::build(vec![
            rev("a", &[], "SELECT 1;"),
            rev("b", &["a"], "SELECT 2;"),
            rev("c", &["a"], "SELECT 3;"),
            rev("d", &["c"], "SELECT 4;"),
        ])
        .unwrap();
        let i = |id: &str| g.index_of(id).unwrap();
        let request = RebaseRequest {
            revisions: vec![i("c")],
            onto: Some(i("b")),
        };
        let applied: HashSet<String> = ["a".to_string(), "c".to_string()].into();
        match plan_rebase(&g, &request, &applied) {
            Err(TeamError::Rebase {
                kind,
                message,
                hint,
            }) => {
                assert_eq!(kind, "rebase_applied");
                assert!(message.contains("`c`"), "{message}");
                assert!(hint.contains("rev merge b d"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        let cycle = RebaseRequest {
            revisions: vec![i("c")],
            onto: Some(i("d")),
        };
        assert!(matches!(
            plan_rebase(&g, &cycle, &HashSet::new()),
            Err(TeamError::Rebase {
                kind: "rebase_cycle",
                ..
            })
        ));
    }

    #[test]
    fn a_file_without_the_line_is_an_error() {
        let err = set_down_revision(
            "-- revision: c\n-- +upgrade\n-- down_revision: a\n",
            &[],
            Path::new("x.sql"),
        );
        assert!(matches!(err, Err(TeamError::NoDownRevisionLine { .. })));
    }
}
