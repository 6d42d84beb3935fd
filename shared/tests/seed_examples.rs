//! Every config example of the seed document loads on its own and merged
//! with all the others, and means what the document says.

use clawhooks::config::{self, Action, EventType, SessionMode};
use std::path::PathBuf;

fn seed_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/seed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9, "the seed has nine config examples");
    files
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn each_example_loads_alone() {
    for f in seed_files() {
        if let Err(e) = config::load_files(&[&f], &no_env) {
            panic!("{} does not load:\n{e}", f.display());
        }
    }
}

#[test]
fn all_examples_load_merged_and_keep_their_meaning() {
    let cfg = config::load_files(&seed_files(), &no_env)
        .unwrap_or_else(|e| panic!("merged seed does not load:\n{e}"));
    let w = &cfg.config.webhooks;
    assert!(w.incoming.enabled);
    assert_eq!(w.incoming.port, 3011);
    assert_eq!(w.incoming.secret_header, "X-Webhook-Secret");
    // The later example ("your-secret") overrides the first ("your-webhook-secret").
    assert_eq!(w.incoming.secret.as_ref().unwrap().expose(), "your-secret");
    assert_eq!(w.incoming.allowed_ips.len(), 2);

    let gh = cfg.handler_for("github").unwrap();
    assert_eq!(
        gh.id, "github",
        "an id route wins over another handler's path"
    );
    assert_eq!(gh.action, Action::SendMessage);
    assert_eq!(gh.target.as_ref().unwrap().channel, "discord");
    let ghe = cfg.handler_for("github-events").unwrap();
    assert_eq!(ghe.action, Action::RunAgent);
    assert_eq!(ghe.agent_id.as_deref(), Some("devops"));

    // The session example and the alert example name the same handler: merged by id.
    let alerts = cfg.handler_for("alerts").unwrap();
    assert_eq!(alerts.session_mode, SessionMode::Persistent);
    assert_eq!(alerts.session_key.as_deref(), Some("alerts-session"));
    assert_eq!(alerts.action, Action::RunAgent);
    assert_eq!(alerts.agent_id.as_deref(), Some("oncall"));

    let slack = w.outgoing.iter().find(|o| o.id == "slack-notify").unwrap();
    assert_eq!(
        slack.events,
        vec![EventType::MessageReceived, EventType::AgentResponse]
    );
    assert_eq!(slack.method, "POST");
    let notify = w.outgoing.iter().find(|o| o.id == "notify").unwrap();
    assert_eq!(notify.retry.max_attempts, 3);
    assert_eq!(notify.retry.backoff, config::Backoff::Exponential);
    assert!(notify.url.is_none());
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.path == "webhooks.outgoing[1].url"),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn seed_templates_render_both_roots() {
    use clawhooks::config::validate::TemplateField;
    let cfg = config::load_files(&seed_files(), &no_env).unwrap();
    let pr = serde_json::json!({"action": "opened", "pull_request": {"title": "Fix the flux"}, "repository": {"name": "clawhooks"}});
    let ctx = serde_json::json!({"event": pr, "action": "opened"});
    assert_eq!(
        cfg.render("github", TemplateField::Message, &ctx).unwrap(),
        "🔔 opened: Fix the flux"
    );
    assert_eq!(
        cfg.render("github-events", TemplateField::Message, &ctx)
            .unwrap(),
        "New GitHub event: opened on clawhooks"
    );
    let alert =
        serde_json::json!({"alert": {"name": "DiskFull", "message": "/var at 97% <critical>"}});
    assert_eq!(
        cfg.render("alerts", TemplateField::Message, &alert)
            .unwrap(),
        "Alert: DiskFull - /var at 97% <critical>",
        "no HTML escaping"
    );
}

#[test]
fn the_example_server_config_loads() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/clawhooks.json");
    config::load_files(&[f], &no_env).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn broken_template_is_a_load_error_naming_the_handler() {
    let e = config::load_str(
        r#"{"webhooks":{"handlers":[{"id":"gh","template":"{{#if event}}unclosed"}]}}"#,
        &no_env,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(
            "webhooks.handlers[0].template: handler \"gh\": template does not compile"
        ),
        "{text}"
    );
}
