//! The attestation formats that certify the credential key itself: `apple`,
//! `android-key`, `tpm`, `android-safetynet`, and `compound`. Each has a
//! profile whose fields start out correct and can be bent one at a time,
//! in a file of its own; what they share (the test CA, the subject of a
//! statement, DER and CBOR helpers) is here.

mod android_key;
mod apple;
mod safetynet;
mod tpm;

pub use android_key::AndroidKeyProfile;
pub use apple::AppleProfile;
pub use safetynet::SafetyNetProfile;
pub use tpm::TpmProfile;

use std::sync::Arc;

use aws_lc_rs::digest;
use ciborium::Value;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData,
    SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
};

use crate::keys::{Algorithm, CredentialKey};

/// A test certificate authority that certifies keys at registration time.
#[derive(Clone)]
pub struct TestCa {
    /// The root certificate (what a relying party trusts).
    pub root_der: Vec<u8>,
    issuer: Arc<Issuer<'static, KeyPair>>,
}

impl TestCa {
    /// A fresh root named `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("root key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = params.self_signed(&key).expect("root");
        TestCa {
            root_der: root.der().to_vec(),
            issuer: Arc::new(Issuer::new(params, key)),
        }
    }

    pub(crate) fn certify(&self, params: &CertificateParams, key: &impl PublicKeyData) -> Vec<u8> {
        params
            .signed_by(key, &self.issuer)
            .expect("certificate")
            .der()
            .to_vec()
    }
}

/// A credential public key as rcgen sees one it is asked to certify.
struct SubjectKey {
    bits: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

fn subject_key(key: &CredentialKey) -> SubjectKey {
    match key.algorithm() {
        Algorithm::Es256 => SubjectKey {
            bits: key.ec_point().expect("ec"),
            alg: &PKCS_ECDSA_P256_SHA256,
        },
        Algorithm::Es384 => SubjectKey {
            bits: key.ec_point().expect("ec"),
            alg: &PKCS_ECDSA_P384_SHA384,
        },
        other => panic!("the soft authenticator certifies ES256/ES384 keys, not {other:?}"),
    }
}

/// What is being attested: everything a statement may sign or commit to.
pub(crate) struct Subject<'a> {
    pub key: &'a CredentialKey,
    pub auth_data: &'a [u8],
    pub client_data_hash: &'a [u8],
}

impl Subject<'_> {
    fn signed(&self) -> Vec<u8> {
        [self.auth_data, self.client_data_hash].concat()
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn x5c(chain: &[Vec<u8>]) -> Value {
    Value::Array(chain.iter().map(|c| Value::Bytes(c.clone())).collect())
}

/// DER: `tag` (already encoded) with a definite length.
fn tlv(tag: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}
