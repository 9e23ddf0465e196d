//! An agent asks for a task (`POST /agents/v1/tasks`): what it may do
//! (actions) on which APIs (resources), for whom (a delegator, or nobody
//! when it acts on its own entitlement), for how long and why. In one
//! transaction: its proof, the bounds, the delegator, Cedar
//! (`task:request` on every API, then `task:unattended`), the cap on tasks
//! waiting for approval, the task row and `task.request`. Policy's answer
//! decides the status: refused, active at once (unattended), or pending
//! until the delegator (or, with none, the agent's owner) approves it.

use keybound_audit::NewEvent;
use keybound_store::{IdentityKind, IdentityStatus, TaskRow, WriteTx};

use crate::people::PersonByName;
use crate::record::Record;
use crate::tokens::hex_id;
use crate::{AccessPrincipal, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::authenticate::AuthenticatedAgent;
use super::lifecycle::{clip, task_event, task_view};
use super::policy::{TaskQuestion, TaskVerdict};
use super::registry::agent_event;
use super::{bounds, TaskStatus, TaskView};

/// Tasks one agent may have waiting for approval at once.
pub const MAX_PENDING_TASKS: i64 = 20;

/// A task as the agent asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct TaskRequest {
    /// The person the agent acts for (an active person's account name), or
    /// `None` when it acts on its own entitlement.
    #[serde(default)]
    pub delegator: Option<String>,
    /// Resource URIs (RFC 8707), 1 to 16.
    pub resources: Vec<String>,
    /// Actions (scope values), 1 to 16.
    pub actions: Vec<String>,
    /// Lifetime once active, seconds; `None`: `--task-default-lifetime`.
    #[serde(default)]
    pub lifetime_s: Option<i64>,
    /// What it is for, shown to the approver (at most 500 characters).
    #[serde(default)]
    pub purpose: String,
}

/// The agent as policy's principal.
pub(crate) fn principal(agent: &AuthenticatedAgent) -> AccessPrincipal {
    AccessPrincipal {
        id: agent.identity.id.clone(),
        kind: IdentityKind::Agent,
        name: agent.identity.name.clone(),
        groups: vec!["agent".to_owned()],
        active: agent.identity.status == IdentityStatus::Active,
    }
}

/// A task request checked against its bounds.
struct Checked {
    resources: Vec<String>,
    actions: Vec<String>,
    lifetime_s: i64,
    purpose: String,
}

impl Service {
    /// The agent presenting `agent_token` asks for a task (see the module
    /// docs). Refused, with the reason audited under `task.request`: a bad
    /// proof (`agent_*`), bounds (`task_invalid_*`), a delegator who is not
    /// an active person, policy (`task_not_permitted`, with the API and the
    /// forbidding policies), too many tasks pending.
    pub async fn request_task(
        &self,
        agent_token: &str,
        request: &TaskRequest,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        let attempt = self.event(EventKind::TaskRequest, ctx);
        let mut tx = self.kernel.store.begin().await?;
        let agent = match self.authenticate_agent(&mut tx, agent_token).await {
            Ok(agent) => agent,
            Err(ServiceError::Rejected(refusal)) => {
                drop(tx);
                return Err(self.record_refusal(attempt, refusal, None).await);
            }
            Err(e) => return Err(e),
        };
        let mut attempt = agent_event(&attempt, EventKind::TaskRequest, &agent.identity.name);
        attempt.actor = Some(agent.identity.name.clone());
        attempt
            .details
            .insert("agent".into(), agent.identity.name.clone());
        attempt
            .details
            .insert("agent_proof".into(), agent.proof.clone());
        attempt.details.insert(
            "delegator".into(),
            request.delegator.as_deref().map_or("-".to_owned(), clip),
        );
        match self
            .request_task_in(&mut tx, &agent, request, ctx, &attempt)
            .await
        {
            Ok(view) => {
                tx.commit().await?;
                Ok(view)
            }
            Err((refusal, detail)) => {
                drop(tx);
                Err(match refusal {
                    Some(refusal) => self.record_refusal(attempt, refusal, detail).await,
                    None => ServiceError::Internal(detail.unwrap_or_default()),
                })
            }
        }
    }

