//! How a receiver knows a delivery came from us.
//!
//! [Standard Webhooks](https://www.standardwebhooks.com/): three headers,
//! `webhook-id` (the event id, the same on every attempt, so receivers can
//! deduplicate), `webhook-timestamp` (unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
//! The first two go on every delivery, signed or not ([`identity`]).
//! Secrets written `whsec_<base64>` are decoded to their key bytes, as every
//! Standard Webhooks library does; any other secret is used as raw bytes
//! ([`signing_key`]).
//!
//! Receivers that only compare a shared secret get it in `X-Webhook-Secret`
//! (`"signing": "header"`).

use crate::config::Signing;
use crate::protocol::standard_webhooks::{signing_key, KeyError};
use crate::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub const SECRET_HEADER: &str = "X-Webhook-Secret";

/// The signing material of one subscription, decoded once at start.
#[derive(Clone)]
pub enum Signer {
    StandardWebhooks { key: Vec<u8> },
    Header { secret: Secret },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::StandardWebhooks { .. } => f.write_str("Signer::StandardWebhooks([redacted])"),
            Signer::Header { .. } => f.write_str("Signer::Header([redacted])"),
        }
    }
}

impl Signer {
    pub fn new(secret: &Secret, mode: Signing) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(match mode {
            Signing::StandardWebhooks => Signer::StandardWebhooks {
                key: signing_key(secret.expose())?,
            },
            Signing::Header => Signer::Header {
                secret: secret.clone(),
            },
        })
    }

    /// The header that authenticates one attempt (beside [`identity`]).
    pub fn header(&self, id: &str, timestamp: i64, body: &[u8]) -> (String, String) {
        match self {
            Signer::StandardWebhooks { key } => {
                (WEBHOOK_SIGNATURE.into(), sign(key, id, timestamp, body))
            }
            Signer::Header { secret } => (SECRET_HEADER.into(), secret.expose().into()),
        }
    }
}

/// `webhook-id` and `webhook-timestamp`, sent with every attempt.
pub fn identity(id: &str, timestamp: i64) -> [(String, String); 2] {
    [
        (WEBHOOK_ID.into(), id.into()),
        (WEBHOOK_TIMESTAMP.into(), timestamp.to_string()),
    ]
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        // Published with the specification and its reference libraries: a
        // receiver's off-the-shelf verifier accepts what matches it.
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn signer_sets_the_three_headers_with_the_attempt_time() {
        let s = Signer::new(
            &Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Signing::StandardWebhooks,
        )
        .unwrap();
        let (id, ts) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330);
        let mut h = identity(id, ts).to_vec();
        h.push(s.header(id, ts, br#"{"test": 2432232314}"#));
        assert_eq!(
            h,
            [
                (
                    "webhook-id".to_string(),
                    "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string()
                ),
                ("webhook-timestamp".to_string(), "1614265330".to_string()),
                (
                    "webhook-signature".to_string(),
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_change_to_id_time_or_body_changes_the_signature() {
        let k = b"key";
        let base = sign(k, "a", 1, b"{}");
        assert_ne!(base, sign(k, "b", 1, b"{}"));
        assert_ne!(base, sign(k, "a", 2, b"{}"));
        assert_ne!(base, sign(k, "a", 1, b"{ }"));
        assert_ne!(base, sign(b"other", "a", 1, b"{}"));
    }

    #[test]
    fn header_mode_sends_the_secret_as_is() {
        let s = Signer::new(&Secret::new("s3cret"), Signing::Header).unwrap();
        let h = s.header("id-1", 5, b"{}");
        assert_eq!(h, ("X-Webhook-Secret".to_string(), "s3cret".to_string()));
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        let e =
            Signer::new(&Secret::new("whsec_not*base64!"), Signing::StandardWebhooks).unwrap_err();
        assert_eq!(e, KeyError::BadBase64);
        assert!(!e.to_string().contains("not*base64"));
        let debug = format!(
            "{:?}",
            Signer::new(&Secret::new("hunter2"), Signing::Header).unwrap()
        );
        assert!(!debug.contains("hunter2"));
    }
}
