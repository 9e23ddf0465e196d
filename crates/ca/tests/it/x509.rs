//! X.509 authorities and SVIDs: chains verified with rustls-webpki, every
//! extension read back with x509-cert, hostile requests refused.

use der::{Decode as _, Encode as _};
use keybound_ca::{Authority, Error, Parent, SvidRequest, MAX_DNS_NAMES};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::Certificate;

use crate::support::*;

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).unwrap()
}

fn ext<'a, T: der::Decode<'a> + der::oid::AssociatedOid>(c: &'a Certificate) -> Option<(bool, T)> {
    c.tbs_certificate.get::<T>().unwrap()
}

fn uris(c: &Certificate) -> Vec<String> {
    let (_, san) = ext::<SubjectAltName>(c).unwrap();
    san.0
        .iter()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn svid_verifies_to_its_root_with_webpki() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let svid = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    assert!(ca.is_self_signed());
    // A root's SVID travels alone: the root is in the bundle.
    assert_eq!(svid.chain(&ca), vec![svid.cert_der.clone()]);
    verify(&svid.cert_der, &[], ca.cert_der(), NOW).unwrap();
    // Past its notAfter the same chain fails: the check is live.
    assert_eq!(
        verify(&svid.cert_der, &[], ca.cert_der(), NOW + 3601),
        Err(webpki::Error::CertExpired {
            time: rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                (NOW + 3601) as u64
            )),
            not_after: rustls_pki_types::UnixTime::since_unix_epoch(
                std::time::Duration::from_secs((NOW + 3600) as u64)
            ),
        })
    );
}

#[test]
fn svid_from_another_authority_fails_to_verify() {
    let ours = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    // Another authority of the same trust domain, a different serial (so a
    // different subject name): no issuer found.
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    let theirs =
        Authority::new_root(&td("example.org"), NOW - DAY, NOW + DAY, serial(9), &key).unwrap();
    let svid = theirs.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    assert_eq!(
        verify(&svid.cert_der, &[], ours.cert_der(), NOW),
        Err(webpki::Error::UnknownIssuer)
    );
    // Even under an identical name, the signature gives it away.
    let twin = root("example.org");
    let svid = twin.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    assert_eq!(
        verify(&svid.cert_der, &[], ours.cert_der(), NOW),
        Err(webpki::Error::InvalidSignatureForPublicKey)
    );
}

#[test]
fn svid_extensions_follow_the_x509_svid_profile() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/ns/prod/web");
    let dns = vec!["web.example.org".to_owned(), "*.web.example.org".to_owned()];
    let svid = ca.issue_x509_svid(&request(&spki, &sid, &dns)).unwrap();
    let c = cert(&svid.cert_der);
    let tbs = &c.tbs_certificate;

    assert_eq!(tbs.serial_number.as_bytes(), serial(7));
    assert_eq!(tbs.subject_public_key_info.to_der().unwrap(), spki);
    assert_eq!(
        tbs.validity.not_after.to_unix_duration().as_secs() as i64,
        NOW + 3600
    );
    assert_eq!(svid.not_after_s, NOW + 3600);

    // Exactly one URI SAN, the SPIFFE ID; the DNS names beside it.
    let (_, san) = ext::<SubjectAltName>(&c).unwrap();
    assert_eq!(uris(&c), vec![sid.as_str().to_owned()]);
    let dns_sans: Vec<String> = san
        .0
        .iter()
        .filter_map(|n| match n {
            GeneralName::DnsName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(dns_sans, dns);

    let (critical, ku) = ext::<KeyUsage>(&c).unwrap();
    assert!(critical, "keyUsage must be critical");
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign() && !ku.crl_sign());
    assert_eq!(
        ku.0,
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment | KeyUsages::KeyAgreement
    );

    let (_, bc) = ext::<BasicConstraints>(&c).unwrap();
    assert!(!bc.ca);

    let (_, eku) = ext::<ExtendedKeyUsage>(&c).unwrap();
    let server = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
    let client = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    assert_eq!(eku.0, vec![server, client]);

    let (_, aki) = ext::<AuthorityKeyIdentifier>(&c).unwrap();
    let root_cert = cert(ca.cert_der());
    let (_, ski) = ext::<SubjectKeyIdentifier>(&root_cert).unwrap();
    assert_eq!(aki.key_identifier.unwrap(), ski.0);
    assert_eq!(tbs.issuer, root_cert.tbs_certificate.subject);
}

