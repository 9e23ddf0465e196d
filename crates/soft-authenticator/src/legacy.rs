//! RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535), the algorithm Windows
//! Hello's TPMs sign attestation statements with. aws-lc-rs verifies it but
//! will not sign with it, so RustCrypto's `rsa` signs here, with keys that
//! aws-lc-rs generated (the `rsa` crate's own prime search is slow in debug
//! builds).

use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

/// The COSE identifier of RS1.
pub const COSE_RS1: i64 = -65_535;

/// Signs `msg` with RS1 using the RSA private key in `pkcs8` (DER).
pub(crate) fn rs1_sign(pkcs8: &[u8], msg: &[u8]) -> Vec<u8> {
    let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8).expect("an RSA PKCS#8 key");
    rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key)
        .sign(msg)
        .to_vec()
}
