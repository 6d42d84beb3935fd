//! Each preset with its provider's documented example payload
//! (`tests/fixtures/<preset>/`), signed here with the provider's algorithm:
//! it loads, verifies, gets the session key and the idempotency key the
//! preset promises, and its template reads the payload. With the `slack`
//! preset, a bot's message and a retry of an event already taken run
//! nothing, and a question asked in a thread is answered in that thread.

mod handler_support;

use clawhooks_e2e::ingress_kit::github_signature;
use clawhooks_e2e::{Recorder, Reply};
use handler_support::*;
use http::Method;
use serde_json::{json, Value};

/// An agent that answers every prompt with "On it.".
async fn agent() -> Recorder {
    Recorder::start_with(Reply::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "On it."}}]}),
    ))
    .await
}

/// A gateway with one handler `h` on `preset` (plus `keys`), its agent,
/// and `channels`.
fn gateway(preset: &str, keys: Value, model: &Recorder, channels: Value) -> Harness {
    let mut handler = json!({"id": "h", "preset": preset, "agentId": "bot"});
    for (k, v) in keys.as_object().unwrap() {
        handler[k] = v.clone();
    }
    Harness::new(
        &json!({"webhooks": {
            "handlers": [handler],
            "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}},
            "channels": channels
        }})
        .to_string(),
    )
}

/// HMAC-SHA256 of `msg` under `secret`, as lower-case hex.
fn hmac_hex(secret: &str, msg: &str) -> String {
    github_signature(secret, msg.as_bytes()).replace("sha256=", "")
}

fn now(h: &Harness) -> i64 {
    use clawhooks::ports::Clock;
    h.clock.now().timestamp()
}

fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Posts a signed delivery twice: the first is accepted with `session`,
/// the repeat (the provider's retry) gets the first's event id; the
/// handler then runs it once, and the agent's prompt is `prompt`.
async fn accepted_once(
    h: &Harness,
    model: &Recorder,
    headers: &[(&'static str, String)],
    body: &str,
    session: &str,
    prompt: &str,
) -> Answer {
    let a = h.post("h", &refs(headers), body).await;
    assert_eq!(a.session(), session);
    let again = h
        .request(Method::POST, "/webhook/h", &refs(headers), body)
        .await;
    assert_eq!(again.body["eventId"], a.body["eventId"], "{}", again.body);
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    let status = h.status(&a.event_id()).await;
    assert_eq!(status["rendered"], prompt);
    let asked = model.requests()[0].json();
    let last = asked["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["content"], prompt, "{asked}");
    assert_eq!(model.count(), 1, "the repeat ran nothing");
    a
}

/// Refused without the provider's signature or token.
async fn refuses_unsigned(h: &Harness, body: &str) {
    let a = h.request(Method::POST, "/webhook/h", &[], body).await;
    assert_eq!(a.status, 401, "{}", a.body);
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn slack_signed(ts: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-slack-request-timestamp", ts.to_string()),
        (
            "x-slack-signature",
            format!("v0={}", hmac_hex(SLACK_SECRET, &format!("v0:{ts}:{body}"))),
        ),
    ]
}

#[tokio::test]
async fn slack_preset() {
    let model = agent().await;
    let slack = Recorder::start_with(Reply::json(200, json!({"ok": true, "ts": "9.1"}))).await;
    let h = gateway(
        "slack",
        json!({"verify": {"secret": SLACK_SECRET}}),
        &model,
        json!({"slack": {"type": "slack", "botToken": "xoxb-1", "apiBase": slack.url("/api")}}),
    );
    let body = fixture("slack/app_mention_in_thread.json");
    refuses_unsigned(&h, &body).await;
    let signed = slack_signed(now(&h), &body);
    let a = accepted_once(
        &h,
        &model,
        &signed,
        &body,
        "slack:T123ABC456:C123ABC456:1515449438.000011",
        "Slack message from <@U123ABC456> in C123ABC456:\n\nWhat is the hour of the pearl, <@U0LAN0Z89>?",
    )
    .await;
    // The thread's question is answered in that thread.
    let posted = slack.requests();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].path, "/api/chat.postMessage");
    assert_eq!(
        posted[0].json(),
        json!({"channel": "C123ABC456", "text": "On it.", "thread_ts": "1515449438.000011"})
    );
    assert_eq!(h.status(&a.event_id()).await["status"], "done");

    // Slack retries, signed anew and numbered: the event already taken runs nothing.
    let mut retry = slack_signed(now(&h) + 4, &body);
    retry.push(("x-slack-retry-num", "1".into()));
    let again = h
        .request(Method::POST, "/webhook/h", &refs(&retry), &body)
        .await;
    assert_eq!(
        (again.status, &again.body["eventId"]),
        (200, &a.body["eventId"])
    );
    // A bot's message (the assistant's own answer mentioning it) reaches no agent.
    let mut v: Value = serde_json::from_str(&body).unwrap();
    v["event_id"] = json!("Ev999BOT");
    v["event"]["bot_id"] = json!("B0123");
    let by_bot = v.to_string();
    let ignored = h
        .request(
            Method::POST,
            "/webhook/h",
            &refs(&slack_signed(now(&h), &by_bot)),
            &by_bot,
        )
        .await;
    assert_eq!(ignored.status, 200, "{}", ignored.body);
    assert!(ignored.body["ignored"].is_string(), "{}", ignored.body);
    assert!(h.run_handler().await.is_empty(), "nothing queued");
    assert_eq!((model.count(), slack.count()), (1, 1));

    // A mention outside any thread opens one: its own ts keys the session
    // and the answer starts the thread under it.
    let mut v: Value = serde_json::from_str(&body).unwrap();
    v["event_id"] = json!("Ev124TOP");
    v["event"].as_object_mut().unwrap().remove("thread_ts");
    let top = v.to_string();
    let b = h.post("h", &refs(&slack_signed(now(&h), &top)), &top).await;
    assert_eq!(b.session(), "slack:T123ABC456:C123ABC456:1515449522.000016");
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(slack.requests()[1].json()["thread_ts"], "1515449522.000016");
}

#[tokio::test]
async fn discord_preset() {
    let model = agent().await;
    let discord = Recorder::start_with(Reply::json(200, json!({"id": "5003"}))).await;
    let seed: Vec<u8> = (0..32).collect();
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let h = gateway(
        "discord",
        json!({"verify": {"secret": "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"}}),
        &model,
        json!({"discord": {"type": "discord_followup", "apiUrl": discord.url("/api")}}),
    );
    let body = fixture("discord/application_command.json");
    refuses_unsigned(&h, &body).await;
    let ts = now(&h).to_string();
    let sig = pair.sign(format!("{ts}{body}").as_bytes());
    let hex: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let signed = vec![("x-signature-ed25519", hex), ("x-signature-timestamp", ts)];
    // Deferred at once, before the handler ran; Discord's retry too.
    for _ in 0..2 {
        let a = h
            .request(Method::POST, "/webhook/h", &refs(&signed), &body)
            .await;
        assert_eq!((a.status, &a.body), (200, &json!({"type": 5})));
    }
    assert_eq!(model.count(), 0, "answered before the agent ran");
    let listed = h.request(Method::GET, "/events", &[], "").await;
    let events = listed.body["events"].as_array().unwrap().clone();
    assert_eq!(
        events.len(),
        1,
        "the retry is the same event: {}",
        listed.body
    );
    let id = events[0]["eventId"].as_str().unwrap().to_string();
    assert_eq!(events[0]["sessionKey"], "discord:645027906669510667");
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(model.count(), 1);
    let asked = model.requests()[0].json();
    assert_eq!(
        asked["messages"].as_array().unwrap().last().unwrap()["content"],
        "Discord /cardsearch from Mason in channel 645027906669510667: cardname=The Gitrog Monster"
    );
    // The answer replaces the deferred "thinking…" response, through the
    // interaction's webhook, no bot token.
    let sent = &discord.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        (
            "PATCH",
            "/api/webhooks/771825006014889000/A_UNIQUE_TOKEN/messages/@original"
        )
    );
    assert_eq!(sent.json()["content"], "On it.");
    assert!(sent.header("authorization").is_none());
    let status = h.status(&id).await;
    assert_eq!(status["status"], "done", "{status}");
    assert_eq!(status["result"]["answer"], "On it.");
    let shown = status.to_string();
    assert!(!shown.contains("A_UNIQUE_TOKEN"), "{shown}");
    assert!(shown.contains("771825006014889000/[redacted]"), "{shown}");
}

