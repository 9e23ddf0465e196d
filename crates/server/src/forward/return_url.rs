//! Where a sign-in may send the browser afterwards (`rd`): the one check,
//! so no page and no script follows an address it did not pass. An open
//! redirect on the identity provider is how phishing borrows its name.
//!
//! Allowed: a path on this origin (`/…`, but not `//…` or `/\…`, which
//! browsers read as another host), or an absolute `https` URL (`http` only
//! for loopback hosts) with no user info whose origin is one of keybound's
//! or whose host is the cookie domain or under it. Anything else — other
//! schemes, control characters, backslashes, encoded slashes that would
//! turn a path into a host, an address longer than [`MAX_RETURN`] — is
//! refused and the browser goes to `/me`.

use url::{Host, Url};

/// The longest return address followed.
pub(crate) const MAX_RETURN: usize = 2048;

/// Where to go after signing in, for `rd`: `None` when it is not allowed.
pub(crate) fn allowed(rd: &str, origins: &[String], cookie_domain: Option<&str>) -> Option<String> {
    if rd.is_empty()
        || rd.len() > MAX_RETURN
        || !rd.bytes().all(|b| b.is_ascii_graphic())
        || rd.contains('\\')
    {
        return None;
    }
    if rd.starts_with('/') {
        return relative(rd).then(|| rd.to_owned());
    }
    let url = Url::parse(rd).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host()?;
    let loopback = is_loopback(&host);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return None,
    }
    let origin = url.origin().ascii_serialization();
    let ours = origins.iter().any(|o| o.eq_ignore_ascii_case(&origin));
    let under_domain = match (&host, cookie_domain) {
        (Host::Domain(name), Some(domain)) => {
            let name = name.to_ascii_lowercase();
            let domain = domain.to_ascii_lowercase();
            name == domain || name.ends_with(&format!(".{domain}"))
        }
        _ => false,
    };
    (ours || under_domain).then(|| url.to_string())
}

/// A path that stays on this origin, also once percent-decoded (a server
/// or script that decodes `/%2F%2Fevil` must not find `//evil`).
fn relative(rd: &str) -> bool {
    let decoded = decode(rd);
    [rd, decoded.as_str()]
        .iter()
        .all(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\"))
        && !decoded.chars().any(char::is_control)
}

/// Percent-decoding of ASCII escapes, enough to see slashes and controls.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) if v.is_ascii() => {
                out.push(char::from(v));
                i += 3;
            }
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    out
}

/// `localhost`, `*.localhost` (RFC 6761) and loopback addresses.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rd: &str) -> Option<String> {
        allowed(
            rd,
            &["https://id.example.com".to_owned()],
            Some("example.com"),
        )
    }

    #[test]
    fn own_paths_and_known_hosts_are_followed() {
        assert_eq!(check("/me").as_deref(), Some("/me"));
        assert_eq!(
            check("/oauth2/authorize?client_id=a&x=%2F").as_deref(),
            Some("/oauth2/authorize?client_id=a&x=%2F")
        );
        assert_eq!(
            check("https://id.example.com/x").as_deref(),
            Some("https://id.example.com/x")
        );
        assert_eq!(
            check("https://app.example.com/a?b=c").as_deref(),
            Some("https://app.example.com/a?b=c")
        );
        assert_eq!(
            check("https://example.com/").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(
            check("https://APP.example.com:8443/").as_deref(),
            Some("https://app.example.com:8443/")
        );
        let local = allowed("http://app.localhost:8080/x", &[], Some("localhost"));
        assert_eq!(local.as_deref(), Some("http://app.localhost:8080/x"));
    }

    #[test]
    fn hostile_return_addresses_go_nowhere() {
        for rd in [
            "",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f%5Cevil.example",
            "/%5C%5Cevil.example",
            "/a%0d%0aSet-Cookie:x",
            "https://evil.example",
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://evil.example\\@app.example.com",
            "https://evil.example%5C@app.example.com",
            "https://user@app.example.com/",
            "https://user:pw@app.example.com/",
            "https://app.example.com@evil.example/",
            "https://notexample.com/",
            "http://app.example.com/",
            "http://id.example.com/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://app.example.com/",
            "https:/evil.example",
            "https:evil.example",
            "evil.example",
            "/a\tb",
            "https://app.example.com/\n",
            "\thttps://app.example.com/",
            "https://app.example.com/é",
            "https://1.2.3.4/",
        ] {
            assert_eq!(check(rd), None, "{rd:?}");
        }
        let huge = format!("/{}", "a".repeat(MAX_RETURN));
        assert_eq!(check(&huge), None);
        // http only for loopback hosts, and never a look-alike of one.
        assert_eq!(
            allowed("http://localhost.evil.example/", &[], Some("localhost")),
            None
        );
        // Without a cookie domain, only keybound's own origins.
        assert_eq!(
            allowed(
                "https://app.example.com/",
                &["https://id.example.com".to_owned()],
                None
            ),
            None
        );
    }
}
