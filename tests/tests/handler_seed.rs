//! Every handler example of the seed document, as written there, with the
//! channels and agents it names served by recording servers on 127.0.0.1,
//! fed the payloads of the services it is for.

mod handler_support;

use clawhooks_e2e::{Recorder, Reply};
use handler_support::*;
use serde_json::{json, Value};

fn openai_answer(text: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }),
    )
}

/// Seed, "Defining handlers": a GitHub pull_request event runs the
/// `devops` agent with the rendered template as its prompt.
#[tokio::test]
async fn github_events_runs_the_devops_agent_with_the_rendered_prompt() {
    let model =
        Recorder::start_with(openai_answer("Looks like a README tweak; safe to merge.")).await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{
                "id": "github-events", "path": "/github", "action": "run_agent", "agentId": "devops",
                "template": "New GitHub event: {{event.action}} on {{event.repository.name}}"
            }],
            "agents": {"devops": {"type": "openai", "url": model.url("/v1"), "model": "test-model",
                                   "apiKey": "sk-test", "systemPrompt": "You are the devops assistant."}}
        }})
        .to_string(),
    );
    let a = h
        .post(
            "github",
            &[("x-github-event", "pull_request")],
            &fixture("github_pull_request_opened.json"),
        )
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let reqs = model.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(
        reqs[0].json(),
        json!({"model": "test-model", "messages": [
            {"role": "system", "content": "You are the devops assistant."},
            {"role": "user", "content": "New GitHub event: opened on Hello-World"}
        ]})
    );

    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "message_received",
            "agent_response",
            "session_ended"
        ]
    );
    let session = a.session();
    assert!(session.starts_with("hook:"));
    assert!(events.iter().all(|e| e.session == session));
    let received = &events[1];
    assert_eq!(
        received.message.text,
        "New GitHub event: opened on Hello-World"
    );
    assert_eq!(received.message.from, "github");
    assert_eq!(received.event_id.as_deref(), Some(a.event_id().as_str()));
    assert_eq!(received.handler_id.as_deref(), Some("github-events"));
    assert_eq!(
        events[2].message.text,
        "Looks like a README tweak; safe to merge."
    );
    assert_eq!(events[2].message.from, "devops");

    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["attempts"], 1);
    assert_eq!(
        status["result"]["answer"],
        "Looks like a README tweak; safe to merge."
    );
    assert_eq!(status["result"]["detail"]["usage"]["total_tokens"], 15);

    let s = h.session(&session).await.expect("session record");
    assert!(!s.persistent);
    assert_eq!(s.message_count, 1);
    assert_eq!(s.history.len(), 2, "the prompt and the answer");
    assert_eq!(s.ended.as_ref().unwrap().reason, "finished");
}

/// Seed, "GitHub integration": a pull request posts
/// "🔔 opened: <title>" to Discord's dev-channel through the bot API.
#[tokio::test]
async fn github_integration_posts_to_the_discord_dev_channel() {
    let discord = Recorder::start_with(Reply::json(
        200,
        json!({"id": "1199", "channel_id": "4242"}),
    ))
    .await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{
                "id": "github", "path": "/github", "action": "send_message",
                "target": {"channel": "discord", "peer": "dev-channel"},
                "template": "🔔 {{event.action}}: {{event.pull_request.title}}"
            }],
            "channels": {"discord": {"type": "discord", "botToken": "bot-token-1",
                                      "apiBase": discord.url("/api/v10"),
                                      "peers": {"dev-channel": "4242"}}}
        }})
        .to_string(),
    );
    let a = h
        .post("github", &[], &fixture("github_pull_request_opened.json"))
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let reqs = discord.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/api/v10/channels/4242/messages");
    assert_eq!(reqs[0].header("authorization"), Some("Bot bot-token-1"));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(
        reqs[0].json(),
        json!({"content": "🔔 opened: Update the README with new information.",
               "allowed_mentions": {"parse": []}})
    );
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["messageId"], "1199");
    assert_eq!(status["result"]["peer"], "4242");
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_started", "message_received", "session_ended"]
    );
    assert_eq!(
        events[1].message.text,
        "🔔 opened: Update the README with new information."
    );
}

/// Seed, "Alert forwarding": an alert runs the `oncall` agent; here the
/// agent is an OpenClaw gateway, which gets the token, the prompt and our
/// session key.
#[tokio::test]
async fn alert_forwarding_runs_the_oncall_agent_on_an_openclaw_gateway() {
    let gateway =
        Recorder::start_with(Reply::json(202, json!({"ok": true, "runId": "run-77"}))).await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{
                "id": "alerts", "path": "/alerts", "action": "run_agent", "agentId": "oncall",
                "template": "Alert: {{alert.name}} - {{alert.message}}"
            }],
            "agents": {"oncall": {"type": "openclaw", "url": gateway.url(""), "apiKey": "hook-token",
                                   "remoteAgentId": "main"}}
        }})
        .to_string(),
    );
    let a = h.post("alerts", &[], &fixture("alert_firing.json")).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let reqs = gateway.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/hooks/agent");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer hook-token"));
    assert_eq!(
        reqs[0].json(),
        json!({"message": "Alert: HighCPU - CPU above 90% on web-1 for 5 minutes",
               "name": "alerts", "sessionKey": a.session(), "wakeMode": "now", "agentId": "main"})
    );
    // The gateway accepted the run and answers through its own channels:
    // no agent_response from us, the run id is in the result.
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_started", "message_received", "session_ended"]
    );
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["detail"]["runId"], "run-77");
    assert_eq!(status["result"]["answer"], Value::Null);
}

