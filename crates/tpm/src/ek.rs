//! The EK certificate (TCG EK Credential Profile 2.0): it must chain to a
//! configured manufacturer root, and its key must be the EK the node
//! presented.
//!
//! The chain is checked by rustls-webpki at the time the caller gives,
//! for any key usage, with the EKU `tcg-kp-EKCertificate` (2.23.133.8.1)
//! required only if the certificate has an EKU. What swtpm's
//! `swtpm_localca` (and manufacturers) put in EK certificates and webpki
//! accepts: an empty or placeholder subject, a critical SAN holding only a
//! directoryName (TPM manufacturer, model, version: not checked, webpki
//! validates no names here), subjectDirectoryAttributes (TPM spec level:
//! not read), a critical key usage of keyEncipherment. Not done: fetching
//! intermediates from the AIA extension (no IO here; configure them beside
//! the roots) and revocation (manufacturers rarely publish CRLs for EKs).

use der::asn1::UintRef;
use der::Decode;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_cert::spki::ObjectIdentifier;
use x509_cert::Certificate;

use crate::crypto::RsaPublicKey;
use crate::public::{Public, PublicKey};
use crate::Error;

/// tcg-kp-EKCertificate, the DER contents of OID 2.23.133.8.1.
const EKU_TCG_EK_CERTIFICATE: &[u8] = &[0x67, 0x81, 0x05, 0x08, 0x01];
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Largest certificate accepted (EK certificates are 1-2 KiB).
pub const MAX_CERTIFICATE_LEN: usize = 8192;

/// The manufacturer roots EK certificates must chain to, and the
/// intermediates (manufacturers' issuing CAs) offered for path building.
#[derive(Debug, Clone, Default)]
pub struct EkRoots {
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
}

impl EkRoots {
    /// No roots: every EK certificate is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the certificates of one file, PEM (any number of
    /// `CERTIFICATE` blocks) or a single DER certificate. Self-signed ones
    /// become trust anchors, the others intermediates: a manufacturer's
    /// issuing CA is configured beside its root, because TPMs store only
    /// the EK certificate itself. Returns how many were added.
    ///
    /// # Errors
    /// [`Error::EkRootsInvalid`] if the file holds no certificate or one
    /// that does not parse; nothing is added then.
    pub fn add_file(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let certs: Vec<CertificateDer<'static>> = if bytes.starts_with(b"-----BEGIN") {
            CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<_, _>>()
                .map_err(|_| Error::EkRootsInvalid)?
        } else {
            vec![CertificateDer::from(bytes.to_vec())]
        };
        if certs.is_empty() {
            return Err(Error::EkRootsInvalid);
        }
        let mut anchors = Vec::new();
        let mut intermediates = Vec::new();
        for cert in certs {
            let parsed = Certificate::from_der(&cert).map_err(|_| Error::EkRootsInvalid)?;
            if parsed.tbs_certificate.issuer == parsed.tbs_certificate.subject {
                let anchor = webpki::anchor_from_trusted_cert(&cert)
                    .map_err(|_| Error::EkRootsInvalid)?
                    .to_owned();
                anchors.push(anchor);
            } else {
                intermediates.push(cert);
            }
        }
        let n = anchors.len() + intermediates.len();
        self.anchors.extend(anchors);
        self.intermediates.extend(intermediates);
        Ok(n)
    }

    /// Whether no trust anchor is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// Verifies that `cert_der` chains to `roots` at `now` and certifies the
/// key of `ek`.
///
/// # Errors
/// [`Error::EkCertificateMalformed`], [`Error::EkCertificateUntrusted`],
/// [`Error::EkCertificateKeyMismatch`].
pub fn verify_ek_certificate(
    cert_der: &[u8],
    ek: &Public,
    roots: &EkRoots,
    now: UnixTime,
) -> Result<(), Error> {
    if cert_der.len() > MAX_CERTIFICATE_LEN {
        return Err(Error::EkCertificateMalformed);
    }
    let der = CertificateDer::from(cert_der);
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| Error::EkCertificateMalformed)?;
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &roots.anchors,
        &roots.intermediates,
        now,
        webpki::KeyUsage::required_if_present(EKU_TCG_EK_CERTIFICATE),
        None,
        None,
    )
    .map_err(|_| Error::EkCertificateUntrusted)?;

    let parsed = Certificate::from_der(cert_der).map_err(|_| Error::EkCertificateMalformed)?;
    let spki = parsed.tbs_certificate.subject_public_key_info;
    let key_bits = spki.subject_public_key.raw_bytes();
    let same = match ek.key() {
        PublicKey::Rsa { modulus, exponent } => {
            spki.algorithm.oid == OID_RSA_ENCRYPTION
                && RsaPublicKey::from_der(key_bits).is_ok_and(|k| {
                    let e = exponent.to_be_bytes();
                    UintRef::new(modulus).is_ok_and(|m| m == k.modulus)
                        && UintRef::new(&e).is_ok_and(|e| e == k.public_exponent)
                })
        }
        key @ PublicKey::EccP256 { .. } => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            spki.algorithm.oid == OID_EC_PUBLIC_KEY
                && curve == Some(OID_PRIME256V1)
                && key.ec_point().is_some_and(|p| p.as_slice() == key_bits)
        }
    };
    if same {
        Ok(())
    } else {
        Err(Error::EkCertificateKeyMismatch)
    }
}
