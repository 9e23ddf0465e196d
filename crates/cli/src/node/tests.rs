//! The agent's decisions (holdings, at pinned times) and the agent against
//! a fake keybound server (attestation, proofs, failover, refusal).

mod fake;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use keybound_workload_api::wire::{IssuedSvid, SyncResponse};

use super::holdings::{Dropped, Fresh, Holdings};
use super::key::{b64, unb64, Attested, NodeKey, KEY_FILE};
use super::*;
use fake::{bundle, entry, Ca, Mode, Shared, TD};

/// Whole seconds, so certificate times (seconds) are exact.
fn t0() -> i64 {
    (unix_ms() / 1000) * 1000
}

fn spki(fresh: &Fresh) -> Vec<u8> {
    unb64(&fresh.request().public_key).unwrap()
}

/// A sync answer with `entries`, one SVID per `(entry, chain)`.
fn answer(
    entries: Vec<keybound_workload_api::wire::EntryView>,
    svids: Vec<(&str, Vec<Vec<u8>>)>,
    authorities: &[&[u8]],
) -> SyncResponse {
    SyncResponse {
        node: "spiffe://example.org/keybound/node/n1".into(),
        entries,
        svids: svids
            .into_iter()
            .map(|(id, chain)| IssuedSvid {
                entry_id: id.into(),
                chain: chain.iter().map(|c| b64(c)).collect(),
                expires_at_ms: 0,
            })
            .collect(),
        bundle: bundle(authorities),
        federated: vec![],
        crls: vec![],
        next_sync_ms: 0,
    }
}

/// Holdings with entry `a` known and its SVID issued by `ca` for
/// `[t, t + 4 s]`.
fn holding_a(ca: &Ca, t: i64) -> Holdings {
    let mut h = Holdings::new(TD);
    h.absorb(answer(vec![entry("a", 1)], vec![], &[&ca.der]), vec![], t);
    assert_eq!(h.due(t), vec!["a".to_owned()], "a new entry is due");
    let fresh = Fresh::generate("a").unwrap();
    let leaf = ca.leaf_at(&spki(&fresh), "spiffe://example.org/a", t, t + 4000);
    let dropped = h.absorb(
        answer(vec![entry("a", 1)], vec![("a", vec![leaf])], &[&ca.der]),
        vec![fresh],
        t,
    );
    assert_eq!(dropped, vec![]);
    h
}

#[test]
fn an_svid_for_the_key_sent_is_served_until_it_expires() {
    let ca = Ca::new("ca");
    let t = t0();
    let h = holding_a(&ca, t);
    let now = h.snapshot(t + 1000);
    assert_eq!(now.identities.len(), 1);
    assert_eq!(now.identities[0].entry.id, "a");
    assert_eq!(now.identities[0].expires_at_ms, t + 4000);
    assert_eq!(now.trust_domain, TD);
    assert!(h.snapshot(t + 3999).identities.len() == 1);
    assert!(h.snapshot(t + 4000).identities.is_empty(), "never expired");
}

#[test]
fn renewal_is_due_at_half_life_and_not_before() {
    let ca = Ca::new("ca");
    let t = t0();
    let h = holding_a(&ca, t);
    assert!(h.due(t + 1999).is_empty());
    assert_eq!(h.due(t + 2000), vec!["a".to_owned()]);
    assert_eq!(h.next_change_ms(t), Some(t + 2000));
    assert_eq!(h.next_change_ms(t + 2000), Some(t + 4000));
}

#[test]
fn a_backdated_svid_counts_its_half_life_from_arrival() {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = Holdings::new(TD);
    h.absorb(answer(vec![entry("a", 1)], vec![], &[&ca.der]), vec![], t);
    let fresh = Fresh::generate("a").unwrap();
    // notBefore 10 s back, 4 s ahead of arrival: not due at once.
    let leaf = ca.leaf_at(
        &spki(&fresh),
        "spiffe://example.org/a",
        t - 10_000,
        t + 4000,
    );
    h.absorb(
        answer(vec![entry("a", 1)], vec![("a", vec![leaf])], &[&ca.der]),
        vec![fresh],
        t,
    );
    assert!(h.due(t + 1999).is_empty());
    assert_eq!(h.due(t + 2000), vec!["a".to_owned()]);
}

