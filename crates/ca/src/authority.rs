//! An X.509 authority: the CA key and certificate that sign X.509-SVIDs
//! and CRLs for one trust domain.
//!
//! The certificate follows the X.509-SVID specification's signing
//! certificate profile (§5): basicConstraints cA with a pathLenConstraint
//! (0 for an intermediate, which signs only leaves; 1 for a root, which may
//! sign one intermediate), keyUsage keyCertSign + cRLSign (critical), the
//! trust domain's SPIFFE ID `spiffe://<td>` as its URI SAN, SKI and AKI.
//!
//! No name constraint is written. RFC 5280 constrains URIs by host, so
//! `permittedSubtrees: uniformResourceIdentifier "<td>"` would be the right
//! one, but rustls-webpki (what spiffe-rustls and keybound verify with)
//! does not implement URI constraints and refuses every chain through a CA
//! that has one (`subject_name/mod.rs`: "fail closed"), so it would break
//! the Rust SPIFFE ecosystem. SPIRE writes none either. The trust domain
//! binding is enforced where it matters instead: the issuer refuses SPIFFE
//! IDs of other trust domains, and verifiers match the SVID's trust domain
//! to the bundle they verified it with.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyUsagePurpose,
    SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::cert::CertInfo;
use crate::crypto::CaKey;
use crate::{Error, SpiffeId, TrustDomain};

/// What signs a new intermediate authority.
#[derive(Clone, Copy)]
pub enum Parent<'a> {
    /// Another keybound authority (an intermediate under our own root).
    Authority(&'a Authority),
    /// The organisation's CA (`--ca-cert/--ca-key`): its certificate (DER)
    /// and private key (PKCS#8 DER: P-256, P-384, RSA or Ed25519). The key
    /// must match the certificate, which must be a CA allowed to sign
    /// certificates.
    External {
        /// The CA certificate, DER.
        cert_der: &'a [u8],
        /// Its private key, PKCS#8 DER.
        key_pkcs8: &'a [u8],
    },
}

/// A trust domain's X.509 signing authority: an ECDSA P-256 key and its CA
/// certificate. The key is parsed once (issuing does not re-read PKCS#8)
/// and its PKCS#8 copy is wiped from memory on drop.
pub struct Authority {
    trust_domain: TrustDomain,
    cert_der: CertificateDer<'static>,
    key_pkcs8: Zeroizing<Vec<u8>>,
    pub(crate) issuer: Issuer<'static, CaKey>,
    not_before_s: i64,
    not_after_s: i64,
    self_signed: bool,
    /// The certificate's SKI: the AKI of its CRLs.
    pub(crate) ski: Option<Vec<u8>>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Authority")
            .field("trust_domain", &self.trust_domain)
            .field("not_before_s", &self.not_before_s)
            .field("not_after_s", &self.not_after_s)
            .field("self_signed", &self.self_signed)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// A self-signed root for `td`, valid from `not_before_s` to
    /// `not_after_s` (unix seconds), with the caller's serial (see
    /// [`crate::random_serial`]) and P-256 key (PKCS#8 DER, see
    /// [`crate::generate_p256_pkcs8`]).
    ///
    /// Errors: [`Error::InvalidPrivateKey`], [`Error::InvalidValidity`],
    /// [`Error::InvalidSerial`], [`Error::Signing`].
    pub fn new_root(
        td: &TrustDomain,
        not_before_s: i64,
        not_after_s: i64,
        serial: [u8; 16],
        key_pkcs8: &[u8],
    ) -> Result<Self, Error> {
        let key = CaKey::p256(key_pkcs8)?;
        let params = ca_params(td, not_before_s, not_after_s, serial, ROOT_PATH_LEN)?;
        let cert = params.self_signed(&key).map_err(|_| Error::Signing)?;
        Self::assemble(td.clone(), cert.into(), key_pkcs8, key)
    }

