//! [Standard Webhooks](https://www.standardwebhooks.com/), the one place
//! we speak it: outgoing subscriptions and `forward` sign with it, and the
//! `verify` scheme `standard_webhooks` checks incoming hooks with it.
//!
//! Three headers: `webhook-id` (the same on every attempt, so receivers
//! can deduplicate), `webhook-timestamp` (unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! space separated when a sender signs with several secrets.
//!
//! One rule turns a secret into the HMAC key, for signing and verifying
//! alike ([`key`]), so a secret that signs in one clawhooks verifies in
//! another: `whsec_<base64>` is its decoded bytes, as every Standard
//! Webhooks library does; any other secret is its own bytes (what the
//! docs/configuration.md promises); a `whsec_` secret that is not base64, or an empty
//! one, is refused, so it fails at load instead of becoming a key nobody's
//! receiver expects.

use super::signature::{
    any_matches, check_window, compute, decode_base64, unix_seconds, Stale, MAX_CANDIDATES,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const SECRET_PREFIX: &str = "whsec_";
pub const ID: &str = "webhook-id";
pub const TIMESTAMP: &str = "webhook-timestamp";
pub const SIGNATURE: &str = "webhook-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The message never includes the secret itself.
    #[error("a whsec_ secret must be base64 after the prefix")]
    BadBase64,
    #[error("the secret is empty")]
    Empty,
}

/// The HMAC key of a secret: `whsec_<base64>` decoded, any other secret
/// as its bytes; never empty.
pub fn key(secret: &str) -> Result<Vec<u8>, KeyError> {
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(b64) => STANDARD.decode(b64).map_err(|_| KeyError::BadBase64)?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(key)
}

/// `webhook-id` and `webhook-timestamp`, which go with every delivery,
/// signed or not.
pub fn identity(id: &str, timestamp: i64) -> [(&'static str, String); 2] {
    [(ID, id.to_string()), (TIMESTAMP, timestamp.to_string())]
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key,
/// "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = compute::<HmacSha256>(key, &signed_text(id, &ts, body));
    format!("v1,{}", STANDARD.encode(mac))
}

fn signed_text<'a>(id: &'a str, ts: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [id.as_bytes(), b".", ts.as_bytes(), b".", body]
}

/// Why an incoming delivery does not check out. None of the messages
/// contains a key, the expected signature, or the value sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the {0} header is missing")]
    Missing(String),
    #[error("the {header} header is malformed ({reason})")]
    Malformed {
        header: String,
        reason: &'static str,
    },
    #[error("the timestamp is {}s {}, outside the {}s tolerance", .0.skew, .0.direction, .0.tolerance)]
    Stale(Stale),
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks one delivery against `keys` (from [`key`]), with `now` in unix
/// seconds and `tolerance` the replay window either side of it. Svix's
/// `svix-*` spelling of the headers is accepted too.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
    keys: &[Vec<u8>],
) -> Result<(), Invalid> {
    let prefix = if !headers.contains_key(SIGNATURE) && headers.contains_key("svix-signature") {
        "svix"
    } else {
        "webhook"
    };
    let names = ["id", "timestamp", "signature"].map(|n| format!("{prefix}-{n}"));
    let [id, ts_text, sigs] = [0, 1, 2].map(|i| header(headers, &names[i]));
    let (id, ts_text, sigs) = (id?, ts_text?, sigs?);
    let malformed = |i: usize, reason| Invalid::Malformed {
        header: names[i].clone(),
        reason,
    };
    let ts =
        unix_seconds(ts_text).ok_or_else(|| malformed(1, "the timestamp is not unix seconds"))?;
    check_window(ts, now, tolerance).map_err(Invalid::Stale)?;
    let candidates = parse_signatures(sigs);
    if candidates.is_empty() {
        return Err(malformed(2, "expected v1,<base64>"));
    }
    if any_matches::<HmacSha256>(keys, &signed_text(id, ts_text, body), &candidates) {
        Ok(())
    } else {
        Err(Invalid::Mismatch)
    }
}