#[test]
fn an_svid_whose_authority_left_the_bundle_is_due() {
    let (old, new) = (Ca::new("old"), Ca::new("new"));
    let t = t0();
    let mut h = holding_a(&old, t);
    // Prepare: both authorities published; the old SVID still chains.
    h.absorb(
        answer(vec![entry("a", 1)], vec![], &[&old.der, &new.der]),
        vec![],
        t,
    );
    assert!(h.due(t + 100).is_empty());
    // Retire: the old one is gone from the bundle.
    h.absorb(answer(vec![entry("a", 1)], vec![], &[&new.der]), vec![], t);
    assert_eq!(h.due(t + 100), vec!["a".to_owned()]);
}

#[test]
fn a_new_revision_of_the_entry_is_due() {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = holding_a(&ca, t);
    let mut changed = entry("a", 1);
    changed.revision = 2;
    changed.dns_names = vec!["a.example".into()];
    h.absorb(answer(vec![changed], vec![], &[&ca.der]), vec![], t);
    assert_eq!(h.due(t + 100), vec!["a".to_owned()]);
    // Still served until replaced: the SPIFFE ID is the same.
    assert_eq!(h.snapshot(t + 100).identities.len(), 1);
}

#[test]
fn an_entry_removed_upstream_leaves_the_next_snapshot() {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = holding_a(&ca, t);
    h.absorb(answer(vec![entry("b", 2)], vec![], &[&ca.der]), vec![], t);
    let now = h.snapshot(t + 100);
    assert!(now.identities.is_empty());
    assert_eq!(h.due(t + 100), vec!["b".to_owned()]);
}

#[test]
fn an_entry_whose_spiffe_id_changed_is_not_served_the_old_one() {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = holding_a(&ca, t);
    let mut moved = entry("a", 1);
    moved.spiffe_id = "spiffe://example.org/elsewhere".into();
    moved.revision = 2;
    h.absorb(answer(vec![moved], vec![], &[&ca.der]), vec![], t);
    assert!(h.snapshot(t + 100).identities.is_empty());
}

/// One SVID for entry `a` that the holdings must refuse, and why.
fn refused(chain: impl FnOnce(&Ca, &Fresh, i64) -> Vec<Vec<u8>>, send_key: bool) -> Dropped {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = Holdings::new(TD);
    h.absorb(answer(vec![entry("a", 1)], vec![], &[&ca.der]), vec![], t);
    let fresh = Fresh::generate("a").unwrap();
    let chain = chain(&ca, &fresh, t);
    let keys = if send_key { vec![fresh] } else { vec![] };
    let dropped = h.absorb(
        answer(vec![entry("a", 1)], vec![("a", chain)], &[&ca.der]),
        keys,
        t,
    );
    assert!(
        h.snapshot(t + 100).identities.is_empty(),
        "nothing refused is served"
    );
    assert_eq!(h.due(t + 100), vec!["a".to_owned()], "asked for again");
    assert_eq!(dropped.len(), 1);
    dropped[0].1
}

#[test]
fn an_svid_for_another_key_is_dropped() {
    let why = refused(
        |ca, _, t| {
            let other = Fresh::generate("a").unwrap();
            vec![ca.leaf_at(&spki(&other), "spiffe://example.org/a", t, t + 4000)]
        },
        true,
    );
    assert_eq!(why, Dropped::KeyMismatch);
}

#[test]
fn an_svid_naming_another_spiffe_id_is_dropped() {
    let why = refused(
        |ca, fresh, t| vec![ca.leaf_at(&spki(fresh), "spiffe://example.org/b", t, t + 4000)],
        true,
    );
    assert_eq!(why, Dropped::WrongSpiffeId);
}

#[test]
fn an_svid_from_a_ca_outside_the_bundle_is_dropped() {
    let why = refused(
        |_, fresh, t| {
            let rogue = Ca::new("rogue");
            vec![rogue.leaf_at(&spki(fresh), "spiffe://example.org/a", t, t + 4000)]
        },
        true,
    );
    assert_eq!(why, Dropped::Untrusted);
}

#[test]
fn an_expired_svid_is_dropped() {
    let why = refused(
        |ca, fresh, t| vec![ca.leaf_at(&spki(fresh), "spiffe://example.org/a", t - 10_000, t)],
        true,
    );
    assert_eq!(why, Dropped::Untrusted);
}

#[test]
fn an_svid_not_asked_for_is_dropped() {
    let why = refused(
        |ca, fresh, t| vec![ca.leaf_at(&spki(fresh), "spiffe://example.org/a", t, t + 4000)],
        false,
    );
    assert_eq!(why, Dropped::NotRequested);
}

