use super::*;

#[tokio::test]
async fn a_decommissioned_node_is_refused_at_its_next_call() {
    let w = world().await;
    let key = attested(&w, "node-1", &[]).await;
    sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    w.service
        .decommission_workload_node((&op()).into(), "node-1", &ctx())
        .await
        .unwrap();
    refused(
        sync(&w, &key, "node-1", &SyncRequest::default()).await,
        Refusal::WorkloadNodeDecommissioned,
    );
    refused(
        w.service
            .decommission_workload_node((&op()).into(), "node-1", &ctx())
            .await,
        Refusal::WorkloadNodeDecommissioned,
    );
    assert_eq!(
        w.service
            .decommission_workload_node((&op()).into(), "node-9", &ctx())
            .await,
        Err(ServiceError::NotFound)
    );
    // Its name is never handed out again.
    refused(
        w.service
            .create_join_token((&op()).into(), "node-1", &[], 60_000, &ctx())
            .await,
        Refusal::WorkloadNodeNameTaken,
    );
    let node = w
        .service
        .workload_node((&op()).into(), "node-1")
        .await
        .unwrap();
    assert_eq!(node.status, "decommissioned");
}

#[tokio::test]
async fn offboarding_an_owner_removes_their_entries() {
    let w = world().await;
    owner(&w, "ada").await;
    owner(&w, "bob").await;
    let key = attested(&w, "node-1", &[]).await;
    let adas = add(&w, &entry("spiffe://localhost/ada", "node-1", "ada", 1))
        .await
        .unwrap();
    let bobs = add(&w, &entry("spiffe://localhost/bob", "node-1", "bob", 2))
        .await
        .unwrap();
    let done = w.service.offboard("ada", &op()).await.unwrap();
    assert_eq!(done.workload_entries, 1);
    let got = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    let ids: Vec<&str> = got.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec![bobs.id.as_str()]);
    let removed = w
        .audit()
        .await
        .into_iter()
        .find(|e| e.event.kind == "workload.entry.remove")
        .unwrap();
    assert!(removed.event.reason.unwrap().contains(&adas.id));
    // An offboarded person owns nothing new.
    refused(
        add(&w, &entry("spiffe://localhost/ada2", "node-1", "ada", 3)).await,
        Refusal::WorkloadOwnerNotActive,
    );
}
