//! Zoom webhooks: `x-zm-signature: v0=<hex>`, the HMAC-SHA256 of
//! `v0:<x-zm-request-timestamp>:<body>` under the app's secret token
//! (Slack's layout under other headers). The same secret answers Zoom's
//! `endpoint.url_validation` (`crate::ingress::handshake`). A replay is
//! known by the signed timestamp and the body.

use super::replay::{digest, text};
use super::slack::verify_v0;
use super::{Delivery, Scheme, SignatureScheme, VerifyConfig, VerifyError};
use http::HeaderMap;

const HEADER: &str = "x-zm-signature";
const TIMESTAMP: &str = "x-zm-request-timestamp";

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Zoom"
    }

    fn timestamped(&self) -> bool {
        true
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        verify_v0(Scheme::Zoom, HEADER, TIMESTAMP, d, keys)
    }

    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        digest(
            Scheme::Zoom.name(),
            &[text(headers, TIMESTAMP).as_bytes(), body],
        )
    }
}
