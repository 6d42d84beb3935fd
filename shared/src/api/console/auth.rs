//! The console's session: a sign-in with an admin secret
//! (`webhooks.admin`) gives a signed, expiring token in an HttpOnly,
//! SameSite=Strict cookie, never the secret itself. The token is an HMAC
//! under a key derived from the admin secret it signed in with and the
//! console key kept in the store ([`super::keep`]): removing that secret
//! (rotation) ends its sessions, and so does replacing the console key
//! ("sign out everywhere"), on every instance at once.
//!
//! A state-changing request carried by the cookie must also send the
//! session's CSRF token (an HMAC of the session token, which the page
//! reads from `GET /console/session`) in `X-CSRF-Token`, and must not come
//! from another origin (`Origin`, `Sec-Fetch-Site`). Logging out clears
//! the cookie and records the session as signed out in the store, so a
//! copied token stops working too.

use crate::config::Admin;
use crate::ingress::Ingress;
use crate::refusal::Refusal;
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Method};
use sha2::Sha256;
use std::net::IpAddr;

/// The cookie's name.
pub const COOKIE: &str = "clawhooks_console";
/// The header a console request puts its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a login lasts: a working day.
pub const SESSION_SECS: i64 = 12 * 3600;

/// Why a session token was not accepted (for the log and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed session token")]
    Malformed,
    #[error("session expired")]
    Expired,
    #[error("session token not signed by this gateway's secret")]
    Forged,
    #[error("session signed out")]
    SignedOut,
}

/// The key session tokens are signed with.
#[derive(Clone)]
pub struct Keys([u8; 32]);

impl Keys {
    /// The keys of a session signed in with `secret`, under the console
    /// key of the store.
    pub fn signed_in(secret: &Secret, console_key: &[u8]) -> Self {
        let mut input = b"clawhooks console session v2\0".to_vec();
        input.extend_from_slice(console_key);
        Keys(mac(secret.expose().as_bytes(), &input))
    }

    /// A fresh token valid until `now + SESSION_SECS`.
    pub fn issue(&self, now: i64) -> String {
        let body = format!(
            "v1.{}.{}",
            now + SESSION_SECS,
            uuid::Uuid::new_v4().simple()
        );
        let sig = URL_SAFE_NO_PAD.encode(mac(&self.0, body.as_bytes()));
        format!("{body}.{sig}")
    }

