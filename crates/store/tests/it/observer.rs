//! The commit observer hears of audit events only once they are durable:
//! a transaction dropped (rolled back) is never reported, a committed
//! one is, in chain order, and a transaction that appended nothing says
//! nothing.

use std::sync::{Arc, Mutex};

use keybound_audit::{AuditEvent, NewEvent};
use keybound_store::*;

use super::Db;

on_both_backends!(only_committed_events_are_observed);

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
