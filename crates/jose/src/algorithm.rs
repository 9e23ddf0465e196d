//! The allow-list of signature algorithms. Anything else, `none` and every
//! HMAC included, fails to parse: there is no fallback.

use crate::Error;

/// A JWS signature algorithm keybound accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256; the default (short keys and signatures).
    #[default]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for legacy clients (RSA >= 2048 bits).
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` value, exactly (case-sensitive, RFC 7515 §4.1.1).
    pub fn parse(alg: &str) -> Result<Self, Error> {
        match alg {
            "ES256" => Ok(Algorithm::Es256),
            "RS256" => Ok(Algorithm::Rs256),
            "EdDSA" => Ok(Algorithm::EdDsa),
            _ => Err(Error::AlgorithmNotAllowed),
        }
    }
}

#[cfg(test)]
mod tests;
