//! Reading certificates (ours from the database, an organisation's root, a
//! federated bundle's authorities) with x509-cert: only the fields the
//! authority and bundle code decide on.

use der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectAltName, SubjectKeyIdentifier};
use x509_cert::Certificate;

use crate::Error;

/// The largest certificate accepted as input, in bytes: bounds the parsing
/// a stored or federated certificate can cause.
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// What the crate needs to know about a certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    /// SubjectPublicKeyInfo, DER.
    pub(crate) spki_der: Vec<u8>,
    pub(crate) not_before_s: i64,
    pub(crate) not_after_s: i64,
    /// basicConstraints cA.
    pub(crate) is_ca: bool,
    /// keyUsage absent, or with keyCertSign.
    pub(crate) can_sign_certs: bool,
    /// Subject equals issuer.
    pub(crate) self_issued: bool,
    /// URI SANs.
    pub(crate) uris: Vec<String>,
    /// The subject key identifier, if the certificate has one.
    pub(crate) ski: Option<Vec<u8>>,
}

impl CertInfo {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, Error> {
        if der.len() > MAX_CERT_LEN {
            return Err(Error::InvalidCertificate("too large"));
        }
        let cert = Certificate::from_der(der).map_err(|_| Error::InvalidCertificate("DER"))?;
        let tbs = &cert.tbs_certificate;
        let spki_der = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|_| Error::InvalidCertificate("public key"))?;
        let seconds = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs())
                .map_err(|_| Error::InvalidCertificate("validity"))
        };
        let bad_ext = |_| Error::InvalidCertificate("extension");
        let is_ca = tbs
            .get::<BasicConstraints>()
            .map_err(bad_ext)?
            .is_some_and(|(_, bc)| bc.ca);
        let can_sign_certs = tbs
            .get::<KeyUsage>()
            .map_err(bad_ext)?
            .is_none_or(|(_, ku)| ku.key_cert_sign());
        let uris = tbs
            .get::<SubjectAltName>()
            .map_err(bad_ext)?
            .map(|(_, san)| {
                san.0
                    .into_iter()
                    .filter_map(|name| match name {
                        GeneralName::UniformResourceIdentifier(uri) => {
                            Some(uri.as_str().to_owned())
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ski = tbs
            .get::<SubjectKeyIdentifier>()
            .map_err(bad_ext)?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        Ok(CertInfo {
            spki_der,
            not_before_s: seconds(tbs.validity.not_before)?,
            not_after_s: seconds(tbs.validity.not_after)?,
            is_ca,
            can_sign_certs,
            self_issued: tbs.subject == tbs.issuer,
            uris,
            ski,
        })
    }
}
