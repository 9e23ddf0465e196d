//! Every call into aws-lc-rs lives here, so the crypto backend is visible in
//! one place: SHA-256, HMAC-SHA-256, AES-128-CFB, RSA-OAEP, ECDH P-256 and
//! the two quote signature schemes.

use aws_lc_rs::agreement::{self, UnparsedPublicKey, ECDH_P256};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use aws_lc_rs::{digest, hmac, signature};
use der::asn1::{BitString, UintRef};
use der::Encode;
use rand_core::CryptoRng;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};

use crate::Error;

/// rsaEncryption (RFC 8017 A.1).
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// PKCS#1 `RSAPublicKey`.
#[derive(der::Sequence)]
pub(crate) struct RsaPublicKey<'a> {
    pub(crate) modulus: UintRef<'a>,
    pub(crate) public_exponent: UintRef<'a>,
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// HMAC-SHA-256 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time equality (secrets, nonces).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// AES-128-CFB with a zero IV, in place: the credential's inner wrapper
/// (Part 1 §24.4; the key is used once, derived from a fresh seed).
pub(crate) fn aes128_cfb_zero_iv(key: &[u8], data: &mut [u8]) -> Result<(), Error> {
    let key = UnboundCipherKey::new(&AES_128, key).map_err(|_| Error::Crypto)?;
    let key = EncryptingKey::cfb128(key).map_err(|_| Error::Crypto)?;
    key.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from([0u8; 16])))
        .map_err(|_| Error::Crypto)?;
    Ok(())
}

/// RSA-OAEP (SHA-256, MGF1-SHA-256) of `plaintext` to the key `(n, e)`
/// with `label`. The OAEP padding's own randomness comes from aws-lc-rs:
/// it has no API to take it from the caller.
pub(crate) fn rsa_oaep_sha256(
    modulus: &[u8],
    exponent: u32,
    plaintext: &[u8],
    label: &[u8],
) -> Result<Vec<u8>, Error> {
    let e = exponent.to_be_bytes();
    let pkcs1 = RsaPublicKey {
        modulus: UintRef::new(modulus).map_err(|_| Error::Crypto)?,
        public_exponent: UintRef::new(&e).map_err(|_| Error::Crypto)?,
    }
    .to_der()
    .map_err(|_| Error::Crypto)?;
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(der::Any::null()),
        },
        subject_public_key: BitString::from_bytes(&pkcs1).map_err(|_| Error::Crypto)?,
    }
    .to_der()
    .map_err(|_| Error::Crypto)?;
    let key = PublicEncryptingKey::from_der(&spki).map_err(|_| Error::Crypto)?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| Error::Crypto)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, Some(label))
        .map_err(|_| Error::Crypto)?
        .len();
    out.truncate(n);
    Ok(out)
}

/// One-pass ECDH on P-256 with an ephemeral key drawn from `rng`: returns
/// the ephemeral public point (uncompressed) and the shared x coordinate
/// `Z`.
pub(crate) fn ecdh_p256_ephemeral<R: CryptoRng + ?Sized>(
    peer_point: &[u8],
    rng: &mut R,
) -> Result<([u8; 65], Vec<u8>), Error> {
    // A scalar of 0 or >= n is rejected; the chance is ~2^-32 per draw.
    for _ in 0..8 {
        let mut scalar = [0u8; 32];
        rng.fill_bytes(&mut scalar);
        let Ok(private) = agreement::PrivateKey::from_private_key(&ECDH_P256, &scalar) else {
            continue;
        };
        let public = private.compute_public_key().map_err(|_| Error::Crypto)?;
        let point: [u8; 65] = public.as_ref().try_into().map_err(|_| Error::Crypto)?;
        let z = agreement::agree(
            &private,
            UnparsedPublicKey::new(&ECDH_P256, peer_point),
            Error::Crypto,
            |z| Ok(z.to_vec()),
        )?;
        return Ok((point, z));
    }
    Err(Error::Crypto)
}

/// ECDSA P-256 / SHA-256 over `message`, signature as fixed `r || s`.
pub(crate) fn verify_ecdsa_p256_sha256(point: &[u8], message: &[u8], rs: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(message, rs)
        .is_ok()
}

/// RSASSA-PKCS1-v1_5 / SHA-256 over `message` with `(n, e)`.
pub(crate) fn verify_rsassa_sha256(
    modulus: &[u8],
    exponent: u32,
    message: &[u8],
    sig: &[u8],
) -> bool {
    let e = exponent.to_be_bytes();
    // Big-endian without leading zeros, as aws-lc-rs wants them.
    let skip = e.iter().take_while(|b| **b == 0).count();
    let n_skip = modulus.iter().take_while(|b| **b == 0).count();
    let (Some(e), Some(n)) = (e.get(skip..), modulus.get(n_skip..)) else {
        return false;
    };
    signature::RsaPublicKeyComponents { n, e }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
        .is_ok()
}