    /// The checks and the insert of [`Service::request_task`] in `tx`; a
    /// refusal with its detail, or (no refusal) an internal error.
    async fn request_task_in(
        &self,
        tx: &mut WriteTx,
        agent: &AuthenticatedAgent,
        request: &TaskRequest,
        ctx: &ClientContext,
        attempt: &NewEvent,
    ) -> Result<TaskView, (Option<Refusal>, Option<String>)> {
        let refused = |r: Refusal| (Some(r), None);
        let store = |e: keybound_store::StoreError| (None, Some(e.to_string()));
        let settings = &self.config.tasks;
        let checked = Checked {
            resources: bounds::resources(&request.resources).map_err(refused)?,
            actions: bounds::actions(&request.actions).map_err(refused)?,
            lifetime_s: bounds::lifetime(
                request.lifetime_s,
                settings.default_lifetime_s,
                settings.max_lifetime_s,
            )
            .map_err(refused)?,
            purpose: bounds::purpose(&request.purpose).map_err(refused)?,
        };
        let delegator = match &request.delegator {
            None => None,
            Some(name) => Some(
                tx.person_by_name(name)
                    .await
                    .map_err(store)?
                    .filter(|p| p.status == IdentityStatus::Active)
                    .ok_or(refused(Refusal::TaskDelegatorNotActive))?,
            ),
        };
        let now = self.now_ms();
        let principal = principal(agent);
        let verdict = self.decide_task(&TaskQuestion {
            agent: &principal,
            owner: &agent.owner.name,
            delegator: delegator.as_ref().map(|d| d.name.as_str()),
            resources: &checked.resources,
            actions: &checked.actions,
            lifetime_s: checked.lifetime_s,
            client_ip: ctx.ip.clone(),
            now_s: now / 1000,
        });
        let active = match verdict {
            TaskVerdict::Refused { resource, policies } => {
                let detail = if policies.is_empty() {
                    format!("{resource}: no policy permits it")
                } else {
                    format!("{resource}: forbidden by {}", policies.join(","))
                };
                return Err((Some(Refusal::TaskNotPermitted), Some(detail)));
            }
            TaskVerdict::Unattended => true,
            TaskVerdict::NeedsApproval => {
                let pending = tx
                    .count_pending_tasks_of_agent(&agent.identity.id)
                    .await
                    .map_err(store)?;
                if pending >= MAX_PENDING_TASKS {
                    return Err(refused(Refusal::TaskTooManyPending));
                }
                false
            }
        };
        let (address, user_agent) = crate::bounds::context(ctx);
        let context = serde_json::json!({
            "address": address,
            "user_agent": user_agent,
            "agent_proof": agent.proof,
        });
        let to_json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let row = TaskRow {
            id: hex_id(self.random::<16>()),
            agent_id: agent.identity.id.clone(),
            delegator_id: delegator.as_ref().map(|d| d.id.clone()),
            resources: to_json(&checked.resources),
            actions: to_json(&checked.actions),
            lifetime_s: checked.lifetime_s,
            purpose: checked.purpose,
            context: context.to_string(),
            status: if active {
                TaskStatus::Active
            } else {
                TaskStatus::Pending
            }
            .as_str()
            .to_owned(),
            needs_approval: !active,
            created_ms: now,
            expires_ms: if active {
                now.saturating_add(checked.lifetime_s.saturating_mul(1000))
            } else {
                now.saturating_add(settings.approval_ttl_s.saturating_mul(1000))
            },
            approved_ms: active.then_some(now),
            approved_by: active.then(|| "policy".to_owned()),
            approval_tier: active.then_some(0),
            approval_credential: None,
            ended_ms: None,
            ended_by: None,
            end_reason: None,
            uses: 0,
            last_used_ms: None,
        };
        tx.insert_task(&row).await.map_err(store)?;
        let mut event = task_event(
            attempt,
            EventKind::TaskRequest,
            &row,
            &agent.identity.name,
            delegator.as_ref().map(|d| d.name.as_str()),
        );
        let details = &mut event.details;
        details.insert("agent_proof".into(), agent.proof.clone());
        details.insert("resources".into(), checked.resources.join(" "));
        details.insert("actions".into(), checked.actions.join(" "));
        details.insert("lifetime_s".into(), checked.lifetime_s.to_string());
        details.insert("status".into(), row.status.clone());
        tx.record(event).await.map_err(store)?;
        task_view(tx, &row).await.map_err(store)
    }

    /// The agent presenting `agent_token` reads one of its own tasks
    /// (`GET /agents/v1/tasks/{id}`); another agent's reads as
    /// [`ServiceError::NotFound`], as an unknown one does.
    pub async fn agent_task(&self, agent_token: &str, id: &str) -> Result<TaskView, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let agent = match self.authenticate_agent(&mut tx, agent_token).await {
            Ok(agent) => agent,
            Err(ServiceError::Rejected(refusal)) => {
                drop(tx);
                let mut attempt = self.event(EventKind::TaskRequest, &ClientContext::default());
                attempt.details.insert("task".into(), clip(id));
                return Err(self
                    .record_refusal(attempt, refusal, Some("reading a task".into()))
                    .await);
            }
            Err(e) => return Err(e),
        };
        let row = tx
            .task(id)
            .await?
            .filter(|t| t.agent_id == agent.identity.id)
            .ok_or(ServiceError::NotFound)?;
        let view = task_view(&mut tx, &row).await?;
        // Commits the key assertion's jti: a proof is used once, even to read.
        tx.commit().await?;
        Ok(view)
    }
}
