//! The node agent's endpoints through the real router (issue 17): a join
//! token attests once, a node proof admits one sync, every refusal is the
//! one generic body, and no hostile body makes a 500.

use super::*;
use keybound_jose::{Algorithm as JoseAlg, SigningKey};
use keybound_workload_api::wire::{paths, AttestResponse, ErrorBody, SyncResponse};
use serde_json::Map;

struct Node {
    key: SigningKey,
    jwk: Value,
}

impl Node {
    fn new() -> Node {
        let pkcs8 = SigningKey::generate_pkcs8(JoseAlg::Es256).unwrap();
        let key = SigningKey::from_pkcs8(JoseAlg::Es256, &pkcs8).unwrap();
        let jwk = key.public_jwk(None).unwrap().to_json();
        Node { key, jwk }
    }

    fn proof(&self, node: &str, path: &str, jti: &str) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), "kb-node+jwt".into());
        header.insert("jwk".into(), self.jwk.clone());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"htm": "POST", "htu": format!("https://kb.example{path}"),
            "iat": now, "jti": jti, "node": node});
        let token = keybound_jose::sign(
            &header,
            &claims,
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        format!("KeyboundNode {token}")
    }
}

fn error_of(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body).unwrap().error
}

#[tokio::test]
async fn a_node_attests_syncs_and_is_refused_with_one_generic_body() {
    let (app, service) = app().await;
    let mut agent = Browser::new(app);
    let token = service
        .create_join_token(
            (&Operator::local("cli")).into(),
            "node-1",
            &[],
            60_000,
            &Default::default(),
        )
        .await
        .unwrap();
    let node = Node::new();
    let body = json!({"token": token.token, "node_key": node.jwk}).to_string();
    let json_ct = [("content-type", "application/json")];
    let (status, _, reply) = agent
        .request("POST", paths::ATTEST_JOIN, &json_ct, body.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let attested: AttestResponse = serde_json::from_slice(&reply).unwrap();
    assert_eq!(
        attested.spiffe_id,
        "spiffe://localhost/keybound/node/node-1"
    );
    // Spent.
    let (status, _, reply) = agent
        .request("POST", paths::ATTEST_JOIN, &json_ct, body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&reply), "unauthorized");

    let proof = node.proof("node-1", paths::SYNC, "one");
    let auth = [("authorization", proof.as_str())];
    let (status, headers, reply) = agent.request("POST", paths::SYNC, &auth, "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let synced: SyncResponse = serde_json::from_slice(&reply).unwrap();
    assert_eq!(synced.bundle.trust_domain, "localhost");
    // Replayed, and with no proof at all.
    for headers in [&auth[..], &[]] {
        let (status, _, reply) = agent.request("POST", paths::SYNC, headers, "{}").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_of(&reply), "unauthorized");
    }
    // A proof for sync is not one for the JWT endpoint.
    let proof = node.proof("node-1", paths::SYNC, "two");
    let (status, _, _) = agent
        .request(
            "POST",
            paths::JWT_SVID,
            &[("authorization", proof.as_str())],
            json!({"entry_id": "x", "audience": ["a"]}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another node's entry: forbidden.
    let proof = node.proof("node-1", paths::JWT_SVID, "three");
    let (status, _, reply) = agent
        .request(
            "POST",
            paths::JWT_SVID,
            &[("authorization", proof.as_str())],
            json!({"entry_id": "nope", "audience": ["a"]}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_of(&reply), "forbidden");
}

#[tokio::test]
async fn hostile_node_bodies_are_invalid_requests_never_errors() {
    let (app, _) = app().await;
    let mut agent = Browser::new(app);
    let huge = format!(
        "{{\"token\": \"{}\", \"node_key\": {{}}}}",
        "a".repeat(600_000)
    );
    for path in [paths::ATTEST_JOIN, paths::SYNC, paths::JWT_SVID] {
        for body in [
            String::new(),
            "null".to_owned(),
            "[]".to_owned(),
            "{\"csrs\": 5}".to_owned(),
            "{\"token\": 1}".to_owned(),
            "\u{0}".to_owned(),
            huge.clone(),
        ] {
            let (status, _, reply) = agent.request("POST", path, &[], body.clone()).await;
            assert!(
                status == StatusCode::BAD_REQUEST
                    || status == StatusCode::UNAUTHORIZED
                    || status == StatusCode::PAYLOAD_TOO_LARGE,
                "{path} {status}"
            );
            if status != StatusCode::PAYLOAD_TOO_LARGE {
                assert!(["invalid_request", "unauthorized"].contains(&error_of(&reply).as_str()));
            }
        }
    }
}

#[tokio::test]
async fn the_bundle_is_public_and_unknown_crls_are_not_found() {
    let (app, _) = app().await;
    let mut peer = Browser::new(app);
    let (status, headers, body) = peer.request("GET", paths::BUNDLE, &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let bundle: Value = serde_json::from_slice(&body).unwrap();
    assert!(bundle["spiffe_sequence"].is_u64());
    assert!(bundle["spiffe_refresh_hint"].as_u64().unwrap() > 0);
    assert!(bundle["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["use"] == "jwt-svid"));
    let (status, _, body) = peer
        .request("GET", &format!("{}nope", paths::CRL_PREFIX), &[], "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "not_found");
}
