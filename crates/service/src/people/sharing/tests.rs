//! The merge logic with time passed in, then two services on one database
//! (SQLite here; the same on PostgreSQL in tests/it/shared_limits.rs):
//! what one node spends the other charges, and an alert fires once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::alerts::Detectors;
use crate::rate_limit::buckets::{Admission, Buckets};
use crate::{ClientContext, Clock, Config};

const T0: i64 = 1_800_000_000_000;

#[test]
fn growth_charges_what_is_new_and_a_repeated_read_charges_nothing() {
    let s = Sharing::new("a".into());
    let w = window_of(T0);
    assert_eq!(s.growth("src 1.2.3.4", w, "b", 5, T0), 5);
    assert_eq!(s.growth("src 1.2.3.4", w, "b", 5, T0), 0, "read twice");
    assert_eq!(s.growth("src 1.2.3.4", w, "b", 8, T0), 3);
    assert_eq!(s.growth("src 1.2.3.4", w, "b", 6, T0), -2, "a refund");
    assert_eq!(s.growth("src 1.2.3.4", w, "c", 4, T0), 4, "per node");
    assert_eq!(
        s.growth(
            "src 1.2.3.4",
            w + USAGE_WINDOW_MS,
            "b",
            1,
            T0 + USAGE_WINDOW_MS
        ),
        1,
        "a new window starts at zero"
    );
    let late = T0 + 3 * USAGE_WINDOW_MS;
    assert_eq!(s.growth("src 1.2.3.4", w, "b", 50, late), 0, "too old");
    s.forget_old(late);
    assert!(s.lock().charged.is_empty());
}

#[test]
fn the_first_read_looks_back_a_slack_then_each_read_overlaps_the_last() {
    let s = Sharing::new("a".into());
    assert_eq!(s.since(false, USAGE_SLACK_MS, T0), T0 - USAGE_SLACK_MS);
    assert_eq!(
        s.since(false, USAGE_SLACK_MS, T0 + 250),
        T0 - USAGE_SLACK_MS
    );
    assert_eq!(s.since(true, 600_000, T0), T0 - 600_000);
    assert_eq!(s.since(true, 600_000, T0 + 250), T0 - OBSERVATION_SLACK_MS);
}

#[test]
fn spent_tokens_are_kept_only_when_sharing_and_net_of_refunds() {
    let b = Buckets::default();
    assert_eq!(b.take("src x", 10, T0), Admission::Admitted);
    assert!(b.take_spent().is_empty(), "not sharing");
    b.share(true);
    for _ in 0..3 {
        assert_eq!(b.take("src x", 10, T0), Admission::Admitted);
    }
    b.adjust("src x", 10, T0, 1.0);
    b.adjust("src y", 10, T0, -1.0);
    let _ = b.queue("id n", 1, 1000, T0);
    let _ = b.queue("id n", 1, 1000, T0);
    let mut spent = b.take_spent();
    spent.sort();
    assert_eq!(
        spent,
        [
            ("id n".to_owned(), 2),
            ("src x".to_owned(), 2),
            ("src y".to_owned(), 1)
        ]
    );
    assert!(b.take_spent().is_empty(), "taken once");
    b.restore_spent(spent);
    assert_eq!(b.take_spent().len(), 3, "a failed flush keeps them");
}

/// Two nodes' buckets, each admitting half of a source's requests: with
/// the other's spend charged, together they admit about one budget.
#[test]
fn charging_the_other_nodes_spend_holds_a_spread_source_to_its_budget() {
    let (a, b) = (Buckets::default(), Buckets::default());
    a.share(true);
    b.share(true);
    let budget = 20;
    let mut admitted = 0;
    for i in 0..100 {
        let node = if i % 2 == 0 { &a } else { &b };
        if node.take("src x", budget, T0) == Admission::Admitted {
            admitted += 1;
        }
        // A flush every four requests (two per node).
        if i % 4 == 3 {
            let (from_a, from_b) = (a.take_spent(), b.take_spent());
            for (key, n) in from_a {
                b.charge_remote(&key, budget, T0, n);
            }
            for (key, n) in from_b {
                a.charge_remote(&key, budget, T0, n);
            }
        }
    }
    // At most one flush interval's requests (two per node) over budget.
    assert!(admitted <= budget + 2, "{admitted}");
    assert!(admitted >= budget, "{admitted}");
    // A refund from the other node gives the token back here too.
    a.charge_remote("src x", budget, T0, -1);
    assert!(a.tokens("src x", budget, T0) >= 0.0);
}

