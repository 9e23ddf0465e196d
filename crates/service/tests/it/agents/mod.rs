//! Issue 18, agents and their tasks: the registry, how an agent proves
//! itself, task requests within bounds and policy, and every way a task
//! ends. Each hostile case is refused, audited with its reason, and
//! changes nothing else.

use super::*;

use keybound_jose::{Algorithm as JoseAlg, SigningKey as JoseKey};
use keybound_service::policies::PolicySet;
use serde_json::json;

mod lifecycle;
mod registry;
mod svid;
mod tasks;

/// The OIDC issuer of the test world (its first origin): an agent
/// proof's audience.
const ISSUER: &str = ORIGIN;
const API: &str = "https://api.example.test/";

fn ctx() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("agent/1.0".into()),
        ..ClientContext::default()
    }
}

fn op() -> Operator {
    Operator::local("cli")
}

/// Agents may ask for anything on the test API; read-only tasks of at most
/// 15 minutes start unattended.
const POLICIES: &str = r#"
@id("agents-on-api")
permit (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://api.example.test/")
when { principal.kind == "agent" };

@id("read-only-unattended")
permit (principal, action == Keybound::Action::"task:unattended", resource)
when { ["read"].containsAll(context.actions) && context.lifetime_s <= 900 };
"#;

/// A world with the task policies and an active person `ada`.
async fn agents_world() -> World {
    let w = world().await;
    let set = PolicySet::load(&[("tasks.cedar", POLICIES)]).unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    w.enrol("ada").await;
    w
}

/// An agent's key and the assertions it signs.
struct AgentKey {
    key: JoseKey,
    jwk: Value,
}

impl AgentKey {
    fn new() -> AgentKey {
        let pkcs8 = JoseKey::generate_pkcs8(JoseAlg::Es256).unwrap();
        let key = JoseKey::from_pkcs8(JoseAlg::Es256, &pkcs8).unwrap();
        let jwk = key.public_jwk(None).unwrap().to_json();
        AgentKey { key, jwk }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "JWT".into());
        keybound_jose::sign(
            &header,
            claims,
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }

    /// A good assertion by `name` at `now_ms`, with `jti`.
    fn proof(&self, name: &str, now_ms: i64, jti: &str) -> String {
        let now = now_ms / 1000;
        self.sign(&json!({"iss": name, "sub": name, "aud": ISSUER, "iat": now,
                          "exp": now + 120, "jti": jti}))
    }
}

fn new_agent(name: &str, owner: &str, key: &AgentKey) -> NewAgent {
    NewAgent {
        name: name.into(),
        owner: owner.into(),
        spiffe_id: None,
        key_jwk: Some(key.jwk.clone()),
        description: "writes the weekly report".into(),
    }
}

/// Registers `name` (owned by `owner`) with a fresh key.
async fn agent(w: &World, name: &str, owner: &str) -> AgentKey {
    let key = AgentKey::new();
    w.service
        .add_agent(
            &Actor::Operator(&op()),
            &new_agent(name, owner, &key),
            &ctx(),
        )
        .await
        .unwrap();
    key
}

fn ask(resources: &[&str], actions: &[&str]) -> TaskRequest {
    TaskRequest {
        delegator: None,
        resources: resources.iter().map(|s| (*s).to_owned()).collect(),
        actions: actions.iter().map(|s| (*s).to_owned()).collect(),
        lifetime_s: None,
        purpose: "weekly report".into(),
    }
}

/// Asserts `result` was refused for `reason`.
fn refused<T: std::fmt::Debug>(result: Result<T, ServiceError>, reason: Refusal) {
    assert_eq!(result.unwrap_err(), ServiceError::Rejected(reason));
}

impl World {
    fn clock_ms(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    fn wait(&self, ms: i64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// A fresh jti.
    fn jti(&self) -> String {
        self.service.random_bytes()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `name` (signing with `key`) asks for `request`.
    async fn ask(
        &self,
        key: &AgentKey,
        name: &str,
        request: &TaskRequest,
    ) -> Result<TaskView, ServiceError> {
        let proof = key.proof(name, self.clock_ms(), &self.jti());
        self.service.request_task(&proof, request, &ctx()).await
    }

    /// The last audit event of `kind`.
    async fn last(&self, kind: &str) -> keybound_audit::AuditEvent {
        self.audit()
            .await
            .into_iter()
            .rev()
            .find(|e| e.event.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
    }

    /// The audit events of `kind`.
    async fn all(&self, kind: &str) -> Vec<keybound_audit::AuditEvent> {
        self.audit()
            .await
            .into_iter()
            .filter(|e| e.event.kind == kind)
            .collect()
    }
}
