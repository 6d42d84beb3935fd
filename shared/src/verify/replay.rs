//! The identity of a signed delivery, for deduplication: taken only from
//! what the signature covers, so a replayer cannot make an old delivery
//! look new (or a new one look old) by adding or changing a header.
//!
//! | scheme | the key | a replay is refused for |
//! |---|---|---|
//! | `standard_webhooks` | `webhook-id` (signed) | `dedupWindow` |
//! | `stripe` | the event `id` in the (signed) body; else the signed `t` and the body | `dedupWindow` |
//! | `slack` | the Events API `event_id` in the (signed) body, so Slack's retries are one delivery; else the signed timestamp and the body | `dedupWindow` |
//! | `discord`, `zoom` | the signed timestamp and the body | `dedupWindow` (the timestamp itself for `toleranceSeconds`) |
//! | `graph` | the body (its `clientState` signs nothing) | `dedupWindow` |
//! | `telegram` | the update's `update_id`; else the body | `dedupWindow` |
//! | `github`, `hmac` | the body and the signature (no signed time or id) | `dedupWindow` |

use super::VerifyConfig;
use http::HeaderMap;
use sha2::{Digest, Sha256};

impl VerifyConfig {
    /// The deduplication key of a delivery that passed [`Self::verify`];
    /// an unsigned `Idempotency-Key` or `X-GitHub-Delivery` never counts.
    /// Each scheme makes its own (`SignatureScheme::replay_key`).
    pub fn replay_key(&self, headers: &HeaderMap, body: &[u8]) -> String {
        self.scheme.kind().replay_key(self, headers, body)
    }
}

/// The trimmed value of header `name`, empty when absent or not ASCII.
pub(super) fn text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
}

/// `<label>:` and the hex SHA-256 of the length-prefixed parts.
pub(super) fn digest(label: &str, parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{label}:{hex}")
}

/// The top-level string `id` of a JSON body (Stripe's event id), bounded.
pub(super) fn event_id(body: &[u8]) -> Option<String> {
    string_field(body, "id")
}

/// The top-level string `key` of a JSON body, when 1 to 256 bytes.
pub(super) fn string_field(body: &[u8], key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = v.get(key)?.as_str()?;
    (!id.is_empty() && id.len() <= 256).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(scheme: &str) -> VerifyConfig {
        serde_json::from_value(
            serde_json::json!({"scheme": scheme, "secret": "s", "header": "x-sig"}),
        )
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn unsigned_headers_never_change_the_key() {
        for scheme in ["github", "hmac", "slack", "stripe", "standard_webhooks"] {
            let c = cfg(scheme);
            let base = [
                ("x-hub-signature-256", "sha256=ab"),
                ("x-sig", "ab"),
                ("x-slack-request-timestamp", "1700000000"),
                ("stripe-signature", "t=1700000000,v1=ab"),
                ("webhook-id", "msg_1"),
            ];
            let mut more = base.to_vec();
            more.extend([
                ("idempotency-key", "fresh"),
                ("x-github-delivery", "new-id"),
            ]);
            assert_eq!(
                c.replay_key(&headers(&base), b"{}"),
                c.replay_key(&headers(&more), b"{}"),
                "{scheme}"
            );
        }
    }

    #[test]
    fn what_the_signature_covers_makes_the_key() {
        let gh = cfg("github");
        let h = |sig: &str| headers(&[("x-hub-signature-256", sig)]);
        assert_ne!(
            gh.replay_key(&h("sha256=ab"), b"1"),
            gh.replay_key(&h("sha256=ab"), b"2")
        );
        assert_ne!(
            gh.replay_key(&h("sha256=ab"), b"1"),
            gh.replay_key(&h("sha256=cd"), b"1")
        );
        let stripe = cfg("stripe");
        let s = |t: &str| headers(&[("stripe-signature", t)]);
        assert_eq!(
            stripe.replay_key(&s("t=1,v1=a"), br#"{"id":"evt_1"}"#),
            stripe.replay_key(&s("t=2,v1=b"), br#"{"id":"evt_1"}"#),
            "one Stripe event, whenever signed"
        );
        assert_ne!(
            stripe.replay_key(&s("t=1,v1=a"), b"x"),
            stripe.replay_key(&s("t=2,v1=a"), b"x")
        );
        // Kept keys outlive a release: their prefixes stay as stored.
        for (scheme, prefix) in [
            ("github", "github:"),
            ("slack", "slack:"),
            ("hmac", "hmac:"),
        ] {
            assert!(cfg(scheme).replay_key(&h("x"), b"1").starts_with(prefix));
        }
        assert!(stripe.replay_key(&s("t=1"), b"x").starts_with("stripe:"));
        let sw = cfg("standard_webhooks");
        assert_eq!(
            sw.replay_key(&headers(&[("webhook-id", "msg_1")]), b"a"),
            "webhook-id:msg_1"
        );
    }
}
