//! Addresses in config: a CIDR (`192.168.1.0/24`, `2001:db8::/32`) or a single
//! address (`10.0.0.1`), which is the same as its /32 or /128.

use super::error::ConfigError;
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork(pub IpNet);

impl IpNetwork {
    /// Whether `addr` lies in this network. An IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.1`, as dual-stack sockets report v4 peers) matches
    /// the v4 network it maps.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.contains(&addr)
    }
}

/// Folds an IPv4-mapped IPv6 address to plain IPv4.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

impl FromStr for IpNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(net) = IpNet::from_str(t) {
            return Ok(IpNetwork(net.trunc()));
        }
        if let Ok(addr) = IpAddr::from_str(t) {
            return Ok(IpNetwork(IpNet::from(canonical(addr))));
        }
        Err(format!("invalid CIDR {s:?}"))
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for IpNetwork {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl JsonSchema for IpNetwork {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IpNetwork".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A CIDR such as 192.168.1.0/24 or 2001:db8::/32, or a single address",
            "type": "string"
        })
    }
}

/// A host as written in config or a URL, compared: no brackets, no
/// trailing dot, lower case.
pub fn normalize_host(h: &str) -> String {
    h.trim()
        .trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Load-time check of `webhooks.network.allow`: an entry that looks like a
/// CIDR but is not one would otherwise be taken for a host name and match
/// nothing, silently.
pub fn check_network(n: &super::Network) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (i, entry) in n.allow.iter().enumerate() {
        let e = normalize_host(entry);
        let is_net = e.parse::<IpNetwork>().is_ok();
        let host_like = !e.is_empty()
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !is_net && !host_like {
            errors.push(ConfigError::new(
                format!("webhooks.network.allow[{i}]"),
                format!(
                    "{entry:?} is neither a CIDR, an address nor a host name (no port, no scheme)"
                ),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_addresses_and_cidrs() {
        let net: IpNetwork = "192.168.1.0/24".parse().unwrap();
        assert!(net.contains("192.168.1.77".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        assert!(net.contains("::ffff:192.168.1.5".parse().unwrap()));
        let one: IpNetwork = "10.0.0.1".parse().unwrap();
        assert!(one.contains("10.0.0.1".parse().unwrap()));
        assert!(!one.contains("10.0.0.2".parse().unwrap()));
        let v6: IpNetwork = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert_eq!(
            "10.0.0.300".parse::<IpNetwork>().unwrap_err(),
            "invalid CIDR \"10.0.0.300\""
        );
    }

    #[test]
    fn allow_entries_are_checked_at_load() {
        let n = super::super::Network {
            allow_private: false,
            allow: vec![
                "10.0.0.0/8".into(),
                "::1".into(),
                "[fd00::1]".into(),
                "api.internal".into(),
                "10.0.0.0/33".into(),
                "http://x".into(),
                "host:8080".into(),
                "".into(),
            ],
        };
        let errors: Vec<String> = check_network(&n).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            vec![
                "webhooks.network.allow[4]: \"10.0.0.0/33\" is neither a CIDR, an address nor a host name (no port, no scheme)",
                "webhooks.network.allow[5]: \"http://x\" is neither a CIDR, an address nor a host name (no port, no scheme)",
                "webhooks.network.allow[6]: \"host:8080\" is neither a CIDR, an address nor a host name (no port, no scheme)",
                "webhooks.network.allow[7]: \"\" is neither a CIDR, an address nor a host name (no port, no scheme)",
            ]
        );
    }
}
