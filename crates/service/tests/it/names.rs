//! Issue 12 item 16: one rule for names everywhere (PRECIS
//! UsernameCaseMapped), look-alikes refused by skeleton, and every way in
//! (invitation, open registration, sign-in by name, recovery, the
//! administrator's look-ups) finds one identity whatever the spelling.

use super::*;

async fn names(w: &World) -> Vec<String> {
    let mut names: Vec<_> = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .map(|(i, _)| i.name)
        .collect();
    names.sort();
    names
}

/// Challenges stored (the purge counts them; rolled back, nothing changes).
async fn stored_challenges(w: &World) -> u64 {
    let mut tx = w.service.store().begin().await.unwrap();
    tx.purge_expired(i64::MAX).await.unwrap()
}

#[tokio::test]
async fn look_alikes_of_admin_are_one_identity_or_refused() {
    let w = world().await;
    w.service
        .invite("admin", true, &Operator::local("cli"))
        .await
        .unwrap();
    // Spellings of the name re-invite the same identity.
    for same in ["ADMIN", "Admin", "ａｄｍｉｎ", "  admin  "] {
        w.service
            .invite(same, true, &Operator::local("cli"))
            .await
            .unwrap();
    }
    // Look-alikes (Cyrillic а and і, Latin alpha) are refused, and the refusal is
    // audited with its reason.
    for confusable in ["\u{0430}dmin", "adm\u{0456}n", "\u{0251}dmin"] {
        assert_eq!(
            w.service
                .invite(confusable, false, &Operator::local("cli"))
                .await
                .unwrap_err(),
            ServiceError::Rejected(Refusal::NameConfusable),
            "{confusable:?}"
        );
    }
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.reason.as_deref(), Some("name_confusable"));
    // Invisible, reordering and control characters are not names.
    for invalid in [
        "ad\u{200B}min",
        "\u{FEFF}admin",
        "ad\u{00AD}min",
        "\u{202E}nimda",
        "ad\nmin",
        "ad\u{0}min",
        "\u{1b}[31madmin",
        "",
        "   ",
        &"a".repeat(200_000),
    ] {
        assert_eq!(
            w.service
                .invite(invalid, false, &Operator::local("cli"))
                .await
                .unwrap_err(),
            ServiceError::Rejected(Refusal::InvalidName),
            "{invalid:?}"
        );
    }
    assert_eq!(names(&w).await, ["admin"]);
}

#[tokio::test]
async fn nfc_and_nfd_spellings_are_one_identity() {
    let w = world().await;
    w.service
        .invite("jos\u{00E9}", false, &Operator::local("cli"))
        .await
        .unwrap();
    w.service
        .invite("jose\u{0301}", false, &Operator::local("cli"))
        .await
        .unwrap();
    w.service
        .invite("JOSÉ", false, &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(names(&w).await, ["jos\u{00E9}"]);
}

#[tokio::test]
async fn every_way_in_finds_the_identity_whatever_the_spelling() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    // Sign-in by name: the options list ada's credential for any spelling.
    for spelling in ["ADA", "Ada", "ａｄａ", " ada"] {
        let (_, signed_in) = w.sign_in(&mut cred, spelling, &Tweaks::default()).await;
        assert_eq!(signed_in.unwrap().name, "ada", "{spelling:?}");
    }
    // The administrator's look-ups.
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ADA")
            .await
            .unwrap()
            .len(),
        1
    );
    // Recovery by name.
    w.service
        .request_recovery("Ada", &ClientContext::default())
        .await
        .unwrap();
    let pending = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].name, "ada");
    assert_eq!(
        w.audit().await.pop().unwrap().event.subject.as_deref(),
        Some("ada")
    );
    w.service
        .offboard("ＡＤＡ", &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(names(&w).await, ["ada"]);
}

#[tokio::test]
async fn open_registration_refuses_invalid_names_and_never_adds_a_look_alike() {
    let w = world_with(|c| c.open_registration = true).await;
    let (_, _, enrolled) = w.register(RegistrationStart::Open("Bob")).await;
    assert_eq!(enrolled.unwrap().name, "bob", "stored in canonical form");
    let before = stored_challenges(&w).await;
    let audit_before = w.audit().await.len();
    for invalid in [
        "",
        " ",
        "\u{0}",
        "\u{1b}]0;pwned\u{7}",
        "bob\nadmin",
        "b\u{200B}ob",
        &"x".repeat(200_000),
    ] {
        let refused = w
            .service
            .begin_registration(
                BROWSER,
                RegistrationStart::Open(invalid),
                &RegistrationRequest::default(),
            )
            .await;
        assert_eq!(
            refused.unwrap_err(),
            ServiceError::Rejected(Refusal::InvalidName),
            "{:?}",
            invalid.get(..20)
        );
    }
    assert_eq!(stored_challenges(&w).await, before, "no challenge stored");
    assert_eq!(w.audit().await.len(), audit_before);
    // A spelling or look-alike of bob never becomes a second identity.
    for other in ["BOB", "b\u{043E}b"] {
        assert_eq!(
            w.service
                .begin_registration(
                    BROWSER,
                    RegistrationStart::Open(other),
                    &RegistrationRequest::default(),
                )
                .await
                .unwrap_err(),
            ServiceError::Rejected(Refusal::NameTaken),
            "{other}"
        );
    }
    assert_eq!(names(&w).await, ["bob"]);
}