#[tokio::test]
async fn telegram_preset() {
    let model = agent().await;
    let tg = Recorder::start_with(Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": 1366}}),
    ))
    .await;
    let h = gateway(
        "telegram",
        json!({"verify": {"secret": "tg-secret_1"}}),
        &model,
        json!({"telegram": {"type": "telegram", "botToken": "1:T", "apiBase": tg.url("")}}),
    );
    let body = fixture("telegram/message.json");
    refuses_unsigned(&h, &body).await;
    let signed = vec![("x-telegram-bot-api-secret-token", "tg-secret_1".to_string())];
    accepted_once(
        &h,
        &model,
        &signed,
        &body,
        "telegram:1111111",
        "Telegram message from Test Firstname (@Testusername) in a private chat:\n\n/start",
    )
    .await;
    assert_eq!(
        tg.requests()[0].json(),
        json!({"chat_id": "1111111", "text": "On it.",
               "reply_parameters": {"message_id": 1365, "allow_sending_without_reply": true}})
    );
}

fn github_signed(event: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-github-event", event.to_string()),
        (
            "x-github-delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        ),
        (
            "x-hub-signature-256",
            github_signature("gh-secret", body.as_bytes()),
        ),
    ]
}

#[tokio::test]
async fn github_preset() {
    let model = agent().await;
    let gh = Recorder::start_with(Reply::json(201, json!({"id": 1}))).await;
    let h = gateway(
        "github",
        json!({"verify": {"secret": "gh-secret"}}),
        &model,
        json!({"github": {"type": "github", "token": "t", "apiUrl": gh.url("")}}),
    );
    let body = fixture("github_pull_request_opened.json");
    refuses_unsigned(&h, &body).await;
    let a = accepted_once(
        &h,
        &model,
        &github_signed("pull_request", &body),
        &body,
        "github:Codertocat/Hello-World#2",
        "GitHub Codertocat/Hello-World pull request #2 \"Update the README with new information.\": opened by Codertocat\n\nThis is a pretty simple change that we need to pull into master.\nhttps://github.com/Codertocat/Hello-World/pull/2",
    )
    .await;
    assert_eq!(
        gh.requests()[0].path,
        "/repos/Codertocat/Hello-World/issues/2/comments"
    );
    assert_eq!(h.status(&a.event_id()).await["status"], "done");
    // GitHub's ping, when the hook is made, runs nothing.
    let ping = fixture("github/ping.json");
    let pinged = h
        .request(
            Method::POST,
            "/webhook/h",
            &refs(&github_signed("ping", &ping)),
            &ping,
        )
        .await;
    assert_eq!(pinged.status, 200, "{}", pinged.body);
    assert!(h.run_handler().await.is_empty());
}

#[tokio::test]
async fn stripe_preset() {
    let model = agent().await;
    let h = gateway(
        "stripe",
        json!({"verify": {"secret": "whsec_test"}}),
        &model,
        json!({}),
    );
    let body = fixture("stripe/payment_intent_succeeded.json");
    refuses_unsigned(&h, &body).await;
    let t = now(&h);
    let sig = hmac_hex("whsec_test", &format!("{t}.{body}"));
    let signed = vec![("stripe-signature", format!("t={t},v1={sig}"))];
    accepted_once(
        &h,
        &model,
        &signed,
        &body,
        "stripe:cus_NffrFeUfNV2Hib",
        "Stripe event payment_intent.succeeded (evt_3MtwBwLkdIwHu7ix28a3tqPa, test mode): payment_intent pi_3MtwBwLkdIwHu7ix28a3tqPa of customer cus_NffrFeUfNV2Hib, amount 2000 USD (in the currency's smallest unit), status succeeded",
    )
    .await;
}

