//! How an agent proves itself, and asking for tasks.

use super::*;

#[tokio::test]
async fn a_key_assertion_proves_the_agent_once() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let now = w.clock_ms() / 1000;
    let request = ask(&[API], &["read"]);
    let proof = key.proof("report-bot", w.clock_ms(), "j-1");
    let task = w
        .service
        .request_task(&proof, &request, &ctx())
        .await
        .unwrap();
    assert_eq!(task.agent, "report-bot");
    let thumbprint = keybound_jose::Jwk::parse(&key.jwk).unwrap().thumbprint();
    assert_eq!(task.context["agent_proof"], format!("key:{thumbprint}"));
    assert_eq!(task.context["address"], "192.0.2.7");
    assert_eq!(task.context["user_agent"], "agent/1.0");
    // The same assertion again: a replay.
    refused(
        w.service.request_task(&proof, &request, &ctx()).await,
        Refusal::AgentProofReplayed,
    );
    let claims = |over: Value| {
        let mut c = json!({"iss": "report-bot", "sub": "report-bot", "aud": ISSUER,
                           "iat": now, "exp": now + 60, "jti": w.jti()});
        for (k, v) in over.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let cases = [
        (
            key.sign(&claims(json!({"exp": now - 120, "iat": now - 200}))),
            Refusal::AgentProofExpired,
        ),
        (
            key.sign(&claims(json!({"exp": now + 600}))),
            Refusal::AgentProofExpired,
        ),
        (
            key.sign(&claims(json!({"aud": "https://elsewhere.test"}))),
            Refusal::AgentProofInvalid,
        ),
        (
            key.sign(&claims(json!({"sub": "other"}))),
            Refusal::AgentProofInvalid,
        ),
        (
            key.sign(&claims(json!({"iss": "ghost-bot", "sub": "ghost-bot"}))),
            Refusal::AgentUnknown,
        ),
        (
            key.sign(&claims(json!({"iss": "ada", "sub": "ada"}))),
            Refusal::AgentUnknown,
        ),
        (
            AgentKey::new().sign(&claims(json!({}))),
            Refusal::AgentProofInvalid,
        ),
        ("not a token".to_owned(), Refusal::AgentProofInvalid),
        ("x".repeat(20_000), Refusal::AgentProofInvalid),
    ];
    for (proof, reason) in cases {
        refused(
            w.service.request_task(&proof, &request, &ctx()).await,
            reason,
        );
    }
    let refusals = w.all("task.request").await;
    assert!(refusals
        .iter()
        .any(|e| e.event.reason.as_deref() == Some("agent_proof_replayed")));
    // Only the first request made a task.
    let op = op();
    let all = w
        .service
        .tasks(&Actor::Operator(&op), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn an_agent_of_an_inactive_owner_is_refused() {
    let w = agents_world().await;
    w.enrol("bob").await;
    let key = agent(&w, "bob-bot", "bob").await;
    w.service.offboard("bob", &op()).await.unwrap();
    let agent = w
        .service
        .agent_view(&Actor::Operator(&op()), "bob-bot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(agent.status, "disabled");
    refused(
        w.ask(&key, "bob-bot", &ask(&[API], &["read"])).await,
        Refusal::AgentDisabled,
    );
}

#[tokio::test]
async fn a_suspended_owner_or_the_wrong_kind_of_proof_is_refused() {
    let w = agents_world().await;
    w.enrol("bob").await;
    let key = agent(&w, "bob-bot", "bob").await;
    assert!(w
        .ask(&key, "bob-bot", &ask(&[API], &["read"]))
        .await
        .is_ok());
    w.service.suspend("bob", &op()).await.unwrap();
    refused(
        w.ask(&key, "bob-bot", &ask(&[API], &["read"])).await,
        Refusal::AgentOwnerNotActive,
    );
    // An agent registered with a SPIFFE ID proves nothing with a key.
    w.service
        .add_agent(
            &Actor::Operator(&op()),
            &NewAgent {
                name: "svid-bot".into(),
                owner: "ada".into(),
                spiffe_id: Some("spiffe://localhost/agents/svid-bot".into()),
                key_jwk: None,
                description: String::new(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    refused(
        w.ask(&AgentKey::new(), "svid-bot", &ask(&[API], &["read"]))
            .await,
        Refusal::AgentProofInvalid,
    );
}

#[tokio::test]
async fn policy_decides_between_active_pending_and_refused() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let now = w.clock_ms();
    let read = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    assert_eq!(read.status, "active");
    assert!(!read.needs_approval);
    assert_eq!(read.approved_by.as_deref(), Some("policy"));
    assert_eq!(read.approval_tier, Some(0));
    assert_eq!(read.lifetime_s, 900);
    assert_eq!(read.expires_ms, now + 900_000);
    let event = w.last("task.request").await.event;
    assert_eq!(event.details["task"], read.id);
    assert_eq!(event.details["status"], "active");
    assert_eq!(event.details["delegator"], "-");
    assert_eq!(event.details["resources"], API);
    assert_eq!(event.details["actions"], "read");
    assert_eq!(event.details["lifetime_s"], "900");
    assert!(event.details["agent_proof"].starts_with("key:"));

    let mut write = ask(&["HTTPS://API.example.test"], &["write", "read", "write"]);
    write.delegator = Some("ada".into());
    write.lifetime_s = Some(600);
    let pending = w.ask(&key, "report-bot", &write).await.unwrap();
    assert_eq!(pending.status, "pending");
    assert!(pending.needs_approval);
    assert_eq!(pending.resources, vec![API.to_owned()], "one spelling");
    assert_eq!(pending.actions, vec!["read".to_owned(), "write".to_owned()]);
    assert_eq!(pending.delegator.as_deref(), Some("ada"));
    assert_eq!(pending.expires_ms, now + 600_000, "the approval deadline");
    assert_eq!(
        w.last("task.request").await.event.details["delegator"],
        "ada"
    );

    // Longer than 15 minutes: no longer unattended.
    let mut long = ask(&[API], &["read"]);
    long.lifetime_s = Some(1800);
    assert_eq!(
        w.ask(&key, "report-bot", &long).await.unwrap().status,
        "pending"
    );
    let refused_api = w
        .ask(
            &key,
            "report-bot",
            &ask(&[API, "https://other.example.test/"], &["read"]),
        )
        .await;
    refused(refused_api, Refusal::TaskNotPermitted);
    let event = w.last("task.request").await.event;
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert!(event
        .reason
        .unwrap()
        .contains("https://other.example.test/"));
}

#[tokio::test]
async fn task_requests_out_of_bounds_are_refused() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    w.enrol("bob").await;
    w.service.offboard("bob", &op()).await.unwrap();
    let base = ask(&[API], &["read"]);
    let with = |f: &dyn Fn(&mut TaskRequest)| {
        let mut r = base.clone();
        f(&mut r);
        r
    };
    let cases: Vec<(TaskRequest, Refusal)> = vec![
        (with(&|r| r.resources.clear()), Refusal::TaskInvalidResource),
        (
            with(&|r| r.resources = vec!["http://api.example.test/".into()]),
            Refusal::TaskInvalidResource,
        ),
        (
            with(&|r| r.resources = vec![format!("{API}{}", "a".repeat(600))]),
            Refusal::TaskInvalidResource,
        ),
        (
            with(&|r| {
                r.resources = (0..17)
                    .map(|i| format!("https://a{i}.example.test/"))
                    .collect()
            }),
            Refusal::TaskInvalidResource,
        ),
        (with(&|r| r.actions.clear()), Refusal::TaskInvalidAction),
        (
            with(&|r| r.actions = vec!["READ".into()]),
            Refusal::TaskInvalidAction,
        ),
        (
            with(&|r| r.actions = (0..17).map(|i| format!("a{i}")).collect()),
            Refusal::TaskInvalidAction,
        ),
        (
            with(&|r| r.purpose = "p".repeat(501)),
            Refusal::TaskInvalidPurpose,
        ),
        (
            with(&|r| r.purpose = "look \u{202e}here".into()),
            Refusal::TaskInvalidPurpose,
        ),
        (
            with(&|r| r.lifetime_s = Some(59)),
            Refusal::TaskInvalidLifetime,
        ),
        (
            with(&|r| r.lifetime_s = Some(3601)),
            Refusal::TaskInvalidLifetime,
        ),
        (
            with(&|r| r.delegator = Some("bob".into())),
            Refusal::TaskDelegatorNotActive,
        ),
        (
            with(&|r| r.delegator = Some("report-bot".into())),
            Refusal::TaskDelegatorNotActive,
        ),
        (
            with(&|r| r.delegator = Some("nobody".into())),
            Refusal::TaskDelegatorNotActive,
        ),
    ];
    for (request, reason) in cases {
        refused(w.ask(&key, "report-bot", &request).await, reason);
        let event = w.last("task.request").await.event;
        assert_eq!(event.actor.as_deref(), Some("report-bot"));
        assert!(event.reason.unwrap().starts_with(reason.reason()));
    }
    let op = op();
    assert!(w
        .service
        .tasks(&Actor::Operator(&op), &TaskFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_agent_has_at_most_twenty_tasks_pending() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let write = ask(&[API], &["write"]);
    for _ in 0..20 {
        assert_eq!(
            w.ask(&key, "report-bot", &write).await.unwrap().status,
            "pending"
        );
    }
    refused(
        w.ask(&key, "report-bot", &write).await,
        Refusal::TaskTooManyPending,
    );
    // Unattended tasks wait for nobody: still allowed.
    assert_eq!(
        w.ask(&key, "report-bot", &ask(&[API], &["read"]))
            .await
            .unwrap()
            .status,
        "active"
    );
    // Another agent has its own allowance.
    let other = agent(&w, "other-bot", "ada").await;
    assert!(w.ask(&other, "other-bot", &write).await.is_ok());
}

#[tokio::test]
async fn an_agent_reads_only_its_own_tasks() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let other = agent(&w, "other-bot", "ada").await;
    let task = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let proof = key.proof("report-bot", w.clock_ms(), &w.jti());
    assert_eq!(
        w.service.agent_task(&proof, &task.id).await,
        Ok(task.clone())
    );
    let proof = other.proof("other-bot", w.clock_ms(), &w.jti());
    assert_eq!(
        w.service.agent_task(&proof, &task.id).await,
        Err(ServiceError::NotFound)
    );
    let proof = key.proof("report-bot", w.clock_ms(), &w.jti());
    assert_eq!(
        w.service.agent_task(&proof, "no-such-task").await,
        Err(ServiceError::NotFound)
    );
}
