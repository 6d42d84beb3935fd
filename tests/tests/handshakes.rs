//! Provider handshakes through the real HTTP server: each provider's
//! documented request (`tests/fixtures/<provider>/`) gets the answer the
//! provider requires, only once its signature or verify token checks out,
//! and creates no event and queues nothing.

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
            {"id": "zoom", "verify": {"scheme": "zoom", "secret": field(&zoom, "secret")}},
            {"id": "discord", "verify": {"scheme": "discord", "secret": field(&discord, "publicKey")}},
            {"id": "whatsapp", "verify": {"scheme": "github", "secret": "meta-app-secret",
                "verifyToken": field(&meta, "verifyToken")}},
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
