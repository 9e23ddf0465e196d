//! Issue 19: audit stream cursors (`keybound audit stream`).

use super::*;

on_both_backends!(audit_stream_cursors_move_only_forward_per_name_and_reset);

/// A new stream starts at 0; an acknowledgement moves its cursor forward,
/// an older or repeated one never back (two nodes, or a late retry); names
/// are apart; a reset starts the stream over; a name with a NUL is an
/// error, not a PostgreSQL failure mid-transaction.
async fn audit_stream_cursors_move_only_forward_per_name_and_reset(db: &Db) {
    let (a, b) = (db.open().await, db.open().await);
    assert_eq!(a.audit_stream_cursor("siem").await.unwrap(), 0);
    a.advance_audit_stream("siem", 5, 100).await.unwrap();
    assert_eq!(b.audit_stream_cursor("siem").await.unwrap(), 5);
    b.advance_audit_stream("siem", 3, 200).await.unwrap();
    assert_eq!(
        a.audit_stream_cursor("siem").await.unwrap(),
        5,
        "never back"
    );
    a.advance_audit_stream("siem", 5, 300).await.unwrap();
    a.advance_audit_stream("siem", 9, 400).await.unwrap();
    assert_eq!(b.audit_stream_cursor("siem").await.unwrap(), 9);
    assert_eq!(a.audit_stream_cursor("other").await.unwrap(), 0, "apart");
    a.advance_audit_stream("other", 2, 500).await.unwrap();
    a.reset_audit_stream("siem").await.unwrap();
    assert_eq!(b.audit_stream_cursor("siem").await.unwrap(), 0);
    assert_eq!(b.audit_stream_cursor("other").await.unwrap(), 2);
    assert!(a.audit_stream_cursor("si\0em").await.is_err());
    assert!(a.advance_audit_stream("si\0em", 1, 1).await.is_err());
    assert_eq!(a.audit_stream_cursor("other").await.unwrap(), 2);
}
