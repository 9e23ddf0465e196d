//! The `htu` comparison of RFC 9449 §4.3 step 9: the proof's `htu` and the
//! request's URI are compared after dropping the query and fragment and
//! after syntax-based (RFC 3986 §6.2.2) and scheme-based (§6.2.3)
//! normalisation, so `HTTPS://Server.Example:443/a/./b` and
//! `https://server.example/a/b` are the same target and a proof does not
//! fail on a spelling its client could not know the server would use.
//!
//! Deliberately strict otherwise: only `http` and `https`, no userinfo, a
//! host of ASCII letters, digits, `-` and `.` (or a bracketed IPv6
//! literal), a decimal port, a path of visible ASCII with well-formed
//! percent-escapes. Anything else normalises to nothing and never matches:
//! a comparison that cannot be made is a refusal, not a guess.

/// The longest URI compared, bytes: a bound on the work per proof.
pub const MAX_HTU_LEN: usize = 4096;

/// `uri` without query and fragment, normalised; `None` when it is not an
/// absolute `http`/`https` URI this module accepts.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    if uri.len() > MAX_HTU_LEN {
        return None;
    }
    // The fragment goes first (a `?` inside it is not a query), then the query.
    let uri = uri.split('#').next().unwrap_or_default();
    let uri = uri.split('?').next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = normalize_authority(authority, default_port)?;
    let path = normalize_path(path)?;
    Some(format!("{scheme}://{authority}{path}"))
}

/// `host[:port]`, lowercased, the port dropped when it is the scheme's
/// default (or empty) and written without leading zeros otherwise.
fn normalize_authority(authority: &str, default_port: u16) -> Option<String> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (literal, after) = v6.split_once(']')?;
        if literal.is_empty() || !literal.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{}]", literal.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        if host.is_empty() || !host.bytes().all(ok) {
            return None;
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) => {
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Leading zeros are the same port; more than 5 significant
            // digits is not a port at all.
            let significant = digits.trim_start_matches('0');
            if significant.len() > 5 {
                return None;
            }
            let port: u32 = if significant.is_empty() {
                0
            } else {
                significant.parse().ok()?
            };
            let port = u16::try_from(port).ok()?;
            (port != default_port).then_some(port)
        }
    };
    Some(match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Whether `b` is an RFC 3986 unreserved character: its percent-encoding
/// is the same URI as the character itself (§6.2.2.2).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The path with percent-escapes normalised (unreserved characters
/// decoded, the others' hex digits uppercased) and dot-segments removed
/// (§5.2.4); an empty path is `/` (§6.2.3).
fn normalize_path(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 1);
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let (hi, lo) = (hex(bytes.next()?)?, hex(bytes.next()?)?);
                let decoded = hi * 16 + lo;
                if unreserved(decoded) {
                    out.push(char::from(decoded));
                } else {
                    out.push_str(&format!("%{decoded:02X}"));
                }
            }
            // Visible ASCII only: no spaces, controls or raw UTF-8.
            b'!'..=b'~' => out.push(char::from(b)),
            _ => return None,
        }
    }
    let path = remove_dot_segments(&out);
    Some(if path.is_empty() {
        "/".to_owned()
    } else {
        path
    })
}

/// RFC 3986 §5.2.4, over segments: `.` dropped, `..` drops the one before
/// (never above the root).
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    kept.push("");
                }
            }
            ".." => {
                kept.pop();
                if i == last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    if segments.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(path.len());
    for segment in kept {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}
