//! A person's side of their agents' tasks on `/me`: the tasks they
//! delegated or must approve (as the owner of an agent acting on its own),
//! and denying or ending one. The approval itself is in approval.rs.

use keybound_audit::NewEvent;
use keybound_store::{AgentRow, Identity, ReadTx, StoreError, TaskRow};

use super::{TaskStatus, TaskView};
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError};

/// A task with the identities it names, as read in one transaction.
pub(super) struct Held {
    pub task: TaskRow,
    pub agent: AgentRow,
    pub agent_identity: Identity,
    pub owner: Identity,
    pub delegator: Option<Identity>,
}

impl Held {
    /// Reads task `id` and who it names; `None` when any is missing.
    pub(super) async fn read(tx: &mut ReadTx, id: &str) -> Result<Option<Held>, StoreError> {
        let Some(task) = tx.task(id).await? else {
            return Ok(None);
        };
        let Some(agent) = tx.agent(&task.agent_id).await? else {
            return Ok(None);
        };
        let Some(agent_identity) = tx.identity_by_id(&agent.identity_id).await? else {
            return Ok(None);
        };
        let Some(owner) = tx.identity_by_id(&agent.owner_id).await? else {
            return Ok(None);
        };
        let delegator = match &task.delegator_id {
            Some(d) => match tx.identity_by_id(d).await? {
                Some(d) => Some(d),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(Held {
            task,
            agent,
            agent_identity,
            owner,
            delegator,
        }))
    }

    /// Who approves (and may deny) it: the delegator, or the agent's owner
    /// when the agent acts on its own entitlement.
    pub(super) fn approver(&self) -> &Identity {
        self.delegator.as_ref().unwrap_or(&self.owner)
    }

    /// Whether `person_id` may end it: its delegator or its agent's owner.
    fn may_end(&self, person_id: &str) -> bool {
        self.owner.id == person_id || self.delegator.as_ref().is_some_and(|d| d.id == person_id)
    }

    pub(super) fn view(&self) -> TaskView {
        TaskView::of(
            &self.task,
            self.agent_identity.name.clone(),
            self.delegator.as_ref().map(|d| d.name.clone()),
        )
    }

    /// An event about this task, with the chain person -> agent -> task.
    pub(super) fn describe(&self, event: &mut NewEvent) {
        event.subject = Some(self.agent_identity.name.clone());
        event.subject_kind = Some("agent".to_owned());
        let details = &mut event.details;
        details.insert("task".to_owned(), self.task.id.clone());
        details.insert("agent".to_owned(), self.agent_identity.name.clone());
        details.insert(
            "delegator".to_owned(),
            self.delegator
                .as_ref()
                .map_or_else(|| "-".to_owned(), |d| d.name.clone()),
        );
    }
}

impl Service {
    /// The tasks the signed-in person delegated, or must approve as the
    /// owner of an agent acting with no delegator, newest first.
    /// [`ServiceError::Forbidden`] when the session is not live.
    pub async fn my_tasks(&self, session_cookie: &str) -> Result<Vec<TaskView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let (_, identity) = self.signed_in(&mut tx, session_cookie).await?;
        let rows = tx.tasks_for_person(&identity.id).await?;
        let mut names = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let agent = name_of(&mut tx, &mut names, &row.agent_id).await?;
            let delegator = match &row.delegator_id {
                Some(id) => Some(name_of(&mut tx, &mut names, id).await?),
                None => None,
            };
            out.push(TaskView::of(&row, agent, delegator));
        }
        Ok(out)
    }

    /// The approver says no to a pending task: `task.deny`. Anyone else, or
    /// a task no longer pending, is refused (audited) and nothing changes.
    pub async fn deny_task(
        &self,
        session_cookie: &str,
        task_id: &str,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        self.person_finishes(session_cookie, task_id, ctx, TaskStatus::Denied)
            .await
    }

    /// The delegator or the agent's owner ends a pending or active task
    /// from `/me`: `task.end`.
    pub async fn end_my_task(
        &self,
        session_cookie: &str,
        task_id: &str,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        self.person_finishes(session_cookie, task_id, ctx, TaskStatus::Ended)
            .await
    }

    async fn person_finishes(
        &self,
        session_cookie: &str,
        task_id: &str,
        ctx: &ClientContext,
        status: TaskStatus,
    ) -> Result<TaskView, ServiceError> {
        let kind = if status == TaskStatus::Denied {
            EventKind::TaskDeny
        } else {
            EventKind::TaskEnd
        };
        let mut event = self.event(kind, ctx);
        let mut tx = self.kernel.store.begin().await?;
        let (_, person) = self.signed_in(&mut tx, session_cookie).await?;
        event.actor = Some(person.name.clone());
        event.details.insert("task".to_owned(), bounded(task_id));
        let Some(held) = Held::read(&mut tx, task_id).await? else {
            drop(tx);
            return Err(self.record_refusal(event, Refusal::TaskUnknown, None).await);
        };
        held.describe(&mut event);
        let allowed = match status {
            TaskStatus::Denied => held.approver().id == person.id,
            _ => held.may_end(&person.id),
        };
        if !allowed {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::TaskNotApprover, None)
                .await);
        }
        let open = match status {
            TaskStatus::Denied => held.task.status == TaskStatus::Pending.as_str(),
            _ => {
                held.task.status == TaskStatus::Pending.as_str()
                    || held.task.status == TaskStatus::Active.as_str()
            }
        };
        let reason = match status {
            TaskStatus::Denied => "denied_by_approver",
            _ => "ended_by_person",
        };
        if !open
            || !self
                .end_task_in(&mut tx, &held.task, status, &person.name, reason, &event)
                .await?
        {
            drop(tx);
            let refusal = if status == TaskStatus::Denied {
                Refusal::TaskNotPending
            } else {
                Refusal::TaskNotLive
            };
            return Err(self.record_refusal(event, refusal, None).await);
        }
        tx.commit().await?;
        let mut tx = self.kernel.store.read().await?;
        Held::read(&mut tx, task_id)
            .await?
            .map(|h| h.view())
            .ok_or(ServiceError::NotFound)
    }
}

/// A client-supplied id as an audit detail: at most 64 characters.
pub(super) fn bounded(id: &str) -> String {
    id.chars().take(64).collect()
}

async fn name_of(
    tx: &mut ReadTx,
    names: &mut std::collections::HashMap<String, String>,
    id: &str,
) -> Result<String, StoreError> {
    if let Some(name) = names.get(id) {
        return Ok(name.clone());
    }
    let name = tx
        .identity_by_id(id)
        .await?
        .map_or_else(|| "-".to_owned(), |i| i.name);
    names.insert(id.to_owned(), name.clone());
    Ok(name)
}
