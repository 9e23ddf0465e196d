//! `tpm` (WebAuthn §8.3): pubArea and certInfo for the credential key,
//! signed by a freshly made AIK certified by the profile's CA.

use aws_lc_rs::digest;
use ciborium::Value;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SigningKey, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
};

use super::{text, tlv, x5c, Subject, TestCa};
use crate::keys::{Algorithm, CredentialKey};

const TPM_ALG_SHA256: u16 = 0x000b;
const TPM_ALG_NULL: u16 = 0x0010;

/// How to make a `tpm` statement (EC or RSA credential keys).
#[derive(Clone)]
pub struct TpmProfile {
    /// Issues the AIK certificate.
    pub ca: TestCa,
    /// `ver`.
    pub version: String,
    /// certInfo magic.
    pub magic: u32,
    /// certInfo type.
    pub attest_type: u16,
    /// extraData instead of the hash of what was registered.
    pub extra_data: Option<Vec<u8>>,
    /// Attest this name instead of the pubArea's.
    pub name: Option<Vec<u8>>,
    /// Put a different key in pubArea than the credential's.
    pub other_key: bool,
    /// Give the AIK certificate a subject (it must have none).
    pub aik_subject: bool,
    /// Leave out the SAN naming the TPM.
    pub aik_omit_san: bool,
    /// Leave out the tcg-kp-AIKCertificate purpose.
    pub aik_omit_eku: bool,
    /// Basic constraints CA=true.
    pub aik_is_ca: bool,
    /// Leave the TPM version out of the AIK certificate's SAN.
    pub aik_san_without_version: bool,
    /// The AIK's curve size: 256, 384 or 521 (`alg` -7, -35, -36, and
    /// extraData made with SHA-256, -384, -512).
    pub aik_bits: u16,
    /// An RSA-2048 AIK signing with RS1 (`alg` -65535, RSASSA-PKCS1-v1_5
    /// with SHA-1, extraData made with SHA-1), as Windows Hello laptops
    /// send; `aik_bits` is then ignored.
    pub aik_rs1: bool,
    /// Bytes after the TPMT_PUBLIC structure.
    pub pub_area_suffix: Vec<u8>,
    /// pubArea's nameAlg (SHA-1 0x0004, SHA-256 0x000b, SHA-384 0x000c,
    /// SHA-512 0x000d), which certInfo's name then uses.
    pub name_alg: u16,
    /// A curve ID instead of the credential key's.
    pub curve_id: Option<u16>,
}

impl TpmProfile {
    /// A correct profile under `ca`.
    pub fn new(ca: TestCa) -> Self {
        TpmProfile {
            ca,
            version: "2.0".into(),
            magic: 0xff54_4347,
            attest_type: 0x8017,
            extra_data: None,
            name: None,
            other_key: false,
            aik_subject: false,
            aik_omit_san: false,
            aik_omit_eku: false,
            aik_is_ca: false,
            aik_san_without_version: false,
            aik_bits: 256,
            aik_rs1: false,
            pub_area_suffix: Vec::new(),
            name_alg: 0x000b,
            curve_id: None,
        }
    }

