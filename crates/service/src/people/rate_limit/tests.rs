use super::buckets::{Admission, Buckets, Delay, MAX_BUCKETS};
use super::identity_key;
use super::pending::{Bounds, Checked, Pending, Verdict, FAIR_FLOOR};
use super::source::bucket_of;

#[test]
fn a_bucket_empties_and_refills_at_its_rate() {
    let l = Buckets::default();
    for _ in 0..6 {
        assert_eq!(l.take("a", 6, 0), Admission::Admitted);
    }
    assert_eq!(
        l.take("a", 6, 0),
        Admission::Refused {
            retry_after_s: 10,
            first: true
        }
    );
    assert!(matches!(
        l.take("a", 6, 0),
        Admission::Refused { first: false, .. }
    ));
    assert_eq!(
        l.take("b", 6, 0),
        Admission::Admitted,
        "buckets are separate"
    );
    assert_eq!(
        l.take("a", 6, 10_000),
        Admission::Admitted,
        "one token per 10 s"
    );
    assert!(matches!(
        l.take("a", 6, 10_001),
        Admission::Refused { first: true, .. }
    ));
    assert_eq!(l.take("a", 0, 0), Admission::Admitted, "0 is off");
}

#[test]
fn peek_leaves_the_token_and_adjust_charges_or_refunds_within_bounds() {
    let l = Buckets::default();
    assert_eq!(l.peek("a", 2, 0), Admission::Admitted);
    assert_eq!(l.peek("a", 2, 0), Admission::Admitted, "peeking is free");
    l.adjust("a", 2, 0, -1.0);
    l.adjust("a", 2, 0, -1.0);
    assert!(matches!(l.peek("a", 2, 0), Admission::Refused { .. }));
    // Debt is bounded by one minute's worth, refunds by a full bucket.
    for _ in 0..100 {
        l.adjust("a", 2, 0, -1.0);
    }
    assert!(matches!(l.peek("a", 2, 89_999), Admission::Refused { .. }));
    assert_eq!(l.peek("a", 2, 90_000), Admission::Admitted);
    for _ in 0..100 {
        l.adjust("b", 2, 0, 1.0);
    }
    assert_eq!(l.take("b", 2, 0), Admission::Admitted);
    assert_eq!(l.take("b", 2, 0), Admission::Admitted);
    assert!(matches!(l.take("b", 2, 0), Admission::Refused { .. }));
}

#[test]
fn a_queue_spaces_requests_and_never_waits_longer_than_its_bound() {
    let l = Buckets::default();
    // 60 a minute: one a second once the two... sixty tokens are gone.
    for _ in 0..60 {
        assert_eq!(l.queue("x", 60, 5000, 0).wait_ms, 0);
    }
    assert_eq!(
        l.queue("x", 60, 5000, 0),
        Delay {
            wait_ms: 1000,
            first: true
        }
    );
    assert_eq!(l.queue("x", 60, 5000, 0).wait_ms, 2000);
    let waits: Vec<u64> = (0..10).map(|_| l.queue("x", 60, 5000, 0).wait_ms).collect();
    assert!(waits.iter().all(|w| *w <= 5000), "{waits:?}");
    assert_eq!(*waits.last().unwrap(), 5000);
    assert!(!l.queue("x", 60, 5000, 0).first, "one audit per burst");
    // The debt is at most the bound: 6 s after the flood it is gone.
    assert_eq!(l.queue("x", 60, 5000, 6000).wait_ms, 0);
    assert_eq!(l.queue("x", 0, 5000, 0).wait_ms, 0, "0 is off");
}

#[test]
fn the_bucket_map_is_bounded_and_newcomers_share_the_overflow() {
    let l = Buckets::default();
    for i in 0..MAX_BUCKETS {
        assert_eq!(l.take(&format!("k{i}"), 1, 0), Admission::Admitted);
    }
    assert_eq!(l.len(), MAX_BUCKETS);
    // Every bucket is in use: the next two newcomers share one.
    assert_eq!(l.take("new1", 1, 0), Admission::Admitted);
    assert!(matches!(l.take("new2", 1, 0), Admission::Refused { .. }));
    assert_eq!(l.len(), MAX_BUCKETS + 1);
    // Refilled buckets are forgotten to make room.
    assert_eq!(l.take("new3", 1, 60_000), Admission::Admitted);
    assert!(l.len() <= 3, "{}", l.len());
}

