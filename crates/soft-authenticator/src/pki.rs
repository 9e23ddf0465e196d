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
    rs1: bool,
}

impl AttestationKey {
    /// Signs with the key's algorithm (ECDSA in DER), or with RS1 after
    /// [`AttestationKey::signing_with_rs1`].
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        if self.rs1 {
            return crate::legacy::rs1_sign(&self.key_der, msg);
        }
        let key = KeyPair::try_from(self.key_der.as_slice()).expect("attestation key");
        key.sign(msg).expect("sign")
    }

    /// The same RSA key (from [`TestPki::with_leaf`] with
    /// `rcgen::PKCS_RSA_SHA256`) signing with RS1, RSASSA-PKCS1-v1_5 with
    /// SHA-1, which only `tpm` statements may use: for the tests that prove
    /// it is refused everywhere else.
    pub fn signing_with_rs1(&self) -> Self {
        AttestationKey {
            rs1: true,
            ..self.clone()
        }
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

/// How to make the attestation certificate: compliant by default, each
/// field adjustable so tests can break one requirement at a time.
#[derive(Debug, Clone)]
pub struct CertProfile {
    /// The AAGUID extension value, if any.
    pub aaguid: Option<[u8; 16]>,
    /// Mark the AAGUID extension critical.
    pub aaguid_critical: bool,
    /// Subject C.
    pub country: Option<String>,
    /// Subject O.
    pub organization: Option<String>,
    /// Subject OU.
    pub organizational_unit: Option<String>,
    /// Subject CN.
    pub common_name: Option<String>,
    /// Basic constraints: `Some(false)` CA=false, `Some(true)` CA=true,
    /// `None` no extension.
    pub basic_constraints_ca: Option<bool>,
    /// Subject serialNumber (2.5.4.5), as enterprise attestation
    /// certificates carry the authenticator's serial.
    pub serial_number: Option<String>,
}

impl CertProfile {
    /// A certificate meeting the `packed` requirements for `aaguid`.
    pub fn compliant(aaguid: Option<[u8; 16]>) -> Self {
        CertProfile {
            aaguid,
            aaguid_critical: false,
            country: Some("AA".into()),
            organization: Some("keybound tests".into()),
            organizational_unit: Some("Authenticator Attestation".into()),
            common_name: Some("keybound soft authenticator".into()),
            basic_constraints_ca: Some(false),
            serial_number: None,
        }
    }

    fn params(&self) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in [
            (DnType::CountryName, &self.country),
            (DnType::OrganizationName, &self.organization),
            (DnType::OrganizationalUnitName, &self.organizational_unit),
            (DnType::CommonName, &self.common_name),
        ] {
            if let Some(v) = value {
                p.distinguished_name.push(ty, v.as_str());
            }
        }
        if let Some(serial) = &self.serial_number {
            p.distinguished_name
                .push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial.as_str());
        }
        p.is_ca = match self.basic_constraints_ca {
            Some(false) => IsCa::ExplicitNoCa,
            Some(true) => IsCa::Ca(BasicConstraints::Unconstrained),
            None => IsCa::NoCa,
        };
        if let Some(aaguid) = self.aaguid {
            // id-fido-gen-ce-aaguid: an OCTET STRING holding the 16 bytes.
            let mut content = vec![0x04, 0x10];
            content.extend_from_slice(&aaguid);
            let mut ext =
                CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], content);
            ext.set_criticality(self.aaguid_critical);
            p.custom_extensions.push(ext);
        }
        p
    }
}

impl TestPki {
    /// A fresh PKI whose attestation certificate names `aaguid`.
    pub fn new(aaguid: [u8; 16]) -> Self {
        Self::with_profile(&CertProfile::compliant(Some(aaguid)))
    }

    /// A PKI whose attestation certificate follows `profile`, for tests of
    /// the certificate requirements.
    pub fn with_profile(profile: &CertProfile) -> Self {
        Self::with_leaf(profile, &PKCS_ECDSA_P256_SHA256)
    }

    /// As [`TestPki::with_profile`], with the attestation key of another
    /// algorithm (e.g. `rcgen::PKCS_ECDSA_P384_SHA384`).
    pub fn with_leaf(profile: &CertProfile, alg: &'static rcgen::SignatureAlgorithm) -> Self {
        let mut serial = [0u8; 8];
        aws_lc_rs::rand::fill(&mut serial).expect("rng");
        let name = format!(
            "keybound test attestation root {:016x}",
            u64::from_be_bytes(serial)
        );
        Self::build(profile, alg, &name)
    }

    /// A PKI whose root has the given name.
    pub fn with_root_name(aaguid: [u8; 16], root_name: &str) -> Self {
        Self::build(
            &CertProfile::compliant(Some(aaguid)),
            &PKCS_ECDSA_P256_SHA256,
            root_name,
        )
    }

    fn build(
        profile: &CertProfile,
        leaf_alg: &'static rcgen::SignatureAlgorithm,
        root_name: &str,
    ) -> Self {
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

        let leaf_key = KeyPair::generate_for(leaf_alg).expect("leaf key");
        let leaf = profile
            .params()
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let lone_key = KeyPair::generate_for(leaf_alg).expect("key");
        let lone = profile
            .params()
            .self_signed(&lone_key)
            .expect("self-signed cert");

        TestPki {
            root_der: root.der().to_vec(),
            attestation: AttestationKey {
                key_der: leaf_key.serialize_der(),
                chain: vec![leaf.der().to_vec()],
                rs1: false,
            },
            self_signed: AttestationKey {
                key_der: lone_key.serialize_der(),
                chain: vec![lone.der().to_vec()],
                rs1: false,
            },
        }
    }
}
