//! The workload CA through the service: X.509-SVIDs that verify to the
//! bundle with rustls-webpki, the CRL that refuses a revoked one, the
//! rotation phases with the bundle's sequence, recovery after sleeping
//! past the CA's expiry, the re-issuance limit, and the sealed keys.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};

use super::*;

const KEK: [u8; 32] = [0x5a; 32];

async fn ca_world(ca_ttl_s: u32) -> World {
    world_with(|c| {
        c.workloads.ca_key_encryption_key = Some(KEK);
        c.workloads.ca_ttl_s = ca_ttl_s;
    })
    .await
}

/// A workload's fresh P-256 key: its SubjectPublicKeyInfo, base64url.
fn spki() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    keybound_webauthn::b64::encode(&rcgen::PublicKeyData::subject_public_key_info(&key))
}

fn csr(entry_id: &str) -> SyncRequest {
    SyncRequest {
        csrs: vec![SvidRequest {
            entry_id: entry_id.to_owned(),
            public_key: spki(),
        }],
    }
}

fn der(b64: &str) -> Vec<u8> {
    keybound_webauthn::b64::decode(b64).unwrap()
}

/// Verifies `leaf` (DER) to any of the bundle's roots at `now_ms`, with
/// `crls` (DER) when given.
fn verify(
    leaf: &[u8],
    roots: &[String],
    crls: &[String],
    now_ms: i64,
) -> Result<(), webpki::Error> {
    let roots: Vec<CertificateDer<'static>> =
        roots.iter().map(|r| CertificateDer::from(der(r))).collect();
    let anchors: Vec<_> = roots
        .iter()
        .map(|r| webpki::anchor_from_trusted_cert(r).unwrap())
        .collect();
    let leaf = CertificateDer::from(leaf.to_vec());
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    let crl_ders: Vec<Vec<u8>> = crls.iter().map(|c| der(c)).collect();
    let crls: Vec<CertRevocationList> = crl_ders
        .iter()
        .map(|c| CertRevocationList::from(BorrowedCertRevocationList::from_der(c).unwrap()))
        .collect();
    let crl_refs: Vec<&CertRevocationList> = crls.iter().collect();
    let revocation = (!crl_refs.is_empty()).then(|| {
        RevocationOptionsBuilder::new(&crl_refs)
            .unwrap()
            .with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Allow)
            .build()
    });
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::since_unix_epoch(Duration::from_millis(now_ms as u64)),
        webpki::KeyUsage::client_auth(),
        revocation,
        None,
    )
    .map(|_| ())
}

async fn one_entry(w: &World) -> (NodeKey, EntryView) {
    owner(w, "ada").await;
    let key = attested(w, "node-1", &[]).await;
    let entry = add(w, &entry("spiffe://localhost/web", "node-1", "ada", 1000))
        .await
        .unwrap();
    (key, entry)
}

#[tokio::test]
async fn an_x509_svid_verifies_to_the_bundle_and_not_to_another() {
    let w = ca_world(86_400).await;
    let (key, e) = one_entry(&w).await;
    let got = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert_eq!(got.svids.len(), 1);
    let svid = &got.svids[0];
    assert_eq!(svid.entry_id, e.id);
    assert_eq!(svid.chain.len(), 1, "a root signs: the leaf alone");
    assert_eq!(svid.expires_at_ms, (w.now() / 1000 + 3600) * 1000);
    assert_eq!(got.bundle.x509_authorities.len(), 1);
    assert_eq!(got.bundle.sequence, 1);
    assert_eq!(got.crls.len(), 1);
    let leaf = der(&svid.chain[0]);
    verify(&leaf, &got.bundle.x509_authorities, &got.crls, w.now()).unwrap();
    // Another deployment's root does not verify it.
    let other = ca_world(86_400).await;
    let (okey, oe) = one_entry(&other).await;
    let theirs = sync(&other, &okey, "node-1", &csr(&oe.id)).await.unwrap();
    assert!(verify(&leaf, &theirs.bundle.x509_authorities, &[], w.now()).is_err());
    // The leaf names the entry's SPIFFE ID as its URI SAN.
    let parsed = <x509_cert::Certificate as der::Decode>::from_der(&leaf).unwrap();
    let text = format!("{:?}", parsed.tbs_certificate.extensions);
    assert!(
        text.contains("spiffe://localhost/web")
            || leaf.windows(22).any(|w| w == b"spiffe://localhost/web")
    );
    let kinds: Vec<String> = w.audit().await.into_iter().map(|e| e.event.kind).collect();
    assert!(kinds.contains(&"workload.ca.activate".to_owned()));
    assert!(kinds.contains(&"workload.svid.issue".to_owned()));
}

