use super::*;

const SYNC: &str = "/workload/v1/sync";

async fn try_sync(w: &World, authorization: &str) -> Result<(), ServiceError> {
    w.service
        .workload_sync(&call(authorization, SYNC), &SyncRequest::default(), &ctx())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_node_proof_is_good_once_for_one_request() {
    let w = world().await;
    let key = attested(&w, "node-1", &[]).await;
    let proof = key.proof("node-1", SYNC, w.now(), "jti-1");
    try_sync(&w, &proof).await.unwrap();
    refused(
        try_sync(&w, &proof).await,
        Refusal::WorkloadNodeProofReplayed,
    );
    let last = w.audit().await.pop().unwrap();
    assert_eq!(last.event.kind, "workload.node.refused");
    assert_eq!(last.event.actor.as_deref(), Some("node-1"));
    // The same jti by another node is that node's own.
    let other = attested(&w, "node-2", &[]).await;
    try_sync(&w, &other.proof("node-2", SYNC, w.now(), "jti-1"))
        .await
        .unwrap();
}

#[tokio::test]
async fn hostile_node_proofs_are_refused_with_their_reason() {
    let w = world().await;
    let key = attested(&w, "node-1", &[]).await;
    let _other = attested(&w, "node-2", &[]).await;
    let now = w.now();
    let stranger = NodeKey::new();
    let good = |jti: &str| json!({"htm": "POST", "htu": format!("{SERVER}{SYNC}"), "iat": now / 1000, "jti": jti, "node": "node-1"});
    let with = |jti: &str, k: &str, v: Value| {
        let mut c = good(jti);
        c[k] = v;
        c
    };
    let tampered = {
        let p = key.proof("node-1", SYNC, now, "t");
        let mut parts: Vec<String> = p.split('.').map(str::to_owned).collect();
        parts[1] =
            keybound_webauthn::b64::encode(good("t2").to_string().replace("t2", "t3").as_bytes());
        parts.join(".")
    };
    let cases: Vec<(String, Refusal)> = vec![
        (String::new(), Refusal::WorkloadNodeProofMalformed),
        ("Bearer x".into(), Refusal::WorkloadNodeProofMalformed),
        (
            "KeyboundNode a.b".into(),
            Refusal::WorkloadNodeProofMalformed,
        ),
        (
            format!("KeyboundNode {}", "a".repeat(10_000)),
            Refusal::WorkloadNodeProofMalformed,
        ),
        (
            key.proof_with(&key.jwk, &good("a"), "dpop+jwt"),
            Refusal::WorkloadNodeProofMalformed,
        ),
        (
            key.proof_with(
                &json!({"kty": "oct", "k": "AAAA"}),
                &good("b"),
                "kb-node+jwt",
            ),
            Refusal::WorkloadNodeProofMalformed,
        ),
        // A key bound to no node.
        (
            stranger.proof("node-1", SYNC, now, "c"),
            Refusal::WorkloadNodeProofSignature,
        ),
        // node-1's key in the header, signed by another key.
        (
            stranger.proof_with(&key.jwk, &good("d"), "kb-node+jwt"),
            Refusal::WorkloadNodeProofSignature,
        ),
        (tampered, Refusal::WorkloadNodeProofSignature),
        // Naming another node, another method, another path.
        (
            key.proof_with(&key.jwk, &with("e", "node", json!("node-2")), "kb-node+jwt"),
            Refusal::WorkloadNodeProofWrongTarget,
        ),
        (
            key.proof_with(&key.jwk, &with("f", "htm", json!("GET")), "kb-node+jwt"),
            Refusal::WorkloadNodeProofWrongTarget,
        ),
        (
            key.proof("node-1", "/workload/v1/jwt", now, "g"),
            Refusal::WorkloadNodeProofWrongTarget,
        ),
        (
            key.proof_with(
                &key.jwk,
                &with("h", "htu", json!("not a url")),
                "kb-node+jwt",
            ),
            Refusal::WorkloadNodeProofWrongTarget,
        ),
        // Too old, from the future, no iat.
        (
            key.proof("node-1", SYNC, now - 61_000, "i"),
            Refusal::WorkloadNodeProofStale,
        ),
        (
            key.proof("node-1", SYNC, now + 61_000, "j"),
            Refusal::WorkloadNodeProofStale,
        ),
        (
            key.proof_with(&key.jwk, &with("k", "iat", json!("soon")), "kb-node+jwt"),
            Refusal::WorkloadNodeProofMalformed,
        ),
        // No jti, a huge one.
        (
            key.proof_with(&key.jwk, &with("l", "jti", json!(null)), "kb-node+jwt"),
            Refusal::WorkloadNodeProofMalformed,
        ),
        (
            key.proof_with(
                &key.jwk,
                &with("m", "jti", json!("j".repeat(129))),
                "kb-node+jwt",
            ),
            Refusal::WorkloadNodeProofMalformed,
        ),
    ];
    for (proof, reason) in cases {
        refused(try_sync(&w, &proof).await, reason);
        let last = w.audit().await.pop().unwrap();
        assert_eq!(last.event.kind, "workload.node.refused", "{proof}");
        assert_eq!(
            last.event.reason.as_deref(),
            Some(reason.reason()),
            "{proof}"
        );
    }
    let node = w
        .service
        .workload_node((&op()).into(), "node-1")
        .await
        .unwrap();
    assert_eq!(node.last_seen_ms, None, "no refused call counts as a sync");
    // Within the window is fine.
    try_sync(&w, &key.proof("node-1", SYNC, now - 59_000, "n"))
        .await
        .unwrap();
}
