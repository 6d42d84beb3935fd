//! Provider handshakes: the requests a provider sends to prove a URL is
//! ours before it delivers anything, answered here without I/O and without
//! an event. Ingress asks only after the delivery authenticated (the
//! signature, or Meta's verify token), so a stranger cannot make the
//! gateway vouch for a URL in a provider's name.
//!
//! | provider | request | answer |
//! |---|---|---|
//! | Slack (`verify.scheme: slack`) | `{"type":"url_verification","challenge":…}` | `{"challenge":…}` |
//! | Discord (`discord`) | an interaction `{"type":1}` (PING) | `{"type":1}` (PONG) |
//! | Zoom (`zoom`) | `{"event":"endpoint.url_validation","payload":{"plainToken":…}}` | `{"plainToken","encryptedToken"}`, the token's hex HMAC-SHA256 under the secret |
//! | Microsoft Graph (`graph`) | `POST ?validationToken=…` (no body, nothing secret) | the token, as text |
//! | Meta (`verify.verifyToken`) | `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` | the challenge, as text |

use crate::config::Handler;
use crate::verify::{Scheme, VerifyConfig};
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// The longest challenge echoed back: providers send tens of bytes.
pub const MAX_CHALLENGE_BYTES: usize = 1024;

/// The answer to a handshake: 200 with this body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub content_type: &'static str,
    pub body: String,
    /// The provider, for the log.
    pub provider: &'static str,
}

/// The answer to an authenticated POST that is its provider's handshake,
/// or `None` for a delivery to keep.
pub fn reply(verify: &VerifyConfig, body: &[u8]) -> Option<Reply> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match verify.scheme {
        Scheme::Slack if v["type"] == "url_verification" => {
            let challenge = bounded(v.get("challenge")?)?;
            Some(json_reply("Slack", json!({ "challenge": challenge })))
        }
        Scheme::Discord if v["type"] == 1 => Some(json_reply("Discord", json!({"type": 1}))),
        Scheme::Zoom if v["event"] == "endpoint.url_validation" => {
            let plain = bounded(v.get("payload")?.get("plainToken")?)?;
            let secret = verify.all_secrets().next()?;
            let encrypted = zoom_token(secret.expose(), plain);
            Some(json_reply(
                "Zoom",
                json!({ "plainToken": plain, "encryptedToken": encrypted }),
            ))
        }
        _ => None,
    }
}

/// Microsoft Graph's subscription validation, `POST ?validationToken=…`,
/// on an enabled `graph` handler: the token back as text. It carries no
/// credential (Graph signs nothing); echoing it only says the URL is
/// reachable, and every notification must still carry the `clientState`.
pub fn validation(handler: &Handler, query: &BTreeMap<String, String>) -> Option<Reply> {
    let graph = handler.verify.as_ref()?.scheme == Scheme::Graph;
    let token = query
        .get("validationToken")
        .filter(|t| !t.is_empty() && t.len() <= MAX_CHALLENGE_BYTES)?;
    (graph && handler.enabled).then(|| Reply {
        content_type: TEXT,
        body: token.clone(),
        provider: "Microsoft Graph",
    })
}

const TEXT: &str = "text/plain; charset=utf-8";

/// Why a Meta subscription check was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotVerified {
    /// No `hub.mode=subscribe` or no `hub.challenge`: not a handshake.
    Malformed(&'static str),
    /// No verify token configured, or a different one sent.
    WrongToken,
}

/// Meta's `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`:
/// the challenge when the token is the handler's `verify.verifyToken`.
pub fn subscription(
    verify: Option<&VerifyConfig>,
    query: &BTreeMap<String, String>,
) -> Result<Reply, NotVerified> {
    if query.get("hub.mode").map(String::as_str) != Some("subscribe") {
        return Err(NotVerified::Malformed("hub.mode must be subscribe"));
    }
    let challenge = query
        .get("hub.challenge")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE_BYTES)
        .ok_or(NotVerified::Malformed(
            "hub.challenge is missing or too long",
        ))?;
    let expected = verify.and_then(|v| v.verify_token.as_ref());
    let sent = query.get("hub.verify_token");
    match (expected, sent) {
        (Some(e), Some(s)) if bool::from(e.expose().as_bytes().ct_eq(s.as_bytes())) => Ok(Reply {
            content_type: TEXT,
            body: challenge.clone(),
            provider: "Meta",
        }),
        _ => Err(NotVerified::WrongToken),
    }
}

/// Zoom's `encryptedToken`: the hex HMAC-SHA256 of `plainToken`.
fn zoom_token(secret: &str, plain: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(plain.as_bytes());
    let tag = mac.finalize().into_bytes();
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string of at most [`MAX_CHALLENGE_BYTES`], or `None`.
fn bounded(v: &Value) -> Option<&str> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= MAX_CHALLENGE_BYTES)
}

fn json_reply(provider: &'static str, body: Value) -> Reply {
    Reply {
        content_type: "application/json",
        body: body.to_string(),
        provider,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_token_is_the_hmac_of_the_plain_token() {
        // Python: hmac.new(b"secret", b"qgg8vlvZRS6UYooatFL8Aw", sha256).hexdigest()
        assert_eq!(
            zoom_token("secret", "qgg8vlvZRS6UYooatFL8Aw"),
            "72cef096bfd47c0b8664df30d07721641e4abd7e885ba432204260db477a9a3e"
        );
    }
}