#[test]
fn authority_certificate_profile() {
    let ca = root("example.org");
    let c = cert(ca.cert_der());
    let (critical, bc) = ext::<BasicConstraints>(&c).unwrap();
    assert!(critical && bc.ca);
    let (critical, ku) = ext::<KeyUsage>(&c).unwrap();
    assert!(critical);
    assert_eq!(ku.0, KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    assert_eq!(uris(&c), vec!["spiffe://example.org".to_owned()]);
    assert!(ext::<SubjectKeyIdentifier>(&c).is_some());
    assert!(ext::<AuthorityKeyIdentifier>(&c).is_some());
    // No name constraint: rustls-webpki refuses chains through URI
    // constraints (see the authority module docs).
    assert!(ext::<NameConstraints>(&c).is_none());
    assert_eq!(ca.trust_domain().as_str(), "example.org");
    assert_eq!(ca.not_after_s(), NOW + DAY);
}

#[test]
fn not_after_is_clamped_to_the_authority() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let mut req = request(&spki, &sid, &[]);
    req.not_after_s = NOW + 30 * DAY;
    let svid = ca.issue_x509_svid(&req).unwrap();
    assert_eq!(svid.not_after_s, NOW + DAY);
    let c = cert(&svid.cert_der);
    assert_eq!(
        c.tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs() as i64,
        NOW + DAY
    );
    // Wholly outside the authority's validity: nothing left to issue.
    req.not_before_s = NOW + 2 * DAY;
    assert_eq!(ca.issue_x509_svid(&req), Err(Error::InvalidValidity));
    let mut backwards = request(&spki, &sid, &[]);
    backwards.not_after_s = backwards.not_before_s;
    assert_eq!(ca.issue_x509_svid(&backwards), Err(Error::InvalidValidity));
}

#[test]
fn another_trust_domains_id_is_refused() {
    let ca = root("example.org");
    let spki = p256_spki();
    for other in [
        "spiffe://example.com/web",
        "spiffe://example.org.evil/web",
        "spiffe://sub.example.org/web",
    ] {
        let sid = id(other);
        assert_eq!(
            ca.issue_x509_svid(&request(&spki, &sid, &[])),
            Err(Error::ForeignTrustDomain),
            "{other}"
        );
    }
}

/// An RSA SPKI with a `bits`-bit modulus (not a real key: only its size).
fn rsa_spki(bits: usize) -> Vec<u8> {
    use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    let mut n = vec![0xffu8; bits / 8];
    n[0] = 0xc1;
    let modulus = der::asn1::UintRef::new(&n).unwrap();
    let exponent = der::asn1::UintRef::new(&[1, 0, 1]).unwrap();
    let mut body = Vec::new();
    modulus.encode_to_vec(&mut body).unwrap();
    exponent.encode_to_vec(&mut body).unwrap();
    let mut rsa = vec![0x30];
    der::Length::try_from(body.len())
        .unwrap()
        .encode_to_vec(&mut rsa)
        .unwrap();
    rsa.extend(body);
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(der::asn1::Null.into()),
        },
        subject_public_key: der::asn1::BitString::from_bytes(&rsa).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// A P-256 SPKI around any point bytes.
fn ec_spki(point: &[u8]) -> Vec<u8> {
    use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    let curve = der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(der::Any::from(curve)),
        },
        subject_public_key: der::asn1::BitString::from_bytes(point).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn subject_keys_are_limited_to_the_allowed_types() {
    let ca = root("example.org");
    let sid = id("spiffe://example.org/web");
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
        &rcgen::PKCS_RSA_SHA256,
    ] {
        let spki = subject_key(alg);
        let svid = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
        assert_eq!(
            cert(&svid.cert_der)
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .unwrap(),
            spki
        );
        verify(&svid.cert_der, &[], ca.cert_der(), NOW).unwrap();
    }
    assert!(ca
        .issue_x509_svid(&request(&rsa_spki(2048), &sid, &[]))
        .is_ok());

    let p521 = subject_key(&rcgen::PKCS_ECDSA_P521_SHA512);
    // Issuance checks the point's form, not that it is on the curve (see
    // crypto::PointCheck): compressed or truncated points are refused.
    let compressed = ec_spki(&[&[0x02u8][..], &[7; 32]].concat());
    let truncated = ec_spki(&[&[0x04u8][..], &[7; 63]].concat());
    let mut trailing = p256_spki();
    trailing.push(0);
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("P-521", p521),
        ("RSA 1024", rsa_spki(1024)),
        ("RSA 2040", rsa_spki(2040)),
        ("RSA 16384", rsa_spki(16384)),
        ("compressed point", compressed),
        ("truncated point", truncated),
        ("trailing bytes", trailing),
        ("empty", vec![]),
        ("garbage", vec![0x30, 0x03, 0x02, 0x01, 0x00]),
        ("huge", vec![0x30; 64 * 1024]),
    ];
    for (what, spki) in hostile {
        assert_eq!(
            ca.issue_x509_svid(&request(&spki, &sid, &[])),
            Err(Error::UnsupportedKey),
            "{what}"
        );
    }
}

