//! Trust: the policy (attested, admin), administrators and the operator.

use super::*;
use keybound_soft_authenticator::{AttestationMode, TestMds, TestPki};

const MODEL: &str = "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b";
const DUE: &str = "2027-02-01";

/// A world with metadata for the soft authenticator's model, attesting
/// with `packed` under the model's root; `hint` is the statement's
/// attachmentHint.
async fn attested_world(trust: DeviceTrust, hint: &[&str]) -> World {
    let mds = TestMds::new();
    let pki = TestPki::new([0x4b; 16]);
    let root = mds.root_der.clone();
    let mut w = world_with(|c| {
        c.mds_root = Some(root);
        c.devices.trust = trust;
    })
    .await;
    w.auth.attestation = AttestationMode::Packed(pki.attestation.clone());
    let mut entry = TestMds::entry(
        MODEL,
        std::slice::from_ref(&pki.root_der),
        &["FIDO_CERTIFIED_L1"],
    );
    entry["metadataStatement"]["attachmentHint"] = serde_json::json!(hint);
    entry["metadataStatement"]["keyProtection"] = serde_json::json!(["hardware", "tee"]);
    let jwt = mds.blob(1, DUE, serde_json::json!([entry]));
    w.service
        .import_metadata(jwt.as_bytes(), "cli")
        .await
        .unwrap();
    w
}

async fn enrolled(w: &World) -> (Token, EnrolledDevice) {
    let (_, session) = person(w, "ada").await;
    let (_, enrolled) = enrol_device(w, &w.auth, &session, "laptop").await;
    (session, enrolled.unwrap().device.unwrap())
}

#[tokio::test]
async fn an_attested_platform_authenticator_is_trusted_by_policy() {
    let w = attested_world(DeviceTrust::Attested, &["internal"]).await;
    let (session, device) = enrolled(&w).await;
    assert_eq!(device.status, "trusted", "{}", device.trust_reason);
    let view = &w.service.my_devices(&session.value).await.unwrap()[0];
    assert!(view.is_trusted());
    assert_eq!(view.model, format!("test model {MODEL}"));
    assert_eq!(view.attestation_format, "packed");
    assert_eq!(view.key_storage, "hardware");
}

#[tokio::test]
async fn attestation_alone_or_a_non_platform_model_awaits_an_admin() {
    // Metadata without a platform hint.
    let w = attested_world(DeviceTrust::Attested, &[]).await;
    let (_, device) = enrolled(&w).await;
    assert_eq!(device.status, "untrusted");
    assert!(
        device.trust_reason.contains("platform"),
        "{}",
        device.trust_reason
    );
    // Metadata that says the model is external: a security key.
    let w = attested_world(DeviceTrust::Attested, &["external", "usb"]).await;
    let (_, session) = person(&w, "ada").await;
    let (_, refused) = enrol_device(&w, &w.auth, &session, "key").await;
    assert_eq!(
        refused.map(|_| ()),
        Err(ServiceError::Rejected(Refusal::DeviceRoamingAttachment))
    );
}

#[tokio::test]
async fn with_the_admin_policy_every_device_awaits_an_admin() {
    let w = attested_world(DeviceTrust::Admin, &["internal"]).await;
    let (_, device) = enrolled(&w).await;
    assert_eq!(device.status, "untrusted");
    assert!(device.trust_reason.contains("admin"));

    // An administrator approves it in the console; the operator withdraws.
    let (admin, _) = super::super::authority::admin(&w, "root").await;
    let listed = w.service.console_devices(&admin).await.unwrap();
    assert_eq!(listed.len(), 1);
    w.service
        .trust_device(
            (&admin).into(),
            &device.name,
            Some("checked in person"),
            &ctx(),
        )
        .await
        .unwrap();
    let view = w
        .service
        .device((&admin).into(), &device.name)
        .await
        .unwrap();
    assert_eq!(
        (view.status.as_str(), view.trust_reason.as_str()),
        ("trusted", "checked in person")
    );
    assert_eq!(
        w.service
            .trust_device((&admin).into(), &device.name, None, &ctx())
            .await,
        Err(ServiceError::Rejected(Refusal::DeviceStatusUnchanged))
    );
    w.service
        .untrust_device(
            (&operator()).into(),
            &device.name,
            Some("left on a train\n"),
            &ctx(),
        )
        .await
        .unwrap();
    let view = w
        .service
        .device((&operator()).into(), &device.name)
        .await
        .unwrap();
    assert_eq!(
        (view.status.as_str(), view.trust_reason.as_str()),
        ("untrusted", "left on a train")
    );
    let events = w.audit().await;
    let trust = events
        .iter()
        .find(|e| e.event.kind == "device.trust")
        .unwrap();
    assert_eq!(trust.event.actor.as_deref(), Some("root"));
    let untrust = events
        .iter()
        .find(|e| e.event.kind == "device.untrust")
        .unwrap();
    assert_eq!(untrust.event.actor.as_deref(), Some("cli"));
}

