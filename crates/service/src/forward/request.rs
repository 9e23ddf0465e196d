//! The request a proxy asks about, checked before anything looks at it:
//! the method, scheme, host and URI come from headers the proxy set (and,
//! through it, from the client), so each is bounded and must be what its
//! grammar allows. Anything else is malformed: the proxy gets a 400, never
//! a decision about a request nobody could have sent.

use std::fmt;

/// Longest method accepted (the longest registered one is 17 bytes).
pub const MAX_METHOD: usize = 24;
/// Longest host accepted (a DNS name is at most 253, plus a port).
pub const MAX_HOST: usize = 262;
/// Longest request URI accepted (path and query).
pub const MAX_URI: usize = 8192;

/// Why a forwarded request was refused before any decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The method is missing, too long or not a token of letters.
    Method,
    /// The scheme is neither `http` nor `https`.
    Scheme,
    /// The host is missing, too long or not a host name / address.
    Host,
    /// The URI is missing, too long, not absolute-path, not visible
    /// ASCII, or its path is not canonical (see `canonical_path`).
    Uri,
    /// The full URL (`X-Original-URL`) is not `scheme://host/uri`.
    Url,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Method => "malformed method",
            Malformed::Scheme => "malformed scheme",
            Malformed::Host => "malformed host",
            Malformed::Uri => "malformed uri",
            Malformed::Url => "malformed url",
        })
    }
}

/// One proxied request: what forward-auth decides about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    method: String,
    scheme: String,
    host: String,
    uri: String,
}

impl ForwardedRequest {
    /// Checks and normalises the four parts: the method upper case, the
    /// scheme and host lower case, a default port (`:443` for https, `:80`
    /// for http) dropped.
    pub fn new(method: &str, scheme: &str, host: &str, uri: &str) -> Result<Self, Malformed> {
        if method.is_empty()
            || method.len() > MAX_METHOD
            || !method.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(Malformed::Method);
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(Malformed::Scheme);
        }
        let host = normal_host(host, &scheme).ok_or(Malformed::Host)?;
        if uri.len() > MAX_URI
            || !uri.starts_with('/')
            || !uri.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Malformed::Uri);
        }
        let end = uri.find(['?', '#']).unwrap_or(uri.len());
        if !canonical_path(uri.get(..end).unwrap_or_default()) {
            return Err(Malformed::Uri);
        }
        Ok(ForwardedRequest {
            method: method.to_ascii_uppercase(),
            scheme,
            host,
            uri: uri.to_owned(),
        })
    }

    /// From a full URL (nginx's `X-Original-URL`) and a method.
    pub fn from_url(method: &str, url: &str) -> Result<Self, Malformed> {
        if url.len() > MAX_URI + MAX_HOST + 8 {
            return Err(Malformed::Url);
        }
        let (scheme, rest) = url.split_once("://").ok_or(Malformed::Url)?;
        let (host, uri) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        ForwardedRequest::new(method, scheme, host, uri)
    }

    /// The method, upper case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lower case, with a port only if not the default one.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The request URI (path and query).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The path: the URI without its query or fragment.
    pub fn path(&self) -> &str {
        let end = self.uri.find(['?', '#']).unwrap_or(self.uri.len());
        self.uri.get(..end).unwrap_or("/")
    }

    /// The URL the client asked for, to come back to after signing in.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.uri)
    }
}

/// Whether `path` is the one spelling of itself, so a policy on a path
/// prefix sees what the app will serve. An app decodes `/%61dmin`, collapses
/// `//admin`, resolves `/x/../admin` and drops `;params` before routing,
/// while Cedar compares the text: each would slip past a `forbid` on
/// `/admin*`. Rather than guess how each app canonicalises, such paths are
/// refused: no `.` or `..` segment, no empty segment, no `\` or `;`, and no
/// percent-escape of a character that needs none (unreserved, `/`, `\`,
/// `;`, `%` itself is fine) or that is not two hex digits.
fn canonical_path(path: &str) -> bool {
    if path.contains("//") || path.contains(['\\', ';']) {
        return false;
    }
    if path
        .split('/')
        .skip(1)
        .any(|segment| segment == "." || segment == "..")
    {
        return false;
    }
    let bytes = path.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'%'))
    {
        let escape = at + offset;
        let digits = bytes
            .get(escape + 1..escape + 3)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        let Some(value) = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 16).ok())
        else {
            return false;
        };
        if value.is_ascii_alphanumeric() || b"-._~/\\;".contains(&value) {
            return false;
        }
        at = escape + 3;
    }
    true
}

