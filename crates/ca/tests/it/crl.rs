//! CRLs: read back with x509-cert, and used by rustls-webpki to refuse a
//! revoked SVID while its unrevoked sibling still verifies.

use std::time::Duration;

use der::Decode as _;
use keybound_ca::{Error, SvidRequest};
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};

use crate::support::*;

fn verify_with_crl(leaf: &[u8], root: &[u8], crl: &[u8]) -> Result<(), webpki::Error> {
    let root = CertificateDer::from(root);
    let anchor = webpki::anchor_from_trusted_cert(&root)?;
    let leaf = CertificateDer::from(leaf);
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    let crl = CertRevocationList::from(BorrowedCertRevocationList::from_der(crl)?);
    let crls = [&crl];
    let revocation = RevocationOptionsBuilder::new(&crls)
        .unwrap()
        .with_depth(RevocationCheckDepth::EndEntity)
        .with_status_policy(UnknownStatusPolicy::Deny)
        .build();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &[],
        UnixTime::since_unix_epoch(Duration::from_secs(NOW as u64)),
        webpki::KeyUsage::client_auth(),
        Some(revocation),
        None,
    )
    .map(|_| ())
}

#[test]
fn crl_lists_the_revoked_serials_and_webpki_honours_it() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let issue = |n: u8| {
        ca.issue_x509_svid(&SvidRequest {
            serial: serial(n),
            ..request(&spki, &sid, &[])
        })
        .unwrap()
        .cert_der
    };
    let (revoked, kept) = (issue(20), issue(21));
    let crl_der = ca
        .crl(
            &[(serial(20), NOW - 60), (serial(22), NOW - 30)],
            NOW - 60,
            NOW + 600,
            5,
        )
        .unwrap();

    let crl = CertificateList::from_der(&crl_der).unwrap();
    let tbs = &crl.tbs_cert_list;
    let entries = tbs.revoked_certificates.as_ref().unwrap();
    let listed: Vec<(Vec<u8>, u64)> = entries
        .iter()
        .map(|e| {
            (
                e.serial_number.as_bytes().to_vec(),
                e.revocation_date.to_unix_duration().as_secs(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (serial(20).to_vec(), (NOW - 60) as u64),
            (serial(22).to_vec(), (NOW - 30) as u64)
        ]
    );
    assert_eq!(
        tbs.this_update.to_unix_duration().as_secs(),
        (NOW - 60) as u64
    );
    assert_eq!(
        tbs.next_update.unwrap().to_unix_duration().as_secs(),
        (NOW + 600) as u64
    );
    let root_cert = x509_cert::Certificate::from_der(ca.cert_der()).unwrap();
    assert_eq!(tbs.issuer, root_cert.tbs_certificate.subject);
    // The AKI is the authority's SKI.
    let ski = root_cert
        .tbs_certificate
        .get::<SubjectKeyIdentifier>()
        .unwrap()
        .unwrap()
        .1;
    let aki = tbs
        .crl_extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == der::oid::ObjectIdentifier::new_unwrap("2.5.29.35"))
        .map(|e| AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(aki.key_identifier.unwrap(), ski.0);

    assert_eq!(
        verify_with_crl(&revoked, ca.cert_der(), &crl_der),
        Err(webpki::Error::CertRevoked)
    );
    verify_with_crl(&kept, ca.cert_der(), &crl_der).unwrap();
}

#[test]
fn an_empty_crl_revokes_nothing() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let leaf = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    let crl_der = ca.crl(&[], NOW - 60, NOW + 600, 1).unwrap();
    let crl = CertificateList::from_der(&crl_der).unwrap();
    assert!(crl.tbs_cert_list.revoked_certificates.is_none());
    verify_with_crl(&leaf.cert_der, ca.cert_der(), &crl_der).unwrap();
}

#[test]
fn a_crl_from_another_authority_is_not_accepted() {
    let ca = root("example.org");
    let other = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let leaf = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    // Same issuer name (same serial), other key: the forged CRL revoking
    // the leaf must not be believed, nor taken as ours.
    let forged = other
        .crl(&[(serial(7), NOW - 60)], NOW - 60, NOW + 600, 1)
        .unwrap();
    assert_eq!(
        verify_with_crl(&leaf.cert_der, ca.cert_der(), &forged),
        Err(webpki::Error::InvalidCrlSignatureForPublicKey)
    );
}

#[test]
fn crl_validity_and_serials_are_checked() {
    let ca = root("example.org");
    assert_eq!(ca.crl(&[], NOW, NOW, 1), Err(Error::InvalidValidity));
    assert_eq!(ca.crl(&[], NOW, NOW - 1, 1), Err(Error::InvalidValidity));
    assert_eq!(
        ca.crl(&[([0; 16], NOW)], NOW, NOW + 1, 1),
        Err(Error::InvalidSerial)
    );
    assert_eq!(ca.crl(&[], NOW, i64::MAX, 1), Err(Error::InvalidValidity));
}
