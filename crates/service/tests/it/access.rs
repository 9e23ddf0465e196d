//! The authorization seam over loaded Cedar policies: installs audited with
//! the set's hash, the console decided through it, denials recorded and
//! rate-limited.

use super::*;
use crate::authority::admin;
use keybound_service::policies::PolicySet;

fn route(principal: Option<AccessPrincipal>, path: &str, tier: i64) -> AccessRequest {
    AccessRequest {
        principal,
        action: AccessAction::Http("GET".into()),
        resource: AccessResource::Route {
            host: "app.example.com".into(),
            path: path.into(),
        },
        context: AccessContext {
            tier,
            user_verified: true,
            auth_age_s: 0,
            client_ip: None,
            now_s: 0,
            backup_met: true,
            session_bound: false,
            device: None,
            task: None,
            task_request: None,
        },
    }
}

fn ann() -> AccessPrincipal {
    AccessPrincipal {
        id: "id-ann".into(),
        kind: IdentityKind::Person,
        name: "ann".into(),
        groups: vec!["user".into()],
        active: true,
    }
}

const APP: &str = r#"
@id("app-users")
permit (principal in Keybound::Group::"user", action, resource in Keybound::App::"app.example.com");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"app.example.com")
  when { resource.path like "/admin*" && context.tier < 3 };
"#;

#[tokio::test]
async fn routes_are_denied_until_a_policy_permits_and_each_load_is_audited() {
    let w = world().await;
    assert_eq!(
        w.service.decide(&route(None, "/", 1)),
        AccessDecision::SignIn
    );
    assert_eq!(
        w.service.decide(&route(Some(ann()), "/", 3)),
        AccessDecision::Deny { policies: vec![] },
        "the default deny"
    );
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    let hash = set.hash().to_owned();
    w.service
        .install_policies(set, PolicyLoad::Reload, Some("/etc/keybound/policies"))
        .await
        .unwrap();
    assert_eq!(w.service.policy_hash().as_deref(), Some(hash.as_str()));
    assert_eq!(
        w.service.decide(&route(Some(ann()), "/", 1)),
        AccessDecision::Allow {
            policies: vec!["app-users".into()]
        }
    );
    assert_eq!(
        w.service.decide(&route(Some(ann()), "/admin/x", 2)),
        AccessDecision::StepUp {
            tier: Tier::AttestedHardware
        }
    );
    let events = w.audit().await;
    let load = events
        .iter()
        .rev()
        .find(|e| e.event.kind == "policy.load")
        .expect("a policy.load event");
    assert_eq!(load.event.details.get("hash"), Some(&hash));
    assert_eq!(
        load.event.details.get("load").map(String::as_str),
        Some("reload")
    );
    assert_eq!(load.event.outcome, Some(Outcome::Success));

    w.service
        .record_policy_refused("app.cedar: syntax: nope")
        .await
        .unwrap();
    let events = w.audit().await;
    let refused = events.last().unwrap();
    assert_eq!(refused.event.kind, "policy.load");
    assert_eq!(refused.event.outcome, Some(Outcome::Failure));
    assert_eq!(
        refused.event.details.get("kept"),
        Some(&hash),
        "the set kept"
    );
    assert_eq!(w.service.policy_hash().as_deref(), Some(hash.as_str()));
}

#[tokio::test]
async fn denials_are_recorded_with_their_policies_once_a_minute_per_key() {
    let w = world().await;
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let request = route(Some(ann()), "/admin/x", 2);
    let decision = w.service.decide(&request);
    let ctx = ClientContext::default();
    assert!(w
        .service
        .record_denial(&request, &decision, &ctx)
        .await
        .unwrap());
    assert!(!w
        .service
        .record_denial(&request, &decision, &ctx)
        .await
        .unwrap());
    let other = route(Some(ann()), "/admin/y", 2);
    assert!(
        w.service
            .record_denial(&other, &decision, &ctx)
            .await
            .unwrap(),
        "another route is another key"
    );
    w.clock.0.fetch_add(60_000, Ordering::SeqCst);
    assert!(w
        .service
        .record_denial(&request, &decision, &ctx)
        .await
        .unwrap());
    let denied: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.kind == "access.denied")
        .collect();
    assert_eq!(denied.len(), 3);
    let first = &denied[0].event;
    assert_eq!(first.subject.as_deref(), Some("ann"));
    assert_eq!(
        first.details.get("decision").map(String::as_str),
        Some("step_up")
    );
    assert_eq!(
        first.details.get("resource").map(String::as_str),
        Some("app.example.com/admin/x")
    );
    let plain = route(Some(ann()), "/", 2);
    let mut stranger = plain.clone();
    stranger.resource = AccessResource::Route {
        host: "other.example.com".into(),
        path: "/".into(),
    };
    let decision = w.service.decide(&stranger);
    assert!(w
        .service
        .record_denial(&stranger, &decision, &ctx)
        .await
        .unwrap());
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(
        last.details.get("policies").map(String::as_str),
        Some("default deny")
    );
    let all = w.audit().await;
    let n = all.len() as u64;
    assert_eq!(verify_chain(all).unwrap(), n);
}

#[tokio::test]
async fn an_operator_forbid_on_the_console_is_its_own_refusal() {
    let w = world().await;
    let (_, session) = admin(&w, "root").await;
    let set = PolicySet::load(&[(
        "console.cedar",
        r#"@id("console-from-loopback") forbid (principal, action == Keybound::Action::"admin:console", resource)
           unless { context has client_ip && context.client_ip.isLoopback() };"#,
    )])
    .unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let outside = ClientContext {
        ip: Some("192.0.2.7".into()),
        user_agent: None,
        hints: Default::default(),
    };
    assert_eq!(
        w.service
            .authorize_admin(&session.value, &outside)
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.kind, "admin.console");
    assert_eq!(last.reason.as_deref(), Some("policy_forbids"));
    let inside = ClientContext {
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        hints: Default::default(),
    };
    assert!(w
        .service
        .authorize_admin(&session.value, &inside)
        .await
        .is_ok());
}
