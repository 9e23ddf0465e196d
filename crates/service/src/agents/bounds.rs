//! The bounds of a task request, checked before policy sees it. Resources
//! are normalised so that one API has one spelling (policy names it, the
//! token's `aud` carries it, forward-auth matches request URLs against
//! it): lower-case scheme and host, no default port, a path of at least
//! `/`, no query, fragment, user info or dot segments.

use crate::Refusal;

/// Resources a task may name at most.
pub const MAX_TASK_RESOURCES: usize = 16;
/// The longest resource URI, bytes.
pub const MAX_RESOURCE_LEN: usize = 512;
/// Actions a task may name at most.
pub const MAX_TASK_ACTIONS: usize = 16;
/// The longest action, characters.
pub const MAX_ACTION_LEN: usize = 64;
/// The longest purpose, characters.
pub const MAX_PURPOSE_CHARS: usize = 500;
/// The shortest task lifetime, seconds.
pub const MIN_TASK_LIFETIME_S: i64 = 60;

/// One resource URI, normalised; `None` when it is not an absolute https
/// URI (http only for `localhost`, `127.0.0.1` or `[::1]`) within bounds.
pub(crate) fn resource(raw: &str) -> Option<String> {
    if raw.len() > MAX_RESOURCE_LEN
        || raw
            .bytes()
            .any(|b| !b.is_ascii_graphic() || b == b'#' || b == b'?' || b == b'\\')
    {
        return None;
    }
    let (scheme, rest) = raw.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = split_port(&authority)?;
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && !host.starts_with(['.', '-'])
            && !host.ends_with('-')
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    };
    if !host_ok {
        return None;
    }
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" if local => 80,
        _ => return None,
    };
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return None;
    }
    let port = match port {
        Some(p) if p == default_port => String::new(),
        Some(p) => format!(":{p}"),
        None => String::new(),
    };
    Some(format!("{scheme}://{host}{port}{path}"))
}

/// `host[:port]`; the port, when there is one, 1-65535 in digits.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_at = if authority.starts_with('[') {
        authority.find(']').map(|i| i + 1)
    } else {
        authority.find(':')
    };
    match port_at {
        Some(i) if i < authority.len() => {
            let host = authority.get(..i)?;
            let port = authority.get(i..)?.strip_prefix(':')?;
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            match port.parse::<u16>() {
                Ok(0) | Err(_) => None,
                Ok(p) => Some((host, Some(p))),
            }
        }
        _ => Some((authority, None)),
    }
}

/// The resources normalised, sorted, without duplicates.
pub(crate) fn resources(raw: &[String]) -> Result<Vec<String>, Refusal> {
    if raw.is_empty() || raw.len() > MAX_TASK_RESOURCES {
        return Err(Refusal::TaskInvalidResource);
    }
    let mut out = raw
        .iter()
        .map(|r| resource(r).ok_or(Refusal::TaskInvalidResource))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// The actions checked (`[a-z0-9:._-]{1,64}`), sorted, without duplicates.
pub(crate) fn actions(raw: &[String]) -> Result<Vec<String>, Refusal> {
    if raw.is_empty() || raw.len() > MAX_TASK_ACTIONS {
        return Err(Refusal::TaskInvalidAction);
    }
    let ok = |a: &String| {
        !a.is_empty()
            && a.len() <= MAX_ACTION_LEN
            && a.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b':' | b'.' | b'_' | b'-')
            })
    };
    if !raw.iter().all(ok) {
        return Err(Refusal::TaskInvalidAction);
    }
    let mut out = raw.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The purpose: at most [`MAX_PURPOSE_CHARS`] characters, nothing a
/// terminal or page could be fooled by (controls, bidi overrides).
pub(crate) fn purpose(raw: &str) -> Result<String, Refusal> {
    let too_long = raw.chars().nth(MAX_PURPOSE_CHARS).is_some();
    if too_long || raw.chars().any(keybound_names::text::is_hazardous) {
        return Err(Refusal::TaskInvalidPurpose);
    }
    Ok(raw.to_owned())
}