#[test]
fn addresses_bucket_by_person_not_by_spelling() {
    assert_eq!(bucket_of(Some("192.0.2.1")), "192.0.2.1");
    assert_eq!(bucket_of(Some("::ffff:192.0.2.1")), "192.0.2.1");
    assert_eq!(bucket_of(Some("2001:db8:1:2::1")), "2001:db8:1:2::/64");
    assert_eq!(
        bucket_of(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")),
        "2001:db8:1:2::/64"
    );
    assert_ne!(bucket_of(Some("2001:db8:1:3::1")), "2001:db8:1:2::/64");
    assert_eq!(bucket_of(Some("not an address")), "unknown");
    assert_eq!(bucket_of(None), "unknown");
    assert_eq!(identity_key("Ada "), identity_key("ada"));
    assert_eq!(identity_key(&"x".repeat(100_000)).len(), 46);
}

fn reserved(v: Verdict) -> u64 {
    match v {
        Verdict::Reserved(id) => id,
        refused => unreachable!("{refused:?}"),
    }
}

#[test]
fn pending_challenges_are_bounded_per_source_and_freed_when_answered() {
    let p = Pending::default();
    let bounds = Bounds {
        per_source: 2,
        total: 0,
    };
    let a = reserved(p.reserve("s", bounds, 1000, 0));
    p.issued("s", a, vec![1]);
    let b = reserved(p.reserve("s", bounds, 1000, 0));
    p.abandoned("s", b);
    let b = reserved(p.reserve("s", bounds, 1000, 0));
    p.issued("s", b, vec![2]);
    assert_eq!(
        p.reserve("s", bounds, 1000, 10),
        Verdict::Refused {
            retry_after_s: 1,
            first: true
        }
    );
    assert!(matches!(
        p.reserve("t", bounds, 1000, 10),
        Verdict::Reserved(_)
    ));
    // The store says challenge 1 was answered: its slot is free.
    let q = p.questions("s", bounds, 20);
    let asked = q.outstanding.unwrap();
    assert_eq!(asked, vec![vec![1], vec![2]]);
    p.answers(
        "s",
        Some(Checked {
            asked: &asked,
            live: &[vec![2]],
        }),
        None,
        bounds,
        20,
    );
    assert!(matches!(
        p.reserve("s", bounds, 1000, 20),
        Verdict::Reserved(_)
    ));
    // Expired ones free theirs too.
    assert!(matches!(
        p.reserve("s", bounds, 2000, 1000),
        Verdict::Reserved(_)
    ));
}

#[test]
fn over_the_total_only_the_sources_holding_the_most_are_refused() {
    let p = Pending::default();
    let bounds = Bounds {
        per_source: 1000,
        total: 100,
    };
    p.answers("", None, Some(0), bounds, 0);
    for _ in 0..100 {
        assert!(matches!(
            p.reserve("flood", bounds, 1000, 0),
            Verdict::Reserved(_)
        ));
    }
    assert!(matches!(
        p.reserve("flood", bounds, 1000, 0),
        Verdict::Refused { .. }
    ));
    // Someone else still gets theirs, up to the fair share.
    for _ in 0..FAIR_FLOOR {
        assert!(matches!(
            p.reserve("ada", bounds, 1000, 0),
            Verdict::Reserved(_)
        ));
    }
    // Two holders: a fair share is 50; ada is under it.
    for _ in FAIR_FLOOR..50 {
        assert!(matches!(
            p.reserve("ada", bounds, 1000, 0),
            Verdict::Reserved(_)
        ));
    }
    // Twice the total: everyone is refused.
    assert!(matches!(
        p.reserve("bob", bounds, 1000, 0),
        Verdict::Reserved(_)
    ));
    for i in 0..49 {
        let _ = p.reserve(&format!("c{i}"), bounds, 1000, 0);
    }
    assert!(matches!(
        p.reserve("dan", bounds, 1000, 0),
        Verdict::Refused { .. }
    ));
}

#[test]
fn concurrent_refreshes_do_not_stop_a_full_source_from_being_refreshed() {
    // Many requests at a full source ask the store at once; the later
    // answers free nothing the first did not. That is no reason to stop
    // asking (a busy NAT refills 512 slots in well under a second).
    let p = Pending::default();
    let bounds = Bounds {
        per_source: 2,
        total: 0,
    };
    let fill = |hashes: [u8; 2]| {
        for h in hashes {
            let id = reserved(p.reserve("s", bounds, 10_000, 0));
            p.issued("s", id, vec![h]);
        }
    };
    fill([1, 2]);
    let first = p.questions("s", bounds, 0).outstanding.unwrap();
    let second = p.questions("s", bounds, 0).outstanding.unwrap();
    for asked in [&first, &second] {
        p.answers("s", Some(Checked { asked, live: &[] }), None, bounds, 0);
    }
    fill([3, 4]);
    assert!(
        p.questions("s", bounds, 10).outstanding.is_some(),
        "still worth asking"
    );
    // A refresh that leaves the source full is not repeated for a second.
    let asked = p.questions("s", bounds, 10).outstanding.unwrap();
    p.answers(
        "s",
        Some(Checked {
            asked: &asked,
            live: &asked,
        }),
        None,
        bounds,
        10,
    );
    assert!(p.questions("s", bounds, 20).outstanding.is_none());
    assert!(p.questions("s", bounds, 1010).outstanding.is_some());
}

#[test]
fn memory_follows_the_challenges_not_the_addresses_asking() {
    let p = Pending::default();
    let bounds = Bounds {
        per_source: 10,
        total: 100,
    };
    // At twice the total everyone is refused, audited once for all, and
    // no address gets an entry.
    p.answers("", None, Some(200), bounds, 0);
    let firsts = (0..5000)
        .filter(|i| {
            matches!(
                p.reserve(&format!("a{i}"), bounds, 1000, 0),
                Verdict::Refused { first: true, .. }
            )
        })
        .count();
    assert_eq!(firsts, 1);
    assert_eq!(p.sources(), 0);
    // Entries of addresses whose challenges expired are swept.
    let p = Pending::default();
    let bounds = Bounds {
        per_source: 10,
        total: 0,
    };
    for i in 0..2000 {
        reserved(p.reserve(&format!("b{i}"), bounds, 1000, 0));
    }
    assert_eq!(p.sources(), 2000);
    for _ in 0..2048 {
        let _ = p.reserve("c", bounds, 5000, 2000);
    }
    assert!(p.sources() <= 1, "{}", p.sources());
}
