//! The module graph of `src/` has no cycle.
//!
//! Layers only stay layers if nothing below reaches back up: a cycle (the
//! backend importing the executor that drives it, a graph module asking the
//! planner built on it) ties two modules so that neither can change alone.
//! This test reads every `src/**/*.rs`, takes the module paths each file
//! names (`crate::a::b`, `super::x`, `child::y` of a `mod child;`, and the
//! names inside `use …::{…}` groups), and fails naming a cycle.
//!
//! Granularity: the top-level modules of each crate (the library's, and the
//! binary's `cli`), and one level further inside [`SPLIT`] (`backend::lock`,
//! `cli::commands`). A name reached through a parent's `pub use child::…`
//! counts as the child's. Code under `#[cfg(test)]` is left out: a test may
//! build its inputs with a module above the one it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules whose direct submodules are nodes of their own.
const SPLIT: [&str; 2] = ["backend", "cli"];

#[test]
fn the_module_graph_of_src_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &src, &mut files);
    assert!(
        files.iter().any(|(p, _)| p == "backend/mod.rs"),
        "the walk found no src/backend/mod.rs: it reads the wrong folder"
    );
    let graph = module_graph(&files, &SPLIT);
    assert!(
        graph
            .get("executor")
            .is_some_and(|to| to.contains("backend::connection")),
        "the executor's use of the backend was not seen: the scan misses edges"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules of src/ import each other in a cycle: {}\nmove what both need into a module of its own, or turn the question into a method of the lower one",
            cycle.join(" -> ")
        );
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.push((rel, text));
        }
    }
}

/// Who imports whom: node name to the nodes it names. `files` are
/// `(path relative to src/, text)`.
fn module_graph(files: &[(String, String)], split: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut code: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut test_only: Vec<Vec<String>> = Vec::new();
    for (path, text) in files {
        if let Some(module) = module_path(path) {
            let text = blank(text);
            // `#[cfg(test)] mod tests;`: a file of test code.
            for (at, _) in text.match_indices("#[cfg(test)]") {
                let item = &text[at + "#[cfg(test)]".len()..];
                let item = item[..item_end(item)].trim();
                if let Some(name) = item.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
                    let mut child = module.clone();
                    child.push(name.trim().to_owned());
                    test_only.push(child);
                }
            }
            // Both roots are `[]`: their texts are read as one.
            let entry = code.entry(module).or_default();
            entry.push('\n');
            entry.push_str(&without_tests(&text));
        }
    }
    code.retain(|module, _| !test_only.iter().any(|t| module.starts_with(t)));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &code {
        let from = node(module, split);
        let entry = graph.entry(from.clone()).or_default();
        for path in references(module, text, &code) {
            let to = node(&resolve(&path, &code), split);
            if to != from {
                entry.insert(to);
            }
        }
    }
    graph
}

/// `backend/sqlite.rs` is `["backend", "sqlite"]`; `lib.rs` and `main.rs`
/// are the crate roots, `[]` (both: the library never names the binary's
/// modules, so they cannot meet in a cycle).
fn module_path(file: &str) -> Option<Vec<String>> {
    let stem = file.strip_suffix(".rs")?;
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    Some(parts)
}

/// The node a module belongs to at this test's granularity.
fn node(module: &[String], split: &[&str]) -> String {
    let keep = match module.first() {
        None => return "crate".to_owned(),
        Some(top) if split.contains(&top.as_str()) => 2,
        Some(_) => 1,
    };
    module[..module.len().min(keep)].join("::")
}

/// Whether `module` is a module with a file of its own.
fn is_module(module: &[String], code: &BTreeMap<Vec<String>, String>) -> bool {
    code.contains_key(module)
}

/// The module an absolute path names: the longest module prefix, moved to
/// the child a `pub use child::name` in that module takes `name` from.
fn resolve(path: &[String], code: &BTreeMap<Vec<String>, String>) -> Vec<String> {
    let mut at: Vec<String> = Vec::new();
    for part in path {
        let mut next = at.clone();
        next.push(part.clone());
        if is_module(&next, code) {
            at = next;
            continue;
        }
        if let Some(child) = code.get(&at).and_then(|text| reexported_from(text, part)) {
            let mut next = at.clone();
            next.push(child);
            if is_module(&next, code) {
                at = next;
            }
        }
        break;
    }
    at
}

