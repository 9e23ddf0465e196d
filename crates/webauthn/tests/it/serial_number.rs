//! Enterprise attestation (issue 16): the authenticator's serial from the
//! attestation certificate's subject `serialNumber`.

use keybound_webauthn::attestation_serial_number;
use rcgen::{CertificateParams, DnType, KeyPair};

fn cert_with(serial: Option<&str>) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "keybound test authenticator");
    if let Some(serial) = serial {
        params
            .distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial);
    }
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn the_subject_serial_number_is_read_and_bounded() {
    assert_eq!(
        attestation_serial_number(&cert_with(Some("C02XK1ABJG5H"))).as_deref(),
        Some("C02XK1ABJG5H")
    );
    assert_eq!(attestation_serial_number(&cert_with(None)), None);
    assert_eq!(
        attestation_serial_number(&cert_with(Some(&"9".repeat(65)))),
        None,
        "longer than any serial"
    );
    assert_eq!(
        attestation_serial_number(&cert_with(Some("a\u{1b}[2Jb"))),
        None,
        "not printable"
    );
    assert_eq!(attestation_serial_number(b"not a certificate"), None);
    assert_eq!(attestation_serial_number(&[]), None);
}