#[test]
fn malformed_chains_are_dropped() {
    assert_eq!(refused(|_, _, _| vec![], true), Dropped::Malformed);
    assert_eq!(
        refused(|_, _, _| vec![b"not der".to_vec()], true),
        Dropped::Malformed
    );
    let long = refused(
        |ca, fresh, t| {
            let leaf = ca.leaf_at(&spki(fresh), "spiffe://example.org/a", t, t + 4000);
            vec![leaf; 9]
        },
        true,
    );
    assert_eq!(long, Dropped::Malformed);
}

#[test]
fn an_svid_for_an_entry_not_listed_is_dropped() {
    let ca = Ca::new("ca");
    let t = t0();
    let mut h = Holdings::new(TD);
    let fresh = Fresh::generate("x").unwrap();
    let leaf = ca.leaf_at(&spki(&fresh), "spiffe://example.org/x", t, t + 4000);
    let dropped = h.absorb(
        answer(vec![entry("a", 1)], vec![("x", vec![leaf])], &[&ca.der]),
        vec![fresh],
        t,
    );
    assert_eq!(dropped, vec![("x".to_owned(), Dropped::UnknownEntry)]);
}

#[test]
fn endpoints_keep_the_base_path() {
    let at = |base: &str| {
        servers::endpoint(&url::Url::parse(base).unwrap(), "/workload/v1/sync")
            .unwrap()
            .to_string()
    };
    assert_eq!(
        at("https://a.example"),
        "https://a.example/workload/v1/sync"
    );
    assert_eq!(
        at("https://a.example/kb"),
        "https://a.example/kb/workload/v1/sync"
    );
    assert_eq!(
        at("https://a.example/kb/"),
        "https://a.example/kb/workload/v1/sync"
    );
}

// ---- the agent against the fake server -------------------------------

fn config(servers: &[&str], dir: &std::path::Path, attestation: Attestation) -> AgentConfig {
    AgentConfig {
        servers: servers
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
        data_dir: dir.to_path_buf(),
        attestation,
        sync_interval: Duration::from_secs(1),
    }
}

fn base(fake: &Shared) -> String {
    fake.lock().unwrap().base.clone()
}

fn token() -> Attestation {
    Attestation::JoinToken("tok".into())
}

