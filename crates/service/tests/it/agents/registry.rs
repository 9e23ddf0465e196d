//! Registering, showing and removing agents.

use super::*;

#[tokio::test]
async fn an_agent_is_added_shown_listed_and_removed() {
    let w = agents_world().await;
    let key = AgentKey::new();
    let op = op();
    let by = Actor::Operator(&op);
    let added = w
        .service
        .add_agent(&by, &new_agent("Report-Bot", "ada", &key), &ctx())
        .await
        .unwrap();
    assert_eq!(added.name, "report-bot", "the naming rule's canonical form");
    assert_eq!(added.owner, "ada");
    assert_eq!(added.proof, "key");
    assert_eq!(added.status, "active");
    let thumbprint = keybound_jose::Jwk::parse(&key.jwk).unwrap().thumbprint();
    assert_eq!(added.key_thumbprint.as_deref(), Some(thumbprint.as_str()));
    let event = w.last("agent.add").await.event;
    assert_eq!(event.subject.as_deref(), Some("report-bot"));
    assert_eq!(event.subject_kind.as_deref(), Some("agent"));
    assert_eq!(event.details["owner"], "ada");
    assert_eq!(event.details["proof"], format!("key:{thumbprint}"));

    assert_eq!(
        w.service.agent_view(&by, "report-bot").await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(w.service.list_agents(&by).await.unwrap(), vec![added]);
    assert_eq!(
        w.service.agent_view(&by, "ada").await.unwrap(),
        None,
        "a person"
    );

    let task = w
        .ask(&key, "report-bot", &ask(&[API], &["write"]))
        .await
        .unwrap();
    assert_eq!(task.status, "pending");
    assert_eq!(
        w.service.remove_agent(&by, "report-bot", &ctx()).await,
        Ok(1)
    );
    let removed = w
        .service
        .agent_view(&by, "report-bot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.status, "removed");
    let task = w.service.task(&by, &task.id).await.unwrap().unwrap();
    assert_eq!(task.status, "ended");
    assert_eq!(task.end_reason.as_deref(), Some("agent_removed"));
    let end = w.last("task.end").await.event;
    assert_eq!(end.details["task"], task.id);
    assert_eq!(end.details["agent"], "report-bot");
    assert_eq!(
        w.last("agent.remove").await.event.details["tasks_ended"],
        "1"
    );
    // Its proofs no longer work, and it cannot be removed twice.
    refused(
        w.ask(&key, "report-bot", &ask(&[API], &["read"])).await,
        Refusal::AgentDisabled,
    );
    refused(
        w.service.remove_agent(&by, "report-bot", &ctx()).await,
        Refusal::AgentDisabled,
    );
    assert_eq!(
        w.service.remove_agent(&by, "nobody", &ctx()).await,
        Err(ServiceError::NotFound)
    );
}

#[tokio::test]
async fn bad_agents_are_refused_with_their_reasons() {
    let w = agents_world().await;
    let op = op();
    let by = Actor::Operator(&op);
    let key = AgentKey::new();
    let good = new_agent("report-bot", "ada", &key);
    let add = |new: NewAgent| {
        let service = &w.service;
        async move { service.add_agent(&by, &new, &ctx()).await }
    };
    refused(
        add(NewAgent {
            name: String::new(),
            ..good.clone()
        })
        .await,
        Refusal::InvalidName,
    );
    refused(
        add(NewAgent {
            name: "a\u{202e}b".into(),
            ..good.clone()
        })
        .await,
        Refusal::InvalidName,
    );
    refused(
        add(NewAgent {
            name: "x".repeat(10_000),
            ..good.clone()
        })
        .await,
        Refusal::InvalidName,
    );
    refused(
        add(NewAgent {
            name: "ada".into(),
            ..good.clone()
        })
        .await,
        Refusal::AgentNameTaken,
    );
    // A look-alike of a person's name (Cyrillic а).
    refused(
        add(NewAgent {
            name: "\u{430}da".into(),
            ..good.clone()
        })
        .await,
        Refusal::NameConfusable,
    );
    refused(
        add(NewAgent {
            owner: "nobody".into(),
            ..good.clone()
        })
        .await,
        Refusal::AgentOwnerNotActive,
    );
    refused(
        add(NewAgent {
            description: "x".repeat(201),
            ..good.clone()
        })
        .await,
        Refusal::AgentInvalidDescription,
    );
    refused(
        add(NewAgent {
            description: "fine\u{1b}[2J".into(),
            ..good.clone()
        })
        .await,
        Refusal::AgentInvalidDescription,
    );
    refused(
        add(NewAgent {
            key_jwk: None,
            ..good.clone()
        })
        .await,
        Refusal::AgentProofChoice,
    );
    refused(
        add(NewAgent {
            spiffe_id: Some("spiffe://localhost/agents/report-bot".into()),
            ..good.clone()
        })
        .await,
        Refusal::AgentProofChoice,
    );
    for id in [
        "spiffe://elsewhere.test/agents/report-bot",
        "https://localhost/agents/report-bot",
        "spiffe://localhost/keybound/node/n1",
        "spiffe://localhost/",
    ] {
        refused(
            add(NewAgent {
                key_jwk: None,
                spiffe_id: Some(id.into()),
                ..good.clone()
            })
            .await,
            Refusal::AgentInvalidSpiffeId,
        );
    }
    // A key with its private part, a symmetric key, a huge one.
    let pkcs8 = JoseKey::generate_pkcs8(JoseAlg::Es256).unwrap();
    let mut private = JoseKey::from_pkcs8(JoseAlg::Es256, &pkcs8)
        .unwrap()
        .public_jwk(None)
        .unwrap()
        .to_json();
    private["d"] = json!("AAAA");
    let mut huge = key.jwk.clone();
    huge["x5c"] = json!(["A".repeat(10_000)]);
    for jwk in [
        private,
        json!({"kty": "oct", "k": "AAAA"}),
        huge,
        json!("x"),
    ] {
        refused(
            add(NewAgent {
                key_jwk: Some(jwk),
                ..good.clone()
            })
            .await,
            Refusal::AgentInvalidKey,
        );
    }
    assert!(w.service.list_agents(&by).await.unwrap().is_empty());
    let refusals: Vec<_> = w
        .all("agent.add")
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(refusals.iter().all(|e| e.outcome == Some(Outcome::Failure)));
    assert!(refusals
        .iter()
        .any(|e| e.reason.as_deref() == Some("agent_invalid_key")));
}

#[tokio::test]
async fn a_name_key_or_spiffe_id_is_registered_once() {
    let w = agents_world().await;
    let op = op();
    let by = Actor::Operator(&op);
    let key = agent(&w, "report-bot", "ada").await;
    refused(
        w.service
            .add_agent(
                &by,
                &new_agent("report-bot", "ada", &AgentKey::new()),
                &ctx(),
            )
            .await,
        Refusal::AgentNameTaken,
    );
    refused(
        w.service
            .add_agent(&by, &new_agent("other-bot", "ada", &key), &ctx())
            .await,
        Refusal::AgentKeyTaken,
    );
    let spiffe = |name: &str| NewAgent {
        name: name.into(),
        owner: "ada".into(),
        spiffe_id: Some("spiffe://localhost/agents/x".into()),
        key_jwk: None,
        description: String::new(),
    };
    let first = w
        .service
        .add_agent(&by, &spiffe("x-bot"), &ctx())
        .await
        .unwrap();
    assert_eq!(first.proof, "spiffe");
    refused(
        w.service.add_agent(&by, &spiffe("y-bot"), &ctx()).await,
        Refusal::AgentSpiffeIdTaken,
    );
    // An agent owns nothing: it cannot be another agent's owner.
    refused(
        w.service
            .add_agent(
                &by,
                &new_agent("sub-bot", "report-bot", &AgentKey::new()),
                &ctx(),
            )
            .await,
        Refusal::AgentOwnerNotActive,
    );
    assert_eq!(w.service.list_agents(&by).await.unwrap().len(), 2);
}
