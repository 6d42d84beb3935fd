//! Property tests of CIDR matching (`allowedIPs`, `trustedProxies`,
//! `network.allow`): `IpNetwork::contains` agrees with plain mask
//! arithmetic for every address and prefix length, v4 and v6, and a v4
//! peer reported as IPv4-mapped IPv6 matches its v4 networks.

use clawhooks::config::IpNetwork;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn mask4(bits: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0)
}

fn mask6(bits: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0)
}

proptest! {
    #[test]
    fn v4_contains_is_mask_arithmetic(net in any::<u32>(), bits in 0u8..=32, addr in any::<u32>()) {
        let text = format!("{}/{bits}", Ipv4Addr::from(net));
        let n: IpNetwork = text.parse().unwrap();
        let expected = net & mask4(bits) == addr & mask4(bits);
        prop_assert_eq!(n.contains(IpAddr::V4(Ipv4Addr::from(addr))), expected);
        // The same peer seen through a dual-stack socket.
        let mapped = IpAddr::V6(Ipv4Addr::from(addr).to_ipv6_mapped());
        prop_assert_eq!(n.contains(mapped), expected);
    }

    #[test]
    fn v4_network_contains_its_own_range_ends(net in any::<u32>(), bits in 0u8..=32) {
        let n: IpNetwork = format!("{}/{bits}", Ipv4Addr::from(net)).parse().unwrap();
        let first = net & mask4(bits);
        let last = first | !mask4(bits);
        prop_assert!(n.contains(IpAddr::V4(first.into())));
        prop_assert!(n.contains(IpAddr::V4(last.into())));
        if let Some(before) = first.checked_sub(1) {
            prop_assert!(!n.contains(IpAddr::V4(before.into())));
        }
        if let Some(after) = last.checked_add(1) {
            prop_assert!(!n.contains(IpAddr::V4(after.into())));
        }
    }

    #[test]
    fn v6_contains_is_mask_arithmetic(net in any::<u128>(), bits in 0u8..=128, addr in any::<u128>(), near in any::<bool>()) {
        // Half the cases put the address inside the network's prefix, so
        // both answers are exercised at long prefixes too.
        let addr = if near { (net & mask6(bits)) | (addr & !mask6(bits)) } else { addr };
        let n: IpNetwork = format!("{}/{bits}", Ipv6Addr::from(net)).parse().unwrap();
        let expected = net & mask6(bits) == addr & mask6(bits);
        prop_assert_eq!(n.contains(IpAddr::V6(Ipv6Addr::from(addr))), expected);
    }

    #[test]
    fn single_address_is_its_own_network(a in any::<u32>(), b in any::<u32>()) {
        let n: IpNetwork = Ipv4Addr::from(a).to_string().parse().unwrap();
        prop_assert!(n.contains(IpAddr::V4(a.into())));
        prop_assert_eq!(n.contains(IpAddr::V4(b.into())), a == b);
    }

    #[test]
    fn config_spelling_round_trips(net in any::<u32>(), bits in 0u8..=32) {
        let n: IpNetwork = format!("{}/{bits}", Ipv4Addr::from(net)).parse().unwrap();
        let text = serde_json::to_value(n).unwrap();
        let back: IpNetwork = serde_json::from_value(text).unwrap();
        prop_assert_eq!(back, n);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic(s in "\\PC{0,40}") {
        let _ = s.parse::<IpNetwork>();
    }
}
