//! The attestation formats that certify the credential key itself: `apple`,
//! `android-key`, `tpm`, `android-safetynet`, and `compound`. Each has a
//! profile whose fields start out correct and can be bent one at a time.

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ciborium::Value;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
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

    fn certify(&self, params: &CertificateParams, key: &impl PublicKeyData) -> Vec<u8> {
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

// ---------------------------------------------------------------- apple --

/// How to make an `apple` statement.
#[derive(Clone)]
pub struct AppleProfile {
    /// Issues the per-credential certificate.
    pub ca: TestCa,
    /// Put this in the nonce extension instead of the right nonce.
    pub nonce: Option<Vec<u8>>,
    /// Leave the nonce extension out.
    pub omit_nonce: bool,
    /// Certify a different key than the credential's.
    pub other_key: bool,
}

impl AppleProfile {
    /// A correct profile under `ca`.
    pub fn new(ca: TestCa) -> Self {
        AppleProfile {
            ca,
            nonce: None,
            omit_nonce: false,
            other_key: false,
        }
    }

    pub(crate) fn statement(&self, s: &Subject<'_>) -> Value {
        let nonce = self.nonce.clone().unwrap_or_else(|| sha256(&s.signed()));
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "keybound soft apple credential");
        if !self.omit_nonce {
            let value = tlv(&[0x30], &tlv(&[0xa1], &tlv(&[0x04], &nonce)));
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 2, 840, 113635, 100, 8, 2],
                    value,
                ));
        }
        let leaf = if self.other_key {
            let other = CredentialKey::generate(s.key.algorithm());
            self.ca.certify(&params, &subject_key(&other))
        } else {
            self.ca.certify(&params, &subject_key(s.key))
        };
        Value::Map(vec![(text("x5c"), x5c(&[leaf]))])
    }
}

// ---------------------------------------------------------- android-key --

/// How to make an `android-key` statement.
#[derive(Clone)]
pub struct AndroidKeyProfile {
    /// Issues the key's certificate.
    pub ca: TestCa,
    /// attestationSecurityLevel: 0 software, 1 TEE, 2 StrongBox.
    pub security_level: u8,
    /// attestationChallenge instead of the client data hash.
    pub challenge: Option<Vec<u8>>,
    /// Add allApplications to the hardware list.
    pub all_applications: bool,
    /// The origin authorisation (`None`: absent).
    pub origin: Option<u8>,
    /// The purposes (empty: absent).
    pub purposes: Vec<u8>,
    /// Certify a different key than the credential's.
    pub other_key: bool,
    /// The DER tag of attestationChallenge (0x04, OCTET STRING).
    pub challenge_tag: u8,
    /// The DER tag of the two authorisation lists (0x30, SEQUENCE).
    pub list_tag: u8,
    /// The DER tag of the purpose set (0x31, SET).
    pub purpose_set_tag: u8,
    /// Put the purposes in the software-enforced list.
    pub purposes_in_software: bool,
}

impl AndroidKeyProfile {
    /// A correct TEE profile under `ca`: generated, signing, scoped.
    pub fn new(ca: TestCa) -> Self {
        AndroidKeyProfile {
            ca,
            security_level: 1,
            challenge: None,
            all_applications: false,
            origin: Some(0),
            purposes: vec![2],
            other_key: false,
            challenge_tag: 0x04,
            list_tag: 0x30,
            purpose_set_tag: 0x31,
            purposes_in_software: false,
        }
    }

    fn key_description(&self, client_data_hash: &[u8]) -> Vec<u8> {
        // algorithm [2] EC and keySize [3] 256, as real key descriptions
        // carry beside the tags §8.4 looks at.
        let mut hardware = [
            tlv(&[0xa2], &tlv(&[0x02], &[3])),
            tlv(&[0xa3], &tlv(&[0x02], &[0x01, 0x00])),
        ]
        .concat();
        let mut software = Vec::new();
        if !self.purposes.is_empty() {
            let ints: Vec<u8> = self
                .purposes
                .iter()
                .flat_map(|p| tlv(&[0x02], &[*p]))
                .collect();
            let purposes = tlv(&[0xa1], &tlv(&[self.purpose_set_tag], &ints));
            if self.purposes_in_software {
                software.extend(purposes);
            } else {
                hardware.extend(purposes);
            }
        }
        if self.all_applications {
            hardware.extend(tlv(&[0xbf, 0x84, 0x58], &[0x05, 0x00]));
        }
        if let Some(origin) = self.origin {
            hardware.extend(tlv(&[0xbf, 0x85, 0x3e], &tlv(&[0x02], &[origin])));
        }
        let challenge = self
            .challenge
            .clone()
            .unwrap_or_else(|| client_data_hash.to_vec());
        let fields = [
            tlv(&[0x02], &[3]),
            tlv(&[0x0a], &[self.security_level]),
            tlv(&[0x02], &[4]),
            tlv(&[0x0a], &[self.security_level]),
            tlv(&[self.challenge_tag], &challenge),
            tlv(&[0x04], &[]),
            tlv(&[self.list_tag], &software),
            tlv(&[self.list_tag], &hardware),
        ]
        .concat();
        tlv(&[0x30], &fields)
    }

    pub(crate) fn statement(&self, s: &Subject<'_>, sig: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Android Keystore Key");
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17],
                self.key_description(s.client_data_hash),
            ));
        // other_key: a consistent statement (certificate and signature) by
        // a key that is not the credential's.
        let other = self
            .other_key
            .then(|| CredentialKey::generate(s.key.algorithm()));
        let signer = other.as_ref().unwrap_or(s.key);
        let leaf = self.ca.certify(&params, &subject_key(signer));
        Value::Map(vec![
            (
                text("alg"),
                Value::Integer(s.key.algorithm().cose_id().into()),
            ),
            (text("sig"), Value::Bytes(sig(signer.sign(&s.signed())))),
            (text("x5c"), x5c(&[leaf])),
        ])
    }
}

