//! Issue 12 item 10: every client-supplied field is bounded before it
//! reaches memory, a row or the audit log.

use super::*;

fn from(ip: &str) -> ClientContext {
    ClientContext {
        ip: Some(ip.into()),
        user_agent: Some(format!("agent/{}", "x".repeat(100_000))),
        hints: Default::default(),
    }
}

/// 300 sign-ins with a 350 kB rawId grew memory by 150 MiB: the detector
/// kept each id as its target. Now the id is refused as it is parsed, and
/// nothing about it is kept or recorded.
#[tokio::test]
async fn a_350_kb_raw_id_is_refused_without_growing_detector_state() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let c = w.options("ada").await;
    let mut json = w.auth.assert(
        &mut cred,
        &keybound_soft_authenticator::Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
    );
    for i in 0..30u8 {
        let huge = keybound_webauthn::b64::encode(&vec![i; 350_000]);
        json["id"] = huge.clone().into();
        json["rawId"] = huge.into();
        let refused = w
            .service
            .finish_authentication(
                BROWSER,
                json.to_string().as_bytes(),
                &from(&format!("192.0.2.{i}")),
            )
            .await;
        assert_eq!(
            refused.unwrap_err(),
            ServiceError::Rejected(Refusal::Verification("credential_id_too_long"))
        );
    }
    assert_eq!(w.service.anomaly_detector_usage(), (0, 0));
    let events = w.audit().await;
    let last = &events.last().unwrap().event;
    assert_eq!(last.reason.as_deref(), Some("credential_id_too_long"));
    assert_eq!(last.credential_id, None);
    assert_eq!(last.user_agent.as_ref().map(String::len), Some(256));
    for e in &events {
        assert!(serde_json::to_string(e).unwrap().len() < 4_000);
    }
}

#[tokio::test]
async fn only_supported_extensions_are_echoed_and_display_names_are_bounded() {
    let w = world_with(|c| c.open_registration = true).await;
    let mut extensions = serde_json::Map::new();
    extensions.insert("credProps".into(), true.into());
    extensions.insert("evil".into(), "x".repeat(500_000).into());
    extensions.insert("prf".into(), serde_json::json!({"eval": {"first": "AAAA"}}));
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Open("ada"),
            &RegistrationRequest {
                extensions: Some(extensions.clone()),
                display_name: Some("  Ada Lovelace ".into()),
                ..RegistrationRequest::default()
            },
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    assert_eq!(
        options["extensions"],
        serde_json::json!({"credProps": true})
    );
    assert_eq!(options["user"]["displayName"], "Ada Lovelace");
    let options = w
        .service
        .begin_authentication(
            BROWSER,
            "ada",
            &AuthenticationRequest {
                extensions: Some(extensions),
                ..AuthenticationRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(options.extensions, None);
    for bad in [
        "x".repeat(900_000),
        "a\u{202E}b".into(),
        "line\nbreak".into(),
    ] {
        let refused = w
            .service
            .begin_registration(
                BROWSER,
                RegistrationStart::Open("bob"),
                &RegistrationRequest {
                    display_name: Some(bad),
                    ..RegistrationRequest::default()
                },
            )
            .await;
        assert_eq!(
            refused.unwrap_err(),
            ServiceError::Rejected(Refusal::InvalidDisplayName)
        );
    }
}

/// An attestation chain is stored with the credential: a client could
/// store a megabyte per registration. More than 8 certificates (or 32 kB)
/// is refused.
#[tokio::test]
async fn oversized_attestation_chains_are_refused() {
    use keybound_soft_authenticator::{AttestationMode, Authenticator, TestPki};
    let mut w = world().await;
    let key = TestPki::new([0x4b; 16]).attestation;
    let mut padded = key.clone();
    let extra = padded.chain.last().unwrap().clone();
    padded.chain.extend(std::iter::repeat_n(extra, 40));
    w.auth = Authenticator {
        attestation: AttestationMode::Packed(padded),
        ..Authenticator::default()
    };
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, refused) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::Rejected(Refusal::AttestationChainTooLarge)
    );
    w.auth = Authenticator {
        attestation: AttestationMode::Packed(key),
        ..Authenticator::default()
    };
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    assert!(enrolled.is_ok(), "the invitation is still usable");
}
