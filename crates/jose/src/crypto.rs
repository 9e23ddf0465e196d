//! Every aws-lc-rs call of the crate: signing with a PKCS#8 key, verifying
//! against a public JWK, SHA-256 for thumbprints, and point validation.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaPublicKeyComponents, UnparsedPublicKey,
};

pub use aws_lc_rs::rand::SecureRandom;

use crate::jwk::Key;
use crate::{Algorithm, Error, Jwk};

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

/// Whether `x`,`y` is a point on P-256 (so a JWK cannot smuggle an invalid
/// curve point in to be used later).
pub(crate) fn valid_p256_point(x: &[u8; 32], y: &[u8; 32]) -> bool {
    signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, uncompressed(x, y)).is_ok()
}

fn uncompressed(x: &[u8; 32], y: &[u8; 32]) -> Vec<u8> {
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

/// Verifies `sig` over `message` with `key` under `alg`; the caller has
/// already checked that `alg` fits the key's type.
pub(crate) fn verify(alg: Algorithm, key: &Jwk, message: &[u8], sig: &[u8]) -> Result<(), Error> {
    let result = match (alg, key.key()) {
        (Algorithm::Es256, Key::Ec { x, y }) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, uncompressed(x, y))
                .verify(message, sig)
        }
        (Algorithm::EdDsa, Key::Okp { x }) => {
            UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig)
        }
        (Algorithm::Rs256, Key::Rsa { n, e }) => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            sig,
        ),
        _ => return Err(Error::KeyMismatch),
    };
    result.map_err(|_| Error::BadSignature)
}

/// A private signing key (ES256 or EdDSA), loaded from PKCS#8 DER. RS256 is
/// verify-only: keybound signs with ES256 and EdDSA.
pub struct SigningKey(Inner);

enum Inner {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({})", self.algorithm().as_str())
    }
}

impl SigningKey {
    /// Loads a PKCS#8 DER private key for `alg`.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, Error> {
        match alg {
            Algorithm::Es256 => {
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map(|k| SigningKey(Inner::Es256(k)))
                    .map_err(|_| Error::Signing)
            }
            Algorithm::EdDsa => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(|k| SigningKey(Inner::EdDsa(k)))
                .map_err(|_| Error::Signing),
            Algorithm::Rs256 => Err(Error::Signing),
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Inner::Es256(_) => Algorithm::Es256,
            Inner::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// The public half as a JWK (for a JWKS, or a DPoP `jwk` header).
    pub fn public_jwk(&self, kid: Option<String>) -> Result<Jwk, Error> {
        match &self.0 {
            Inner::Es256(k) => {
                let point = k.public_key().as_ref();
                let (x, y) = match point {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(Error::Signing),
                };
                Jwk::ec(x, y, kid)
            }
            Inner::EdDsa(k) => Jwk::okp(k.public_key().as_ref(), kid),
        }
    }

    /// Signs `message`. ES256 signatures are r||s (64 bytes), not DER.
    /// aws-lc draws the ECDSA nonce; `rng` is handed to it.
    pub(crate) fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, Error> {
        match &self.0 {
            Inner::Es256(k) => k
                .sign(rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Signing),
            Inner::EdDsa(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

/// Test keys, generated fresh (tests only).
#[cfg(test)]
pub(crate) mod testing {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

    use crate::{Algorithm, Jwk, SigningKey};

    pub(crate) fn rng() -> SystemRandom {
        SystemRandom::new()
    }

    pub(crate) fn key(alg: Algorithm) -> SigningKey {
        let der = match alg {
            Algorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng())
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
            Algorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng())
                .unwrap()
                .as_ref()
                .to_vec(),
            Algorithm::Rs256 => unreachable!("RS256 is verify-only"),
        };
        SigningKey::from_pkcs8(alg, &der).unwrap()
    }

    /// An RSA key pair: its public JWK and a function signing RS256.
    pub(crate) fn rsa(bits: KeySize) -> (Jwk, impl Fn(&[u8]) -> Vec<u8>) {
        let pair = RsaKeyPair::generate(bits).unwrap();
        let public = pair.public_key();
        let components: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = public.into();
        let jwk = Jwk::rsa(&components.n, &components.e, Some("rsa".into())).unwrap();
        let sign = move |msg: &[u8]| {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng(), msg, &mut sig)
                .unwrap();
            sig
        };
        (jwk, sign)
    }
}
