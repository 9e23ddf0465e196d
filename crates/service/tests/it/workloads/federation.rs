use super::*;

/// A real bundle of `td` with one root, and the root (base64url DER).
fn bundle_of(td: &str, seq: u64) -> (String, String) {
    let td = keybound_ca::TrustDomain::parse(td).unwrap();
    let key = keybound_ca::generate_p256_pkcs8().unwrap();
    let root =
        keybound_ca::Authority::new_root(&td, 1_700_000_000, 1_900_000_000, [7; 16], &key).unwrap();
    let doc = keybound_ca::Bundle {
        trust_domain: td,
        x509_authorities: vec![root.cert_der().to_vec()],
        jwt_authorities: vec![],
        sequence: seq,
        refresh_hint_s: 60,
    }
    .to_json()
    .unwrap();
    (doc, keybound_webauthn::b64::encode(root.cert_der()))
}

fn bundle(seq: u64) -> String {
    bundle_of("example-federated.org", seq).0
}

#[tokio::test]
async fn federated_bundles_reach_the_entries_that_ask_for_them() {
    let w = world().await;
    owner(&w, "ada").await;
    let key = attested(&w, "node-1", &[]).await;
    let (doc, root) = bundle_of("example-federated.org", 7);
    let view = w
        .service
        .add_federation(
            (&op()).into(),
            "example-federated.org",
            None,
            Some(&doc),
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
    let got = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    assert_eq!(got.federated.len(), 1);
    assert_eq!(got.federated[0].trust_domain, "example-federated.org");
    assert_eq!(got.federated[0].x509_authorities, vec![root]);
    assert_eq!(got.federated[0].sequence, 7);
    assert_eq!(
        w.service.federation_urls().await.unwrap(),
        vec![(
            "fetched.org".to_owned(),
            "https://fetched.org/bundle".to_owned()
        )]
    );
    w.service
        .remove_federation((&op()).into(), "example-federated.org", &ctx())
        .await
        .unwrap();
    let got = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
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
    refused(
        add(TD, None, Some(bundle(1))).await,
        Refusal::WorkloadInvalidTrustDomain,
    );
    refused(
        add("Bad.Org", None, Some(bundle(1))).await,
        Refusal::WorkloadInvalidTrustDomain,
    );
    refused(
        add("a.org", Some("http://a.org/b"), None).await,
        Refusal::WorkloadInvalidBundle,
    );
    refused(
        add("a.org", None, None).await,
        Refusal::WorkloadInvalidBundle,
    );
    refused(
        add("a.org", None, Some("{}".into())).await,
        Refusal::WorkloadInvalidBundle,
    );
    // A private key in a bundle, and a certificate that is not one.
    let private = json!({"keys": [{"use": "jwt-svid", "kty": "EC", "crv": "P-256", "kid": "k",
        "x": "AAAA", "y": "AAAA", "d": "AAAA"}]})
    .to_string();
    refused(
        add("a.org", None, Some(private)).await,
        Refusal::WorkloadInvalidBundle,
    );
    let fake = json!({"keys": [{"use": "x509-svid", "kty": "EC", "crv": "P-256",
        "x": "AAAA", "y": "AAAA", "x5c": ["MAo="]}]})
    .to_string();
    refused(
        add("a.org", None, Some(fake)).await,
        Refusal::WorkloadInvalidBundle,
    );
    refused(
        add(
            "a.org",
            None,
            Some(format!(
                "{{\"keys\": [], \"pad\": \"{}\"}}",
                "x".repeat(300_000)
            )),
        )
        .await,
        Refusal::WorkloadInvalidBundle,
    );
    add("a.org", None, Some(bundle_of("a.org", 1).0))
        .await
        .unwrap();
    refused(
        add("a.org", None, Some(bundle_of("a.org", 2).0)).await,
        Refusal::WorkloadFederationExists,
    );
    assert_eq!(
        w.service.federations((&op()).into()).await.unwrap().len(),
        1
    );
}
