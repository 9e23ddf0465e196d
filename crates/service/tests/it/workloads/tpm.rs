//! TPM node attestation through the service, against swtpm TPMs driven
//! by the node agent's own driver (`crates/cli/src/node/tpm.rs`). Skipped,
//! with the reason printed, when swtpm or tpm2-tools is missing (CI
//! installs them).

use super::*;

use std::path::Path;

use keybound_workload_api::wire::{AttestResponse, TpmAttestFinish, TpmAttestStart, TpmChallenge};

#[path = "../../../../cli/src/node/tpm.rs"]
#[allow(dead_code, clippy::all)]
mod agent;
#[path = "../../../../tpm/tests/support/swtpm.rs"]
mod harness;

use harness::{installed, Manufacturer, Swtpm};

/// A world whose TPM roots are `maker`'s.
async fn tpm_world(maker: &Manufacturer) -> World {
    let roots = maker.roots();
    world_with(move |c| c.workloads.tpm_ek_roots = std::sync::Arc::new(roots)).await
}

fn node(tpm: &Swtpm, dir: &Path) -> agent::Tpm {
    std::fs::create_dir_all(dir).unwrap();
    agent::Tpm::new(Some(tpm.tcti.clone()), dir, agent::EkKind::Rsa)
}

/// The raw RFC 7638 thumbprint of a node key, as the agent quotes it.
fn thumbprint(key: &NodeKey) -> Vec<u8> {
    let jwk = keybound_jose::Jwk::parse(&key.jwk).unwrap();
    keybound_webauthn::b64::decode(&jwk.thumbprint()).unwrap()
}

async fn start(w: &World, tpm: &agent::Tpm, key: &NodeKey) -> (TpmAttestStart, TpmChallenge) {
    let request = tpm.start(key.jwk.clone()).unwrap();
    let challenge = w.service.attest_tpm_start(&request, &ctx()).await.unwrap();
    (request, challenge)
}

async fn attest(
    w: &World,
    tpm: &agent::Tpm,
    key: &NodeKey,
) -> Result<AttestResponse, ServiceError> {
    let (_, challenge) = start(w, tpm, key).await;
    let finish = tpm.finish(&challenge, &thumbprint(key)).unwrap();
    w.service.attest_tpm_finish(&finish, &ctx()).await
}

async fn last_reason(w: &World) -> (String, Option<String>) {
    let last = w.audit().await.pop().unwrap();
    (last.event.kind, last.event.reason)
}

#[tokio::test]
async fn a_genuine_tpm_attests_and_renews_the_same_node() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let swtpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let tpm = node(&swtpm, &tmp.path().join("node"));
    let w = tpm_world(&maker).await;

    let key = NodeKey::new();
    let attested = attest(&w, &tpm, &key).await.unwrap();
    assert!(attested.node.starts_with("tpm-"), "{}", attested.node);
    assert_eq!(
        attested.spiffe_id,
        format!("spiffe://{TD}/keybound/node/{}", attested.node)
    );
    let (kind, reason) = last_reason(&w).await;
    assert_eq!(kind, "workload.node.attest");
    assert!(reason.unwrap().contains("new node"));
    let nodes = w.service.workload_nodes((&op()).into()).await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].attestation, "tpm");

    // The node key now authenticates node calls.
    sync(&w, &key, &attested.node, &SyncRequest::default())
        .await
        .unwrap();

    // The same TPM again, with a new node key (a reinstalled host): the
    // same node, renewed; the old key no longer works.
    w.advance(1000);
    let new_key = NodeKey::new();
    let again = attest(&w, &tpm, &new_key).await.unwrap();
    assert_eq!(again.node, attested.node);
    let nodes = w.service.workload_nodes((&op()).into()).await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].attested_ms, w.now());
    sync(&w, &new_key, &attested.node, &SyncRequest::default())
        .await
        .unwrap();
    assert!(sync(&w, &key, &attested.node, &SyncRequest::default())
        .await
        .is_err());
}

