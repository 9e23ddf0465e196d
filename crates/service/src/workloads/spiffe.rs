//! The shapes of client text the workloads context accepts, each checked
//! once here: trust domains and SPIFFE IDs (SPIFFE-ID §2, §3), selectors,
//! node names and sets, DNS names, hints. Every bound is a constant so
//! the manual can quote it.

use crate::{Refusal, ServiceError};

/// The longest SPIFFE ID, in bytes (SPIFFE-ID §2.3 lets URIs be long;
/// X.509 SAN fields and JWT `sub` claims should not be).
pub(crate) const MAX_SPIFFE_ID: usize = 2048;
/// The longest trust domain name (SPIFFE-ID §2.1).
pub(crate) const MAX_TRUST_DOMAIN: usize = 255;
/// Selectors an entry may hold.
pub(crate) const MAX_SELECTORS: usize = 16;
/// The longest selector, in bytes.
pub(crate) const MAX_SELECTOR: usize = 1024;
/// DNS names an entry may put in its SVIDs.
pub(crate) const MAX_DNS_NAMES: usize = 16;
/// Trust domains an entry may federate with.
pub(crate) const MAX_FEDERATES: usize = 16;
/// The longest hint, in characters.
pub(crate) const MAX_HINT: usize = 128;
/// The longest node name or node set label.
pub(crate) const MAX_NODE_NAME: usize = 63;
/// Sets one node may be in.
pub(crate) const MAX_NODE_SETS: usize = 16;
/// The path prefix reserved for nodes' own SPIFFE IDs.
pub(crate) const NODE_PATH: &str = "/keybound/node/";

fn rejected(refusal: Refusal) -> ServiceError {
    ServiceError::Rejected(refusal)
}

/// A trust domain name: 1-255 of `a-z 0-9 . - _` (SPIFFE-ID §2.1: lower
/// case only, no port, no user info).
pub(crate) fn trust_domain(raw: &str) -> Result<String, ServiceError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_TRUST_DOMAIN
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(rejected(Refusal::WorkloadInvalidTrustDomain))
    }
}

/// A SPIFFE ID's trust domain and path, or `workload_invalid_spiffe_id`:
/// scheme `spiffe://`, a valid trust domain, a path of non-empty segments
/// of `A-Z a-z 0-9 . - _`, none `.` or `..`, no query or fragment
/// (SPIFFE-ID §2.2). The path may be empty only if `allow_empty_path`.
pub(crate) fn spiffe_id(
    raw: &str,
    allow_empty_path: bool,
) -> Result<(String, String), ServiceError> {
    let invalid = || rejected(Refusal::WorkloadInvalidSpiffeId);
    if raw.len() > MAX_SPIFFE_ID {
        return Err(invalid());
    }
    let rest = raw.strip_prefix("spiffe://").ok_or_else(invalid)?;
    let (td, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let td = trust_domain(td).map_err(|_| invalid())?;
    if path.is_empty() {
        return if allow_empty_path {
            Ok((td, String::new()))
        } else {
            Err(invalid())
        };
    }
    for segment in path.split('/').skip(1) {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            return Err(invalid());
        }
    }
    Ok((td, path.to_owned()))
}

/// A workload's SPIFFE ID as stored: valid, in `ours`, not under
/// [`NODE_PATH`].
pub(crate) fn workload_id(raw: &str, ours: &str) -> Result<String, ServiceError> {
    let (td, path) = spiffe_id(raw, false)?;
    if td != ours {
        return Err(rejected(Refusal::WorkloadForeignTrustDomain));
    }
    if format!("{path}/").starts_with(NODE_PATH) {
        return Err(rejected(Refusal::WorkloadReservedSpiffeId));
    }
    Ok(raw.to_owned())
}

/// One selector: `unix:uid:<u32>`, `unix:gid:<u32>` or `unix:path:<absolute
/// path>` (no control characters, at most [`MAX_SELECTOR`] bytes).
pub(crate) fn selector(raw: &str) -> Result<String, ServiceError> {
    let invalid = || rejected(Refusal::WorkloadInvalidSelector);
    if raw.len() > MAX_SELECTOR || raw.chars().any(char::is_control) {
        return Err(invalid());
    }
    let ok = if let Some(n) = raw.strip_prefix("unix:uid:") {
        canonical_u32(n)
    } else if let Some(n) = raw.strip_prefix("unix:gid:") {
        canonical_u32(n)
    } else if let Some(p) = raw.strip_prefix("unix:path:") {
        p.starts_with('/')
    } else {
        false
    };
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid())
    }
}

/// A decimal u32 in its one spelling (no sign, no leading zero), so two
/// spellings of one uid never make two entries.
fn canonical_u32(n: &str) -> bool {
    n.parse::<u32>().is_ok_and(|v| v.to_string() == n)
}

/// Selectors as stored: each valid, at least one, at most
/// [`MAX_SELECTORS`], sorted and without duplicates.
pub(crate) fn selectors(raw: &[String]) -> Result<Vec<String>, ServiceError> {
    if raw.is_empty() {
        return Err(rejected(Refusal::WorkloadNoSelectors));
    }
    if raw.len() > MAX_SELECTORS {
        return Err(rejected(Refusal::WorkloadInvalidSelector));
    }
    let mut out = raw
        .iter()
        .map(|s| selector(s))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// A node name or set label: 1-63 of `a-z 0-9 -`, not starting with `-`.
pub(crate) fn node_name(raw: &str) -> Result<String, ServiceError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_NODE_NAME
        && !raw.starts_with('-')
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(rejected(Refusal::WorkloadInvalidNodeName))
    }
}

