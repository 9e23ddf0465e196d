//! x5c attestation certificates: parsing (x509-cert), the per-format
//! certificate requirements, and the chain to caller-supplied trust anchors
//! (rustls-webpki over aws-lc-rs).

use std::time::Duration;

use ciborium::Value;
use der::asn1::{ObjectIdentifier, OctetString};
use der::Decode;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use crate::authenticator_data::Aaguid;
use crate::cose::{CoseAlgorithm, KeyMaterial};
use crate::crypto::Verifier;
use crate::error::Error;

const OID_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// X.520 serialNumber, where enterprise attestation puts a device's serial.
const OID_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
/// The longest serial kept from a certificate, bytes.
const MAX_SERIAL_BYTES: usize = 64;

/// The subject `serialNumber` (X.520, 2.5.4.5) of an attestation
/// certificate (DER), when it has one that is short printable text.
/// Enterprise attestation (WebAuthn L3 §5.4.7, `attestation:
/// "enterprise"`) is where authenticators reveal their serial, so an
/// organisation can link a credential to its inventory record. Call it on
/// the leaf of a chain the registration verified; it checks nothing else.
pub fn attestation_serial_number(der: &[u8]) -> Option<String> {
    let cert = AttestationCertificate::parse(Some(&der.to_vec())).ok()?;
    cert.subject_attribute(OID_SERIAL_NUMBER).filter(|s| {
        !s.is_empty()
            && s.len() <= MAX_SERIAL_BYTES
            && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    })
}
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// id-fido-gen-ce-aaguid.
const OID_FIDO_AAGUID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// The attestation trust roots a relying party accepts, and the time at which
/// to judge certificate validity (the crate has no clock).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    /// Shared: [`TrustAnchors::at`] gives another verification time
    /// without parsing the roots again.
    anchors: std::sync::Arc<[(Vec<u8>, TrustAnchor<'static>)]>,
    now: u64,
}

/// A trust anchor certificate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTrustAnchor {
    /// Position of the offending certificate in the list given.
    pub index: usize,
}

impl std::fmt::Display for InvalidTrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trust anchor {} is not a valid DER certificate",
            self.index
        )
    }
}

impl std::error::Error for InvalidTrustAnchor {}

impl TrustAnchors {
    /// Trust these DER root certificates, judging validity periods at
    /// `now_unix_seconds`.
    pub fn new<I, B>(roots: I, now_unix_seconds: u64) -> Result<Self, InvalidTrustAnchor>
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        let mut anchors = Vec::new();
        for (index, der) in roots.into_iter().enumerate() {
            let der: Vec<u8> = der.into();
            let cert = CertificateDer::from(der.as_slice());
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|_| InvalidTrustAnchor { index })?
                .to_owned();
            anchors.push((der, anchor));
        }
        Ok(TrustAnchors {
            anchors: anchors.into(),
            now: now_unix_seconds,
        })
    }

    /// The same anchors judged at `now_unix_seconds`: parsed once at
    /// start, then one per ceremony for the price of a reference count.
    pub fn at(&self, now_unix_seconds: u64) -> TrustAnchors {
        TrustAnchors {
            anchors: self.anchors.clone(),
            now: now_unix_seconds,
        }
    }

    /// No trust anchors: every x5c attestation is reported unverified.
    pub fn none() -> Self {
        TrustAnchors::default()
    }

    /// The verification time given to [`TrustAnchors::new`]; also the
    /// "now" of time-bound statements (SafetyNet's timestamp).
    pub fn now_unix_secs(&self) -> u64 {
        self.now
    }

    /// Chains `x5c` (end-entity certificate first, then intermediates) to
    /// these anchors: what registration does with a statement's x5c, offered
    /// for chains met elsewhere (a metadata root re-checking a stored
    /// attestation, a metadata BLOB's signing certificate).
    pub fn verify_chain(&self, x5c: Vec<Vec<u8>>) -> super::AttestationTrust {
        chain_trust(x5c, self)
    }

    /// True when no anchors are configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// Why an attestation chain was not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnverifiedReason {
    /// The caller configured no trust anchors.
    NoTrustAnchors,
    /// No path leads from the certificate to a configured anchor. A
    /// self-signed certificate inside x5c ends up here: x5c never supplies
    /// anchors.
    UnknownIssuer,
    /// A path exists but breaks a rule (expired, not a CA, bad signature...).
    ChainRejected(String),
}

/// Reads the `x5c` array: one or more DER certificates, attestation
/// certificate first.
pub(super) fn parse_x5c(value: Value) -> Result<Vec<Vec<u8>>, Error> {
    let Value::Array(items) = value else {
        return Err(Error::MalformedAttestationStatement);
    };
    if items.is_empty() {
        return Err(Error::MalformedAttestationStatement);
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Bytes(der) => Ok(der),
            _ => Err(Error::MalformedAttestationStatement),
        })
        .collect()
}

/// A parsed attestation (leaf) certificate.
pub(super) struct AttestationCertificate {
    cert: Certificate,
}