#[tokio::test]
async fn another_root_or_no_root_is_refused() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ours = Manufacturer::new(tmp.path(), "ours");
    let theirs = Manufacturer::new(tmp.path(), "theirs");
    let _ours_tpm = Swtpm::start(tmp.path(), "ours-tpm", &ours);
    let swtpm = Swtpm::start(tmp.path(), "tpm", &theirs);
    let tpm = node(&swtpm, &tmp.path().join("node"));
    let key = NodeKey::new();
    let request = tpm.start(key.jwk.clone()).unwrap();

    let w = tpm_world(&ours).await;
    refused(
        w.service.attest_tpm_start(&request, &ctx()).await,
        Refusal::WorkloadTpmEkUntrusted,
    );
    let last = w.audit().await.pop().unwrap();
    assert_eq!(last.event.kind, "workload.node.refused");
    assert_eq!(
        last.event.reason.as_deref(),
        Some("workload_tpm_ek_untrusted: tpm_ek_certificate_untrusted")
    );

    let unconfigured = world().await;
    refused(
        unconfigured
            .service
            .attest_tpm_start(&request, &ctx())
            .await,
        Refusal::WorkloadTpmNotConfigured,
    );
    assert!(w
        .service
        .workload_nodes((&op()).into())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn another_tpms_ak_cannot_finish() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let genuine = Swtpm::start(tmp.path(), "genuine", &maker);
    let other = Swtpm::start(tmp.path(), "other", &maker);
    let genuine = node(&genuine, &tmp.path().join("genuine"));
    let other = node(&other, &tmp.path().join("other"));
    let w = tpm_world(&maker).await;
    let key = NodeKey::new();

    // The genuine EK certificate and EK, the other TPM's AK.
    let real = genuine.start(key.jwk.clone()).unwrap();
    let theirs = other.start(key.jwk.clone()).unwrap();
    let forged = TpmAttestStart {
        ak_public: theirs.ak_public,
        ..real
    };
    let challenge = w.service.attest_tpm_start(&forged, &ctx()).await.unwrap();
    assert!(other.finish(&challenge, &thumbprint(&key)).is_err());
    assert!(genuine.finish(&challenge, &thumbprint(&key)).is_err());
    // Guessing the secret instead: the activation check refuses it.
    let guessed = TpmAttestFinish {
        attempt: challenge.attempt.clone(),
        secret: keybound_webauthn::b64::encode(&[0u8; 32]),
        quote: String::new(),
        quote_signature: String::new(),
    };
    refused(
        w.service.attest_tpm_finish(&guessed, &ctx()).await,
        Refusal::WorkloadTpmActivationFailed,
    );
    assert!(w
        .service
        .workload_nodes((&op()).into())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn hostile_finishes_are_refused_and_bind_nothing() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let swtpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let tpm = node(&swtpm, &tmp.path().join("node"));
    let w = tpm_world(&maker).await;
    let key = NodeKey::new();

    // A quote for another node key than the one start bound.
    let (_, challenge) = start(&w, &tpm, &key).await;
    let other_key = NodeKey::new();
    let finish = tpm.finish(&challenge, &thumbprint(&other_key)).unwrap();
    refused(
        w.service.attest_tpm_finish(&finish, &ctx()).await,
        Refusal::WorkloadTpmQuoteInvalid,
    );
    let (_, reason) = last_reason(&w).await;
    assert_eq!(
        reason.as_deref(),
        Some("workload_tpm_quote_invalid: tpm_quote_nonce_mismatch")
    );

    // A tampered attempt.
    let (_, challenge) = start(&w, &tpm, &key).await;
    let good = tpm.finish(&challenge, &thumbprint(&key)).unwrap();
    let mut tampered = good.clone();
    let mut chars: Vec<char> = good.attempt.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    tampered.attempt = chars.into_iter().collect();
    refused(
        w.service.attest_tpm_finish(&tampered, &ctx()).await,
        Refusal::WorkloadTpmAttemptInvalid,
    );
    for bad in [String::new(), "x".repeat(100_000)] {
        let mut f = good.clone();
        f.attempt = bad;
        refused(
            w.service.attest_tpm_finish(&f, &ctx()).await,
            Refusal::WorkloadTpmAttemptInvalid,
        );
    }
    let mut huge = good.clone();
    huge.quote = "A".repeat(100_000);
    refused(
        w.service.attest_tpm_finish(&huge, &ctx()).await,
        Refusal::WorkloadTpmMalformed,
    );
    assert!(w
        .service
        .workload_nodes((&op()).into())
        .await
        .unwrap()
        .is_empty());

    // The good finish works once; its replay is refused.
    w.service.attest_tpm_finish(&good, &ctx()).await.unwrap();
    refused(
        w.service.attest_tpm_finish(&good, &ctx()).await,
        Refusal::WorkloadTpmAttemptInvalid,
    );

    // An attempt older than its lifetime.
    let (_, challenge) = start(&w, &tpm, &key).await;
    let late = tpm.finish(&challenge, &thumbprint(&key)).unwrap();
    w.advance(60_000);
    refused(
        w.service.attest_tpm_finish(&late, &ctx()).await,
        Refusal::WorkloadTpmAttemptInvalid,
    );
}

#[tokio::test]
async fn a_decommissioned_tpm_never_comes_back() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let swtpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let tpm = node(&swtpm, &tmp.path().join("node"));
    let w = tpm_world(&maker).await;
    let key = NodeKey::new();
    let attested = attest(&w, &tpm, &key).await.unwrap();
    // Started before the decommission, finished after.
    let pending_key = NodeKey::new();
    let (_, pending) = start(&w, &tpm, &pending_key).await;
    let pending = tpm.finish(&pending, &thumbprint(&pending_key)).unwrap();
    w.service
        .decommission_workload_node((&op()).into(), &attested.node, &ctx())
        .await
        .unwrap();
    let request = tpm.start(NodeKey::new().jwk).unwrap();
    refused(
        w.service.attest_tpm_start(&request, &ctx()).await,
        Refusal::WorkloadNodeDecommissioned,
    );
    refused(
        w.service.attest_tpm_finish(&pending, &ctx()).await,
        Refusal::WorkloadNodeDecommissioned,
    );
    // The same EK with one attribute bit set (noDA) in its public area:
    // the certificate still matches the key, so only an identity of the
    // key alone keeps the TPM decommissioned.
    let mut varied = tpm.start(NodeKey::new().jwk).unwrap();
    let mut area = keybound_webauthn::b64::decode(&varied.ek_public).unwrap();
    area[8] |= 0x04;
    varied.ek_public = keybound_webauthn::b64::encode(&area);
    refused(
        w.service.attest_tpm_start(&varied, &ctx()).await,
        Refusal::WorkloadNodeDecommissioned,
    );
    let nodes = w.service.workload_nodes((&op()).into()).await.unwrap();
    assert_eq!(nodes.len(), 1, "no second node for the same TPM");
    assert_eq!(nodes[0].status, "decommissioned");
}

