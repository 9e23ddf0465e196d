//! The agent registry: the operator or an administrator registers an agent
//! (an identity of kind `agent`, named by the one naming rule, in the same
//! namespace as people), its owner (an active person, answerable for it)
//! and how it proves itself: a SPIFFE ID in this trust domain (it presents
//! JWT-SVIDs from keybound's Workload API) or a public key it signs
//! assertions with. Removing an agent offboards its identity and ends its
//! tasks in the same transaction; offboarding its owner disables it, and
//! offboarding a delegator, removing a workload entry or decommissioning a
//! node ends the tasks that hung on them (the hooks below, called inside
//! those use cases' transactions).

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{
    AgentRow, Identity, IdentityKind, IdentityStatus, ReadTx, StoreError, TaskRow, WriteTx,
};
use serde_json::Value;

use crate::people::PersonByName;
use crate::record::Record;
use crate::tokens::hex_id;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::{AgentView, TaskStatus};

/// The longest description, characters.
pub const MAX_AGENT_DESCRIPTION: usize = 200;
/// The longest registered JWK, bytes of JSON.
const MAX_KEY_JSON: usize = 8 * 1024;

/// Agent statuses, as stored.
pub(crate) mod status {
    /// May authenticate and ask for tasks.
    pub const ACTIVE: &str = "active";
    /// Its owner was offboarded.
    pub const DISABLED: &str = "disabled";
    /// Removed by the operator or an administrator.
    pub const REMOVED: &str = "removed";
}

/// An agent to register, as the CLI or the console collected it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAgent {
    /// Its account name (the naming rule of people applies).
    pub name: String,
    /// Its owner's account name: an active person.
    pub owner: String,
    /// `spiffe://<this trust domain>/<path>`, when it proves itself with
    /// JWT-SVIDs.
    pub spiffe_id: Option<String>,
    /// Its public JWK, when it proves itself with a key (private members
    /// are refused).
    pub key_jwk: Option<Value>,
    /// What it is for (at most `MAX_AGENT_DESCRIPTION` (200) characters).
    pub description: String,
}

/// How an agent proves itself, checked.
enum Proof {
    Spiffe(String),
    Key { json: String, thumbprint: String },
}

/// Checks the proof and description of `new`; the refusal if one is wrong.
fn checked_proof(new: &NewAgent, trust_domain: &str) -> Result<Proof, Refusal> {
    if new.description.chars().count() > MAX_AGENT_DESCRIPTION
        || new.description.chars().any(char::is_control)
    {
        return Err(Refusal::AgentInvalidDescription);
    }
    match (&new.spiffe_id, &new.key_jwk) {
        (Some(id), None) => crate::workloads::spiffe::workload_id(id, trust_domain)
            .map(Proof::Spiffe)
            .map_err(|_| Refusal::AgentInvalidSpiffeId),
        (None, Some(jwk)) => {
            let too_big = serde_json::to_vec(jwk).map_or(true, |b| b.len() > MAX_KEY_JSON);
            if too_big {
                return Err(Refusal::AgentInvalidKey);
            }
            let key = keybound_jose::Jwk::parse(jwk).map_err(|_| Refusal::AgentInvalidKey)?;
            Ok(Proof::Key {
                json: key.to_json().to_string(),
                thumbprint: key.thumbprint(),
            })
        }
        _ => Err(Refusal::AgentProofChoice),
    }
}

/// The view of `row`, named `name`, owned by `owner`.
pub(crate) fn agent_view(row: &AgentRow, name: String, owner: String) -> AgentView {
    AgentView {
        name,
        owner,
        proof: row.proof.clone(),
        spiffe_id: row.spiffe_id.clone(),
        key_thumbprint: row.key_thumbprint.clone(),
        description: row.description.clone(),
        status: row.status.clone(),
        status_reason: row.status_reason.clone(),
        created_ms: row.created_ms,
    }
}