/// A header's value, trimmed.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Invalid> {
    let v = headers
        .get(name)
        .ok_or_else(|| Invalid::Missing(name.to_string()))?;
    v.to_str().map(str::trim).map_err(|_| Invalid::Malformed {
        header: name.to_string(),
        reason: "not ASCII",
    })
}

/// Parses `v1,<base64> v1,<base64>` (space separated, one per active
/// secret). Versions other than `v1` (such as the asymmetric `v1a`) are
/// skipped, and at most [`MAX_CANDIDATES`] are kept.
pub fn parse_signatures(value: &str) -> Vec<Vec<u8>> {
    value
        .split(' ')
        .filter_map(|part| part.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| decode_base64(sig))
        .take(MAX_CANDIDATES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    /// Published with the specification and its reference libraries.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [(ID, id), (TIMESTAMP, &ts.to_string()), (SIGNATURE, sig)] {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn whsec_secrets_are_their_base64_and_others_their_bytes() {
        assert_eq!(key("whsec_a2V5"), Ok(b"key".to_vec()));
        assert_eq!(key("plain"), Ok(b"plain".to_vec()));
        // Valid base64 without the prefix is still the secret's own bytes:
        // only the prefix says "decode me".
        assert_eq!(key("a2V5"), Ok(b"a2V5".to_vec()));
        // The prefix alone is a secret of no bytes, not the text "whsec_".
        assert_eq!(key("whsec_"), Err(KeyError::Empty));
    }

    #[test]
    fn malformed_or_empty_secrets_are_refused_without_echoing_them() {
        let e = key("whsec_not*base64!").unwrap_err();
        assert_eq!(e, KeyError::BadBase64);
        assert!(!e.to_string().contains("not*base64"));
        assert_eq!(key(""), Err(KeyError::Empty));
    }

    #[test]
    fn signs_the_specification_vector() {
        let k = key(VECTOR_SECRET).unwrap();
        assert_eq!(sign(&k, VECTOR_ID, VECTOR_TS, VECTOR_BODY), VECTOR_SIG);
    }

    #[test]
    fn a_change_to_id_time_or_body_changes_the_signature() {
        let k = b"key";
        let base = sign(k, "a", 1, b"{}");
        assert_ne!(base, sign(k, "b", 1, b"{}"));
        assert_ne!(base, sign(k, "a", 2, b"{}"));
        assert_ne!(base, sign(k, "a", 1, b"{ }"));
        assert_ne!(base, sign(b"other", "a", 1, b"{}"));
    }

    #[test]
    fn what_one_key_signs_it_verifies_and_no_other_key_does() {
        for secret in [VECTOR_SECRET, "plain", "a2V5", "whsec_a2V5"] {
            let k = key(secret).unwrap();
            let h = headers(
                "evt_1",
                1_700_000_000,
                &sign(&k, "evt_1", 1_700_000_000, b"{}"),
            );
            assert_eq!(
                verify(&h, b"{}", 1_700_000_000, 300, &[k]),
                Ok(()),
                "{secret}"
            );
            let other = key("other").unwrap();
            assert_eq!(
                verify(&h, b"{}", 1_700_000_000, 300, &[other]),
                Err(Invalid::Mismatch)
            );
        }
    }

    #[test]
    fn verify_names_the_header_at_fault() {
        let k = [key(VECTOR_SECRET).unwrap()];
        let mut h = headers(VECTOR_ID, VECTOR_TS, VECTOR_SIG);
        assert_eq!(verify(&h, VECTOR_BODY, VECTOR_TS, 300, &k), Ok(()));
        h.insert(TIMESTAMP, HeaderValue::from_static("-5"));
        assert_eq!(
            verify(&h, VECTOR_BODY, VECTOR_TS, 300, &k),
            Err(Invalid::Malformed {
                header: TIMESTAMP.into(),
                reason: "the timestamp is not unix seconds"
            })
        );
        h.remove(ID);
        assert_eq!(
            verify(&h, VECTOR_BODY, VECTOR_TS, 300, &k),
            Err(Invalid::Missing(ID.into()))
        );
    }
}
