//! The docs cannot drift from the code unnoticed: every key of the config's
//! JSON Schema (what `clawhooks schema` prints) is named in
//! `docs/configuration.md`, and every relative link in `README.md` and
//! `docs/*.md` points to a file, and to a heading of it, that exists.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("local/ sits in the repository")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every property of the schema at every depth, as `path.to.key`, found by
/// following `$ref`s into `$defs` (each definition once).
fn schema_keys() -> BTreeSet<String> {
    let schema = serde_json::to_value(schemars::schema_for!(clawhooks::config::Config))
        .expect("the schema is JSON");
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut keys = BTreeSet::new();
    walk(&schema, "", &defs, &mut BTreeSet::new(), &mut keys);
    keys
}

fn walk(
    node: &Value,
    at: &str,
    defs: &Value,
    followed: &mut BTreeSet<String>,
    keys: &mut BTreeSet<String>,
) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.rsplit('/').next().unwrap_or(r);
                if followed.insert(name.to_string()) {
                    let def = defs
                        .get(name)
                        .unwrap_or_else(|| panic!("{r} names no definition"));
                    walk(def, at, defs, followed, keys);
                }
            }
            if let Some(Value::Object(props)) = map.get("properties") {
                for (key, sub) in props {
                    let path = if at.is_empty() {
                        key.clone()
                    } else {
                        format!("{at}.{key}")
                    };
                    keys.insert(path.clone());
                    walk(sub, &path, defs, followed, keys);
                }
            }
            for (word, sub) in map {
                match word.as_str() {
                    // Defaults and examples are values, not schemas.
                    "properties" | "$defs" | "default" | "examples" => {}
                    "additionalProperties" => {
                        walk(sub, &format!("{at}.<name>"), defs, followed, keys)
                    }
                    "items" => walk(sub, &format!("{at}[]"), defs, followed, keys),
                    _ => walk(sub, at, defs, followed, keys),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|sub| walk(sub, at, defs, followed, keys)),
        _ => {}
    }
}

#[test]
fn every_config_key_is_in_the_configuration_doc() {
    let doc = read(&repo().join("docs/configuration.md"));
    let keys = schema_keys();
    // The walk must reach the deepest sections, or the check passes for nothing.
    for deep in [
        "toleranceSeconds",
        "perMinute",
        "sessionPrefix",
        "jitter",
        "allowPrivate",
    ] {
        assert!(
            keys.iter().any(|k| k.ends_with(&format!(".{deep}"))),
            "the schema walk missed {deep}: {keys:?}"
        );
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|path| {
            let key = path.rsplit('.').next().unwrap_or(path);
            !doc.contains(&format!("`{key}`")) && !doc.contains(&format!(".{key}`"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "config keys missing from docs/configuration.md (write each as `key` in its section's table): {missing:?}"
    );
}

/// Markdown outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The anchors GitHub gives a file's headings: lower case, punctuation
/// dropped, spaces as hyphens, `-1`, `-2` for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let slug: String = title
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while !found.insert(unique.clone()) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
    }
    found
}

/// The targets of the `[text](target)` links of a Markdown text.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a file has a folder").join(path)
            };
            let name = file
                .strip_prefix(repo())
                .unwrap_or(&file)
                .display()
                .to_string();
            if !target.exists() {
                broken.push(format!("{name}: {link} (no such file)"));
            } else if !anchor.is_empty() && !anchors(&read(&target)).contains(anchor) {
                broken.push(format!("{name}: {link} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn the_readme_links_the_reference_docs() {
    let readme = read(&repo().join("README.md"));
    let linked: Vec<String> = links(&readme)
        .into_iter()
        .filter(|l| l.starts_with("docs/"))
        .collect();
    for doc in [
        "docs/configuration.md",
        "docs/http-api.md",
        "docs/deploy.md",
    ] {
        assert!(
            linked.iter().any(|l| l == doc),
            "README.md does not link {doc}"
        );
    }
    for link in &linked {
        let path = link.split('#').next().unwrap_or(link);
        assert!(
            repo().join(path).is_file(),
            "README.md links {link}, which is no file"
        );
    }
}

#[test]
fn anchors_and_links_are_read_as_github_does() {
    let text = "# The `clawhooks` command\n## What a 2xx promises\n```\n# not a heading\n```\n## What a 2xx promises\n### `webhooks.channels.<name>`\n";
    let found = anchors(text);
    let expected = [
        "the-clawhooks-command",
        "what-a-2xx-promises",
        "what-a-2xx-promises-1",
        "webhookschannelsname",
    ];
    assert_eq!(found, expected.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        links("see [a](docs/a.md#x) and [b](b.md)\n```\n[c](c.md)\n```"),
        vec!["docs/a.md#x", "b.md"]
    );
}