#[test]
fn remote_charges_are_bounded_and_make_buckets_for_unknown_sources() {
    let b = Buckets::default();
    b.charge_remote("src new", 10, T0, 1_000);
    assert_eq!(
        b.tokens("src new", 10, T0),
        -10.0,
        "at most a minute of debt"
    );
    assert!(matches!(
        b.take("src new", 10, T0),
        Admission::Refused { .. }
    ));
    b.charge_remote("src other", 0, T0, 5);
    assert_eq!(b.len(), 1, "a limit of 0 charges nothing");
}

#[test]
fn merged_observations_fire_once_and_a_repeated_row_counts_once() {
    let rule = Rule {
        distinct: false,
        threshold: 4,
        window_ms: 600_000,
    };
    let (a, b) = (Detectors::new([7; 32], true), Detectors::new([7; 32], true));
    for (i, d) in [&a, &b, &a].into_iter().enumerate() {
        let fired = d.observe(
            "registrations",
            "1.2.3.4",
            &format!("p{i}"),
            false,
            4,
            600_000,
            T0,
        );
        assert!(fired.is_none(), "three in all, two on a");
    }
    let from_a = a.take_outbox();
    assert_eq!(from_a.len(), 2);
    let mut raised = Vec::new();
    for _ in 0..2 {
        for o in &from_a {
            raised.extend(b.merge(
                "a",
                o.seq,
                o.detector,
                &o.source,
                o.target,
                o.time_ms,
                rule,
                T0 + 1,
            ));
        }
    }
    assert!(raised.is_empty(), "3 events, each of a's once: {raised:?}");
    let alert = b.observe("registrations", "1.2.3.4", "p3", false, 4, 600_000, T0 + 2);
    assert!(
        alert.is_some(),
        "the fourth, on b, fires on the merged window"
    );
    // a learns b's two: its window reaches four too, and raises the alert
    // the claim across nodes will refuse (b fired it).
    let from_b = b.take_outbox();
    let raised: Vec<Raised> = from_b
        .iter()
        .filter_map(|o| {
            a.merge(
                "b",
                o.seq,
                o.detector,
                &o.source,
                o.target,
                o.time_ms,
                rule,
                T0 + 3,
            )
        })
        .collect();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].detector, "registrations");
    assert_eq!(raised[0].source, "1.2.3.4");
    // Observations older than the window are not merged.
    assert!(b
        .merge(
            "c",
            1,
            "registrations",
            "5.6.7.8",
            1,
            T0 - 600_000,
            rule,
            T0
        )
        .is_none());
}

#[test]
fn distinct_targets_from_two_nodes_count_once_with_the_shared_key() {
    let rule = Rule {
        distinct: true,
        threshold: 3,
        window_ms: 600_000,
    };
    let (a, b) = (Detectors::new([1; 32], true), Detectors::new([1; 32], true));
    let _ = a.observe("failures_across_accounts", "s", "ada", true, 3, 600_000, T0);
    let _ = a.observe("failures_across_accounts", "s", "bob", true, 3, 600_000, T0);
    let _ = b.observe("failures_across_accounts", "s", "ada", true, 3, 600_000, T0);
    let fired: Vec<Raised> = a
        .take_outbox()
        .iter()
        .filter_map(|o| {
            b.merge(
                "a", o.seq, o.detector, &o.source, o.target, o.time_ms, rule, T0,
            )
        })
        .collect();
    assert!(fired.is_empty(), "ada on both nodes is one account");
    let fired = b
        .merge("c", 9, "failures_across_accounts", "s", 42, T0, rule, T0)
        .expect("a third account");
    assert_eq!(fired.event.kind, "alert.failures_across_accounts");
}

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A node on the database at `url`, sharing its limits; `seed` names it.
async fn node(url: &str, clock: Arc<FakeClock>, seed: u64) -> Service {
    let mut config = Config::new(
        "kb.test",
        OriginPolicy::exact(["https://kb.test"]).unwrap(),
        [3; 32],
    );
    config.shared_limits = true;
    config.rate_limits.per_source = 10;
    config.alerts.registrations = 4;
    Service::new(
        Store::open(url).await.unwrap(),
        config,
        clock,
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
    )
}

