//! Every aws-lc-rs call of the crate: CA keys (load, generate, sign for
//! rcgen), and checking the subject public keys an SVID may certify.
//!
//! ECDSA needs a fresh nonce per signature: aws-lc-rs draws it from
//! AWS-LC's own DRBG and ignores any RNG argument, so none is taken here
//! (as in `keybound-jose`). Everything else random (serial numbers) comes
//! from the caller.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode as _, Reader as _};
use x509_cert::spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

use crate::Error;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// RSA moduli accepted in SVIDs and bundles, in bits.
pub(crate) const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// Makes a fresh ECDSA P-256 private key as PKCS#8 DER, for a new
/// authority or a JWT signing key. The key comes from AWS-LC's DRBG (its
/// key generation takes no RNG argument), so tests that need a fixed key
/// load fixed PKCS#8 instead.
pub fn generate_p256_pkcs8() -> Result<Zeroizing<Vec<u8>>, Error> {
    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
        .and_then(|k| k.to_pkcs8v1())
        .map(|doc| Zeroizing::new(doc.as_ref().to_vec()))
        .map_err(|_| Error::Signing)
}

/// A CA signing key, parsed once so issuing does not re-parse PKCS#8.
/// AWS-LC wipes key memory when it is freed.
pub(crate) struct CaKey {
    inner: Inner,
    /// The public key as rcgen writes it in a SubjectPublicKeyInfo: the
    /// uncompressed point, the PKCS#1 `RSAPublicKey`, or the Ed25519 bytes.
    public: Vec<u8>,
}

enum Inner {
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl CaKey {
    /// Loads a P-256 key: the only kind keybound's own authorities use.
    pub(crate) fn p256(pkcs8: &[u8]) -> Result<Self, Error> {
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|_| Error::InvalidPrivateKey)?;
        let public = key.public_key().as_ref().to_vec();
        Ok(CaKey {
            inner: Inner::P256(key),
            public,
        })
    }

    /// Loads an organisation's CA key (for `--ca-cert/--ca-key`): P-256,
    /// P-384, RSA (2048 to 8192 bits) or Ed25519.
    pub(crate) fn any(pkcs8: &[u8]) -> Result<Self, Error> {
        if let Ok(key) = Self::p256(pkcs8) {
            return Ok(key);
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8)
        {
            let public = key.public_key().as_ref().to_vec();
            return Ok(CaKey {
                inner: Inner::P384(key),
                public,
            });
        }
        if let Ok(key) = RsaKeyPair::from_pkcs8(pkcs8) {
            let public = key.public_key().as_ref().to_vec();
            return Ok(CaKey {
                inner: Inner::Rsa(key),
                public,
            });
        }
        if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
            let public = key.public_key().as_ref().to_vec();
            return Ok(CaKey {
                inner: Inner::Ed25519(key),
                public,
            });
        }
        Err(Error::InvalidPrivateKey)
    }
}

impl rcgen::PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.inner {
            Inner::P256(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            Inner::P384(_) => &rcgen::PKCS_ECDSA_P384_SHA384,
            Inner::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            Inner::Ed25519(_) => &rcgen::PKCS_ED25519,
        }
    }
}

impl rcgen::SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // The RNG argument is ignored by aws-lc-rs (see the module docs).
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::P256(k) | Inner::P384(k) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| rcgen::Error::RingUnspecified),
            Inner::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| rcgen::Error::RingUnspecified)?;
                Ok(sig)
            }
            Inner::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }
}

/// A subject public key an SVID may certify, checked: the algorithm is
/// one of the allowed, the EC point has its curve's form (see
/// [`PointCheck`]), the RSA modulus is in [`RSA_BITS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectKey {
    pub(crate) kind: KeyKind,
    /// The subjectPublicKey BIT STRING's bytes.
    pub(crate) raw: Vec<u8>,
}

/// The key types of [`SubjectKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// How much of an EC point [`SubjectKey::from_spki`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PointCheck {
    /// Uncompressed form of the curve's size only. Enough for issuing: the
    /// CA signs the bytes and never computes with the point; whoever uses
    /// the key (the workload signing, a peer verifying) parses and
    /// validates it then, and an off-curve key is useless to its holder.
    /// Full validation costs about 5 % of an issuance (BENCHMARKS.md).
    Form,
    /// On the curve, as aws-lc validates it: for keys keybound itself
    /// verifies with (bundle authorities).
    OnCurve,
}

impl SubjectKey {
    /// Parses and checks a DER SubjectPublicKeyInfo (no trailing bytes).
    pub(crate) fn from_spki(spki_der: &[u8], points: PointCheck) -> Result<Self, Error> {
        let spki =
            SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| Error::UnsupportedKey)?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Error::UnsupportedKey)?;
        let params = spki.algorithm.parameters;
        let kind = match spki.algorithm.oid {
            EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = params
                    .ok_or(Error::UnsupportedKey)?
                    .decode_as()
                    .map_err(|_| Error::UnsupportedKey)?;
                match curve {
                    P256 => KeyKind::P256,
                    P384 => KeyKind::P384,
                    _ => return Err(Error::UnsupportedKey),
                }
            }
            ED25519 if params.is_none() => KeyKind::Ed25519,
            RSA_ENCRYPTION if params.is_some_and(|p| p.is_null()) => KeyKind::Rsa,
            _ => return Err(Error::UnsupportedKey),
        };
        let uncompressed = |size: usize| raw.first() == Some(&0x04) && raw.len() == 1 + 2 * size;
        let valid = match (kind, points) {
            (KeyKind::P256, PointCheck::Form) => uncompressed(32),
            (KeyKind::P384, PointCheck::Form) => uncompressed(48),
            (KeyKind::P256, PointCheck::OnCurve) => {
                uncompressed(32)
                    && ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, raw).is_ok()
            }
            (KeyKind::P384, PointCheck::OnCurve) => {
                uncompressed(48)
                    && ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, raw).is_ok()
            }
            (KeyKind::Ed25519, _) => raw.len() == 32,
            (KeyKind::Rsa, _) => {
                rsa_public_key(raw).is_ok_and(|(n, _)| RSA_BITS.contains(&bits(n)))
            }
        };
        if !valid {
            return Err(Error::UnsupportedKey);
        }
        Ok(SubjectKey {
            kind,
            raw: raw.to_vec(),
        })
    }
}

impl rcgen::PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.kind {
            KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
            KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

/// The modulus and exponent of a PKCS#1 `RSAPublicKey`, without leading
/// zeros.
pub(crate) fn rsa_public_key(der: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let mut reader = der::SliceReader::new(der).map_err(|_| Error::UnsupportedKey)?;
    let (n, e) = reader
        .sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?)))
        .map_err(|_| Error::UnsupportedKey)?;
    reader.finish(()).map_err(|_| Error::UnsupportedKey)?;
    Ok((n.as_bytes(), e.as_bytes()))
}

/// The bit length of an unsigned big-endian integer with no leading zero.
fn bits(n: &[u8]) -> usize {
    match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}
