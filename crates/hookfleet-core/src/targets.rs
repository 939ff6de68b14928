//! Which addresses the fleet refuses to deliver to unless told otherwise (SSRF): anything that
//! is not a public unicast address on someone else's machine. That is loopback, private,
//! link-local, shared (CGNAT), benchmarking, documentation, reserved, multicast, unspecified
//! and unique- or site-local addresses; IPv6 forms that carry an IPv4 address inside them
//! (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo) are judged by the
//! address they carry; and any address of this host itself ([`is_own_address`]).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

fn v4_is_private(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let in_net = |net: [u8; 4], bits: u32| {
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
    };
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || in_net([100, 64, 0, 0], 10) // shared address space (CGNAT)
        || in_net([192, 0, 0, 0], 24) // IETF protocol assignments
        || in_net([192, 0, 2, 0], 24) // documentation
        || in_net([198, 51, 100, 0], 24)
        || in_net([203, 0, 113, 0], 24)
        || in_net([192, 88, 99, 0], 24) // 6to4 relay anycast
        || in_net([198, 18, 0, 0], 15) // benchmarking
        || in_net([240, 0, 0, 0], 4) // reserved
}

/// The IPv4 address an IPv6 address stands for, in the forms that embed one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last32),
        // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        [0, 0, 0, 0, 0, 0, _, _] => Some(last32),
        // NAT64 well-known prefix 64:ff9b::/96
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last32),
        // 6to4 2002:AABB:CCDD::/48
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        // Teredo 2001:0::/32: the client's address is stored inverted in the last 32 bits
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(last32))),
        _ => None,
    }
}

fn v6_is_private(ip: Ipv6Addr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    if let Some(v4) = embedded_v4(ip) {
        return v4_is_private(v4);
    }
    let s = ip.segments();
    ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
}

/// Whether `ip` is outside the public unicast space (see the module's list).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_private(v4),
        IpAddr::V6(v6) => v6_is_private(v6),
    }
}

/// Whether `ip` is one of this host's own addresses, e.g. its public interface address, which
/// would reach services listening on this machine. The one check here that asks the
/// operating system: binding a socket to an address succeeds only if the host holds it.
pub fn is_own_address(ip: IpAddr) -> bool {
    UdpSocket::bind((ip, 0)).is_ok()
}

/// Why the fleet refuses to deliver to `ip`, if it does.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    if is_private(ip) {
        Some("a loopback, private, link-local or reserved address")
    } else if is_own_address(ip) {
        Some("an address of this host")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for p in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "192.0.0.8",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:0:127.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo for 127.0.0.1
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(is_private(p.parse().unwrap()), "{p}");
        }
        for p in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "172.32.0.1",
            "198.20.0.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(p.parse().unwrap()), "{p}");
        }
    }

    #[test]
    fn the_hosts_own_addresses_are_refused() {
        assert!(is_own_address("127.0.0.1".parse().unwrap()));
        // TEST-NET-3 is never assigned to a real interface.
        assert!(!is_own_address("203.0.113.77".parse().unwrap()));
        assert!(refusal("8.8.8.8".parse().unwrap()).is_none());
        assert!(refusal("10.0.0.1".parse().unwrap()).is_some());
    }
}
