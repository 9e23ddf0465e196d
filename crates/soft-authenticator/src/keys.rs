//! Credential key pairs for every algorithm, and their COSE public keys.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use coset::iana::{self, EnumI64};
use coset::{CborSerializable, CoseKey, CoseKeyBuilder, KeyType, Label};

/// The COSE algorithms the authenticator can create credentials for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 SHA-256.
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// ECDSA P-521 SHA-512.
    Es512,
    /// Ed25519.
    EdDsa,
    /// RSA PKCS#1 v1.5 SHA-256.
    Rs256,
    /// RSA PKCS#1 v1.5 SHA-384.
    Rs384,
    /// RSA PKCS#1 v1.5 SHA-512.
    Rs512,
    /// RSA-PSS SHA-256.
    Ps256,
    /// RSA-PSS SHA-384.
    Ps384,
    /// RSA-PSS SHA-512.
    Ps512,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
    ];

    /// The IANA COSE identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Es384 => -35,
            Algorithm::Es512 => -36,
            Algorithm::EdDsa => -8,
            Algorithm::Rs256 => -257,
            Algorithm::Rs384 => -258,
            Algorithm::Rs512 => -259,
            Algorithm::Ps256 => -37,
            Algorithm::Ps384 => -38,
            Algorithm::Ps512 => -39,
        }
    }
}

enum Pair {
    Ec(EcdsaKeyPair, iana::EllipticCurve),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
}

/// A credential private key.
pub struct CredentialKey {
    alg: Algorithm,
    pair: Pair,
}

impl CredentialKey {
    /// A fresh key for `alg` (RSA keys are 2048 bits).
    pub fn generate(alg: Algorithm) -> Self {
        let ec = |a: &'static signature::EcdsaSigningAlgorithm, c| {
            Pair::Ec(EcdsaKeyPair::generate(a).expect("ec keygen"), c)
        };
        let rsa = |enc: &'static dyn signature::RsaEncoding| {
            Pair::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen"),
                enc,
            )
        };
        let pair = match alg {
            Algorithm::Es256 => ec(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                iana::EllipticCurve::P_256,
            ),
            Algorithm::Es384 => ec(
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                iana::EllipticCurve::P_384,
            ),
            Algorithm::Es512 => ec(
                &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                iana::EllipticCurve::P_521,
            ),
            Algorithm::EdDsa => Pair::Ed(Ed25519KeyPair::generate().expect("ed25519 keygen")),
            Algorithm::Rs256 => rsa(&signature::RSA_PKCS1_SHA256),
            Algorithm::Rs384 => rsa(&signature::RSA_PKCS1_SHA384),
            Algorithm::Rs512 => rsa(&signature::RSA_PKCS1_SHA512),
            Algorithm::Ps256 => rsa(&signature::RSA_PSS_SHA256),
            Algorithm::Ps384 => rsa(&signature::RSA_PSS_SHA384),
            Algorithm::Ps512 => rsa(&signature::RSA_PSS_SHA512),
        };
        CredentialKey { alg, pair }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Signs `msg` (DER ECDSA, raw Ed25519, RSA per the algorithm).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(k, _) => k.sign(&rng, msg).expect("sign").as_ref().to_vec(),
            Pair::Ed(k) => k.sign(msg).as_ref().to_vec(),
            Pair::Rsa(k, enc) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(*enc, &rng, msg, &mut sig).expect("rsa sign");
                sig
            }
        }
    }

    /// The uncompressed EC point, for EC keys.
    pub fn ec_point(&self) -> Option<Vec<u8>> {
        match &self.pair {
            Pair::Ec(k, _) => Some(k.public_key().as_ref().to_vec()),
            _ => None,
        }
    }

    /// Modulus and exponent (big-endian, no leading zeros), for RSA keys.
    pub fn rsa_components(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        match &self.pair {
            Pair::Rsa(k, _) => {
                let public = k.public_key();
                Some((
                    public.modulus().big_endian_without_leading_zero().to_vec(),
                    public.exponent().big_endian_without_leading_zero().to_vec(),
                ))
            }
            _ => None,
        }
    }

    /// The COSE_Key encoding of the public key, with its `alg`.
    pub fn cose_public_key(&self) -> Vec<u8> {
        let alg = iana::Algorithm::from_i64(self.alg.cose_id()).expect("iana alg");
        let key: CoseKey = match &self.pair {
            Pair::Ec(k, curve) => {
                let point = k.public_key().as_ref();
                let n = (point.len() - 1) / 2;
                CoseKeyBuilder::new_ec2_pub_key(
                    *curve,
                    point[1..1 + n].to_vec(),
                    point[1 + n..].to_vec(),
                )
                .algorithm(alg)
                .build()
            }
            Pair::Ed(k) => CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv.to_i64(),
                    ciborium::Value::from(iana::EllipticCurve::Ed25519.to_i64()),
                )
                .param(
                    iana::OkpKeyParameter::X.to_i64(),
                    ciborium::Value::Bytes(k.public_key().as_ref().to_vec()),
                )
                .algorithm(alg)
                .build(),
            Pair::Rsa(k, _) => {
                let public = k.public_key();
                CoseKey {
                    kty: KeyType::Assigned(iana::KeyType::RSA),
                    alg: Some(coset::Algorithm::Assigned(alg)),
                    params: vec![
                        (
                            Label::Int(iana::RsaKeyParameter::N.to_i64()),
                            ciborium::Value::Bytes(
                                public.modulus().big_endian_without_leading_zero().to_vec(),
                            ),
                        ),
                        (
                            Label::Int(iana::RsaKeyParameter::E.to_i64()),
                            ciborium::Value::Bytes(
                                public.exponent().big_endian_without_leading_zero().to_vec(),
                            ),
                        ),
                    ],
                    ..Default::default()
                }
            }
        };
        key.to_vec().expect("cose encode")
    }
}
