//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, the
//! HMAC-SHA256 of `<t>.<body>` under the endpoint's `whsec_…` secret, used
//! as written (Stripe does not decode it). A replay is known by the event
//! `id` in the signed body.

use super::error::{check_window, header_str, malformed, parse_timestamp, require_match};
use super::replay::{digest, event_id, text};
use super::{parse_stripe_header, Algorithm, Delivery, Scheme, SignatureScheme};
use super::{VerifyConfig, VerifyError};
use http::HeaderMap;

const HEADER: &str = "stripe-signature";

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Stripe"
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
        let s = Scheme::Stripe;
        let value = header_str(d.headers, s, HEADER)?;
        let parsed = parse_stripe_header(value).map_err(|reason| malformed(s, HEADER, reason))?;
        let ts = parse_timestamp(s, HEADER, parsed.timestamp)?;
        check_window(s, ts, d.now, d.tolerance)?;
        require_match(
            s,
            Algorithm::Sha256,
            keys,
            &[parsed.timestamp.as_bytes(), b".", d.body],
            &parsed.v1,
        )
    }

    /// The event id; else the signed `t` and the body.
    fn replay_key(&self, _: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        match event_id(body) {
            Some(id) => format!("stripe-event:{id}"),
            None => digest(
                Scheme::Stripe.name(),
                &[signed_t(text(headers, HEADER)), body],
            ),
        }
    }
}

/// The `t=` element of a `Stripe-Signature` header.
fn signed_t(header: &str) -> &[u8] {
    header
        .split(',')
        .find_map(|part| part.trim().strip_prefix("t="))
        .unwrap_or_default()
        .as_bytes()
}