#[tokio::test]
async fn an_administrator_who_is_no_longer_one_changes_no_device() {
    let w = world().await;
    let (_, device) = enrolled(&w).await;
    person(&w, "eve").await;
    let people = w.service.people((&operator()).into()).await.unwrap();
    let eve = people.into_iter().find(|(i, _)| i.name == "eve").unwrap().0;
    let stale = Admin::stale_for_tests(eve);
    assert_eq!(
        w.service
            .trust_device((&stale).into(), &device.name, None, &ctx())
            .await,
        Err(ServiceError::Forbidden)
    );
    assert_eq!(
        w.service.console_devices(&stale).await.map(|_| ()),
        Err(ServiceError::Forbidden)
    );
    assert_eq!(
        w.service
            .decommission_device((&stale).into(), &device.name, &ctx())
            .await
            .map(|_| ()),
        Err(ServiceError::Forbidden)
    );
    let view = w
        .service
        .device((&operator()).into(), &device.name)
        .await
        .unwrap();
    assert_eq!(view.status, "untrusted");
}

/// A world whose attestation roots hold the root of a PKI whose packed
/// attestation certificate carries the serial `C02XK1ABJG5H`.
async fn serial_world(enterprise: &[&str]) -> World {
    let mut profile = keybound_soft_authenticator::CertProfile::compliant(Some([0x4b; 16]));
    profile.serial_number = Some("C02XK1ABJG5H".into());
    let pki = TestPki::with_profile(&profile);
    let root = pki.root_der.clone();
    let rp_ids: Vec<String> = enterprise.iter().map(|r| (*r).to_owned()).collect();
    let mut w = world_with(|c| {
        c.attestation_roots = vec![root];
        c.devices.enterprise_attestation_rp_ids = rp_ids;
    })
    .await;
    w.auth.attestation = AttestationMode::Packed(pki.attestation.clone());
    w
}

#[tokio::test]
async fn enterprise_attestation_records_the_serial() {
    let w = serial_world(&[RP_ID]).await;
    let (session, device) = enrolled(&w).await;
    let view = &w.service.my_devices(&session.value).await.unwrap()[0];
    assert_eq!(view.serial.as_deref(), Some("C02XK1ABJG5H"));
    assert_eq!(view.attestation_trust, "verified");
    assert!(last_reason(&w, "device.enrol")
        .await
        .unwrap()
        .contains("serial C02XK1ABJG5H"));
    assert_eq!(device.status, "untrusted", "a root is not the metadata");

    // Not an enterprise RP ID: the serial is not asked for, nor kept.
    enterprise_fallback_keeps_no_serial().await;
}

#[tokio::test]
async fn an_inventory_record_waiting_for_the_serial_links_at_enrolment() {
    let w = serial_world(&[RP_ID]).await;
    let records = keybound_service::posture::parse_inventory(
        br#"[{"serial": "C02XK1ABJG5H", "managed": true, "compliant": true}]"#,
    )
    .unwrap();
    let summary = w
        .service
        .import_inventory((&operator()).into(), &records)
        .await
        .unwrap();
    assert_eq!(summary.waiting, 1, "no device holds the serial yet");
    let (_, device) = enrolled(&w).await;
    let posture = w
        .service
        .device_posture((&operator()).into(), &device.name)
        .await
        .unwrap();
    assert!(posture.effective.managed, "{posture:?}");
    assert!(posture.effective.compliant, "{posture:?}");
    assert!(posture.facts.iter().all(|f| f.source == "import"));
}

async fn enterprise_fallback_keeps_no_serial() {
    let w = serial_world(&["other.example"]).await;
    let (session, _) = enrolled(&w).await;
    let view = &w.service.my_devices(&session.value).await.unwrap()[0];
    assert_eq!(view.serial, None);
}

#[tokio::test]
async fn an_administrator_cannot_trust_their_own_device() {
    let w = world().await;
    let (root, root_session) = crate::authority::admin(&w, "root").await;
    let (_, enrolled) = enrol_device(&w, &w.auth, &root_session, "root's laptop").await;
    let device = enrolled.unwrap().device.unwrap();
    assert_eq!(
        w.service
            .trust_device((&root).into(), &device.name, None, &ctx())
            .await,
        Err(ServiceError::Rejected(Refusal::DeviceSelfApproval))
    );
    assert_eq!(
        last_reason(&w, "device.trust").await.as_deref(),
        Some("device_self_approval")
    );
    let view = w.service.device((&operator()).into(), &device.name).await;
    assert_eq!(view.unwrap().status, "untrusted", "nothing changed");
    // Another administrator may; so may the operator at the host.
    let (other, _) = crate::authority::admin(&w, "grace").await;
    w.service
        .trust_device((&other).into(), &device.name, None, &ctx())
        .await
        .unwrap();
    let view = w.service.device((&operator()).into(), &device.name).await;
    assert_eq!(view.unwrap().status, "trusted");
}
