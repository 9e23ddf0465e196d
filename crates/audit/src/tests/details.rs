//! The subject kind and the details map: sealed when present, hashed in
//! key order, bounded when sealed.

use std::collections::BTreeMap;

use super::super::*;

fn device_event(details: &[(&str, &str)]) -> NewEvent {
    NewEvent {
        time_ms: 1_700_000_000_000,
        kind: "device.enrol".into(),
        subject: Some("printer-7".into()),
        subject_kind: Some("device".into()),
        details: details
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        outcome: Some(Outcome::Success),
        ..NewEvent::default()
    }
}

fn sealed(event: NewEvent) -> AuditEvent {
    seal(None, event)
}

#[test]
fn a_subject_kind_and_details_are_part_of_the_hash() {
    let plain = sealed(NewEvent {
        subject_kind: None,
        details: BTreeMap::new(),
        ..device_event(&[])
    });
    let kinded = sealed(device_event(&[]));
    let detailed = sealed(device_event(&[("serial", "SN-1")]));
    assert_ne!(kinded.hash, plain.hash, "the subject kind is hashed");
    assert_ne!(detailed.hash, kinded.hash, "details are hashed");
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("subject_kind") && !json.contains("details"));
    assert!(serde_json::to_string(&detailed)
        .unwrap()
        .contains(r#""subject_kind":"device","details":{"serial":"SN-1"}"#));
}

#[test]
fn tampering_with_the_kind_or_the_details_breaks_verification() {
    let good = sealed(device_event(&[("serial", "SN-1"), ("model", "X")]));
    assert_eq!(verify_chain([good.clone()]).unwrap(), 1);
    let edits: [fn(&mut NewEvent); 6] = [
        |e| e.subject_kind = Some("person".into()),
        |e| e.subject_kind = None,
        |e| {
            e.details.insert("serial".into(), "SN-2".into());
        },
        |e| {
            e.details.insert("owner".into(), "mallory".into());
        },
        |e| {
            e.details.remove("model");
        },
        |e| e.details.clear(),
    ];
    for edit in edits {
        let mut e = good.clone();
        edit(&mut e.event);
        assert_eq!(
            verify_chain([e]).unwrap_err(),
            ChainError::HashMismatch { seq: 1 }
        );
    }
}

#[test]
fn details_are_hashed_in_key_order_whatever_the_insertion_order() {
    let forwards = sealed(device_event(&[
        ("a", "1"),
        ("b", "2"),
        ("é", "3"),
        ("Z", "4"),
    ]));
    let backwards = sealed(device_event(&[
        ("Z", "4"),
        ("é", "3"),
        ("b", "2"),
        ("a", "1"),
    ]));
    assert_eq!(forwards.hash, backwards.hash);
    // The documented input, written out by hand: keys in byte order.
    let body = concat!(
        r#"{"seq":1,"event":{"time_ms":1700000000000,"kind":"device.enrol","actor":null,"#,
        r#""subject":"printer-7","credential_id":null,"aaguid":null,"attestation":null,"#,
        r#""user_verified":null,"sign_count":null,"origin":null,"ip":null,"user_agent":null,"#,
        r#""outcome":"success","reason":null,"subject_kind":"device","#,
        r#""details":{"Z":"4","a":"1","b":"2","é":"3"}}}"#
    );
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(GENESIS_HASH.as_bytes());
    ctx.update(body.as_bytes());
    assert_eq!(forwards.hash, hex::encode(ctx.finish().as_ref()));
}

#[test]
fn long_keys_values_and_kinds_are_cut_at_sealing_and_marked() {
    let long_value = "é".repeat(MAX_DETAIL_VALUE);
    let long_key = "k".repeat(MAX_DETAIL_KEY + 10);
    let mut event = device_event(&[("ok", "fine"), ("v", &long_value), (&long_key, "x")]);
    event.subject_kind = Some("w".repeat(MAX_SUBJECT_KIND * 2));
    let e = sealed(event);
    let kind = e.event.subject_kind.as_deref().unwrap();
    assert!(kind.len() <= MAX_SUBJECT_KIND && kind.ends_with('…'));
    assert_eq!(e.event.details["ok"], "fine", "what fits is kept as it is");
    let value = &e.event.details["v"];
    assert!(value.len() <= MAX_DETAIL_VALUE && value.ends_with('…'));
    assert!(value.trim_end_matches('…').chars().all(|c| c == 'é'));
    let key = e.event.details.keys().find(|k| k.starts_with('k')).unwrap();
    assert!(key.len() <= MAX_DETAIL_KEY && key.ends_with('…'));
    assert_eq!(e.event.details.len(), 3);
    assert_eq!(
        verify_chain([e]).unwrap(),
        1,
        "the event is hashed as truncated"
    );
}

#[test]
fn details_past_the_bound_are_counted_in_one_entry() {
    let many: Vec<(String, String)> = (0..MAX_DETAILS + 5)
        .map(|i| (format!("key{i:03}"), format!("{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let e = sealed(device_event(&pairs));
    assert_eq!(e.event.details.len(), MAX_DETAILS);
    assert_eq!(e.event.details["…"], "6 more");
    assert!(e.event.details.contains_key("key000"));
    assert!(!e
        .event
        .details
        .contains_key(&format!("key{:03}", MAX_DETAILS - 1)));
    assert_eq!(verify_chain([e]).unwrap(), 1);

    let exactly: Vec<(String, String)> = (0..MAX_DETAILS)
        .map(|i| (format!("key{i:03}"), String::new()))
        .collect();
    let pairs: Vec<(&str, &str)> = exactly
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let e = sealed(device_event(&pairs));
    assert_eq!(e.event.details.len(), MAX_DETAILS);
    assert!(!e.event.details.contains_key("…"), "the bound itself fits");
}

#[test]
fn events_with_details_round_trip_through_json_lines() {
    let first = sealed(device_event(&[
        ("serial", "SN-1"),
        ("note", "a \"quoted\"\nline"),
    ]));
    let second = seal(Some(&first), NewEvent::default());
    for e in [first, second] {
        let line = serde_json::to_string(&e).unwrap();
        let back: AuditEvent = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
    }
}
