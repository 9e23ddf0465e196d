//! Which bucket a client address falls in.
//!
//! One person, one bucket: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`,
//! what a dual-stack listener reports for an IPv4 peer) is the IPv4 address
//! it carries, and an IPv6 client is its /64, the smallest network an
//! ISP hands one subscriber (RFC 6177): anyone holding a /64 can use every
//! address in it, so per-/128 buckets would give them 2^64 budgets.

use std::net::{IpAddr, Ipv6Addr};

/// The bucket of `ip` (the client address as [`crate::ClientContext`]
/// carries it): `1.2.3.4` or `2001:db8:1:2::/64`. Addresses that do not
/// parse (none should reach here) and absent ones share `unknown`.
pub(crate) fn bucket_of(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
        Some(ip) => match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        None => "unknown".to_owned(),
    }
}