    /// TPMT_PUBLIC for an EC or RSA credential key. RSA keys carry an
    /// exponent of 0, the TPM's way of saying 65537.
    fn pub_area(&self, key: &CredentialKey) -> Vec<u8> {
        let sized = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        };
        let mut out = Vec::new();
        if let Some((modulus, exponent)) = key.rsa_components() {
            assert_eq!(
                exponent,
                [1, 0, 1],
                "the soft TPM writes the default exponent"
            );
            out.extend_from_slice(&0x0001u16.to_be_bytes()); // TPM_ALG_RSA
            out.extend_from_slice(&self.name_alg.to_be_bytes()); // nameAlg
            out.extend_from_slice(&0x0006_0472u32.to_be_bytes()); // objectAttributes
            sized(&mut out, &[]); // authPolicy
            out.extend_from_slice(&TPM_ALG_NULL.to_be_bytes()); // symmetric
            out.extend_from_slice(&TPM_ALG_NULL.to_be_bytes()); // scheme
            out.extend_from_slice(&((modulus.len() * 8) as u16).to_be_bytes()); // keyBits
            out.extend_from_slice(&0u32.to_be_bytes()); // exponent: default
            sized(&mut out, &modulus);
            return out;
        }
        let point = key.ec_point().expect("tpm: EC or RSA credential keys");
        let (x, y) = point[1..].split_at((point.len() - 1) / 2);
        let curve = self.curve_id.unwrap_or(match key.algorithm() {
            Algorithm::Es384 => 0x0004,
            Algorithm::Es512 => 0x0005,
            _ => 0x0003,
        });
        out.extend_from_slice(&0x0023u16.to_be_bytes()); // TPM_ALG_ECC
        out.extend_from_slice(&self.name_alg.to_be_bytes()); // nameAlg
        out.extend_from_slice(&0x0006_0472u32.to_be_bytes()); // objectAttributes
        sized(&mut out, &[]); // authPolicy
        out.extend_from_slice(&TPM_ALG_NULL.to_be_bytes()); // symmetric
        out.extend_from_slice(&0x0018u16.to_be_bytes()); // scheme: ECDSA
        out.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes()); //   with SHA-256
        out.extend_from_slice(&curve.to_be_bytes()); // curve: NIST P-256/384/521
        out.extend_from_slice(&TPM_ALG_NULL.to_be_bytes()); // kdf
        sized(&mut out, x);
        sized(&mut out, y);
        out
    }

    fn cert_info(&self, pub_area: &[u8], extra: &[u8]) -> Vec<u8> {
        let sized = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        };
        let hash = match self.name_alg {
            0x0004 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            0x000c => &digest::SHA384,
            0x000d => &digest::SHA512,
            _ => &digest::SHA256,
        };
        let mut name = self.name_alg.to_be_bytes().to_vec();
        name.extend(digest::digest(hash, pub_area).as_ref());
        let name = self.name.clone().unwrap_or(name);
        let mut out = Vec::new();
        out.extend_from_slice(&self.magic.to_be_bytes());
        out.extend_from_slice(&self.attest_type.to_be_bytes());
        sized(&mut out, &[0x00, 0x0b, 0xaa, 0xbb]); // qualifiedSigner
        sized(&mut out, extra);
        out.extend_from_slice(&[0u8; 17]); // clockInfo
        out.extend_from_slice(&[0u8; 8]); // firmwareVersion
        sized(&mut out, &name);
        sized(&mut out, &[0x00, 0x0b, 0xcc]); // qualifiedName
        out
    }

    fn aik_certificate(&self, aik: &KeyPair) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        if self.aik_subject {
            params.distinguished_name.push(DnType::CommonName, "a TPM");
        }
        params.is_ca = if self.aik_is_ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        if !self.aik_omit_eku {
            params.extended_key_usages =
                vec![ExtendedKeyUsagePurpose::Other(vec![2, 23, 133, 8, 3])];
        }
        if !self.aik_omit_san {
            // GeneralNames { directoryName { manufacturer, model, version } }
            let attribute = |last: u8, value: &str| {
                let oid = tlv(&[0x06], &[0x67, 0x81, 0x05, 0x02, last]);
                tlv(
                    &[0x31],
                    &tlv(&[0x30], &[oid, tlv(&[0x0c], value.as_bytes())].concat()),
                )
            };
            let mut attributes = attribute(1, "id:FFFFF1D0");
            attributes.extend(attribute(2, "keybound soft TPM"));
            if !self.aik_san_without_version {
                attributes.extend(attribute(3, "id:00020065"));
            }
            let name = tlv(&[0x30], &attributes);
            let san = tlv(&[0x30], &tlv(&[0xa4], &name));
            let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 17], san);
            ext.set_criticality(true);
            params.custom_extensions.push(ext);
        }
        self.ca.certify(&params, aik)
    }

    pub(crate) fn statement(&self, s: &Subject<'_>, sig: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
        let mut pub_area = if self.other_key {
            self.pub_area(&CredentialKey::generate(s.key.algorithm()))
        } else {
            self.pub_area(s.key)
        };
        pub_area.extend_from_slice(&self.pub_area_suffix);
        let (aik_alg, cose_alg, hash) = match self.aik_bits {
            _ if self.aik_rs1 => (
                &PKCS_RSA_SHA256,
                crate::legacy::COSE_RS1,
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
            ),
            384 => (&PKCS_ECDSA_P384_SHA384, -35, &digest::SHA384),
            521 => (&rcgen::PKCS_ECDSA_P521_SHA512, -36, &digest::SHA512),
            _ => (&PKCS_ECDSA_P256_SHA256, -7, &digest::SHA256),
        };
        let extra = self
            .extra_data
            .clone()
            .unwrap_or_else(|| digest::digest(hash, &s.signed()).as_ref().to_vec());
        let cert_info = self.cert_info(&pub_area, &extra);
        let aik = KeyPair::generate_for(aik_alg).expect("aik");
        let aik_cert = self.aik_certificate(&aik);
        let signature = if self.aik_rs1 {
            crate::legacy::rs1_sign(&aik.serialize_der(), &cert_info)
        } else {
            aik.sign(&cert_info).expect("sign")
        };
        Value::Map(vec![
            (text("ver"), text(&self.version)),
            (text("alg"), Value::Integer(cose_alg.into())),
            (text("x5c"), x5c(&[aik_cert])),
            (text("sig"), Value::Bytes(sig(signature))),
            (text("certInfo"), Value::Bytes(cert_info)),
            (text("pubArea"), Value::Bytes(pub_area)),
        ])
    }
}