#[tokio::test]
async fn a_removed_entrys_svid_is_in_the_crl_and_refused() {
    let w = ca_world(86_400).await;
    let (key, e) = one_entry(&w).await;
    let got = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    let leaf = der(&got.svids[0].chain[0]);
    w.service
        .remove_workload_entry((&op()).into(), &e.id, &ctx())
        .await
        .unwrap();
    w.advance(1000);
    let after = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    assert!(after.entries.is_empty());
    assert_eq!(
        verify(&leaf, &after.bundle.x509_authorities, &after.crls, w.now()),
        Err(webpki::Error::CertRevoked)
    );
    // Without the CRL it still verifies: short lifetimes are the main revocation.
    verify(&leaf, &after.bundle.x509_authorities, &[], w.now()).unwrap();
}

#[tokio::test]
async fn the_ca_rotates_in_phases_and_sleepers_recover() {
    let w = ca_world(600).await;
    let (key, mut e) = one_entry(&w).await;
    // Short SVIDs, so the old authority can retire.
    w.service
        .remove_workload_entry((&op()).into(), &e.id, &ctx())
        .await
        .unwrap();
    let mut short = entry("spiffe://localhost/web", "node-1", "ada", 1000);
    short.x509_ttl_s = 60;
    e = add(&w, &short).await.unwrap();
    let first = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    let seq0 = first.bundle.sequence;
    assert_eq!(first.bundle.x509_authorities.len(), 1);
    let rotate = || w.service.rotate_workload_ca(None, false);
    assert!(rotate().await.unwrap().is_empty(), "nothing due yet");
    // Half-life: the next authority is published, not signing.
    w.advance(300_000);
    assert_eq!(rotate().await.unwrap().len(), 1);
    let prepared = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert_eq!(prepared.bundle.x509_authorities.len(), 2);
    assert_eq!(prepared.bundle.sequence, seq0 + 1);
    let old_root = first.bundle.x509_authorities[0].clone();
    let signed_by_old = der(&prepared.svids[0].chain[0]);
    verify(
        &signed_by_old,
        std::slice::from_ref(&old_root),
        &[],
        w.now(),
    )
    .unwrap();
    // Five sixths: the new one signs, the old one stays published.
    w.advance(200_000);
    assert_eq!(rotate().await.unwrap().len(), 1);
    let active = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert_eq!(active.bundle.x509_authorities.len(), 2);
    let new_root: Vec<String> = active
        .bundle
        .x509_authorities
        .iter()
        .filter(|r| **r != old_root)
        .cloned()
        .collect();
    let signed_by_new = der(&active.svids[0].chain[0]);
    verify(&signed_by_new, &new_root, &[], w.now()).unwrap();
    // The old root is still published: what it signed (checked at a time
    // the 60 s SVID was valid) still verifies with the current bundle.
    verify(
        &signed_by_old,
        &active.bundle.x509_authorities,
        &[],
        w.now() - 200_000,
    )
    .unwrap();
    // Once the old one's last SVID expired: retired, out of the bundle.
    w.advance(61_000);
    assert_eq!(rotate().await.unwrap().len(), 1);
    let retired = sync(&w, &key, "node-1", &SyncRequest::default())
        .await
        .unwrap();
    assert_eq!(retired.bundle.x509_authorities, new_root);
    assert!(retired.bundle.sequence > active.bundle.sequence);
    let kinds: Vec<String> = w.audit().await.into_iter().map(|e| e.event.kind).collect();
    for k in [
        "workload.ca.prepare",
        "workload.ca.activate",
        "workload.ca.retire",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k}");
    }
    // Every server asleep for ten CA lifetimes: the next sync issues from
    // a fresh authority, and the SVID verifies.
    w.advance(6_000_000);
    let woke = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert_eq!(woke.svids.len(), 1);
    verify(
        &der(&woke.svids[0].chain[0]),
        &woke.bundle.x509_authorities,
        &woke.crls,
        w.now(),
    )
    .unwrap();
}

#[tokio::test]
async fn a_forced_rotation_takes_the_next_phase_now() {
    let w = ca_world(86_400).await;
    let (key, e) = one_entry(&w).await;
    sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    let op = op();
    let steps = w
        .service
        .rotate_workload_ca(Some((&op).into()), true)
        .await
        .unwrap();
    assert_eq!(steps.len(), 1);
    let steps = w
        .service
        .rotate_workload_ca(Some((&op).into()), true)
        .await
        .unwrap();
    assert_eq!(steps.len(), 1, "activate");
    let last = w
        .audit()
        .await
        .into_iter()
        .rfind(|e| e.event.kind == "workload.ca.activate")
        .unwrap();
    assert_eq!(last.event.actor.as_deref(), Some("cli"));
}

