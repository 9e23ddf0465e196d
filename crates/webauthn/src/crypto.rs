//! Every call into aws-lc-rs lives here, so the crypto backend is visible in
//! one place and the rest of the crate speaks in COSE algorithms.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};

use crate::cose::CoseAlgorithm;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The hash functions TPM structures name (`nameAlg`) and attestation
/// signatures are made with. SHA-1 is there only because TPMs still use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    /// SHA-1: TPM names and RS1 statements, nothing else.
    Sha1Legacy,
    Sha256,
    Sha384,
    Sha512,
}

/// The digest of `data` under `hash`.
pub(crate) fn digest(hash: Hash, data: &[u8]) -> Vec<u8> {
    let algorithm = match hash {
        Hash::Sha1Legacy => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
    };
    digest::digest(algorithm, data).as_ref().to_vec()
}

/// Constant-time equality for challenges and other values an attacker may
/// probe byte by byte.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The aws-lc-rs verifier for a COSE algorithm whose key is an EC point or an
/// Ed25519 key, or an RSA key given as PKCS#1 `RSAPublicKey` DER.
///
/// ECDSA signatures in WebAuthn are ASN.1 DER (§6.5.5), so the `_ASN1`
/// verifiers are used; they reject r or s of zero or not below the order.
/// `None` for algorithms aws-lc-rs cannot verify (Ed448).
pub(crate) fn verification_algorithm(
    alg: CoseAlgorithm,
) -> Option<&'static dyn VerificationAlgorithm> {
    if let Some(rsa) = rsa_parameters(alg) {
        return Some(rsa);
    }
    Some(match alg {
        CoseAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_ASN1,
        CoseAlgorithm::Es384 => &signature::ECDSA_P384_SHA384_ASN1,
        CoseAlgorithm::Es512 => &signature::ECDSA_P521_SHA512_ASN1,
        CoseAlgorithm::EdDsa => &signature::ED25519,
        _ => return None,
    })
}

/// RSA verification parameters; moduli of 2048-8192 bits (credential keys
/// are further limited to 4096 when parsed).
fn rsa_parameters(alg: CoseAlgorithm) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        CoseAlgorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        CoseAlgorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        CoseAlgorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        CoseAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        CoseAlgorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
        CoseAlgorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// A public key validated once and ready to verify many signatures.
#[derive(Clone)]
pub(crate) struct Verifier(ParsedPublicKey);

impl Verifier {
    /// From an uncompressed EC point, a raw Ed25519 key, or PKCS#1 RSA DER.
    /// `None` when the key is not a valid key of that algorithm (for EC: not a
    /// point on the curve).
    pub(crate) fn from_bytes(alg: CoseAlgorithm, key: &[u8]) -> Option<Self> {
        let algorithm = verification_algorithm(alg)?;
        ParsedPublicKey::new(algorithm, key).ok().map(Verifier)
    }

    /// From an RSA modulus and exponent (big-endian, leading zeros stripped).
    pub(crate) fn from_rsa_components(alg: CoseAlgorithm, n: &[u8], e: &[u8]) -> Option<Self> {
        let params = rsa_parameters(alg)?;
        RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(params)
            .ok()
            .map(Verifier)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-1 (COSE RS1, -65535) for an RSA key of
    /// 2048-8192 bits given as PKCS#1 `RSAPublicKey` DER. The COSE registry
    /// keeps RS1 for TPM attestation only; nothing else may ask for it (it
    /// is not a [`CoseAlgorithm`], so no credential key can have it).
    pub(crate) fn rs1_legacy(key: &[u8]) -> Option<Self> {
        ParsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            key,
        )
        .ok()
        .map(Verifier)
    }

    /// True when `signature` is a valid signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}
