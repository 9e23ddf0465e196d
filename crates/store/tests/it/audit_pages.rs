//! The audit log read in pages (issue 12, item 14): the console's filtered
//! pages, newest first with a cursor, agree with filtering the whole chain
//! in memory; the chain reads in sequence order a page at a time, as it
//! stood when reading began.

use keybound_audit::{AuditEvent, ChainVerifier, NewEvent, Outcome};
use keybound_store::*;

use super::Db;

on_both_backends!(
    audit_pages_filter_newest_first_and_page_back,
    the_chain_reads_in_pages_as_it_stood,
);

/// Kinds, subjects and actors that probe prefix and equality edges.
const KINDS: [&str; 8] = [
    "admin.invite",
    "admin",
    "administrator",
    "recovery.request",
    "recoveryx",
    "alert.recovery_requests",
    "a%_",
    "\u{10FFFF}x",
];
const PEOPLE: [Option<&str>; 4] = [Some("ada"), Some("bob"), None, Some("ada ")];

fn event(i: usize) -> NewEvent {
    NewEvent {
        time_ms: 1_000 + i as i64 * 10,
        kind: KINDS[i % KINDS.len()].to_owned(),
        subject: PEOPLE[i % PEOPLE.len()].map(str::to_owned),
        actor: PEOPLE[(i / 3) % PEOPLE.len()].map(str::to_owned),
        outcome: [
            Some(Outcome::Success),
            Some(Outcome::Failure),
            Some(Outcome::Alert),
            None,
        ][i % 4],
        ..NewEvent::default()
    }
}

async fn append(store: &Store, events: impl IntoIterator<Item = NewEvent>) {
    let mut tx = store.begin().await.unwrap();
    for e in events {
        tx.append_audit(e).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// What the query means, over the whole chain in memory.
fn expected(all: &[AuditEvent], q: &AuditQuery) -> Vec<u64> {
    let e = |a: &&AuditEvent| {
        let e = &a.event;
        q.identity
            .as_deref()
            .is_none_or(|who| e.subject.as_deref() == Some(who) || e.actor.as_deref() == Some(who))
            && q.kind_prefix
                .as_deref()
                .is_none_or(|k| e.kind.starts_with(k))
            && q.outcome.is_none_or(|o| e.outcome == Some(o))
            && q.since_ms.is_none_or(|t| e.time_ms >= t)
            && q.before_seq.is_none_or(|s| a.seq < s)
    };
    all.iter()
        .rev()
        .filter(e)
        .take(q.limit.clamp(1, MAX_AUDIT_PAGE))
        .map(|a| a.seq)
        .collect()
}

async fn page(store: &Store, q: &AuditQuery) -> Vec<u64> {
    store
        .audit_page(q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect()
}

async fn audit_pages_filter_newest_first_and_page_back(db: &Db) {
    let store = db.open().await;
    append(&store, (0..61).map(event)).await;
    let all = store.audit_events().await.unwrap();
    assert_eq!(all.len(), 61);

    let text = |s: &str| Some(s.to_owned());
    let mut queries = vec![AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    }];
    for who in [text("ada"), text("bob"), text("ada "), text("nobody"), None] {
        for kind in [
            None,
            text("admin"),
            text("admin."),
            text("recovery."),
            text("recovery"),
            text("alert."),
            text("a%"),
            text("a_"),
            text("\u{10FFFF}"),
            text(""),
        ] {
            for outcome in [None, Some(Outcome::Alert), Some(Outcome::Success)] {
                for since_ms in [None, Some(1_300)] {
                    queries.push(AuditQuery {
                        identity: who.clone(),
                        kind_prefix: kind.clone(),
                        outcome,
                        since_ms,
                        before_seq: None,
                        limit: 7,
                    });
                }
            }
        }
    }
    for q in &queries {
        // Page back through every match with the cursor.
        let mut q = q.clone();
        let mut seen = Vec::new();
        loop {
            let got = page(&store, &q).await;
            assert_eq!(got, expected(&all, &q), "{q:?}");
            assert!(got.len() <= q.limit);
            match got.last() {
                Some(&last) if got.len() == q.limit => q.before_seq = Some(last),
                _ => {
                    seen.extend(got);
                    break;
                }
            }
            seen.extend(got);
        }
        let every = expected(
            &all,
            &AuditQuery {
                before_seq: None,
                limit: 1000,
                ..q.clone()
            },
        );
        assert_eq!(seen, every, "{q:?}");
    }

    // Hostile filters: no error, no match, nothing but a page.
    for nasty in ["\0", "ada\0", "%", "_", "'; DROP TABLE audit_events; --"] {
        let q = AuditQuery {
            identity: Some(nasty.to_owned()),
            kind_prefix: Some(nasty.to_owned()),
            limit: 5,
            ..AuditQuery::default()
        };
        assert!(page(&store, &q).await.is_empty(), "{nasty:?}");
    }
    let huge = AuditQuery {
        identity: Some("a".repeat(100_000)),
        limit: 5,
        ..AuditQuery::default()
    };
    assert!(page(&store, &huge).await.is_empty());
    let extremes = [
        (0, Some(u64::MAX), 1),
        (usize::MAX, None, 61),
        (3, Some(0), 0),
        (3, Some(1), 0),
        (3, Some(2), 1),
    ];
    for (limit, before_seq, count) in extremes {
        let q = AuditQuery {
            limit,
            before_seq,
            since_ms: Some(i64::MIN),
            ..AuditQuery::default()
        };
        assert_eq!(page(&store, &q).await.len(), count, "{q:?}");
    }
    assert_eq!(store.audit_events().await.unwrap().len(), 61);
}

async fn the_chain_reads_in_pages_as_it_stood(db: &Db) {
    let store = db.open().await;
    let empty = store.audit_chain(10).await.unwrap();
    assert!(empty.is_empty());

    append(&store, (0..25).map(event)).await;
    let mut chain = store.audit_chain(7).await.unwrap();
    assert_eq!(chain.len(), 25);
    // Written while the chain is read: not part of this reading.
    append(&store, (25..30).map(event)).await;
    let mut verifier = ChainVerifier::new();
    let mut sizes = Vec::new();
    loop {
        let page = chain.next_page().await.unwrap();
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        for e in &page {
            verifier.push(e).unwrap();
        }
    }
    assert_eq!(sizes, [7, 7, 7, 4]);
    assert_eq!(verifier.verified(), 25);
    assert!(chain.next_page().await.unwrap().is_empty(), "stays done");

    // A page size beyond the cap is the cap; the whole chain now.
    let mut chain = store.audit_chain(usize::MAX).await.unwrap();
    assert_eq!(chain.next_page().await.unwrap().len(), 30);
    assert!(chain.next_page().await.unwrap().is_empty());
}