#[tokio::test]
async fn alertmanager_preset() {
    let model = agent().await;
    let h = gateway(
        "alertmanager",
        json!({"secret": "am-token"}),
        &model,
        json!({}),
    );
    let body = fixture("alertmanager/firing.json");
    refuses_unsigned(&h, &body).await;
    let signed = vec![("authorization", "Bearer am-token".to_string())];
    let a = h.post("h", &refs(&signed), &body).await;
    assert_eq!(a.session(), "alertmanager:{}:{alertname=\"HighLatency\"}");
    assert_eq!(h.run_handler().await, vec![Ok(())]);
    assert_eq!(
        h.status(&a.event_id()).await["rendered"],
        "Alertmanager: FIRING HighLatency (2 alerts, receiver clawhooks)\n\
         - [firing] HighLatency (page) on api-1:8080: High request latency on api-1:8080 (since 2026-01-15T10:25:00Z)\n\
         - [firing] HighLatency (page) on api-2:8080: High request latency on api-2:8080 (since 2026-01-15T10:26:00Z)\n\
         http://alertmanager.example.com:9093"
    );
    // Alertmanager repeats a group's notification on its own schedule:
    // each is news, and joins the group's session.
    let b = h.post("h", &refs(&signed), &body).await;
    assert_ne!(b.event_id(), a.event_id());
    assert_eq!(b.session(), a.session());
}

/// A preset whose provider signs the body with a hex HMAC-SHA256 in `header`.
async fn hmac_preset(preset: &str, header: &'static str, body: &str, session: &str, prompt: &str) {
    let model = agent().await;
    let h = gateway(
        preset,
        json!({"verify": {"secret": "s3cret"}}),
        &model,
        json!({}),
    );
    refuses_unsigned(&h, body).await;
    let mut signed = vec![(header, hmac_hex("s3cret", body))];
    if preset == "sentry" {
        signed.push(("sentry-hook-resource", "issue".into()));
    }
    accepted_once(&h, &model, &signed, body, session, prompt).await;
}

#[tokio::test]
async fn grafana_preset() {
    hmac_preset(
        "grafana",
        "x-grafana-alerting-signature",
        &fixture("grafana/firing.json"),
        "grafana:{}:{alertname=\"High memory usage\"}",
        "Grafana alert: [FIRING:1]  (High memory usage blue us-1)\n\n**Firing**\n\nLabels:\n - alertname = High memory usage\n - team = blue\n - zone = us-1\nAnnotations:\n - description = The system has high memory usage\n - runbook_url = https://myrunbook.com/runbook/1234\n - summary = This alert was triggered for zone us-1\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1\n\nhttps://play.grafana.org/",
    )
    .await;
}

#[tokio::test]
async fn linear_preset() {
    hmac_preset(
        "linear",
        "linear-signature",
        &fixture("linear/comment_create.json"),
        "linear:a8e1fb0f-1c95-4a3b-a1d6-6e9a2e9fd1c3",
        "Linear Comment create by Linear Agent on ENG-123 \"Login fails on Safari\"\n\nCan you reproduce this on the staging build?\nhttps://linear.app/linear/issue/ENG-123/login-fails-on-safari#comment-2174add1",
    )
    .await;
}

#[tokio::test]
async fn sentry_preset() {
    hmac_preset(
        "sentry",
        "sentry-hook-signature",
        &fixture("sentry/issue_created.json"),
        "sentry:1170820242",
        "Sentry issue created: Error: Loading chunk 3 failed. in ?(webpack/bootstrap) (error)\nhttps://sentry.io/organizations/example/issues/1170820242/",
    )
    .await;
}
