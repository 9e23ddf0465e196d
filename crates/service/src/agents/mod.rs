//! Agents and their task credentials (issue 18). An agent is an identity of
//! kind `agent` with an owner and a way to prove itself (a SPIFFE ID, or a
//! public key registered for it). A task is what one agent may do, for
//! whom, for how long; policy decides whether it may be asked for and
//! whether a person must approve it with a passkey. The token exchange
//! (RFC 8693) mints short-lived task tokens bound to a key the agent holds
//! (DPoP, RFC 9449), which forward-auth checks at every request and which
//! die with their task.
//!
//! Who approves: the delegating person, or, for an agent acting on its own
//! entitlement, the agent's owner. Every issuance, approval and end is an
//! audit event carrying the chain person -> agent -> task.

pub(crate) mod exchange;
pub(crate) mod forward;
pub(crate) mod tokens;
pub(crate) mod usage;

#[cfg(test)]
mod task_tests;

pub use exchange::{TokenProof, TOKEN_EXCHANGE};
pub(crate) use usage::Agents;

use keybound_store::TaskRow;

/// The task settings (`--task-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSettings {
    /// A task's lifetime when the agent asks for none, seconds.
    pub default_lifetime_s: i64,
    /// The longest lifetime a task may have, seconds (policy may refuse
    /// shorter ones through `context.lifetime_s`).
    pub max_lifetime_s: i64,
    /// How long a task waits for its approval, seconds.
    pub approval_ttl_s: i64,
    /// How long one task token lives (never past its task), seconds.
    pub token_ttl_s: i64,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            default_lifetime_s: 900,
            max_lifetime_s: 3600,
            approval_ttl_s: 600,
            token_ttl_s: 300,
        }
    }
}

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for a person's approval.
    Pending,
    /// Approved (or needing none) and within its lifetime.
    Active,
    /// A person said no.
    Denied,
    /// Ended by its agent, its person, an administrator, an offboarding or
    /// a removal.
    Ended,
    /// Its approval deadline or lifetime passed.
    Expired,
}

impl TaskStatus {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Active => "active",
            TaskStatus::Denied => "denied",
            TaskStatus::Ended => "ended",
            TaskStatus::Expired => "expired",
        }
    }

    /// The status spelled `s`, if it is one.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        [
            TaskStatus::Pending,
            TaskStatus::Active,
            TaskStatus::Denied,
            TaskStatus::Ended,
            TaskStatus::Expired,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A stored JSON array of strings (resources, actions); a corrupt one
/// reads as empty, which grants nothing.
#[allow(dead_code)] // used by the task use cases as they land
pub(crate) fn string_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// A task as the faces show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskView {
    /// Its id.
    pub id: String,
    /// The agent's account name.
    pub agent: String,
    /// The delegating person's account name, if any.
    pub delegator: Option<String>,
    /// Resource URIs it may touch.
    pub resources: Vec<String>,
    /// Actions (scope values) it may take.
    pub actions: Vec<String>,
    /// Lifetime once active, seconds.
    pub lifetime_s: i64,
    /// What the agent says it is for.
    pub purpose: String,
    /// The requesting context (address, user agent, the agent's proof).
    pub context: serde_json::Value,
    /// `pending`, `active`, `denied`, `ended` or `expired`.
    pub status: String,
    /// Whether policy asked for an approval.
    pub needs_approval: bool,
    /// Requested, ms.
    pub created_ms: i64,
    /// Pending: approval deadline; active: end, ms.
    pub expires_ms: i64,
    /// Who approved it, and with which tier.
    pub approved_by: Option<String>,
    /// The approving passkey's tier.
    pub approval_tier: Option<i64>,
    /// When it ended, by whom, why.
    pub ended_ms: Option<i64>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// Why.
    pub end_reason: Option<String>,
    /// Requests made with it through forward-auth.
    pub uses: i64,
}

impl TaskView {
    /// The view of `row`, with the agent's and delegator's names.
    #[allow(dead_code)] // used by the task use cases as they land
    pub(crate) fn of(row: &TaskRow, agent: String, delegator: Option<String>) -> TaskView {
        TaskView {
            id: row.id.clone(),
            agent,
            delegator,
            resources: string_list(&row.resources),
            actions: string_list(&row.actions),
            lifetime_s: row.lifetime_s,
            purpose: row.purpose.clone(),
            context: serde_json::from_str(&row.context).unwrap_or_default(),
            status: row.status.clone(),
            needs_approval: row.needs_approval,
            created_ms: row.created_ms,
            expires_ms: row.expires_ms,
            approved_by: row.approved_by.clone(),
            approval_tier: row.approval_tier,
            ended_ms: row.ended_ms,
            ended_by: row.ended_by.clone(),
            end_reason: row.end_reason.clone(),
            uses: row.uses,
        }
    }
}

/// An agent as the faces show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentView {
    /// Its account name.
    pub name: String,
    /// Its owner's account name.
    pub owner: String,
    /// `spiffe` or `key`.
    pub proof: String,
    /// Its SPIFFE ID (proof `spiffe`).
    pub spiffe_id: Option<String>,
    /// Its key's RFC 7638 thumbprint (proof `key`).
    pub key_thumbprint: Option<String>,
    /// What it is for.
    pub description: String,
    /// `active`, `disabled` or `removed`.
    pub status: String,
    /// Why it is not active.
    pub status_reason: Option<String>,
    /// Registered, ms.
    pub created_ms: i64,
}

pub(crate) mod authenticate;
pub(crate) mod bounds;
pub(crate) mod dpop;
pub(crate) mod lifecycle;
pub(crate) mod nonce;
pub(crate) mod policy;
pub(crate) mod registry;
pub(crate) mod tasks;

pub use lifecycle::TaskFilter;
pub use registry::NewAgent;
pub use tasks::TaskRequest;

mod approval;
mod mine;