/// Node sets as stored: each a valid label, at most [`MAX_NODE_SETS`],
/// sorted, no duplicates.
pub(crate) fn node_sets(raw: &[String]) -> Result<Vec<String>, ServiceError> {
    if raw.len() > MAX_NODE_SETS {
        return Err(rejected(Refusal::WorkloadInvalidNodeName));
    }
    let mut out = raw
        .iter()
        .map(|s| node_name(s))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// An entry's parent: a node name, or `set:<label>`.
pub(crate) fn parent(raw: &str) -> Result<String, ServiceError> {
    let name = raw.strip_prefix("set:").unwrap_or(raw);
    node_name(name).map_err(|_| rejected(Refusal::WorkloadInvalidParent))?;
    Ok(raw.to_owned())
}

/// A DNS name for an SVID: 1-253 bytes of LDH labels (1-63 each), lower
/// case; a leading `*.` wildcard is refused (SVIDs name one workload).
pub(crate) fn dns_name(raw: &str) -> Result<String, ServiceError> {
    let ok = !raw.is_empty()
        && raw.len() <= 253
        && raw.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(rejected(Refusal::WorkloadInvalidEntryField))
    }
}

/// A list of at most `max` items, each checked by `check`, refused as
/// `workload_invalid_entry_field` when too long.
pub(crate) fn bounded_list(
    raw: &[String],
    max: usize,
    check: impl Fn(&str) -> Result<String, ServiceError>,
) -> Result<Vec<String>, ServiceError> {
    if raw.len() > max {
        return Err(rejected(Refusal::WorkloadInvalidEntryField));
    }
    let mut out = raw
        .iter()
        .map(|s| check(s))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// A hint: at most [`MAX_HINT`] characters, no control characters.
pub(crate) fn hint(raw: &str) -> Result<String, ServiceError> {
    if raw.chars().nth(MAX_HINT).is_some() || raw.chars().any(keybound_names::text::is_hazardous) {
        return Err(rejected(Refusal::WorkloadInvalidEntryField));
    }
    Ok(raw.to_owned())
}

/// A JSON array of strings as stored (the store's list columns).
pub(crate) fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored JSON array of strings (empty when unreadable: the store
/// writes only what [`to_json`] made).
pub(crate) fn from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_follow_the_spec() {
        assert!(spiffe_id("spiffe://example.org/myservice", false).is_ok());
        assert!(spiffe_id("spiffe://example.org", true).is_ok());
        for bad in [
            "spiffe://example.org",
            "spiffe://Example.org/a",
            "spiffe://example.org/",
            "spiffe://example.org/a//b",
            "spiffe://example.org/a/../b",
            "spiffe://example.org/a?x=1",
            "spiffe://user@example.org/a",
            "spiffe://example.org:8080/a",
            "https://example.org/a",
            "spiffe:///a",
        ] {
            assert!(spiffe_id(bad, false).is_err(), "{bad}");
        }
        let long = format!("spiffe://example.org/{}", "a".repeat(MAX_SPIFFE_ID));
        assert!(spiffe_id(&long, false).is_err());
    }

    #[test]
    fn workload_ids_stay_in_our_domain_and_off_node_paths() {
        assert!(workload_id("spiffe://kb.test/app", "kb.test").is_ok());
        assert_eq!(
            workload_id("spiffe://other.test/app", "kb.test"),
            Err(ServiceError::Rejected(Refusal::WorkloadForeignTrustDomain))
        );
        for reserved in [
            "spiffe://kb.test/keybound/node/n1",
            "spiffe://kb.test/keybound/node",
        ] {
            assert_eq!(
                workload_id(reserved, "kb.test"),
                Err(ServiceError::Rejected(Refusal::WorkloadReservedSpiffeId)),
                "{reserved}"
            );
        }
        assert!(workload_id("spiffe://kb.test/keybound/nodes", "kb.test").is_ok());
    }

    #[test]
    fn selectors_are_known_types_in_one_spelling() {
        assert_eq!(
            selectors(&[
                "unix:uid:1000".into(),
                "unix:gid:0".into(),
                "unix:uid:1000".into()
            ])
            .unwrap(),
            vec!["unix:gid:0".to_owned(), "unix:uid:1000".to_owned()]
        );
        for bad in [
            "unix:uid:01000",
            "unix:uid:-1",
            "unix:uid:4294967296",
            "unix:path:relative",
            "unix:path:/a\nb",
            "k8s:ns:default",
            "unix:uid:",
        ] {
            assert!(selector(bad).is_err(), "{bad}");
        }
        assert_eq!(
            selectors(&[]),
            Err(ServiceError::Rejected(Refusal::WorkloadNoSelectors))
        );
        let many: Vec<String> = (0..=MAX_SELECTORS)
            .map(|i| format!("unix:uid:{i}"))
            .collect();
        assert!(selectors(&many).is_err());
    }

    #[test]
    fn names_parents_and_dns_names_are_bounded() {
        assert!(node_name("node-1").is_ok());
        for bad in ["", "-a", "Node", "a_b", &"a".repeat(64)] {
            assert!(node_name(bad).is_err(), "{bad}");
        }
        assert!(parent("set:web").is_ok());
        assert!(parent("set:").is_err());
        assert!(dns_name("svc.example.org").is_ok());
        for bad in ["*.example.org", "a..b", "-a.b", "A.b", ""] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
        assert!(hint(&"h".repeat(MAX_HINT)).is_ok());
        assert!(hint(&"h".repeat(MAX_HINT + 1)).is_err());
    }
}
