//! base64url without padding (RFC 4648 §5), the encoding of every binary
//! member in the WebAuthn L3 JSON shapes; padded input is tolerated because
//! some clients still send it.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64url, with or without padding.
pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    ENGINE.decode(s)
}

/// Encodes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

/// serde adapters for `Vec<u8>` fields carried as base64url strings.
pub mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises bytes as unpadded base64url.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    /// Deserialises a base64url string into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode(&s).map_err(serde::de::Error::custom)
    }
}
