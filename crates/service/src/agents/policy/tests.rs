use std::sync::Arc;

use keybound_policy::PolicySet;
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::{Clock, Config, IdentityKind, PolicyLoad};

const NOW_MS: i64 = 1_800_000_000_000;
const REPORTS: &str = "https://reports.example.test/";
const PAY: &str = "https://pay.example.test/";

struct Fixed;

impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        NOW_MS
    }
}

/// report-bot may ask for read on the reports API, pay-bot for pay on the
/// payments API for a person; short read-only tasks start unattended;
/// payments need a tier-3 approval.
const POLICIES: &str = r#"
@id("report-bot-read")
permit (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://reports.example.test/")
when { principal.kind == "agent" && principal.name == "report-bot" && ["read"].containsAll(context.actions) };

@id("pay-bot-delegated")
permit (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://pay.example.test/")
when { principal.name == "pay-bot" && context.delegated && context.owner == "olga" };

@id("no-night-payments")
forbid (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://pay.example.test/")
when { context has client_ip && context.client_ip.isInRange(ip("203.0.113.0/24")) };

@id("read-only-unattended")
permit (principal, action == Keybound::Action::"task:unattended", resource)
when { ["read"].containsAll(context.actions) && context.lifetime_s <= 900 };

@id("payments-tier3-approval")
forbid (principal, action == Keybound::Action::"task:approve",
        resource == Keybound::Api::"https://pay.example.test/")
when { context.tier < 3 };
"#;

async fn service(dir: &std::path::Path, policies: Option<&str>) -> Service {
    let url = format!("sqlite://{}", dir.join("kb.db").display());
    let config = Config::new(
        "kb.test",
        OriginPolicy::exact(["https://kb.test"]).unwrap(),
        [0; 32],
    );
    let service = Service::new(
        Store::open(&url).await.unwrap(),
        config,
        Arc::new(Fixed),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(7)),
    );
    if let Some(text) = policies {
        let set = PolicySet::load(&[("tasks.cedar", text)]).unwrap();
        service
            .install_policies(set, PolicyLoad::Start, None)
            .await
            .unwrap();
    }
    service
}

fn agent(name: &str) -> AccessPrincipal {
    AccessPrincipal {
        id: format!("id-{name}"),
        kind: IdentityKind::Agent,
        name: name.into(),
        groups: Vec::new(),
        active: true,
    }
}

/// Owned parts of a question, borrowed by `question`.
struct Ask {
    agent: AccessPrincipal,
    delegator: Option<&'static str>,
    resources: Vec<String>,
    actions: Vec<String>,
    lifetime_s: i64,
    client_ip: Option<String>,
}

fn ask(name: &str, resources: &[&str], actions: &[&str]) -> Ask {
    Ask {
        agent: agent(name),
        delegator: Some("alice"),
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        lifetime_s: 600,
        client_ip: Some("192.0.2.7".into()),
    }
}

impl Ask {
    fn question(&self) -> TaskQuestion<'_> {
        TaskQuestion {
            agent: &self.agent,
            owner: "olga",
            delegator: self.delegator,
            resources: &self.resources,
            actions: &self.actions,
            lifetime_s: self.lifetime_s,
            client_ip: self.client_ip.clone(),
            now_s: NOW_MS / 1000,
        }
    }
}

#[tokio::test]
async fn by_default_every_task_request_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), None).await;
    let q = ask("report-bot", &[REPORTS], &["read"]);
    assert_eq!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused {
            resource: REPORTS.into(),
            policies: Vec::new()
        }
    );
}

#[tokio::test]
async fn a_permitted_read_only_task_starts_unattended() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    let q = ask("report-bot", &[REPORTS], &["read"]);
    assert_eq!(s.decide_task(&q.question()), TaskVerdict::Unattended);
    // Longer than the unattended rule allows: a person approves it.
    let mut long = ask("report-bot", &[REPORTS], &["read"]);
    long.lifetime_s = 901;
    assert_eq!(s.decide_task(&long.question()), TaskVerdict::NeedsApproval);
}

#[tokio::test]
async fn a_task_needs_approval_unless_every_api_may_go_unattended() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    let q = ask("pay-bot", &[PAY], &["pay"]);
    assert_eq!(s.decide_task(&q.question()), TaskVerdict::NeedsApproval);
}

#[tokio::test]
async fn every_api_must_be_permitted_and_the_refused_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    // report-bot may not ask for the payments API.
    let q = ask("report-bot", &[REPORTS, PAY], &["read"]);
    assert_eq!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused {
            resource: PAY.into(),
            policies: Vec::new()
        }
    );
    // Nor for write, though it may read.
    let q = ask("report-bot", &[REPORTS], &["read", "write"]);
    assert!(matches!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused { .. }
    ));
    // Nor may another agent, or a person of that name.
    let q = ask("other-bot", &[REPORTS], &["read"]);
    assert!(matches!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused { .. }
    ));
    let mut q = ask("report-bot", &[REPORTS], &["read"]);
    q.agent.kind = IdentityKind::Person;
    assert!(matches!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused { .. }
    ));
}

#[tokio::test]
async fn the_facts_reach_policy_and_a_forbid_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    // Autonomous: pay-bot may only ask for a person.
    let mut q = ask("pay-bot", &[PAY], &["pay"]);
    q.delegator = None;
    assert!(matches!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused { .. }
    ));
    // From the forbidden network: refused, the forbid named.
    let mut q = ask("pay-bot", &[PAY], &["pay"]);
    q.client_ip = Some("203.0.113.9".into());
    assert_eq!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused {
            resource: PAY.into(),
            policies: vec!["no-night-payments".into()]
        }
    );
}

#[tokio::test]
async fn a_task_naming_no_api_is_refused_and_cannot_be_approved() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    let q = ask("report-bot", &[], &["read"]);
    assert!(matches!(
        s.decide_task(&q.question()),
        TaskVerdict::Refused { .. }
    ));
    assert_eq!(s.decide_approval(&q.question(), 3, true), Err(Vec::new()));
}

#[tokio::test]
async fn an_approval_wants_user_verification_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), None).await;
    let q = ask("report-bot", &[REPORTS], &["read"]);
    assert_eq!(s.decide_approval(&q.question(), 1, true), Ok(()));
    assert_eq!(s.decide_approval(&q.question(), 3, false), Err(Vec::new()));
}

#[tokio::test]
async fn a_payment_approval_wants_a_tier_3_passkey_without_a_step_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Some(POLICIES)).await;
    let q = ask("pay-bot", &[REPORTS, PAY], &["pay"]);
    assert_eq!(
        s.decide_approval(&q.question(), 2, true),
        Err(vec!["payments-tier3-approval".to_owned()])
    );
    assert_eq!(s.decide_approval(&q.question(), 3, true), Ok(()));
    assert_eq!(s.decide_approval(&q.question(), 3, false), Err(Vec::new()));
    // The seam itself answers a denial, never a step-up, for a task action.
    let request = AccessRequest {
        principal: Some(agent("pay-bot")),
        action: AccessAction::TaskApprove,
        resource: AccessResource::Api { uri: PAY.into() },
        context: AccessContext {
            tier: 2,
            user_verified: true,
            auth_age_s: 0,
            client_ip: None,
            now_s: NOW_MS / 1000,
            backup_met: true,
            session_bound: false,
            device: None,
            task: None,
            task_request: Some(TaskFacts::default()),
        },
    };
    assert_eq!(
        s.decide(&request),
        AccessDecision::Deny {
            policies: vec!["payments-tier3-approval".into()]
        }
    );
}
