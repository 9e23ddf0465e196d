//! A software "TPM" for hostile quotes: an ECDSA P-256 AK whose
//! `TPMT_PUBLIC` and signatures are built here, so structures that a real
//! TPM would never sign (wrong magic, wrong type) can carry a valid
//! signature and reach the checks after it.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use keybound_tpm::ObjectAttributes as A;

pub struct SoftAk {
    key: EcdsaKeyPair,
    pub attributes: u32,
}

pub const AK_ATTRIBUTES: u32 = A::FIXED_TPM
    | A::FIXED_PARENT
    | A::SENSITIVE_DATA_ORIGIN
    | A::USER_WITH_AUTH
    | A::RESTRICTED
    | A::SIGN;

impl SoftAk {
    pub fn new() -> Self {
        SoftAk {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
            attributes: AK_ATTRIBUTES,
        }
    }

    /// `TPM2B_PUBLIC` of the key, as tpm2_createak -G ecc -s ecdsa makes it.
    pub fn tpm2b_public(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut t = Vec::new();
        t.extend_from_slice(&0x0023u16.to_be_bytes()); // ECC
        t.extend_from_slice(&0x000bu16.to_be_bytes()); // SHA-256
        t.extend_from_slice(&self.attributes.to_be_bytes());
        t.extend_from_slice(&0u16.to_be_bytes()); // authPolicy
        t.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
        t.extend_from_slice(&[0x00, 0x18, 0x00, 0x0b]); // ECDSA SHA-256
        t.extend_from_slice(&0x0003u16.to_be_bytes()); // P-256
        t.extend_from_slice(&0x0010u16.to_be_bytes()); // kdf NULL
        t.extend_from_slice(&32u16.to_be_bytes());
        t.extend_from_slice(&point[1..33]);
        t.extend_from_slice(&32u16.to_be_bytes());
        t.extend_from_slice(&point[33..65]);
        let mut out = (t.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&t);
        out
    }

    /// `TPMT_SIGNATURE` (ECDSA, SHA-256) over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig = self.key.sign(&SystemRandom::new(), message).unwrap();
        let rs = sig.as_ref();
        let mut out = vec![0x00, 0x18, 0x00, 0x0b, 0x00, 0x20];
        out.extend_from_slice(&rs[..32]);
        out.extend_from_slice(&[0x00, 0x20]);
        out.extend_from_slice(&rs[32..]);
        out
    }
}

/// A `TPMS_ATTEST` quote with the given magic, type and extraData over one
/// SHA-256 bank selecting PCR 0.
pub fn attest(magic: u32, kind: u16, extra: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&magic.to_be_bytes());
    a.extend_from_slice(&kind.to_be_bytes());
    a.extend_from_slice(&34u16.to_be_bytes());
    a.extend_from_slice(&[0x00, 0x0b]);
    a.extend_from_slice(&[7; 32]);
    a.extend_from_slice(&(extra.len() as u16).to_be_bytes());
    a.extend_from_slice(extra);
    a.extend_from_slice(&[0; 17 + 8]); // clockInfo, firmwareVersion
    a.extend_from_slice(&1u32.to_be_bytes());
    a.extend_from_slice(&[0x00, 0x0b, 3, 1, 0, 0]);
    a.extend_from_slice(&32u16.to_be_bytes());
    a.extend_from_slice(&[9; 32]);
    a
}
