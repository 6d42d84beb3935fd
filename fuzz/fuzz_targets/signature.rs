//! Signature header parsing and verification for every scheme, with
//! attacker-chosen header values and body. Must never panic, and must never
//! accept: the keys are fixed and the input cannot know them.
#![no_main]
use clawhooks::verify::{
    parse_prefixed, parse_standard_signatures, parse_stripe_header, Encoding, Scheme,
    VerifyConfig,
};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const HEADERS: &[&str] = &[
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-signature",
];

fuzz_target!(|data: &[u8]| {
    // Fields separated by \n: one value per header above, the rest is the body.
    let mut parts = data.splitn(HEADERS.len() + 1, |&b| b == b'\n');
    let mut headers = HeaderMap::new();
    let mut values = Vec::new();
    for name in HEADERS {
        let Some(v) = parts.next() else { break };
        values.push(String::from_utf8_lossy(v).into_owned());
        if let Ok(hv) = HeaderValue::from_bytes(v) {
            headers.insert(*name, hv);
        }
    }
    let body = parts.next().unwrap_or_default();

    for v in &values {
        let _ = parse_stripe_header(v);
        let _ = parse_standard_signatures(v);
        let _ = parse_prefixed(v, "sha256=", Encoding::Hex);
        let _ = parse_prefixed(v, "", Encoding::Base64);
    }

    let now = 1_700_000_000;
    for scheme in [
        Scheme::Github,
        Scheme::Stripe,
        Scheme::Slack,
        Scheme::StandardWebhooks,
        Scheme::Hmac,
    ] {
        let secret = match scheme {
            Scheme::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "fuzz-secret",
        };
        let mut cfg = VerifyConfig::new(scheme, secret);
        if scheme == Scheme::Hmac {
            cfg.header = Some("x-signature".into());
            cfg.encoding = Some(if body.first() == Some(&b'b') {
                Encoding::Base64
            } else {
                Encoding::Hex
            });
        }
        match cfg.verify(&headers, body, now) {
            Ok(()) => panic!("{scheme} accepted a signature made without the key"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with(scheme.label()), "{msg}");
                assert!(!msg.contains(secret), "{msg}");
            }
        }
    }
});
