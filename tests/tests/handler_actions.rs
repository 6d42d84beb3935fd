//! `forward`, `custom` and `run_agent` edge cases, against recording
//! servers: exactly what the target receives, what the event record says.

mod handler_support;

use base64::Engine;
use clawhooks::ports::Clock;
use clawhooks_e2e::{Recorder, Reply};
use handler_support::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

#[tokio::test]
async fn forward_passes_the_body_as_received_with_chosen_headers_and_a_signature() {
    let target = Recorder::start().await;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"forward-key")
    );
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{
            "id": "relay", "action": "forward",
            "forward": {"url": target.url("/ingest?src=gw"), "method": "PUT",
                        "passHeaders": ["X-GitHub-Event", "X-Missing"],
                        "headers": {"Authorization": "Bearer downstream"},
                        "secret": secret}
        }]}})
        .to_string(),
    );
    let payload = fixture("github_pull_request_opened.json");
    let a = h
        .post(
            "relay",
            &[("x-github-event", "pull_request"), ("x-other", "dropped")],
            &payload,
        )
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let r = &target.requests()[0];
    assert_eq!(r.method, "PUT");
    assert_eq!(
        (r.path.as_str(), r.query.as_deref()),
        ("/ingest", Some("src=gw"))
    );
    assert_eq!(r.body, payload.as_bytes(), "byte for byte");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-github-event"), Some("pull_request"));
    assert_eq!(r.header("x-other"), None);
    assert_eq!(r.header("authorization"), Some("Bearer downstream"));
    assert_eq!(r.header("webhook-id"), Some(a.event_id().as_str()));
    let ts = r.header("webhook-timestamp").unwrap();
    assert_eq!(ts, h.clock.now().timestamp().to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(b"forward-key").unwrap();
    mac.update(format!("{}.{ts}.", a.event_id()).as_bytes());
    mac.update(payload.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        r.header("webhook-signature"),
        Some(format!("v1,{expected}").as_str())
    );

    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["status"], 200);
}

#[tokio::test]
async fn credential_headers_reach_neither_templates_nor_the_forward_target() {
    let target = Recorder::start().await;
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{
            "id": "relay", "action": "forward",
            "forward": {"url": target.url("/x"),
                        "passHeaders": ["X-Api-Key", "X-Gitlab-Token", "X-GitHub-Event"],
                        "bodyTemplate": "{\"seen\": {{json headers}}}"}
        }]}})
        .to_string(),
    );
    h.post(
        "relay",
        &[
            ("x-api-key", "caller-api-key"),
            ("x-gitlab-token", "gitlab-token"),
            ("x-github-event", "push"),
        ],
        r#"{"a":1}"#,
    )
    .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &target.requests()[0];
    let seen = &r.json()["seen"];
    assert_eq!(seen["x-github-event"], "push", "the template sees the rest");
    assert!(
        seen.get("x-api-key").is_none() && seen.get("x-gitlab-token").is_none(),
        "{seen}"
    );
    assert_eq!(r.header("x-github-event"), Some("push"));
    assert_eq!(r.header("x-api-key"), None);
    assert_eq!(r.header("x-gitlab-token"), None);
    assert!(!String::from_utf8_lossy(&r.body).contains("caller-api-key"));
}

#[tokio::test]
async fn forward_renders_a_body_template() {
    let target = Recorder::start().await;
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{
            "id": "relay", "action": "forward",
            "forward": {"url": target.url("/x"),
                        "bodyTemplate": "{\"title\": {{json event.pull_request.title}}, \"repo\": {{event.repository.owner}}}"}
        }]}})
        .to_string(),
    );
    h.post("relay", &[], &fixture("github_pull_request_opened.json"))
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &target.requests()[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["title"], "Update the README with new information.");
    assert_eq!(
        body["repo"]["login"], "Codertocat",
        "objects render as JSON"
    );
}

#[tokio::test]
async fn forward_target_answering_404_is_permanent() {
    let target = Recorder::start_with(Reply::status(404)).await;
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{"id": "relay", "action": "forward",
                 "forward": {"url": target.url("/gone")}}]}})
        .to_string(),
    );
    let a = h.post("relay", &[], r#"{"a":1}"#).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    let events = h.events().await;
    assert_eq!(
        of_kind(&events, "error")[0].error.as_ref().unwrap().stage,
        "forward"
    );
}

/// `action: "none"` (the default): the hook joins its session and emits
/// `message_received`, and nothing is sent, even with a `target` at hand.
#[tokio::test]
async fn action_none_only_joins_its_session_and_emits_message_received() {
    let chat = Recorder::start_with(Reply::status(200)).await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "quiet", "template": "seen {{n}}", "target": {"channel": "chat"}}],
            "channels": {"chat": {"type": "webhook", "url": chat.url("/c")}}
        }})
        .to_string(),
    );
    let a = h.post("quiet", &[], r#"{"n": 1}"#).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_started", "message_received", "session_ended"]
    );
    assert_eq!(events[1].message.text, "seen 1");
    assert_eq!(events[1].handler_id.as_deref(), Some("quiet"));
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"], Value::Null);
    assert!(chat.requests().is_empty(), "{:?}", chat.requests());
}

