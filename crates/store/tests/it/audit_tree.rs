//! Issue 19: the audit tree's rows, checkpoints and the sealer's lease.

use keybound_audit::merkle::{self, TreeBuilder};

use super::*;

on_both_backends!(
    tree_nodes_round_trip_and_are_never_overwritten,
    checkpoints_are_found_by_size,
    a_lease_is_held_by_one_node_until_it_lapses,
);

/// Nodes stored by the tree builder come back by id; the tree's size is
/// its leaves; a proof made from the stored nodes verifies; a node stored
/// twice keeps its first hash.
async fn tree_nodes_round_trip_and_are_never_overwritten(db: &Db) {
    let store = db.open().await;
    let mut tree = TreeBuilder::new();
    let mut made = Vec::new();
    for i in 0u64..450 {
        made.extend(tree.push(merkle::leaf_hash(&i.to_be_bytes())));
    }
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.audit_tree_size().await.unwrap(), 0);
    tx.insert_audit_nodes(&made).await.unwrap();
    tx.commit().await.unwrap();
    let mut look = store.read().await.unwrap();
    assert_eq!(look.audit_tree_size().await.unwrap(), 450);
    let ids = merkle::inclusion_nodes(300, 450).unwrap();
    let nodes = look.audit_nodes(&ids).await.unwrap();
    assert_eq!(nodes.len(), ids.len());
    let proof = merkle::inclusion_proof(300, 450, &nodes).unwrap();
    let leaf = merkle::leaf_hash(&300u64.to_be_bytes());
    assert!(merkle::verify_inclusion(
        300,
        450,
        &leaf,
        &proof,
        &tree.root()
    ));
    let root_ids = merkle::root_nodes(450);
    let roots = look.audit_nodes(&root_ids).await.unwrap();
    assert_eq!(merkle::root_from_nodes(450, &roots).unwrap(), tree.root());
    drop(look);

    let mut tx = store.begin().await.unwrap();
    tx.insert_audit_nodes(&[((0, 7), [9u8; 32])]).await.unwrap();
    let kept = tx.audit_nodes(&[(0, 7)]).await.unwrap();
    assert_eq!(kept[&(0, 7)], merkle::leaf_hash(&7u64.to_be_bytes()));
    assert!(tx
        .audit_nodes(&[(0, 450), (30, 0)])
        .await
        .unwrap()
        .is_empty());
    tx.commit().await.unwrap();
}

fn checkpoint(size: u64, time_ms: i64) -> AuditCheckpointRow {
    AuditCheckpointRow {
        size,
        root: [size as u8; 32],
        time_ms,
        key_id: "0badc0de".into(),
        note: format!("log\n{size}\nroot\n\n— log sig\n"),
    }
}

/// The latest, the smallest covering a size, one by exact size, a page
/// after a size; a second checkpoint of a size is refused.
async fn checkpoints_are_found_by_size(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.latest_audit_checkpoint().await.unwrap().is_none());
    for (size, t) in [(3, 10), (8, 20), (20, 30)] {
        assert!(tx
            .insert_audit_checkpoint(&checkpoint(size, t))
            .await
            .unwrap());
    }
    assert!(!tx
        .insert_audit_checkpoint(&checkpoint(8, 99))
        .await
        .unwrap());
    assert_eq!(
        tx.latest_audit_checkpoint().await.unwrap(),
        Some(checkpoint(20, 30))
    );
    assert_eq!(
        tx.audit_checkpoint_covering(4).await.unwrap(),
        Some(checkpoint(8, 20))
    );
    assert_eq!(
        tx.audit_checkpoint_covering(8).await.unwrap(),
        Some(checkpoint(8, 20))
    );
    assert!(tx.audit_checkpoint_covering(21).await.unwrap().is_none());
    assert_eq!(
        tx.audit_checkpoint(3).await.unwrap(),
        Some(checkpoint(3, 10))
    );
    assert!(tx.audit_checkpoint(4).await.unwrap().is_none());
    let page = tx.audit_checkpoints_after(3, 10).await.unwrap();
    assert_eq!(page.iter().map(|c| c.size).collect::<Vec<_>>(), vec![8, 20]);
    tx.commit().await.unwrap();
}

/// A free lease is taken; another holder cannot take it until it lapses;
/// its holder renews it; released, anyone takes it.
async fn a_lease_is_held_by_one_node_until_it_lapses(db: &Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut tx = a.begin().await.unwrap();
    assert!(tx.take_lease("sealer", "node-a", 1000, 4000).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = b.begin().await.unwrap();
    assert!(!tx.take_lease("sealer", "node-b", 2000, 5000).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = a.begin().await.unwrap();
    assert!(tx.take_lease("sealer", "node-a", 3000, 6000).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = b.begin().await.unwrap();
    assert!(!tx.take_lease("sealer", "node-b", 5999, 9000).await.unwrap());
    assert!(tx.take_lease("sealer", "node-b", 6000, 9000).await.unwrap());
    tx.commit().await.unwrap();
    let mut look = a.read().await.unwrap();
    let held = look.lease("sealer").await.unwrap().unwrap();
    assert_eq!((held.holder.as_str(), held.expires_ms), ("node-b", 9000));
    drop(look);
    let mut tx = a.begin().await.unwrap();
    tx.release_lease("sealer", "node-a").await.unwrap();
    assert!(!tx.take_lease("sealer", "node-a", 7000, 9000).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = b.begin().await.unwrap();
    tx.release_lease("sealer", "node-b").await.unwrap();
    assert!(tx.take_lease("sealer", "node-a", 7000, 9000).await.unwrap());
    tx.commit().await.unwrap();
}
