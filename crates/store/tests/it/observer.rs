//! The commit observer hears of audit events only once they are durable:
//! a transaction dropped (rolled back) is never reported, a committed
//! one is, in chain order, and a transaction that appended nothing says
//! nothing. A committed one is reported even when its caller went away
//! while waiting for the batch (a client that disconnected).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use keybound_audit::{AuditEvent, NewEvent};
use keybound_store::*;

use super::Db;

on_both_backends!(
    only_committed_events_are_observed,
    a_caller_dropped_after_its_work_joined_the_batch_is_still_observed,
);

#[derive(Default)]
struct Heard(Mutex<Vec<Vec<String>>>);

impl CommitObserver for Heard {
    fn committed(&self, events: &[AuditEvent]) {
        self.0
            .lock()
            .unwrap()
            .push(events.iter().map(|e| e.event.kind.clone()).collect());
    }
}

fn event(kind: &str) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        ..NewEvent::default()
    }
}

async fn only_committed_events_are_observed(db: &Db) {
    let store = db.open().await;
    let heard = Arc::new(Heard::default());
    store.observe(heard.clone());

    let mut dropped = store.begin().await.unwrap();
    dropped.append_audit(event("rolled.back")).await.unwrap();
    drop(dropped);

    let mut tx = store.begin().await.unwrap();
    tx.append_audit(event("first")).await.unwrap();
    tx.append_audit(event("second")).await.unwrap();
    tx.commit().await.unwrap();

    let quiet = store.begin().await.unwrap();
    quiet.commit().await.unwrap();

    let heard = heard.0.lock().unwrap().clone();
    assert_eq!(heard, vec![vec!["first".to_owned(), "second".to_owned()]]);
    let kinds: Vec<String> = store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind)
        .collect();
    assert!(!kinds.contains(&"rolled.back".to_owned()), "{kinds:?}");
}

/// The HTTP server drops a handler whose client disconnected: here the
/// commit future is dropped once its work is in the batch but before the
/// batch committed. Deterministically so: a second transaction queued on
/// the writer before the commit gets the writer as the commit releases
/// its savepoint into the batch, and holds it, so the batch cannot commit
/// until the commit future is gone.
async fn a_caller_dropped_after_its_work_joined_the_batch_is_still_observed(db: &Db) {
    let store = db.open().await;
    let heard = Arc::new(Heard::default());
    store.observe(heard.clone());
    // Whatever opening left for the flusher is done before the race.
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.commit_stats().await;

    let mut tx = store.begin().await.unwrap();
    tx.append_audit(event("caller.gone")).await.unwrap();
    let (holding, held) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    let other = store.clone();
    let blocker = tokio::spawn(async move {
        let quiet = other.begin().await.unwrap();
        holding.send(()).unwrap();
        released.await.unwrap();
        quiet.commit().await.unwrap();
    });
    // The blocker is now waiting for the writer (ahead of the flusher).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    {
        let commit = tx.commit();
        tokio::pin!(commit);
        tokio::select! {
            biased;
            done = &mut commit => panic!("committed while the writer was held: {done:?}"),
            got = held => got.unwrap(),
        }
        // Dropped here: its work is in the batch, its report must not be
        // lost with it.
    }
    assert!(heard.0.lock().unwrap().is_empty(), "nothing committed yet");
    release.send(()).unwrap();
    blocker.await.unwrap();

    let wanted = vec![vec!["caller.gone".to_owned()]];
    for _ in 0..500 {
        if *heard.0.lock().unwrap() == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*heard.0.lock().unwrap(), wanted);
    let kinds: Vec<String> = store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind)
        .collect();
    assert!(kinds.contains(&"caller.gone".to_owned()), "{kinds:?}");
}
