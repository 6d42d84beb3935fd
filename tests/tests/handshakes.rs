//! Provider handshakes through the real HTTP server: each provider's
//! documented request (`tests/fixtures/<provider>/`) gets the answer the
//! provider requires, only once its signature or verify token checks out,
//! and creates no event and queues nothing. And the noise guards: a Slack
//! retry of an event already taken, and a bot's message, run nothing.

use clawhooks::config::{load_str, CompiledConfig};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, Clock, TestClock};
use clawhooks_local::{start, Running, ServerOptions};
use serde_json::{json, Value};
use std::sync::Arc;

/// The fixtures' signing time.
const NOW: i64 = 1_700_000_000;

fn fixture(path: &str) -> Value {
    let file = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).expect(&file)).unwrap()
}

fn field(fx: &Value, key: &str) -> String {
    fx[key].as_str().unwrap().to_string()
}

struct Gateway {
    running: Running,
    backend: Backend,
    http: reqwest::Client,
}

/// A server with the fixtures' secrets, its clock at [`NOW`], no workers.
async fn gateway() -> Gateway {
    clawhooks::outbound::http::install_crypto_provider();
    let (slack, zoom, discord) = (
        fixture("slack/url_verification.json"),
        fixture("zoom/url_validation.json"),
        fixture("discord/ping.json"),
    );
    let meta = fixture("meta/subscribe.json");
    let config = json!({"webhooks": {
        "incoming": {"secret": "shared-hook-secret"},
        "handlers": [
            {"id": "slack", "verify": {"scheme": "slack", "secret": field(&slack, "secret")}},
            {"id": "slack-bots", "allowBots": true,
                "verify": {"scheme": "slack", "secret": field(&slack, "secret")}},
            {"id": "zoom", "verify": {"scheme": "zoom", "secret": field(&zoom, "secret")}},
            {"id": "discord", "verify": {"scheme": "discord", "secret": field(&discord, "publicKey")}},
            {"id": "whatsapp", "verify": {"scheme": "github", "secret": "meta-app-secret",
                "verifyToken": field(&meta, "verifyToken")}},
            {"id": "graph", "verify": {"scheme": "graph", "secret": "secretClientValue"}},
            {"id": "plain"}
        ]
    }});
    let cfg: Arc<CompiledConfig> = Arc::new(load_str(&config.to_string(), &|_| None).unwrap());
    let clock = Arc::new(TestClock::new(
        chrono::DateTime::from_timestamp(NOW, 0).unwrap(),
    ));
    let db = Embedded::memory().unwrap().with_clock(clock.clone());
    let backend = db.backend(BackendOptions::default());
    let running = start(ServerOptions {
        ingress: Ingress {
            config: cfg,
            backend: backend.clone(),
            clock: clock as Arc<dyn Clock>,
        },
        addr: "127.0.0.1:0".parse().unwrap(),
        consumers: Vec::new(),
        poll: Default::default(),
        sweep_every: None,
        limits: Default::default(),
    })
    .await
    .unwrap();
    Gateway {
        running,
        backend,
        http: reqwest::Client::new(),
    }
}

