//! Events with a subject kind and details (issue 13, item 4): stored in
//! their own columns, read back as sealed, verified with the rest of the
//! chain, and an edit to either in the database breaks verification.

use std::collections::BTreeMap;

use keybound_audit::{verify_chain, ChainError, NewEvent, Outcome};
use keybound_store::*;

use super::Db;

on_both_backends!(
    subject_kinds_and_details_are_stored_and_verified,
    an_edited_detail_in_the_database_breaks_the_chain,
);

fn with_details(kind: &str, details: &[(&str, &str)]) -> NewEvent {
    NewEvent {
        time_ms: 5,
        kind: "workload.attest".into(),
        subject: Some("spiffe://example.org/web".into()),
        subject_kind: Some(kind.into()),
        details: details
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        outcome: Some(Outcome::Success),
        ..NewEvent::default()
    }
}

/// Three events: one as earlier versions wrote them, one with a kind and
/// details, one with a kind only.
async fn appended(store: &Store) -> Vec<keybound_audit::AuditEvent> {
    let mut tx = store.begin().await.unwrap();
    let mut sealed = Vec::new();
    sealed.push(
        tx.append_audit(NewEvent {
            kind: "authentication".into(),
            subject: Some("ada".into()),
            ..NewEvent::default()
        })
        .await
        .unwrap(),
    );
    sealed.push(
        tx.append_audit(with_details(
            "workload",
            &[
                ("selector", "k8s:ns:web"),
                ("node", "n-1"),
                ("é", "ü \"q\""),
            ],
        ))
        .await
        .unwrap(),
    );
    sealed.push(tx.append_audit(with_details("agent", &[])).await.unwrap());
    tx.commit().await.unwrap();
    sealed
}

async fn subject_kinds_and_details_are_stored_and_verified(db: &Db) {
    let store = db.open().await;
    let sealed = appended(&store).await;
    let stored = store.audit_events().await.unwrap();
    assert_eq!(stored, sealed, "read back exactly as sealed");
    assert_eq!(stored[0].event.subject_kind, None);
    assert!(stored[0].event.details.is_empty());
    let expected: BTreeMap<String, String> = [
        ("node", "n-1"),
        ("selector", "k8s:ns:web"),
        ("é", "ü \"q\""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored[1].event.details, expected);
    assert_eq!(stored[2].event.subject_kind.as_deref(), Some("agent"));
    assert_eq!(verify_chain(stored).unwrap(), 3);

    // The console's pages and the paged chain carry them too.
    let page = store
        .audit_page(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page[1].event.details, expected);
    let mut chain = store.audit_chain(2).await.unwrap();
    let mut read = chain.next_page().await.unwrap();
    read.extend(chain.next_page().await.unwrap());
    assert_eq!(read, sealed);

    // Reopened (migrations already applied), the chain still verifies.
    drop(store);
    let reopened = db.open().await;
    assert_eq!(
        verify_chain(reopened.audit_events().await.unwrap()).unwrap(),
        3
    );
}

async fn an_edited_detail_in_the_database_breaks_the_chain(db: &Db) {
    let store = db.open().await;
    appended(&store).await;
    drop(store);
    for (edit, seq) in [
        (
            r#"UPDATE audit_events SET details = '{"node":"n-2","selector":"k8s:ns:web","é":"ü \"q\""}' WHERE seq = 2"#,
            2,
        ),
        (
            "UPDATE audit_events SET subject_kind = 'person' WHERE seq = 3",
            3,
        ),
    ] {
        let store = db.open().await;
        let before = store.audit_events().await.unwrap();
        drop(store);
        execute(&db.url, edit).await;
        let store = db.open().await;
        assert_eq!(
            verify_chain(store.audit_events().await.unwrap()).unwrap_err(),
            ChainError::HashMismatch { seq },
            "{edit}"
        );
        // Put it back for the next edit.
        let original = &before[usize::try_from(seq).unwrap() - 1].event;
        let details = serde_json::to_string(&original.details).unwrap();
        let kind = original.subject_kind.clone().unwrap_or_default();
        drop(store);
        execute(
            &db.url,
            &format!(
                "UPDATE audit_events SET details = '{}', subject_kind = '{kind}' WHERE seq = {seq}",
                details.replace('\'', "''")
            ),
        )
        .await;
        let store = db.open().await;
        assert_eq!(
            verify_chain(store.audit_events().await.unwrap()).unwrap(),
            3
        );
    }
}

/// Runs `sql` on the database behind the store's back.
async fn execute(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        conn.execute(sql).await.unwrap();
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        conn.execute(sql).await.unwrap();
        conn.close().await.unwrap();
    }
}
