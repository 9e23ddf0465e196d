//! The TPM attestation attempt the server hands out with its challenge
//! and takes back at finish, without storing it: its fields and an HMAC
//! under a key derived from the deployment secret (every server makes and
//! checks the same), so any server can finish what another started. The
//! secret itself is not in it, only its SHA-256; the attempt is spent
//! through the single-use table at finish, so it answers once.

use aws_lc_rs::hmac;
use keybound_webauthn::b64;

use crate::tokens::sha256;

/// Longest attempt accepted, base64url characters (an RSA AK and a JWK
/// make about 900).
pub(crate) const MAX_ATTEMPT: usize = 4096;
const TAG: usize = 32;

/// What finish needs from start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// When start issued it, ms.
    pub issued_ms: i64,
    /// SHA-256 of the EK public area: the node's stable identity.
    pub ek_hash: Vec<u8>,
    /// The AK's `TPM2B_PUBLIC`.
    pub ak_public: Vec<u8>,
    /// The node key's public JWK, JSON.
    pub node_key: String,
    /// SHA-256 of the credential's secret.
    pub secret_hash: Vec<u8>,
}

/// The attempt MAC key, derived from the deployment secret with its own
/// label, so it is never the key of anything else.
pub(crate) fn key(secret: &[u8; 32]) -> hmac::Key {
    let derived = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        b"keybound tpm attempt key v1",
    );
    hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
}

fn fields(a: &Attempt) -> [Vec<u8>; 5] {
    [
        a.issued_ms.to_be_bytes().to_vec(),
        a.ek_hash.clone(),
        a.ak_public.clone(),
        a.node_key.as_bytes().to_vec(),
        a.secret_hash.clone(),
    ]
}

/// Each field with a u32 length, so no two attempts share bytes.
fn body(a: &Attempt) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields(a) {
        out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&f);
    }
    out
}

/// The attempt for the client: body, then its tag.
pub(crate) fn seal(key: &hmac::Key, a: &Attempt) -> String {
    let mut bytes = body(a);
    let tag = hmac::sign(key, &bytes);
    bytes.extend_from_slice(tag.as_ref());
    b64::encode(&bytes)
}

/// The attempt a client sent back, if this deployment made it (tag
/// checked in constant time by aws-lc-rs). Returns it with the hash to
/// spend it under.
pub(crate) fn open(key: &hmac::Key, sealed: &str) -> Option<(Attempt, Vec<u8>)> {
    if sealed.len() > MAX_ATTEMPT {
        return None;
    }
    let bytes = b64::decode(sealed).ok()?;
    let split = bytes.len().checked_sub(TAG)?;
    let (body, tag) = bytes.split_at(split);
    hmac::verify(key, body, tag).ok()?;
    let mut parts = Vec::with_capacity(5);
    let mut rest = body;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if len > tail.len() {
            return None;
        }
        let (field, tail) = tail.split_at(len);
        parts.push(field.to_vec());
        rest = tail;
    }
    let [issued, ek_hash, ak_public, node_key, secret_hash]: [Vec<u8>; 5] =
        parts.try_into().ok()?;
    let attempt = Attempt {
        issued_ms: i64::from_be_bytes(issued.as_slice().try_into().ok()?),
        ek_hash,
        ak_public,
        node_key: String::from_utf8(node_key).ok()?,
        secret_hash,
    };
    Some((attempt, sha256(sealed.as_bytes())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn sample() -> Attempt {
        Attempt {
            issued_ms: 1_800_000_000_000,
            ek_hash: vec![1; 32],
            ak_public: vec![2; 90],
            node_key: r#"{"kty":"EC"}"#.into(),
            secret_hash: vec![3; 32],
        }
    }

    #[test]
    fn an_attempt_opens_only_under_its_key_and_unchanged() {
        let k = key(&[7; 32]);
        let sealed = seal(&k, &sample());
        assert_eq!(open(&k, &sealed).unwrap().0, sample());
        assert!(open(&key(&[8; 32]), &sealed).is_none());
        let mut bytes = b64::decode(&sealed).unwrap();
        for i in [0, 10, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(open(&k, &b64::encode(&bytes)).is_none(), "byte {i}");
            bytes[i] ^= 1;
        }
        for bad in ["", "%%%", &"A".repeat(MAX_ATTEMPT + 1)] {
            assert!(open(&k, bad).is_none());
        }
    }
}
