//! Issue 18 on `/me`: a person approves an agent's task with a passkey
//! that signs the task as shown; the approval of one task does not
//! approve another; the task forms refuse other sites.

use keybound_service::Clock;
use keybound_soft_authenticator::Credential;
use keybound_store::{AgentRow, Identity, IdentityKind, IdentityStatus, TaskRow};

use super::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

/// Registers agent `name` owned by `owner` straight in the store (the
/// registry's use case is tested with it) and returns its identity id.
async fn agent(service: &Service, name: &str, owner: &str) -> String {
    let mut tx = service.store().begin().await.unwrap();
    let owner = tx.identity_by_name(owner).await.unwrap().unwrap();
    let id = format!("{:032x}", name.len() as u128 * 7919 + 0xa9e47);
    tx.insert_identity(&Identity {
        id: id.clone(),
        kind: IdentityKind::Agent,
        name: name.to_owned(),
        status: IdentityStatus::Active,
        is_admin: false,
        user_handle: id.as_bytes().to_vec(),
        created_ms: 1,
    })
    .await
    .unwrap();
    tx.insert_agent(&AgentRow {
        identity_id: id.clone(),
        owner_id: owner.id,
        proof: "spiffe".to_owned(),
        spiffe_id: Some(format!("spiffe://kb.test/agents/{name}")),
        key_jwk: None,
        key_thumbprint: None,
        description: String::new(),
        created_by: "test".to_owned(),
        created_ms: 1,
        status: "active".to_owned(),
        status_reason: None,
        changed_ms: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A pending task of `agent_id` delegated by `delegator`, asked now.
async fn pending_task(service: &Service, id: &str, agent_id: &str, delegator: &str, purpose: &str) {
    let mut tx = service.store().begin().await.unwrap();
    let delegator = tx.identity_by_name(delegator).await.unwrap().unwrap();
    let now = SystemClock.now_ms();
    tx.insert_task(&TaskRow {
        id: id.to_owned(),
        agent_id: agent_id.to_owned(),
        delegator_id: Some(delegator.id),
        resources: r#"["https://api.example.test/"]"#.to_owned(),
        actions: r#"["read"]"#.to_owned(),
        lifetime_s: 900,
        purpose: purpose.to_owned(),
        context: r#"{"address":"192.0.2.9","user_agent":"bot/1","agent_proof":"jwt_svid:spiffe://kb.test/agents/report-bot"}"#.to_owned(),
        status: "pending".to_owned(),
        needs_approval: true,
        created_ms: now,
        expires_ms: now + 600_000,
        approved_ms: None,
        approved_by: None,
        approval_tier: None,
        approval_credential: None,
        ended_ms: None,
        ended_by: None,
        end_reason: None,
        uses: 0,
        last_used_ms: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

const TASK1: &str = "11111111111111111111111111111111";
const TASK2: &str = "22222222222222222222222222222222";

/// alice, signed in, with two pending tasks of report-bot for her.
async fn setup() -> (Router, Arc<Service>, Browser, Credential) {
    let (app, service) = app().await;
    let token = service
        .invite("alice", false, &Operator::local("test"))
        .await
        .unwrap();
    let (browser, cred) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let bot = agent(&service, "report-bot", "alice").await;
    pending_task(&service, TASK1, &bot, "alice", "weekly report").await;
    pending_task(&service, TASK2, &bot, "alice", "export everything").await;
    (app, service, browser, cred)
}

/// The assertion alice's passkey makes for task `id`'s options.
async fn approval(browser: &mut Browser, cred: &mut Credential, id: &str) -> Value {
    let (status, options) = browser
        .post(&format!("/me/tasks/{id}/approve/options"), "{}")
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["userVerification"], "required");
    Authenticator::default().assert(
        cred,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &challenge(&options),
        },
    )
}

async fn status_of(service: &Service, id: &str) -> String {
    let mut tx = service.store().read().await.unwrap();
    tx.task(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn me_shows_the_task_as_the_passkey_signs_it() {
    let (_app, _service, mut browser, _) = setup().await;
    let (status, _, body) = browser.request("GET", "/me", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(body).unwrap();
    for shown in [
        &format!("id=\"task-{TASK1}\""),
        "Tasks for your agents",
        "report-bot",
        "https://api.example.test/",
        "weekly report",
        "export everything",
        "15 minute(s)",
        "192.0.2.9",
        "Approve with passkey",
        &format!("action=\"/me/tasks/{TASK1}/deny\""),
    ] {
        assert!(page.contains(shown), "{shown} missing");
    }
}

#[tokio::test]
async fn an_approval_copied_to_another_task_is_refused() {
    let (_app, service, mut browser, mut cred) = setup().await;
    let assertion = approval(&mut browser, &mut cred, TASK1).await;
    let (status, reply) = browser
        .post(&format!("/me/tasks/{TASK1}/approve"), assertion.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["taskStatus"], "active");
    assert_eq!(status_of(&service, TASK1).await, "active");

    // The very same assertion, sent to approve task 2: it signed task 1.
    let (status, _) = browser
        .post(&format!("/me/tasks/{TASK2}/approve"), assertion.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(status_of(&service, TASK2).await, "pending");
    let events = service.store().audit_events().await.unwrap();
    let refused = events
        .iter()
        .rev()
        .find(|e| e.event.kind == "task.approve")
        .unwrap();
    assert_eq!(
        refused.event.reason.as_deref(),
        Some("task_approval_challenge_mismatch")
    );
    assert_eq!(
        refused.event.details.get("task").map(String::as_str),
        Some(TASK2)
    );
    let approved = events
        .iter()
        .find(|e| e.event.kind == "task.approve" && e.event.reason.is_none())
        .unwrap();
    let details = &approved.event.details;
    assert_eq!(details.get("task").map(String::as_str), Some(TASK1));
    assert_eq!(details.get("delegator").map(String::as_str), Some("alice"));
    assert_eq!(details.get("agent").map(String::as_str), Some("report-bot"));
    assert!(details.contains_key("approval_tier"));
    assert!(details.contains_key("approval_credential"));
}

#[tokio::test]
async fn an_assertion_over_options_for_another_task_is_refused_first() {
    let (_app, service, mut browser, mut cred) = setup().await;
    let for_task2 = approval(&mut browser, &mut cred, TASK2).await;
    let (status, _) = browser
        .post(&format!("/me/tasks/{TASK1}/approve"), for_task2.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(status_of(&service, TASK1).await, "pending");
    // Nothing else changed: the same assertion still approves its own task.
    let (status, reply) = browser
        .post(&format!("/me/tasks/{TASK2}/approve"), for_task2.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(status_of(&service, TASK2).await, "active");
}

#[tokio::test]
async fn someone_else_cannot_approve_or_deny_the_task() {
    let (app, service, _alice, _) = setup().await;
    let token = service
        .invite("mallory", false, &Operator::local("test"))
        .await
        .unwrap();
    let (mut mallory, _) = enrol_at(&app, [127, 0, 0, 8], &token.value).await;
    let (status, _) = mallory
        .post(&format!("/me/tasks/{TASK1}/approve/options"), "{}")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = mallory
        .request(
            "POST",
            &format!("/me/tasks/{TASK1}/deny"),
            &[FORM, ("sec-fetch-site", "same-origin")],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[header::LOCATION]
        .to_str()
        .unwrap()
        .contains("task-unchanged"));
    assert_eq!(status_of(&service, TASK1).await, "pending");
    let events = service.store().audit_events().await.unwrap();
    let refused = events
        .iter()
        .rev()
        .find(|e| e.event.kind == "task.deny")
        .unwrap();
    assert_eq!(refused.event.reason.as_deref(), Some("task_not_approver"));
    // mallory's /me does not list alice's tasks.
    let (_, _, body) = mallory.request("GET", "/me", &[], "").await;
    assert!(!String::from_utf8(body).unwrap().contains(TASK1));
}

#[tokio::test]
async fn deny_and_end_now() {
    let (_app, service, mut browser, mut cred) = setup().await;
    let (status, _, _) = browser
        .request(
            "POST",
            &format!("/me/tasks/{TASK2}/deny"),
            &[FORM, ("sec-fetch-site", "same-origin")],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&service, TASK2).await, "denied");
    // A denied task is not approved afterwards.
    let (status, _) = browser
        .post(&format!("/me/tasks/{TASK2}/approve/options"), "{}")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let assertion = approval(&mut browser, &mut cred, TASK1).await;
    let (status, _) = browser
        .post(&format!("/me/tasks/{TASK1}/approve"), assertion.to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = browser.request("GET", "/me", &[], "").await;
    assert!(String::from_utf8(body).unwrap().contains("End now"));
    browser
        .request(
            "POST",
            &format!("/me/tasks/{TASK1}/end"),
            &[FORM, ("sec-fetch-site", "same-origin")],
            "",
        )
        .await;
    assert_eq!(status_of(&service, TASK1).await, "ended");
    // Ending twice changes nothing and says so.
    let (_, headers, _) = browser
        .request(
            "POST",
            &format!("/me/tasks/{TASK1}/end"),
            &[FORM, ("sec-fetch-site", "same-origin")],
            "",
        )
        .await;
    assert!(headers[header::LOCATION]
        .to_str()
        .unwrap()
        .contains("task-unchanged"));
}

#[tokio::test]
async fn task_posts_from_another_site_are_refused() {
    let (_app, service, mut browser, mut cred) = setup().await;
    for action in ["deny", "end"] {
        let (status, _, _) = browser
            .request(
                "POST",
                &format!("/me/tasks/{TASK1}/{action}"),
                &[FORM, ("sec-fetch-site", "cross-site")],
                "",
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
    }
    let assertion = approval(&mut browser, &mut cred, TASK1).await;
    for path in ["approve/options", "approve"] {
        let (status, _, _) = browser
            .request(
                "POST",
                &format!("/me/tasks/{TASK1}/{path}"),
                &[JSON, ("sec-fetch-site", "cross-site")],
                assertion.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(status_of(&service, TASK1).await, "pending");
}

#[tokio::test]
async fn a_policy_that_wants_tier_3_refuses_a_weaker_passkey() {
    use keybound_service::policies::PolicySet;
    use keybound_service::PolicyLoad;
    let (_app, service, mut browser, mut cred) = setup().await;
    let set = PolicySet::load(&[(
        "tasks.cedar",
        r#"@id("tier-3-approvals")
forbid (principal, action == Keybound::Action::"task:approve", resource)
when { context.tier < 3 };"#,
    )])
    .unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let assertion = approval(&mut browser, &mut cred, TASK1).await;
    let (status, reply) = browser
        .post(&format!("/me/tasks/{TASK1}/approve"), assertion.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["reason"], "task_tier_too_low");
    assert_eq!(status_of(&service, TASK1).await, "pending");
    let events = service.store().audit_events().await.unwrap();
    let refused = events
        .iter()
        .rev()
        .find(|e| e.event.kind == "task.approve")
        .unwrap();
    assert_eq!(
        refused.event.reason.as_deref(),
        Some("task_approval_tier_too_low")
    );
    assert_eq!(
        refused.event.details.get("policies").map(String::as_str),
        Some("tier-3-approvals")
    );
}
