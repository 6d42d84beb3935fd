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

/// A scratch directory with these files in it.
fn scratch(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("clawhooks-try-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn try_shows_what_a_seed_example_does_with_a_hook() {
    let dir = scratch(&[(
        "pr.json",
        r#"{"action":"opened","pull_request":{"title":"Fix the build"}}"#,
    )]);
    let body = dir.join("pr.json");
    let (ok, out) = clawhooks(&[
        "try",
        "--config",
        "examples/seed/08-github-integration.json",
        "--hook",
        "github",
        "--body",
        body.to_str().unwrap(),
        "--header",
        "X-GitHub-Event: pull_request",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("handler \"github\" (webhooks.handlers[0]): takes the hook: no filter\n"),
        "{out}"
    );
    assert!(out.contains("message: 🔔 opened: Fix the build\n"), "{out}");
    assert!(out.contains("session: hook:"), "{out}");
    assert!(
        out.contains("action: send_message to channel \"discord\", peer \"dev-channel\"\n"),
        "{out}"
    );
}

#[test]
fn try_says_which_filter_took_the_hook_and_which_did_not() {
    let config = r#"{"webhooks": {"handlers": [
        {"id": "prs", "path": "/gh", "template": "PR {{action}}",
         "filter": {"headers": {"X-GitHub-Event": "pull_request"}}},
        {"id": "issues", "path": "/gh", "template": "issue {{action}}", "action": "run_agent",
         "agentId": "triage", "sessionMode": "persistent", "sessionKey": "issues-{{repo}}",
         "filter": {"body": {"action": {"$in": ["opened", "closed"]}}}}
    ]}}"#;
    let dir = scratch(&[
        ("c.json", config),
        ("b.json", r#"{"action":"opened","repo":"claw"}"#),
        ("l.json", r#"{"action":"labeled"}"#),
    ]);
    let path = |f: &str| dir.join(f).display().to_string();
    let (ok, out) = clawhooks(&[
        "try",
        "--config",
        &path("c.json"),
        "--hook",
        "gh",
        "--body",
        &path("b.json"),
        "--header",
        "X-GitHub-Event: issues",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("handler \"prs\" (webhooks.handlers[0]): filter did not match\n"),
        "{out}"
    );
    assert!(
        out.contains("handler \"issues\" (webhooks.handlers[1]): takes the hook: filter matched\n"),
        "{out}"
    );
    assert!(out.contains("message: issue opened\n"), "{out}");
    assert!(out.contains("session: issues-claw (persistent)\n"), "{out}");
    assert!(out.contains("action: run_agent \"triage\"\n"), "{out}");

    let (ok, out) = clawhooks(&[
        "try",
        "--config",
        &path("c.json"),
        "--hook",
        "gh",
        "--body",
        &path("l.json"),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("filter: no handler matched; answered 200"),
        "{out}"
    );

    let (ok, out) = clawhooks(&[
        "try",
        "--config",
        &path("c.json"),
        "--hook",
        "nope",
        "--body",
        &path("l.json"),
    ]);
    assert!(!ok, "an unknown hook is an error: {out}");
}

#[test]
fn try_shows_what_the_transform_made_of_the_hook() {
    let config = r#"{"webhooks": {"handlers": [
        {"id": "alerts", "template": "{{event.title}} ({{vars.severity}})",
         "transform": {"file": "transforms/alerts.js"}}
    ]}}"#;
    let script = "function transform(input) {\n  if (input.body.alerts.length === 0) throw new Error('no alerts');\n  return {body: {title: input.body.alerts[0]}, vars: {severity: 'high'}, sessionKey: 'alerts-ops'};\n}";
    let dir = scratch(&[
        ("c.json", config),
        ("b.json", r#"{"alerts":["disk full"]}"#),
        ("e.json", r#"{"alerts":[]}"#),
    ]);
    std::fs::create_dir_all(dir.join("transforms")).unwrap();
    std::fs::write(dir.join("transforms/alerts.js"), script).unwrap();
    let path = |f: &str| dir.join(f).display().to_string();
    let run = |body: &str| {
        clawhooks(&[
            "try",
            "--config",
            &path("c.json"),
            "--hook",
            "alerts",
            "--body",
            &path(body),
        ])
    };
    let (ok, out) = run("b.json");
    assert!(ok, "{out}");
    assert!(
        out.contains(r#"transform: {"body":{"title":"disk full"},"sessionKey":"alerts-ops","vars":{"severity":"high"}}"#),
        "{out}"
    );
    assert!(out.contains("message: disk full (high)\n"), "{out}");
    assert!(out.contains("session: alerts-ops (persistent)\n"), "{out}");
    let failed = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args([
            "try",
            "--config",
            &path("c.json"),
            "--hook",
            "alerts",
            "--body",
            &path("e.json"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success(),
        "a failing transform fails try: {err}"
    );
    assert!(
        err.contains("the transform failed: no alerts (line 2)"),
        "{err}"
    );
}

#[test]
fn presets_lists_each_and_prints_what_one_expands_to() {
    let (ok, out) = clawhooks(&["presets"]);
    assert!(ok, "{out}");
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "slack",
            "discord",
            "telegram",
            "github",
            "stripe",
            "alertmanager",
            "grafana",
            "linear",
            "sentry"
        ],
        "{out}"
    );
    let (ok, out) = clawhooks(&["presets", "slack"]);
    assert!(ok, "{out}");
    let keys: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(keys["verify"], serde_json::json!({"scheme": "slack"}));
    assert_eq!(
        keys["target"]["thread"],
        "{{default event.event.thread_ts event.event.ts}}"
    );
    let (ok, out) = clawhooks(&["presets", "slak"]);
    assert!(!ok, "an unknown preset fails: {out}");
}