impl Gateway {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    async fn post(
        &self,
        hook: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (u16, String, String) {
        let mut req = self
            .http
            .post(self.url(&format!("/webhook/{hook}")))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        answer(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// A signed handshake is answered with `expected` as JSON, and kept nowhere.
    async fn answers(&self, hook: &str, signed: &[(&str, String)], body: &str, expected: &Value) {
        let (status, content_type, text) = self.post(hook, signed, body).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{text}"
        );
        assert_eq!(&json_of(&text), expected);
        self.nothing_kept().await;
    }

    /// Nothing queued and no event recorded.
    async fn nothing_kept(&self) {
        let queued = self.backend.handler_queue.approximate_len().await.unwrap();
        assert_eq!(queued, 0, "a handshake queued a message");
        let (status, _, events) = self.get("/events").await;
        assert_eq!(status, 200, "{events}");
        let events: Value = serde_json::from_str(&events).unwrap();
        assert_eq!(events["events"], json!([]), "a handshake made an event");
    }
}

async fn answer(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, r.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn slack_url_verification() {
    let g = gateway().await;
    let fx = fixture("slack/url_verification.json");
    let body = field(&fx, "body");
    let signed = [
        ("x-slack-request-timestamp", field(&fx, "timestamp")),
        ("x-slack-signature", field(&fx, "signature")),
    ];
    g.answers("slack", &signed, &body, &fx["answer"]).await;

    // Unsigned, or signed with another secret: refused, nothing kept.
    let (status, _, text) = g.post("slack", &[], &body).await;
    assert_eq!(status, 401, "{text}");
    let forged = [
        ("x-slack-request-timestamp", field(&fx, "timestamp")),
        ("x-slack-signature", format!("v0={}", "0".repeat(64))),
    ];
    let (status, _, text) = g.post("slack", &forged, &body).await;
    assert_eq!(status, 401, "{text}");
    assert!(!text.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
    // The shared secret opens a plain hook, but no handshake is answered there.
    let secret = [("x-webhook-secret", "shared-hook-secret".to_string())];
    let (status, _, text) = g.post("plain", &secret, &body).await;
    assert_eq!(status, 202, "{text}");
    assert!(json_of(&text)["eventId"].is_string(), "{text}");
}

#[tokio::test]
async fn discord_ping() {
    let g = gateway().await;
    let fx = fixture("discord/ping.json");
    let body = field(&fx, "body");
    let signed = [
        ("x-signature-ed25519", field(&fx, "signature")),
        ("x-signature-timestamp", field(&fx, "timestamp")),
    ];
    g.answers("discord", &signed, &body, &fx["answer"]).await;

    // Discord checks that a wrongly signed PING is refused with 401.
    let mut forged = signed.clone();
    forged[0].1 = "ab".repeat(64);
    let (status, _, text) = g.post("discord", &forged, &body).await;
    assert_eq!(status, 401, "{text}");
    let (status, _, text) = g.post("discord", &[], &body).await;
    assert_eq!(status, 401, "{text}");
    g.nothing_kept().await;
}

#[tokio::test]
async fn zoom_url_validation() {
    let g = gateway().await;
    let fx = fixture("zoom/url_validation.json");
    let body = field(&fx, "body");
    let signed = [
        ("x-zm-request-timestamp", field(&fx, "timestamp")),
        ("x-zm-signature", field(&fx, "signature")),
    ];
    g.answers("zoom", &signed, &body, &fx["answer"]).await;

    let (status, _, text) = g.post("zoom", &signed, &body.replace("qgg8", "xxxx")).await;
    assert_eq!(status, 401, "{text}");
    g.nothing_kept().await;

    // A signed Zoom event that is no handshake is kept as any hook.
    let event = r#"{"event":"meeting.started","payload":{"object":{"id":"85"}}}"#;
    let sig = clawhooks_e2e::ingress_kit::github_signature(
        &field(&fx, "secret"),
        format!("v0:{NOW}:{event}").as_bytes(),
    )
    .replace("sha256=", "");
    let signed = [
        ("x-zm-request-timestamp", NOW.to_string()),
        ("x-zm-signature", format!("v0={sig}")),
    ];
    let (status, _, text) = g.post("zoom", &signed, event).await;
    assert_eq!(status, 202, "{text}");
}

#[tokio::test]
async fn graph_validation_token() {
    let g = gateway().await;
    let fx = fixture("graph/validation.json");
    let validate = |hook: &str| {
        g.http
            .post(g.url(&format!("/webhook/{hook}?{}", field(&fx, "query"))))
            .header("content-type", "text/plain")
            .send()
    };
    let (status, content_type, text) = answer(validate("graph").await.unwrap()).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(text, field(&fx, "answer"));
    g.nothing_kept().await;
    // Only a graph handler echoes it: elsewhere it is an unauthenticated hook.
    let (status, _, text) = answer(validate("plain").await.unwrap()).await;
    assert_eq!(status, 401, "{text}");
    g.nothing_kept().await;

    // Notifications need the subscription's clientState.
    let notification = field(&fx, "notification");
    let (status, _, text) = g.post("graph", &[], &notification).await;
    assert_eq!(status, 202, "{text}");
    let forged = notification.replace("secretClientValue", "guessedValue");
    let (status, _, text) = g.post("graph", &[], &forged).await;
    assert_eq!(status, 401, "{text}");
}

#[tokio::test]
async fn meta_subscription_check() {
    let g = gateway().await;
    let fx = fixture("meta/subscribe.json");
    let query = field(&fx, "query");
    let (status, content_type, text) = g.get(&format!("/webhook/whatsapp?{query}")).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(text, field(&fx, "answer"));
    g.nothing_kept().await;

    // A wrong token, or a hook with no verify token: 403 alike.
    let wrong = query.replace("meatyhamhock", "guessed");
    for path in [
        format!("/webhook/whatsapp?{wrong}"),
        format!("/webhook/plain?{query}"),
    ] {
        let (status, _, text) = g.get(&path).await;
        assert_eq!(status, 403, "{path}: {text}");
        assert!(!text.contains("1158201444"), "{text}");
    }
    let (status, _, text) = g
        .get("/webhook/whatsapp?hub.mode=subscribe&hub.verify_token=meatyhamhock")
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("hub.challenge"), "{text}");
    g.nothing_kept().await;
}

/// Slack's headers for `body` signed at `ts` with the fixture's secret.
fn slack_signed(ts: i64, body: &str) -> Vec<(&'static str, String)> {
    let secret = field(&fixture("slack/url_verification.json"), "secret");
    let sig =
        clawhooks_e2e::ingress_kit::github_signature(&secret, format!("v0:{ts}:{body}").as_bytes());
    vec![
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", sig.replace("sha256=", "v0=")),
    ]
}

/// Discord's headers for `body`, signed with the fixture's key pair
/// (seed 00 01 .. 1f) as Discord signs.
fn discord_signed(body: &str) -> Vec<(&'static str, String)> {
    let seed: Vec<u8> = (0..32).collect();
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let sig = pair.sign(format!("{NOW}{body}").as_bytes());
    let hex: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("x-signature-ed25519", hex),
        ("x-signature-timestamp", NOW.to_string()),
    ]
}

fn slack_event(event_id: &str, event: Value) -> String {
    json!({"type": "event_callback", "team_id": "T061EG9R6", "event_id": event_id,
        "event_time": NOW, "event": event})
    .to_string()
}

#[tokio::test]
async fn a_slack_retry_of_an_event_already_taken_runs_nothing() {
    let g = gateway().await;
    let body = slack_event(
        "Ev0PV52K25",
        json!({"type": "message", "channel": "C2147483705", "user": "U2147483697", "text": "Hello"}),
    );
    let (status, _, first) = g.post("slack", &slack_signed(NOW, &body), &body).await;
    assert_eq!(status, 202, "{first}");
    let first = json_of(&first);
    // Slack signs each retry anew, seconds later, and says which one it is.
    let mut retry = slack_signed(NOW + 4, &body);
    retry.push(("x-slack-retry-num", "1".into()));
    retry.push(("x-slack-retry-reason", "http_timeout".into()));
    let (status, _, again) = g.post("slack", &retry, &body).await;
    assert_eq!(status, 200, "{again}");
    let again = json_of(&again);
    assert_eq!(again["eventId"], first["eventId"], "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    let queued = g.backend.handler_queue.approximate_len().await.unwrap();
    assert_eq!(queued, 1, "the retry was queued again");
    // Another event is another delivery.
    let other = slack_event("Ev0PV52K26", json!({"type": "message", "text": "Hi"}));
    let (status, _, text) = g.post("slack", &slack_signed(NOW, &other), &other).await;
    assert_eq!(status, 202, "{text}");
    assert_ne!(json_of(&text)["eventId"], first["eventId"]);
}

#[tokio::test]
async fn a_bots_message_reaches_no_agent_unless_the_handler_allows_bots() {
    let g = gateway().await;
    let by_bot = [
        json!({"type": "message", "channel": "C1", "bot_id": "B0123", "text": "the answer"}),
        json!({"type": "message", "channel": "C1", "subtype": "bot_message", "text": "an alert"}),
    ];
    for (i, event) in by_bot.iter().enumerate() {
        let body = slack_event(&format!("EvBOT{i}"), event.clone());
        let (status, _, text) = g.post("slack", &slack_signed(NOW, &body), &body).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            json_of(&text)["ignored"],
            "a message posted by a bot (allowBots is off)"
        );
        g.nothing_kept().await;
        // A bot's message on an unsigned request is still refused.
        let (status, _, text) = g.post("slack", &[], &body).await;
        assert_eq!(status, 401, "{text}");
    }
    let message = r#"{"id":"1180","channel_id":"41771983423143937","content":"the answer","author":{"id":"80351110224678912","username":"clawdbot","bot":true}}"#;
    let (status, _, text) = g.post("discord", &discord_signed(message), message).await;
    assert_eq!(status, 200, "{text}");
    assert!(json_of(&text)["ignored"].is_string(), "{text}");
    g.nothing_kept().await;

    // A person's message is kept; with allowBots, a bot's is too.
    let person = message.replace(r#","bot":true"#, "");
    let (status, _, text) = g.post("discord", &discord_signed(&person), &person).await;
    assert_eq!(status, 202, "{text}");
    let body = slack_event("EvBOT9", by_bot[0].clone());
    let (status, _, text) = g.post("slack-bots", &slack_signed(NOW, &body), &body).await;
    assert_eq!(status, 202, "{text}");
    let queued = g.backend.handler_queue.approximate_len().await.unwrap();
    assert_eq!(queued, 2);
}
