//! No function of `shared/src` or `local/src` (outside tests) longer than
//! [`MAX_LINES`].
//!
//! A function that does not fit on a screen hides its steps; splitting it
//! into named steps is how this codebase documents what a stage does. The
//! check reads the sources: a function starts at a line whose first token
//! after the visibility is `fn` (or `async fn`, `const fn`) and ends at the
//! first later line that is its own indentation followed by `}`, which
//! `cargo fmt` guarantees. Everything after a `#[cfg(test)]` (or
//! `#[cfg(all(test, …))]`) line, files
//! named `tests.rs` and folders named `tests` are test code and left out.

use std::fs;
use std::path::{Path, PathBuf};

/// The longest a function may be, its signature and closing brace included.
const MAX_LINES: usize = 80;

#[test]
fn no_function_is_longer_than_a_screen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for dir in [root.join("src"), root.join("../local/src")] {
        for file in rust_files(&dir) {
            let text = fs::read_to_string(&file).unwrap();
            for (name, line, len) in functions(&text) {
                if len > MAX_LINES {
                    long.push(format!("{}:{line} {name}: {len} lines", file.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps (at most {MAX_LINES} lines each):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_reader_measures_a_function_to_its_closing_brace() {
    let text = "fn a() {\n    x();\n}\n\n    pub async fn b(\n        y: u8,\n    ) {\n        if y {\n        }\n    }\n    fn d(\n        &self,\n    ) -> u8;\n    fn e(&self) {}\n    fn f() {\n    }\n}\n#[cfg(test)]\nfn c() {\n}\n";
    assert_eq!(
        functions(text),
        vec![
            ("a".to_string(), 1, 3),
            ("b".to_string(), 5, 6),
            ("f".to_string(), 15, 2)
        ]
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
    out
}

/// `(name, first line, lines)` of each function with a body, before the
/// file's first `#[cfg(test)]`.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.trim_start().starts_with("#[cfg(") && l.contains("test"))
        .unwrap_or(lines.len());
    let mut out = Vec::new();
    for (i, line) in lines[..end].iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        if line.trim_end().ends_with('}') {
            continue; // a function on one line
        }
        // A declaration without a body (a trait's) ends its signature with `;`.
        let signature_end = lines[i..end]
            .iter()
            .find(|l| l.trim_end().ends_with('{') || l.trim_end().ends_with(';'));
        if signature_end.is_none_or(|l| l.trim_end().ends_with(';')) {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        if let Some(j) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name, i + 1, j + 2));
        }
    }
    out
}

/// The function's name if `line` starts a function.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            _ if w.starts_with("pub(") => continue,
            "fn" => {
                let rest = words.next()?;
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then_some(name);
            }
            _ => return None,
        }
    }
    None
}
