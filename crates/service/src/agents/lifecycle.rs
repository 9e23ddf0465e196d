//! How a task ends, and who may look at tasks. [`Service::end_task_in`] is
//! the one place a task leaves `pending` or `active`: a conditional update
//! (so of two nodes ending, approving or expiring it at once exactly one
//! wins) and its `task.end`, `task.expire` or `task.deny` event with the
//! uses counted, in the caller's transaction. The agent ends its own task
//! with its proof, the operator or an administrator any task, and the jobs
//! runner expires those whose approval deadline or lifetime passed.

use keybound_audit::NewEvent;
use keybound_store::{IdentityKind, ReadTx, StoreError, TaskRow, WriteTx};

use crate::record::Record;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::registry::{agent_event, name_of};
use super::{TaskStatus, TaskView};

/// Overdue tasks one run of the expiry job ends at most; the rest wait
/// for the next run (10 s later).
pub const EXPIRE_BATCH: i64 = 200;
/// The longest reason an operator may give for ending a task, characters.
const MAX_END_REASON: usize = 200;

/// Which tasks a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this agent's (its account name).
    pub agent: Option<String>,
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
}

/// The view of `row` with its agent's and delegator's names.
pub(crate) async fn task_view(tx: &mut ReadTx, row: &TaskRow) -> Result<TaskView, StoreError> {
    let agent = name_of(tx, &row.agent_id).await?;
    let delegator = match &row.delegator_id {
        Some(id) => Some(name_of(tx, id).await?),
        None => None,
    };
    Ok(TaskView::of(row, agent, delegator))
}

/// `template` made into the event `kind` about `task` (of the agent
/// `agent`, delegated by `delegator`): the details every task event
/// carries (task, agent, delegator or "-", the agent's proof, the approval
/// tier when there was one, the uses so far).
pub(crate) fn task_event(
    template: &NewEvent,
    kind: EventKind,
    task: &TaskRow,
    agent: &str,
    delegator: Option<&str>,
) -> NewEvent {
    let mut event = agent_event(template, kind, agent);
    let details = &mut event.details;
    details.insert("task".into(), task.id.clone());
    details.insert("agent".into(), agent.to_owned());
    details.insert("delegator".into(), delegator.unwrap_or("-").to_owned());
    let context: serde_json::Value = serde_json::from_str(&task.context).unwrap_or_default();
    if let Some(proof) = context.get("agent_proof").and_then(|p| p.as_str()) {
        details.insert("agent_proof".into(), proof.to_owned());
    }
    if let Some(tier) = task.approval_tier {
        details.insert("approval_tier".into(), tier.to_string());
    }
    details.insert("uses".into(), task.uses.to_string());
    event
}

/// Client text as an audit reason: no control characters, bounded.
fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_END_REASON)
        .collect()
}

impl Service {
    /// Ends `task` as `status` (`ended`, `expired` or `denied`) by `by`
    /// for `reason`, in `tx`, with its `task.end` / `task.expire` /
    /// `task.deny` event built on `template` (actor, client context).
    /// False, and nothing recorded, when it was no longer pending or
    /// active (another node or request ended it first).
    pub(crate) async fn end_task_in(
        &self,
        tx: &mut WriteTx,
        task: &TaskRow,
        status: TaskStatus,
        by: &str,
        reason: &str,
        template: &NewEvent,
    ) -> Result<bool, ServiceError> {
        let kind = match status {
            TaskStatus::Ended => EventKind::TaskEnd,
            TaskStatus::Expired => EventKind::TaskExpire,
            TaskStatus::Denied => EventKind::TaskDeny,
            TaskStatus::Pending | TaskStatus::Active => {
                return Err(ServiceError::Internal(format!(
                    "a task does not end as {}",
                    status.as_str()
                )))
            }
        };
        if !tx
            .finish_task(&task.id, status.as_str(), by, reason, self.now_ms())
            .await?
        {
            return Ok(false);
        }
        // The uses counted up to this transaction, not those of the row
        // the caller read earlier.
        let current = tx.task(&task.id).await?.unwrap_or_else(|| task.clone());
        let agent = name_of(tx, &current.agent_id).await?;
        let delegator = match &current.delegator_id {
            Some(id) => Some(name_of(tx, id).await?),
            None => None,
        };
        let mut event = task_event(template, kind, &current, &agent, delegator.as_deref());
        event.details.insert("ended_by".into(), by.to_owned());
        event.details.insert("was".into(), task.status.clone());
        event.reason = Some(reason.to_owned());
        tx.record(event).await?;
        Ok(true)
    }