    /// An intermediate for `td` signed by `parent`; its notAfter is clamped
    /// to the parent's. Used when the organisation's root signs keybound's
    /// authority (`--ca-cert/--ca-key`).
    ///
    /// Errors: those of [`Authority::new_root`], and for an external parent
    /// [`Error::InvalidCertificate`] (not a CA, cannot sign certificates,
    /// unparsable) or [`Error::KeyMismatch`].
    pub fn new_intermediate(
        td: &TrustDomain,
        parent: Parent<'_>,
        not_before_s: i64,
        not_after_s: i64,
        serial: [u8; 16],
        key_pkcs8: &[u8],
    ) -> Result<Self, Error> {
        let key = CaKey::p256(key_pkcs8)?;
        let cert = match parent {
            Parent::Authority(parent) => {
                let not_after_s = not_after_s.min(parent.not_after_s);
                let params = ca_params(td, not_before_s, not_after_s, serial, 0)?;
                params
                    .signed_by(&key, &parent.issuer)
                    .map_err(|_| Error::Signing)?
            }
            Parent::External {
                cert_der,
                key_pkcs8: parent_key,
            } => {
                let info = CertInfo::parse(cert_der)?;
                if !info.is_ca {
                    return Err(Error::InvalidCertificate("parent is not a CA"));
                }
                if !info.can_sign_certs {
                    return Err(Error::InvalidCertificate(
                        "parent may not sign certificates",
                    ));
                }
                let parent_key = CaKey::any(parent_key)?;
                if rcgen::PublicKeyData::subject_public_key_info(&parent_key) != info.spki_der {
                    return Err(Error::KeyMismatch);
                }
                let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(cert_der), parent_key)
                    .map_err(|_| Error::InvalidCertificate("parent DER"))?;
                let not_after_s = not_after_s.min(info.not_after_s);
                let params = ca_params(td, not_before_s, not_after_s, serial, 0)?;
                params
                    .signed_by(&key, &issuer)
                    .map_err(|_| Error::Signing)?
            }
        };
        Self::assemble(td.clone(), cert.into(), key_pkcs8, key)
    }

    /// An authority loaded back from storage: its certificate (DER) and
    /// P-256 key (PKCS#8 DER). The certificate must be a CA that may sign
    /// certificates with exactly one URI SAN, a trust domain's ID
    /// (`spiffe://<td>`), and the key must be its key.
    ///
    /// Errors: [`Error::InvalidCertificate`], [`Error::InvalidPrivateKey`],
    /// [`Error::KeyMismatch`].
    pub fn from_parts(cert_der: &[u8], key_pkcs8: &[u8]) -> Result<Self, Error> {
        let info = CertInfo::parse(cert_der)?;
        if !info.is_ca || !info.can_sign_certs {
            return Err(Error::InvalidCertificate("not a CA"));
        }
        let td = match info.uris.as_slice() {
            [uri] => {
                let id = SpiffeId::parse(uri)?;
                if !id.path().is_empty() {
                    return Err(Error::InvalidCertificate("URI SAN is not a trust domain"));
                }
                id.trust_domain().clone()
            }
            _ => return Err(Error::InvalidCertificate("not exactly one URI SAN")),
        };
        let key = CaKey::p256(key_pkcs8)?;
        if rcgen::PublicKeyData::subject_public_key_info(&key) != info.spki_der {
            return Err(Error::KeyMismatch);
        }
        Self::assemble(td, CertificateDer::from(cert_der.to_vec()), key_pkcs8, key)
    }

    fn assemble(
        trust_domain: TrustDomain,
        cert_der: CertificateDer<'static>,
        key_pkcs8: &[u8],
        key: CaKey,
    ) -> Result<Self, Error> {
        let info = CertInfo::parse(&cert_der)?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|_| Error::InvalidCertificate("DER"))?;
        Ok(Authority {
            trust_domain,
            cert_der,
            key_pkcs8: Zeroizing::new(key_pkcs8.to_vec()),
            issuer,
            not_before_s: info.not_before_s,
            not_after_s: info.not_after_s,
            self_signed: info.self_issued,
            ski: info.ski,
        })
    }

    /// The trust domain it signs for.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key, PKCS#8 DER, to store (encrypted) and load back with
    /// [`Authority::from_parts`].
    pub fn key_pkcs8(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// notBefore, unix seconds.
    pub fn not_before_s(&self) -> i64 {
        self.not_before_s
    }

    /// notAfter, unix seconds: no SVID it signs outlives it.
    pub fn not_after_s(&self) -> i64 {
        self.not_after_s
    }

    /// Whether the certificate is its own issuer (a root, which goes in the
    /// bundle); an intermediate's certificate goes in each SVID's chain
    /// instead, and its root in the bundle.
    pub fn is_self_signed(&self) -> bool {
        self.self_signed
    }
}

/// A root's pathLenConstraint: it may sign leaves, or one keybound
/// intermediate ([`Parent::Authority`]) that signs leaves (pathLen 0).
const ROOT_PATH_LEN: u8 = 1;

/// Unix seconds as an X.509 time.
pub(crate) fn time(seconds: i64) -> Result<time::OffsetDateTime, Error> {
    time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| Error::InvalidValidity)
}

/// A serial number: refused when all zero (RFC 5280 §4.1.2.2).
pub(crate) fn serial_number(serial: &[u8]) -> Result<SerialNumber, Error> {
    if serial.iter().all(|b| *b == 0) {
        return Err(Error::InvalidSerial);
    }
    Ok(SerialNumber::from_slice(serial))
}

fn ca_params(
    td: &TrustDomain,
    not_before_s: i64,
    not_after_s: i64,
    serial: [u8; 16],
    path_len: u8,
) -> Result<CertificateParams, Error> {
    if not_after_s <= not_before_s {
        return Err(Error::InvalidValidity);
    }
    let mut params = CertificateParams::default();
    params.not_before = time(not_before_s)?;
    params.not_after = time(not_after_s)?;
    params.serial_number = Some(serial_number(&serial)?);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "keybound");
    // The serial in the name tells authorities of one trust domain apart
    // during a rotation, when two are trusted at once.
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    dn.push(DnType::CommonName, format!("keybound CA {hex}"));
    params.distinguished_name = dn;
    let uri = td
        .id_string()
        .try_into()
        .map_err(|_| Error::SpiffeId(crate::SpiffeIdError::BadTrustDomainChar))?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}