fn from(ip: &str) -> ClientContext {
    ClientContext {
        ip: Some(ip.into()),
        ..ClientContext::default()
    }
}

/// Both halves of the design through the store: a source that spent its
/// budget on `a` is refused by `b` after one round of sharing, and a
/// registration burst split across them raises one alert. Shared with
/// tests on PostgreSQL.
async fn two_nodes_share(url: &str) {
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let a = node(url, clock.clone(), 1).await;
    let b = node(url, clock.clone(), 2).await;
    assert_ne!(a.people.sharing.node, b.people.sharing.node);
    let x = from("192.0.2.7");
    for _ in 0..10 {
        a.admit(&x, None).await.unwrap();
    }
    assert!(a.admit(&x, None).await.is_err(), "a's budget is spent");
    b.admit(&x, None).await.unwrap();
    let shared = a.share_limits().await.unwrap();
    assert_eq!(shared.usage_written, 1);
    clock.0.fetch_add(250, Ordering::SeqCst);
    let shared = b.share_limits().await.unwrap();
    assert_eq!(shared.usage_read, 1, "{shared:?}");
    assert!(
        matches!(
            b.admit(&x, None).await,
            Err(ServiceError::RateLimited { .. })
        ),
        "b charged a's ten"
    );
    // b's one comes back to a; a second round charges nothing new.
    a.share_limits().await.unwrap();
    b.share_limits().await.unwrap();
    assert!(
        a.people
            .limiter
            .buckets
            .tokens("src 192.0.2.7", 10, clock.now_ms())
            < 0.0
    );

    // Registrations: two on each node, threshold four.
    let now = clock.now_ms();
    for (node, name) in [(&a, "r1"), (&b, "r2"), (&a, "r3"), (&b, "r4")] {
        let alert = node.people.detectors.observe(
            "registrations",
            "198.51.100.9",
            name,
            false,
            4,
            600_000,
            now,
        );
        assert!(alert.is_none(), "two per node stay under four");
    }
    assert_eq!(a.share_limits().await.unwrap().alerts, 0, "a knows of two");
    assert_eq!(
        b.share_limits().await.unwrap().alerts,
        1,
        "b merges a's two"
    );
    assert_eq!(
        a.share_limits().await.unwrap().alerts,
        0,
        "b fired it already"
    );
    let alerts: Vec<_> = a
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "alert.registrations")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].event.ip.as_deref(), Some("198.51.100.9"));

    // The purge removes rows once their windows have passed.
    clock.0.fetch_add(30 * 60_000, Ordering::SeqCst);
    assert!(a.purge_expired().await.unwrap() >= 4);
}

#[tokio::test]
async fn two_nodes_on_one_sqlite_file_share_a_budget_and_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    two_nodes_share(&format!("sqlite://{}", dir.path().join("kb.db").display())).await;
}

#[tokio::test]
async fn two_nodes_on_postgres_share_a_budget_and_fire_once() {
    let Some(pg) = keybound_testdb::shared("two nodes share limits") else {
        return;
    };
    two_nodes_share(&pg.fresh_database()).await;
}

#[tokio::test]
async fn without_sharing_a_node_writes_nothing_and_claims_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let mut config = Config::new(
        "kb.test",
        OriginPolicy::exact(["https://kb.test"]).unwrap(),
        [3; 32],
    );
    config.rate_limits.per_source = 10;
    let a = Service::new(
        Store::open(&url).await.unwrap(),
        config,
        clock,
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    );
    a.admit(&from("192.0.2.7"), None).await.unwrap();
    assert_eq!(a.share_limits().await.unwrap(), Shared::default());
    assert!(a.people.limiter.buckets.take_spent().is_empty());
}