#[tokio::test]
async fn a_join_token_attests_once_and_the_node_key_stays() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    assert_eq!(agent.node(), "n1");
    let mode = std::fs::metadata(dir.path().join(KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let bound = fake.lock().unwrap().bound.clone().unwrap();
    assert_eq!(Some(&bound), Some(agent.link().unwrap().key().public_jwk()));
    drop(agent);
    // Restarted with no token: the kept state and key are enough.
    let mut again = Agent::start(config(&[&base(&fake)], dir.path(), Attestation::None))
        .await
        .unwrap();
    assert_eq!(again.link().unwrap().key().public_jwk(), &bound);
    again.sync().await.unwrap();
    assert_eq!(fake.lock().unwrap().refused_proofs, 0);
}

#[tokio::test]
async fn a_spent_token_is_refused_and_no_token_is_no_start() {
    let fake = fake::start(vec![]).await;
    let first = tempfile::tempdir().unwrap();
    Agent::start(config(&[&base(&fake)], first.path(), token()))
        .await
        .unwrap();
    let second = tempfile::tempdir().unwrap();
    let err = Agent::start(config(&[&base(&fake)], second.path(), token()))
        .await
        .unwrap_err();
    assert!(err.contains("401"), "{err}");
    assert!(Attested::load(second.path()).unwrap().is_none());
    let third = tempfile::tempdir().unwrap();
    let err = Agent::start(config(&[&base(&fake)], third.path(), Attestation::None))
        .await
        .unwrap_err();
    assert!(err.contains("not attested"), "{err}");
}

#[tokio::test]
async fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    NodeKey::load_or_create(dir.path()).unwrap();
    let path = dir.path().join(KEY_FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = NodeKey::load_or_create(dir.path()).unwrap_err();
    assert!(err.contains("readable by others"), "{err}");
}

#[tokio::test]
async fn one_turn_issues_every_entry_and_publishes_once() {
    let fake = fake::start(vec![entry("a", 1), entry("b", 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    let mut snapshots = agent.snapshots();
    agent.turn().await;
    assert!(snapshots.has_changed().unwrap());
    let snap = snapshots.borrow_and_update().clone();
    let ids: Vec<&str> = snap
        .identities
        .iter()
        .map(|i| i.entry.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_ne!(snap.identities[0].key_pkcs8, snap.identities[1].key_pkcs8);
    {
        let f = fake.lock().unwrap();
        assert_eq!((f.syncs, f.issued, f.refused_proofs), (2, 2, 0));
    }
    // Nothing changed upstream: no new SVIDs, no new snapshot.
    agent.turn().await;
    assert!(!snapshots.has_changed().unwrap());
    assert_eq!(fake.lock().unwrap().issued, 2);
}

#[tokio::test]
async fn the_agent_fails_over_and_back() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    // A port nothing listens on, first.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&dead, &base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    agent.turn().await;
    assert_eq!(agent.snapshots().borrow().identities.len(), 1);
    assert_eq!(
        fake.lock().unwrap().refused_proofs,
        0,
        "the proof names the URL used"
    );
}

#[tokio::test]
async fn servers_down_keep_the_last_svids_until_they_expire() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    fake.lock().unwrap().ttl_s = 2;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    agent.turn().await;
    let snapshots = agent.snapshots();
    let expires = snapshots.borrow().identities[0].expires_at_ms;
    fake.lock().unwrap().mode = Mode::Down;
    agent.turn().await;
    assert_eq!(snapshots.borrow().identities.len(), 1, "kept while down");
    let left = u64::try_from(expires - unix_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(left + 50)).await;
    agent.turn().await;
    assert!(
        snapshots.borrow().identities.is_empty(),
        "dropped at expiry"
    );
    // The servers come back: everything is issued again.
    fake.lock().unwrap().mode = Mode::Serve;
    agent.turn().await;
    assert_eq!(snapshots.borrow().identities.len(), 1);
}

#[tokio::test]
async fn a_refused_node_serves_nothing() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    agent.turn().await;
    assert_eq!(agent.snapshots().borrow().identities.len(), 1);
    fake.lock().unwrap().mode = Mode::Refuse;
    agent.turn().await;
    assert!(agent.snapshots().borrow().identities.is_empty());
}

#[tokio::test]
async fn a_jwt_svid_is_fetched_with_a_proof() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    let jwt = agent
        .link()
        .unwrap()
        .jwt_svid("a", vec!["aud".into()])
        .await
        .unwrap();
    assert_eq!(jwt.token, "a.b.c");
    // Each call signs a new proof: two calls, two jtis, no refusal.
    agent
        .link()
        .unwrap()
        .jwt_svid("a", vec!["aud".into()])
        .await
        .unwrap();
    assert_eq!(fake.lock().unwrap().jtis.len(), 2);
}

#[tokio::test]
async fn a_ca_rotation_reissues_at_retirement_with_no_gap() {
    let fake = fake::start(vec![entry("a", 1)]).await;
    fake.lock().unwrap().ttl_s = 60;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&base(&fake)], dir.path(), token()))
        .await
        .unwrap();
    let snapshots = agent.snapshots();
    agent.turn().await;
    let first = snapshots.borrow().identities[0].chain.clone();
    // Prepare and activate: the old authority is still in the bundle, the
    // SVID still good: nothing is reissued.
    fake.lock().unwrap().prepare();
    agent.turn().await;
    fake.lock().unwrap().activate();
    agent.turn().await;
    assert_eq!(snapshots.borrow().identities[0].chain, first);
    assert_eq!(
        snapshots
            .borrow()
            .bundle
            .as_ref()
            .unwrap()
            .x509_authorities
            .len(),
        2
    );
    // Retire: the old authority leaves the bundle; the same sync round
    // asks again and the snapshot never lacks the identity.
    fake.lock().unwrap().retire();
    agent.turn().await;
    let now = snapshots.borrow().clone();
    assert_eq!(now.identities.len(), 1);
    assert_ne!(
        now.identities[0].chain, first,
        "reissued under the new authority"
    );
    assert_eq!(fake.lock().unwrap().issued, 2);
}

#[tokio::test]
async fn every_server_down_but_one_still_syncs() {
    let fake = fake::start_many(vec![entry("a", 1)], 2).await;
    let bases = fake.lock().unwrap().bases.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(config(&[&bases[0], &bases[1]], dir.path(), token()))
        .await
        .unwrap();
    agent.turn().await;
    fake.lock().unwrap().down.insert(0);
    fake.lock().unwrap().ttl_s = 1;
    let syncs = fake.lock().unwrap().syncs;
    agent.turn().await;
    assert!(
        fake.lock().unwrap().syncs > syncs,
        "the second server answered"
    );
    assert_eq!(agent.snapshots().borrow().identities.len(), 1);
}
