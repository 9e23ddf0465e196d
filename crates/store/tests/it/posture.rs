//! Issue 16: device posture rows. A fact per device, fact and source,
//! replaced by a newer observation; inventory records waiting for their
//! device, found and removed by identifier; devices found by serial.

use super::*;
use keybound_store::{InventoryFactRow, PostureFactRow};

on_both_backends!(
    posture_facts_are_one_per_device_fact_and_source,
    inventory_records_wait_and_devices_are_found_by_serial,
);

fn fact(device: &str, fact: &str, source: &str, value: &str, at: i64) -> PostureFactRow {
    PostureFactRow {
        device_id: device.into(),
        fact: fact.into(),
        source: source.into(),
        value: value.into(),
        observed_ms: at,
    }
}

async fn posture_facts_are_one_per_device_fact_and_source(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    let mut identity = identity("dev-a");
    identity.kind = IdentityKind::Device;
    tx.insert_identity(&identity).await.unwrap();
    let id = identity.id.clone();
    tx.put_posture_fact(&fact(&id, "managed", "import", "false", 1))
        .await
        .unwrap();
    tx.put_posture_fact(&fact(&id, "managed", "import", "true", 2))
        .await
        .unwrap();
    tx.put_posture_fact(&fact(&id, "managed", "admin", "false", 3))
        .await
        .unwrap();
    tx.put_posture_fact(&fact(&id, "os_version", "client_hints", "14.4", 4))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let facts = store
        .read()
        .await
        .unwrap()
        .posture_facts(&id)
        .await
        .unwrap();
    assert_eq!(
        facts,
        vec![
            fact(&id, "managed", "admin", "false", 3),
            fact(&id, "managed", "import", "true", 2),
            fact(&id, "os_version", "client_hints", "14.4", 4),
        ]
    );
    let mut r = store.read().await.unwrap();
    assert!(r.posture_facts("nobody").await.unwrap().is_empty());
    assert!(r.posture_facts("a\0b").await.unwrap().is_empty());
}

async fn inventory_records_wait_and_devices_are_found_by_serial(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    for (f, v) in [("managed", "true"), ("owner", "bob"), ("managed", "false")] {
        tx.put_inventory_fact(&InventoryFactRow {
            identifier: "SN-1".into(),
            fact: f.into(),
            value: v.into(),
            observed_ms: 5,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let waiting = store
        .read()
        .await
        .unwrap()
        .inventory_record("SN-1")
        .await
        .unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].fact, "managed");
    assert_eq!(waiting[0].value, "false", "the later value replaced it");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete_inventory_record("SN-1").await.unwrap(), 2);
    assert!(tx.inventory_record("SN-1").await.unwrap().is_empty());
    assert!(tx.devices_by_serial("SN-1").await.unwrap().is_empty());
    assert!(tx.devices_by_serial("a\0").await.unwrap().is_empty());
    tx.commit().await.unwrap();
}