impl AttestationCertificate {
    pub(super) fn parse(der: Option<&Vec<u8>>) -> Result<Self, Error> {
        let der = der.ok_or(Error::MalformedAttestationStatement)?;
        let cert =
            Certificate::from_der(der).map_err(|_| Error::MalformedAttestationCertificate)?;
        Ok(AttestationCertificate { cert })
    }

    /// A verifier for the certificate's key, which must be of the kind `alg`
    /// names (and for EC, on `alg`'s curve).
    pub(super) fn verifier(&self, alg: CoseAlgorithm) -> Result<Verifier, Error> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        let key_oid = spki.algorithm.oid;
        let matches = match alg.ec2_curve() {
            Some(_) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                let expected = match alg {
                    CoseAlgorithm::Es256 => OID_P256,
                    CoseAlgorithm::Es384 => OID_P384,
                    _ => OID_P521,
                };
                key_oid == OID_EC_PUBLIC_KEY && curve == Some(expected)
            }
            None if alg.is_rsa() => key_oid == OID_RSA || key_oid == OID_RSA_PSS,
            None => key_oid == OID_ED25519,
        };
        if !matches {
            return Err(Error::AttestationAlgorithmMismatch);
        }
        Verifier::from_bytes(alg, self.public_key_bits()?)
            .ok_or(Error::MalformedAttestationCertificate)
    }

    /// A verifier for RS1 (RSASSA-PKCS1-v1_5 with SHA-1), which only the
    /// `tpm` format may ask for; the key must be a plain RSA key.
    pub(super) fn rs1_verifier(&self) -> Result<Verifier, Error> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != OID_RSA {
            return Err(Error::AttestationAlgorithmMismatch);
        }
        Verifier::rs1_legacy(self.public_key_bits()?).ok_or(Error::MalformedAttestationCertificate)
    }

    /// The subjectPublicKey bits: an EC point, an Ed25519 key, or PKCS#1
    /// `RSAPublicKey` DER.
    fn public_key_bits(&self) -> Result<&[u8], Error> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .ok_or(Error::MalformedAttestationCertificate)
    }

    /// §8.2.1: version 3; subject C, O, OU "Authenticator Attestation", CN;
    /// basic constraints CA false.
    pub(super) fn check_packed_requirements(&self) -> Result<(), Error> {
        if !self.is_v3() {
            return Err(Error::AttestationCertificateRequirement);
        }
        let country = self.subject_attribute(OID_COUNTRY);
        let org = self.subject_attribute(OID_ORGANIZATION);
        let unit = self.subject_attribute(OID_ORGANIZATIONAL_UNIT);
        let cn = self.subject_attribute(OID_COMMON_NAME);
        let ok = country
            .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            && org.is_some_and(|o| !o.is_empty())
            && unit.as_deref() == Some("Authenticator Attestation")
            && cn.is_some_and(|c| !c.is_empty());
        if !ok || !self.is_end_entity()? {
            return Err(Error::AttestationCertificateRequirement);
        }
        Ok(())
    }

    /// When the certificate names an AAGUID (id-fido-gen-ce-aaguid), it must
    /// be non-critical and equal the authenticator data's AAGUID.
    pub(super) fn check_aaguid(&self, aaguid: &Aaguid) -> Result<(), Error> {
        let Some(ext) = self.extension(OID_FIDO_AAGUID) else {
            return Ok(());
        };
        if ext.critical {
            return Err(Error::AttestationCertificateRequirement);
        }
        let inner = OctetString::from_der(ext.extn_value.as_bytes())
            .map_err(|_| Error::MalformedAttestationCertificate)?;
        if inner.as_bytes() != aaguid.0.as_slice() {
            return Err(Error::AttestationAaguidMismatch);
        }
        Ok(())
    }

    /// Whether the certificate's key is `key` (same type, curve and value).
    pub(super) fn key_matches(&self, key: &KeyMaterial) -> bool {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        let Some(bits) = spki.subject_public_key.as_bytes() else {
            return false;
        };
        match key {
            KeyMaterial::Ec2 { curve, point } => {
                let expected = match curve {
                    coset::iana::EllipticCurve::P_256 => OID_P256,
                    coset::iana::EllipticCurve::P_384 => OID_P384,
                    coset::iana::EllipticCurve::P_521 => OID_P521,
                    _ => return false,
                };
                let named = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                spki.algorithm.oid == OID_EC_PUBLIC_KEY && named == Some(expected) && bits == point
            }
            KeyMaterial::Ed25519(x) => spki.algorithm.oid == OID_ED25519 && bits == x.as_slice(),
            KeyMaterial::Rsa { n, e } => {
                spki.algorithm.oid == OID_RSA
                    && rsa_components(bits)
                        .is_some_and(|(cn, ce)| cn == n.as_slice() && ce == e.as_slice())
            }
        }
    }

    /// Version 3, as every format's certificate requirements demand.
    pub(super) fn is_v3(&self) -> bool {
        self.cert.tbs_certificate.version == x509_cert::certificate::Version::V3
    }

    /// Basic constraints present with CA false.
    pub(super) fn is_end_entity(&self) -> Result<bool, Error> {
        match self.extension(OID_BASIC_CONSTRAINTS) {
            Some(ext) => Ok(!BasicConstraints::from_der(ext.extn_value.as_bytes())
                .map_err(|_| Error::MalformedAttestationCertificate)?
                .ca),
            None => Ok(false),
        }
    }

    /// An empty subject (TPM AIK certificates name the TPM in the SAN).
    pub(super) fn subject_is_empty(&self) -> bool {
        self.cert.tbs_certificate.subject.0.is_empty()
    }

    /// Whether the extended key usage extension lists `purpose`.
    pub(super) fn has_extended_key_usage(&self, purpose: ObjectIdentifier) -> Result<bool, Error> {
        let Some(ext) = self.extension(OID_EXTENDED_KEY_USAGE) else {
            return Ok(false);
        };
        let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
            .map_err(|_| Error::MalformedAttestationCertificate)?;
        Ok(usages.0.contains(&purpose))
    }

    /// The general names of the subject alternative name extension.
    fn subject_alt_names(&self) -> Result<Vec<x509_cert::ext::pkix::name::GeneralName>, Error> {
        let Some(ext) = self.extension(OID_SUBJECT_ALT_NAME) else {
            return Ok(Vec::new());
        };
        x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
            .map(|names| names.0)
            .map_err(|_| Error::MalformedAttestationCertificate)
    }

    /// The attributes of the directory names in the subject alternative
    /// name, as text (TPM manufacturer, model and version live here).
    pub(super) fn san_directory_attributes(
        &self,
    ) -> Result<Vec<(ObjectIdentifier, String)>, Error> {
        use x509_cert::ext::pkix::name::GeneralName;
        Ok(self
            .subject_alt_names()?
            .iter()
            .filter_map(|n| match n {
                GeneralName::DirectoryName(name) => Some(name),
                _ => None,
            })
            .flat_map(|name| name.0.iter().flat_map(|rdn| rdn.0.iter()))
            .filter_map(|atv| {
                std::str::from_utf8(atv.value.value())
                    .ok()
                    .map(|v| (atv.oid, v.to_owned()))
            })
            .collect())
    }

    /// The DNS names of the subject alternative name.
    pub(super) fn san_dns_names(&self) -> Result<Vec<String>, Error> {
        use x509_cert::ext::pkix::name::GeneralName;
        Ok(self
            .subject_alt_names()?
            .iter()
            .filter_map(|n| match n {
                GeneralName::DnsName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect())
    }

    /// The subject's common name.
    pub(super) fn common_name(&self) -> Option<String> {
        self.subject_attribute(OID_COMMON_NAME)
    }

    pub(super) fn extension(&self, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
    }

    fn subject_attribute(&self, oid: ObjectIdentifier) -> Option<String> {
        self.cert
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == oid)
            .and_then(|atv| {
                std::str::from_utf8(atv.value.value())
                    .ok()
                    .map(str::to_owned)
            })
    }
}