#[tokio::test]
async fn a_tpm_node_is_a_device_and_goes_with_it() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let swtpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let tpm = node(&swtpm, &tmp.path().join("node"));
    let w = tpm_world(&maker).await;
    let key = NodeKey::new();
    let attested = attest(&w, &tpm, &key).await.unwrap();

    let devices = w.service.devices((&op()).into()).await.unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(device.label, attested.node);
    assert_eq!(device.attachment, "node");
    assert_eq!(device.attestation_format, "tpm");
    assert_eq!(device.status, "trusted");
    assert_eq!(device.owner, None);
    // Renewing the node does not make another device.
    attest(&w, &tpm, &key).await.unwrap();
    assert_eq!(w.service.devices((&op()).into()).await.unwrap().len(), 1);

    w.service
        .decommission_device((&op()).into(), &device.name, &ctx())
        .await
        .unwrap();
    let nodes = w.service.workload_nodes((&op()).into()).await.unwrap();
    assert_eq!(nodes[0].status, "decommissioned");
    let kinds: Vec<String> = w.audit().await.into_iter().map(|e| e.event.kind).collect();
    assert!(
        kinds.contains(&"workload.node.decommission".to_owned()),
        "{kinds:?}"
    );
    assert!(sync(&w, &key, &attested.node, &SyncRequest::default())
        .await
        .is_err());
}
