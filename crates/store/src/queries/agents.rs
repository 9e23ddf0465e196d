//! Agents and their task credentials (issue 18): the agent registry, tasks
//! (what one agent may do, for whom, until when) and the task tokens minted
//! for them. Every state change of a task is one conditional `UPDATE` (the
//! status it starts from is in the `WHERE`), so of two nodes racing to
//! approve, deny, end or expire a task exactly one wins. List-valued columns
//! are JSON arrays the service builds and bounds.

use super::{inserted, storable};
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// An agent: an identity of kind `agent` and how it proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// Its identity's id.
    pub identity_id: String,
    /// The person answerable for it.
    pub owner_id: String,
    /// `spiffe` or `key`.
    pub proof: String,
    /// Its SPIFFE ID (proof `spiffe`).
    pub spiffe_id: Option<String>,
    /// Its registered public JWK, JSON (proof `key`).
    pub key_jwk: Option<String>,
    /// RFC 7638 thumbprint of that key.
    pub key_thumbprint: Option<String>,
    /// What it is for.
    pub description: String,
    /// Who registered it.
    pub created_by: String,
    /// Registered, ms.
    pub created_ms: i64,
    /// `active`, `disabled` or `removed`.
    pub status: String,
    /// Why it is not active.
    pub status_reason: Option<String>,
    /// Last status change, ms.
    pub changed_ms: Option<i64>,
}

fn agent_from_row(r: &dyn Fields) -> Result<AgentRow, StoreError> {
    Ok(AgentRow {
        identity_id: r.text("identity_id")?,
        owner_id: r.text("owner_id")?,
        proof: r.text("proof")?,
        spiffe_id: r.opt_text("spiffe_id")?,
        key_jwk: r.opt_text("key_jwk")?,
        key_thumbprint: r.opt_text("key_thumbprint")?,
        description: r.text("description")?,
        created_by: r.text("created_by")?,
        created_ms: r.int("created_ms")?,
        status: r.text("status")?,
        status_reason: r.opt_text("status_reason")?,
        changed_ms: r.opt_int("changed_ms")?,
    })
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// Random id (32 hex digits).
    pub id: String,
    /// The agent's identity id.
    pub agent_id: String,
    /// The delegating person's identity id; `None` for an agent acting on
    /// its own entitlement.
    pub delegator_id: Option<String>,
    /// JSON array of resource URIs.
    pub resources: String,
    /// JSON array of actions (scope values).
    pub actions: String,
    /// How long the task lives once active, seconds.
    pub lifetime_s: i64,
    /// What the agent says it is for.
    pub purpose: String,
    /// JSON object: the requesting context.
    pub context: String,
    /// `pending`, `active`, `denied`, `ended` or `expired`.
    pub status: String,
    /// Whether policy asked for a person's approval.
    pub needs_approval: bool,
    /// Requested, ms.
    pub created_ms: i64,
    /// Pending: the approval deadline; active: the task's end, ms.
    pub expires_ms: i64,
    /// Approved (or activated unattended), ms.
    pub approved_ms: Option<i64>,
    /// The approver's account name.
    pub approved_by: Option<String>,
    /// The tier the approving passkey proved.
    pub approval_tier: Option<i64>,
    /// The approving credential's id.
    pub approval_credential: Option<Vec<u8>>,
    /// Ended, denied or expired, ms.
    pub ended_ms: Option<i64>,
    /// Who ended or denied it (`agent`, an account name, `cli`, `lifetime`).
    pub ended_by: Option<String>,
    /// Why.
    pub end_reason: Option<String>,
    /// Requests made with it through forward-auth.
    pub uses: i64,
    /// The last of them, ms.
    pub last_used_ms: Option<i64>,
}

pub(super) fn task_from_row(r: &dyn Fields) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        id: r.text("id")?,
        agent_id: r.text("agent_id")?,
        delegator_id: r.opt_text("delegator_id")?,
        resources: r.text("resources")?,
        actions: r.text("actions")?,
        lifetime_s: r.int("lifetime_s")?,
        purpose: r.text("purpose")?,
        context: r.text("context")?,
        status: r.text("status")?,
        needs_approval: r.flag("needs_approval")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
        approved_ms: r.opt_int("approved_ms")?,
        approved_by: r.opt_text("approved_by")?,
        approval_tier: r.opt_int("approval_tier")?,
        approval_credential: r.opt_blob("approval_credential")?,
        ended_ms: r.opt_int("ended_ms")?,
        ended_by: r.opt_text("ended_by")?,
        end_reason: r.opt_text("end_reason")?,
        uses: r.int("uses")?,
        last_used_ms: r.opt_int("last_used_ms")?,
    })
}

