//! One error type naming every check, so callers (and audit reasons) can
//! tell which one refused a token or key.

use std::fmt;

/// Why a key, token or claim set was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not well-formed: wrong part count, bad base64url, not a JSON object;
    /// the string says which part.
    Malformed(&'static str),
    /// The token is longer than [`crate::MAX_TOKEN_LEN`].
    TooLarge,
    /// `alg` is not one this crate knows, is `none`, or is not in the
    /// caller's allow-list.
    AlgorithmNotAllowed,
    /// The header's `alg` does not fit the key's type (algorithm confusion).
    KeyMismatch,
    /// No key was found for the header's `kid`.
    UnknownKey,
    /// The header carries a non-empty `crit`: no extension is understood.
    CriticalHeader,
    /// The signature does not verify.
    BadSignature,
    /// A JWK is unusable: unknown `kty`/`crv`, wrong sizes, weak RSA.
    InvalidKey(&'static str),
    /// A JWK carries private key material.
    PrivateKey,
    /// Signing failed (bad PKCS#8, or the key does not fit the algorithm).
    Signing,
    /// `exp` is past (beyond the leeway) or missing.
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    WrongAudience,
    /// `sub` is not the expected subject (a client assertion's `client_id`).
    WrongSubject,
    /// A required claim is absent; the string names it.
    MissingClaim(&'static str),
    /// `exp` lies further after `iat` (or now) than the caller allows.
    LifetimeTooLong,
    /// A DPoP proof's `htm` is not the request's method.
    WrongMethod,
    /// A DPoP proof's `htu` is not the request's URI (after normalisation),
    /// or either is not an `http`/`https` URI that can be compared.
    WrongUri,
    /// A DPoP proof's `iat` is older than the caller accepts.
    Stale,
    /// A DPoP proof's `ath` is not the hash of the access token presented.
    WrongAccessToken,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed {what}"),
            Error::TooLarge => f.write_str("token too large"),
            Error::AlgorithmNotAllowed => f.write_str("algorithm not allowed"),
            Error::KeyMismatch => f.write_str("algorithm does not match the key"),
            Error::UnknownKey => f.write_str("unknown key"),
            Error::CriticalHeader => f.write_str("critical header not understood"),
            Error::BadSignature => f.write_str("bad signature"),
            Error::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Error::PrivateKey => f.write_str("JWK carries private key material"),
            Error::Signing => f.write_str("signing failed"),
            Error::Expired => f.write_str("token expired"),
            Error::NotYetValid => f.write_str("token not yet valid"),
            Error::IssuedInFuture => f.write_str("token issued in the future"),
            Error::WrongIssuer => f.write_str("wrong issuer"),
            Error::WrongAudience => f.write_str("wrong audience"),
            Error::WrongSubject => f.write_str("wrong subject"),
            Error::MissingClaim(what) => write!(f, "missing claim {what}"),
            Error::LifetimeTooLong => f.write_str("token lifetime too long"),
            Error::WrongMethod => f.write_str("wrong HTTP method"),
            Error::WrongUri => f.write_str("wrong HTTP URI"),
            Error::Stale => f.write_str("token too old"),
            Error::WrongAccessToken => f.write_str("wrong access token hash"),
        }
    }
}

impl std::error::Error for Error {}
