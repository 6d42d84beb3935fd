//! The SSRF guard: the gateway calls URLs taken from its config and, through
//! templates, from payloads, so it must not become a way into the network
//! it runs in. Loopback, private, link-local, unique-local, shared (CGNAT),
//! unspecified, multicast, reserved and cloud metadata addresses are
//! refused unless `webhooks.network` allows them.
//!
//! The check runs on the addresses a name *resolves to*, inside the DNS
//! resolver reqwest connects with ([`GuardedResolver`]), so the address
//! checked is the address connected to: a public name that resolves to
//! 10.0.0.1, or that changes its answer between a check and a connect
//! (DNS rebinding), is refused. URLs with an IP literal never reach a
//! resolver, so [`Policy::check_url`] covers them before the request.

use crate::config::net::{canonical, normalize_host};
use crate::config::{IpNetwork, Network};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// What `webhooks.network` lets through.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow_private: bool,
    /// Host names allowed whatever they resolve to (lower case, no trailing dot).
    hosts: Vec<String>,
    nets: Vec<IpNetwork>,
}

/// Why an address is off limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Loopback,
    Private,
    LinkLocal,
    UniqueLocal,
    SharedCgnat,
    Unspecified,
    Multicast,
    Reserved,
    /// Instance metadata services (credentials live there): refused even
    /// with `allowPrivate`; only an explicit `allow` entry reaches them.
    CloudMetadata,
}

impl Blocked {
    pub fn as_str(self) -> &'static str {
        match self {
            Blocked::Loopback => "a loopback address",
            Blocked::Private => "a private address",
            Blocked::LinkLocal => "a link-local address",
            Blocked::UniqueLocal => "a unique-local address",
            Blocked::SharedCgnat => "a shared (CGNAT) address",
            Blocked::Unspecified => "an unspecified address",
            Blocked::Multicast => "a multicast address",
            Blocked::Reserved => "a reserved address",
            Blocked::CloudMetadata => "a cloud metadata address",
        }
    }
}

/// A refused destination. Its message names the host and the address, never
/// the rest of the URL (paths of Slack and Discord webhooks are tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    pub host: String,
    pub addr: IpAddr,
    pub why: Blocked,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = if self.why == Blocked::CloudMetadata {
            "add it to webhooks.network.allow to reach it"
        } else {
            "set webhooks.network.allowPrivate or add it to webhooks.network.allow to reach it"
        };
        if self.host == self.addr.to_string() {
            write!(f, "{} is {}; {hint}", self.addr, self.why.as_str())
        } else {
            write!(
                f,
                "{} resolves to {}, {}; {hint}",
                self.host,
                self.addr,
                self.why.as_str()
            )
        }
    }
}

/// The class of an address the guard refuses by default, if any.
pub fn classify(addr: IpAddr) -> Option<Blocked> {
    match canonical(addr) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<Blocked> {
    let o = a.octets();
    let in_net = |net: [u8; 4], bits: u32| {
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(a) & mask == u32::from(Ipv4Addr::from(net)) & mask
    };
    Some(match o {
        // AWS/GCP/Azure instance metadata, and the ECS task metadata endpoint.
        [169, 254, 169, 254] | [169, 254, 170, 2] => Blocked::CloudMetadata,
        [0, ..] => Blocked::Unspecified,
        [10, ..] => Blocked::Private,
        [127, ..] => Blocked::Loopback,
        [169, 254, ..] => Blocked::LinkLocal,
        [192, 168, ..] => Blocked::Private,
        _ if in_net([172, 16, 0, 0], 12) => Blocked::Private,
        _ if in_net([100, 64, 0, 0], 10) => Blocked::SharedCgnat,
        _ if in_net([224, 0, 0, 0], 4) => Blocked::Multicast,
        // 240/4 (with the broadcast address), protocol assignments,
        // benchmarking and documentation ranges: nothing to call there.
        _ if in_net([240, 0, 0, 0], 4) => Blocked::Reserved,
        [192, 0, 0, _] | [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => Blocked::Reserved,
        _ if in_net([198, 18, 0, 0], 15) => Blocked::Reserved,
        _ => return None,
    })
}

fn classify_v6(a: Ipv6Addr) -> Option<Blocked> {
    let s = a.segments();
    if a.is_unspecified() {
        return Some(Blocked::Unspecified);
    }
    if a.is_loopback() {
        return Some(Blocked::Loopback);
    }
    // AWS's IPv6 instance metadata endpoint.
    if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(Blocked::CloudMetadata);
    }
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match s {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(embedded_v4(hi, lo)),
        [0x2002, hi, lo, ..] => return classify_v4(embedded_v4(hi, lo)),
        // IPv4-compatible (deprecated) ::/96, discard 100::/64, documentation 2001:db8::/32.
        [0, 0, 0, 0, 0, 0, _, _] | [0x100, 0, 0, 0, ..] | [0x2001, 0xdb8, ..] => Blocked::Reserved,
        [x, ..] if x & 0xfe00 == 0xfc00 => Blocked::UniqueLocal,
        [x, ..] if x & 0xffc0 == 0xfe80 => Blocked::LinkLocal,
        // Site-local (deprecated, fec0::/10): private in all but name.
        [x, ..] if x & 0xffc0 == 0xfec0 => Blocked::Private,
        [x, ..] if x & 0xff00 == 0xff00 => Blocked::Multicast,
        _ => return None,
    })
}