    /// The agent ends one of its own tasks (`POST /agents/v1/tasks/{id}/end`):
    /// its proof, then the task (another agent's reads as unknown), then
    /// the conditional end. Refused, audited: a bad proof, an unknown task,
    /// one that has ended already.
    pub async fn end_task_as_agent(
        &self,
        agent_token: &str,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        let mut attempt = self.event(EventKind::TaskEnd, ctx);
        attempt.details.insert("task".into(), clip(id));
        let mut tx = self.kernel.store.begin().await?;
        let agent = match self.authenticate_agent(&mut tx, agent_token).await {
            Ok(agent) => agent,
            Err(ServiceError::Rejected(refusal)) => {
                drop(tx);
                return Err(self.record_refusal(attempt, refusal, None).await);
            }
            Err(e) => return Err(e),
        };
        let name = agent.identity.name.clone();
        attempt.actor = Some(name.clone());
        let mut attempt = agent_event(&attempt, EventKind::TaskEnd, &name);
        attempt.details.insert("task".into(), clip(id));
        attempt
            .details
            .insert("agent_proof".into(), agent.proof.clone());
        let task = tx
            .task(id)
            .await?
            .filter(|t| t.agent_id == agent.identity.id);
        let Some(task) = task else {
            drop(tx);
            return Err(self
                .record_refusal(attempt, Refusal::TaskUnknown, None)
                .await);
        };
        if !self
            .end_task_in(
                &mut tx,
                &task,
                TaskStatus::Ended,
                &name,
                "ended_by_agent",
                &attempt,
            )
            .await?
        {
            drop(tx);
            return Err(self
                .record_refusal(attempt, Refusal::TaskNotLive, None)
                .await);
        }
        let row = tx.task(id).await?.ok_or(ServiceError::NotFound)?;
        let view = task_view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The operator or an administrator ends a task (`keybound task end`,
    /// the console). Unknown: [`ServiceError::NotFound`]; ended already:
    /// refused (`task_not_live`).
    pub async fn end_task(
        &self,
        by: &Actor<'_>,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        self.end_task_with_reason(by, id, "ended_by_administrator", ctx)
            .await
    }

    /// [`Service::end_task`] with the reason the operator gave.
    pub async fn end_task_with_reason(
        &self,
        by: &Actor<'_>,
        id: &str,
        reason: &str,
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let task = tx.task(id).await?.ok_or(ServiceError::NotFound)?;
        let mut template = self.event(EventKind::TaskEnd, ctx);
        template.actor = Some(by.name().to_owned());
        let reason = match clean_reason(reason) {
            r if r.is_empty() => "ended_by_administrator".to_owned(),
            r => r,
        };
        if !self
            .end_task_in(
                &mut tx,
                &task,
                TaskStatus::Ended,
                by.name(),
                &reason,
                &template,
            )
            .await?
        {
            let agent = name_of(&mut tx, &task.agent_id).await?;
            drop(tx);
            let mut refused = agent_event(&template, EventKind::TaskEnd, &agent);
            refused.details.insert("task".into(), task.id.clone());
            return Err(self
                .record_refusal(refused, Refusal::TaskNotLive, None)
                .await);
        }
        let row = tx.task(id).await?.ok_or(ServiceError::NotFound)?;
        let view = task_view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Tasks, newest first (`keybound task list`, the console): the latest
    /// [`keybound_store::TASK_LIST_LIMIT`], or the agent's, in one status.
    pub async fn tasks(
        &self,
        by: &Actor<'_>,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let rows = match &filter.agent {
            Some(name) => match tx
                .identity_by_name(name)
                .await?
                .filter(|i| i.kind == IdentityKind::Agent)
            {
                Some(agent) => tx.tasks_of_agent(&agent.id).await?,
                None => Vec::new(),
            },
            None => tx.tasks().await?,
        };
        let mut out = Vec::new();
        for row in rows
            .iter()
            .filter(|r| filter.status.is_none_or(|s| s.as_str() == r.status))
        {
            out.push(task_view(&mut tx, row).await?);
        }
        Ok(out)
    }

    /// The task `id` (`keybound task show`, the console).
    pub async fn task(&self, by: &Actor<'_>, id: &str) -> Result<Option<TaskView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = by {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        match tx.task(id).await? {
            Some(row) => Ok(Some(task_view(&mut tx, &row).await?)),
            None => Ok(None),
        }
    }

    /// The expiry job (the jobs runner, every 10 s): each pending task past
    /// its approval deadline (`approval_timeout`) and each active task past
    /// its lifetime (`lifetime`) becomes `expired`, with `task.expire`.
    /// How many expired in this run (at most `EXPIRE_BATCH`).
    pub async fn expire_tasks(&self) -> Result<usize, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let overdue = tx.overdue_tasks(now, EXPIRE_BATCH).await?;
        if overdue.is_empty() {
            return Ok(0);
        }
        let mut template = self.event(EventKind::TaskExpire, &ClientContext::default());
        template.actor = Some("system".to_owned());
        let mut expired = 0;
        for task in &overdue {
            let reason = if task.status == TaskStatus::Pending.as_str() {
                "approval_timeout"
            } else {
                "lifetime"
            };
            if self
                .end_task_in(
                    &mut tx,
                    task,
                    TaskStatus::Expired,
                    "lifetime",
                    reason,
                    &template,
                )
                .await?
            {
                expired += 1;
            }
        }
        tx.commit().await?;
        Ok(expired)
    }
}

/// Client text cut for an audit detail.
pub(crate) fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}
