//! No import cycles between the modules of `shared/src`.
//!
//! A cycle means neither module can be understood, tested or moved without
//! the other; the layers in DESIGN.md ("arrows point down and never back
//! up") only hold if something checks them. This test reads the sources,
//! builds two kinds of graph and fails naming every cycle it finds, with
//! the line of each import that closes it:
//!
//! - between the top-level modules (`config`, `verify`, `handler`, …), from
//!   every `crate::<module>` path. `config/error.rs` is a node of its own
//!   (`config::error`): a leaf that the modules owning a piece of the
//!   config use to report problems in it.
//! - between the sibling modules of each folder (`handler/session.rs` and
//!   `handler/lifecycle.rs`), from `super::<sibling>` and
//!   `crate::<folder>::<sibling>` paths.
//!
//! Test code (`#[cfg(test)]` modules and the files they name) may reach
//! anywhere to build its fixtures, so it is left out; so are comments and
//! string literals.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Edges allowed to close a cycle, each with the reason and who removes it.
/// Once an edge is gone from the code, the test asks for its entry to go.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// One import: from a module to another, at a file and line.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    at: String,
}

#[test]
fn top_level_modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = top_level_edges(&src);
    assert_no_cycles("top-level modules", &edges, ALLOWED);
}

#[test]
fn sibling_modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for folder in folders(&src) {
        let edges = sibling_edges(&src, &folder);
        assert_no_cycles(&format!("modules of {folder}/"), &edges, &[]);
    }
}

/// The check itself must see a cycle, or every run above passes for nothing.
#[test]
fn a_cycle_is_found_and_named() {
    let edge = |from: &str, to: &str| Edge {
        from: from.into(),
        to: to.into(),
        at: format!("{from}.rs:1"),
    };
    let edges = [
        edge("a", "b"),
        edge("b", "c"),
        edge("c", "a"),
        edge("c", "d"),
    ];
    let found = cycles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a -> b (a.rs:1) -> c (b.rs:1) -> a (c.rs:1)"));
    assert!(cycles(&[edge("a", "b"), edge("b", "c")]).is_empty());
}

fn assert_no_cycles(what: &str, edges: &[Edge], allowed: &[(&str, &str, &str)]) {
    for (from, to, why) in allowed {
        assert!(
            edges.iter().any(|e| e.from == *from && e.to == *to),
            "{what}: the allowed edge {from} -> {to} ({why}) is gone: remove it from ALLOWED"
        );
    }
    let kept: Vec<Edge> = edges
        .iter()
        .filter(|e| !allowed.iter().any(|(f, t, _)| e.from == *f && e.to == *t))
        .cloned()
        .collect();
    let found = cycles(&kept);
    assert!(
        found.is_empty(),
        "import cycles between {what}:\n{}",
        found.join("\n")
    );
}

/// One cycle through each strongly connected group of modules, written
/// `a -> b (where a imports b) -> a (where b imports a)`.
fn cycles(edges: &[Edge]) -> Vec<String> {
    let mut graph: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().push(e);
    }
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for start in graph.keys() {
        if reported.contains(start) {
            continue;
        }
        if let Some(path) = path_back(&graph, start) {
            reported.extend(path.iter().map(|e| e.from.as_str()));
            let steps: Vec<String> = path
                .iter()
                .map(|e| format!("{} ({})", e.to, e.at))
                .collect();
            out.push(format!("{start} -> {}", steps.join(" -> ")));
        }
    }
    out
}

/// The shortest chain of imports from `start` back to itself, if any
/// (breadth first, so the cycle named is the tightest one).
fn path_back<'a>(
    graph: &BTreeMap<&'a str, Vec<&'a Edge>>,
    start: &'a str,
) -> Option<Vec<&'a Edge>> {
    let mut came_by: BTreeMap<&str, &Edge> = BTreeMap::new();
    let mut frontier = vec![start];
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for node in frontier {
            for e in graph.get(node).into_iter().flatten() {
                if e.to == start {
                    let mut path = vec![*e];
                    let mut at = node;
                    while at != start {
                        let back = came_by[at];
                        path.push(back);
                        at = &back.from;
                    }
                    path.reverse();
                    return Some(path);
                }
                if !came_by.contains_key(e.to.as_str()) {
                    came_by.insert(&e.to, e);
                    next.push(e.to.as_str());
                }
            }
        }
        frontier = next;
    }
    None
}

