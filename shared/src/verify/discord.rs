//! Discord interactions: `X-Signature-Ed25519: <hex>`, the Ed25519
//! signature of `<X-Signature-Timestamp><body>` under the application's
//! key pair. The configured `secret` is the application's public key as
//! the developer portal shows it (64 hex digits): it verifies, it cannot
//! sign, so it is not a secret in the HMAC sense, but it is kept as one
//! so rotation and redaction work as for every scheme. A replay is known
//! by the signed timestamp and the body.

use super::error::{check_window, header_str, malformed, parse_timestamp};
use super::header::decode;
use super::replay::{digest, text};
use super::{BadKey, Delivery, Encoding, Scheme, SignatureScheme};
use super::{VerifyConfig, VerifyError};
use http::HeaderMap;
use ring::signature::{UnparsedPublicKey, ED25519};

const HEADER: &str = "x-signature-ed25519";
const TIMESTAMP: &str = "x-signature-timestamp";
const KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Discord"
    }

    fn timestamped(&self) -> bool {
        true
    }

    /// The hex public key's 32 bytes; anything else is refused at load.
    fn key(&self, secret: &str) -> Result<Vec<u8>, BadKey> {
        match decode(secret.trim(), Encoding::Hex) {
            Some(key) if key.len() == KEY_LEN => Ok(key),
            _ => Err(BadKey(
                "is not an Ed25519 public key: expected the application's public key, 64 hex digits"
                    .into(),
            )),
        }
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let s = Scheme::Discord;
        let value = header_str(d.headers, s, HEADER)?;
        let ts_text = header_str(d.headers, s, TIMESTAMP)?;
        let ts = parse_timestamp(s, TIMESTAMP, ts_text)?;
        check_window(s, ts, d.now, d.tolerance)?;
        let sig = decode(value, Encoding::Hex)
            .filter(|sig| sig.len() == SIGNATURE_LEN)
            .ok_or_else(|| malformed(s, HEADER, "expected 128 hex digits"))?;
        let mut signed = Vec::with_capacity(ts_text.len() + d.body.len());
        signed.extend_from_slice(ts_text.as_bytes());
        signed.extend_from_slice(d.body);
        let valid = keys.iter().any(|key| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&signed, &sig)
                .is_ok()
        });
        if valid {
            Ok(())
        } else {
            Err(VerifyError::Mismatch { scheme: s })
        }
    }

    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        digest(
            Scheme::Discord.name(),
            &[text(headers, TIMESTAMP).as_bytes(), body],
        )
    }
}
