use keybound_tpm::{verify_ek_certificate, EkRoots, Error, Public, UnixTime};
use std::time::Duration;

use crate::soft::SoftAk;
use crate::{fixture, fixture_time};

fn roots() -> EkRoots {
    let mut roots = EkRoots::new();
    assert_eq!(roots.add_file(&fixture("rootca.pem")).unwrap(), 1);
    assert_eq!(roots.add_file(&fixture("issuer.pem")).unwrap(), 1);
    roots
}

fn ek() -> Public {
    Public::from_tpm2b(&fixture("ek-rsa.pub")).unwrap()
}

#[test]
fn swtpm_ek_certificate_chains_to_its_manufacturer_root() {
    verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &roots(), fixture_time()).unwrap();
    // Both in one PEM file, issuer first, works too.
    let mut both = fixture("issuer.pem");
    both.extend_from_slice(&fixture("rootca.pem"));
    let mut roots = EkRoots::new();
    assert_eq!(roots.add_file(&both).unwrap(), 2);
    verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &roots, fixture_time()).unwrap();
}

#[test]
fn ek_certificate_without_its_root_is_untrusted() {
    // The issuing CA alone is not an anchor (it is not self-signed).
    let mut issuer_only = EkRoots::new();
    issuer_only.add_file(&fixture("issuer.pem")).unwrap();
    assert!(issuer_only.is_empty());
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &issuer_only, fixture_time()),
        Err(Error::EkCertificateUntrusted)
    );
    // The root without the issuing CA: no path.
    let mut root_only = EkRoots::new();
    root_only.add_file(&fixture("rootca.pem")).unwrap();
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &root_only, fixture_time()),
        Err(Error::EkCertificateUntrusted)
    );
    // Another manufacturer's root.
    let other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut other = other;
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let other = other.self_signed(&key).unwrap();
    let mut roots = EkRoots::new();
    roots.add_file(other.der()).unwrap();
    roots.add_file(&fixture("issuer.pem")).unwrap();
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &roots, fixture_time()),
        Err(Error::EkCertificateUntrusted)
    );
    assert_eq!(
        verify_ek_certificate(
            &fixture("ek-cert.der"),
            &ek(),
            &EkRoots::new(),
            fixture_time()
        ),
        Err(Error::EkCertificateUntrusted)
    );
}

#[test]
fn ek_certificate_before_its_validity_is_untrusted() {
    let before = UnixTime::since_unix_epoch(Duration::from_secs(1_600_000_000));
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &ek(), &roots(), before),
        Err(Error::EkCertificateUntrusted)
    );
}

#[test]
fn ek_certificate_of_another_key_is_refused() {
    // A genuine certificate shown with another EK public area: the
    // modulus differs in one byte.
    let mut other = fixture("ek-rsa.pub");
    let last = other.len() - 1;
    other[last] ^= 1;
    let other = Public::from_tpm2b(&other).unwrap();
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &other, &roots(), fixture_time()),
        Err(Error::EkCertificateKeyMismatch)
    );
    let ecc = Public::from_tpm2b(&SoftAk::new().tpm2b_public()).unwrap();
    assert_eq!(
        verify_ek_certificate(&fixture("ek-cert.der"), &ecc, &roots(), fixture_time()),
        Err(Error::EkCertificateKeyMismatch)
    );
}

#[test]
fn malformed_certificates_and_roots_are_refused() {
    let cert = fixture("ek-cert.der");
    for n in [0, 1, 10, cert.len() / 2, cert.len() - 1] {
        assert_eq!(
            verify_ek_certificate(&cert[..n], &ek(), &roots(), fixture_time()),
            Err(Error::EkCertificateMalformed),
            "cut at {n}"
        );
    }
    assert_eq!(
        verify_ek_certificate(&vec![0x30; 9000], &ek(), &roots(), fixture_time()),
        Err(Error::EkCertificateMalformed)
    );
    let mut roots = EkRoots::new();
    assert_eq!(roots.add_file(b""), Err(Error::EkRootsInvalid));
    assert_eq!(
        roots.add_file(b"not a certificate"),
        Err(Error::EkRootsInvalid)
    );
    assert_eq!(
        roots.add_file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(Error::EkRootsInvalid)
    );
    assert!(roots.is_empty());
}
