//! Each anomaly detector fires on its pattern and stays silent on normal
//! traffic.

use keybound_audit::{Outcome as O, Severity};

use super::*;

fn from(ip: &str) -> ClientContext {
    ClientContext {
        ip: Some(ip.to_owned()),
        user_agent: None,
        hints: Default::default(),
    }
}

async fn alerts(w: &World) -> Vec<keybound_audit::NewEvent> {
    w.audit()
        .await
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.outcome == Some(O::Alert))
        .collect()
}

/// A sign-in attempt from `ip` with a credential nobody registered.
async fn stranger_sign_in(w: &World, ip: &str) {
    let mut stranger = w
        .auth
        .register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: RP_ID,
                origin: ORIGIN,
                challenge: &[1; 32],
            },
            b"stranger",
        )
        .0;
    let c = w.options("").await;
    let json = w.auth.assert(
        &mut stranger,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
    );
    let refused = w
        .service
        .finish_authentication(BROWSER, json.to_string().as_bytes(), &from(ip))
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn failures_across_many_accounts_from_one_address_raise_one_alert() {
    let w = world_with(|c| c.alerts.failure_accounts = 5).await;
    // Normal traffic: a few failures from several places.
    for i in 0..4 {
        stranger_sign_in(&w, "192.0.2.1").await;
        stranger_sign_in(&w, &format!("192.0.2.{}", 10 + i)).await;
    }
    assert!(alerts(&w).await.is_empty(), "silent below the threshold");
    stranger_sign_in(&w, "192.0.2.1").await;
    let raised = alerts(&w).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, "alert.failures_across_accounts");
    assert_eq!(raised[0].ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(raised[0].severity, Some(Severity::High));
    stranger_sign_in(&w, "192.0.2.1").await;
    assert_eq!(alerts(&w).await.len(), 1, "once per window");
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn repeated_failures_against_one_account_are_not_a_spray() {
    let w = world_with(|c| c.alerts.failure_accounts = 3).await;
    let (mut cred, _) = w.enrol("ada").await;
    for _ in 0..6 {
        let c = w.options("ada").await;
        let json = w.auth.assert_with(
            &mut cred,
            &Ceremony {
                rp_id: RP_ID,
                origin: ORIGIN,
                challenge: &c,
            },
            &Tweaks {
                corrupt_signature: true,
                ..Tweaks::default()
            },
        );
        let refused = w
            .service
            .finish_authentication(BROWSER, json.to_string().as_bytes(), &from("192.0.2.7"))
            .await;
        assert!(refused.is_err());
    }
    assert!(alerts(&w).await.is_empty());
}

#[tokio::test]
async fn a_burst_of_registrations_from_one_address_raises_an_alert() {
    let w = world_with(|c| {
        c.open_registration = true;
        c.alerts.registrations = 3;
    })
    .await;
    let register_from = |name: &'static str, ip: &'static str| {
        let w = &w;
        async move {
            let options = w
                .service
                .begin_registration(
                    BROWSER,
                    RegistrationStart::Open(name),
                    &RegistrationRequest::default(),
                )
                .await
                .unwrap();
            let options = serde_json::to_value(&options).unwrap();
            let user =
                keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
            let c = challenge_of(&options);
            let (_, json) = w.auth.register(
                Algorithm::Es256,
                &Ceremony {
                    rp_id: RP_ID,
                    origin: ORIGIN,
                    challenge: &c,
                },
                &user,
            );
            w.service
                .finish_registration(BROWSER, json.to_string().as_bytes(), &from(ip))
                .await
                .unwrap();
        }
    };
    register_from("a1", "198.51.100.1").await;
    register_from("a2", "198.51.100.2").await;
    register_from("a3", "198.51.100.1").await;
    register_from("a4", "198.51.100.3").await;
    assert!(
        alerts(&w).await.is_empty(),
        "normal sign-ups from different places"
    );
    register_from("a5", "198.51.100.1").await;
    let raised = alerts(&w).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, "alert.registrations");
}

#[tokio::test]
async fn a_revoked_credential_coming_back_is_flagged() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let id = keybound_webauthn::b64::encode(&cred.id);
    w.service
        .revoke_credential(&id, &Operator::local("cli"), "lost")
        .await
        .unwrap();
    let (_, refused) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    assert!(refused.is_err());
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.reason.as_deref(), Some("credential_revoked"));
    assert_eq!(last.severity, Some(Severity::Warning));
}

/// Issue 12 (review): the detectors count an IPv6 /64 as one source, as
/// the rate limits do, so rotating addresses inside it resets nothing.
#[tokio::test]
async fn rotating_addresses_inside_one_64_is_still_one_source() {
    let w = world_with(|c| c.alerts.failure_accounts = 5).await;
    for i in 1..=5 {
        stranger_sign_in(&w, &format!("2001:db8:1:2::{i:x}")).await;
    }
    let raised = alerts(&w).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].kind, "alert.failures_across_accounts");
}
