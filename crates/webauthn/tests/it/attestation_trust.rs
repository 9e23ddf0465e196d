//! Chains to trust anchors: verified, unverified (and why), never trusting
//! a certificate because x5c carries it.

use crate::support::*;
use keybound_soft_authenticator::{Algorithm, AttestationMode, Authenticator, TestPki, Tweaks};
use keybound_webauthn::*;

const NOW: u64 = 1_800_000_000;

fn packed(key: keybound_soft_authenticator::AttestationKey) -> Authenticator {
    Authenticator {
        aaguid: [0x4b; 16],
        attestation: AttestationMode::Packed(key),
        ..Authenticator::default()
    }
}

fn trust(auth: &Authenticator, anchors: TrustAnchors) -> AttestationTrust {
    let rp = Rp {
        anchors,
        ..Rp::default()
    };
    register_with_rp(&rp, auth, Algorithm::Es256, &Tweaks::default())
        .unwrap()
        .attestation
        .trust
}

#[test]
fn chain_to_a_configured_root_is_verified() {
    let pki = TestPki::new([0x4b; 16]);
    let anchors = TrustAnchors::new([pki.root_der.clone()], NOW).unwrap();
    assert_eq!(
        trust(&packed(pki.attestation.clone()), anchors),
        AttestationTrust::Verified {
            chain: vec![pki.attestation.chain[0].clone(), pki.root_der.clone()]
        }
    );
}

#[test]
fn no_anchors_means_unverified_not_refused() {
    let pki = TestPki::new([0x4b; 16]);
    assert_eq!(
        trust(&packed(pki.attestation.clone()), TrustAnchors::none()),
        AttestationTrust::Unverified {
            chain: pki.attestation.chain.clone(),
            reason: UnverifiedReason::NoTrustAnchors
        }
    );
}

#[test]
fn another_root_is_unknown_issuer() {
    let pki = TestPki::new([0x4b; 16]);
    let other = TestPki::new([0x4b; 16]);
    let anchors = TrustAnchors::new([other.root_der], NOW).unwrap();
    assert!(matches!(
        trust(&packed(pki.attestation), anchors),
        AttestationTrust::Unverified {
            reason: UnverifiedReason::UnknownIssuer,
            ..
        }
    ));
}

#[test]
fn self_signed_certificates_in_x5c_are_never_anchors() {
    let trusted = TestPki::new([0x4b; 16]);
    let anchors = || TrustAnchors::new([trusted.root_der.clone()], NOW).unwrap();
    // A self-signed attestation certificate.
    assert!(matches!(
        trust(&packed(trusted.self_signed.clone()), anchors()),
        AttestationTrust::Unverified {
            reason: UnverifiedReason::UnknownIssuer,
            ..
        }
    ));
    // An attacker's own root appended to x5c.
    let rogue = TestPki::new([0x4b; 16]);
    let mut key = rogue.attestation.clone();
    key.chain.push(rogue.root_der.clone());
    assert!(matches!(
        trust(&packed(key), anchors()),
        AttestationTrust::Unverified {
            reason: UnverifiedReason::UnknownIssuer,
            ..
        }
    ));
    // The attacker's root, trusted by the relying party, does verify: the
    // difference is who supplied it.
    let rogue_anchor = TrustAnchors::new([rogue.root_der.clone()], NOW).unwrap();
    assert!(matches!(
        trust(&packed(rogue.attestation.clone()), rogue_anchor),
        AttestationTrust::Verified { .. }
    ));
}

#[test]
fn an_impostor_with_the_roots_name_is_not_trusted() {
    // Two PKIs whose roots share a name but not a key: path building finds
    // the trusted root by name and the signature check refuses it.
    let trusted = TestPki::with_root_name([0x4b; 16], "Shared Name Root");
    let impostor = TestPki::with_root_name([0x4b; 16], "Shared Name Root");
    let anchors = TrustAnchors::new([trusted.root_der], NOW).unwrap();
    assert!(matches!(
        trust(&packed(impostor.attestation), anchors),
        AttestationTrust::Unverified {
            reason: UnverifiedReason::ChainRejected(_),
            ..
        }
    ));
}

#[test]
fn validity_is_judged_at_the_given_time() {
    let pki = TestPki::new([0x4b; 16]);
    // rcgen certificates start in 1975; 1970 is before that.
    let anchors = TrustAnchors::new([pki.root_der.clone()], 0).unwrap();
    assert!(matches!(
        trust(&packed(pki.attestation), anchors),
        AttestationTrust::Unverified {
            reason: UnverifiedReason::ChainRejected(_),
            ..
        }
    ));
}

#[test]
fn invalid_anchor_is_reported_at_configuration() {
    let pki = TestPki::new([0x4b; 16]);
    let err = TrustAnchors::new([pki.root_der, b"not a certificate".to_vec()], NOW).unwrap_err();
    assert_eq!(err.index, 1);
}

#[test]
fn trust_anchor_set_reports_emptiness_and_bad_input() {
    assert!(TrustAnchors::none().is_empty());
    let pki = TestPki::new([0x4b; 16]);
    assert!(!TrustAnchors::new([pki.root_der], NOW).unwrap().is_empty());
    let err = TrustAnchors::new([b"junk".to_vec()], NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trust anchor 0 is not a valid DER certificate"
    );
}