/// A token minted for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTokenRow {
    /// SHA-256 of its `jti`.
    pub jti_hash: Vec<u8>,
    /// Its task.
    pub task_id: String,
    /// `jkt` (DPoP) or `x5t#S256` (mTLS).
    pub cnf_kind: String,
    /// The key or certificate thumbprint it is bound to.
    pub cnf_value: String,
    /// Minted, ms.
    pub created_ms: i64,
    /// Expires, ms.
    pub expires_ms: i64,
    /// Revoked (RFC 7009), ms.
    pub revoked_ms: Option<i64>,
}

fn task_token_from_row(r: &dyn Fields) -> Result<TaskTokenRow, StoreError> {
    Ok(TaskTokenRow {
        jti_hash: r.blob("jti_hash")?,
        task_id: r.text("task_id")?,
        cnf_kind: r.text("cnf_kind")?,
        cnf_value: r.text("cnf_value")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
        revoked_ms: r.opt_int("revoked_ms")?,
    })
}

/// Tasks a list shows at most.
pub const TASK_LIST_LIMIT: i64 = 500;

impl ReadTx {
    /// The agent whose identity is `identity_id`.
    pub async fn agent(&mut self, identity_id: &str) -> Result<Option<AgentRow>, StoreError> {
        if !storable(identity_id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM agents WHERE identity_id = $1",
                params![identity_id],
                agent_from_row,
            )
            .await
    }

    /// The agent registered with this SPIFFE ID.
    pub async fn agent_by_spiffe_id(
        &mut self,
        spiffe_id: &str,
    ) -> Result<Option<AgentRow>, StoreError> {
        if !storable(spiffe_id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM agents WHERE spiffe_id = $1",
                params![spiffe_id],
                agent_from_row,
            )
            .await
    }

