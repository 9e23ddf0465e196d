//! Shared test setup: authorities, subject keys, chain verification.

use std::time::Duration;

use keybound_ca::{Authority, SpiffeId, SvidRequest, TrustDomain};
use rustls_pki_types::{CertificateDer, UnixTime};

/// 2026-12-03T10:00:00Z, the tests' "now".
pub const NOW: i64 = 1_796_292_000;
pub const DAY: i64 = 86_400;

pub fn td(name: &str) -> TrustDomain {
    TrustDomain::parse(name).unwrap()
}

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

pub fn serial(n: u8) -> [u8; 16] {
    let mut s = [0x40; 16];
    s[15] = n;
    s
}

/// A root for `name` valid a day around NOW.
pub fn root(name: &str) -> Authority {
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    Authority::new_root(&td(name), NOW - DAY, NOW + DAY, serial(1), &key).unwrap()
}

/// A fresh subject key of `alg`: (rcgen key pair, SPKI DER).
pub fn subject_key(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    use rcgen::PublicKeyData as _;
    let pair = if alg == &rcgen::PKCS_RSA_SHA256 {
        rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
    } else {
        rcgen::KeyPair::generate_for(alg).unwrap()
    };
    pair.subject_public_key_info()
}

pub fn p256_spki() -> Vec<u8> {
    subject_key(&rcgen::PKCS_ECDSA_P256_SHA256)
}

/// A request for `spiffe_id` with a fresh P-256 key, one hour from NOW.
pub fn request<'a>(spki: &'a [u8], spiffe_id: &'a SpiffeId, dns: &'a [String]) -> SvidRequest<'a> {
    SvidRequest {
        spki_der: spki,
        spiffe_id,
        dns_names: dns,
        not_before_s: NOW - 10,
        not_after_s: NOW + 3600,
        serial: serial(7),
    }
}

/// Verifies `leaf` (with `intermediates`) to `root` at `now` for both TLS
/// usages, as rustls-webpki (spiffe-rustls) does.
pub fn verify(
    leaf: &[u8],
    intermediates: &[&[u8]],
    root: &[u8],
    now: i64,
) -> Result<(), webpki::Error> {
    let root = CertificateDer::from(root);
    let anchor = webpki::anchor_from_trusted_cert(&root)?;
    let leaf = CertificateDer::from(leaf);
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(*c))
        .collect();
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now as u64));
    for usage in [
        webpki::KeyUsage::client_auth(),
        webpki::KeyUsage::server_auth(),
    ] {
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            std::slice::from_ref(&anchor),
            &intermediates,
            time,
            usage,
            None,
            None,
        )?;
    }
    Ok(())
}
