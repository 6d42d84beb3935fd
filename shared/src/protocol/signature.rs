//! The parts every HMAC signature header is made of: the MAC over the
//! signed text, its constant-time match against what was sent, base64 as
//! senders write it, and the replay window of timestamped schemes. Standard
//! Webhooks and the provider schemes in `verify` share them, so a fix to
//! one (a timing leak, a window off by one) is a fix to all.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{KeyInit, Mac};
use subtle::{Choice, ConstantTimeEq};

/// At most this many signatures of one header are tried; a header with
/// thousands of candidates is an attack on our CPU, not a rotation.
pub const MAX_CANDIDATES: usize = 16;

/// The MAC of the concatenation of `parts` under `key`.
pub fn compute<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// Whether any candidate equals the MAC under any key. Every pair is
/// compared, in constant time per pair, so timing says nothing about which
/// key or how much of a signature matched. A candidate of the wrong length
/// never matches (no truncated MACs).
pub fn any_matches<M: Mac + KeyInit>(
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    let mut found = Choice::from(0);
    for key in keys {
        let expected = compute::<M>(key, parts);
        for c in candidates {
            found |= expected.as_slice().ct_eq(c.as_slice());
        }
    }
    found.into()
}

/// Base64 as senders write signatures: standard or URL-safe alphabet,
/// padded or not. `None` for empty or undecodable text.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, lenient);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient);
    standard
        .decode(text)
        .or_else(|_| url_safe.decode(text))
        .ok()
}

/// Unix seconds as the providers send them: ASCII digits only, no sign,
/// no more than 15 of them.
pub fn unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A timestamp outside the replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    /// Seconds between the timestamp and now.
    pub skew: u64,
    /// `old` or `in the future`.
    pub direction: &'static str,
    pub tolerance: u64,
}

/// Refuses timestamps more than `tolerance` seconds from `now`, either
/// way: a captured delivery replayed later, or one signed ahead of time.
pub fn check_window(ts: i64, now: i64, tolerance: u64) -> Result<(), Stale> {
    let diff = now.saturating_sub(ts);
    let skew = diff.unsigned_abs();
    if skew > tolerance {
        return Err(Stale {
            skew,
            direction: if diff > 0 { "old" } else { "in the future" },
            tolerance,
        });
    }
    Ok(())
}
