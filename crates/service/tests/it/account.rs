//! Self-service: sessions from enrolment, the account view, renaming and
//! revoking one's own credentials, invitation states, and which sign-in
//! failures may be told to the client.

use super::*;

fn ctx() -> ClientContext {
    ClientContext::default()
}

fn id(cred: &Credential) -> String {
    keybound_webauthn::b64::encode(&cred.id)
}

/// Enrols `name` from an invitation; returns the credential and the session
/// the enrolment opened.
async fn enrolled(w: &World, name: &str) -> (Credential, Token) {
    let token = w
        .service
        .invite(name, false, &Operator::local("cli"))
        .await
        .unwrap();
    let (cred, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    (cred, enrolled.unwrap().session.expect("a session"))
}

#[tokio::test]
async fn enrolment_from_an_invitation_signs_in_and_adding_a_passkey_keeps_the_session() {
    let w = world().await;
    let (first, session) = enrolled(&w, "ada").await;
    let account = w.service.account(&session.value).await.unwrap();
    assert_eq!(account.identity.name, "ada");
    assert_eq!(account.session_credential, first.id);

    w.clock.0.fetch_add(1, Ordering::SeqCst);
    let (second, _, added) = w.register(RegistrationStart::Session(&session.value)).await;
    assert_eq!(
        added.unwrap().session,
        None,
        "the session it came from goes on"
    );
    let account = w.service.account(&session.value).await.unwrap();
    let ids: Vec<_> = account.credentials.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, [first.id, second.id]);
    assert_eq!(
        w.service.account("not-a-session").await.unwrap_err(),
        ServiceError::Forbidden
    );
}

#[tokio::test]
async fn renaming_touches_only_ones_own_credentials() {
    let w = world().await;
    let (ada_cred, ada) = enrolled(&w, "ada").await;
    let (bob_cred, bob) = enrolled(&w, "bob").await;
    w.service
        .rename_credential(&ada.value, &id(&ada_cred), "  work laptop ", &ctx())
        .await
        .unwrap();
    let account = w.service.account(&ada.value).await.unwrap();
    assert_eq!(
        account.credentials[0].nickname.as_deref(),
        Some("work laptop")
    );

    let events_before = w.audit().await.len();
    for (session, cred, nickname, expected) in [
        (&ada.value, &bob_cred, "mine now", ServiceError::NotFound),
        (
            &ada.value,
            &ada_cred,
            "bell\u{7}",
            ServiceError::Rejected(Refusal::InvalidNickname),
        ),
        (
            &"expired".to_owned(),
            &ada_cred,
            "x",
            ServiceError::Forbidden,
        ),
    ] {
        let refused = w
            .service
            .rename_credential(session, &id(cred), nickname, &ctx())
            .await;
        assert_eq!(refused.unwrap_err(), expected);
    }
    assert_eq!(
        w.audit().await.len(),
        events_before,
        "refusals change nothing"
    );
    let bobs = w.service.account(&bob.value).await.unwrap();
    assert_eq!(bobs.credentials[0].nickname, None);

    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.kind, "credential.rename");
    assert_eq!(last.actor.as_deref(), Some("ada"));
    assert_eq!(last.credential_id, Some(id(&ada_cred)));
}

#[tokio::test]
async fn revoking_the_last_credential_needs_confirmation() {
    let w = world().await;
    let (cred, session) = enrolled(&w, "ada").await;
    let events_before = w.audit().await.len();
    assert_eq!(
        w.service
            .revoke_own_credential(&session.value, &id(&cred), false, &ctx())
            .await
            .unwrap_err(),
        ServiceError::ConfirmationRequired
    );
    assert_eq!(w.audit().await.len(), events_before);
    assert_eq!(
        w.service
            .account(&session.value)
            .await
            .unwrap()
            .credentials
            .len(),
        1
    );

    let revoked = w
        .service
        .revoke_own_credential(&session.value, &id(&cred), true, &ctx())
        .await
        .unwrap();
    assert!(revoked.ended_own_session);
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden
    );
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.kind, "credential.revoke");
    assert_eq!(last.outcome, Some(Outcome::Success));
}

