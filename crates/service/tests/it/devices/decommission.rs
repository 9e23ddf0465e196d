//! Decommissioning: loss, the console and CLI, offboarding, a revoked
//! credential, and the device coming back.

use super::*;

fn kinds(events: &[keybound_audit::AuditEvent], from: usize) -> Vec<String> {
    events[from..]
        .iter()
        .map(|e| e.event.kind.clone())
        .collect()
}

#[tokio::test]
async fn i_lost_this_device_revokes_its_key_and_ends_its_sessions() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (mut device_cred, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    // The device signs in (another browser of the same person).
    let (_, on_device) = w.sign_in(&mut device_cred, "ada", &Tweaks::default()).await;
    let on_device = on_device.unwrap().session;
    assert!(w.service.account(&on_device.value).await.is_ok());

    let before = w.audit().await.len();
    let done = w
        .service
        .decommission_my_device(&session.value, &name, &ctx())
        .await
        .unwrap();
    assert_eq!(
        done,
        Decommissioned {
            credential_revoked: true,
            sessions: 1,
            ended_own_session: false,
        }
    );
    assert_eq!(
        w.service.account(&on_device.value).await.map(|_| ()),
        Err(ServiceError::Forbidden),
        "the device's session ended"
    );
    assert!(
        w.service.account(&session.value).await.is_ok(),
        "not this one"
    );
    let device = w.service.device((&operator()).into(), &name).await.unwrap();
    assert_eq!(device.status, "decommissioned");
    assert!(device.decommissioned_ms.is_some());
    let creds = w
        .service
        .credentials_of((&operator()).into(), "ada")
        .await
        .unwrap();
    let bound = creds.iter().find(|c| c.id == device_cred.id).unwrap();
    assert!(matches!(bound.status, CredentialStatus::Revoked(_)));
    let events = w.audit().await;
    assert_eq!(
        kinds(&events, before),
        ["credential.revoke", "device.decommission"]
    );

    // Never again: a second decommission, trust, rename are refused.
    assert_eq!(
        w.service
            .decommission_my_device(&session.value, &name, &ctx())
            .await,
        Err(ServiceError::Rejected(Refusal::DeviceDecommissioned))
    );
    assert_eq!(
        w.service
            .trust_device((&operator()).into(), &name, None, &ctx())
            .await,
        Err(ServiceError::Rejected(Refusal::DeviceDecommissioned))
    );
    assert_eq!(
        w.service
            .rename_my_device(&session.value, &name, "found it", &ctx())
            .await,
        Err(ServiceError::Rejected(Refusal::DeviceDecommissioned))
    );
}

#[tokio::test]
async fn a_decommissioned_device_coming_back_raises_an_alert() {
    let w = world().await;
    let (mut passkey, session) = person(&w, "ada").await;
    let (mut device_cred, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    w.service
        .decommission_device((&operator()).into(), &name, &ctx())
        .await
        .unwrap();

    let (_, again) = w.sign_in(&mut device_cred, "", &Tweaks::default()).await;
    assert_eq!(
        again.map(|_| ()),
        Err(ServiceError::UnknownCredential(Refusal::CredentialRevoked)),
        "still refused"
    );
    let events = w.audit().await;
    let alert = &events.last().unwrap().event;
    assert_eq!(alert.kind, "device.returned");
    assert_eq!(alert.outcome, Some(Outcome::Alert));
    assert_eq!(alert.subject.as_deref(), Some(name.as_str()));
    assert_eq!(events[events.len() - 2].event.kind, "authentication");

    // A revoked passkey that binds no device raises no such alert.
    let id = keybound_webauthn::b64::encode(&passkey.id);
    w.service
        .revoke_credential(&id, &operator(), "test")
        .await
        .unwrap();
    let (_, refused) = w.sign_in(&mut passkey, "", &Tweaks::default()).await;
    assert!(refused.is_err());
    let events = w.audit().await;
    assert_eq!(events.last().unwrap().event.kind, "authentication");
}

#[tokio::test]
async fn revoking_the_bound_credential_decommissions_the_device() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (device_cred, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    let (_, enrolled) = enrol_device(&w, &w.auth, &session, "desktop").await;
    let other = enrolled.unwrap().device.unwrap().name;

    let id = keybound_webauthn::b64::encode(&device_cred.id);
    w.service
        .revoke_own_credential(&session.value, &id, true, &ctx())
        .await
        .unwrap();
    let device = w.service.device((&operator()).into(), &name).await.unwrap();
    assert_eq!(device.status, "decommissioned");
    assert_eq!(
        last_reason(&w, "device.decommission")
            .await
            .unwrap()
            .split(';')
            .next(),
        Some("its credential was revoked")
    );
    let other = w
        .service
        .device((&operator()).into(), &other)
        .await
        .unwrap();
    assert_eq!(other.status, "untrusted", "only the bound device");

    // By the operator, too.
    let id = other.credential_id.unwrap();
    w.service
        .revoke_credential(&id, &operator(), "lost")
        .await
        .unwrap();
    let other = w
        .service
        .device((&operator()).into(), &other.name)
        .await
        .unwrap();
    assert_eq!(other.status, "decommissioned");
}

#[tokio::test]
async fn offboarding_decommissions_every_device_of_the_person() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (_, bob) = person(&w, "bob").await;
    for label in ["laptop", "phone"] {
        enrol_device(&w, &w.auth, &session, label).await.1.unwrap();
    }
    enrol_device(&w, &w.auth, &bob, "bob's").await.1.unwrap();
    let done = w.service.offboard("ada", &operator()).await.unwrap();
    assert_eq!(done.devices, 2);
    assert_eq!(done.credentials, 3);
    let devices = w.service.devices((&operator()).into()).await.unwrap();
    // Listed by creation time, then name: the test's clock stands still
    // and device names are random, so compare them as a set.
    let mut statuses: Vec<(&str, &str)> = devices
        .iter()
        .map(|d| (d.owner.as_deref().unwrap(), d.status.as_str()))
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [
            ("ada", "decommissioned"),
            ("ada", "decommissioned"),
            ("bob", "untrusted")
        ]
    );
    let decommissions = w
        .audit()
        .await
        .iter()
        .filter(|e| e.event.kind == "device.decommission")
        .count();
    assert_eq!(decommissions, 2);
}

#[tokio::test]
async fn decommissioning_the_device_in_use_ends_its_own_session() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (mut device_cred, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    let (_, on_device) = w.sign_in(&mut device_cred, "ada", &Tweaks::default()).await;
    let on_device = on_device.unwrap().session;
    let done = w
        .service
        .decommission_my_device(&on_device.value, &name, &ctx())
        .await
        .unwrap();
    assert!(done.ended_own_session);
    assert_eq!(done.sessions, 1);
    assert_eq!(
        w.service.my_devices(&on_device.value).await,
        Err(ServiceError::Forbidden)
    );
}

#[tokio::test]
async fn a_recovery_that_replaces_the_credentials_decommissions_the_devices() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (_, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    let (a1, _) = super::super::authority::admin(&w, "a1").await;
    let (a2, _) = super::super::authority::admin(&w, "a2").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&operator()).into())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "ada")
        .unwrap()
        .id;
    w.service.approve_recovery(&a1, &id, true).await.unwrap();
    let issued = w.service.approve_recovery(&a2, &id, true).await.unwrap();
    assert!(matches!(issued, Approval::Issued(_)));
    let device = w.service.device((&operator()).into(), &name).await.unwrap();
    assert_eq!(device.status, "decommissioned");
    assert_eq!(device.trust_reason, "its credential was revoked");
}
