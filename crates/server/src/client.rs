//! Who is asking: the client address that rate limits and the audit log
//! use, from the socket or, behind a trusted reverse proxy, from
//! `X-Forwarded-For`.
//!
//! The header is read from the right, where the proxies we trust appended
//! what they saw; everything to the left of the first address we do not
//! trust was written by that client and is ignored. An entry that is not an
//! address (`unknown`, garbage) ends the walk: the client is then the
//! nearest hop we trust, never an entry further left (which anyone could
//! have forged). Addresses are canonical: `::ffff:1.2.3.4`, what a
//! dual-stack listener reports for an IPv4 peer, is `1.2.3.4`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
pub use ipnet::IpNet;
use keybound_service::posture::ClientHints;
use keybound_service::ClientContext;

use crate::AppState;

/// The reverse proxies whose `X-Forwarded-For` names the client: addresses
/// or CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// These ranges; IPv4-mapped IPv6 ranges become the IPv4 ones.
    pub fn new(ranges: impl IntoIterator<Item = IpNet>) -> Self {
        TrustedProxies(ranges.into_iter().map(canonical_net).collect())
    }

    /// Whether `ip` (canonicalised first) is one of them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `10.0.0.1` or `10.0.0.0/8`, `::1` or `fd00::/8`: a bare address is a
/// range of one.
impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => text
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("{text:?}: expected an IP address or CIDR range"))?,
        };
        Ok(TrustedProxies::new([net]))
    }
}

impl FromIterator<TrustedProxies> for TrustedProxies {
    fn from_iter<I: IntoIterator<Item = TrustedProxies>>(iter: I) -> Self {
        TrustedProxies(iter.into_iter().flat_map(|t| t.0).collect())
    }
}

/// `::ffff:10.0.0.0/104` is `10.0.0.0/8`.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let (IpAddr::V4(v4), Some(len)) = (
            IpAddr::V6(v6.network()).to_canonical(),
            v6.prefix_len().checked_sub(96),
        ) {
            if let Ok(net) = ipnet::Ipv4Net::new(v4, len) {
                return IpNet::V4(net);
            }
        }
    }
    net.trunc()
}

/// One `X-Forwarded-For` entry: an address, or `address:port` as some
/// proxies write it.
fn entry(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address: the socket peer, or behind trusted proxies the
/// nearest address they vouch for (see the module documentation).
pub(crate) fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    proxies: &TrustedProxies,
) -> Option<IpAddr> {
    let mut client = peer?.to_canonical();
    if !proxies.contains(client) {
        return Some(client);
    }
    // Entries are read from the raw bytes: a proxy appends the real
    // address to whatever line the client sent, so one non-text byte in
    // the client's part must end the walk at that entry, not hide the
    // address the proxy appended after it.
    let lines: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    for line in lines.into_iter().rev() {
        for raw in line.rsplit(|b| *b == b',') {
            let Ok(text) = std::str::from_utf8(raw) else {
                return Some(client);
            };
            match entry(text) {
                Some(ip) if proxies.contains(ip) => client = ip,
                Some(ip) => return Some(ip),
                None => return Some(client),
            }
        }
    }
    Some(client)
}

/// The request's [`ClientContext`]: its client address and user agent,
/// truncated.
pub(crate) fn context(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> ClientContext {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    ClientContext {
        ip: client_address(peer, headers, &state.trusted_proxies).map(|ip| ip.to_string()),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        hints: hints(headers),
    }
}

/// The User-Agent Client Hints the browser sent (it sends the high-entropy
/// ones only after [`ACCEPT_CH`] asked for them); each parsed strictly by
/// the service, so a malformed one is as if absent.
pub(crate) fn hints(headers: &HeaderMap) -> ClientHints {
    let raw = |name: &str| headers.get(name).map(|v| v.as_bytes());
    ClientHints::from_headers(
        raw("sec-ch-ua-platform"),
        raw("sec-ch-ua-platform-version"),
        raw("sec-ch-ua"),
        raw("sec-ch-ua-full-version-list"),
    )
}

/// What HTML responses ask the browser to send from then on: the platform
/// version and the full browser version (the platform and the major
/// version come unasked). Recorded at a device proof as posture.
pub(crate) const ACCEPT_CH: &str = "Sec-CH-UA-Platform-Version, Sec-CH-UA-Full-Version-List";

#[cfg(test)]
mod tests;
