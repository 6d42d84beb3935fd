//! HMAC of the provider schemes: the configured algorithm, matched in
//! constant time by [`crate::protocol::signature`].

use super::Algorithm;
use crate::protocol::signature;
use hmac::Hmac;
use sha2::{Sha256, Sha512};

/// Whether any candidate equals the HMAC of `parts` under any key.
pub fn any_matches(
    algorithm: Algorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    match algorithm {
        Algorithm::Sha256 => signature::any_matches::<Hmac<Sha256>>(keys, parts, candidates),
        Algorithm::Sha512 => signature::any_matches::<Hmac<Sha512>>(keys, parts, candidates),
    }
}
