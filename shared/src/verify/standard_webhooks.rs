//! Standard Webhooks (Svix and others): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64> …`, the HMAC-SHA256 of
//! `<id>.<timestamp>.<body>`, checked by [`standard_webhooks::verify`], the
//! code our own signing shares. A `whsec_<base64>` secret is its decoded
//! bytes, any other its own bytes, as when we sign. A replay is known by
//! the signed `webhook-id`.

use super::error::stale;
use super::replay::text;
use super::{BadKey, Delivery, Scheme, SignatureScheme, VerifyConfig, VerifyError};
use crate::protocol::standard_webhooks::{self, Invalid};
use http::HeaderMap;

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Standard Webhooks"
    }

    fn timestamped(&self) -> bool {
        true
    }

    fn key(&self, secret: &str) -> Result<Vec<u8>, BadKey> {
        standard_webhooks::key(secret).map_err(|e| BadKey(e.to_string()))
    }

    /// A base64 key that lost its `whsec_` prefix: it is its own bytes
    /// (the rule we sign by too), not the key a sender that gave it out as
    /// `whsec_…` signs with.
    fn doubtful_secret(&self, secret: &str) -> bool {
        use base64::Engine;
        !secret.starts_with(standard_webhooks::SECRET_PREFIX)
            && base64::engine::general_purpose::STANDARD
                .decode(secret)
                .is_ok_and(|k| k.len() >= 16)
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let scheme = Scheme::StandardWebhooks;
        standard_webhooks::verify(d.headers, d.body, d.now, d.tolerance, keys).map_err(
            |e| match e {
                Invalid::Missing(header) => VerifyError::Missing { scheme, header },
                Invalid::Malformed { header, reason } => VerifyError::Malformed {
                    scheme,
                    header,
                    reason,
                },
                Invalid::Stale(e) => stale(scheme, e),
                Invalid::Mismatch => VerifyError::Mismatch { scheme },
            },
        )
    }

    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, _: &[u8]) -> String {
        format!("webhook-id:{}", text(headers, "webhook-id"))
    }
}
