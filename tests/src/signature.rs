//! A receiver's Standard Webhooks check, written from the specification
//! (hmac + sha2 + base64 directly, nothing from clawhooks), so a test that
//! passes shows what any receiver would accept.

use crate::Recorded;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{KeyInit, Mac};

/// Decodes the `whsec_` key, HMAC-SHA256s `id.timestamp.body` and compares
/// with any `v1,` signature of the request.
pub fn verify_standard_webhook(secret: &str, req: &Recorded) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = req.header("webhook-id").unwrap();
    let ts = req.header("webhook-timestamp").unwrap();
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&req.body);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(&signed);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    req.header("webhook-signature")
        .unwrap()
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}
