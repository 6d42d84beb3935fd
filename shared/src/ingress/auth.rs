//! The shared-secret check: the configured header or `Authorization: Bearer`,
//! compared in constant time. Both sides are hashed first so neither the
//! content nor the length of the secret leaks through timing.

use crate::secret::Secret;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Invalid,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing secret",
            Refusal::Invalid => "invalid secret",
        }
    }
}

/// The one answer to every failed authentication, on hooks and admin
/// routes alike, whatever the cause (no secret, a wrong one, a signature
/// that does not check out): a prober learns nothing of which hook ids
/// exist or which verify a provider's signature. The log names the cause.
pub fn failed_message(header: &str) -> String {
    format!("authentication failed: send the secret in the {header} header (or as Authorization: Bearer <secret>), or the provider's signature")
}

pub fn check_secret(headers: &HeaderMap, header: &str, secret: &Secret) -> Result<(), Refusal> {
    let presented = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(|v| v.trim().to_string())
        })
        .ok_or(Refusal::Missing)?;
    if equal(presented.as_bytes(), secret.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::Invalid)
    }
}

pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    bool::from(ha.as_slice().ct_eq(hb.as_slice()))
}

/// Names a query parameter that carries a secret: one named like a secret,
/// or one whose value is the configured secret. URLs end up in access logs,
/// proxies and browser history, so such a request is refused outright.
pub fn secret_in_query(
    query: &BTreeMap<String, String>,
    header: &str,
    secret: Option<&Secret>,
) -> Option<String> {
    let header = header.to_ascii_lowercase();
    query.iter().find_map(|(k, v)| {
        let lk = k.to_ascii_lowercase();
        let named = matches!(
            lk.as_str(),
            "secret" | "token" | "webhook_secret" | "webhooksecret" | "api_key" | "apikey"
        ) || lk == header;
        let valued = secret.is_some_and(|s| equal(v.as_bytes(), s.expose().as_bytes()));
        (named || valued).then(|| k.clone())
    })
}