/// How an agent proves itself, as audit details spell it.
pub(crate) fn proof_label(row: &AgentRow) -> String {
    match (&row.spiffe_id, &row.key_thumbprint) {
        (Some(id), _) => format!("spiffe:{id}"),
        (None, Some(jkt)) => format!("key:{jkt}"),
        (None, None) => "-".to_owned(),
    }
}

/// The account name of `id` ("" when it is gone).
pub(crate) async fn name_of(tx: &mut ReadTx, id: &str) -> Result<String, StoreError> {
    Ok(tx
        .identity_by_id(id)
        .await?
        .map(|i| i.name)
        .unwrap_or_default())
}

/// `template` made into an event about the agent `agent` of kind `kind`.
pub(crate) fn agent_event(template: &NewEvent, kind: EventKind, agent: &str) -> NewEvent {
    let mut event = template.clone();
    event.kind = kind.as_str().to_owned();
    event.subject = Some(agent.to_owned());
    event.subject_kind = Some(IdentityKind::Agent.as_str().to_owned());
    event.outcome = Some(Outcome::Success);
    event.reason = None;
    event.severity = None;
    event.details = Default::default();
    event
}

impl Service {
    /// An event by `actor` about the agent `agent`.
    pub(crate) fn agent_attempt(
        &self,
        kind: EventKind,
        ctx: &ClientContext,
        actor: &str,
        agent: &str,
    ) -> NewEvent {
        let mut event = self.event(kind, ctx);
        event.actor = Some(actor.to_owned());
        agent_event(&event, kind, agent)
    }

    /// Registers an agent (`keybound agents add`). Refused, with the reason
    /// audited: a name the naming rule refuses, or taken (also by a
    /// look-alike); an owner who is not an active person; neither or both
    /// of a SPIFFE ID and a key; a SPIFFE ID outside this trust domain or a
    /// key that is not a public JWK; a SPIFFE ID or key registered for
    /// another agent; a description too long.
    pub async fn add_agent(
        &self,
        by: &Actor<'_>,
        new: &NewAgent,
        ctx: &ClientContext,
    ) -> Result<AgentView, ServiceError> {
        let mut attempt = self.agent_attempt(
            EventKind::AgentAdd,
            ctx,
            by.name(),
            &keybound_names::for_audit(&new.name),
        );
        let Ok(name) = keybound_names::canonical(&new.name) else {
            return Err(self
                .record_refusal(attempt, Refusal::InvalidName, None)
                .await);
        };
        attempt.subject = Some(name.clone());
        let proof = match checked_proof(new, self.trust_domain()) {
            Ok(proof) => proof,
            Err(refusal) => return Err(self.record_refusal(attempt, refusal, None).await),
        };
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let owner = tx
            .person_by_name(&new.owner)
            .await?
            .filter(|o| o.status == IdentityStatus::Active);
        let refusal = match (&owner, &proof) {
            (None, _) => Some(Refusal::AgentOwnerNotActive),
            _ if tx.identity_by_name(&name).await?.is_some() => Some(Refusal::AgentNameTaken),
            (_, Proof::Spiffe(id)) if tx.agent_by_spiffe_id(id).await?.is_some() => {
                Some(Refusal::AgentSpiffeIdTaken)
            }
            (_, Proof::Key { thumbprint, .. }) if tx.agent_by_key(thumbprint).await?.is_some() => {
                Some(Refusal::AgentKeyTaken)
            }
            _ => None,
        };
        let (Some(owner), None) = (owner, refusal) else {
            drop(tx);
            let refusal = refusal.unwrap_or(Refusal::AgentOwnerNotActive);
            return Err(self.record_refusal(attempt, refusal, None).await);
        };
        let now = self.now_ms();
        let identity = Identity {
            kind: IdentityKind::Agent,
            id: hex_id(self.random::<16>()),
            name: name.clone(),
            status: IdentityStatus::Active,
            is_admin: false,
            user_handle: self.random::<32>().to_vec(),
            created_ms: now,
        };
        // A look-alike of an existing name (the store's unique skeleton
        // index decides, on every node).
        match tx.insert_identity(&identity).await {
            Err(StoreError::Conflict) => {
                drop(tx);
                return Err(self
                    .record_refusal(attempt, Refusal::NameConfusable, None)
                    .await);
            }
            other => other?,
        }
        let (kind, spiffe_id, key_jwk, key_thumbprint) = match proof {
            Proof::Spiffe(id) => ("spiffe", Some(id), None, None),
            Proof::Key { json, thumbprint } => ("key", None, Some(json), Some(thumbprint)),
        };
        let row = AgentRow {
            identity_id: identity.id.clone(),
            owner_id: owner.id.clone(),
            proof: kind.to_owned(),
            spiffe_id,
            key_jwk,
            key_thumbprint,
            description: new.description.clone(),
            created_by: by.name().to_owned(),
            created_ms: now,
            status: status::ACTIVE.to_owned(),
            status_reason: None,
            changed_ms: None,
        };
        match tx.insert_agent(&row).await {
            Ok(()) => {}
            // Registered by another node since the look-up above.
            Err(StoreError::Conflict) => {
                drop(tx);
                let refusal = if row.spiffe_id.is_some() {
                    Refusal::AgentSpiffeIdTaken
                } else {
                    Refusal::AgentKeyTaken
                };
                return Err(self.record_refusal(attempt, refusal, None).await);
            }
            Err(e) => return Err(e.into()),
        }
        let mut event = attempt;
        event.details.insert("owner".into(), owner.name.clone());
        event.details.insert("proof".into(), proof_label(&row));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(agent_view(&row, name, owner.name))
    }

