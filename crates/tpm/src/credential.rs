//! `MakeCredential` in software (TPM 2.0 Part 1 §24, "Credential
//! Protection"; Part 3 §12.6): wrap a secret so that only the TPM holding
//! the EK's private key *and* an object named `ak_name` can recover it
//! with `TPM2_ActivateCredential`.
//!
//! 1. A seed, encrypted to the EK (the "secret" parameter):
//!    RSA EK: a random 32-byte seed, RSA-OAEP(SHA-256, label
//!    `"IDENTITY\0"`); ECC EK: one-pass ECDH with an ephemeral key,
//!    `seed = KDFe(Z, "IDENTITY", ephemeral.x, EK.x)` (Part 1 §C.6.4),
//!    the ephemeral point being what is sent.
//! 2. `symKey = KDFa(seed, "STORAGE", ak_name, -, 128)`;
//!    `encIdentity = AES-128-CFB(symKey, IV 0, TPM2B_DIGEST(secret))`.
//! 3. `hmacKey = KDFa(seed, "INTEGRITY", -, -, 256)`;
//!    `outerHMAC = HMAC(hmacKey, encIdentity || ak_name)`.
//! 4. `credentialBlob = TPM2B_ID_OBJECT(TPM2B_DIGEST(outerHMAC) ||
//!    encIdentity)`.
//!
//! The TPM refuses to activate if the object loaded as the activation
//! handle does not have exactly the name the HMAC covers, so an AK from a
//! different TPM (or a software key) cannot release the secret.

use rand_core::CryptoRng;

use crate::alg::SHA256_LEN;
use crate::crypto;
use crate::kdf::{kdfa, kdfe};
use crate::marshal::put_sized;
use crate::public::{check_ek_policy, Public, PublicKey};
use crate::Error;

/// A credential for `TPM2_ActivateCredential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `TPM2B_ID_OBJECT` (with its u16 size).
    pub credential_blob: Vec<u8>,
    /// `TPM2B_ENCRYPTED_SECRET` (with its u16 size).
    pub encrypted_secret: Vec<u8>,
}

/// Wraps `secret` (1-32 bytes) for the TPM that holds `ek` and an object
/// named `ak_name` (`0x000b || SHA-256(TPMT_PUBLIC)`, see
/// [`Public::name`]). The EK must pass [`check_ek_policy`]; the seed (and
/// for ECC the ephemeral key) comes from `rng`.
///
/// # Errors
/// [`Error::EkAttributes`], [`Error::SecretSize`], [`Error::MalformedName`],
/// [`Error::Crypto`].
pub fn make_credential<R: CryptoRng + ?Sized>(
    ek: &Public,
    ak_name: &[u8],
    secret: &[u8],
    rng: &mut R,
) -> Result<Credential, Error> {
    check_ek_policy(ek)?;
    if secret.is_empty() || secret.len() > SHA256_LEN {
        return Err(Error::SecretSize);
    }
    if ak_name.len() != 2 + SHA256_LEN || ak_name.get(..2) != Some(&[0x00, 0x0b][..]) {
        return Err(Error::MalformedName);
    }

    let (seed, encrypted) = match ek.key() {
        PublicKey::Rsa { modulus, exponent } => {
            let mut seed = vec![0u8; SHA256_LEN];
            rng.fill_bytes(&mut seed);
            let encrypted = crypto::rsa_oaep_sha256(modulus, *exponent, &seed, b"IDENTITY\0")?;
            (seed, encrypted)
        }
        key @ PublicKey::EccP256 { x: ek_x, .. } => {
            let ek_point = key.ec_point().ok_or(Error::Crypto)?;
            let (point, z) = crypto::ecdh_p256_ephemeral(&ek_point, rng)?;
            let (ex, ey) = (point.get(1..33), point.get(33..65));
            let (Some(ex), Some(ey)) = (ex, ey) else {
                return Err(Error::Crypto);
            };
            let seed = kdfe(&z, b"IDENTITY", ex, ek_x, SHA256_LEN);
            // TPMS_ECC_POINT: two TPM2B_ECC_PARAMETERs.
            let mut encrypted = Vec::with_capacity(68);
            put_sized(&mut encrypted, ex).ok_or(Error::Crypto)?;
            put_sized(&mut encrypted, ey).ok_or(Error::Crypto)?;
            (seed, encrypted)
        }
    };

    let sym_key = kdfa(&seed, b"STORAGE", ak_name, &[], 16);
    let mut enc_identity = Vec::with_capacity(2 + secret.len());
    put_sized(&mut enc_identity, secret).ok_or(Error::SecretSize)?;
    crypto::aes128_cfb_zero_iv(&sym_key, &mut enc_identity)?;

    let hmac_key = kdfa(&seed, b"INTEGRITY", &[], &[], SHA256_LEN);
    let outer_hmac = crypto::hmac_sha256(&hmac_key, &[&enc_identity, ak_name]);

    let mut id_object = Vec::with_capacity(2 + SHA256_LEN + enc_identity.len());
    put_sized(&mut id_object, &outer_hmac).ok_or(Error::Crypto)?;
    id_object.extend_from_slice(&enc_identity);

    let mut credential_blob = Vec::with_capacity(2 + id_object.len());
    put_sized(&mut credential_blob, &id_object).ok_or(Error::Crypto)?;
    let mut encrypted_secret = Vec::with_capacity(2 + encrypted.len());
    put_sized(&mut encrypted_secret, &encrypted).ok_or(Error::Crypto)?;
    Ok(Credential {
        credential_blob,
        encrypted_secret,
    })
}
