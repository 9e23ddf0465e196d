use super::*;

#[tokio::test]
async fn an_entry_is_added_listed_shown_and_removed_with_its_events() {
    let w = world().await;
    owner(&w, "ada").await;
    let mut new = entry("spiffe://localhost/web", "node-1", "ada", 1000);
    new.selectors.push("unix:path:/usr/bin/web".into());
    new.dns_names = vec!["web.example.org".into()];
    new.hint = "web".into();
    new.federates_with = vec!["example-federated.org".into()];
    let added = add(&w, &new).await.unwrap();
    assert_eq!(added.owner, "ada");
    assert_eq!(added.x509_ttl_s, 3600, "the default X.509-SVID TTL");
    assert_eq!(added.jwt_ttl_s, 300, "the default JWT-SVID TTL");
    assert_eq!(
        added.selectors,
        vec![
            "unix:path:/usr/bin/web".to_owned(),
            "unix:uid:1000".to_owned()
        ]
    );
    let list = w.service.workload_entries((&op()).into()).await.unwrap();
    assert_eq!(list, vec![added.clone()]);
    let shown = w
        .service
        .workload_entry((&op()).into(), &added.id)
        .await
        .unwrap();
    assert_eq!(shown, added);
    w.service
        .remove_workload_entry((&op()).into(), &added.id, &ctx())
        .await
        .unwrap();
    assert!(w
        .service
        .workload_entries((&op()).into())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        w.service
            .remove_workload_entry((&op()).into(), &added.id, &ctx())
            .await,
        Err(ServiceError::NotFound)
    );
    let kinds: Vec<String> = w.audit().await.into_iter().map(|e| e.event.kind).collect();
    assert!(kinds.contains(&"workload.entry.add".to_owned()));
    assert!(kinds.contains(&"workload.entry.remove".to_owned()));
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn hostile_entries_are_refused_audited_and_change_nothing() {
    let w = world().await;
    owner(&w, "ada").await;
    w.service.invite("bob", false, &op()).await.unwrap();
    add(&w, &entry("spiffe://localhost/dup", "node-1", "ada", 1))
        .await
        .unwrap();
    let huge = "a".repeat(5000);
    let cases: Vec<(NewEntry, Refusal)> = vec![
        (
            entry("spiffe://other.org/web", "node-1", "ada", 1),
            Refusal::WorkloadForeignTrustDomain,
        ),
        (
            entry(
                "spiffe://localhost/keybound/node/node-2",
                "node-1",
                "ada",
                1,
            ),
            Refusal::WorkloadReservedSpiffeId,
        ),
        (
            entry("spiffe://localhost/a/../b", "node-1", "ada", 1),
            Refusal::WorkloadInvalidSpiffeId,
        ),
        (
            entry(&format!("spiffe://localhost/{huge}"), "node-1", "ada", 1),
            Refusal::WorkloadInvalidSpiffeId,
        ),
        (
            NewEntry {
                selectors: vec![],
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadNoSelectors,
        ),
        (
            NewEntry {
                selectors: vec!["unix:uid:01".into()],
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadInvalidSelector,
        ),
        (
            entry("spiffe://localhost/web", "Node_1", "ada", 1),
            Refusal::WorkloadInvalidParent,
        ),
        (
            NewEntry {
                x509_ttl_s: u32::MAX,
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadInvalidEntryField,
        ),
        (
            NewEntry {
                dns_names: vec!["*.example.org".into()],
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadInvalidEntryField,
        ),
        (
            NewEntry {
                hint: huge.clone(),
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadInvalidEntryField,
        ),
        (
            NewEntry {
                federates_with: vec![TD.into()],
                ..entry("spiffe://localhost/web", "node-1", "ada", 1)
            },
            Refusal::WorkloadInvalidEntryField,
        ),
        (
            entry("spiffe://localhost/web", "node-1", "nobody", 1),
            Refusal::WorkloadOwnerNotActive,
        ),
        (
            entry("spiffe://localhost/web", "node-1", "bob", 1),
            Refusal::WorkloadOwnerNotActive,
        ),
        (
            entry("spiffe://localhost/dup", "node-1", "ada", 1),
            Refusal::WorkloadEntryExists,
        ),
    ];
    let before = w.service.workload_entries((&op()).into()).await.unwrap();
    for (new, reason) in cases {
        refused(add(&w, &new).await, reason);
        let last = w.audit().await.pop().unwrap();
        assert_eq!(last.event.kind, "workload.entry.add");
        assert_eq!(last.event.outcome, Some(Outcome::Failure));
        assert_eq!(last.event.reason.as_deref(), Some(reason.reason()));
        assert!(last.event.subject.unwrap().chars().count() <= 256);
    }
    assert_eq!(
        w.service.workload_entries((&op()).into()).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn a_stale_administrator_manages_no_entries() {
    let w = world().await;
    owner(&w, "ada").await;
    let (_, _) = w.enrol("eve").await;
    let eve = w
        .service
        .store()
        .read()
        .await
        .unwrap()
        .identity_by_name("eve")
        .await
        .unwrap()
        .unwrap();
    let stale = Admin::stale_for_tests(eve);
    assert_eq!(
        w.service
            .add_workload_entry(
                (&stale).into(),
                &entry("spiffe://localhost/web", "node-1", "ada", 1),
                &ctx()
            )
            .await,
        Err(ServiceError::Forbidden)
    );
    assert_eq!(
        w.service.workload_entries((&stale).into()).await,
        Err(ServiceError::Forbidden)
    );
    assert_eq!(
        w.service
            .create_join_token((&stale).into(), "node-1", &[], 60_000, &ctx())
            .await,
        Err(ServiceError::Forbidden)
    );
}
