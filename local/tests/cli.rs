//! `clawhooks validate` and `clawhooks schema` as a user runs them.

use std::process::Command;

fn clawhooks(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn validate_accepts_the_seed_merged_and_warns() {
    let files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed"))
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out) = clawhooks(&args);
    assert!(ok, "{out}");
    assert!(out.ends_with("OK\n"), "{out}");
    assert!(
        out.contains("warning: webhooks.outgoing[1].url: subscription \"notify\" has no url"),
        "{out}"
    );
}

#[test]
fn validate_lists_every_error_without_secrets() {
    let dir = std::env::temp_dir().join(format!("clawhooks-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.json");
    std::fs::write(
        &f,
        r#"{"webhooks":{"incoming":{"secret":"topsecret-value","allowedIPs":["10.0.0.300"]},
            "handlers":[{"id":"gh","action":"send_message","template":"{{#if x}}"},{"id":"a","action":"run_agent"}],
            "outgoing":[{"id":"o","url":"ftp://x","retry":{"maxAttempts":0}}]}}"#,
    )
    .unwrap();
    let (ok, out) = clawhooks(&["validate", f.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains(r#"error: webhooks.incoming.allowedIPs[0]: invalid CIDR "10.0.0.300""#),
        "{out}"
    );
    // A section that fails to parse does not hide the errors of the others.
    assert!(
        out.contains("error: webhooks.handlers[1].agentId: run_agent needs an agentId"),
        "{out}"
    );
    assert!(!out.contains("topsecret-value"), "{out}");
    std::fs::write(
        &f,
        r#"{"webhooks":{"handlers":[{"id":"bad","sessionMode":"forever"},{"id":"gh","action":"send_message","template":"{{#if x}}"},{"id":"a","action":"run_agent"}],
            "outgoing":[{"id":"o","url":"ftp://x","retry":{"maxAttempts":0}}]}}"#,
    )
    .unwrap();
    let (ok, out) = clawhooks(&["validate", f.to_str().unwrap()]);
    assert!(!ok);
    for expected in [
        "error: webhooks.handlers[1].target: send_message needs a target",
        "error: webhooks.handlers[1].template: handler \"gh\": template does not compile",
        "error: webhooks.handlers[2].agentId: run_agent needs an agentId",
        "error: webhooks.outgoing[0].url: scheme \"ftp\" is not http or https",
        "error: webhooks.outgoing[0].retry.maxAttempts: must be at least 1",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn schema_describes_the_config() {
    let (ok, out) = clawhooks(&["schema"]);
    assert!(ok);
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = schema.to_string();
    for key in [
        "webhooks",
        "secretHeader",
        "allowedIPs",
        "sessionMode",
        "maxAttempts",
        "stripHeaders",
        "durability",
        "fsync",
        "concurrency",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}