/// `host` or `host:port`, `[v6]` or `[v6]:port`; lower case, default port
/// dropped. Letters, digits, `-` and `.` in a name.
fn normal_host(host: &str, scheme: &str) -> Option<String> {
    if host.is_empty() || host.len() > MAX_HOST {
        return None;
    }
    let host = host.to_ascii_lowercase();
    // `app.example.com.` is the same name as `app.example.com` to DNS, so
    // it must be the same `App` to policy.
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host.as_str(), None),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        let ok = !name.is_empty()
            && name.len() <= 253
            && !name.starts_with(['.', '-'])
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !ok {
            return None;
        }
        (name.to_owned(), port)
    };
    match port {
        None => Some(name),
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u16 = p.parse().ok().filter(|n| *n > 0)?;
            let default = if scheme == "https" { 443 } else { 80 };
            Some(if n == default {
                name
            } else {
                format!("{name}:{n}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_normalised() {
        let r = ForwardedRequest::new("get", "HTTPS", "App.Example.COM:443", "/a/b?x=1").unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.host(), "app.example.com");
        assert_eq!(r.path(), "/a/b");
        assert_eq!(r.url(), "https://app.example.com/a/b?x=1");
        let r = ForwardedRequest::new("GET", "http", "app:8080", "/").unwrap();
        assert_eq!(r.host(), "app:8080");
        let r = ForwardedRequest::new("GET", "http", "[::1]:80", "/").unwrap();
        assert_eq!(r.host(), "[::1]");
        let r = ForwardedRequest::from_url("GET", "https://app.example.com").unwrap();
        assert_eq!(r.uri(), "/");
    }

    #[test]
    fn hostile_parts_are_malformed() {
        fn ok(m: &str, s: &str, h: &str, u: &str) -> Result<ForwardedRequest, Malformed> {
            ForwardedRequest::new(m, s, h, u)
        }
        assert_eq!(ok("", "https", "a", "/"), Err(Malformed::Method));
        assert_eq!(ok("G T", "https", "a", "/"), Err(Malformed::Method));
        assert_eq!(
            ok(&"G".repeat(25), "https", "a", "/"),
            Err(Malformed::Method)
        );
        assert_eq!(ok("GET", "ftp", "a", "/"), Err(Malformed::Scheme));
        assert_eq!(ok("GET", "https", "", "/"), Err(Malformed::Host));
        assert_eq!(ok("GET", "https", "a b", "/"), Err(Malformed::Host));
        assert_eq!(ok("GET", "https", "a@b", "/"), Err(Malformed::Host));
        assert_eq!(ok("GET", "https", "a:0", "/"), Err(Malformed::Host));
        assert_eq!(ok("GET", "https", "a:99999", "/"), Err(Malformed::Host));
        assert_eq!(ok("GET", "https", "[zz]", "/"), Err(Malformed::Host));
        assert_eq!(
            ok("GET", "https", &"a".repeat(300), "/"),
            Err(Malformed::Host)
        );
        assert_eq!(ok("GET", "https", "a", "x"), Err(Malformed::Uri));
        assert_eq!(ok("GET", "https", "a", "/a b"), Err(Malformed::Uri));
        assert_eq!(ok("GET", "https", "a", "/a\tb"), Err(Malformed::Uri));
        assert_eq!(ok("GET", "https", "a", "/é"), Err(Malformed::Uri));
        let long = format!("/{}", "a".repeat(MAX_URI));
        assert_eq!(ok("GET", "https", "a", &long), Err(Malformed::Uri));
        // Paths an app would read as another path are refused (a forbid on
        // `/admin*` must not be walked around).
        for path in [
            "/%61dmin/users",
            "/%2fadmin",
            "/%2Fadmin",
            "/%2e%2e/admin",
            "//admin/users",
            "/./admin/users",
            "/x/../admin/users",
            "/admin/..",
            "/admin/.",
            "/;/admin/users",
            "/admin;jsessionid=1",
            "/admin\\users",
            "/%5cadmin",
            "/%zz",
            "/%4",
            "/admin%",
            "/%+4",
        ] {
            assert_eq!(ok("GET", "https", "a", path), Err(Malformed::Uri), "{path}");
        }
        // Escapes that are needed stay, and the query is not the path.
        for uri in [
            "/caf%C3%A9",
            "/a%20b",
            "/100%25",
            "/a?next=//x/../y;%61",
            "/.well-known/x",
        ] {
            assert!(ok("GET", "https", "a", uri).is_ok(), "{uri}");
        }
        assert_eq!(
            ok("GET", "https", "App.Example.com.", "/").unwrap().host(),
            "app.example.com"
        );
        assert_eq!(
            ok("GET", "https", "app.example.com.:8443", "/")
                .unwrap()
                .host(),
            "app.example.com:8443"
        );
        assert_eq!(ok("GET", "https", ".", "/"), Err(Malformed::Host));
        assert_eq!(
            ForwardedRequest::from_url("GET", "app.example.com/x"),
            Err(Malformed::Url)
        );
        assert_eq!(
            ForwardedRequest::from_url("GET", "javascript://x/"),
            Err(Malformed::Scheme)
        );
    }
}
