//! SPIFFE IDs and trust domains, parsed per the SPIFFE-ID specification
//! (<https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md>, §2).
//!
//! The grammar is deliberately narrower than a URI's: the scheme is exactly
//! `spiffe`, the trust domain is lowercase `[a-z0-9.-_]`, path segments are
//! `[A-Za-z0-9.-_]`, and nothing else (no percent-encoding, query, fragment,
//! userinfo or port) may appear. Because every character outside those sets
//! is refused, `?`, `#`, `@`, `:` and `%` never get as far as meaning
//! anything. Only the canonical form parses, so two equal IDs are equal
//! strings and comparing strings is comparing identities.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest SPIFFE ID accepted, in bytes (SPIFFE-ID §2.3: URIs longer
/// than 2048 bytes are not interoperable).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;
/// The longest trust domain name accepted, in bytes (SPIFFE-ID §2.1).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

const SCHEME: &str = "spiffe://";

/// Why a SPIFFE ID or trust domain does not parse; each variant is one rule
/// of the specification.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiffeIdError {
    /// The input is empty.
    Empty,
    /// Longer than [`MAX_SPIFFE_ID_LEN`] (or a trust domain longer than
    /// [`MAX_TRUST_DOMAIN_LEN`]).
    TooLong,
    /// The scheme is not exactly `spiffe://`.
    WrongScheme,
    /// Nothing between `spiffe://` and the path.
    EmptyTrustDomain,
    /// The trust domain holds a character outside `[a-z0-9.-_]`: an
    /// uppercase letter, a port, userinfo, a query or fragment, percent
    /// encoding.
    BadTrustDomainChar,
    /// `//` in the path.
    EmptySegment,
    /// A `.` or `..` path segment.
    DotSegment,
    /// A path character outside `[A-Za-z0-9.-_]` (query, fragment,
    /// percent encoding included).
    BadPathChar,
    /// The path ends with `/`.
    TrailingSlash,
}

impl SpiffeIdError {
    /// A stable snake_case reason for audit events.
    pub fn reason(self) -> &'static str {
        match self {
            SpiffeIdError::Empty => "spiffe_id_empty",
            SpiffeIdError::TooLong => "spiffe_id_too_long",
            SpiffeIdError::WrongScheme => "spiffe_id_wrong_scheme",
            SpiffeIdError::EmptyTrustDomain => "spiffe_id_empty_trust_domain",
            SpiffeIdError::BadTrustDomainChar => "spiffe_id_bad_trust_domain_char",
            SpiffeIdError::EmptySegment => "spiffe_id_empty_segment",
            SpiffeIdError::DotSegment => "spiffe_id_dot_segment",
            SpiffeIdError::BadPathChar => "spiffe_id_bad_path_char",
            SpiffeIdError::TrailingSlash => "spiffe_id_trailing_slash",
        }
    }
}

impl fmt::Display for SpiffeIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for SpiffeIdError {}

/// A trust domain name such as `example.org` (SPIFFE-ID §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Parses a bare trust domain name (`example.org`, not
    /// `spiffe://example.org`): non-empty, at most
    /// [`MAX_TRUST_DOMAIN_LEN`] bytes of `[a-z0-9.-_]`.
    pub fn parse(name: &str) -> Result<Self, SpiffeIdError> {
        check_trust_domain(name)?;
        Ok(TrustDomain(name.to_owned()))
    }

    /// The name, `example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trust domain's own SPIFFE ID, `spiffe://example.org`: the URI SAN
    /// of its CA certificates and the `sub` of nothing (it names no workload).
    pub fn id_string(&self) -> String {
        format!("{SCHEME}{}", self.0)
    }

    /// A SPIFFE ID in this trust domain from path segments, each checked
    /// like a parsed one (`["keybound", "node", name]` gives
    /// `spiffe://<td>/keybound/node/<name>`).
    pub fn id(&self, segments: &[&str]) -> Result<SpiffeId, SpiffeIdError> {
        let mut path = String::new();
        for segment in segments {
            path.push('/');
            path.push_str(segment);
        }
        SpiffeId::parse(&format!("{SCHEME}{}{path}", self.0))
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TrustDomain {
    type Error = SpiffeIdError;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        check_trust_domain(&name)?;
        Ok(TrustDomain(name))
    }
}

impl From<TrustDomain> for String {
    fn from(td: TrustDomain) -> Self {
        td.0
    }
}

/// A SPIFFE ID, `spiffe://<trust domain>/<path>` (SPIFFE-ID §2), in the
/// one canonical form the specification allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpiffeId {
    id: String,
    trust_domain: TrustDomain,
}

impl SpiffeId {
    /// Parses and validates a SPIFFE ID. The path may be empty (the trust
    /// domain's own ID); otherwise it is `/`-separated segments of
    /// `[A-Za-z0-9.-_]`, none empty, `.` or `..`, with no trailing `/`.
    pub fn parse(id: &str) -> Result<Self, SpiffeIdError> {
        if id.is_empty() {
            return Err(SpiffeIdError::Empty);
        }
        if id.len() > MAX_SPIFFE_ID_LEN {
            return Err(SpiffeIdError::TooLong);
        }
        let rest = id.strip_prefix(SCHEME).ok_or(SpiffeIdError::WrongScheme)?;
        let (td, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if td.is_empty() {
            return Err(SpiffeIdError::EmptyTrustDomain);
        }
        check_trust_domain(td)?;
        check_path(path)?;
        Ok(SpiffeId {
            id: id.to_owned(),
            trust_domain: TrustDomain(td.to_owned()),
        })
    }

    /// The whole ID, `spiffe://example.org/service`.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Its trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The path, `/service`; empty for a trust domain's own ID.
    pub fn path(&self) -> &str {
        // The ID is `spiffe://` + trust domain + path, checked at parse.
        self.id
            .get(SCHEME.len() + self.trust_domain.0.len()..)
            .unwrap_or_default()
    }

    /// Whether the ID belongs to `td`.
    pub fn is_member_of(&self, td: &TrustDomain) -> bool {
        &self.trust_domain == td
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl TryFrom<String> for SpiffeId {
    type Error = SpiffeIdError;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        SpiffeId::parse(&id)
    }
}

impl From<SpiffeId> for String {
    fn from(id: SpiffeId) -> Self {
        id.id
    }
}

fn check_trust_domain(name: &str) -> Result<(), SpiffeIdError> {
    if name.is_empty() {
        return Err(SpiffeIdError::EmptyTrustDomain);
    }
    if name.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(SpiffeIdError::TooLong);
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b);
    if name.bytes().all(allowed) {
        Ok(())
    } else {
        Err(SpiffeIdError::BadTrustDomainChar)
    }
}

fn check_path(path: &str) -> Result<(), SpiffeIdError> {
    if path.is_empty() {
        return Ok(());
    }
    let Some(segments) = path.strip_prefix('/') else {
        return Err(SpiffeIdError::BadPathChar);
    };
    if segments.is_empty() {
        return Err(SpiffeIdError::TrailingSlash);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
    let mut parts = segments.split('/').peekable();
    while let Some(segment) = parts.next() {
        match segment {
            "" if parts.peek().is_none() => return Err(SpiffeIdError::TrailingSlash),
            "" => return Err(SpiffeIdError::EmptySegment),
            "." | ".." => return Err(SpiffeIdError::DotSegment),
            _ if !segment.bytes().all(allowed) => return Err(SpiffeIdError::BadPathChar),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