/// The child module `text` re-exports `name` from, if it does.
fn reexported_from(text: &str, name: &str) -> Option<String> {
    for statement in text.split(';') {
        let statement = statement.trim();
        let Some(rest) = statement
            .strip_prefix("pub use ")
            .or_else(|| statement.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let rest = rest.trim_start_matches("self::");
        let Some((child, names)) = rest.split_once("::") else {
            continue;
        };
        let names = names.trim().trim_start_matches('{').trim_end_matches('}');
        if names
            .split(',')
            .any(|n| n.trim().rsplit("::").next() == Some(name))
        {
            return Some(child.trim().to_owned());
        }
    }
    None
}

/// Every module path `text` (the code of `module`) names, made absolute.
fn references(
    module: &[String],
    text: &str,
    code: &BTreeMap<Vec<String>, String>,
) -> Vec<Vec<String>> {
    let children: BTreeSet<&str> = code
        .keys()
        .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
        .map(|k| k[module.len()].as_str())
        .collect();
    let parent = &module[..module.len().saturating_sub(1)];
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        if !starts_word || !is_ident(bytes[i]) {
            i += 1;
            continue;
        }
        let (path, end) = read_path(text, i);
        i = end.max(i + 1);
        // `pub(crate)`, `pub(super)`: a keyword alone is no path.
        let Some((head, tail)) = path.split_first().filter(|(_, t)| !t.is_empty()) else {
            continue;
        };
        let (mut base, mut rest): (Vec<String>, &[String]) = match head.as_str() {
            "crate" => (Vec::new(), tail),
            "super" => (parent.to_vec(), tail),
            "self" => (module.to_vec(), tail),
            // `child::x` where this file declares `mod child;`.
            h if children.contains(h) => {
                let mut b = module.to_vec();
                b.push(h.to_owned());
                (b, tail)
            }
            _ => continue,
        };
        while let Some(("super", more)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
            base.pop();
            rest = more;
        }
        for group in expand(rest) {
            let mut full = base.clone();
            full.extend(group);
            found.push(full);
        }
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The path starting at `i` (`a::b::{c, d::e}` gives `["a", "b", "{c, d::e}"]`),
/// and where it ends.
fn read_path(text: &str, mut i: usize) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    loop {
        if bytes.get(i) == Some(&b'{') {
            let mut depth = 0;
            let start = i;
            while i < bytes.len() {
                match bytes[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            parts.push(text[start..i].to_owned());
            return (parts, i);
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if start == i {
            return (parts, i);
        }
        parts.push(text[start..i].to_owned());
        if text[i..].starts_with("::") {
            i += 2;
        } else {
            return (parts, i);
        }
    }
}

/// The paths a path tail stands for: groups `{a, b::c}` give one each.
fn expand(tail: &[String]) -> Vec<Vec<String>> {
    let Some(last) = tail.last() else {
        return vec![Vec::new()];
    };
    let Some(group) = last.strip_prefix('{').and_then(|g| g.strip_suffix('}')) else {
        return vec![tail.to_vec()];
    };
    let prefix = &tail[..tail.len() - 1];
    let mut out = Vec::new();
    for item in split_top_level(group) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (inner, _) = read_path(item, 0);
        for rest in expand(&inner) {
            let mut p = prefix.to_vec();
            // `self` inside a group names the prefix itself.
            p.extend(rest.into_iter().filter(|r| r != "self"));
            out.push(p);
        }
    }
    out
}

fn split_top_level(group: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&group[start..]);
    out
}

/// `text` with comments removed and the insides of string and character
/// literals blanked, so that neither a doc link nor a message counts.
fn blank(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if b[i] == b'r'
            && (i == 0 || !is_ident(b[i - 1]))
            && matches!(b.get(i + 1), Some(b'"' | b'#'))
        {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && is_char_literal(&b[i..]) {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = text[i..].chars().next().expect("inside the text");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `'x'`, `'\n'`, `'\u{..}'`, `'é'`, but not a lifetime `'a`.
fn is_char_literal(b: &[u8]) -> bool {
    if b.get(1) == Some(&b'\\') {
        return true;
    }
    let len = match b.get(1) {
        Some(&c) if c < 0x80 => 1,
        Some(&c) if c >= 0xF0 => 4,
        Some(&c) if c >= 0xE0 => 3,
        Some(_) => 2,
        None => return false,
    };
    b.get(1 + len) == Some(&b'\'')
}

/// `code` without the items under `#[cfg(test)]`.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        rest = &item[item_end(item)..];
    }
    out.push_str(rest);
    out
}

/// Where the item starting at `item` ends: after its `;`, or after the
/// brace that closes its first `{`.
fn item_end(item: &str) -> usize {
    let mut depth = 0;
    for (i, c) in item.char_indices() {
        match c {
            ';' if depth == 0 => return i + 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    item.len()
}

/// A cycle, as the nodes on it with the first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Iterative depth-first search; 0 unseen, 1 on the stack, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in graph.keys() {
        if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, successors(graph, start))];
        state.insert(start, 1);
        while let Some((at, next)) = stack.last_mut() {
            let at: &str = at;
            match next.pop() {
                Some(to) => match state.get(to).copied().unwrap_or(0) {
                    0 => {
                        state.insert(to, 1);
                        stack.push((to, successors(graph, to)));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == to).expect("on stack");
                        let mut cycle: Vec<String> =
                            stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(to.to_owned());
                        return Some(cycle);
                    }
                    _ => {}
                },
                None => {
                    state.insert(at, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn successors<'g>(graph: &'g BTreeMap<String, BTreeSet<String>>, at: &str) -> Vec<&'g str> {
    let mut next: Vec<&str> = graph
        .get(at)
        .map(|s| s.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // Popped from the end: visit in name order, so a failure reads the same each run.
    next.reverse();
    next
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn a_cycle_between_two_modules_is_found_and_named() {
    let tree = files(&[
        ("lib.rs", "pub mod executor;\npub mod backend;"),
        (
            "executor.rs",
            "use crate::backend::{Connection, BackendError};\npub struct CancelToken;",
        ),
        (
            "backend/mod.rs",
            "mod sqlite;\nuse crate::executor::CancelToken;\npub struct Connection;",
        ),
        ("backend/sqlite.rs", "use super::Connection;"),
    ]);
    let graph = module_graph(&tree, &["backend"]);
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["backend".into(), "executor".into(), "backend".into()])
    );
}

#[test]
fn a_cycle_through_a_child_and_a_bare_path_is_found() {
    // `plan` reaches `target` only inside a function body, through a
    // grouped import of its parent; `target` calls `plan::` by full path.
    let tree = files(&[
        ("lib.rs", "pub mod graph;\npub mod plan;\npub mod target;"),
        ("graph.rs", "pub struct Graph;"),
        ("plan.rs", "use crate::{graph::Graph, target::{self}};"),
        ("target.rs", "fn f() { crate::plan::current_heads(); }"),
    ]);
    let cycle = find_cycle(&module_graph(&tree, &["backend"])).expect("a cycle");
    assert_eq!(cycle, ["plan", "target", "plan"]);
}

#[test]
fn layers_without_a_cycle_pass() {
    let tree = files(&[
        ("lib.rs", "pub mod cancel;\npub mod executor;\npub mod backend;\npub use executor::run;"),
        ("cancel.rs", "pub struct CancelToken;"),
        ("executor.rs", "use crate::backend::Connection;\nuse crate::cancel::CancelToken;"),
        (
            "backend/mod.rs",
            "mod error;\nmod sqlite;\npub use error::BackendError;\nuse crate::cancel::CancelToken;\npub struct Connection(sqlite::State);",
        ),
        // Through the parent's re-export: an edge to `backend::error`, not
        // back to `backend`.
        ("backend/sqlite.rs", "use super::BackendError;\npub struct State;"),
        ("backend/error.rs", "pub enum BackendError {}"),
    ]);
    let graph = module_graph(&tree, &["backend"]);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    assert!(graph["backend::sqlite"].contains("backend::error"));
    assert!(graph["backend"].contains("backend::sqlite"));
}

#[test]
fn comments_strings_and_test_code_are_not_imports() {
    let tree = files(&[
        ("lib.rs", "pub mod a;\npub mod b;"),
        ("a.rs", "use crate::b::B;"),
        (
            "b.rs",
            "//! See [`crate::a`].\npub struct B;\nconst S: &str = \"crate::a::x\";\nconst R: &str = r#\"crate::a\"#;\nfn f<'a>(_: &'a str) -> char { '{' }\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n    fn g() { let _ = '}'; }\n}\n",
        ),
    ]);
    let graph = module_graph(&tree, &["backend"]);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    // A file of tests (`#[cfg(test)] mod tests;`) is test code too.
    let mut with_test_file = tree.clone();
    with_test_file[2].1.push_str("#[cfg(test)]\nmod more;\n");
    with_test_file.push(("b/more.rs".into(), "use crate::a::A;".into()));
    let graph = module_graph(&with_test_file, &["backend"]);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    // The same file with a real import of `a` outside the tests is a cycle.
    let mut cyclic = tree.clone();
    cyclic[2].1.push_str("fn h() { crate::a::x(); }\n");
    assert!(find_cycle(&module_graph(&cyclic, &["backend"])).is_some());
}
