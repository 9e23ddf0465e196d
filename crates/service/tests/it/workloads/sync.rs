use super::*;

#[tokio::test]
async fn a_node_receives_its_entries_and_its_sets_entries_only() {
    let w = world().await;
    owner(&w, "ada").await;
    let key = attested(&w, "node-1", &["web"]).await;
    let _other = attested(&w, "node-2", &[]).await;
    let mine = add(&w, &entry("spiffe://localhost/mine", "node-1", "ada", 1000))
        .await
        .unwrap();
    let by_set = add(&w, &entry("spiffe://localhost/web", "set:web", "ada", 1001))
        .await
        .unwrap();
    let theirs = add(
        &w,
        &entry("spiffe://localhost/theirs", "node-2", "ada", 1002),
    )
    .await
    .unwrap();
    let _other_set = add(&w, &entry("spiffe://localhost/db", "set:db", "ada", 1003))
        .await
        .unwrap();
    let got = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    assert_eq!(got.node, "spiffe://localhost/keybound/node/node-1");
    let ids: Vec<&str> = got.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&mine.id.as_str()) && ids.contains(&by_set.id.as_str()));
    assert!(!ids.contains(&theirs.id.as_str()));
    assert_eq!(got.bundle.trust_domain, TD);
    assert!(!got.bundle.jwt_authorities.is_empty(), "JWT keys published");
    assert!(got.next_sync_ms > w.now() && got.next_sync_ms <= w.now() + 30_000);
    let node = w
        .service
        .workload_node((&op()).into(), "node-1")
        .await
        .unwrap();
    assert_eq!(node.last_seen_ms, Some(w.now()));
}

#[tokio::test]
async fn a_node_asking_for_another_nodes_entry_gets_nothing_and_is_audited() {
    let w = world().await;
    owner(&w, "ada").await;
    let key = attested(&w, "node-1", &[]).await;
    let _other = attested(&w, "node-2", &[]).await;
    let theirs = add(&w, &entry("spiffe://localhost/theirs", "node-2", "ada", 1))
        .await
        .unwrap();
    let got = sync(
        &w,
        &key,
        "node-1",
        &SyncRequest {
            csrs: vec![SvidRequest {
                entry_id: theirs.id.clone(),
                public_key: "AAAA".into(),
            }],
        },
    )
    .await
    .unwrap();
    assert!(got.svids.is_empty());
    assert!(got.entries.is_empty());
    let last = w
        .audit()
        .await
        .into_iter()
        .rfind(|e| e.event.kind == "workload.node.refused")
        .unwrap();
    assert_eq!(last.event.outcome, Some(Outcome::Failure));
    let reason = last.event.reason.unwrap();
    assert!(
        reason.contains(&theirs.id) && reason.contains("workload_entry_not_for_node"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_sync_asking_for_too_many_svids_is_refused() {
    let w = world().await;
    let key = attested(&w, "node-1", &[]).await;
    let csrs = (0..65)
        .map(|i| SvidRequest {
            entry_id: format!("e{i}"),
            public_key: String::new(),
        })
        .collect();
    refused(
        sync(&w, &key, "node-1", &SyncRequest { csrs }).await,
        Refusal::WorkloadTooManyRequests,
    );
}

#[tokio::test]
async fn a_jwt_svid_names_the_entry_and_verifies_with_the_bundle() {
    let w = world().await;
    owner(&w, "ada").await;
    let key = attested(&w, "node-1", &[]).await;
    let _other = attested(&w, "node-2", &[]).await;
    let mine = add(&w, &entry("spiffe://localhost/mine", "node-1", "ada", 1))
        .await
        .unwrap();
    let theirs = add(&w, &entry("spiffe://localhost/theirs", "node-2", "ada", 2))
        .await
        .unwrap();
    let jwt = |entry_id: &str, audience: Vec<String>, jti: &str| {
        let proof = key.proof("node-1", "/workload/v1/jwt", w.now(), jti);
        let request = JwtSvidRequest {
            entry_id: entry_id.to_owned(),
            audience,
        };
        let service = &w.service;
        async move {
            service
                .workload_jwt_svid(&call(&proof, "/workload/v1/jwt"), &request, &ctx())
                .await
        }
    };
    let got = jwt(&mine.id, vec!["spiffe://localhost/db".into()], "j1")
        .await
        .unwrap();
    assert_eq!(got.expires_at_ms, (w.now() + 300_000) / 1000 * 1000);
    let bundle = w.service.workload_bundle().await.unwrap();
    let keys: Vec<keybound_jose::Jwk> = bundle
        .jwt_authorities
        .iter()
        .map(|k| keybound_jose::Jwk::parse(k).unwrap())
        .collect();
    let verified = keybound_jose::verify(&got.token, &[JoseAlg::Es256], |kid| {
        keys.iter().find(|k| k.kid() == kid).cloned()
    })
    .unwrap();
    let claims = verified.claims().unwrap();
    assert_eq!(claims["sub"], "spiffe://localhost/mine");
    assert_eq!(claims["aud"], json!(["spiffe://localhost/db"]));
    refused(
        jwt(&theirs.id, vec!["a".into()], "j2").await,
        Refusal::WorkloadEntryNotForNode,
    );
    for audience in [
        vec![],
        vec![String::new()],
        vec!["a".repeat(257)],
        vec!["a".into(); 9],
    ] {
        refused(
            jwt(
                &mine.id,
                audience,
                &format!("j3-{}", w.service.random_bytes()[0]),
            )
            .await,
            Refusal::WorkloadInvalidAudience,
        );
    }
}
