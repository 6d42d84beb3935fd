//! Secrets never shown: a config full of secrets (shared, per-handler,
//! signing, forward and outgoing header tokens, channel tokens, agent keys,
//! a token URL) goes through bad and good authentication, signatures, the
//! query-string refusal, admin routes, load and validation errors; every log
//! line (all levels), answer, queued event, stored record, warning and the
//! config's `Debug` is captured, and none may contain a secret's value.
//!
//! Alone in its test binary: the subscriber is process-wide, so no other
//! test can race it for tracing's per-callsite interest cache.

use clawhooks::api::{Answer, Call};
use clawhooks::config::load_str;
use clawhooks::ingress::Ingress;
use clawhooks::ports::Table;
use clawhooks_e2e::ingress_kit::Serve;
use clawhooks_e2e::ingress_kit::{github_signature, ingress_for, post};
use clawhooks_e2e::logs::Captured;
use http::{Method, StatusCode};
use std::time::Duration;

/// Every secret of the config below, by its environment variable.
const SECRETS: &[(&str, &str)] = &[
    ("IN_SECRET", "in-secret-5c1d0e8a9b"),
    ("ADMIN_SECRET", "admin-secret-e6f41a9c2d"),
    ("HANDLER_SECRET", "handler-secret-77aa41"),
    ("GH_OLD", "gh-old-signing-3f9e2c"),
    ("GH_NEW", "gh-new-signing-a4b81d"),
    ("SW_SECRET", "whsec_c2VjcmV0LWtleS1mb3Itc3c="),
    ("FWD_TOKEN", "fwd-bearer-token-0b9f3e"),
    ("FWD_SIGNING", "whsec_Zm9yd2FyZC1zaWduaW5n"),
    ("OUT_SIGNING", "whsec_b3V0Z29pbmctc2lnbmluZw=="),
    ("OUT_KEY", "out-api-key-61e2d7"),
    ("SLACK_HOOK_PATH", "T000/B000/slackpathtoken9d2"),
    ("TG_TOKEN", "123456:tg-bot-token-c0ffee"),
    (
        "SLACK_URL",
        "https://hooks.slack.com/services/T1/B1/slackurltoken44",
    ),
    ("AGENT_KEY", "sk-agent-key-8e7d6c5b4a"),
];

const SECRET_CONFIG: &str = r#"{"webhooks":{
  "incoming": {"secret": "${IN_SECRET}"},
  "admin": {"secret": "${ADMIN_SECRET}"},
  "handlers": [
    {"id": "own", "secret": "${HANDLER_SECRET}"},
    {"id": "gh", "verify": {"scheme": "github", "secret": "${GH_OLD}", "secrets": ["${GH_NEW}"]}},
    {"id": "sw", "verify": {"scheme": "standard_webhooks", "secret": "${SW_SECRET}"}},
    {"id": "fwd", "action": "forward", "forward": {"url": "https://example.com/in",
      "headers": {"Authorization": "Bearer ${FWD_TOKEN}"}, "secret": "${FWD_SIGNING}"}},
    {"id": "agent", "action": "run_agent", "agentId": "a"},
    {"id": "chat", "action": "send_message", "target": {"channel": "tg"}, "sessionKey": "ignored"}
  ],
  "outgoing": [
    {"id": "slack", "url": "https://hooks.slack.com/services/${SLACK_HOOK_PATH}",
     "secret": "${OUT_SIGNING}", "headers": {"X-Api-Key": "${OUT_KEY}"}},
    {"id": "inert"}
  ],
  "channels": {
    "tg": {"type": "telegram", "botToken": "${TG_TOKEN}"},
    "sl": {"type": "slack", "webhookUrl": "${SLACK_URL}"}
  },
  "agents": {"a": {"type": "openai", "url": "https://api.example.com/v1", "model": "m", "apiKey": "${AGENT_KEY}"}}
}}"#;

fn secret_env(name: &str) -> Option<String> {
    SECRETS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn assert_no_secret(what: &str, text: &str) {
    for (name, value) in SECRETS {
        assert!(
            !text.contains(value),
            "{what} contains the value of {name}:\n{text}"
        );
    }
}

/// Everything a request leaves behind that an operator or a caller can see.
async fn traces_of(ing: &Ingress, req: Call, seen: &mut Vec<String>) -> Answer {
    let r = ing.handle(req).await;
    seen.push(format!("{} {}", r.status, r.body));
    for (k, v) in &r.headers {
        seen.push(format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())));
    }
    r
}

