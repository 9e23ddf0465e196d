//! The fold on hand-made events: what older events say, and what a
//! refusal does not.

use super::*;
use crate::EventKind;
use keybound_audit::{AuditEvent, NewEvent, Outcome};

fn event(seq: u64, kind: EventKind, subject: &str, reason: &str) -> AuditEvent {
    AuditEvent {
        seq,
        event: NewEvent {
            kind: kind.as_str().to_owned(),
            subject: Some(subject.to_owned()),
            outcome: Some(Outcome::Success),
            reason: Some(reason.to_owned()),
            ..NewEvent::default()
        },
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn person() -> ActualIdentity {
    ActualIdentity {
        kind: "person".into(),
        status: "active".into(),
        is_admin: false,
    }
}

/// Events written before reconcile existed name the entry and the
/// device's status only in their reason: both are read from there.
#[test]
fn older_events_are_read_from_their_reasons() {
    let mut replay = Replay::default();
    let add = "entry e1 parent node-1 selectors unix:uid:1 owner ada";
    replay.apply(&event(
        1,
        EventKind::WorkloadEntryAdd,
        "spiffe://td/web",
        add,
    ));
    replay.apply(&event(
        2,
        EventKind::DeviceEnrol,
        "dev-01",
        "untrusted: not attested",
    ));
    let mut actual = Actual::default();
    actual.identities.insert(
        "dev-01".into(),
        ActualIdentity {
            kind: "device".into(),
            ..person()
        },
    );
    actual.devices.insert("dev-01".into(), "trusted".into());
    actual.entries.insert("e1".into(), "spiffe://td/web".into());
    let found = replay.compare(&actual);
    assert_eq!(
        found,
        [Difference {
            object: "device dev-01".into(),
            field: "status",
            implied: "untrusted".into(),
            actual: "trusted".into(),
            last_event_seq: Some(2),
        }]
    );
    // Removed by an older event: the row that is back is named.
    let mut replay = Replay::default();
    replay.apply(&event(
        1,
        EventKind::WorkloadEntryAdd,
        "spiffe://td/web",
        add,
    ));
    let gone = "entry e1 removed; 0 SVIDs revoked";
    replay.apply(&event(
        2,
        EventKind::WorkloadEntryRemove,
        "spiffe://td/web",
        gone,
    ));
    let mut actual = Actual::default();
    actual.entries.insert("e1".into(), "spiffe://td/web".into());
    let found = replay.compare(&actual);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].field, found[0].last_event_seq), ("row", Some(2)));
}

/// Refusals change nothing, but for the one that quarantines: an
/// older one is known by its reason.
#[test]
fn only_a_clone_refusal_changes_state() {
    let mut replay = Replay::default();
    let mut reg = event(1, EventKind::Registration, "ada", "tier 1");
    reg.event.credential_id = Some("AAAA".into());
    replay.apply(&reg);
    let mut refused = event(2, EventKind::AdminOffboard, "ada", "last_admin");
    refused.event.outcome = Some(Outcome::Failure);
    replay.apply(&refused);
    let mut clone = event(3, EventKind::Authentication, "ada", "clone_suspected");
    clone.event.outcome = Some(Outcome::Failure);
    clone.event.credential_id = Some("AAAA".into());
    replay.apply(&clone);
    let mut actual = Actual::default();
    actual.identities.insert("ada".into(), person());
    actual.credentials.insert(
        "AAAA".into(),
        ActualCredential {
            owner: "ada".into(),
            status: "quarantined".into(),
        },
    );
    assert_eq!(replay.events(), 3);
    assert_eq!(replay.compare(&actual), []);
}

/// An identity the log only mentions (its creation is not in it) is
/// reported as a row no event created, never compared field by field.
#[test]
fn an_identity_the_log_never_created_is_named() {
    let mut replay = Replay::default();
    replay.apply(&event(1, EventKind::AdminGrantRole, "mallory", "granted"));
    let mut actual = Actual::default();
    actual.identities.insert("mallory".into(), person());
    let found = replay.compare(&actual);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].object.as_str(),
            found[0].field,
            found[0].implied.as_str()
        ),
        ("identity mallory", "row", "absent")
    );
}