    /// The agent registered with the key of this thumbprint.
    pub async fn agent_by_key(&mut self, thumbprint: &str) -> Result<Option<AgentRow>, StoreError> {
        if !storable(thumbprint) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM agents WHERE key_thumbprint = $1",
                params![thumbprint],
                agent_from_row,
            )
            .await
    }

    /// Every agent, oldest first.
    pub async fn agents(&mut self) -> Result<Vec<AgentRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM agents ORDER BY created_ms, identity_id",
                params![],
                agent_from_row,
            )
            .await
    }

    /// The agents `owner_id` answers for.
    pub async fn agents_of_owner(&mut self, owner_id: &str) -> Result<Vec<AgentRow>, StoreError> {
        if !storable(owner_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM agents WHERE owner_id = $1 ORDER BY created_ms, identity_id",
                params![owner_id],
                agent_from_row,
            )
            .await
    }

    /// The task `id`.
    pub async fn task(&mut self, id: &str) -> Result<Option<TaskRow>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM tasks WHERE id = $1",
                params![id],
                task_from_row,
            )
            .await
    }

    /// The latest tasks ([`TASK_LIST_LIMIT`] at most), newest first.
    pub async fn tasks(&mut self) -> Result<Vec<TaskRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM tasks ORDER BY created_ms DESC, id LIMIT $1",
                params![TASK_LIST_LIMIT],
                task_from_row,
            )
            .await
    }

    /// The agent's latest tasks, newest first.
    pub async fn tasks_of_agent(&mut self, agent_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        if !storable(agent_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM tasks WHERE agent_id = $1
                 ORDER BY created_ms DESC, id LIMIT $2",
                params![agent_id, TASK_LIST_LIMIT],
                task_from_row,
            )
            .await
    }

    /// The tasks a person delegated or must approve (those of agents they
    /// own with no delegator), newest first.
    pub async fn tasks_for_person(&mut self, person_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        if !storable(person_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM tasks WHERE delegator_id = $1
                    OR (delegator_id IS NULL AND agent_id IN
                        (SELECT identity_id FROM agents WHERE owner_id = $1))
                 ORDER BY created_ms DESC, id LIMIT $2",
                params![person_id, TASK_LIST_LIMIT],
                task_from_row,
            )
            .await
    }

    /// Pending or active tasks whose time ran out by `now_ms` (at most
    /// `limit`), for the expiry job.
    pub async fn overdue_tasks(
        &mut self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<TaskRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM tasks WHERE status IN ('pending', 'active') AND expires_ms <= $1
                 ORDER BY expires_ms, id LIMIT $2",
                params![now_ms, limit],
                task_from_row,
            )
            .await
    }

    /// The task token whose `jti` hashes to `jti_hash`.
    pub async fn task_token(
        &mut self,
        jti_hash: &[u8],
    ) -> Result<Option<TaskTokenRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM task_tokens WHERE jti_hash = $1",
                params![jti_hash],
                task_token_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Registers an agent; [`StoreError::Conflict`] when its identity,
    /// SPIFFE ID or key is registered already.
    pub async fn insert_agent(&mut self, a: &AgentRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO agents (identity_id, owner_id, proof, spiffe_id, key_jwk,
                 key_thumbprint, description, created_by, created_ms, status, status_reason,
                 changed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT DO NOTHING",
                params![
                    &a.identity_id,
                    &a.owner_id,
                    &a.proof,
                    &a.spiffe_id,
                    &a.key_jwk,
                    &a.key_thumbprint,
                    &a.description,
                    &a.created_by,
                    a.created_ms,
                    &a.status,
                    &a.status_reason,
                    a.changed_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Moves an agent from `from` to `to` (`active` -> `disabled` or
    /// `removed`...), recording why; false when it was not in `from`.
    pub async fn set_agent_status(
        &mut self,
        identity_id: &str,
        from: &str,
        to: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE agents SET status = $3, status_reason = $4, changed_ms = $5
                 WHERE identity_id = $1 AND status = $2",
                params![identity_id, from, to, reason, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Stores a new task; [`StoreError::Conflict`] when its id exists.
    pub async fn insert_task(&mut self, t: &TaskRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO tasks (id, agent_id, delegator_id, resources, actions, lifetime_s,
                 purpose, context, status, needs_approval, created_ms, expires_ms, approved_ms,
                 approved_by, approval_tier, approval_credential, ended_ms, ended_by,
                 end_reason, uses, last_used_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21)
                 ON CONFLICT DO NOTHING",
                params![
                    &t.id,
                    &t.agent_id,
                    &t.delegator_id,
                    &t.resources,
                    &t.actions,
                    t.lifetime_s,
                    &t.purpose,
                    &t.context,
                    &t.status,
                    t.needs_approval,
                    t.created_ms,
                    t.expires_ms,
                    t.approved_ms,
                    &t.approved_by,
                    t.approval_tier,
                    &t.approval_credential,
                    t.ended_ms,
                    &t.ended_by,
                    &t.end_reason,
                    t.uses,
                    t.last_used_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Approves a pending task whose approval deadline has not passed:
    /// it becomes active until `expires_ms`. False when it was not pending
    /// (approved, denied or ended by someone else first) or is overdue.
    pub async fn approve_task(
        &mut self,
        id: &str,
        approved_by: &str,
        tier: i64,
        credential: &[u8],
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE tasks SET status = 'active', approved_ms = $3, approved_by = $2,
                 approval_tier = $4, approval_credential = $5, expires_ms = $6
                 WHERE id = $1 AND status = 'pending' AND expires_ms > $3",
                params![id, approved_by, now_ms, tier, credential, expires_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Ends a pending or active task: `status` is `denied`, `ended` or
    /// `expired`. False when it had already ended (or was never there).
    pub async fn finish_task(
        &mut self,
        id: &str,
        status: &str,
        by: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE tasks SET status = $2, ended_ms = $5, ended_by = $3, end_reason = $4
                 WHERE id = $1 AND status IN ('pending', 'active')",
                params![id, status, by, reason, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Counts `count` uses of an active task; false when it is not active.
    pub async fn count_task_uses(
        &mut self,
        id: &str,
        count: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE tasks SET uses = uses + $2, last_used_ms = $3
                 WHERE id = $1 AND status = 'active'",
                params![id, count, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Records a token minted for a task.
    pub async fn insert_task_token(&mut self, t: &TaskTokenRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO task_tokens (jti_hash, task_id, cnf_kind, cnf_value, created_ms,
                 expires_ms, revoked_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
                params![
                    &t.jti_hash,
                    &t.task_id,
                    &t.cnf_kind,
                    &t.cnf_value,
                    t.created_ms,
                    t.expires_ms,
                    t.revoked_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Revokes one task token; false when it was unknown or revoked already.
    pub async fn revoke_task_token(
        &mut self,
        jti_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE task_tokens SET revoked_ms = $2
                 WHERE jti_hash = $1 AND revoked_ms IS NULL",
                params![jti_hash, now_ms],
            )
            .await?;
        Ok(done == 1)
    }
}
