//! Provider signatures through the ingress path on the embedded backend:
//! checked on the raw body before anything else reads it, replacing the
//! shared secret only for the handler that has one. A failure answers 401
//! with the same text as any other failed authentication (the log names
//! the scheme and the cause), so hook ids cannot be probed.

use clawhooks::api::Answer;
use clawhooks::config::load_str;
use clawhooks_e2e::ingress_kit::{github_signature, ingress_for, post, Serve};
use http::StatusCode;

fn error_text(r: &Answer) -> String {
    r.body["error"].as_str().unwrap_or_default().to_string()
}

/// The one 401 text, whatever failed.
const FAILED: &str = "authentication failed: send the secret in the X-Webhook-Secret header (or as Authorization: Bearer <secret>), or the provider's signature";

const SIGNED_CONFIG: &str = r#"{"webhooks":{
  "incoming": {"secret": "global-shared-secret"},
  "admin": {"secret": "operators-only-admin-secret"},
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

    // One changed byte of body: 401, nothing queued.
    let r = ing
        .handle(post(
            "/webhook/gh",
            &[("x-hub-signature-256", sig), ("content-type", "text/plain")],
            b"Hello, World?",
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_text(&r), FAILED);

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
    assert_eq!(error_text(&r), FAILED);
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
    assert_eq!(error_text(&r), FAILED);
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

/// A prober with no secret posts to ids that verify a signature, that take
/// the shared secret, and that no handler names: every answer is the same
/// 401, so it learns nothing of which hooks exist or how they authenticate.
#[tokio::test]
async fn a_prober_cannot_tell_hook_ids_apart_by_their_refusals() {
    let cfg = load_str(SIGNED_CONFIG, &|_| None).unwrap();
    let (ing, _) = ingress_for(cfg, 1_700_000_000);
    let mut answers = Vec::new();
    for id in ["github", "svix", "both", "plain", "no-such-hook"] {
        for headers in [
            vec![],
            vec![("x-webhook-secret", "guess")],
            vec![("x-hub-signature-256", "sha256=00")],
        ] {
            let r = ing
                .handle(post(&format!("/webhook/{id}"), &headers, b"{}"))
                .await;
            answers.push((r.status, r.body.clone()));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.0, StatusCode::UNAUTHORIZED);
    assert_eq!(first.1["error"], FAILED);
    assert!(answers.iter().all(|a| *a == first), "{answers:#?}");
}

/// Failed authentications on admin routes and hooks count against one
/// limit per source: past 20, a failure answers 429. A request that
/// authenticates is never refused by it, so whoever shares the sender's
/// address cannot lock the sender (or the operator) out. The hook secret
/// never opens an admin route, as a header or as a bearer token.
#[tokio::test]
async fn failures_share_one_limit_that_never_refuses_the_right_secret() {
    let cfg = load_str(SIGNED_CONFIG, &|_| None).unwrap();
    let (ing, _) = ingress_for(cfg, 1_700_000_000);
    let admin = |headers: &[(&str, &str)]| {
        let mut req = post("/events/evt-1", headers, b"");
        req.method = http::Method::GET;
        req
    };
    const ADMIN_FAILED: &str = "admin authentication failed: send webhooks.admin.secret as Authorization: Bearer <secret> (hook secrets do not open admin routes)";
    for (n, headers) in [
        [("x-webhook-secret", "global-shared-secret")],
        [("authorization", "Bearer global-shared-secret")],
    ]
    .iter()
    .cycle()
    .take(20)
    .enumerate()
    {
        let r = ing.handle(admin(headers)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "try {n}");
        assert_eq!(error_text(&r), ADMIN_FAILED);
    }
    let r = ing.handle(admin(&[("x-webhook-secret", "guess")])).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let wrong_hook = ing
        .handle(post(
            "/webhook/plain",
            &[("x-webhook-secret", "guess")],
            b"{}",
        ))
        .await;
    assert_eq!(
        wrong_hook.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the hooks share the count"
    );
    let hook = ing
        .handle(post(
            "/webhook/plain",
            &[("x-webhook-secret", "global-shared-secret")],
            b"{}",
        ))
        .await;
    assert_eq!(hook.status, StatusCode::ACCEPTED, "{:?}", hook.body);
    let operator = ing
        .handle(admin(&[(
            "authorization",
            "Bearer operators-only-admin-secret",
        )]))
        .await;
    assert_eq!(
        operator.status,
        StatusCode::NOT_FOUND,
        "{:?}",
        operator.body
    );
}