/// The lifetime asked for, or `default`; within `MIN_TASK_LIFETIME_S..=max`.
pub(crate) fn lifetime(raw: Option<i64>, default: i64, max: i64) -> Result<i64, Refusal> {
    let lifetime = raw.unwrap_or(default);
    if (MIN_TASK_LIFETIME_S..=max).contains(&lifetime) {
        Ok(lifetime)
    } else {
        Err(Refusal::TaskInvalidLifetime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_have_one_spelling() {
        for (raw, want) in [
            ("https://api.example.test", "https://api.example.test/"),
            (
                "HTTPS://API.Example.TEST/Path",
                "https://api.example.test/Path",
            ),
            (
                "https://api.example.test:443/x",
                "https://api.example.test/x",
            ),
            (
                "https://api.example.test:8443/x",
                "https://api.example.test:8443/x",
            ),
            ("http://localhost:8080/", "http://localhost:8080/"),
            ("http://127.0.0.1/a", "http://127.0.0.1/a"),
            ("http://[::1]:80/a", "http://[::1]/a"),
            ("https://[2001:db8::1]/", "https://[2001:db8::1]/"),
        ] {
            assert_eq!(resource(raw).as_deref(), Some(want), "{raw}");
        }
    }

    #[test]
    fn hostile_resources_are_refused() {
        let long = format!("https://a.test/{}", "x".repeat(MAX_RESOURCE_LEN));
        for raw in [
            "",
            "api.example.test/",
            "/relative",
            "http://api.example.test/",
            "ftp://api.example.test/",
            "https://",
            "https:///path",
            "https://user@api.example.test/",
            "https://api.example.test/?q=1",
            "https://api.example.test/#frag",
            "https://api.example.test/a/../admin",
            "https://api.example.test/./a",
            "https://api.example.test/a b",
            "https://api.example.test:0/",
            "https://api.example.test:99999/",
            "https://api.example.test:/",
            "https://api.exa_mple.test/",
            "https://-api.test/",
            "https://api.example.test\\@evil.test/",
            "https://api.example.test/\u{202e}",
            long.as_str(),
        ] {
            assert_eq!(resource(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn lists_are_bounded_sorted_and_deduplicated() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resources(&list(&[
                "https://b.test/",
                "https://A.test",
                "https://a.test/"
            ])),
            Ok(list(&["https://a.test/", "https://b.test/"]))
        );
        assert_eq!(resources(&[]), Err(Refusal::TaskInvalidResource));
        let many: Vec<String> = (0..=MAX_TASK_RESOURCES)
            .map(|i| format!("https://a{i}.test/"))
            .collect();
        assert_eq!(resources(&many), Err(Refusal::TaskInvalidResource));
        assert_eq!(
            actions(&list(&["write", "read", "read"])),
            Ok(list(&["read", "write"]))
        );
        for bad in [
            "",
            "Read",
            "read write",
            "a/b",
            &"a".repeat(MAX_ACTION_LEN + 1),
        ] {
            assert_eq!(
                actions(&list(&[bad])),
                Err(Refusal::TaskInvalidAction),
                "{bad}"
            );
        }
        assert!(actions(&list(&["payments:refund", "a.b_c-d"])).is_ok());
        let many: Vec<String> = (0..=MAX_TASK_ACTIONS).map(|i| format!("a{i}")).collect();
        assert_eq!(actions(&many), Err(Refusal::TaskInvalidAction));
    }

    #[test]
    fn purpose_and_lifetime_are_bounded() {
        assert!(purpose("weekly report").is_ok());
        assert!(purpose(&"x".repeat(MAX_PURPOSE_CHARS)).is_ok());
        assert_eq!(
            purpose(&"x".repeat(MAX_PURPOSE_CHARS + 1)),
            Err(Refusal::TaskInvalidPurpose)
        );
        assert_eq!(purpose("a\u{1b}[2J"), Err(Refusal::TaskInvalidPurpose));
        assert_eq!(purpose("a\u{202e}b"), Err(Refusal::TaskInvalidPurpose));
        assert_eq!(lifetime(None, 900, 3600), Ok(900));
        assert_eq!(lifetime(Some(60), 900, 3600), Ok(60));
        assert_eq!(lifetime(Some(3600), 900, 3600), Ok(3600));
        assert_eq!(
            lifetime(Some(59), 900, 3600),
            Err(Refusal::TaskInvalidLifetime)
        );
        assert_eq!(
            lifetime(Some(3601), 900, 3600),
            Err(Refusal::TaskInvalidLifetime)
        );
        assert_eq!(
            lifetime(Some(-1), 900, 3600),
            Err(Refusal::TaskInvalidLifetime)
        );
    }
}
