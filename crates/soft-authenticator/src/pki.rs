//! A throwaway attestation PKI: a root CA and an attestation certificate that
//! meets the `packed` requirements (§8.2.1), made fresh by rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    SigningKey, PKCS_ECDSA_P256_SHA256,
};

/// An attestation signing key and its certificate chain (leaf first, root
/// not included).
#[derive(Clone)]
pub struct AttestationKey {
    key_der: Vec<u8>,
    /// DER certificates, attestation certificate first.
    pub chain: Vec<Vec<u8>>,
}

impl AttestationKey {
    /// Signs with ECDSA P-256 SHA-256 (DER).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let key = KeyPair::try_from(self.key_der.as_slice()).expect("attestation key");
        key.sign(msg).expect("sign")
    }
}

/// A root CA plus an attestation key it certified.
pub struct TestPki {
    /// The root certificate (what a relying party trusts).
    pub root_der: Vec<u8>,
    /// A packed/fido-u2f attestation key certified by the root.
    pub attestation: AttestationKey,
    /// A second, self-signed attestation certificate with the same key
    /// properties, chaining to nothing the relying party trusts.
    pub self_signed: AttestationKey,
}

fn attestation_params(aaguid: Option<[u8; 16]>, ou: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CountryName, "AA");
    p.distinguished_name
        .push(DnType::OrganizationName, "keybound tests");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, ou);
    p.distinguished_name
        .push(DnType::CommonName, "keybound soft authenticator");
    p.is_ca = IsCa::ExplicitNoCa;
    if let Some(aaguid) = aaguid {
        // id-fido-gen-ce-aaguid: an OCTET STRING holding the 16 bytes.
        let mut content = vec![0x04, 0x10];
        content.extend_from_slice(&aaguid);
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
            content,
        ));
    }
    p
}

impl TestPki {
    /// A fresh PKI whose attestation certificate names `aaguid`.
    pub fn new(aaguid: [u8; 16]) -> Self {
        Self::with_options(Some(aaguid), "Authenticator Attestation")
    }

    /// A PKI whose certificate carries the given AAGUID extension (or none)
    /// and organisational unit, for tests of the certificate requirements.
    pub fn with_options(aaguid: Option<[u8; 16]>, ou: &str) -> Self {
        let mut serial = [0u8; 8];
        aws_lc_rs::rand::fill(&mut serial).expect("rng");
        let name = format!(
            "keybound test attestation root {:016x}",
            u64::from_be_bytes(serial)
        );
        Self::build(aaguid, ou, &name)
    }

    /// A PKI whose root has the given name.
    pub fn with_root_name(aaguid: [u8; 16], root_name: &str) -> Self {
        Self::build(Some(aaguid), "Authenticator Attestation", root_name)
    }

    fn build(aaguid: Option<[u8; 16]>, ou: &str, root_name: &str) -> Self {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("root key");
        let mut root_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        // Names are unique by default, so two test roots are told apart by
        // name as real roots are; a same-named impostor is built on purpose.
        root_params
            .distinguished_name
            .push(DnType::CommonName, root_name);
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = root_params.self_signed(&root_key).expect("root cert");
        let issuer = Issuer::new(root_params, root_key);

        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("leaf key");
        let leaf = attestation_params(aaguid, ou)
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let lone_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let lone = attestation_params(aaguid, ou)
            .self_signed(&lone_key)
            .expect("self-signed cert");

        TestPki {
            root_der: root.der().to_vec(),
            attestation: AttestationKey {
                key_der: leaf_key.serialize_der(),
                chain: vec![leaf.der().to_vec()],
            },
            self_signed: AttestationKey {
                key_der: lone_key.serialize_der(),
                chain: vec![lone.der().to_vec()],
            },
        }
    }
}