// ------------------------------------------------------------------ tpm --

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

// ---------------------------------------------------- android-safetynet --

/// How to make an `android-safetynet` statement (an RS256 JWS).
#[derive(Clone)]
pub struct SafetyNetProfile {
    /// Issues the `attest.android.com` certificate.
    pub ca: TestCa,
    /// The payload's `timestampMs` (the relying party judges freshness).
    pub timestamp_ms: u64,
    /// `ctsProfileMatch`.
    pub cts_profile_match: bool,
    /// A nonce instead of the right one.
    pub nonce: Option<Vec<u8>>,
    /// The signing certificate's host name (its SAN).
    pub hostname: String,
    /// The signing certificate's common name.
    pub common_name: String,
    /// `ver`.
    pub version: String,
}

impl SafetyNetProfile {
    /// A correct profile under `ca`, stamped at `timestamp_ms`.
    pub fn new(ca: TestCa, timestamp_ms: u64) -> Self {
        SafetyNetProfile {
            ca,
            timestamp_ms,
            cts_profile_match: true,
            nonce: None,
            hostname: "attest.android.com".into(),
            common_name: "attest.android.com".into(),
            version: "25180000".into(),
        }
    }

    pub(crate) fn statement(&self, s: &Subject<'_>, sig: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
        let key = KeyPair::generate_for(&PKCS_RSA_SHA256).expect("rsa key");
        let mut params = CertificateParams::new(vec![self.hostname.clone()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        let leaf = self.ca.certify(&params, &key);
        let url = |b: &[u8]| crate::b64(b);
        let header = serde_json::json!({"alg": "RS256", "x5c": [STANDARD.encode(&leaf)]});
        let nonce = self.nonce.clone().unwrap_or_else(|| sha256(&s.signed()));
        let payload = serde_json::json!({
            "nonce": STANDARD.encode(nonce),
            "timestampMs": self.timestamp_ms,
            "apkPackageName": "com.google.android.gms",
            "ctsProfileMatch": self.cts_profile_match,
            "basicIntegrity": true,
        });
        let signed = format!(
            "{}.{}",
            url(header.to_string().as_bytes()),
            url(payload.to_string().as_bytes())
        );
        let signature = sig(key.sign(signed.as_bytes()).expect("sign"));
        let jws = format!("{signed}.{}", url(&signature));
        Value::Map(vec![
            (text("ver"), text(&self.version)),
            (text("response"), Value::Bytes(jws.into_bytes())),
        ])
    }
}

// ------------------------------------------------------------- metadata --

/// A test FIDO Metadata Service: a root and an RS256 signing certificate
/// that make MDS3 BLOBs (JWTs) the way the real service does.
pub struct TestMds {
    /// The root a relying party configures as the FIDO root.
    pub root_der: Vec<u8>,
    signer_key: KeyPair,
    signer_der: Vec<u8>,
}

impl TestMds {
    /// A fresh root and signer.
    pub fn new() -> Self {
        let ca = TestCa::new("keybound test FIDO MDS root");
        let signer_key = KeyPair::generate_for(&PKCS_RSA_SHA256).expect("rsa key");
        let mut params = CertificateParams::new(vec!["mds.test".into()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "keybound test MDS signer");
        let signer_der = ca.certify(&params, &signer_key);
        TestMds {
            root_der: ca.root_der,
            signer_key,
            signer_der,
        }
    }

    /// A BLOB with serial `no`, due `next_update` (YYYY-MM-DD), holding
    /// `entries` (MDS3 JSON metadata BLOB payload entries).
    pub fn blob(&self, no: u64, next_update: &str, entries: serde_json::Value) -> String {
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.signer_der)],
        });
        let payload = serde_json::json!({
            "legalHeader": "keybound tests",
            "no": no,
            "nextUpdate": next_update,
            "entries": entries,
        });
        let signed = format!(
            "{}.{}",
            crate::b64(header.to_string().as_bytes()),
            crate::b64(payload.to_string().as_bytes())
        );
        let sig = self.signer_key.sign(signed.as_bytes()).expect("sign");
        format!("{signed}.{}", crate::b64(&sig))
    }

    /// One entry: `aaguid` (8-4-4-4-12) attested under `roots` (DER), with
    /// these status reports, oldest first.
    pub fn entry(aaguid: &str, roots: &[Vec<u8>], statuses: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "aaguid": aaguid,
            "metadataStatement": {
                "description": format!("test model {aaguid}"),
                "attestationRootCertificates": roots.iter().map(|r| STANDARD.encode(r)).collect::<Vec<_>>(),
            },
            "statusReports": statuses.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
        })
    }
}

impl TestMds {
    /// A U2F entry: attestation certificates known by their key
    /// identifiers (hex SHA-1 of the public key bits) instead of an AAGUID.
    pub fn u2f_entry(
        key_identifiers: &[String],
        roots: &[Vec<u8>],
        statuses: &[&str],
    ) -> serde_json::Value {
        serde_json::json!({
            "attestationCertificateKeyIdentifiers": key_identifiers,
            "metadataStatement": {
                "description": "test U2F model",
                "attestationRootCertificates": roots.iter().map(|r| STANDARD.encode(r)).collect::<Vec<_>>(),
            },
            "statusReports": statuses.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
        })
    }
}

impl Default for TestMds {
    fn default() -> Self {
        Self::new()
    }
}
