//! Issue 12 item 17: `/assertion/options` for a name without usable
//! credentials (unknown, invited, offboarded, every credential revoked)
//! looks like a real account's: descriptor count, id lengths and
//! transports drawn from the same distribution as real accounts, stable
//! per name.

use std::collections::HashMap;

use keybound_store::{Credential as Stored, CredentialStatus, Identity, IdentityStatus};

use super::*;

/// An account's answer: each descriptor's id length and transports.
type Shape = Vec<(usize, Vec<String>)>;

fn shape(options: &Value) -> Shape {
    options["allowCredentials"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let id = keybound_webauthn::b64::decode(d["id"].as_str().unwrap()).unwrap();
            let transports = d["transports"]
                .as_array()
                .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (id.len(), transports)
        })
        .collect()
}

async fn options_for(w: &World, name: &str) -> Value {
    serde_json::to_value(
        w.service
            .begin_authentication(BROWSER, name, &AuthenticationRequest::default())
            .await
            .unwrap(),
    )
    .unwrap()
}

fn transports(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Stores `count` accounts of `shape`, named `prefix0`, `prefix1`...
async fn accounts(w: &World, prefix: &str, count: usize, shape: &Shape, status: IdentityStatus) {
    let mut tx = w.service.store().begin().await.unwrap();
    for n in 0..count {
        let id = format!("{prefix}{n}");
        tx.insert_identity(&Identity {
            kind: keybound_store::IdentityKind::Person,
            id: id.clone(),
            name: id.clone(),
            status,
            is_admin: false,
            user_handle: id.clone().into_bytes(),
            created_ms: 1,
        })
        .await
        .unwrap();
        for (i, (len, t)) in shape.iter().enumerate() {
            let mut credential_id = format!("{id}-{i}-").into_bytes();
            credential_id.resize(*len, b'x');
            tx.insert_credential(&Stored {
                id: credential_id,
                identity_id: id.clone(),
                public_key: vec![0xa5],
                alg: -7,
                sign_count: 0,
                aaguid: "00000000-0000-0000-0000-000000000000".into(),
                attestation_format: "none".into(),
                attestation_type: "none".into(),
                attestation_trust: "not_applicable".into(),
                transports: t.clone(),
                backup_eligible: true,
                backup_state: true,
                user_verified: true,
                nickname: None,
                created_ms: i64::try_from(i).unwrap(),
                last_used_ms: None,
                status: CredentialStatus::Active,
                tier: 1,
                tier_reasons: String::new(),
                attestation_chain: Vec::new(),
                tier_cap: None,
            })
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn names_without_usable_credentials_look_like_real_accounts() {
    let w = world().await;
    let synced: Shape = vec![(16, transports(&["hybrid", "internal"]))];
    let with_key: Shape = vec![
        (16, transports(&["hybrid", "internal"])),
        (64, transports(&["nfc", "usb"])),
    ];
    let bare: Shape = vec![(32, Vec::new())];
    accounts(&w, "s", 30, &synced, IdentityStatus::Active).await;
    accounts(&w, "k", 20, &with_key, IdentityStatus::Active).await;
    accounts(&w, "b", 10, &bare, IdentityStatus::Active).await;
    // Real accounts answer with their own shapes.
    assert_eq!(shape(&options_for(&w, "s0").await), synced);
    assert_eq!(shape(&options_for(&w, "k0").await), with_key);

    // Names with an identity but nothing usable: invited, suspended (no
    // credentials or active ones), offboarded, every credential revoked.
    w.service
        .invite("invited", false, &Operator::local("cli"))
        .await
        .unwrap();
    accounts(&w, "suspended", 1, &synced, IdentityStatus::Suspended).await;
    accounts(&w, "gone", 1, &with_key, IdentityStatus::Active).await;
    w.service
        .offboard("gone0", &Operator::local("cli"))
        .await
        .unwrap();
    accounts(&w, "revoked", 1, &synced, IdentityStatus::Active).await;
    for c in w
        .service
        .credentials_of((&Operator::local("cli")).into(), "revoked0")
        .await
        .unwrap()
    {
        w.service
            .revoke_credential(
                &keybound_webauthn::b64::encode(&c.id),
                &Operator::local("cli"),
                "test",
            )
            .await
            .unwrap();
    }
    // 600 names without usable credentials: every answer has a shape of a
    // real account, in about the same proportions (30:20:10), and the
    // same name always gets the same answer.
    let mut seen: HashMap<Shape, usize> = HashMap::new();
    let mut names: Vec<String> = (0..596).map(|i| format!("nobody{i}")).collect();
    names.extend(["invited", "suspended0", "gone0", "revoked0"].map(String::from));
    for name in &names {
        let options = options_for(&w, name).await;
        let answer = shape(&options);
        assert!(
            [&synced, &with_key, &bare].contains(&&answer),
            "{name}: {answer:?}"
        );
        let again = options_for(&w, name).await;
        assert_eq!(
            options["allowCredentials"], again["allowCredentials"],
            "stable: {name}"
        );
        *seen.entry(answer).or_default() += 1;
    }
    // Expected 300/200/100; a binomial's 5 standard deviations is < 65.
    for (shape, expected) in [(&synced, 300), (&with_key, 200), (&bare, 100)] {
        let got = seen.get(shape).copied().unwrap_or_default();
        assert!(got.abs_diff(expected) < 65, "{shape:?}: {got} of 600");
    }
    // Spellings of an unknown name get its decoys, as a real name's do.
    assert_eq!(
        options_for(&w, "NOBODY1").await["allowCredentials"],
        options_for(&w, "nobody1").await["allowCredentials"]
    );
}

/// A young deployment's distribution changes with every account: the
/// shapes are reloaded every minute while there are few.
#[tokio::test]
async fn decoys_follow_the_population_as_it_grows() {
    let w = world().await;
    let before = shape(&options_for(&w, "nobody").await);
    assert_eq!(before.len(), 1, "no account yet: one plausible passkey");
    let bare: Shape = vec![(48, Vec::new()), (48, transports(&["usb"]))];
    accounts(&w, "b", 5, &bare, IdentityStatus::Active).await;
    assert_eq!(
        shape(&options_for(&w, "nobody").await),
        before,
        "until reloaded"
    );
    w.clock.0.fetch_add(61_000, Ordering::SeqCst);
    assert_eq!(shape(&options_for(&w, "nobody").await), bare);
}
