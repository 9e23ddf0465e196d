//! The workload CA's private keys at rest: AES-256-GCM (aws-lc-rs) under
//! the operator's key-encryption key (`--ca-key-encryption-key-file`),
//! with the authority's id as associated data, so a sealed key copied to
//! another row does not open. Layout: 12-byte random nonce, ciphertext,
//! 16-byte tag.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::ServiceError;

fn key(kek: &[u8; 32]) -> Result<LessSafeKey, ServiceError> {
    UnboundKey::new(&AES_256_GCM, kek)
        .map(LessSafeKey::new)
        .map_err(|_| ServiceError::Internal("the CA key-encryption key is unusable".into()))
}

/// Seals `plaintext` for the authority `id` with `nonce` (fresh random
/// bytes from the caller's RNG).
pub(crate) fn seal(
    kek: &[u8; 32],
    id: &str,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    let mut sealed = plaintext.to_vec();
    key(kek)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(id.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| ServiceError::Internal("sealing the CA key failed".into()))?;
    let mut out = nonce.to_vec();
    out.append(&mut sealed);
    Ok(out)
}

/// Opens what [`seal`] made for the authority `id`; a wrong key, id or a
/// changed byte is an internal error (the database or the key file is not
/// what the deployment wrote).
pub(crate) fn open(kek: &[u8; 32], id: &str, sealed: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let unreadable = || {
        ServiceError::Internal(
            "a CA key does not open with --ca-key-encryption-key-file: wrong key file?".into(),
        )
    };
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or_else(unreadable)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
    let mut body = body.to_vec();
    let plain = key(kek)?
        .open_in_place(nonce, Aad::from(id.as_bytes()), &mut body)
        .map_err(|_| unreadable())?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_row() {
        let kek = [7u8; 32];
        let sealed = seal(&kek, "a1", [1; 12], b"pkcs8").unwrap();
        assert_ne!(&sealed[12..17], b"pkcs8", "not in the clear");
        assert_eq!(open(&kek, "a1", &sealed).unwrap(), b"pkcs8");
        assert!(open(&[8u8; 32], "a1", &sealed).is_err(), "another key");
        assert!(open(&kek, "a2", &sealed).is_err(), "another row");
        let mut flipped = sealed.clone();
        flipped[14] ^= 1;
        assert!(open(&kek, "a1", &flipped).is_err(), "a changed byte");
        assert!(open(&kek, "a1", &sealed[..5]).is_err(), "truncated");
    }
}
