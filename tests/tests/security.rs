//! Provider signatures through the ingress path on the embedded backend:
//! checked on the raw body before anything else reads it, 401 naming the
//! scheme, replacing the shared secret only for the handler that has one.

use clawhooks::config::load_str;
use clawhooks::ingress::IngressResponse;
use clawhooks_e2e::ingress_kit::{github_signature, ingress_for, post};
use http::StatusCode;

fn error_text(r: &IngressResponse) -> String {
    r.body["error"].as_str().unwrap_or_default().to_string()
}

const SIGNED_CONFIG: &str = r#"{"webhooks":{
  "incoming": {"secret": "global-shared-secret"},
  "handlers": [
    {"id": "github", "path": "/gh", "verify": {"scheme": "github", "secret": "It's a Secret to Everybody"}},
    {"id": "svix", "verify": {"scheme": "standard_webhooks", "secrets": ["whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}},
    {"id": "both", "secret": "handler-own-secret", "verify": {"scheme": "github", "secret": "It's a Secret to Everybody"}},
    {"id": "plain"}
  ]
}}"#;

#[tokio::test]
async fn github_signature_replaces_the_shared_secret() {
    let cfg = load_str(SIGNED_CONFIG, &|_| None).unwrap();
    let (ing, _) = ingress_for(cfg, 1_700_000_000);
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // GitHub's documented example, through the `path` route, with no shared secret.
    let r = ing
        .handle(post(
            "/webhook/gh",
            &[("x-hub-signature-256", sig), ("content-type", "text/plain")],
            b"Hello, World!",
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(
        ing.backend.handler_queue.approximate_len().await.unwrap(),
        1
    );

    // One changed byte of body: 401 naming the scheme, nothing queued.
    let r = ing
        .handle(post(
            "/webhook/gh",
            &[("x-hub-signature-256", sig), ("content-type", "text/plain")],
            b"Hello, World?",
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_text(&r),
        "GitHub signature check failed: the signature does not match"
    );

    // The shared secret is no substitute for the signature.
    let r = ing
        .handle(post(
            "/webhook/github",
            &[
                ("x-webhook-secret", "global-shared-secret"),
                ("content-type", "text/plain"),
            ],
            b"Hello, World!",
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_text(&r),
        "GitHub signature check failed: the x-hub-signature-256 header is missing"
    );
    assert_eq!(
        ing.backend.handler_queue.approximate_len().await.unwrap(),
        1
    );

    // Handlers without `verify` still need the shared secret.
    let r = ing.handle(post("/webhook/plain", &[], b"{}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = ing
        .handle(post(
            "/webhook/plain",
            &[("x-webhook-secret", "global-shared-secret")],
            b"{}",
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_handler_secret_and_a_signature_are_both_required() {
    let cfg = load_str(SIGNED_CONFIG, &|_| None).unwrap();
    let (ing, _) = ingress_for(cfg, 1_700_000_000);
    let body = br#"{"action":"opened"}"#;
    let sig = github_signature("It's a Secret to Everybody", body);
    let only_sig = ing
        .handle(post(
            "/webhook/both",
            &[("x-hub-signature-256", &sig)],
            body,
        ))
        .await;
    assert_eq!(only_sig.status, StatusCode::UNAUTHORIZED);
    let both = ing
        .handle(post(
            "/webhook/both",
            &[
                ("x-hub-signature-256", &sig),
                ("x-webhook-secret", "handler-own-secret"),
            ],
            body,
        ))
        .await;
    assert_eq!(both.status, StatusCode::ACCEPTED, "{:?}", both.body);
}

#[tokio::test]
async fn standard_webhooks_with_rotation_and_replay_window() {
    let cfg = load_str(SIGNED_CONFIG, &|_| None).unwrap();
    let ts = 1614265330;
    let (ing, clock) = ingress_for(cfg, ts + 200);
    let req = |id: &str| {
        post(
            "/webhook/svix",
            &[
                ("webhook-id", id),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ],
            br#"{"test": 2432232314}"#,
        )
    };
    // The spec's vector, signed with the second of two configured secrets.
    let r = ing.handle(req("msg_p5jXN8AQM9LWM0D4loKWxJek")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);

    clock.advance(chrono::Duration::seconds(101)); // 301 s after signing
    let r = ing.handle(req("msg_p5jXN8AQM9LWM0D4loKWxJek")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_text(&r),
        "Standard Webhooks signature check failed: the timestamp is 301s old, outside the 300s tolerance"
    );
}

#[tokio::test]
async fn source_allowlist_is_checked_before_the_signature() {
    let text = SIGNED_CONFIG.replace(
        r#""incoming": {"#,
        r#""incoming": {"allowedIPs": ["10.0.0.0/8"], "#,
    );
    let cfg = load_str(&text, &|_| None).unwrap();
    let (ing, _) = ingress_for(cfg, 0);
    let r = ing.handle(post("/webhook/gh", &[], b"x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[test]
fn bad_verify_config_is_a_load_error_naming_the_key() {
    let e = load_str(
        r#"{"webhooks":{"handlers":[{"id":"a","verify":{"scheme":"stripe"}},{"id":"b","verify":{"scheme":"hmac","secret":"s","header":"bad header"}},{"id":"c","rateLimit":{"perMinute":0}}]}}"#,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "webhooks.handlers[0].verify.secret: scheme \"stripe\" needs a secret (or secrets)\n\
         webhooks.handlers[1].verify.header: \"bad header\" is not a valid header name\n\
         webhooks.handlers[2].rateLimit.perMinute: must be at least 1; disable the handler to refuse every hook"
    );
}