/// The modulus and exponent of a DER RSAPublicKey, without leading zeros.
fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use der::{Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    let (n, e) = reader
        .sequence(|r| {
            let n = der::asn1::UintRef::decode(r)?;
            let e = der::asn1::UintRef::decode(r)?;
            Ok((n, e))
        })
        .ok()?;
    reader.is_finished().then_some((n.as_bytes(), e.as_bytes()))
}

/// Accepts any extended key usage: attestation certificates follow their
/// format's EKU rules, which the format modules check, not TLS's.
struct AnyExtendedKeyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyExtendedKeyUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// Chains x5c to the trust anchors. x5c supplies only the attestation
/// certificate and intermediates: a self-signed certificate in it is never an
/// anchor, only the caller's roots are.
pub(super) fn chain_trust(x5c: Vec<Vec<u8>>, trust: &TrustAnchors) -> super::AttestationTrust {
    let unverified = |chain, reason| super::AttestationTrust::Unverified { chain, reason };
    if trust.anchors.is_empty() {
        return unverified(x5c, UnverifiedReason::NoTrustAnchors);
    }
    let Some((leaf, rest)) = x5c.split_first() else {
        return unverified(x5c, UnverifiedReason::UnknownIssuer);
    };
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = rest
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let anchors: Vec<TrustAnchor<'_>> = trust.anchors.iter().map(|(_, a)| a.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(trust.now));

    let result = webpki::EndEntityCert::try_from(&leaf_der).and_then(|ee| {
        let path = ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            AnyExtendedKeyUsage,
            None,
            None,
        )?;
        let mut chain = vec![leaf.clone()];
        chain.extend(path.intermediate_certificates().map(|c| c.der().to_vec()));
        let anchor = path.anchor();
        if let Some((der, _)) = trust.anchors.iter().find(|(_, a)| a == anchor) {
            chain.push(der.clone());
        }
        Ok(chain)
    });
    match result {
        Ok(chain) => super::AttestationTrust::Verified { chain },
        Err(webpki::Error::UnknownIssuer) => unverified(x5c, UnverifiedReason::UnknownIssuer),
        Err(e) => unverified(x5c, UnverifiedReason::ChainRejected(e.to_string())),
    }
}
