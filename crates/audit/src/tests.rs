use super::*;

fn chain(n: u64) -> Vec<AuditEvent> {
    let mut out: Vec<AuditEvent> = Vec::new();
    for i in 0..n {
        let e = NewEvent {
            time_ms: 1_700_000_000_000 + i as i64,
            kind: "authentication".into(),
            subject: Some(format!("user{i}")),
            outcome: Some(Outcome::Success),
            ..NewEvent::default()
        };
        let sealed = seal(out.last(), e);
        out.push(sealed);
    }
    out
}

#[test]
fn an_untouched_chain_verifies() {
    assert_eq!(verify_chain(chain(5)).unwrap(), 5);
    assert_eq!(verify_chain(Vec::new()).unwrap(), 0);
    let c = chain(2);
    assert_eq!(c[0].prev_hash, GENESIS_HASH);
    assert_eq!(c[1].prev_hash, c[0].hash);
    assert_eq!(c[0].hash.len(), 64);
}

#[test]
fn an_edited_event_is_named() {
    let mut c = chain(5);
    c[2].event.outcome = Some(Outcome::Failure);
    assert_eq!(
        verify_chain(c).unwrap_err(),
        ChainError::HashMismatch { seq: 3 }
    );
}

#[test]
fn a_recomputed_hash_breaks_the_next_link() {
    let mut c = chain(5);
    c[2].event.subject = Some("mallory".into());
    c[2].hash = link_hash(&c[2].prev_hash, 3, &c[2].event);
    assert_eq!(
        verify_chain(c).unwrap_err(),
        ChainError::BrokenLink { seq: 4 }
    );
}

#[test]
fn removed_reordered_or_renumbered_events_are_found() {
    let mut removed = chain(5);
    removed.remove(1);
    assert_eq!(
        verify_chain(removed).unwrap_err(),
        ChainError::SequenceGap {
            expected: 2,
            found: 3
        }
    );
    let mut swapped = chain(5);
    swapped.swap(1, 2);
    assert!(verify_chain(swapped).is_err());
    let mut renumbered = chain(3);
    renumbered[1].seq = 7;
    assert!(verify_chain(renumbered).is_err());
}

#[test]
fn the_hash_covers_every_member() {
    let base = chain(1).remove(0);
    let variants: [fn(&mut NewEvent); 14] = [
        |e| e.time_ms += 1,
        |e| e.kind.push('x'),
        |e| e.actor = Some("a".into()),
        |e| e.subject = None,
        |e| e.credential_id = Some("c".into()),
        |e| e.aaguid = Some("g".into()),
        |e| e.attestation = Some("packed/basic".into()),
        |e| e.user_verified = Some(true),
        |e| e.sign_count = Some(1),
        |e| e.origin = Some("o".into()),
        |e| e.ip = Some("127.0.0.1".into()),
        |e| e.user_agent = Some("ua".into()),
        |e| e.outcome = Some(Outcome::Alert),
        |e| e.reason = Some("r".into()),
    ];
    for edit in variants {
        let mut e = base.clone();
        edit(&mut e.event);
        assert_eq!(
            verify_chain([e]).unwrap_err(),
            ChainError::HashMismatch { seq: 1 }
        );
    }
}

#[test]
fn events_round_trip_through_json_lines() {
    let c = chain(3);
    let lines: Vec<String> = c
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let back: Vec<AuditEvent> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, c);
    assert_eq!(verify_chain(back).unwrap(), 3);
}

#[test]
fn chain_errors_name_the_event() {
    assert_eq!(
        ChainError::BrokenLink { seq: 9 }.to_string(),
        "event 9 does not link to the event before it"
    );
    assert_eq!(
        ChainError::SequenceGap {
            expected: 2,
            found: 5
        }
        .to_string(),
        "expected event 2, found 5: events missing or inserted"
    );
}

#[test]
fn severity_is_sealed_when_present_and_absent_from_older_events() {
    let plain = chain(1).remove(0);
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("severity"), "routine events hash as before");
    let mut flagged = seal(
        None,
        NewEvent {
            severity: Some(Severity::High),
            ..plain.event.clone()
        },
    );
    assert_ne!(flagged.hash, plain.hash, "severity is part of the hash");
    assert!(serde_json::to_string(&flagged)
        .unwrap()
        .contains("\"severity\":\"high\""));
    flagged.event.severity = Some(Severity::Info);
    assert_eq!(
        verify_chain(vec![flagged]).unwrap_err(),
        ChainError::HashMismatch { seq: 1 }
    );
}

#[test]
fn a_chain_verified_in_pages_gives_the_same_answers() {
    let good = chain(10);
    let mut verifier = ChainVerifier::new();
    for page in good.chunks(3) {
        for e in page {
            verifier.push(e).unwrap();
        }
    }
    assert_eq!(verifier.verified(), 10);

    let mut edited = chain(10);
    edited[7].event.reason = Some("edited".into());
    let mut verifier = ChainVerifier::new();
    let first_error = edited.iter().find_map(|e| verifier.push(e).err());
    assert_eq!(first_error, Some(ChainError::HashMismatch { seq: 8 }));
    assert_eq!(verifier.verified(), 7, "stops before the edited event");
    assert!(
        verifier.push(&edited[8]).is_err(),
        "later events do not verify after a broken one"
    );
}
mod details;
mod golden;