#[tokio::test]
async fn custom_github_summary_posts_its_line_to_the_target() {
    let slack = Recorder::start_with(Reply::status(200)).await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "gh", "action": "custom", "custom": {"function": "github_summary"},
                          "target": {"channel": "slack"}}],
            "channels": {"slack": {"type": "slack", "webhookUrl": slack.url("/hook")}}
        }})
        .to_string(),
    );
    let a = h
        .post(
            "gh",
            &[("x-github-event", "pull_request")],
            &fixture("github_pull_request_opened.json"),
        )
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let line = "[Codertocat/Hello-World] Codertocat opened pull request #2: Update the README with new information. https://github.com/Codertocat/Hello-World/pull/2";
    assert_eq!(slack.requests()[0].json(), json!({"text": line}));
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["result"]["text"], line);
    assert_eq!(status["result"]["data"]["event"], "pull_request");
}

#[tokio::test]
async fn custom_extract_fields_picks_paths() {
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{"id": "x", "action": "custom", "custom": {
            "function": "extract_fields",
            "options": {"fields": {"name": "alert.name", "host": "alert.host", "nope": "alert.missing"},
                        "format": "{name} on {host}"}}}]}})
        .to_string(),
    );
    let a = h.post("x", &[], &fixture("alert_firing.json")).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["result"]["text"], "HighCPU on web-1");
    assert_eq!(
        status["result"]["data"],
        json!({"name": "HighCPU", "host": "web-1", "nope": null})
    );
}

#[test]
fn unknown_custom_functions_fail_at_load_and_list_the_known_ones() {
    let cfg = json!({"webhooks": {"handlers": [{"id": "x", "action": "custom",
             "custom": {"function": "nope"}}]}});
    let err = clawhooks::config::load_str(&cfg.to_string(), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("webhooks.handlers[0].custom.function: unknown custom function \"nope\""),
        "{err}"
    );
    assert!(
        err.contains("github_summary") && err.contains("extract_fields"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_agents_are_permanent() {
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{"id": "x", "action": "run_agent", "agentId": "ghost"}]}})
            .to_string(),
    );
    let a = h.post("x", &[], r#"{"message": "hi"}"#).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert!(status["error"]
        .as_str()
        .unwrap()
        .contains("agent \"ghost\" is not configured"));
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "message_received",
            "error",
            "session_ended"
        ]
    );
}

/// The agent answered but posting the answer failed: the retry posts the
/// saved answer and does not ask the agent again.
#[tokio::test]
async fn an_agent_answer_is_not_asked_twice_when_delivery_is_retried() {
    let model = Recorder::start_with(Reply::json(
        200,
        json!({
            "choices": [{"message": {"role": "assistant", "content": "Restart the pod."}}]
        }),
    ))
    .await;
    let chat = Recorder::start().await;
    chat.script([Reply::status(502)]);
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "oncall", "action": "run_agent", "agentId": "bot",
                          "target": {"channel": "chat"}}],
            "agents": {"bot": {"type": "openai", "url": model.url("/v1/"), "model": "m"}},
            "channels": {"chat": {"type": "webhook", "url": chat.url("/c")}}
        }})
        .to_string(),
    );
    let a = h
        .post("oncall", &[], r#"{"message": "pod crashlooping"}"#)
        .await;
    assert!(h.run_handler().await[0].is_err());
    h.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    assert_eq!(model.count(), 1);
    assert_eq!(model.requests()[0].path, "/v1/chat/completions");
    let posts = chat.requests();
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.json()["text"] == "Restart the pod."));
    let events = h.events().await;
    assert_eq!(of_kind(&events, "agent_response").len(), 1);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["delivery"]["channel"], "chat");
    assert_eq!(status["result"]["answer"], "Restart the pod.");
    let s = h.session(&a.session()).await.unwrap();
    let roles: Vec<Value> = s
        .history
        .iter()
        .map(|e| serde_json::to_value(e.role).unwrap())
        .collect();
    assert_eq!(
        roles,
        [json!("user"), json!("assistant")],
        "answer recorded once"
    );
}

#[tokio::test]
async fn model_server_429_is_retried_after_its_delay() {
    let model = Recorder::start().await;
    model.script([
        Reply::json(429, json!({"error": {"message": "rate limited"}})).header("retry-after", "20"),
    ]);
    model.set_default(Reply::json(
        200,
        json!({"choices": [{"message": {"content": "ok"}}]}),
    ));
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "x", "action": "run_agent", "agentId": "bot"}],
            "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
        }})
        .to_string(),
    );
    h.post("x", &[], r#"{"message": "hi"}"#).await;
    assert!(h.run_handler().await[0].is_err());
    h.clock.advance(chrono::Duration::seconds(19));
    assert!(h.run_handler().await.is_empty());
    h.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(model.count(), 2);
}

/// A template that compiles but fails on this payload: the hook is still
/// received (with its body as text), then the failure is permanent.
#[tokio::test]
async fn template_render_errors_are_permanent_after_message_received() {
    let chat = Recorder::start().await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "x", "action": "send_message", "target": {"channel": "c"},
                          "template": "{{lookup}}"}],
            "channels": {"c": {"type": "webhook", "url": chat.url("/c")}}
        }})
        .to_string(),
    );
    let a = h.post("x", &[], r#"{"message": "raw words"}"#).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(chat.count(), 0);
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "message_received",
            "error",
            "session_ended"
        ]
    );
    assert_eq!(events[1].message.text, "raw words");
    let err = events[2].error.as_ref().unwrap();
    assert_eq!(err.stage, "template");
    assert!(
        err.message.contains("handlers.x.template"),
        "{}",
        err.message
    );
    assert_eq!(h.status(&a.event_id()).await["status"], "failed");
}