#[tokio::test]
async fn configured_secrets_never_reach_logs_answers_or_records() {
    let buffer = Captured::default();
    let subscriber = buffer.subscriber();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let cfg = load_str(SECRET_CONFIG, &secret_env).unwrap();
    let mut seen = vec![
        format!("{cfg:?}"),
        format!("{:#?}", cfg),
        cfg.warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    ];
    assert!(!cfg.warnings.is_empty(), "the inert subscription warns");
    let (ing, _) = ingress_for(cfg, 1_700_000_000);

    let in_secret = secret_env("IN_SECRET").unwrap();
    let gh_new = secret_env("GH_NEW").unwrap();
    let admin_bearer = format!("Bearer {}", secret_env("ADMIN_SECRET").unwrap());
    let body = br#"{"event":"deploy","data":{"ok":true}}"#;
    let cases: Vec<(Call, StatusCode)> = vec![
        // Bad and good shared secrets, by header and by bearer.
        (post("/webhook/x", &[], body), StatusCode::UNAUTHORIZED),
        (
            post(
                "/webhook/x",
                &[("x-webhook-secret", "in-secret-WRONG")],
                body,
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post("/webhook/x", &[("x-webhook-secret", &in_secret)], body),
            StatusCode::ACCEPTED,
        ),
        (
            post(
                "/webhook/x",
                &[("authorization", &format!("Bearer {in_secret}"))],
                body,
            ),
            StatusCode::ACCEPTED,
        ),
        // The secret where it must never be: the query string.
        (
            post(&format!("/webhook/x?key={in_secret}"), &[], body),
            StatusCode::BAD_REQUEST,
        ),
        // A handler's own secret: the global one is wrong there.
        (
            post("/webhook/own", &[("x-webhook-secret", &in_secret)], body),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(
                "/webhook/own",
                &[("x-webhook-secret", "handler-secret-77aa41")],
                body,
            ),
            StatusCode::ACCEPTED,
        ),
        // Signatures: wrong, malformed, right (the rotated-in secret).
        (
            post(
                "/webhook/gh",
                &[("x-hub-signature-256", &github_signature("nope", body))],
                body,
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(
                "/webhook/gh",
                &[("x-hub-signature-256", "sha256=xyz")],
                body,
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(
                "/webhook/gh",
                &[("x-hub-signature-256", &github_signature(&gh_new, body))],
                body,
            ),
            StatusCode::ACCEPTED,
        ),
        (post("/webhook/sw", &[], body), StatusCode::UNAUTHORIZED),
        // Admin routes with a bad secret, the hook secret and the admin secret.
        (
            Call {
                method: Method::GET,
                ..post("/events", &[("authorization", "Bearer nope")], b"")
            },
            StatusCode::UNAUTHORIZED,
        ),
        (
            Call {
                method: Method::GET,
                ..post("/events", &[("x-webhook-secret", &in_secret)], b"")
            },
            StatusCode::UNAUTHORIZED,
        ),
        (
            Call {
                method: Method::GET,
                ..post("/events", &[("authorization", &admin_bearer)], b"")
            },
            StatusCode::OK,
        ),
    ];
    for (req, expected) in cases {
        let what = format!("{} {}", req.method, req.path);
        let r = traces_of(&ing, req, &mut seen).await;
        assert_eq!(r.status, expected, "{what}: {:?}", r.body);
    }

    // What was queued for the handler stage and stored for `GET /events`.
    let queued = ing
        .backend
        .handler_queue
        .receive(100, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(queued.len(), 4, "the four accepted hooks");
    seen.extend(queued.iter().map(|m| format!("{m:?}")));
    let now = ing.clock.now().timestamp();
    for table in [Table::Events, Table::Dedup] {
        let items = ing.backend.store.scan(table, 1000, now).await.unwrap();
        seen.extend(items.iter().map(|i| format!("{i:?}")));
    }

    // Load errors of the same config gone wrong: still no secret.
    let broken = SECRET_CONFIG
        .replace(
            r#""scheme": "standard_webhooks""#,
            r#""scheme": "standard_webhook""#,
        )
        .replace(r#""type": "telegram""#, r#""type": "telegrm""#);
    let errors = load_str(&broken, &secret_env).unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    seen.push(errors.to_string());
    seen.push(format!("{errors:?}"));
    // …and errors of the validation stage, which sees the whole config.
    let invalid = SECRET_CONFIG
        .replace(
            r#""url": "https://example.com/in""#,
            r#""url": "ftp://example.com/in""#,
        )
        .replace(
            r#""id": "own","#,
            r#""id": "own", "rateLimit": {"perMinute": 0},"#,
        );
    let errors = load_str(&invalid, &secret_env).unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    seen.push(errors.to_string());
    seen.push(format!("{errors:?}"));
    let bad_base64 = SECRET_CONFIG.replace("${SW_SECRET}", "whsec_${HANDLER_SECRET}");
    let errors = load_str(&bad_base64, &secret_env).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "webhooks.handlers[2].verify.secret: a whsec_ secret must be base64 after the prefix"
    );

    let logs = buffer.text();
    assert!(logs.contains("refused: authentication"), "{logs}");
    assert!(logs.contains("refused: signature"), "{logs}");
    assert!(logs.contains("accepted"), "{logs}");
    assert_no_secret("the logs", &logs);
    for (i, s) in seen.iter().enumerate() {
        assert_no_secret(&format!("output #{i}"), s);
    }
}
