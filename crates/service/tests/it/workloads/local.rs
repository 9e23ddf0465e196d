//! The single-host node `local` (`keybound serve --workload-socket`).

use super::*;

async fn local_sync(w: &World) -> Result<keybound_workload_api::wire::SyncResponse, ServiceError> {
    w.service
        .workload_local_sync(&SyncRequest::default(), &ctx())
        .await
}

#[tokio::test]
async fn the_local_node_is_made_once_audited_and_served_without_a_proof() {
    let w = world().await;
    owner(&w, "ada").await;
    // Before the setting made it, there is no local node to serve.
    refused(local_sync(&w).await, Refusal::WorkloadNodeDecommissioned);
    let first = w.service.workload_local_node(&ctx()).await.unwrap();
    assert_eq!(first.node, "local");
    assert_eq!(
        first.spiffe_id,
        format!("spiffe://{TD}/keybound/node/local")
    );
    let again = w.service.workload_local_node(&ctx()).await.unwrap();
    assert_eq!(again.spiffe_id, first.spiffe_id);
    let attests = w
        .audit()
        .await
        .iter()
        .filter(|e| e.event.kind == "workload.node.attest")
        .count();
    assert_eq!(attests, 1, "made once, audited once");
    let mine = add(
        &w,
        &entry(&format!("spiffe://{TD}/mine"), "local", "ada", 1000),
    )
    .await
    .unwrap();
    let _other = attested(&w, "node-1", &[]).await;
    add(
        &w,
        &entry(&format!("spiffe://{TD}/theirs"), "node-1", "ada", 1000),
    )
    .await
    .unwrap();
    let synced = local_sync(&w).await.unwrap();
    let ids: Vec<&str> = synced.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![mine.id.as_str()],
        "only entries parented to local"
    );

    w.service
        .decommission_workload_node((&op()).into(), "local", &ctx())
        .await
        .unwrap();
    refused(local_sync(&w).await, Refusal::WorkloadNodeDecommissioned);
    // A restart with the setting does not bring it back.
    w.service.workload_local_node(&ctx()).await.unwrap();
    refused(local_sync(&w).await, Refusal::WorkloadNodeDecommissioned);
    let last = w.audit().await.pop().unwrap();
    assert_eq!(last.event.kind, "workload.node.refused");
}

#[tokio::test]
async fn a_node_named_local_attested_by_a_token_is_not_the_local_node() {
    let w = world().await;
    let _key = attested(&w, "local", &[]).await;
    refused(
        w.service.workload_local_node(&ctx()).await,
        Refusal::WorkloadNodeNameTaken,
    );
    refused(local_sync(&w).await, Refusal::WorkloadNodeNameTaken);
}
