//! HMAC computation and the constant-time match against what was sent.

use super::Algorithm;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

/// HMAC of the concatenation of `parts` under `key`.
pub fn compute(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac>(mut m: M, parts: &[&[u8]]) -> Vec<u8> {
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha256 => run(
            Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length"),
            parts,
        ),
        Algorithm::Sha512 => run(
            Hmac::<Sha512>::new_from_slice(key).expect("HMAC accepts keys of any length"),
            parts,
        ),
    }
}

/// Whether any candidate equals the HMAC under any key. Every pair is
/// compared, in constant time per pair, so timing says nothing about which
/// key or how much of a signature matched. A candidate of the wrong length
/// never matches (no truncated MACs).
pub fn any_matches(
    algorithm: Algorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    let mut found = Choice::from(0);
    for key in keys {
        let expected = compute(algorithm, key, parts);
        for c in candidates {
            found |= expected.as_slice().ct_eq(c.as_slice());
        }
    }
    found.into()
}
