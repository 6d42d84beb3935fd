//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
//! body under the webhook's secret, as written. No signed time or id, so a
//! replay is known by the body and the signature.

use super::error::{header_str, malformed, require_match};
use super::replay::{digest, text};
use super::{parse_prefixed, Algorithm, Delivery, Encoding, Scheme, SignatureScheme};
use super::{VerifyConfig, VerifyError};
use http::HeaderMap;

const HEADER: &str = "x-hub-signature-256";

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "GitHub"
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let s = Scheme::Github;
        let value = header_str(d.headers, s, HEADER)?;
        let sig = parse_prefixed(value, "sha256=", Encoding::Hex)
            .ok_or_else(|| malformed(s, HEADER, "expected sha256=<hex>"))?;
        require_match(s, Algorithm::Sha256, keys, &[d.body], &[sig])
    }

    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        digest(
            Scheme::Github.name(),
            &[text(headers, HEADER).as_bytes(), body],
        )
    }
}