    /// Every agent, oldest first (`keybound agents list`, the console).
    pub async fn list_agents(&self, by: &Actor<'_>) -> Result<Vec<AgentView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let mut out = Vec::new();
        for row in tx.agents().await? {
            let name = name_of(&mut tx, &row.identity_id).await?;
            let owner = name_of(&mut tx, &row.owner_id).await?;
            out.push(agent_view(&row, name, owner));
        }
        Ok(out)
    }

    /// The agent `name`, if there is one (`keybound agents show`).
    pub async fn agent_view(
        &self,
        by: &Actor<'_>,
        name: &str,
    ) -> Result<Option<AgentView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let Some(identity) = tx
            .identity_by_name(name)
            .await?
            .filter(|i| i.kind == IdentityKind::Agent)
        else {
            return Ok(None);
        };
        let Some(row) = tx.agent(&identity.id).await? else {
            return Ok(None);
        };
        let owner = name_of(&mut tx, &row.owner_id).await?;
        Ok(Some(agent_view(&row, identity.name, owner)))
    }

    /// Removes the agent `name` (`keybound agents remove`): it is
    /// `removed`, its identity offboarded (so no proof of it works any
    /// more) and every pending or active task of it ended, in one
    /// transaction with `agent.remove` and a `task.end` each. How many
    /// tasks ended. Unknown: [`ServiceError::NotFound`]; removed already:
    /// refused (`agent_disabled`).
    pub async fn remove_agent(
        &self,
        by: &Actor<'_>,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<u64, ServiceError> {
        let attempt = self.agent_attempt(
            EventKind::AgentRemove,
            ctx,
            by.name(),
            &keybound_names::for_audit(name),
        );
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let identity = tx
            .identity_by_name(name)
            .await?
            .filter(|i| i.kind == IdentityKind::Agent)
            .ok_or(ServiceError::NotFound)?;
        let row = tx
            .agent(&identity.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut event = attempt;
        event.subject = Some(identity.name.clone());
        let now = self.now_ms();
        let reason = format!("removed by {}", by.name());
        if row.status == status::REMOVED
            || !tx
                .set_agent_status(&row.identity_id, &row.status, status::REMOVED, &reason, now)
                .await?
        {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::AgentDisabled, None)
                .await);
        }
        tx.set_identity_status(&identity.id, IdentityStatus::Offboarded)
            .await?;
        let tasks = tx.live_tasks_of_agent(&identity.id).await?;
        let ended = self
            .end_tasks_in(&mut tx, tasks, by.name(), "agent_removed", &event)
            .await?;
        event
            .details
            .insert("tasks_ended".into(), ended.to_string());
        event.details.insert("proof".into(), proof_label(&row));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends each of `tasks` that is still live as `ended` by `by` for
    /// `reason` (a `task.end` each); how many ended here.
    async fn end_tasks_in(
        &self,
        tx: &mut WriteTx,
        tasks: Vec<TaskRow>,
        by: &str,
        reason: &str,
        template: &NewEvent,
    ) -> Result<u64, ServiceError> {
        let mut ended = 0;
        for task in &tasks {
            if self
                .end_task_in(tx, task, TaskStatus::Ended, by, reason, template)
                .await?
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The owner `owner_id` was offboarded: each of their active agents is
    /// disabled (`agent.disable`) and its tasks ended, inside the
    /// offboarding's transaction. `template` carries the offboarding's
    /// actor and client context. How many agents were disabled.
    pub(crate) async fn disable_agents_of(
        &self,
        tx: &mut WriteTx,
        owner_id: &str,
        template: &NewEvent,
    ) -> Result<u64, ServiceError> {
        let now = self.now_ms();
        let by = template
            .actor
            .clone()
            .unwrap_or_else(|| "system".to_owned());
        let mut disabled = 0;
        for row in tx.agents_of_owner(owner_id).await? {
            if row.status != status::ACTIVE
                || !tx
                    .set_agent_status(
                        &row.identity_id,
                        status::ACTIVE,
                        status::DISABLED,
                        "owner_offboarded",
                        now,
                    )
                    .await?
            {
                continue;
            }
            let name = name_of(tx, &row.identity_id).await?;
            let mut event = agent_event(template, EventKind::AgentDisable, &name);
            let tasks = tx.live_tasks_of_agent(&row.identity_id).await?;
            let ended = self
                .end_tasks_in(tx, tasks, &by, "owner_offboarded", template)
                .await?;
            event.reason = Some("its owner was offboarded".into());
            event
                .details
                .insert("tasks_ended".into(), ended.to_string());
            tx.record(event).await?;
            disabled += 1;
        }
        Ok(disabled)
    }

    /// The person `person_id` was offboarded: every live task they
    /// delegated ends (`task.end`, reason `delegator_offboarded`), inside
    /// the offboarding's transaction. How many.
    pub(crate) async fn end_tasks_delegated_by(
        &self,
        tx: &mut WriteTx,
        person_id: &str,
        template: &NewEvent,
    ) -> Result<u64, ServiceError> {
        let by = template
            .actor
            .clone()
            .unwrap_or_else(|| "system".to_owned());
        let tasks = tx.live_tasks_delegated_by(person_id).await?;
        self.end_tasks_in(tx, tasks, &by, "delegator_offboarded", template)
            .await
    }

    /// The workloads holding `spiffe_ids` lost them (entry removed, node
    /// decommissioned): every live task of the agents registered with them
    /// ends for `reason`, inside the caller's transaction. How many.
    pub(crate) async fn end_tasks_for_spiffe_ids(
        &self,
        tx: &mut WriteTx,
        spiffe_ids: &[String],
        reason: &str,
        template: &NewEvent,
    ) -> Result<u64, ServiceError> {
        let by = template
            .actor
            .clone()
            .unwrap_or_else(|| "system".to_owned());
        let mut ended = 0;
        for id in spiffe_ids {
            let Some(agent) = tx.agent_by_spiffe_id(id).await? else {
                continue;
            };
            let tasks = tx.live_tasks_of_agent(&agent.identity_id).await?;
            ended += self.end_tasks_in(tx, tasks, &by, reason, template).await?;
        }
        Ok(ended)
    }
}