#[tokio::test]
async fn svids_are_not_reissued_faster_than_rotation_needs_and_bad_keys_get_none() {
    let w = ca_world(86_400).await;
    let (key, e) = one_entry(&w).await;
    for _ in 0..3 {
        assert_eq!(
            sync(&w, &key, "node-1", &csr(&e.id))
                .await
                .unwrap()
                .svids
                .len(),
            1
        );
    }
    let fourth = sync(&w, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert!(fourth.svids.is_empty());
    assert!(last_refusal(&w)
        .await
        .contains("workload_svid_rate_limited"));
    // Half a lifetime later, one more.
    w.advance(1_800_001);
    assert_eq!(
        sync(&w, &key, "node-1", &csr(&e.id))
            .await
            .unwrap()
            .svids
            .len(),
        1
    );
    for bad in ["!!", "AAAA", &"A".repeat(5000)] {
        let got = sync(
            &w,
            &key,
            "node-1",
            &SyncRequest {
                csrs: vec![SvidRequest {
                    entry_id: e.id.clone(),
                    public_key: bad.to_owned(),
                }],
            },
        )
        .await
        .unwrap();
        assert!(got.svids.is_empty());
        assert!(
            last_refusal(&w).await.contains("workload_invalid_svid_key"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_ca_key_is_sealed_and_opens_only_with_the_operators_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let server = |kek: [u8; 32], seed: u64| {
        let (url, clock) = (url.clone(), clock.clone());
        async move {
            let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
            config.workloads.ca_key_encryption_key = Some(kek);
            World {
                service: Service::new(
                    Store::open(&url).await.unwrap(),
                    config,
                    clock.clone(),
                    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
                ),
                clock,
                auth: Authenticator::default(),
            }
        }
    };
    let a = server(KEK, 1).await;
    let (key, e) = one_entry(&a).await;
    sync(&a, &key, "node-1", &csr(&e.id)).await.unwrap();
    let rows = a
        .service
        .store()
        .read()
        .await
        .unwrap()
        .workload_authorities(TD)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rows[0].key_sealed
        )
        .is_err(),
        "not PKCS#8 in the clear"
    );
    // A second server with the same key issues from the same authority.
    let b = server(KEK, 2).await;
    let got = sync(&b, &key, "node-1", &csr(&e.id)).await.unwrap();
    assert_eq!(got.svids.len(), 1);
    // A server with another key cannot sign.
    let c = server([1; 32], 3).await;
    assert!(matches!(
        sync(&c, &key, "node-1", &csr(&e.id)).await,
        Err(ServiceError::Internal(_))
    ));
}

/// The reason of the last `workload.node.refused` event.
async fn last_refusal(w: &World) -> String {
    w.audit()
        .await
        .into_iter()
        .rfind(|e| e.event.kind == "workload.node.refused")
        .and_then(|e| e.event.reason)
        .unwrap()
}

#[tokio::test]
async fn two_servers_making_the_first_authority_at_once_agree_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    one_authority_across_servers(&format!("sqlite://{}", dir.path().join("kb.db").display())).await;
}

#[tokio::test]
async fn two_servers_making_the_first_authority_at_once_agree_on_postgres() {
    let Some(pg) = keybound_testdb::shared("first CA authority raced across servers") else {
        return;
    };
    one_authority_across_servers(&pg.fresh_database()).await;
}

/// Two servers on `url`, no leader: both issue at once, and then both
/// force a rotation at once; one authority is active throughout, and
/// each step happened once.
async fn one_authority_across_servers(url: &str) {
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let server = |seed: u64| {
        let (url, clock) = (url.to_owned(), clock.clone());
        async move {
            let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
            config.workloads.ca_key_encryption_key = Some(KEK);
            World {
                service: Service::new(
                    Store::open(&url).await.unwrap(),
                    config,
                    clock.clone(),
                    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
                ),
                clock,
                auth: Authenticator::default(),
            }
        }
    };
    let a = server(1).await;
    let b = server(2).await;
    let (key, e) = one_entry(&a).await;
    let (ra, rb) = (csr(&e.id), csr(&e.id));
    let (x, y) = tokio::join!(sync(&a, &key, "node-1", &ra), sync(&b, &key, "node-1", &rb));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!((x.svids.len(), y.svids.len()), (1, 1));
    assert_eq!(x.bundle.x509_authorities, y.bundle.x509_authorities);
    assert_eq!(x.bundle.x509_authorities.len(), 1, "one root, made once");
    let op = op();
    let (p, q) = tokio::join!(
        a.service.rotate_workload_ca(Some((&op).into()), true),
        b.service.rotate_workload_ca(Some((&op).into()), true)
    );
    let steps = p.unwrap().len() + q.unwrap().len();
    assert!(steps >= 1);
    let rows = a
        .service
        .store()
        .read()
        .await
        .unwrap()
        .workload_authorities(TD)
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|r| r.state == "active").count(), 1);
    assert!(rows.iter().filter(|r| r.state == "prepared").count() <= 1);
}
