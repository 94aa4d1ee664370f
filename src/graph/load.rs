//! Loading a script directory: list its revision files, read and parse
//! them (on several threads for a large history), and build the [`Graph`].
//! Every problem is reported together, not just the first.

use std::path::{Path, PathBuf};

use super::{Graph, GraphError, LoadError};
use crate::revision::{self, ParseError, Revision};

/// Reads every `*.sql` file of each folder (Alembic's
/// `version_locations`): their revisions form one graph, so an id
/// defined in two folders is a duplicate like one defined twice in one.
pub(super) fn load_all<P: AsRef<Path>>(dirs: &[P]) -> Result<Graph, LoadError> {
    let mut paths = Vec::new();
    for dir in dirs {
        paths.extend(sql_files(dir.as_ref())?);
    }
    let mut errors = Vec::new();
    let mut revisions = Vec::with_capacity(paths.len());
    for result in read_all(&paths) {
        match result {
            Ok(r) => revisions.push(r),
            Err(e) => errors.push(GraphError::Parse(e)),
        }
    }
    if !errors.is_empty() {
        return Err(LoadError(errors));
    }
    Graph::build(revisions)
}

/// The revision files of one folder (not recursive; hidden files and
/// other extensions skipped), sorted by name.
fn sql_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        LoadError(vec![GraphError::Dir {
            path: dir.to_path_buf(),
            source: e.into(),
        }])
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            LoadError(vec![GraphError::Dir {
                path: dir.to_path_buf(),
                source: e.into(),
            }])
        })?;
        let path = entry.path();
        let is_sql = path.extension().is_some_and(|e| e == "sql");
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // The entry's type comes with the directory listing on most
        // systems; only a symlink needs a `stat` to see what it points to.
        let is_file = entry
            .file_type()
            .map(|t| t.is_file() || (t.is_symlink() && path.is_file()))
            .unwrap_or_else(|_| path.is_file());
        if is_sql && !hidden && is_file {
            paths.push(path);
        }
    }
    // All paths share the directory, so comparing the raw text orders them
    // by file name, without `Path`'s slower component-wise comparison.
    paths.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(paths)
}

/// Reads and parses files on every core, keeping the input order. Reading
/// and parsing are most of the time `rev heads` takes on a large history,
/// and each file is independent of the others.
fn read_all(paths: &[PathBuf]) -> Vec<Result<Revision, ParseError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    // Threads cost more than they save on small histories.
    if threads < 2 || paths.len() < 256 {
        return paths.iter().map(|p| revision::read(p)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|p| revision::read(p)).collect::<Vec<_>>())
            })
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for (worker, part) in workers.into_iter().zip(paths.chunks(chunk)) {
            match worker.join() {
                Ok(results) => out.extend(results),
                // A panic in the parser is a bug; read that part again on
                // this thread rather than lose files.
                Err(_) => out.extend(part.iter().map(|p| revision::read(p))),
            }
        }
        out
    })
}

/// `.sql` files in sub-folders of `dir` (at any depth, hidden folders and
/// the folders in `skip` left out): rev does not read them, and a revision
/// put there by mistake would be silently missing from the graph.
pub fn stray_sql_files(dir: &Path, skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), false)];
    while let Some((folder, nested)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // `file_type` does not follow symlinks: a link to a folder is
            // not walked, so a loop of links cannot trap the walk.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !skip.iter().any(|s| same_dir(s, &path)) {
                    stack.push((path, true));
                }
            } else if nested && path.extension().is_some_and(|e| e == "sql") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reports_every_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.sql"),
            "-- revision: a\n-- down_revision: null\n-- +upgrade\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.sql"),
            "-- revision: b\n-- down_revision: {x: 1}\n-- +upgrade\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.sql"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let e = Graph::load(dir.path()).unwrap_err();
        assert_eq!(e.0.len(), 2);
        let text = e.to_string();
        assert!(
            text.contains("b.sql:2: down_revision: expected a string or a list"),
            "{text}"
        );
        assert!(text.contains("c.sql: not UTF-8"), "{text}");
    }
}