/// `crate::<module>` references between top-level modules.
fn top_level_edges(src: &Path) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (rel, code) in production_sources(src) {
        let parts: Vec<&str> = rel.split('/').collect();
        if parts == ["lib.rs"] {
            continue;
        }
        let from = top_node(&parts);
        for (line, path) in paths_after(&code, "crate::") {
            let to = path_node(&path);
            if to != from {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    at: format!("{rel}:{line}"),
                });
            }
        }
    }
    edges
}

/// The node a file belongs to: its top-level module, or `config::error`.
fn top_node(parts: &[&str]) -> String {
    if parts == ["config", "error.rs"] {
        return "config::error".into();
    }
    parts[0].trim_end_matches(".rs").to_string()
}

/// The node a `crate::` path names.
fn path_node(path: &[String]) -> String {
    match path {
        [first, second, ..] if first == "config" && second == "error" => "config::error".into(),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// Folders that are modules (`handler`, `config`, …).
fn folders(src: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(src)
        .expect("src is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("mod.rs").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Imports between the children of `folder`: `super::<sibling>` from a
/// child (a file, or a sub-folder's `mod.rs`), and
/// `crate::<folder>::<sibling>` from anywhere inside it.
fn sibling_edges(src: &Path, folder: &str) -> Vec<Edge> {
    let sources = production_sources(src);
    let children: BTreeSet<String> = sources
        .iter()
        .filter_map(|(rel, _)| child_of(rel, folder))
        .filter(|c| c != "mod")
        .collect();
    let mut edges = Vec::new();
    for (rel, code) in &sources {
        let Some(from) = child_of(rel, folder).filter(|c| c != "mod") else {
            continue;
        };
        let mut refs = paths_after(code, &format!("crate::{folder}::"));
        refs.extend(
            paths_after(code, "super::")
                .into_iter()
                .filter_map(|(line, path)| {
                    // `super::` as many times as the file is deep below `folder`.
                    let ups = path.iter().take_while(|s| *s == "super").count() + 1;
                    (ups == depth_below(rel, folder)).then(|| (line, path[ups - 1..].to_vec()))
                }),
        );
        for (line, path) in refs {
            let Some(to) = path
                .first()
                .filter(|t| children.contains(*t) && **t != from)
            else {
                continue;
            };
            edges.push(Edge {
                from: from.clone(),
                to: to.clone(),
                at: format!("{rel}:{line}"),
            });
        }
    }
    edges
}

/// How many modules deep a file is below `folder`: 1 for `folder/x.rs`
/// and `folder/x/mod.rs`, 2 for `folder/x/y.rs`.
fn depth_below(rel: &str, folder: &str) -> usize {
    let inner = &rel[folder.len() + 1..];
    let parts = inner.split('/').count();
    if inner.ends_with("/mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// The child of `folder` a file belongs to (`handler/actions/forward.rs` ->
/// `actions`), if it is inside `folder`.
fn child_of(rel: &str, folder: &str) -> Option<String> {
    let rest = rel.strip_prefix(folder)?.strip_prefix('/')?;
    let first = rest.split('/').next()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// Every `.rs` file under `src` that is not test code, as (path relative to
/// `src`, code without comments, strings or `#[cfg(test)]` modules).
fn production_sources(src: &Path) -> Vec<(String, String)> {
    let files = rust_files(src);
    let mut test_files = BTreeSet::new();
    let mut out = Vec::new();
    let mut cleaned: Vec<(PathBuf, String)> = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).expect("source is readable");
        let code = strip_comments_and_strings(&text);
        for name in cfg_test_files(&code) {
            let dir = module_dir(&path);
            test_files.insert(dir.join(format!("{name}.rs")));
            test_files.insert(dir.join(&name).join("mod.rs"));
        }
        cleaned.push((path, code));
    }
    for (path, code) in cleaned {
        if test_files.contains(&path) {
            continue;
        }
        let rel = path
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        out.push((rel, drop_cfg_test_blocks(&code)));
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("folder is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Where the child modules of a file live: beside a `mod.rs`/`lib.rs`,
/// in a folder of its name otherwise.
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap().to_path_buf();
    match file.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs" | "lib.rs") => parent,
        _ => parent.join(file.file_stem().unwrap()),
    }
}

/// Names of `#[cfg(test)] mod name;` declarations.
fn cfg_test_files(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("#[cfg(test)]") {
        rest = &rest[i + "#[cfg(test)]".len()..];
        let item = rest.trim_start();
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if let Some(decl) = item.strip_prefix("mod ") {
            let name: String = decl
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if decl[name.len()..].trim_start().starts_with(';') {
                out.push(name);
            }
        }
    }
    out
}

/// The code with every `#[cfg(test)] mod name { … }` blanked out (newlines
/// kept, so line numbers stay true).
fn drop_cfg_test_blocks(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(i) = out[from..].find("#[cfg(test)]").map(|i| i + from) {
        from = i + 1;
        let after = &out[i + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let item = item.strip_prefix("pub ").unwrap_or(item);
        let Some(decl) = item.strip_prefix("mod ") else {
            continue;
        };
        let Some(open) = decl
            .find(['{', ';'])
            .filter(|&o| decl.as_bytes()[o] == b'{')
        else {
            continue;
        };
        let start = out.len() - decl.len() + open;
        let end = matching_brace(&out, start);
        let blank: String = out[i..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(i..end, &blank);
    }
    out
}

/// The index just past the `}` that closes the `{` at `open`.
fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Every path written after `prefix`, with its line: `crate::a::b::C`
/// gives `[a, b, C]`, and a group `crate::{a::X, b}` gives `[a, X]` and
/// `[b]`. Only the leading segments matter here.
fn paths_after(code: &str, prefix: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let line = code[..i].matches('\n').count() + 1;
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..matching_brace(rest, 0) - 2];
            for item in split_top_level(inner) {
                out.push((line, segments(item.trim())));
            }
        } else {
            out.push((line, segments(rest)));
        }
    }
    out
}

/// Splits a `use` group's items at its top-level commas.
fn split_top_level(inner: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (0i32, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// `a::b::C<…>` -> `[a, b, C]`.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            return out;
        }
        rest = &rest[name.len()..];
        out.push(name);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return out,
        }
    }
}

/// The code with comments and string and char literals blanked out (their
/// newlines kept), so neither a doc link nor a message counts as an import.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let skip = literal_len(&chars, i);
        if skip == 0 {
            out.push(chars[i]);
            i += 1;
        } else {
            for &c in &chars[i..i + skip] {
                out.push(if c == '\n' { '\n' } else { ' ' });
            }
            i += skip;
        }
    }
    out
}

/// How many chars the comment or literal starting at `i` spans (0: none).
fn literal_len(c: &[char], i: usize) -> usize {
    let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
    let until = |from: usize, end: &str| -> usize {
        let end: Vec<char> = end.chars().collect();
        let mut k = from;
        while i + k < c.len() {
            if c[i + k..].starts_with(&end) {
                return k + end.len();
            }
            k += 1;
        }
        c.len() - i
    };
    let prev_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    match (at(0), at(1)) {
        ('/', '/') => until(2, "\n") - 1,
        ('/', '*') => until(2, "*/"),
        ('r', '#' | '"') if !prev_ident => {
            let hashes = (1..).take_while(|&k| at(k) == '#').count();
            if at(1 + hashes) != '"' {
                return 0;
            }
            until(2 + hashes, &format!("\"{}", "#".repeat(hashes)))
        }
        ('b', '"') if !prev_ident => 1 + string_len(c, i + 1),
        ('"', _) => string_len(c, i),
        ('\'', '\\') => until(3, "'"),
        ('\'', _) if at(2) == '\'' => 3,
        _ => 0,
    }
}

/// Length of the `"…"` string starting at `i`, escapes included.
fn string_len(c: &[char], i: usize) -> usize {
    let mut k = i + 1;
    while k < c.len() {
        match c[k] {
            '\\' => k += 2,
            '"' => return k + 1 - i,
            _ => k += 1,
        }
    }
    c.len() - i
}
