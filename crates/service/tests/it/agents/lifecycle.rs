//! Every way a task ends: its agent, an administrator, the expiry job,
//! an offboarding; and two ends racing.

use super::*;

#[tokio::test]
async fn the_agent_ends_its_own_task_and_no_other() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let other = agent(&w, "other-bot", "ada").await;
    let task = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let proof = other.proof("other-bot", w.clock_ms(), &w.jti());
    refused(
        w.service.end_task_as_agent(&proof, &task.id, &ctx()).await,
        Refusal::TaskUnknown,
    );
    let proof = key.proof("report-bot", w.clock_ms(), &w.jti());
    let ended = w
        .service
        .end_task_as_agent(&proof, &task.id, &ctx())
        .await
        .unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(ended.ended_by.as_deref(), Some("report-bot"));
    assert_eq!(ended.end_reason.as_deref(), Some("ended_by_agent"));
    let event = w.last("task.end").await.event;
    assert_eq!(event.outcome, Some(Outcome::Success));
    assert_eq!(event.details["task"], task.id);
    assert_eq!(event.details["agent"], "report-bot");
    assert_eq!(event.details["delegator"], "-");
    assert_eq!(event.details["uses"], "0");
    assert!(event.details["agent_proof"].starts_with("key:"));
    let proof = key.proof("report-bot", w.clock_ms(), &w.jti());
    refused(
        w.service.end_task_as_agent(&proof, &task.id, &ctx()).await,
        Refusal::TaskNotLive,
    );
    refused(
        w.service
            .end_task_as_agent("garbage", &task.id, &ctx())
            .await,
        Refusal::AgentProofInvalid,
    );
}

#[tokio::test]
async fn the_operator_ends_a_task_and_lists_them() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let other = agent(&w, "other-bot", "ada").await;
    let a = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let b = w
        .ask(&other, "other-bot", &ask(&[API], &["write"]))
        .await
        .unwrap();
    let op = op();
    let by = Actor::Operator(&op);
    let ended = w
        .service
        .end_task_with_reason(&by, &a.id, "suspicious\u{1b}[2J use", &ctx())
        .await
        .unwrap();
    assert_eq!(ended.ended_by.as_deref(), Some("cli"));
    assert_eq!(ended.end_reason.as_deref(), Some("suspicious[2J use"));
    refused(
        w.service.end_task(&by, &a.id, &ctx()).await,
        Refusal::TaskNotLive,
    );
    assert_eq!(
        w.service.end_task(&by, "nope", &ctx()).await,
        Err(ServiceError::NotFound)
    );
    let all = w.service.tasks(&by, &TaskFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let mine = TaskFilter {
        agent: Some("report-bot".into()),
        status: None,
    };
    let listed = w.service.tasks(&by, &mine).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| &t.id).collect::<Vec<_>>(),
        vec![&a.id]
    );
    let pending = TaskFilter {
        agent: None,
        status: Some(TaskStatus::Pending),
    };
    let listed = w.service.tasks(&by, &pending).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| &t.id).collect::<Vec<_>>(),
        vec![&b.id]
    );
    let nobody = TaskFilter {
        agent: Some("ada".into()),
        status: None,
    };
    assert!(w.service.tasks(&by, &nobody).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_expiry_job_expires_overdue_tasks_once() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let active = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let pending = w
        .ask(&key, "report-bot", &ask(&[API], &["write"]))
        .await
        .unwrap();
    assert_eq!(w.service.expire_tasks().await, Ok(0));
    w.wait(600_000 - 1);
    assert_eq!(w.service.expire_tasks().await, Ok(0), "not yet");
    w.wait(1);
    assert_eq!(
        w.service.expire_tasks().await,
        Ok(1),
        "the approval deadline"
    );
    let op = op();
    let by = Actor::Operator(&op);
    let view = w.service.task(&by, &pending.id).await.unwrap().unwrap();
    assert_eq!(view.status, "expired");
    assert_eq!(view.end_reason.as_deref(), Some("approval_timeout"));
    let event = w.last("task.expire").await.event;
    assert_eq!(event.details["task"], pending.id);
    assert_eq!(event.reason.as_deref(), Some("approval_timeout"));
    w.wait(300_000);
    assert_eq!(w.service.expire_tasks().await, Ok(1), "the lifetime");
    let view = w.service.task(&by, &active.id).await.unwrap().unwrap();
    assert_eq!(view.status, "expired");
    assert_eq!(view.end_reason.as_deref(), Some("lifetime"));
    assert_eq!(w.service.expire_tasks().await, Ok(0));
    assert_eq!(w.all("task.expire").await.len(), 2);
}

