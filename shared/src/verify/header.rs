//! Parsing of signature headers, kept apart from the HMAC work so it can
//! be fuzzed on its own. Parsers borrow from the header and never panic;
//! anything they do not understand is skipped or refused, never guessed.

use super::{Encoding, MAX_CANDIDATES};
use crate::protocol::signature::decode_base64;

pub use crate::protocol::standard_webhooks::parse_signatures as parse_standard_signatures;

/// `Stripe-Signature` split into its timestamp and its `v1` signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHeader<'a> {
    /// The `t=` value, exactly as sent (it is part of the signed text).
    pub timestamp: &'a str,
    /// Decoded `v1=` signatures; undecodable ones are dropped.
    pub v1: Vec<Vec<u8>>,
}

/// Parses `t=1492774577,v1=5257…,v1=…,v0=…`. Other schemes (`v0`) are
/// ignored, as Stripe's own libraries do; the first `t` counts.
pub fn parse_stripe_header(value: &str) -> Result<StripeHeader<'_>, &'static str> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    let mut saw_v1 = false;
    for part in value.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" if timestamp.is_none() => timestamp = Some(v),
            "v1" => {
                saw_v1 = true;
                if v1.len() < MAX_CANDIDATES {
                    if let Some(sig) = decode(v, Encoding::Hex) {
                        v1.push(sig);
                    }
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("no t= timestamp")?;
    if !saw_v1 {
        return Err("no v1= signature");
    }
    Ok(StripeHeader { timestamp, v1 })
}

/// `<prefix><encoded signature>`, decoded. `None` when the prefix is absent
/// or the rest does not decode.
pub fn parse_prefixed(value: &str, prefix: &str, encoding: Encoding) -> Option<Vec<u8>> {
    let rest = value.trim().strip_prefix(prefix)?;
    decode(rest.trim(), encoding)
}

/// Hex (either case) or base64 (standard or URL-safe, padded or not).
pub fn decode(text: &str, encoding: Encoding) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    match encoding {
        Encoding::Hex => decode_hex(text),
        Encoding::Base64 => decode_base64(text),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
