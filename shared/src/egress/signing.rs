//! How a receiver knows a delivery came from us.
//!
//! [Standard Webhooks](https://www.standardwebhooks.com/), spoken by
//! [`standard_webhooks`]: `webhook-id` (the event id, the same on every
//! attempt) and `webhook-timestamp` on every delivery, signed or not
//! ([`identity`]), and `webhook-signature` with a secret. The secret
//! becomes its key by the rule every Standard Webhooks user here shares
//! ([`standard_webhooks::key`]).
//!
//! Receivers that only compare a shared secret get it in `X-Webhook-Secret`
//! (`"signing": "header"`).

use crate::config::Signing;
use crate::protocol::standard_webhooks::{self, KeyError};
use crate::Secret;

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
                key: standard_webhooks::key(secret.expose())?,
            },
            Signing::Header => Signer::Header {
                secret: secret.clone(),
            },
        })
    }

    /// The header that authenticates one attempt (beside [`identity`]).
    pub fn header(&self, id: &str, timestamp: i64, body: &[u8]) -> (String, String) {
        match self {
            Signer::StandardWebhooks { key } => (
                standard_webhooks::SIGNATURE.into(),
                standard_webhooks::sign(key, id, timestamp, body),
            ),
            Signer::Header { secret } => (SECRET_HEADER.into(), secret.expose().into()),
        }
    }
}

/// `webhook-id` and `webhook-timestamp`, sent with every attempt.
pub fn identity(id: &str, timestamp: i64) -> [(String, String); 2] {
    standard_webhooks::identity(id, timestamp).map(|(k, v)| (k.to_string(), v))
}

#[cfg(test)]
mod tests {
    use super::*;

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
