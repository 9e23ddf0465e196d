//! The crate's one error type: each variant names the check that refused
//! the input, and [`Error::reason`] gives it as a stable snake_case audit
//! reason (the client only ever sees a generic message).

use std::fmt;

use crate::SpiffeIdError;

/// Why a certificate, SVID, token or bundle was refused or not made.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A SPIFFE ID or trust domain does not parse.
    SpiffeId(SpiffeIdError),
    /// A SPIFFE ID is outside the trust domain that must hold it (the
    /// authority's, or the one a JWT-SVID is validated for).
    ForeignTrustDomain,
    /// A subject public key that is not P-256, P-384, Ed25519 or RSA of
    /// 2048 to 8192 bits, or that is malformed (a point off the curve).
    UnsupportedKey,
    /// A private key (PKCS#8) that does not parse or is of the wrong type.
    InvalidPrivateKey,
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// A CA certificate that does not parse or cannot be an authority; the
    /// string says which check.
    InvalidCertificate(&'static str),
    /// A DNS SAN that is not a hostname (or a `*.` wildcard of one).
    InvalidDnsName,
    /// More DNS SANs than [`crate::MAX_DNS_NAMES`].
    TooManyDnsNames,
    /// A validity period that is empty (after clamping to the authority's)
    /// or outside what X.509 can encode.
    InvalidValidity,
    /// A serial number of all zero bits (RFC 5280 §4.1.2.2: positive).
    InvalidSerial,
    /// Building or signing failed (a bug or an aws-lc failure, not input).
    Signing,
    /// A JWT-SVID failed a JOSE check (format, algorithm, key, signature,
    /// `exp`, `aud`...): the inner error names it.
    Jwt(keybound_jose::Error),
    /// A JWT-SVID `typ` header other than `JWT` or `JOSE`.
    JwtType,
    /// A JWT-SVID request or validation with no audience.
    NoAudience,
    /// A trust bundle that does not parse or breaks a bound; the string
    /// says which.
    Bundle(&'static str),
}

impl Error {
    /// A stable snake_case reason for audit events.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::SpiffeId(e) => e.reason(),
            Error::ForeignTrustDomain => "foreign_trust_domain",
            Error::UnsupportedKey => "unsupported_key",
            Error::InvalidPrivateKey => "invalid_private_key",
            Error::KeyMismatch => "key_mismatch",
            Error::InvalidCertificate(_) => "invalid_ca_certificate",
            Error::InvalidDnsName => "invalid_dns_name",
            Error::TooManyDnsNames => "too_many_dns_names",
            Error::InvalidValidity => "invalid_validity",
            Error::InvalidSerial => "invalid_serial",
            Error::Signing => "signing_failed",
            Error::Jwt(e) => jwt_reason(e),
            Error::JwtType => "jwt_svid_bad_typ",
            Error::NoAudience => "jwt_svid_no_audience",
            Error::Bundle(_) => "invalid_bundle",
        }
    }
}

fn jwt_reason(e: &keybound_jose::Error) -> &'static str {
    use keybound_jose::Error as J;
    match e {
        J::TooLarge => "jwt_svid_too_large",
        J::AlgorithmNotAllowed => "jwt_svid_algorithm_not_allowed",
        J::KeyMismatch => "jwt_svid_key_mismatch",
        J::UnknownKey => "jwt_svid_unknown_key",
        J::CriticalHeader => "jwt_svid_critical_header",
        J::BadSignature => "jwt_svid_bad_signature",
        J::Expired => "jwt_svid_expired",
        J::NotYetValid => "jwt_svid_not_yet_valid",
        J::WrongAudience => "jwt_svid_wrong_audience",
        J::MissingClaim(_) => "jwt_svid_missing_claim",
        J::Signing => "signing_failed",
        _ => "jwt_svid_malformed",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SpiffeId(e) => write!(f, "invalid SPIFFE ID: {e}"),
            Error::InvalidCertificate(why) => write!(f, "invalid CA certificate: {why}"),
            Error::Jwt(e) => write!(f, "JWT-SVID refused: {e}"),
            Error::Bundle(why) => write!(f, "invalid trust bundle: {why}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for Error {}

impl From<SpiffeIdError> for Error {
    fn from(e: SpiffeIdError) -> Self {
        Error::SpiffeId(e)
    }
}

impl From<keybound_jose::Error> for Error {
    fn from(e: keybound_jose::Error) -> Self {
        Error::Jwt(e)
    }
}
