//! base64url without padding (RFC 4648 §5), the encoding of every binary
//! member in the WebAuthn L3 JSON shapes.
//!
//! Two decoders, for two kinds of text:
//! - [`decode_lenient`] for what a client sent (the members of a
//!   `RegistrationResponseJSON` or `AuthenticationResponseJSON`, the
//!   challenge in clientDataJSON, credential ids posted back by pages and
//!   forms). Some clients pad, and some use the standard alphabet (`+`, `/`)
//!   instead of the URL-safe one; the bytes are what is checked, so either
//!   spelling of the same bytes is accepted.
//! - [`decode`] for text keybound wrote itself (stored payloads, options it
//!   issued): exactly what [`encode`] produces.
//!
//! Encoding is always the canonical form: URL-safe, unpadded.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};

/// Unpadded base64url, and nothing else.
const CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// base64url with or without padding.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 with or without padding.
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes unpadded base64url, the form [`encode`] writes: for values
/// keybound encoded itself. Padding and the standard alphabet are refused.
pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    CANONICAL.decode(s)
}

/// Decodes base64 as clients send it: the URL-safe or the standard
/// alphabet, with or without padding. One alphabet per string (a string
/// mixing `-` and `+` is refused), `=` only at the end and never more than
/// the length needs, and no non-zero bits after the last byte, so each
/// accepted string means one byte string. Never panics.
pub fn decode_lenient(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_ANY_PADDING
        .decode(s)
        .or_else(|url_safe| STANDARD_ANY_PADDING.decode(s).map_err(|_| url_safe))
}

/// Encodes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    CANONICAL.encode(bytes)
}

/// serde adapters for `Vec<u8>` fields carried as base64url strings (the
/// options keybound issues).
pub mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises bytes as unpadded base64url.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    /// Deserialises an unpadded base64url string into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
