//! Receivers can check who sent a delivery: Standard Webhooks signatures,
//! verified here by a receiver's check written from the specification
//! (`clawhooks_e2e::signature`), and the plain secret header.

mod egress_support;

use clawhooks::config::EventType;
use clawhooks_e2e::signature::verify_standard_webhook as verify;
use clawhooks_e2e::{Recorder, Reply};
use egress_support::{config, lifecycle, Rig};
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn every_attempt_is_signed_with_its_own_timestamp_and_verifies() {
    let sink = Recorder::start().await;
    sink.script([Reply::status(500)]);
    let rig = Rig::new(&config(json!([{
        "id": "signed", "url": sink.url("/hook"), "secret": SECRET,
        "retry": { "maxAttempts": 2, "initialDelayMs": 90_000, "jitter": false }
    }])));
    let ev = lifecycle(EventType::AgentResponse, "the answer");
    rig.emit(&ev).await;
    rig.drain().await;
    rig.advance_ms(90_000);
    rig.drain().await;

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(
            verify(SECRET, r),
            "signature does not verify: {:?}",
            r.headers
        );
        assert_eq!(r.header("webhook-id"), Some(ev.id.as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("x-webhook-secret").is_none());
    }
    let start = egress_support::start().timestamp();
    assert_eq!(
        reqs[0].header("webhook-timestamp"),
        Some(start.to_string().as_str())
    );
    assert_eq!(
        reqs[1].header("webhook-timestamp"),
        Some((start + 90).to_string().as_str()),
        "a retry is signed at its own time"
    );

    // A tampered body, another secret or another id does not verify.
    let mut tampered = reqs[0].clone();
    tampered.body.push(b' ');
    assert!(!verify(SECRET, &tampered));
    assert!(!verify("whsec_c2VjcmV0LW51bWJlci10d28=", &reqs[0]));
    let mut other_id = reqs[0].clone();
    other_id
        .headers
        .insert("webhook-id".into(), "msg_other".into());
    assert!(!verify(SECRET, &other_id));
}

#[tokio::test]
async fn header_mode_sends_the_secret_and_custom_headers_go_along() {
    let sink = Recorder::start().await;
    let rig = Rig::new(&config(json!([{
        "id": "plain", "url": sink.url("/"), "method": "PUT",
        "secret": "shared-s3cret", "signing": "header",
        "headers": { "Authorization": "Bearer abc", "X-Team": "ops" }
    }])));
    rig.emit(&lifecycle(EventType::MessageReceived, "x")).await;
    rig.drain().await;
    let r = &sink.wait_for(1, clawhooks_e2e::wait::SETTLE).await[0];
    assert_eq!(r.method, "PUT");
    assert_eq!(r.header("x-webhook-secret"), Some("shared-s3cret"));
    assert!(r.header("webhook-signature").is_none());
    assert_eq!(r.header("authorization"), Some("Bearer abc"));
    assert_eq!(r.header("x-team"), Some("ops"));
}

#[tokio::test]
async fn unsigned_subscriptions_still_carry_the_event_id() {
    let sink = Recorder::start().await;
    let rig = Rig::new(&config(json!([{ "id": "open", "url": sink.url("/") }])));
    let ev = lifecycle(EventType::SessionEnded, "bye");
    rig.emit(&ev).await;
    rig.drain().await;
    let r = &sink.requests()[0];
    assert_eq!(r.header("webhook-id"), Some(ev.id.as_str()));
    assert!(r.header("webhook-signature").is_none());
    assert!(r.header("x-webhook-secret").is_none());
}

#[test]
fn a_secret_that_is_not_base64_is_a_config_error_naming_the_field() {
    let errs = clawhooks::config::load_str(
        &config(json!([{ "id": "s", "url": "https://example.com/", "secret": "whsec_%%%" }])),
        &|_| None,
    )
    .unwrap_err();
    let text = errs.to_string();
    assert!(text.contains("webhooks.outgoing[0].secret"), "{text}");
    assert!(!text.contains("%%%"), "the secret is not echoed: {text}");
}
