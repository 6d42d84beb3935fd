//! Outgoing transforms: a subscription's script rewrites the body and
//! headers of each delivery (signed as sent), or answers `null` to cancel
//! it, logged `cancelled` and not failed; its credentials and signature
//! are added after the script and win over it.

mod egress_support;

use clawhooks::config::EventType;
use clawhooks::egress::log::Outcome;
use clawhooks_e2e::Recorder;
use egress_support::{config, lifecycle, Rig};
use serde_json::json;

const REWRITE: &str = r#"
function transform(input) {
  return {
    payload: { text: input.payload.message.text, kind: input.type },
    headers: { "content-type": "application/json", "x-kind": input.type, "x-key": "forged" },
  };
}"#;

#[tokio::test]
async fn a_transform_rewrites_a_delivery_or_cancels_it() {
    let (rewritten, cancelled, broken) = (
        Recorder::start().await,
        Recorder::start().await,
        Recorder::start().await,
    );
    let rig = Rig::new(&config(json!([
        { "id": "rewrite", "url": rewritten.url("/"), "headers": {"X-Key": "k1"},
          "transform": {"code": REWRITE, "timeoutMs": 2000} },
        { "id": "cancel", "url": cancelled.url("/"),
          "transform": {"code": "function transform(i) {\n  return i.payload.message.text === 'noise' ? null : {};\n}", "timeoutMs": 2000} },
        { "id": "broken", "url": broken.url("/"),
          "transform": {"code": "function transform(i) {\n  return i.payload.nothing.here;\n}", "timeoutMs": 2000} },
    ])));
    let noise = lifecycle(EventType::MessageReceived, "noise");
    let kept = lifecycle(EventType::MessageReceived, "kept");
    rig.emit(&noise).await;
    rig.emit(&kept).await;
    rig.drain().await;

    let got = rewritten.requests();
    let mut bodies: Vec<_> = got.iter().map(|r| r.json()).collect();
    bodies.sort_by_key(|b| b.to_string());
    assert_eq!(
        bodies,
        [
            json!({"text": "kept", "kind": "message_received"}),
            json!({"text": "noise", "kind": "message_received"})
        ]
    );
    for r in &got {
        assert_eq!(r.header("x-kind"), Some("message_received"));
        assert_eq!(
            r.header("x-key"),
            Some("k1"),
            "the subscription's own header wins"
        );
    }

    let texts: Vec<_> = cancelled
        .requests()
        .iter()
        .map(|r| r.json()["message"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("kept")], "the noise delivery was cancelled");
    let attempts = rig.attempts(&noise.id).await;
    let of = |sub: &str| {
        attempts
            .iter()
            .find(|a| a.subscription == sub)
            .unwrap_or_else(|| panic!("no attempt for {sub}: {attempts:?}"))
    };
    assert_eq!(of("cancel").outcome, Outcome::Cancelled, "{attempts:?}");
    assert_eq!(of("rewrite").outcome, Outcome::Delivered, "{attempts:?}");
    let failed = of("broken");
    assert_eq!(failed.outcome, Outcome::Failed, "{attempts:?}");
    assert_eq!(
        failed.error.as_deref().unwrap_or_default(),
        "transform: cannot read property 'here' of undefined (line 1)",
        "{failed:?}"
    );
    assert_eq!(broken.count(), 0, "a failing script sends nothing");
    assert_eq!(rig.queued_deliveries().await, 0, "and queues no retry");
}
