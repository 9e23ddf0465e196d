use super::*;

fn bundle(seq: u64) -> String {
    json!({"keys": [{"use": "x509-svid", "kty": "EC", "crv": "P-256",
        "x": "AAAA", "y": "AAAA", "x5c": ["MAo="]}],
        "spiffe_sequence": seq, "spiffe_refresh_hint": 60})
    .to_string()
}

#[tokio::test]
async fn federated_bundles_reach_the_entries_that_ask_for_them() {
    let w = world().await;
    owner(&w, "ada").await;
    let key = attested(&w, "node-1", &[]).await;
    let view = w
        .service
        .add_federation(
            (&op()).into(),
            "example-federated.org",
            None,
            Some(&bundle(7)),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(view.sequence, Some(7));
    assert_eq!(view.x509_authorities, 1);
    w.service
        .add_federation(
            (&op()).into(),
            "fetched.org",
            Some("https://fetched.org/bundle"),
            None,
            &ctx(),
        )
        .await
        .unwrap();
    let mut new = entry("spiffe://localhost/web", "node-1", "ada", 1);
    new.federates_with = vec!["example-federated.org".into()];
    add(&w, &new).await.unwrap();
    let got = sync(&w, &key, "node-1", &SyncRequest::default()).await.unwrap();
    assert_eq!(got.federated.len(), 1);
    assert_eq!(got.federated[0].trust_domain, "example-federated.org");
    assert_eq!(got.federated[0].x509_authorities, vec!["MAo".to_owned()]);
    assert_eq!(got.federated[0].sequence, 7);
    assert_eq!(
        w.service.federation_urls().await.unwrap(),
        vec![("fetched.org".to_owned(), "https://fetched.org/bundle".to_owned())]
    );
    w.service
        .remove_federation((&op()).into(), "example-federated.org", &ctx())
        .await
        .unwrap();
    let got = sync(&w, &key, "node-1", &SyncRequest::default()).await.unwrap();
    assert!(got.federated.is_empty());
}

#[tokio::test]
async fn hostile_federations_are_refused() {
    let w = world().await;
    let add = |td: &'static str, url: Option<&'static str>, json: Option<String>| {
        let service = &w.service;
        async move {
            service
                .add_federation((&op()).into(), td, url, json.as_deref(), &ctx())
                .await
        }
    };
    refused(add(TD, None, Some(bundle(1))).await, Refusal::WorkloadInvalidTrustDomain);
    refused(add("Bad.Org", None, Some(bundle(1))).await, Refusal::WorkloadInvalidTrustDomain);
    refused(add("a.org", Some("http://a.org/b"), None).await, Refusal::WorkloadInvalidBundle);
    refused(add("a.org", None, None).await, Refusal::WorkloadInvalidBundle);
    refused(add("a.org", None, Some("{}".into())).await, Refusal::WorkloadInvalidBundle);
    refused(
        add("a.org", None, Some(format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(300_000)))).await,
        Refusal::WorkloadInvalidBundle,
    );
    add("a.org", None, Some(bundle(1))).await.unwrap();
    refused(add("a.org", None, Some(bundle(2))).await, Refusal::WorkloadFederationExists);
    assert_eq!(w.service.federations((&op()).into()).await.unwrap().len(), 1);
}
