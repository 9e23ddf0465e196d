//! Task tokens after issue: whether one is live (introspection, RFC 7662;
//! forward-auth reads the same answer), and revoking one (RFC 7009). A
//! task token is live only while its row is unrevoked and unexpired, its
//! task active and unexpired, and its agent, the agent's owner and the
//! delegator active: ending the task, offboarding any of them or removing
//! the agent ends every token at the next question, on every node.

use keybound_audit::Outcome;
use keybound_store::{Identity, IdentityStatus, ReadTx, TaskRow, TaskTokenRow};
use serde_json::{json, Map, Value};

use crate::oidc::params::OidcParams;
use crate::oidc::{signing, OidcError};
use crate::record::Record;
use crate::tokens::hash_token;
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError, TaskStatus};

/// A task token whose signature verified and whose every fact is live.
pub(crate) struct LiveTaskToken {
    /// Its claims.
    pub(crate) claims: Map<String, Value>,
    /// Its row.
    pub(crate) row: TaskTokenRow,
    /// Its task.
    pub(crate) task: TaskRow,
    /// The agent.
    pub(crate) agent: Identity,
    /// The delegating person, if any.
    pub(crate) delegator: Option<Identity>,
}

impl LiveTaskToken {
    /// The key thumbprint it is bound to (`cnf.jkt`).
    pub(crate) fn jkt(&self) -> &str {
        &self.row.cnf_value
    }

    /// Its `aud`, as a list.
    pub(crate) fn audience(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Its `scope` values.
    pub(crate) fn scope(&self) -> Vec<String> {
        self.claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Service {
    /// The claims of `token` if it is a task token keybound signed (an
    /// RFC 9068 access token with a `task_id`); signature only, nothing
    /// else checked.
    pub(crate) async fn task_token_claims(
        &self,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, ServiceError> {
        if token.len() > keybound_jose::MAX_TOKEN_LEN || token.split('.').count() != 3 {
            return Ok(None);
        }
        let claims = signing::verify_jwt(self, token, "at+jwt").await?;
        Ok(claims.filter(|c| c.get("task_id").and_then(Value::as_str).is_some()))
    }

    /// Whether the task token with `claims` is live now: `Err` names why
    /// not, precisely (the audit log's reason).
    pub(crate) async fn live_task_token(
        &self,
        tx: &mut ReadTx,
        claims: Map<String, Value>,
    ) -> Result<Result<LiveTaskToken, Refusal>, ServiceError> {
        let now = self.now_ms();
        let exp = claims.get("exp").and_then(Value::as_i64);
        if exp.is_none_or(|exp| exp * 1000 <= now) {
            return Ok(Err(Refusal::TaskTokenExpired));
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.oidc.issuer.as_str()) {
            return Ok(Err(Refusal::TaskTokenInvalid));
        }
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Ok(Err(Refusal::TaskTokenInvalid));
        };
        let Some(row) = tx.task_token(&hash_token(jti)).await? else {
            return Ok(Err(Refusal::TaskTokenUnknown));
        };
        if row.revoked_ms.is_some() {
            return Ok(Err(Refusal::TaskTokenRevoked));
        }
        if row.expires_ms <= now {
            return Ok(Err(Refusal::TaskTokenExpired));
        }
        let claimed_task = claims.get("task_id").and_then(Value::as_str);
        let task = match tx.task(&row.task_id).await? {
            Some(task) if claimed_task == Some(task.id.as_str()) => task,
            _ => return Ok(Err(Refusal::TaskTokenInvalid)),
        };
        if task.status != TaskStatus::Active.as_str() || task.expires_ms <= now {
            return Ok(Err(Refusal::TaskTokenTaskEnded));
        }
        let active = |i: &Option<Identity>| {
            i.as_ref()
                .is_some_and(|i| i.status == IdentityStatus::Active)
        };
        let agent = tx.identity_by_id(&task.agent_id).await?;
        let agent_row = tx.agent(&task.agent_id).await?;
        let owner = match &agent_row {
            Some(row) => tx.identity_by_id(&row.owner_id).await?,
            None => None,
        };
        let delegator = match &task.delegator_id {
            Some(id) => Some(tx.identity_by_id(id).await?),
            None => None,
        };
        let agent_live = agent_row.as_ref().is_some_and(|a| a.status == "active")
            && active(&agent)
            && active(&owner)
            && delegator.as_ref().is_none_or(active);
        let Some(agent) = agent.filter(|_| agent_live) else {
            return Ok(Err(Refusal::TaskTokenAgentNotActive));
        };
        Ok(Ok(LiveTaskToken {
            claims,
            row,
            task,
            agent,
            delegator: delegator.flatten(),
        }))
    }

    /// Introspection (RFC 7662) of `token` if it is a task token: `None`
    /// when it is not one (the caller answers for other tokens).
    pub(crate) async fn introspect_task_token(
        &self,
        token: &str,
    ) -> Result<Option<Value>, ServiceError> {
        let Some(claims) = self.task_token_claims(token).await? else {
            return Ok(None);
        };
        let mut tx = self.kernel.store.read().await?;
        let Ok(live) = self.live_task_token(&mut tx, claims).await? else {
            return Ok(Some(json!({"active": false})));
        };
        drop(tx);
        let claims = &live.claims;
        let field = |name: &str| claims.get(name).cloned().unwrap_or(Value::Null);
        Ok(Some(json!({
            "active": true,
            "token_type": "DPoP",
            "iss": field("iss"),
            "sub": field("sub"),
            "act": field("act"),
            "client_id": field("client_id"),
            "username": field("sub"),
            "aud": field("aud"),
            "scope": field("scope"),
            "task_id": live.task.id,
            "cnf": {"jkt": live.jkt()},
            "exp": live.row.expires_ms / 1000,
            "iat": live.row.created_ms / 1000,
        })))
    }

    /// Revocation (RFC 7009) of a task token, by whoever presents it: no
    /// client authentication, since revoking only takes access away.
    /// `None` when `params` names no task token (the caller goes on with
    /// client authentication); audited as `oidc.revoke` with the task.
    pub(crate) async fn revoke_task_token(
        &self,
        params: &OidcParams,
        ctx: &ClientContext,
    ) -> Result<Option<()>, OidcError> {
        let Ok(Some(token)) = params.get("token") else {
            return Ok(None);
        };
        let Some(claims) = self.task_token_claims(token).await? else {
            return Ok(None);
        };
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Ok(None);
        };
        let mut event = self.event(EventKind::OidcRevoke, ctx);
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let revoked = tx.revoke_task_token(&hash_token(jti), now).await?;
        event.outcome = Some(Outcome::Success);
        for name in ["task_id", "client_id", "sub"] {
            if let Some(value) = claims.get(name).and_then(Value::as_str) {
                let key = if name == "task_id" { "task" } else { name };
                event.details.insert(key.into(), value.to_owned());
            }
        }
        event
            .details
            .insert("revoked".into(), u64::from(revoked).to_string());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(()))
    }
}