#[tokio::test]
async fn revoking_another_credential_keeps_the_session_and_ends_its_own() {
    let w = world().await;
    let (mut first, enrol_session) = enrolled(&w, "ada").await;
    let (mut second, _, _) = w
        .register(RegistrationStart::Session(&enrol_session.value))
        .await;
    let (_, on_second) = w.sign_in(&mut second, "ada", &Tweaks::default()).await;
    let on_second = on_second.unwrap().session;

    // From the session opened with the first, revoke the second: it takes
    // ada below the backup minimum, so it is confirmed.
    assert_eq!(
        w.service
            .revoke_own_credential(&enrol_session.value, &id(&second), false, &ctx())
            .await
            .unwrap_err(),
        ServiceError::ConfirmationRequired
    );
    let revoked = w
        .service
        .revoke_own_credential(&enrol_session.value, &id(&second), true, &ctx())
        .await
        .unwrap();
    assert!(!revoked.ended_own_session);
    assert!(w.service.account(&enrol_session.value).await.is_ok());
    assert_eq!(
        w.service.account(&on_second.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "sessions the revoked credential opened end with it"
    );
    let (_, refused) = w.sign_in(&mut second, "", &Tweaks::default()).await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::UnknownCredential(Refusal::CredentialRevoked)
    );
    let (_, still) = w.sign_in(&mut first, "", &Tweaks::default()).await;
    assert!(still.is_ok());

    // Nobody revokes someone else's credential, not even by guessing ids.
    let (bob_cred, _) = enrolled(&w, "bob").await;
    assert_eq!(
        w.service
            .revoke_own_credential(&enrol_session.value, &id(&bob_cred), true, &ctx())
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    assert_eq!(
        w.service
            .revoke_own_credential(&enrol_session.value, "%%%", true, &ctx())
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
}

#[tokio::test]
async fn an_invitation_says_whether_it_is_open_used_or_expired() {
    let w = world().await;
    let open = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let state = w.service.invitation(&open.value).await.unwrap();
    assert!(matches!(state, InvitationState::Open { ref name, .. } if name == "ada"));

    let lapsing = w
        .service
        .invite("bob", false, &Operator::local("cli"))
        .await
        .unwrap();
    w.register(RegistrationStart::Invitation(&open.value))
        .await
        .2
        .unwrap();
    assert_eq!(
        w.service.invitation(&open.value).await.unwrap(),
        InvitationState::Used
    );
    w.clock
        .0
        .fetch_add(w.service.config().invitation_ttl_ms, Ordering::SeqCst);
    assert_eq!(
        w.service.invitation(&lapsing.value).await.unwrap(),
        InvitationState::Expired
    );
    assert_eq!(
        w.service.invitation("made-up").await.unwrap(),
        InvitationState::Unknown
    );
}

/// The client may learn that a credential is unknown (so the page can tell
/// the passkey provider), but never for the decoy offered for a name without
/// an account: that would tell which names exist.
#[tokio::test]
async fn unknown_credentials_are_told_but_decoys_are_not() {
    let w = world().await;
    let (_, _) = enrolled(&w, "ada").await;
    let mut stranger = w
        .auth
        .register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: RP_ID,
                origin: ORIGIN,
                challenge: &[1; 32],
            },
            b"someone",
        )
        .0;
    let (_, refused) = w.sign_in(&mut stranger, "", &Tweaks::default()).await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::UnknownCredential(Refusal::UnknownCredential)
    );

    // The decoy offered for "nobody", answered in a username-less ceremony.
    let options = w
        .service
        .begin_authentication(BROWSER, "nobody", &AuthenticationRequest::default())
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let decoy = options["allowCredentials"][0]["id"].as_str().unwrap();
    stranger.id = keybound_webauthn::b64::decode(decoy).unwrap();
    let (_, refused) = w.sign_in(&mut stranger, "", &Tweaks::default()).await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::Rejected(Refusal::DecoyCredential)
    );
}

#[tokio::test]
async fn the_backup_rule_marks_accounts_and_guards_revocation_with_a_fresh_sign_in() {
    let w = world().await;
    let (mut first, session) = enrolled(&w, "ada").await;
    assert!(
        w.service
            .account(&session.value)
            .await
            .unwrap()
            .lacks_backup
    );
    let (second, _, added) = w.register(RegistrationStart::Session(&session.value)).await;
    added.unwrap();
    assert!(
        !w.service
            .account(&session.value)
            .await
            .unwrap()
            .lacks_backup
    );

    // Six minutes later the session is too old to strip the backup...
    w.clock
        .0
        .fetch_add(STEP_UP_WINDOW_MS + 60_000, Ordering::SeqCst);
    assert_eq!(
        w.service
            .revoke_own_credential(&session.value, &id(&second), true, &ctx())
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired
    );
    // ...until a fresh sign-in.
    let (_, fresh) = w.sign_in(&mut first, "", &Tweaks::default()).await;
    let fresh = fresh.unwrap().session;
    w.service
        .revoke_own_credential(&fresh.value, &id(&second), true, &ctx())
        .await
        .unwrap();
    assert!(w.service.account(&fresh.value).await.unwrap().lacks_backup);

    // With a minimum of one, a second passkey goes without ceremony.
    let w = world_with(|c| c.policy.min_credentials = 1).await;
    let (_, session) = enrolled(&w, "bob").await;
    let (spare, _, _) = w.register(RegistrationStart::Session(&session.value)).await;
    assert!(
        !w.service
            .account(&session.value)
            .await
            .unwrap()
            .lacks_backup
    );
    w.service
        .revoke_own_credential(&session.value, &id(&spare), false, &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn adding_a_passkey_needs_a_recent_sign_in() {
    let w = world().await;
    let (mut first, session) = enrolled(&w, "ada").await;
    w.clock.0.fetch_add(STEP_UP_WINDOW_MS + 1, Ordering::SeqCst);
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Session(&session.value),
                &RegistrationRequest::default()
            )
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired
    );
    // Proving the existing passkey again (a step-up) lets the new one in.
    let (_, fresh) = w.sign_in(&mut first, "", &Tweaks::default()).await;
    let fresh = fresh.unwrap().session;
    let (_, _, added) = w.register(RegistrationStart::Session(&fresh.value)).await;
    assert!(added.is_ok());
}
