//! The real source address of a request. `X-Forwarded-For` is believed only
//! when the peer is a trusted proxy, and then only up to the first address
//! that is not one (walking from the right, where our own proxies append).

use crate::config::{net::canonical, IpNetwork};
use http::HeaderMap;
use std::net::IpAddr;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNetwork]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |a: IpAddr| trusted.iter().any(|n| n.contains(a));
    if trusted.is_empty() || !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", xff.parse().unwrap());
        m
    }

    #[test]
    fn forwarded_for_only_through_trusted_proxies() {
        let proxies: Vec<IpNetwork> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.1.1.1".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h("203.0.113.9, 10.2.2.2"), &proxies),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // A spoofed leftmost entry is ignored: the first untrusted hop from the right wins.
        assert_eq!(
            client_ip(peer, &h("1.1.1.1, 198.51.100.7"), &proxies),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &h("10.9.9.9"), &proxies), stranger);
        assert_eq!(client_ip(peer, &h("203.0.113.9"), &[]), peer);
    }
}
