//! Refused ceremonies say why, from a fixed list of reasons, when the
//! person can do something about it; and never in a way that tells a name
//! with an account from one without.

use keybound_service::Tier;

use super::*;

fn ceremony(c: &[u8]) -> Ceremony<'_> {
    Ceremony {
        rp_id: "localhost",
        origin: ORIGIN,
        challenge: c,
    }
}

/// A key below the registration minimum: refused, and the reply says the
/// tier is too low.
#[tokio::test]
async fn an_enrolment_below_the_tier_policy_says_so() {
    let (app, service) = app_with(|c| c.policy.registration_min_tier = Tier::DeviceBound).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let mut browser = Browser::new(app);
    let (_, options) = browser
        .post(
            "/attestation/options",
            json!({ "token": token.value }).to_string(),
        )
        .await;
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let synced = Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..Authenticator::default()
    };
    let (_, json) = synced.register(Algorithm::Es256, &ceremony(&c), &user);
    let (status, reply) = browser.post("/attestation/result", json.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["status"], "failed");
    assert_eq!(reply["reason"], "tier_too_low", "{reply}");

    // The answer from another browser (another tab's challenge, or one
    // that expired): no challenge matches.
    let mut other = Browser::new(browser.app.clone());
    other
        .post("/assertion/options", json!({}).to_string())
        .await;
    let (_, reply) = other.post("/attestation/result", json.to_string()).await;
    assert_eq!(reply["reason"], "timed_out", "{reply}");
}

/// Signs in username-less with `cred`.
async fn sign_in(
    browser: &mut Browser,
    cred: &mut keybound_soft_authenticator::Credential,
) -> (StatusCode, Value) {
    let (_, options) = browser
        .post("/assertion/options", json!({"username": ""}).to_string())
        .await;
    let c = challenge(&options);
    let json = Authenticator::default().assert(cred, &ceremony(&c));
    browser.post("/assertion/result", json.to_string()).await
}

/// A passkey quarantined as a suspected clone is named as such at sign-in;
/// a bad signature is not explained.
#[tokio::test]
async fn a_quarantined_passkey_says_so_and_a_bad_one_does_not() {
    let (app, service) = app().await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (mut browser, mut cred) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let (status, _) = sign_in(&mut browser, &mut cred).await;
    assert_eq!(status, StatusCode::OK);
    // A counter that did not grow: quarantined.
    cred.sign_count -= 1;
    let (status, reply) = sign_in(&mut browser, &mut cred).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.get("reason").is_none(), "{reply}");
    let (_, reply) = sign_in(&mut browser, &mut cred).await;
    assert_eq!(reply["reason"], "credential_quarantined", "{reply}");
}

/// Sign-in by name: an answer without user verification for a real
/// account's passkey and for the decoy of a name without one get the same
/// reply, with no reason.
#[tokio::test]
async fn sign_in_refusals_do_not_tell_accounts_from_decoys() {
    let (app, service) = app_with(|c| c.policy.require_user_verification = true).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut real) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let no_uv = Authenticator {
        user_verified: false,
        ..Authenticator::default()
    };
    let mut replies = Vec::new();
    for name in ["ada", "nobody"] {
        let mut browser = Browser::at(app.clone(), [127, 0, 0, 9]);
        let (_, options) = browser
            .post(
                "/assertion/options",
                json!({"username": name, "userVerification": "required"}).to_string(),
            )
            .await;
        let id = b64::decode(options["allowCredentials"][0]["id"].as_str().unwrap()).unwrap();
        let saved = std::mem::replace(&mut real.id, id);
        let c = challenge(&options);
        let json = no_uv.assert(&mut real, &ceremony(&c));
        real.id = saved;
        replies.push(browser.post("/assertion/result", json.to_string()).await);
    }
    assert_eq!(replies[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(replies[0], replies[1]);
    assert!(replies[0].1.get("reason").is_none(), "{:?}", replies[0]);
}
