//! X.509-SVID issuance per the X.509-SVID specification
//! (<https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md>):
//! exactly one URI SAN, the SPIFFE ID (§2); DNS SANs allowed; basicConstraints
//! cA false (§4.1); keyUsage digitalSignature, critical, with
//! keyEncipherment and keyAgreement as SPIRE sets them (§4.3); extKeyUsage
//! serverAuth + clientAuth (§4.4); an AKI naming the authority's key.

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType,
};

use crate::authority::{serial_number, time};
use crate::crypto::{PointCheck, SubjectKey};
use crate::{Authority, Error, SpiffeId};

/// id-ce-basicConstraints (RFC 5280 §4.2.1.9).
const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// `BasicConstraints ::= SEQUENCE {}`: cA defaults to false.
const NOT_CA: [u8; 2] = [0x30, 0x00];

/// Most DNS SANs in one SVID.
pub const MAX_DNS_NAMES: usize = 32;
/// The longest DNS name, in bytes (RFC 1035 §2.3.4).
pub const MAX_DNS_NAME_LEN: usize = 253;
/// The largest SubjectPublicKeyInfo accepted, in bytes (an RSA 8192 key is
/// about 1.1 KiB).
pub const MAX_SPKI_LEN: usize = 2048;

/// What to certify.
#[derive(Debug, Clone)]
pub struct SvidRequest<'a> {
    /// The workload's public key, SubjectPublicKeyInfo DER: EC P-256 or
    /// P-384, Ed25519, or RSA of 2048 to 8192 bits.
    pub spki_der: &'a [u8],
    /// The identity; must be in the authority's trust domain.
    pub spiffe_id: &'a SpiffeId,
    /// DNS SANs (at most [`MAX_DNS_NAMES`], each [`valid_dns_name`]).
    pub dns_names: &'a [String],
    /// notBefore, unix seconds (SPIRE backdates by a few seconds for clock
    /// skew; that is the caller's choice).
    pub not_before_s: i64,
    /// notAfter, unix seconds; clamped to the authority's notAfter.
    pub not_after_s: i64,
    /// The serial number (see [`random_serial`]); not all zero.
    pub serial: [u8; 16],
}

/// An issued X.509-SVID leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Svid {
    /// The leaf certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its notAfter after clamping, unix seconds.
    pub not_after_s: i64,
}

/// Issues an X.509-SVID leaf signed by `authority`. The chain to send with
/// it is the leaf, then the authority's certificate unless that is a root
/// ([`Authority::is_self_signed`]).
///
/// Errors: [`Error::ForeignTrustDomain`], [`Error::UnsupportedKey`],
/// [`Error::InvalidDnsName`], [`Error::TooManyDnsNames`],
/// [`Error::InvalidValidity`] (empty once clamped, or not encodable),
/// [`Error::InvalidSerial`], [`Error::Signing`].
pub fn issue_x509_svid(authority: &Authority, req: &SvidRequest<'_>) -> Result<X509Svid, Error> {
    if !req.spiffe_id.is_member_of(authority.trust_domain()) {
        return Err(Error::ForeignTrustDomain);
    }
    if req.spki_der.len() > MAX_SPKI_LEN {
        return Err(Error::UnsupportedKey);
    }
    let key = SubjectKey::from_spki(req.spki_der, PointCheck::Form)?;
    if req.dns_names.len() > MAX_DNS_NAMES {
        return Err(Error::TooManyDnsNames);
    }
    let not_before_s = req.not_before_s.max(authority.not_before_s());
    let not_after_s = req.not_after_s.min(authority.not_after_s());
    if not_after_s <= not_before_s {
        return Err(Error::InvalidValidity);
    }

    let mut params = CertificateParams::default();
    params.serial_number = Some(serial_number(&req.serial)?);
    params.not_before = time(not_before_s)?;
    params.not_after = time(not_after_s)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "keybound");
    params.distinguished_name = dn;
    let uri = req
        .spiffe_id
        .as_str()
        .to_owned()
        .try_into()
        .map_err(|_| Error::Signing)?;
    let mut sans = vec![SanType::URI(uri)];
    for name in req.dns_names {
        if !valid_dns_name(name) {
            return Err(Error::InvalidDnsName);
        }
        let name = name.clone().try_into().map_err(|_| Error::InvalidDnsName)?;
        sans.push(SanType::DnsName(name));
    }
    params.subject_alt_names = sans;
    // basicConstraints cA false, critical, written as a custom extension:
    // rcgen's `IsCa::ExplicitNoCa` also writes an SKI, which the profile
    // does not ask for and which costs a SHA-256 and a second SPKI
    // encoding per SVID (issuance runs at signing speed; BENCHMARKS.md).
    params.is_ca = IsCa::NoCa;
    let mut not_ca = CustomExtension::from_oid_content(BASIC_CONSTRAINTS, NOT_CA.to_vec());
    not_ca.set_criticality(true);
    params.custom_extensions = vec![not_ca];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &authority.issuer)
        .map_err(|_| Error::Signing)?;
    Ok(X509Svid {
        cert_der: cert.der().to_vec(),
        not_after_s,
    })
}

impl X509Svid {
    /// The chain to hand a workload (`X509SVID.x509_svid`, the wire's
    /// `IssuedSvid.chain`): the leaf, then `authority`'s certificate
    /// unless it is a root, which travels in the bundle instead.
    pub fn chain(&self, authority: &Authority) -> Vec<Vec<u8>> {
        let mut chain = vec![self.cert_der.clone()];
        if !authority.is_self_signed() {
            chain.push(authority.cert_der().to_vec());
        }
        chain
    }
}

impl Authority {
    /// [`issue_x509_svid`] with this authority.
    pub fn issue_x509_svid(&self, req: &SvidRequest<'_>) -> Result<X509Svid, Error> {
        issue_x509_svid(self, req)
    }
}

/// Whether `name` may be a DNS SAN: at most [`MAX_DNS_NAME_LEN`] bytes of
/// dot-separated labels of 1 to 63 `[A-Za-z0-9-]`, not starting or ending
/// with `-`, no trailing dot; the first label may be `*` (a wildcard).
pub fn valid_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_DNS_NAME_LEN {
        return false;
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let mut labels = name.split('.');
    let first_ok = match labels.next() {
        Some("*") => name.len() > 2,
        Some(label) => label_ok(label),
        None => false,
    };
    first_ok && labels.all(label_ok)
}

/// A fresh serial number from the caller's RNG: 16 bytes whose top bit is
/// clear and next bit set, so the DER INTEGER is always exactly these 16
/// bytes (positive, never zero, no padding byte).
pub fn random_serial(rng: &mut dyn rand_core::CryptoRng) -> [u8; 16] {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    if let Some(top) = serial.first_mut() {
        *top = (*top & 0x7f) | 0x40;
    }
    serial
}