impl Policy {
    /// Everything allowed: for tests of other parts and trusted setups.
    pub fn allow_all() -> Self {
        Policy {
            allow_private: true,
            hosts: Vec::new(),
            nets: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        }
    }

    /// From `webhooks.network`: each `allow` entry is a CIDR, an address,
    /// or a host name (exact match, case-insensitive).
    pub fn from_network(n: &Network) -> Self {
        let mut p = Policy {
            allow_private: n.allow_private,
            ..Policy::default()
        };
        for entry in &n.allow {
            match normalize_host(entry).parse::<IpNetwork>() {
                Ok(net) => p.nets.push(net),
                Err(_) => p.hosts.push(normalize_host(entry)),
            }
        }
        p
    }

    /// Whether `addr`, reached under the name `host`, may be called.
    pub fn check(&self, host: &str, addr: IpAddr) -> Result<(), Refusal> {
        let Some(why) = classify(addr) else {
            return Ok(());
        };
        let host = normalize_host(host);
        let listed = self.hosts.contains(&host)
            || self
                .nets
                .iter()
                .any(|n| n.contains(addr) || n.0.contains(&addr));
        if listed || (self.allow_private && why != Blocked::CloudMetadata) {
            return Ok(());
        }
        Err(Refusal { host, addr, why })
    }

    /// The check for URLs whose host is an IP literal (no resolver runs for
    /// those). Names pass here; the resolver checks what they resolve to.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refusal> {
        // The URL parser has already turned every IPv4 spelling (`0x7f.1`,
        // `2130706433`) into dotted decimal, and put IPv6 in brackets.
        let Some(Ok(addr)) = url.host_str().map(|h| normalize_host(h).parse::<IpAddr>()) else {
            return Ok(());
        };
        self.check(&addr.to_string(), addr)
    }
}

