//! Tiers as registration computes them, sessions carry them, and policy
//! demands them.

use super::*;

fn synced() -> Authenticator {
    Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..Authenticator::default()
    }
}

/// Enrols `name` with the world's authenticator; the enrolment's session.
async fn enrol(w: &World, name: &str) -> Result<Token, ServiceError> {
    let token = w
        .service
        .invite(name, false, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    enrolled.map(|e| e.session.unwrap())
}

#[tokio::test]
async fn synced_passkeys_are_tier_1_and_device_bound_uv_tier_2() {
    let mut w = world().await;
    w.auth = synced();
    let session = enrol(&w, "ada").await.unwrap();
    let account = w.service.account(&session.value).await.unwrap();
    assert_eq!(account.credentials[0].tier, 1);
    assert_eq!(
        account.credentials[0].tier_reasons,
        "synced passkey; user verified"
    );
    assert_eq!(account.session_tier, 1);

    w.auth = Authenticator::default();
    let session = enrol(&w, "bob").await.unwrap();
    let account = w.service.account(&session.value).await.unwrap();
    assert_eq!(account.credentials[0].tier, 2);
    assert!(account.credentials[0]
        .tier_reasons
        .starts_with("device-bound; user verified"));
    assert_eq!(account.session_tier, 2, "the session carries the tier");
    let event = w.audit().await.pop().unwrap().event;
    assert!(event.reason.unwrap().starts_with("tier 2: device-bound"));

    // A tier-2 credential signing in without user verification reaches
    // only tier 1.
    let mut cred = w
        .register(RegistrationStart::Session(&session.value))
        .await
        .0;
    w.auth.user_verified = false;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let signed_in = signed_in.unwrap();
    let account = w.service.account(&signed_in.session.value).await.unwrap();
    assert_eq!(account.credentials[1].tier, 2);
    assert_eq!(account.session_tier, 1);
}

#[tokio::test]
async fn a_policy_demanding_tier_2_refuses_a_synced_passkey() {
    let mut w = world_with(|c| c.policy.registration_min_tier = Tier::DeviceBound).await;
    w.auth = synced();
    let before = w.audit().await.len();
    assert_eq!(
        enrol(&w, "ada").await.unwrap_err(),
        ServiceError::Rejected(Refusal::TierBelowPolicy)
    );
    assert!(w
        .service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap()
        .is_empty());
    let events = w.audit().await;
    assert_eq!(events.len(), before + 2, "the invitation and the refusal");
    assert_eq!(events.last().unwrap().event.outcome, Some(Outcome::Failure));

    w.auth = Authenticator::default();
    assert!(
        enrol(&w, "bob").await.is_ok(),
        "device-bound with UV passes"
    );
}

#[tokio::test]
async fn aaguid_lists_decide_which_models_may_register() {
    let model = Authenticator::default().aaguid;
    let canonical = keybound_webauthn::Aaguid(model).to_string();
    let denied = world_with(|c| c.policy.aaguid_deny = vec![canonical.to_uppercase()]).await;
    assert_eq!(
        enrol(&denied, "ada").await.unwrap_err(),
        ServiceError::Rejected(Refusal::AaguidDenied)
    );
    let elsewhere =
        world_with(|c| c.policy.aaguid_allow = vec!["00000000-0000-0000-0000-000000000001".into()])
            .await;
    assert_eq!(
        enrol(&elsewhere, "ada").await.unwrap_err(),
        ServiceError::Rejected(Refusal::AaguidNotAllowed)
    );
    let allowed = world_with(|c| c.policy.aaguid_allow = vec![canonical.clone()]).await;
    assert!(enrol(&allowed, "ada").await.is_ok());
}

#[tokio::test]
async fn a_policy_requiring_uv_asks_for_it_and_enforces_it() {
    let mut w = world_with(|c| {
        c.policy.require_user_verification = true;
        c.policy.attestation = keybound_webauthn::AttestationConveyancePreference::Direct;
    })
    .await;
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&token.value),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["attestation"], "direct");

    w.auth.user_verified = false;
    assert_eq!(
        enrol(&w, "bob").await.unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("user_not_verified"))
    );
}

/// Signs in with `cred` as a browser holding `previous`.
async fn step_up(
    w: &World,
    previous: &str,
    cred: &mut Credential,
) -> Result<SignedIn, ServiceError> {
    let c = w.options("").await;
    let json = w.auth.assert_with(
        cred,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &Tweaks::default(),
    );
    w.service
        .step_up(
            previous,
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
}

#[tokio::test]
async fn a_sign_in_sets_the_session_tier_to_what_it_proved() {
    let mut w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    w.auth.user_verified = false;
    let (_, plain) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let plain = plain.unwrap();
    assert_eq!(plain.tier, 1, "possession only");

    w.auth.user_verified = true;
    let raised = step_up(&w, &plain.session.value, &mut cred).await.unwrap();
    assert_eq!(raised.tier, 2);
    assert_eq!(
        w.service.account(&plain.session.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "the old session is replaced"
    );
    assert_eq!(
        w.service
            .account(&raised.session.value)
            .await
            .unwrap()
            .session_tier,
        2
    );
    let event = w.audit().await.pop().unwrap().event;
    assert_eq!(event.reason.as_deref(), Some("step-up from tier 1"));

    // Issue 12, item 4: the session holds what the latest sign-in proved,
    // so a weaker proof cannot keep tier 2 fresh.
    w.auth.user_verified = false;
    let again = step_up(&w, &raised.session.value, &mut cred).await.unwrap();
    assert_eq!(again.tier, 1, "a weaker proof gives the weaker tier");

    // Another person's session in the same browser: a plain sign-in.
    w.auth.user_verified = true;
    let (mut bob, _) = w.enrol("bob").await;
    w.auth.user_verified = false;
    let switched = step_up(&w, &again.session.value, &mut bob).await.unwrap();
    assert_eq!((switched.name.as_str(), switched.tier), ("bob", 1));
    assert!(w.service.account(&again.session.value).await.is_err());
}

#[tokio::test]
async fn a_group_may_demand_a_higher_tier() {
    let mut w = world_with(|c| {
        c.policy
            .group_min_tier
            .insert("admin".into(), Tier::DeviceBound);
    })
    .await;
    w.auth = synced();
    let admin = w
        .service
        .invite("root", true, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, refused) = w
        .register(RegistrationStart::Invitation(&admin.value))
        .await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::Rejected(Refusal::TierBelowGroupPolicy)
    );
    assert!(
        enrol(&w, "user").await.is_ok(),
        "users are not in the group"
    );
    w.auth = Authenticator::default();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&admin.value))
        .await;
    assert!(enrolled.is_ok(), "a device-bound passkey with UV meets it");
}

#[tokio::test]
async fn an_invitation_may_demand_a_tier_and_survives_a_weaker_attempt() {
    let mut w = world().await;
    let token = w
        .service
        .invite_with_min_tier("ada", false, &Operator::local("cli"), 2)
        .await
        .unwrap();
    w.auth = synced();
    let (_, _, refused) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::Rejected(Refusal::TierBelowGrant)
    );
    assert!(
        matches!(
            w.service.invitation(&token.value).await.unwrap(),
            InvitationState::Open { .. }
        ),
        "a refused enrolment does not use the invitation"
    );
    w.auth = Authenticator::default();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    assert!(enrolled.is_ok());
    assert_eq!(
        w.service
            .invite_with_min_tier("bob", false, &Operator::local("cli"), 4)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::InvalidTier)
    );
}