#[test]
fn dns_names_must_be_hostnames_and_few() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    for bad in [
        "",
        ".",
        "a..b",
        "a.b.",
        "-a.b",
        "a-.b",
        "a b",
        "a_b.org",
        "*",
        "*.",
        "a.*.b",
        "**.b",
        "ä.org",
        "a/b",
        "1.2.3.4:80",
    ] {
        let dns = vec![bad.to_owned()];
        assert_eq!(
            ca.issue_x509_svid(&request(&spki, &sid, &dns)),
            Err(Error::InvalidDnsName),
            "{bad:?}"
        );
    }
    let long_label = vec![format!("{}.org", "a".repeat(64))];
    let long_name = vec![format!("{}org", "abcdefghi.".repeat(26))];
    for dns in [long_label, long_name] {
        assert_eq!(
            ca.issue_x509_svid(&request(&spki, &sid, &dns)),
            Err(Error::InvalidDnsName)
        );
    }
    let many: Vec<String> = (0..=MAX_DNS_NAMES).map(|i| format!("h{i}.org")).collect();
    assert_eq!(
        ca.issue_x509_svid(&request(&spki, &sid, &many)),
        Err(Error::TooManyDnsNames)
    );
    assert!(ca
        .issue_x509_svid(&request(&spki, &sid, &many[..MAX_DNS_NAMES]))
        .is_ok());
}

#[test]
fn zero_serials_are_refused() {
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let req = SvidRequest {
        serial: [0; 16],
        ..request(&spki, &sid, &[])
    };
    assert_eq!(ca.issue_x509_svid(&req), Err(Error::InvalidSerial));
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    assert_eq!(
        Authority::new_root(&td("example.org"), NOW, NOW + DAY, [0; 16], &key).unwrap_err(),
        Error::InvalidSerial
    );
}

#[test]
fn random_serials_encode_as_exactly_their_sixteen_bytes() {
    use rand_chacha::rand_core::SeedableRng as _;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let ca = root("example.org");
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    for _ in 0..32 {
        let serial = keybound_ca::random_serial(&mut rng);
        let svid = ca
            .issue_x509_svid(&SvidRequest {
                serial,
                ..request(&spki, &sid, &[])
            })
            .unwrap();
        assert_eq!(
            cert(&svid.cert_der)
                .tbs_certificate
                .serial_number
                .as_bytes(),
            serial
        );
    }
}

/// The organisation's root, made with rcgen outside keybound: (cert DER,
/// key PKCS#8).
fn org_root(alg: &'static rcgen::SignatureAlgorithm, ca: bool) -> (Vec<u8>, Vec<u8>) {
    let key = if alg == &rcgen::PKCS_RSA_SHA256 {
        rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
    } else {
        rcgen::KeyPair::generate_for(alg).unwrap()
    };
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Example Org Root");
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
    }
    params.not_before = time::OffsetDateTime::from_unix_timestamp(NOW - 10 * DAY).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(NOW + 10 * DAY).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