/// reqwest's DNS resolver with the guard inside: the system resolver's
/// answers, minus the addresses the policy refuses. When nothing is left,
/// the lookup fails with the [`Refusal`] of the first address.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<Policy>) -> Self {
        GuardedResolver { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(&host, a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        first_refusal.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), first_refusal) {
                (true, Some(refusal)) => Err(Box::new(refusal) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The guard's refusal inside a reqwest error, if that is what it is.
pub fn refusal_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes_of_addresses() {
        for (addr, class) in [
            ("127.0.0.1", Some(Blocked::Loopback)),
            ("127.255.0.9", Some(Blocked::Loopback)),
            ("::1", Some(Blocked::Loopback)),
            ("::ffff:127.0.0.1", Some(Blocked::Loopback)),
            ("10.1.2.3", Some(Blocked::Private)),
            ("172.16.0.1", Some(Blocked::Private)),
            ("172.31.255.255", Some(Blocked::Private)),
            ("192.168.1.1", Some(Blocked::Private)),
            ("169.254.1.1", Some(Blocked::LinkLocal)),
            ("fe80::1", Some(Blocked::LinkLocal)),
            ("fc00::1", Some(Blocked::UniqueLocal)),
            ("fd12:3456::1", Some(Blocked::UniqueLocal)),
            ("100.64.0.1", Some(Blocked::SharedCgnat)),
            ("100.127.255.254", Some(Blocked::SharedCgnat)),
            ("0.0.0.0", Some(Blocked::Unspecified)),
            ("::", Some(Blocked::Unspecified)),
            ("224.0.0.1", Some(Blocked::Multicast)),
            ("ff02::1", Some(Blocked::Multicast)),
            ("255.255.255.255", Some(Blocked::Reserved)),
            ("169.254.169.254", Some(Blocked::CloudMetadata)),
            ("::ffff:169.254.169.254", Some(Blocked::CloudMetadata)),
            ("fd00:ec2::254", Some(Blocked::CloudMetadata)),
            ("64:ff9b::a9fe:a9fe", Some(Blocked::CloudMetadata)),
            ("2002:7f00:1::", Some(Blocked::Loopback)),
            ("::7f00:1", Some(Blocked::Reserved)),
            // Public neighbours of the blocked ranges.
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("11.0.0.1", None),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
            ("64:ff9b::808:808", None),
        ] {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
    }

    #[test]
    fn policy_from_network() {
        let strict = Policy::from_network(&Network::default());
        let e = strict.check("localhost", ip("127.0.0.1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "localhost resolves to 127.0.0.1, a loopback address; set webhooks.network.allowPrivate or add it to webhooks.network.allow to reach it"
        );
        assert!(strict.check("example.com", ip("93.184.215.14")).is_ok());

        let private = Policy::from_network(&Network {
            allow_private: true,
            allow: vec![],
        });
        assert!(private.check("db", ip("10.0.0.5")).is_ok());
        // Metadata stays closed with allowPrivate alone.
        let e = private
            .check("169.254.169.254", ip("169.254.169.254"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "169.254.169.254 is a cloud metadata address; add it to webhooks.network.allow to reach it"
        );

        let listed = Policy::from_network(&Network {
            allow_private: false,
            allow: vec![
                "10.1.0.0/16".into(),
                "Internal.Example.".into(),
                "fd00:ec2::254".into(),
            ],
        });
        assert!(listed.check("x", ip("10.1.200.3")).is_ok());
        assert!(listed.check("x", ip("10.2.0.1")).is_err());
        assert!(listed.check("internal.example", ip("10.9.9.9")).is_ok());
        assert!(listed.check("other.example", ip("10.9.9.9")).is_err());
        assert!(listed.check("x", ip("fd00:ec2::254")).is_ok());
    }

    #[test]
    fn ip_literal_urls() {
        let strict = Policy::from_network(&Network::default());
        for (url, refused) in [
            ("http://169.254.169.254/latest/meta-data/", true),
            ("http://[fd00:ec2::254]/latest/meta-data/", true),
            ("http://[::ffff:7f00:1]:8080/", true),
            ("http://0x7f.1/", true),
            ("http://2130706433/", true),
            ("http://0/", true),
            ("https://8.8.8.8/", false),
            ("https://example.com/", false),
        ] {
            let u = reqwest::Url::parse(url).unwrap();
            assert_eq!(strict.check_url(&u).is_err(), refused, "{url}");
        }
    }

    proptest::proptest! {
        /// Every way of wrapping an IPv4 address in IPv6 gets the IPv4 verdict.
        #[test]
        fn v4_inside_v6_gets_the_v4_verdict(a in proptest::prelude::any::<u32>()) {
            let v4 = Ipv4Addr::from(a);
            let verdict = classify(IpAddr::V4(v4));
            let (hi, lo) = ((a >> 16) as u16, a as u16);
            for wrapped in [
                v4.to_ipv6_mapped(),
                Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
                Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
            ] {
                proptest::prop_assert_eq!(classify(IpAddr::V6(wrapped)), verdict);
            }
        }
    }

    #[tokio::test]
    async fn resolver_filters_what_a_name_resolves_to() {
        let strict = GuardedResolver::new(Arc::new(Policy::default()));
        let err = strict
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost is refused");
        let r = refusal_in(err.as_ref()).expect("a Refusal");
        assert_eq!(r.host, "localhost");
        assert_eq!(r.why, Blocked::Loopback);

        let open = GuardedResolver::new(Arc::new(Policy::from_network(&Network {
            allow_private: true,
            allow: vec![],
        })));
        let addrs: Vec<SocketAddr> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