    pub fn check(&self, token: &str, now: i64) -> Result<(), TokenError> {
        let (body, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (expiry, _) = parts(token)?;
        let expected = URL_SAFE_NO_PAD.encode(mac(&self.0, body.as_bytes()));
        if !crate::secret::equal(sig.as_bytes(), expected.as_bytes()) {
            return Err(TokenError::Forged);
        }
        if expiry <= now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// The CSRF token that goes with a session token.
    pub fn csrf(&self, token: &str) -> String {
        let mut input = b"csrf:".to_vec();
        input.extend_from_slice(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac(&self.0, &input))
    }
}

/// A token's expiry and nonce (which names it when it is signed out).
pub fn parts(token: &str) -> Result<(i64, &str), TokenError> {
    let (body, _) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let mut parts = body.split('.');
    let (Some("v1"), Some(expiry), Some(nonce), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let expiry: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    Ok((expiry, nonce))
}

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The console cookie's value, if the request carries one.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value for `token` (`None`: clear it). `Secure` when
/// the request came over HTTPS (behind a proxy or API Gateway).
pub fn set_cookie(token: Option<&str>, headers: &HeaderMap) -> String {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let (value, age) = match token {
        Some(t) => (t, SESSION_SECS),
        None => ("", 0),
    };
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A state-changing request from another site is refused whatever it
/// carries: `Sec-Fetch-Site: cross-site`, or an `Origin` that is neither
/// the `Host` the request was sent to nor `webhooks.admin.publicOrigin`
/// (the origin browsers see when a proxy rewrites `Host`).
pub fn same_origin(
    headers: &HeaderMap,
    method: &Method,
    public_origin: Option<&str>,
) -> Result<(), Refusal> {
    if method.is_safe() {
        return Ok(());
    }
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    let cross_site = text("sec-fetch-site").is_some_and(|s| s == "cross-site");
    let foreign_origin = text("origin").is_some_and(|origin| {
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        let public =
            public_origin.is_some_and(|p| p.trim_end_matches('/').eq_ignore_ascii_case(origin));
        !public && text("host").is_none_or(|host| !authority.eq_ignore_ascii_case(host))
    });
    match cross_site || foreign_origin {
        true => Err(Refusal::Forbidden(
            "a state-changing request from another origin".into(),
        )),
        false => Ok(()),
    }
}

/// The keys of the admin secret that signed `token` in under
/// `console_key`, or why none did.
pub fn session_keys(
    admin: &Admin,
    console_key: &[u8],
    token: &str,
    now: i64,
) -> Result<Keys, TokenError> {
    let mut error = TokenError::Forged;
    for secret in admin.credentials() {
        let keys = Keys::signed_in(secret, console_key);
        match keys.check(token, now) {
            Ok(()) => return Ok(keys),
            Err(TokenError::Forged) => {}
            Err(e) => error = e,
        }
    }
    Err(error)
}

/// A console session's keys, checked against the store: its console key
/// and whether it was signed out. `Ok(Err(_))` is a refused token; `Err`
/// a store that did not answer.
pub async fn session(ingress: &Ingress, token: &str) -> Result<Result<Keys, TokenError>, Refusal> {
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now().timestamp();
    let admin = &ingress.config.config.webhooks.admin;
    let key = super::keep::console_key(store, now)
        .await
        .map_err(|e| Refusal::backend("reading the console key", e))?;
    let keys = match session_keys(admin, &key, token, now) {
        Ok(keys) => keys,
        Err(e) => return Ok(Err(e)),
    };
    let (_, nonce) = parts(token).expect("a checked token has its parts");
    match super::keep::signed_out(store, nonce, now).await {
        Ok(false) => Ok(Ok(keys)),
        Ok(true) => Ok(Err(TokenError::SignedOut)),
        Err(e) => Err(Refusal::backend("reading a console session", e)),
    }
}

/// The admin check of every admin route: an admin secret as a bearer
/// token, or else a valid console cookie with, on a state-changing
/// request, its CSRF token. A bad cookie is refused without counting as a
/// failed authentication (it cannot be guessed, and a stale one comes
/// from an honest browser).
pub async fn authorize(
    ingress: &Ingress,
    headers: &HeaderMap,
    method: &Method,
    peer: IpAddr,
    path: &str,
) -> Result<(), Refusal> {
    let admin = &ingress.config.config.webhooks.admin;
    same_origin(headers, method, admin.public_origin.as_deref())?;
    let sends_bearer = headers.contains_key(http::header::AUTHORIZATION);
    if let (true, Some(token), false) = (admin.has_secret(), cookie(headers), sends_bearer) {
        return match session(ingress, token).await? {
            Ok(keys) => csrf_ok(&keys, token, headers, method),
            Err(e) => {
                tracing::info!(path = crate::ingress::bounded(path), reason = %e, "refused: console session");
                Err(Refusal::AdminUnauthenticated)
            }
        };
    }
    ingress.authorize_admin(headers, peer, path).await
}

/// A state-changing request with a valid session sends its CSRF token.
pub fn csrf_ok(
    keys: &Keys,
    token: &str,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(), Refusal> {
    if method.is_safe() {
        return Ok(());
    }
    let sent = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    match crate::secret::equal(sent, keys.csrf(token).as_bytes()) {
        true => Ok(()),
        false => Err(Refusal::Forbidden(
            "missing or wrong X-CSRF-Token for this console session".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> Keys {
        Keys::signed_in(&Secret::new(secret.to_string()), &[7u8; 32])
    }

    #[test]
    fn a_token_checks_until_it_expires_and_only_under_its_secret() {
        let k = keys("s3cret");
        let t = k.issue(1_000);
        assert_eq!(k.check(&t, 1_000), Ok(()));
        assert_eq!(k.check(&t, 1_000 + SESSION_SECS), Err(TokenError::Expired));
        assert_eq!(keys("other").check(&t, 1_000), Err(TokenError::Forged));
        assert!(!t.contains("s3cret"));
        let stretched = t.replacen(&(1_000 + SESSION_SECS).to_string(), "99999999999", 1);
        assert_eq!(k.check(&stretched, 1_000), Err(TokenError::Forged));
        assert_eq!(k.check("v1.garbage", 1_000), Err(TokenError::Malformed));
    }

    #[test]
    fn a_session_lives_as_long_as_the_admin_secret_it_signed_in_with() {
        let both = Admin {
            secret: Some(Secret::new("old")),
            secrets: vec![Secret::new("new")],
            ..Admin::default()
        };
        let console = [7u8; 32];
        let token = Keys::signed_in(&Secret::new("new"), &console).issue(0);
        assert!(session_keys(&both, &console, &token, 1).is_ok());
        assert_eq!(
            session_keys(&both, &[8u8; 32], &token, 1).err(),
            Some(TokenError::Forged),
            "a new console key ends every session"
        );
        let rotated = Admin {
            secret: Some(Secret::new("newer")),
            secrets: vec![Secret::new("old")],
            ..Admin::default()
        };
        assert_eq!(
            session_keys(&rotated, &console, &token, 1).err(),
            Some(TokenError::Forged)
        );
        assert_eq!(
            session_keys(&both, &console, &token, SESSION_SECS).err(),
            Some(TokenError::Expired)
        );
    }

    #[test]
    fn each_session_has_its_own_csrf_token() {
        let k = keys("s3cret");
        let (a, b) = (k.issue(0), k.issue(0));
        assert_ne!(a, b);
        assert_ne!(k.csrf(&a), k.csrf(&b));
        assert_eq!(k.csrf(&a), k.csrf(&a));
    }

    #[test]
    fn the_cookie_is_found_among_others_and_set_strict() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; clawhooks_console=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h), Some("tok"));
        let set = set_cookie(Some("tok"), &h);
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Secure"));
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie(None, &h).contains("Max-Age=0; Secure"));
    }

    #[test]
    fn a_state_change_from_another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:8080".parse().unwrap());
        h.insert("origin", "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h, &Method::POST, None).is_ok());
        h.insert("origin", "http://evil.example".parse().unwrap());
        assert!(same_origin(&h, &Method::POST, None).is_err());
        assert!(same_origin(&h, &Method::GET, None).is_ok());
        // Behind a proxy that rewrites Host, the public origin is ours.
        h.insert("origin", "https://hooks.example.com".parse().unwrap());
        assert!(same_origin(&h, &Method::POST, None).is_err());
        assert!(same_origin(&h, &Method::POST, Some("https://hooks.example.com/")).is_ok());
        assert!(same_origin(&h, &Method::POST, Some("https://other.example.com")).is_err());
        h.remove("origin");
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(same_origin(&h, &Method::DELETE, None).is_err());
    }
}
