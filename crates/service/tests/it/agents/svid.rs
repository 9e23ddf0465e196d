//! An agent registered with a SPIFFE ID proves itself with a JWT-SVID from
//! keybound's workload CA; its tasks end with the workload entry or the
//! node that served it.

use super::*;

use crate::workloads::{add as add_entry, attested, call, entry, NodeKey};
use keybound_workload_api::wire::JwtSvidRequest;

const AGENT_ID: &str = "spiffe://localhost/agents/report-bot";

/// A JWT-SVID for `entry_id` from `node`, for `audience`.
async fn svid(w: &World, key: &NodeKey, node: &str, entry_id: &str, audience: &str) -> String {
    let proof = key.proof(node, "/workload/v1/jwt", w.clock_ms(), &w.jti());
    w.service
        .workload_jwt_svid(
            &call(&proof, "/workload/v1/jwt"),
            &JwtSvidRequest {
                entry_id: entry_id.to_owned(),
                audience: vec![audience.to_owned()],
            },
            &ctx(),
        )
        .await
        .unwrap()
        .token
}

async fn spiffe_agent(w: &World) {
    w.service
        .add_agent(
            &Actor::Operator(&op()),
            &NewAgent {
                name: "report-bot".into(),
                owner: "ada".into(),
                spiffe_id: Some(AGENT_ID.into()),
                key_jwk: None,
                description: String::new(),
            },
            &ctx(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_jwt_svid_proves_the_agent_and_removing_its_entry_ends_its_tasks() {
    let w = agents_world().await;
    spiffe_agent(&w).await;
    let node = attested(&w, "node-1", &[]).await;
    let mine = add_entry(&w, &entry(AGENT_ID, "node-1", "ada", 1000))
        .await
        .unwrap();
    let other = add_entry(
        &w,
        &entry("spiffe://localhost/other", "node-1", "ada", 1001),
    )
    .await
    .unwrap();
    let token = svid(&w, &node, "node-1", &mine.id, ISSUER).await;
    let task = w
        .service
        .request_task(&token, &ask(&[API], &["read"]), &ctx())
        .await
        .unwrap();
    assert_eq!(task.context["agent_proof"], format!("jwt_svid:{AGENT_ID}"));
    // A JWT-SVID may be presented again while it lives (it is no
    // single-use assertion), but not for another audience, nor another
    // workload's, nor once expired.
    assert!(w
        .service
        .request_task(&token, &ask(&[API], &["read"]), &ctx())
        .await
        .is_ok());
    let elsewhere = svid(&w, &node, "node-1", &mine.id, "https://elsewhere.test").await;
    refused(
        w.service
            .request_task(&elsewhere, &ask(&[API], &["read"]), &ctx())
            .await,
        Refusal::AgentProofInvalid,
    );
    let theirs = svid(&w, &node, "node-1", &other.id, ISSUER).await;
    refused(
        w.service
            .request_task(&theirs, &ask(&[API], &["read"]), &ctx())
            .await,
        Refusal::AgentUnknown,
    );
    w.wait(400_000);
    refused(
        w.service
            .request_task(&token, &ask(&[API], &["read"]), &ctx())
            .await,
        Refusal::AgentProofExpired,
    );
    let op = op();
    let by = Actor::Operator(&op);
    w.service
        .remove_workload_entry((&op).into(), &mine.id, &ctx())
        .await
        .unwrap();
    let ended = w.service.task(&by, &task.id).await.unwrap().unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(ended.end_reason.as_deref(), Some("workload_entry_removed"));
    let live = w
        .service
        .tasks(
            &by,
            &TaskFilter {
                agent: None,
                status: Some(TaskStatus::Active),
            },
        )
        .await
        .unwrap();
    assert!(live.is_empty(), "{live:?}");
    assert_eq!(
        w.last("workload.entry.remove").await.event.details["tasks_ended"],
        "2"
    );
}

#[tokio::test]
async fn decommissioning_the_node_ends_its_agents_tasks() {
    let w = agents_world().await;
    spiffe_agent(&w).await;
    let node = attested(&w, "node-1", &[]).await;
    let mine = add_entry(&w, &entry(AGENT_ID, "node-1", "ada", 1000))
        .await
        .unwrap();
    let token = svid(&w, &node, "node-1", &mine.id, ISSUER).await;
    let task = w
        .service
        .request_task(&token, &ask(&[API], &["write"]), &ctx())
        .await
        .unwrap();
    assert_eq!(task.status, "pending");
    let op = op();
    w.service
        .decommission_workload_node((&op).into(), "node-1", &ctx())
        .await
        .unwrap();
    let ended = w
        .service
        .task(&Actor::Operator(&op), &task.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(ended.end_reason.as_deref(), Some("node_decommissioned"));
}
