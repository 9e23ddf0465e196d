//! Every aws-lc-rs call of the crate: signing with a PKCS#8 key, verifying
//! against a public JWK, SHA-256 for thumbprints, and point validation.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey,
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

/// A private signing key (ES256, RS256 with RSA >= 2048 bits, or EdDSA),
/// loaded from PKCS#8 DER.
pub struct SigningKey(Inner);

enum Inner {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({})", self.algorithm().as_str())
    }
}

impl SigningKey {
    /// Loads a PKCS#8 DER private key for `alg`. An RSA key under
    /// [`crate::MIN_RSA_BITS`] is refused (by aws-lc), like an RSA JWK.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, Error> {
        match alg {
            Algorithm::Es256 => {
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map(|k| SigningKey(Inner::Es256(k)))
                    .map_err(|_| Error::Signing)
            }
            // aws-lc refuses moduli outside 2048..=8192 bits here.
            Algorithm::Rs256 => RsaKeyPair::from_pkcs8(der)
                .map(|k| SigningKey(Inner::Rs256(k)))
                .map_err(|_| Error::Signing),
            Algorithm::EdDsa => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(|k| SigningKey(Inner::EdDsa(k)))
                .map_err(|_| Error::Signing),
        }
    }

    /// Makes a fresh private key for `alg` and returns it as PKCS#8 DER (to
    /// store, then load with [`SigningKey::from_pkcs8`]); RSA keys are 2048
    /// bits, the size every legacy RS256 client accepts.
    ///
    /// This takes no RNG, unlike signing: aws-lc-rs generates keys from
    /// AWS-LC's own DRBG only (its `generate_pkcs8(rng)` functions ignore the
    /// argument, and RSA generation has none), so an RNG parameter here
    /// would pretend a determinism that does not exist. Tests that need a
    /// fixed key load fixed PKCS#8 instead.
    pub fn generate_pkcs8(alg: Algorithm) -> Result<Vec<u8>, Error> {
        let der = match alg {
            Algorithm::Es256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            Algorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| AsDer::<Pkcs8V1Der<'static>>::as_der(&k))
                .map(|d| d.as_ref().to_vec()),
            Algorithm::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8())
                .map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| Error::Signing)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Inner::Es256(_) => Algorithm::Es256,
            Inner::Rs256(_) => Algorithm::Rs256,
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
            Inner::Rs256(k) => {
                let parts: PublicKeyComponents<Vec<u8>> = k.public_key().into();
                Jwk::rsa(&parts.n, &parts.e, kid)
            }
            Inner::EdDsa(k) => Jwk::okp(k.public_key().as_ref(), kid),
        }
    }

    /// Signs `message`. ES256 signatures are r||s (64 bytes), not DER;
    /// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (deterministic). `rng` is
    /// handed to aws-lc, which (in aws-lc-rs) draws the ECDSA nonce itself.
    pub(crate) fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, Error> {
        match &self.0 {
            Inner::Es256(k) => k
                .sign(rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Signing),
            Inner::Rs256(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut sig)
                    .map_err(|_| Error::Signing)?;
                Ok(sig)
            }
            Inner::EdDsa(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

/// Test keys, generated fresh (tests only).
#[cfg(test)]
pub(crate) mod testing {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};

    use crate::{Algorithm, Jwk, SigningKey};

    pub(crate) fn rng() -> SystemRandom {
        SystemRandom::new()
    }

    pub(crate) fn key(alg: Algorithm) -> SigningKey {
        SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg).unwrap()).unwrap()
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
