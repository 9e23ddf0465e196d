use super::*;

#[tokio::test]
async fn a_join_token_attests_its_node_once() {
    let w = world().await;
    let t = token(&w, "node-1", &["web"]).await;
    let key = NodeKey::new();
    let request = JoinAttestRequest {
        token: t.token.clone(),
        node_key: key.jwk.clone(),
    };
    let attested = w.service.attest_join(&request, &ctx()).await.unwrap();
    assert_eq!(attested.node, "node-1");
    assert_eq!(
        attested.spiffe_id,
        "spiffe://localhost/keybound/node/node-1"
    );
    assert_eq!(attested.trust_domain, TD);
    let nodes = w.service.workload_nodes((&op()).into()).await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].sets, vec!["web".to_owned()]);
    assert_eq!(nodes[0].attestation, "join_token");
    // Spent: the same token again, even with another key, is refused.
    let other = NodeKey::new();
    refused(
        w.service
            .attest_join(
                &JoinAttestRequest {
                    token: t.token,
                    node_key: other.jwk.clone(),
                },
                &ctx(),
            )
            .await,
        Refusal::WorkloadJoinTokenInvalid,
    );
    let last = w.audit().await.pop().unwrap();
    assert_eq!(last.event.kind, "workload.node.refused");
    assert_eq!(
        last.event.reason.as_deref(),
        Some("workload_join_token_invalid")
    );
    assert_eq!(
        w.service
            .workload_nodes((&op()).into())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn hostile_attestations_are_refused_and_bind_nothing() {
    let w = world().await;
    let key = NodeKey::new();
    // Expired.
    let t = token(&w, "node-1", &[]).await;
    w.advance(600_001);
    refused(
        w.service
            .attest_join(
                &JoinAttestRequest {
                    token: t.token,
                    node_key: key.jwk.clone(),
                },
                &ctx(),
            )
            .await,
        Refusal::WorkloadJoinTokenInvalid,
    );
    // Unknown, empty, huge.
    for bad in ["not-a-token".to_owned(), String::new(), "x".repeat(100_000)] {
        refused(
            w.service
                .attest_join(
                    &JoinAttestRequest {
                        token: bad,
                        node_key: key.jwk.clone(),
                    },
                    &ctx(),
                )
                .await,
            Refusal::WorkloadJoinTokenInvalid,
        );
    }
    // Keys that are not public P-256 JWKs: refused before the token is
    // spent, so the token still works afterwards.
    let t = token(&w, "node-2", &[]).await;
    let mut private = key.jwk.clone();
    private["d"] = json!("AAAA");
    let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    for bad in [
        json!(null),
        json!("jwk"),
        private,
        rsa,
        json!({"kty": "EC", "crv": "P-256", "x": "x".repeat(4000), "y": "y"}),
    ] {
        refused(
            w.service
                .attest_join(
                    &JoinAttestRequest {
                        token: t.token.clone(),
                        node_key: bad,
                    },
                    &ctx(),
                )
                .await,
            Refusal::WorkloadNodeKeyInvalid,
        );
    }
    assert!(w
        .service
        .workload_nodes((&op()).into())
        .await
        .unwrap()
        .is_empty());
    w.service
        .attest_join(
            &JoinAttestRequest {
                token: t.token,
                node_key: key.jwk.clone(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    // One key binds one node.
    let t = token(&w, "node-3", &[]).await;
    refused(
        w.service
            .attest_join(
                &JoinAttestRequest {
                    token: t.token,
                    node_key: key.jwk.clone(),
                },
                &ctx(),
            )
            .await,
        Refusal::WorkloadNodeKeyTaken,
    );
    // A name in the registry gets no token.
    refused(
        w.service
            .create_join_token((&op()).into(), "node-2", &[], 60_000, &ctx())
            .await,
        Refusal::WorkloadNodeNameTaken,
    );
    // TPM nodes' names are reserved: a token would take over their entries.
    refused(
        w.service
            .create_join_token((&op()).into(), "tpm-0123456789abcdef", &[], 60_000, &ctx())
            .await,
        Refusal::WorkloadInvalidNodeName,
    );
    for (name, ttl) in [("Bad Name", 60_000), ("node-9", 0), ("node-9", i64::MAX)] {
        assert!(w
            .service
            .create_join_token((&op()).into(), name, &[], ttl, &ctx())
            .await
            .is_err());
    }
    let names: Vec<String> = w
        .service
        .workload_nodes((&op()).into())
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec!["node-2".to_owned()]);
}

#[tokio::test]
async fn two_tokens_for_one_name_make_one_node() {
    let w = world().await;
    let first = token(&w, "node-1", &[]).await;
    let second = token(&w, "node-1", &[]).await;
    w.service
        .attest_join(
            &JoinAttestRequest {
                token: first.token,
                node_key: NodeKey::new().jwk,
            },
            &ctx(),
        )
        .await
        .unwrap();
    refused(
        w.service
            .attest_join(
                &JoinAttestRequest {
                    token: second.token,
                    node_key: NodeKey::new().jwk,
                },
                &ctx(),
            )
            .await,
        Refusal::WorkloadNodeNameTaken,
    );
}

#[tokio::test]
async fn a_join_token_is_spent_once_across_servers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    raced_across_servers(&format!("sqlite://{}", dir.path().join("kb.db").display())).await;
}

#[tokio::test]
async fn a_join_token_is_spent_once_across_servers_on_postgres() {
    let Some(pg) = keybound_testdb::shared("join token raced across servers") else {
        return;
    };
    raced_across_servers(&pg.fresh_database()).await;
}

/// Two servers on the database at `url`, two nodes racing with one join
/// token: exactly one is attested.
async fn raced_across_servers(url: &str) {
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let server = |seed: u64| {
        let (url, clock) = (url.to_owned(), clock.clone());
        async move {
            let config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
            Service::new(
                Store::open(&url).await.unwrap(),
                config,
                clock,
                Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
            )
        }
    };
    let a = server(1).await;
    let b = server(2).await;
    let t = a
        .create_join_token((&op()).into(), "node-1", &[], 60_000, &ctx())
        .await
        .unwrap();
    let (ka, kb) = (NodeKey::new(), NodeKey::new());
    let ra = JoinAttestRequest {
        token: t.token.clone(),
        node_key: ka.jwk.clone(),
    };
    let rb = JoinAttestRequest {
        token: t.token,
        node_key: kb.jwk.clone(),
    };
    let c = ctx();
    let (x, y) = tokio::join!(a.attest_join(&ra, &c), b.attest_join(&rb, &c));
    assert_eq!(
        [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{x:?} {y:?}"
    );
    let loser = if x.is_ok() { y } else { x };
    refused(loser, Refusal::WorkloadJoinTokenInvalid);
    assert_eq!(a.workload_nodes((&op()).into()).await.unwrap().len(), 1);
}