#[test]
fn intermediate_under_the_organisations_root_chains() {
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_ED25519,
    ] {
        let (org_cert, org_key) = org_root(alg, true);
        let key = keybound_ca::generate_p256_pkcs8().unwrap();
        let ca = Authority::new_intermediate(
            &td("example.org"),
            Parent::External {
                cert_der: &org_cert,
                key_pkcs8: &org_key,
            },
            NOW - DAY,
            NOW + 100 * DAY,
            serial(2),
            &key,
        )
        .unwrap();
        assert!(!ca.is_self_signed());
        // Clamped to the organisation root's notAfter.
        assert_eq!(ca.not_after_s(), NOW + 10 * DAY);
        let spki = p256_spki();
        let sid = id("spiffe://example.org/web");
        let svid = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
        verify(&svid.cert_der, &[ca.cert_der()], &org_cert, NOW).unwrap();
        let chain = svid.chain(&ca);
        assert_eq!(chain, vec![svid.cert_der.clone(), ca.cert_der().to_vec()]);
        // Without the intermediate in the chain there is no path.
        assert_eq!(
            verify(&svid.cert_der, &[], &org_cert, NOW),
            Err(webpki::Error::UnknownIssuer)
        );
    }
}

#[test]
fn intermediate_under_our_own_root_chains() {
    let top = root("example.org");
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    let ca = Authority::new_intermediate(
        &td("example.org"),
        Parent::Authority(&top),
        NOW - DAY,
        NOW + 5 * DAY,
        serial(3),
        &key,
    )
    .unwrap();
    assert_eq!(ca.not_after_s(), top.not_after_s());
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let svid = ca.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    verify(&svid.cert_der, &[ca.cert_der()], top.cert_der(), NOW).unwrap();
}

#[test]
fn an_external_parent_must_be_a_ca_with_its_own_key() {
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    let make = |cert_der: &[u8], key_pkcs8: &[u8]| {
        Authority::new_intermediate(
            &td("example.org"),
            Parent::External {
                cert_der,
                key_pkcs8,
            },
            NOW - DAY,
            NOW + DAY,
            serial(2),
            &key,
        )
        .unwrap_err()
    };
    let (org_cert, org_key) = org_root(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    let (_, other_key) = org_root(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    assert_eq!(make(&org_cert, &other_key), Error::KeyMismatch);
    assert_eq!(make(&org_cert, b"not a key"), Error::InvalidPrivateKey);
    assert!(matches!(
        make(b"not a cert", &org_key),
        Error::InvalidCertificate(_)
    ));
    let (leaf_cert, leaf_key) = org_root(&rcgen::PKCS_ECDSA_P256_SHA256, false);
    assert_eq!(
        make(&leaf_cert, &leaf_key),
        Error::InvalidCertificate("parent is not a CA")
    );
    // Our own key must be P-256.
    let (_, p384_key) = org_root(&rcgen::PKCS_ECDSA_P384_SHA384, true);
    assert_eq!(
        Authority::new_root(&td("example.org"), NOW, NOW + DAY, serial(1), &p384_key).unwrap_err(),
        Error::InvalidPrivateKey
    );
}

#[test]
fn from_parts_restores_an_authority_and_checks_its_key() {
    let ca = root("example.org");
    let back = Authority::from_parts(ca.cert_der(), ca.key_pkcs8()).unwrap();
    assert_eq!(back.trust_domain(), ca.trust_domain());
    assert_eq!(back.not_after_s(), ca.not_after_s());
    assert!(back.is_self_signed());
    let spki = p256_spki();
    let sid = id("spiffe://example.org/web");
    let svid = back.issue_x509_svid(&request(&spki, &sid, &[])).unwrap();
    verify(&svid.cert_der, &[], ca.cert_der(), NOW).unwrap();

    let other = keybound_ca::generate_p256_pkcs8().unwrap();
    assert_eq!(
        Authority::from_parts(ca.cert_der(), &other).unwrap_err(),
        Error::KeyMismatch
    );
    // A leaf is not an authority, whatever key comes with it.
    assert!(matches!(
        Authority::from_parts(&svid.cert_der, ca.key_pkcs8()).unwrap_err(),
        Error::InvalidCertificate(_)
    ));
    // An organisation CA without a trust-domain URI SAN is not ours.
    let (org_cert, org_key) = org_root(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    assert_eq!(
        Authority::from_parts(&org_cert, &org_key).unwrap_err(),
        Error::InvalidCertificate("not exactly one URI SAN")
    );
    assert!(matches!(
        Authority::from_parts(&vec![0x30; 20_000], ca.key_pkcs8()).unwrap_err(),
        Error::InvalidCertificate(_)
    ));
}

#[test]
fn authorities_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Authority>();
    shareable::<keybound_ca::Bundle>();
}
