//! Connections per client address: without a bound one address could hold
//! every slot of the connection cap (opening connections and sending their
//! heads slowly) and every other client would wait behind it. Addresses
//! are counted as the rate limits count them (IPv4, IPv4-mapped IPv6 as
//! IPv4, other IPv6 by /64); a trusted proxy carries many clients and is
//! not counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::TrustedProxies;

/// The live connections of each address.
pub(super) struct PerAddress {
    limit: usize,
    exempt: TrustedProxies,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; dropping it frees its place.
pub(super) struct AddressSlot {
    owner: Arc<PerAddress>,
    key: Option<IpAddr>,
}

impl PerAddress {
    /// At most `limit` connections per address (0: no bound), except from
    /// `exempt`.
    pub(super) fn new(limit: usize, exempt: TrustedProxies) -> Arc<Self> {
        Arc::new(PerAddress {
            limit,
            exempt,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a connection from `ip`, or `None` when its address
    /// already holds the limit.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let ip = ip.to_canonical();
        if self.limit == 0 || self.exempt.contains(ip) {
            return Some(AddressSlot {
                owner: self.clone(),
                key: None,
            });
        }
        let key = bucket(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: self.clone(),
            key: Some(key),
        })
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(&bucket(ip.to_canonical())).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut counts = self.owner.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (one subscriber's allocation).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_address_holds_at_most_the_limit_and_gets_places_back() {
        let limits = PerAddress::new(2, TrustedProxies::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = limits.admit(ip).unwrap();
        let _b = limits.admit(ip).unwrap();
        assert!(limits.admit(ip).is_none(), "the third is refused");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(limits.admit(mapped).is_none(), "the same address, mapped");
        assert!(limits.admit("192.0.2.2".parse().unwrap()).is_some());
        drop(a);
        assert_eq!(limits.held(ip), 1);
        assert!(limits.admit(ip).is_some(), "a freed place is reused");
    }

    #[test]
    fn ipv6_counts_by_64_and_proxies_are_not_counted() {
        let proxy: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let limits = PerAddress::new(1, proxy);
        let _one = limits.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limits
            .admit("2001:db8:1:2::ffff".parse().unwrap())
            .is_none());
        assert!(limits.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let proxy_ip: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..10).map(|_| limits.admit(proxy_ip)).collect();
        assert!(held.iter().all(Option::is_some));
        assert_eq!(limits.held(proxy_ip), 0);
    }
}