/// Seed, "Session options": a persistent session shared by successive
/// hooks: one session_started, a message_received per hook, one record
/// counting both.
#[tokio::test]
async fn session_options_share_one_persistent_session() {
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [
            {"id": "alerts", "sessionMode": "persistent", "sessionKey": "alerts-session"}
        ]}})
        .to_string(),
    );
    let first = h.post("alerts", &[], &fixture("alert_firing.json")).await;
    let second = h
        .post(
            "alerts",
            &[],
            r#"{"alert": {"name": "HighCPU", "message": "resolved"}}"#,
        )
        .await;
    assert_eq!(first.session(), "alerts-session");
    assert_eq!(second.session(), "alerts-session");
    assert_eq!(h.run_handler().await, vec![Ok(()), Ok(())]);

    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_started", "message_received", "message_received"]
    );
    assert!(events.iter().all(|e| e.session == "alerts-session"));
    let s = h.session("alerts-session").await.unwrap();
    assert!(s.persistent && s.is_live());
    assert_eq!(s.message_count, 2);
    assert_eq!(s.history.len(), 2);
    assert_eq!(s.created_by, first.event_id());
}

/// The two `alerts` examples merged (as the seed's note says examples are):
/// a persistent session whose agent sees the earlier alerts and answers.
#[tokio::test]
async fn persistent_agent_sessions_send_the_history_along() {
    let model = Recorder::start().await;
    model.script([
        openai_answer("Checking web-1."),
        openai_answer("Good, it recovered."),
    ]);
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{
                "id": "alerts", "path": "/alerts", "action": "run_agent", "agentId": "oncall",
                "template": "Alert: {{alert.name}} - {{alert.message}}",
                "sessionMode": "persistent", "sessionKey": "alerts-session"
            }],
            "agents": {"oncall": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
        }})
        .to_string(),
    );
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.post(
        "alerts",
        &[],
        r#"{"alert": {"name": "HighCPU", "message": "resolved"}}"#,
    )
    .await;
    assert_eq!(h.run_handler().await, vec![Ok(()), Ok(())]);

    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].header("authorization"),
        None,
        "no key configured, none sent"
    );
    assert_eq!(
        reqs[1].json()["messages"],
        json!([
            {"role": "user", "content": "Alert: HighCPU - CPU above 90% on web-1 for 5 minutes"},
            {"role": "assistant", "content": "Checking web-1."},
            {"role": "user", "content": "Alert: HighCPU - resolved"}
        ])
    );
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "message_received",
            "agent_response",
            "message_received",
            "agent_response"
        ]
    );
    let s = h.session("alerts-session").await.unwrap();
    assert_eq!(s.message_count, 2);
    assert_eq!(s.history.len(), 4);
}

/// Seed, "Incoming webhooks" and its curl example: a hook id no handler
/// names is accepted, opens a `hook:` session and emits message_received
/// with the posted message, with no action.
#[tokio::test]
async fn unknown_hook_ids_only_emit_message_received() {
    let h = Harness::new(
        &json!({"webhooks": {"incoming": {"enabled": true, "port": 3011, "secret": "your-webhook-secret"},
                             "admin": {"secret": "the-operators-admin-secret"}}})
            .to_string(),
    );
    let a = h
        .post(
            "my-hook",
            &[("x-webhook-secret", "your-webhook-secret")],
            r#"{"message": "Hello from external service"}"#,
        )
        .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_started", "message_received", "session_ended"]
    );
    assert_eq!(events[1].message.text, "Hello from external service");
    assert_eq!(events[1].message.from, "my-hook");
    assert_eq!(events[1].hook_id.as_deref(), Some("my-hook"));
    assert_eq!(events[1].handler_id, None);
    assert_eq!(events[1].message.timestamp, "2026-01-15T10:30:00.000Z");
    let status = h
        .request(
            http::Method::GET,
            &format!("/events/{}", a.event_id()),
            &[("authorization", "Bearer the-operators-admin-secret")],
            "",
        )
        .await;
    assert_eq!(status.body["event"]["status"], "done");
    assert_eq!(status.body["event"]["result"], Value::Null);
}

/// The seed's incoming envelope: `data` is reachable under `data`, the
/// whole body under `event`.
#[tokio::test]
async fn envelope_payloads_render_data_and_event() {
    let hook = Recorder::start().await;
    let h = Harness::new(
        &json!({"webhooks": {
            "handlers": [{"id": "env", "action": "send_message", "target": {"channel": "out"},
                          "template": "{{event.event}}: key={{data.key}} all={{data}} at {{timestamp}}"}],
            "channels": {"out": {"type": "webhook", "url": hook.url("/chat")}}
        }})
        .to_string(),
    );
    h.post("env", &[], &fixture("seed_envelope.json")).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let body = hook.requests()[0].json();
    assert_eq!(
        body["text"],
        r#"custom_event: key=value all={"key":"value"} at 2024-01-15T10:30:00Z"#
    );
}
