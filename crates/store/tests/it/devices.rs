//! Issue 16: the device registry's rows. A device row sits beside its
//! identity (kind `device`), is found by id, name and binding credential,
//! lists per owner, and once decommissioned never changes status again.

use super::*;

on_both_backends!(
    devices_round_trip_and_are_found_by_name_credential_and_owner,
    a_decommissioned_device_stays_decommissioned,
);

fn device(name: &str, owner: Option<&str>, credential: Option<&[u8]>) -> DeviceRow {
    DeviceRow {
        identity_id: format!("id-{name}"),
        name: name.into(),
        owner_id: owner.map(|o| format!("id-{o}")),
        label: format!("{name}'s label"),
        platform: "Linux".into(),
        attachment: "platform".into(),
        credential_id: credential.map(<[u8]>::to_vec),
        aaguid: "00000000-0000-0000-0000-000000000000".into(),
        model: String::new(),
        attestation_format: "none".into(),
        attestation_trust: "not_applicable".into(),
        key_storage: "device-bound".into(),
        serial: None,
        status: "untrusted".into(),
        trust_reason: "waiting for an administrator".into(),
        created_ms: 10,
        last_seen_ms: None,
        decommissioned_ms: None,
    }
}

async fn with_device_identity(tx: &mut WriteTx, name: &str) {
    let mut identity = identity(name);
    identity.kind = IdentityKind::Device;
    identity.status = IdentityStatus::Active;
    tx.insert_identity(&identity).await.unwrap();
}

async fn devices_round_trip_and_are_found_by_name_credential_and_owner(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"cred-laptop", "ada"))
        .await
        .unwrap();
    with_device_identity(&mut tx, "dev-laptop").await;
    with_device_identity(&mut tx, "dev-kiosk").await;
    let laptop = device("dev-laptop", Some("ada"), Some(b"cred-laptop"));
    tx.insert_device(&laptop).await.unwrap();
    // One device per identity, one device per credential.
    assert_eq!(
        tx.insert_device(&laptop).await.unwrap_err(),
        StoreError::Conflict
    );
    let kiosk = device("dev-kiosk", None, Some(b"cred-laptop"));
    assert_eq!(
        tx.insert_device(&kiosk).await.unwrap_err(),
        StoreError::Conflict
    );
    let kiosk = device("dev-kiosk", None, None);
    tx.insert_device(&kiosk).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    assert_eq!(
        tx.device("id-dev-laptop").await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(
        tx.device_by_name("dev-laptop").await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(tx.device_by_name("dev-laptop\0").await.unwrap(), None);
    assert_eq!(
        tx.device_by_credential(b"cred-laptop").await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(tx.device_by_credential(b"other").await.unwrap(), None);
    assert_eq!(
        tx.devices_of_owner("id-ada").await.unwrap(),
        vec![laptop.clone()]
    );
    assert_eq!(tx.all_devices().await.unwrap().len(), 2);
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.rename_device("id-dev-laptop", "work").await.unwrap());
    assert!(tx
        .touch_device("id-dev-laptop", Some("Windows"), 50)
        .await
        .unwrap());
    assert!(tx.touch_device("id-dev-laptop", None, 60).await.unwrap());
    assert!(!tx.rename_device("id-nobody", "x").await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let now = tx.device("id-dev-laptop").await.unwrap().unwrap();
    assert_eq!(now.label, "work");
    assert_eq!(now.platform, "Windows");
    assert_eq!(now.last_seen_ms, Some(60));
}

async fn a_decommissioned_device_stays_decommissioned(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    with_device_identity(&mut tx, "dev-a").await;
    tx.insert_device(&device("dev-a", None, None))
        .await
        .unwrap();
    assert!(tx
        .set_device_status("id-dev-a", "trusted", "approved", 20)
        .await
        .unwrap());
    assert!(tx
        .set_device_status("id-dev-a", "decommissioned", "lost", 30)
        .await
        .unwrap());
    assert!(!tx
        .set_device_status("id-dev-a", "trusted", "again", 40)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let d = tx.device("id-dev-a").await.unwrap().unwrap();
    assert_eq!(d.status, "decommissioned");
    assert_eq!(d.trust_reason, "lost");
    assert_eq!(d.decommissioned_ms, Some(30));
}
