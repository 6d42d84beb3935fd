//! `send_message` through each channel adapter, against recording servers
//! standing in for Slack, Discord, Telegram and a generic webhook; and how
//! the stage treats what those services answer (429, 4xx, 5xx, silence).

mod handler_support;

use clawhooks_e2e::{Recorder, Reply};
use handler_support::*;
use serde_json::{json, Value};
use std::time::Duration;

fn config(channel: Value, extra_handler: Value) -> String {
    let mut handler = json!({
        "id": "notify", "action": "send_message", "target": {"channel": "chat", "peer": "ops"},
        "template": "{{alert.name}}: {{alert.message}}"
    });
    for (k, v) in extra_handler.as_object().unwrap() {
        handler[k] = v.clone();
    }
    json!({"webhooks": {"handlers": [handler], "channels": {"chat": channel}}}).to_string()
}

const ALERT: &str = r#"{"alert": {"name": "DiskFull", "message": "/var at 97%"}}"#;

#[tokio::test]
async fn slack_incoming_webhook() {
    let slack = Recorder::start_with(Reply::status(200)).await;
    let h = Harness::new(&config(
        json!({"type": "slack", "webhookUrl": slack.url("/services/T000/B000/XXXX")}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &slack.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/services/T000/B000/XXXX")
    );
    assert_eq!(r.json(), json!({"text": "DiskFull: /var at 97%"}));
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["messageId"], Value::Null);
    assert_eq!(
        status["rendered"], "DiskFull: /var at 97%",
        "what the template made"
    );
}

#[tokio::test]
async fn slack_bot_token_uses_chat_post_message() {
    let slack = Recorder::start_with(Reply::json(
        200,
        json!({"ok": true, "channel": "C123", "ts": "1700000000.000100"}),
    ))
    .await;
    let h = Harness::new(&config(
        json!({"type": "slack", "botToken": "xoxb-test", "apiBase": slack.url("/api"),
               "peers": {"ops": "C123"}}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &slack.requests()[0];
    assert_eq!(r.path, "/api/chat.postMessage");
    assert_eq!(r.header("authorization"), Some("Bearer xoxb-test"));
    assert_eq!(
        r.json(),
        json!({"channel": "C123", "text": "DiskFull: /var at 97%"})
    );
    assert_eq!(
        h.status(&a.event_id()).await["result"]["messageId"],
        "1700000000.000100"
    );
}

#[tokio::test]
async fn slack_ok_false_is_a_permanent_failure_with_an_error_event() {
    let slack = Recorder::start_with(Reply::json(
        200,
        json!({"ok": false, "error": "channel_not_found"}),
    ))
    .await;
    let h = Harness::new(&config(
        json!({"type": "slack", "botToken": "xoxb-test", "apiBase": slack.url("/api")}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(
        h.run_handler().await,
        vec![Ok(())],
        "permanent: the message is done"
    );
    assert_eq!(slack.count(), 1, "not retried");
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("channel_not_found"),
        "{status}"
    );
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
    let err = events[2].error.as_ref().unwrap();
    assert_eq!(err.stage, "channel");
    assert!(!err.retrying);
    assert!(err.message.contains("channel_not_found"));
    assert!(!err.message.contains("xoxb-test"), "no token in errors");
}

#[tokio::test]
async fn telegram_send_message() {
    let tg = Recorder::start_with(Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": 77, "chat": {"id": -100123}}}),
    ))
    .await;
    let h = Harness::new(&config(
        json!({"type": "telegram", "botToken": "123456:ABC", "apiBase": tg.url(""),
               "peers": {"ops": "-100123"}}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &tg.requests()[0];
    assert_eq!(r.path, "/bot123456:ABC/sendMessage");
    assert_eq!(
        r.json(),
        json!({"chat_id": "-100123", "text": "DiskFull: /var at 97%"})
    );
    assert_eq!(h.status(&a.event_id()).await["result"]["messageId"], "77");
}

#[tokio::test]
async fn discord_webhook_url_waits_for_the_message() {
    let discord = Recorder::start_with(Reply::json(200, json!({"id": "5001"}))).await;
    let h = Harness::new(&config(
        json!({"type": "discord", "webhookUrl": discord.url("/api/webhooks/1/tok")}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &discord.requests()[0];
    assert_eq!(r.path, "/api/webhooks/1/tok");
    assert_eq!(r.query.as_deref(), Some("wait=true"));
    assert_eq!(r.json()["content"], "DiskFull: /var at 97%");
    assert_eq!(h.status(&a.event_id()).await["result"]["messageId"], "5001");
}

/// A deferred interaction's answer: the first part replaces Discord's
/// "thinking…" response, the rest follow it; a retry of the edit after a
/// lost answer edits again rather than posting twice.
#[tokio::test]
async fn discord_followup_edits_the_deferred_response_then_follows_it() {
    let discord = Recorder::start().await;
    discord.script([
        Reply::status(502),
        Reply::json(200, json!({"id": "orig"})),
        Reply::json(200, json!({"id": "f2"})),
    ]);
    let h = Harness::new(&config(
        json!({"type": "discord_followup", "apiUrl": discord.url("/api"), "maxLength": 20}),
        json!({"template": "{{text}}", "target": {"channel": "chat", "peer": "{{app}}/{{token}}"}}),
    ));
    let body = json!({"app": "771825006014889000", "token": "aW50ZX_tok",
                      "text": "first line is here\nsecond line here"});
    let a = h.post("notify", &[], &body.to_string()).await;
    let first = h.run_handler().await;
    assert!(first[0].as_ref().unwrap_err().contains("502"), "{first:?}");
    h.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let sent: Vec<(String, String, String)> = discord
        .requests()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.json()["content"].as_str().unwrap().into(),
            )
        })
        .collect();
    let original = "/api/webhooks/771825006014889000/aW50ZX_tok/messages/@original";
    let follow = "/api/webhooks/771825006014889000/aW50ZX_tok";
    assert_eq!(
        sent,
        [
            ("PATCH".into(), original.into(), "first line is here".into()),
            ("PATCH".into(), original.into(), "first line is here".into()),
            ("POST".into(), follow.into(), "second line here".into()),
        ]
    );
    assert!(discord
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_none()));
    let status = h.status(&a.event_id()).await;
    assert_eq!(
        status["result"]["messageIds"],
        json!(["orig", "f2"]),
        "{status}"
    );
}

#[tokio::test]
async fn generic_webhook_gets_text_and_ids_with_its_headers() {
    let hook = Recorder::start_with(Reply::json(200, json!({"id": "m-1"}))).await;
    let h = Harness::new(&config(
        json!({"type": "webhook", "url": hook.url("/in"), "headers": {"X-Api-Key": "k1"}}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &hook.requests()[0];
    assert_eq!(r.header("x-api-key"), Some("k1"));
    assert_eq!(
        r.json(),
        json!({"text": "DiskFull: /var at 97%", "channel": "chat", "peer": "ops",
               "session": a.session(), "eventId": a.event_id(), "hookId": "notify", "handlerId": "notify"})
    );
}

/// Text over the limit goes out as several messages, in order; a 429 in
/// the middle leaves the message for the queue after Retry-After, and the
/// retry posts only the parts still missing.
#[tokio::test]
async fn long_text_is_split_and_a_429_resumes_where_it_stopped() {
    let discord = Recorder::start().await;
    discord.script([
        Reply::json(200, json!({"id": "p1"})),
        Reply::json(
            429,
            json!({"message": "You are being rate limited.", "retry_after": 7.0, "global": false}),
        )
        .header("retry-after", "7"),
        Reply::json(200, json!({"id": "p2"})),
        Reply::json(200, json!({"id": "p3"})),
    ]);
    let h = Harness::new(&config(
        json!({"type": "discord", "botToken": "b", "apiBase": discord.url(""), "maxLength": 20}),
        json!({"template": "{{text}}"}),
    ));
    let text = "first line is here\nsecond line here\nthird and last";
    let a = h
        .post("notify", &[], &json!({"text": text}).to_string())
        .await;

    let first = h.run_handler().await;
    assert_eq!(first.len(), 1);
    assert!(first[0].as_ref().unwrap_err().contains("429"), "{first:?}");
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "processing");
    assert_eq!(status["attempts"], 1);

    h.clock.advance(chrono::Duration::seconds(6));
    assert!(h.run_handler().await.is_empty(), "hidden for Retry-After");
    h.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(h.run_handler().await, vec![Ok(())]);

    let posted: Vec<String> = discord
        .requests()
        .iter()
        .map(|r| r.json()["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        posted,
        [
            "first line is here",
            "second line here",
            "second line here",
            "third and last"
        ]
    );
    assert!(discord
        .requests()
        .iter()
        .all(|r| r.path == "/channels/ops/messages"));
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["attempts"], 2);
    assert_eq!(status["result"]["messageIds"], json!(["p1", "p2", "p3"]));
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "message_received",
            "error",
            "session_ended"
        ],
        "message_received once despite the redelivery"
    );
    assert!(events[2].error.as_ref().unwrap().retrying);
    assert_eq!(h.session(&a.session()).await.unwrap().message_count, 1);
}

/// A service that keeps failing with 5xx: retried by the queue, and on the
/// last receive recorded as failed and announced, then dead-lettered.
#[tokio::test]
async fn persistent_5xx_is_retried_then_recorded_and_dead_lettered() {
    let slack = Recorder::start_with(Reply::status(503)).await;
    let h = Harness::new(&config(
        json!({"type": "slack", "webhookUrl": slack.url("/hook")}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    for attempt in 1..=MAX_RECEIVE {
        let out = h.run_handler().await;
        assert_eq!(out.len(), 1, "attempt {attempt}");
        assert!(out[0].is_err());
        h.clock.advance(chrono::Duration::seconds(31));
    }
    assert!(h.run_handler().await.is_empty());
    assert_eq!(slack.count(), MAX_RECEIVE as usize);
    assert_eq!(h.backend.handler_dlq.approximate_len().await.unwrap(), 1);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["attempts"], MAX_RECEIVE);
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "{status}"
    );
    let events = h.events().await;
    let errors = of_kind(&events, "error");
    assert_eq!(errors.len(), MAX_RECEIVE as usize);
    let retrying: Vec<bool> = errors
        .iter()
        .map(|e| e.error.as_ref().unwrap().retrying)
        .collect();
    assert_eq!(retrying, [true, true, false]);
    assert_eq!(of_kind(&events, "message_received").len(), 1);
}

#[tokio::test]
async fn client_errors_are_permanent() {
    let discord = Recorder::start_with(Reply::json(
        403,
        json!({"message": "Missing Access", "code": 50001}),
    ))
    .await;
    let h = Harness::new(&config(
        json!({"type": "discord", "botToken": "secret-bot", "apiBase": discord.url("")}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(h.backend.handler_queue.approximate_len().await.unwrap(), 0);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("403") && error.contains("Missing Access"),
        "{error}"
    );
    assert!(!error.contains("secret-bot"));
}

#[tokio::test]
async fn unknown_channels_are_permanent_and_named() {
    let h = Harness::new(
        &json!({"webhooks": {"handlers": [{"id": "notify", "action": "send_message",
                 "target": {"channel": "nowhere"}}]}})
        .to_string(),
    );
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert!(status["error"]
        .as_str()
        .unwrap()
        .contains("\"nowhere\" is not configured"));
}

#[tokio::test]
async fn unreachable_services_are_transient() {
    let gone = Recorder::start().await;
    let url = gone.url("/hook");
    drop(gone);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let h = Harness::new(&config(
        json!({"type": "slack", "webhookUrl": url, "timeoutMs": 2000}),
        json!({}),
    ));
    let a = h.post("notify", &[], ALERT).await;
    let out = h.run_handler().await;
    assert!(out[0].is_err(), "{out:?}");
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "processing");
    assert!(
        status["error"].as_str().unwrap().contains("connect"),
        "{status}"
    );
}

/// One session's hooks are handled one at a time, in order: while the
/// first waits out a 429, the second waits behind it.
#[tokio::test]
async fn a_session_waits_behind_its_rate_limited_head() {
    let chat = Recorder::start().await;
    chat.script([Reply::status(429).header("retry-after", "7")]);
    let h = Harness::new(&config(
        json!({"type": "webhook", "url": chat.url("/c")}),
        json!({"sessionMode": "persistent", "sessionKey": "ops", "template": "{{n}}"}),
    ));
    for n in 1..=3 {
        h.post("notify", &[], &json!({"n": n}).to_string()).await;
    }
    assert!(h.run_handler().await[0].is_err());
    assert_eq!(chat.count(), 1, "the others wait behind the head");
    h.clock.advance(chrono::Duration::seconds(8));
    assert_eq!(h.run_handler().await, vec![Ok(()), Ok(()), Ok(())]);
    let texts: Vec<Value> = chat
        .requests()
        .iter()
        .map(|r| r.json()["text"].clone())
        .collect();
    assert_eq!(texts, [json!("1"), json!("1"), json!("2"), json!("3")]);
}

/// Every store operation is a round trip (a DynamoDB request, a turn of
/// the SQLite writer), so what the handler spends per hook bounds its rate:
/// a `send_message` hook costs at most six, on a one-hook session (read
/// the status and the session, create the session, mark the status
/// `processing` with its progress, end the session, mark it `done`) and
/// fewer on a persistent one, which is not ended.
#[tokio::test]
async fn a_send_message_hook_costs_the_handler_at_most_six_store_operations() {
    let chat = Recorder::start_with(Reply::status(200)).await;
    let channel = json!({"type": "webhook", "url": chat.url("/in")});
    for (mode, most) in [("per-request", 6), ("persistent", 5)] {
        let h = Harness::new(&config(channel.clone(), json!({"sessionMode": mode})));
        for round in 0..3 {
            let a = h.post("notify", &[], ALERT).await;
            h.store_ops.take();
            assert_eq!(h.run_handler().await, vec![Ok(())]);
            let ops = h.store_ops.take();
            assert!(
                ops.total() <= most,
                "{mode} session, hook {round}: {ops} store operations"
            );
            assert_eq!(h.status(&a.event_id()).await["status"], "done");
        }
        // In order within a session; sessions interleave as they will.
        let mut kinds: Vec<String> = h
            .events()
            .await
            .iter()
            .map(|e| e.kind.as_str().to_string())
            .collect();
        kinds.sort();
        let expected: &[&str] = match mode {
            "per-request" => &["session_started", "message_received", "session_ended"],
            _ => &[
                "session_started",
                "message_received",
                "message_received",
                "message_received",
            ],
        };
        let rounds = if mode == "per-request" { 3 } else { 1 };
        let mut expected = expected.repeat(rounds);
        expected.sort();
        assert_eq!(kinds, expected, "{mode}");
    }
    assert_eq!(chat.requests().len(), 6);
}

/// A target's `fallback` takes the message its channel refused for good (a
/// 4xx) at once, and one its channel kept failing (5xx) on the hook's last
/// attempt; the event's result names the channel that delivered.
#[tokio::test]
async fn a_fallback_channel_takes_what_the_primary_refused() {
    let primary = Recorder::start_with(Reply::status(403)).await;
    let backup = Recorder::start().await;
    let doc = json!({"webhooks": {"handlers": [{"id": "notify", "action": "send_message",
        "target": {"channel": "chat", "peer": "ops", "fallback": {"channel": "backup", "peer": "oncall"}},
        "template": "{{alert.name}}: {{alert.message}}"}],
        "channels": {"chat": {"type": "webhook", "url": primary.url("/in")},
                     "backup": {"type": "webhook", "url": backup.url("/in")}}}});
    let h = Harness::new(&doc.to_string());
    let a = h.post("notify", &[], ALERT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!((primary.count(), backup.count()), (1, 1));
    let took = backup.requests()[0].json();
    assert_eq!(
        (took["text"].as_str(), took["peer"].as_str()),
        (Some("DiskFull: /var at 97%"), Some("oncall"))
    );
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["status"], "done", "{status}");
    assert_eq!(status["result"]["channel"], "backup", "{status}");
    assert_eq!(status["result"]["fallback"], true, "{status}");
    assert!(
        status["result"]["primaryError"]
            .as_str()
            .unwrap()
            .contains("403"),
        "{status}"
    );

    // A failing primary is retried; the last attempt goes to the fallback.
    primary.set_default(Reply::status(503));
    let b = h
        .post(
            "notify",
            &[],
            r#"{"alert": {"name": "CpuHigh", "message": "web-1"}}"#,
        )
        .await;
    for attempt in 1..MAX_RECEIVE {
        let out = h.run_handler().await;
        assert!(
            out.len() == 1 && out[0].is_err(),
            "attempt {attempt}: {out:?}"
        );
        h.clock.advance(chrono::Duration::seconds(31));
    }
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(
        (primary.count(), backup.count()),
        (1 + MAX_RECEIVE as usize, 2)
    );
    let status = h.status(&b.event_id()).await;
    assert_eq!(
        (
            status["status"].as_str(),
            status["result"]["channel"].as_str()
        ),
        (Some("done"), Some("backup")),
        "{status}"
    );
    assert_eq!(h.backend.handler_dlq.approximate_len().await.unwrap(), 0);
}

/// The last attempt is the queue's count, not the record's: a consumer that
/// died holding the message (no attempt recorded) still used up a receive,
/// and the fallback must take the message on the real last one rather than
/// let it go to the dead-letter queue.
#[tokio::test]
async fn the_fallback_counts_an_attempt_a_crash_cut_short() {
    let primary = Recorder::start_with(Reply::status(503)).await;
    let backup = Recorder::start().await;
    let doc = json!({"webhooks": {"handlers": [{"id": "notify", "action": "send_message",
        "target": {"channel": "chat", "peer": "ops", "fallback": {"channel": "backup"}},
        "template": "{{alert.name}}: {{alert.message}}"}],
        "channels": {"chat": {"type": "webhook", "url": primary.url("/in")},
                     "backup": {"type": "webhook", "url": backup.url("/in")}}}});
    let h = Harness::new(&doc.to_string());
    let a = h.post("notify", &[], ALERT).await;
    // The crash: received, then nothing, until its visibility runs out.
    let held = h
        .backend
        .handler_queue
        .receive(1, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    h.clock.advance(chrono::Duration::seconds(31));
    for attempt in 2..MAX_RECEIVE {
        let out = h.run_handler().await;
        assert!(
            out.len() == 1 && out[0].is_err(),
            "attempt {attempt}: {out:?}"
        );
        h.clock.advance(chrono::Duration::seconds(31));
    }
    assert_eq!(h.run_handler().await, vec![Ok(())], "the last receive");
    assert_eq!(primary.count(), MAX_RECEIVE as usize - 1);
    assert_eq!(backup.count(), 1);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["result"]["channel"], "backup", "{status}");
    assert_eq!(h.backend.handler_dlq.approximate_len().await.unwrap(), 0);
}

/// A fallback must name a configured channel.
#[test]
fn a_fallback_to_an_unknown_channel_is_a_load_error() {
    let doc = json!({"webhooks": {"handlers": [{"id": "n", "action": "send_message",
        "target": {"channel": "chat", "fallback": {"channel": "nope"}}}],
        "channels": {"chat": {"type": "webhook", "url": "https://chat.example/in"}}}});
    let e = clawhooks::config::load_str(&doc.to_string(), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("target.fallback.channel") && e.contains("nope"),
        "{e}"
    );
}

/// A Slack message event as the Events API posts it, in a thread.
const SLACK_THREAD_EVENT: &str = r#"{"type": "event_callback", "event_id": "Ev1",
  "event": {"type": "message", "channel": "C0THREAD", "user": "U1", "text": "disk?",
            "ts": "1700000001.000200", "thread_ts": "1700000000.000100"}}"#;

/// The peer and the thread rendered from the event: a question asked in a
/// Slack thread is answered in that thread (`thread_ts`), and a message
/// outside any thread (no `thread_ts`: an empty thread) is not threaded.
#[tokio::test]
async fn slack_target_templates_post_into_the_events_thread() {
    let slack = Recorder::start_with(Reply::json(200, json!({"ok": true, "ts": "1.2"}))).await;
    let h = Harness::new(&config(
        json!({"type": "slack", "botToken": "xoxb-test", "apiBase": slack.url("/api")}),
        json!({"template": "{{event.event.text}}",
               "target": {"channel": "chat", "peer": "{{event.event.channel}}",
                          "thread": "{{event.event.thread_ts}}"}}),
    ));
    let a = h.post("notify", &[], SLACK_THREAD_EVENT).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(
        slack.requests()[0].json(),
        json!({"channel": "C0THREAD", "text": "disk?", "thread_ts": "1700000000.000100"})
    );
    let result = &h.status(&a.event_id()).await["result"];
    assert_eq!(
        (&result["peer"], &result["thread"]),
        (&json!("C0THREAD"), &json!("1700000000.000100"))
    );
    let unthreaded = SLACK_THREAD_EVENT.replace(r#", "thread_ts": "1700000000.000100""#, "");
    h.post("notify", &[], &unthreaded).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(
        slack.requests()[1].json(),
        json!({"channel": "C0THREAD", "text": "disk?"}),
        "an empty thread posts outside any thread"
    );
}

/// Discord's bot API answers a message as a reply (`message_reference`).
#[tokio::test]
async fn discord_thread_is_a_reply_to_the_message() {
    let discord = Recorder::start_with(Reply::json(200, json!({"id": "5002"}))).await;
    let h = Harness::new(&config(
        json!({"type": "discord", "botToken": "bot-tok", "apiBase": discord.url("/api")}),
        json!({"template": "{{content}}",
               "target": {"channel": "chat", "peer": "{{channel_id}}", "thread": "{{id}}"}}),
    ));
    h.post(
        "notify",
        &[],
        r#"{"id": "900", "channel_id": "800", "content": "hello"}"#,
    )
    .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &discord.requests()[0];
    assert_eq!(r.path, "/api/channels/800/messages");
    assert_eq!(
        r.json()["message_reference"],
        json!({"message_id": "900", "fail_if_not_exists": false})
    );
}

/// Telegram answers in the chat the message came from, as a reply to it.
#[tokio::test]
async fn telegram_thread_is_a_reply_to_the_message() {
    let tg = Recorder::start_with(Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": 78}}),
    ))
    .await;
    let h = Harness::new(&config(
        json!({"type": "telegram", "botToken": "123456:ABC", "apiBase": tg.url("")}),
        json!({"template": "{{message.text}}",
               "target": {"channel": "chat", "peer": "{{message.chat.id}}",
                          "thread": "{{message.message_id}}"}}),
    ));
    h.post(
        "notify",
        &[],
        r#"{"update_id": 1, "message": {"message_id": 42, "chat": {"id": -100555}, "text": "hi"}}"#,
    )
    .await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(
        tg.requests()[0].json(),
        json!({"chat_id": "-100555", "text": "hi",
               "reply_parameters": {"message_id": 42, "allow_sending_without_reply": true}})
    );
}

/// GitHub: a comment on the issue or PR the event came from, the peer
/// rendered from the payload; a peer that is not `owner/repo#number` (here
/// a path climbing out of `/repos`) is refused without a request.
#[tokio::test]
async fn github_comments_on_the_issue_the_event_names() {
    let gh = Recorder::start_with(Reply::json(201, json!({"id": 1_234_567}))).await;
    let h = Harness::new(&config(
        json!({"type": "github", "token": "ghp-test", "apiUrl": gh.url("/api/v3")}),
        json!({"template": "{{comment.body}}",
               "target": {"channel": "chat",
                          "peer": "{{repository.full_name}}#{{issue.number}}"}}),
    ));
    let comment = json!({"action": "created", "issue": {"number": 7},
                         "comment": {"body": "why is CI red?"},
                         "repository": {"full_name": "octo-org/hello-world"}});
    let a = h.post("notify", &[], &comment.to_string()).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let r = &gh.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        (
            "POST",
            "/api/v3/repos/octo-org/hello-world/issues/7/comments"
        )
    );
    assert_eq!(r.header("authorization"), Some("Bearer ghp-test"));
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(r.json(), json!({"body": "why is CI red?"}));
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["result"]["messageId"], "1234567");
    assert_eq!(status["result"]["peer"], "octo-org/hello-world#7");

    let mut climbing = comment.clone();
    climbing["repository"]["full_name"] = json!("octo-org/../../user");
    let b = h.post("notify", &[], &climbing.to_string()).await;
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(gh.count(), 1, "no request for a bad peer");
    let status = h.status(&b.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("owner/repo#number"),
        "{status}"
    );
}
