//! Slack: `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of
//! `v0:<X-Slack-Request-Timestamp>:<body>` under the app's signing secret,
//! as written. A delivery is known by the Events API's `event_id` in the
//! (signed) body, so Slack's retries of one event (`X-Slack-Retry-Num`,
//! signed anew) are one delivery; without one, by the signed timestamp
//! and the body.

use super::error::{check_window, header_str, malformed, parse_timestamp, require_match};
use super::replay::{digest, string_field, text};
use super::{parse_prefixed, Algorithm, Delivery, Encoding, Scheme, SignatureScheme};
use super::{VerifyConfig, VerifyError};
use http::HeaderMap;

const HEADER: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";

pub struct Verifier;

/// `<header>: v0=<hex>`, the HMAC-SHA256 of `v0:<timestamp>:<body>` with
/// the timestamp from `ts_header`: Slack's layout, which Zoom shares.
pub(super) fn verify_v0(
    s: Scheme,
    header: &str,
    ts_header: &str,
    d: &Delivery<'_>,
    keys: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let value = header_str(d.headers, s, header)?;
    let ts_text = header_str(d.headers, s, ts_header)?;
    let ts = parse_timestamp(s, ts_header, ts_text)?;
    check_window(s, ts, d.now, d.tolerance)?;
    let sig = parse_prefixed(value, "v0=", Encoding::Hex)
        .ok_or_else(|| malformed(s, header, "expected v0=<hex>"))?;
    require_match(
        s,
        Algorithm::Sha256,
        keys,
        &[b"v0:", ts_text.as_bytes(), b":", d.body],
        &[sig],
    )
}

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Slack"
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
        verify_v0(Scheme::Slack, HEADER, TIMESTAMP, d, keys)
    }

    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        if let Some(id) = string_field(body, "event_id") {
            return format!("{}:event:{id}", Scheme::Slack.name());
        }
        digest(
            Scheme::Slack.name(),
            &[text(headers, TIMESTAMP).as_bytes(), body],
        )
    }
}
