//! Event tags at the command line: events a `keybound` command writes are
//! tagged under the generated key-encryption key, `audit verify` says from
//! which event on tags are required, and an event appended straight into
//! the database (correctly chained, untagged) is named.

use super::*;

#[test]
fn an_event_appended_by_a_database_writer_is_named_by_its_missing_tag() {
    let log = Log::new();
    // The fixture's 22 events predate tags: nothing is required of them.
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("event tags checked: no event is tagged yet"),
        "{out}"
    );

    // A command run on the database tags what it writes.
    let (ok, out, err) = log.keybound(&["admin", "invite", "newcomer"]);
    assert!(ok, "{out}{err}");
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    let tagged = log.events().len() - 22;
    assert!(
        out.contains(&format!(
            "event tags checked: {tagged} event(s) tagged; every event from 23 on must be"
        )),
        "{out}"
    );

    // Appended without the key: the chain still holds, the tag is missing.
    log.append(1, "mallory");
    let forged = log.events().len();
    let (ok, out) = verify(&log, &[]);
    assert!(!ok, "{out}");
    assert!(!out.contains("audit chain BROKEN"), "{out}");
    assert!(
        out.contains(&format!("event {forged} carries no tag")),
        "{out}"
    );
}
