//! Who may use the admin routes and the console, decided without I/O.
//!
//! With an admin secret (`webhooks.admin.secret` / `secrets`), the caller
//! sends it as `Authorization: Bearer <secret>`; hook secrets never count.
//! Without one, only a request made on this machine is let in: a loopback
//! socket peer, no forwarding header (a proxy on the same host would make
//! every internet caller look local), and a `Host` naming this machine (a
//! DNS-rebinding page sends its own host name; a request with no `Host`
//! comes from no browser).

use super::auth::SecretMismatch;
use crate::config::{net::canonical, Admin};
use crate::secret::equal;
use http::HeaderMap;
use std::net::IpAddr;

/// Headers a reverse proxy adds; any of them means the request did not
/// start on this machine, whatever the socket peer.
pub fn forwarding_header(headers: &HeaderMap) -> Option<&str> {
    headers.keys().map(|k| k.as_str()).find(|name| {
        *name == "forwarded" || *name == "x-real-ip" || name.starts_with("x-forwarded-")
    })
}

/// The credential of `Authorization: Bearer <token>`, if sent.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Which admin secret (its index in [`Admin::credentials`]) the request
/// presents. Every configured secret is compared, in constant time each,
/// so the time taken does not say which one nearly matched.
pub fn credential(headers: &HeaderMap, admin: &Admin) -> Result<usize, SecretMismatch> {
    let presented = bearer(headers).ok_or(SecretMismatch::Missing)?;
    let mut found = None;
    for (i, secret) in admin.credentials().enumerate() {
        if equal(presented.as_bytes(), secret.expose().as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    found.ok_or(SecretMismatch::Invalid)
}

/// The host part of a `Host` value: `[::1]:8080` → `[::1]`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(host, |end| &host[..end + 2]),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    }
}

/// Whether `host` (a `Host` header value) names this machine or one of
/// `allowed` (compared with and without the port, case-insensitively).
pub fn local_host(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host.trim());
    ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .any(|l| name.eq_ignore_ascii_case(l))
        || allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
}

/// A request that may use the admin routes with no admin secret
/// configured, or why not (for the answer and the log).
pub fn local_request(peer: IpAddr, headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    if !canonical(peer).is_loopback() {
        return Err(format!("the caller {peer} is not on this machine"));
    }
    if let Some(name) = forwarding_header(headers) {
        return Err(format!("the request came through a proxy ({name} header)"));
    }
    // No `Host` at all comes from no browser (they always send one), so it
    // cannot be a rebinding page: an in-process call, or a raw client on
    // this machine, which the loopback peer already vouches for.
    let Some(host) = headers.get(http::header::HOST) else {
        return Ok(());
    };
    let host = host.to_str().unwrap_or("");
    if !local_host(host, allowed) {
        let shown: String = host.chars().take(64).collect();
        return Err(format!(
            "Host {shown:?} is not this machine (add it to webhooks.admin.allowedHosts)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_a_bearer_admin_secret_counts() {
        let admin = Admin {
            secret: Some(Secret::new("old")),
            secrets: vec![Secret::new("new")],
            ..Admin::default()
        };
        let with = |v: &str| credential(&headers(&[("authorization", v)]), &admin);
        assert_eq!(with("Bearer old"), Ok(0));
        assert_eq!(with("bearer new"), Ok(1));
        assert_eq!(with("Bearer other"), Err(SecretMismatch::Invalid));
        assert_eq!(with("Basic old"), Err(SecretMismatch::Missing));
        let hook_header = headers(&[("x-webhook-secret", "old")]);
        assert_eq!(
            credential(&hook_header, &admin),
            Err(SecretMismatch::Missing)
        );
    }

    #[test]
    fn local_means_loopback_unforwarded_and_a_local_host() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let ok = |h: &[(&str, &str)], peer: IpAddr, allowed: &[String]| {
            local_request(peer, &headers(h), allowed).is_ok()
        };
        for host in ["127.0.0.1:3412", "localhost", "LOCALHOST:80", "[::1]:3412"] {
            assert!(ok(&[("host", host)], lo, &[]), "{host}");
        }
        assert!(ok(&[("host", "[::1]:1")], "::1".parse().unwrap(), &[]));
        assert!(ok(
            &[("host", "localhost")],
            "::ffff:127.0.0.1".parse().unwrap(),
            &[]
        ));
        assert!(!ok(&[("host", "evil.example:3412")], lo, &[]));
        assert!(!ok(&[("host", "localhost.evil.example")], lo, &[]));
        assert!(ok(&[], lo, &[]), "no Host: not from a browser");
        assert!(!ok(&[("host", "")], lo, &[]));
        assert!(ok(
            &[("host", "box.lan:3412")],
            lo,
            &["box.lan".to_string()]
        ));
        assert!(!ok(
            &[("host", "127.0.0.1")],
            "10.0.0.2".parse().unwrap(),
            &[]
        ));
        for fwd in [
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-real-ip",
        ] {
            assert!(
                !ok(&[("host", "localhost"), (fwd, "203.0.113.9")], lo, &[]),
                "{fwd}"
            );
        }
    }
}