#[tokio::test]
async fn offboarding_the_owner_disables_agents_and_the_delegator_ends_tasks() {
    let w = agents_world().await;
    w.enrol("bob").await;
    let bobs = agent(&w, "bob-bot", "bob").await;
    let adas = agent(&w, "ada-bot", "ada").await;
    let own = w
        .ask(&bobs, "bob-bot", &ask(&[API], &["write"]))
        .await
        .unwrap();
    let mut for_bob = ask(&[API], &["read"]);
    for_bob.delegator = Some("bob".into());
    let delegated = w.ask(&adas, "ada-bot", &for_bob).await.unwrap();
    let unrelated = w
        .ask(&adas, "ada-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let done = w.service.offboard("bob", &op()).await.unwrap();
    assert_eq!(done.agents_disabled, 1);
    assert_eq!(done.tasks_ended, 1);
    let op = op();
    let by = Actor::Operator(&op);
    let status = |id: String| {
        let service = &w.service;
        async move { service.task(&by, &id).await.unwrap().unwrap() }
    };
    let own = status(own.id).await;
    assert_eq!(own.status, "ended");
    assert_eq!(own.end_reason.as_deref(), Some("owner_offboarded"));
    let delegated = status(delegated.id).await;
    assert_eq!(delegated.status, "ended");
    assert_eq!(
        delegated.end_reason.as_deref(),
        Some("delegator_offboarded")
    );
    assert_eq!(status(unrelated.id).await.status, "active");
    let disable = w.last("agent.disable").await.event;
    assert_eq!(disable.subject.as_deref(), Some("bob-bot"));
    assert_eq!(disable.actor.as_deref(), Some("cli"));
    assert_eq!(disable.details["tasks_ended"], "1");
    let bob_bot = w.service.agent_view(&by, "bob-bot").await.unwrap().unwrap();
    assert_eq!(bob_bot.status, "disabled");
    assert_eq!(
        w.service
            .agent_view(&by, "ada-bot")
            .await
            .unwrap()
            .unwrap()
            .status,
        "active"
    );
}

#[tokio::test]
async fn of_two_racing_ends_one_wins() {
    let w = agents_world().await;
    let key = agent(&w, "report-bot", "ada").await;
    let task = w
        .ask(&key, "report-bot", &ask(&[API], &["read"]))
        .await
        .unwrap();
    let op = op();
    let by = Actor::Operator(&op);
    let proof = key.proof("report-bot", w.clock_ms(), &w.jti());
    let c = ctx();
    let (by_agent, by_operator, by_job) = tokio::join!(
        w.service.end_task_as_agent(&proof, &task.id, &c),
        w.service.end_task(&by, &task.id, &c),
        async {
            w.wait(0);
            w.service.expire_tasks().await
        }
    );
    let wins = [by_agent.is_ok(), by_operator.is_ok()]
        .iter()
        .filter(|ok| **ok)
        .count();
    assert_eq!(wins, 1, "{by_agent:?} {by_operator:?}");
    assert_eq!(by_job, Ok(0));
    assert_eq!(
        w.all("task.end")
            .await
            .iter()
            .filter(|e| e.event.outcome == Some(Outcome::Success))
            .count(),
        1
    );
    let loser = if by_agent.is_ok() {
        by_operator.map(|_| ())
    } else {
        by_agent.map(|_| ())
    };
    assert_eq!(loser, Err(ServiceError::Rejected(Refusal::TaskNotLive)));
}

/// Two nodes on one database end the same task at once: one `task.end`.
#[tokio::test]
async fn of_two_nodes_ending_a_task_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let node = |seed: u64| {
        let url = url.clone();
        let clock = clock.clone();
        async move {
            let config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
            Service::new(
                Store::open(&url).await.unwrap(),
                config,
                clock,
                Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
            )
        }
    };
    let a = World {
        service: node(1).await,
        clock: clock.clone(),
        auth: Authenticator::default(),
    };
    let b = node(2).await;
    let set = PolicySet::load(&[("tasks.cedar", POLICIES)]).unwrap();
    a.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    a.enrol("ada").await;
    let key = agent(&a, "report-bot", "ada").await;
    let task = a
        .ask(&key, "report-bot", &ask(&[API], &["write"]))
        .await
        .unwrap();
    let op = op();
    let by = Actor::Operator(&op);
    let c = ctx();
    let (on_a, on_b) = tokio::join!(
        a.service.end_task(&by, &task.id, &c),
        b.end_task(&by, &task.id, &c)
    );
    assert_eq!(
        [on_a.is_ok(), on_b.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{on_a:?} {on_b:?}"
    );
    let ends = a.all("task.end").await;
    assert_eq!(
        ends.iter()
            .filter(|e| e.event.outcome == Some(Outcome::Success))
            .count(),
        1
    );
    assert_eq!(
        ends.iter()
            .filter(|e| e.event.reason.as_deref() == Some("task_not_live"))
            .count(),
        1
    );
}
