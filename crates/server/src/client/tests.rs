use super::*;
use axum::http::HeaderValue;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn proxies(list: &[&str]) -> TrustedProxies {
    list.iter()
        .filter_map(|p| p.parse::<TrustedProxies>().ok())
        .collect()
}

fn forwarded(lines: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in lines {
        if let Ok(v) = HeaderValue::from_str(line) {
            h.append("x-forwarded-for", v);
        }
    }
    h
}

fn client(peer: &str, trusted: &[&str], lines: &[&str]) -> Option<String> {
    client_address(Some(ip(peer)), &forwarded(lines), &proxies(trusted)).map(|a| a.to_string())
}

#[test]
fn ranges_and_mapped_addresses_parse() {
    let p = proxies(&[
        "10.0.0.0/8",
        "127.0.0.1",
        "::ffff:192.168.0.0/112",
        "fd00::/8",
    ]);
    assert!(p.contains(ip("10.200.3.4")));
    assert!(p.contains(ip("::ffff:10.1.1.1")), "mapped peer, IPv4 range");
    assert!(p.contains(ip("::ffff:127.0.0.1")), "dual-stack loopback");
    assert!(p.contains(ip("192.168.4.5")), "mapped range, IPv4 peer");
    assert!(p.contains(ip("fd12::1")));
    assert!(!p.contains(ip("11.0.0.1")));
    assert!(!p.contains(ip("127.0.0.2")));
    assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
    assert!("proxy.internal".parse::<TrustedProxies>().is_err());
    // A range with host bits is the network it names.
    assert!(proxies(&["10.1.2.3/8"]).contains(ip("10.9.9.9")));
}

#[test]
fn the_walk_stops_at_the_first_entry_that_is_not_an_address() {
    let t = ["10.0.0.1"];
    assert_eq!(
        client("10.0.0.1", &t, &["198.51.100.7"]).as_deref(),
        Some("198.51.100.7")
    );
    // A forged entry left of garbage is never the client: the proxy is.
    for garbage in ["unknown", "", "198.51.100.7 x", "_hidden"] {
        let line = format!("203.0.113.66, {garbage}");
        assert_eq!(
            client("10.0.0.1", &t, &[&line]).as_deref(),
            Some("10.0.0.1"),
            "{line:?}"
        );
    }
    // Forged entries left of the first untrusted address are ignored.
    assert_eq!(
        client("10.0.0.1", &t, &["1.1.1.1, unknown, 198.51.100.7"]).as_deref(),
        Some("198.51.100.7")
    );
    // `address:port` is an address.
    assert_eq!(
        client("10.0.0.1", &t, &["198.51.100.7:4431"]).as_deref(),
        Some("198.51.100.7")
    );
    assert_eq!(
        client("10.0.0.1", &t, &["[2001:db8::7]:443"]).as_deref(),
        Some("2001:db8::7")
    );
    // Several header lines read as one list; trusted hops are skipped.
    assert_eq!(
        client(
            "10.0.0.1",
            &["10.0.0.0/8"],
            &["198.51.100.7, 10.2.2.2", "10.3.3.3"]
        )
        .as_deref(),
        Some("198.51.100.7")
    );
    // Only trusted hops: the furthest one.
    assert_eq!(
        client("10.0.0.1", &["10.0.0.0/8"], &["10.2.2.2"]).as_deref(),
        Some("10.2.2.2")
    );
    assert_eq!(client("10.0.0.1", &t, &[]).as_deref(), Some("10.0.0.1"));
}

#[test]
fn addresses_are_canonical_and_untrusted_peers_choose_nothing() {
    assert_eq!(
        client("::ffff:203.0.113.9", &[], &["1.1.1.1"]).as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(
        client("::ffff:127.0.0.1", &["127.0.0.1"], &["::ffff:198.51.100.7"]).as_deref(),
        Some("198.51.100.7")
    );
    assert_eq!(
        client_address(None, &HeaderMap::new(), &TrustedProxies::default()),
        None
    );
}

#[test]
fn a_non_text_byte_in_the_clients_part_does_not_hide_the_address_appended() {
    // nginx appends the peer to whatever line the client sent.
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.9") {
        h.append("x-forwarded-for", v);
    }
    let found = client_address(Some(ip("10.0.0.1")), &h, &proxies(&["10.0.0.0/8"]));
    assert_eq!(found, Some(ip("198.51.100.9")));
    // Walking on into the bad entry stops at the last trusted hop.
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(b"\xff\xfe, 10.0.0.2") {
        h.append("x-forwarded-for", v);
    }
    let found = client_address(Some(ip("10.0.0.1")), &h, &proxies(&["10.0.0.0/8"]));
    assert_eq!(found, Some(ip("10.0.0.2")));
}

#[test]
fn client_hints_are_read_from_their_headers() {
    let mut h = HeaderMap::new();
    h.insert(
        "sec-ch-ua-platform",
        HeaderValue::from_static("\"Windows\""),
    );
    h.insert(
        "sec-ch-ua-platform-version",
        HeaderValue::from_static("\"15.0.0\""),
    );
    h.insert(
        "sec-ch-ua",
        HeaderValue::from_static("\"Chromium\";v=\"126\", \"Not-A.Brand\";v=\"8\""),
    );
    let hints = hints(&h);
    assert_eq!(hints.platform.as_deref(), Some("Windows"));
    assert_eq!(hints.platform_version.as_deref(), Some("15.0.0"));
    assert_eq!(hints.browser, Some(("Chromium".into(), "126".into())));
    // A malformed one is as if absent.
    h.insert("sec-ch-ua-platform", HeaderValue::from_static("Windows"));
    assert_eq!(super::hints(&h).platform, None);
}
