//! Forward-auth for agents: a request carrying `Authorization: DPoP
//! <task token>` and a `DPoP` proof. Unlike a person's session, nothing
//! is served from memory: the token's row, its task, the agent, its owner
//! and the delegator are read, the proof's `jti` taken and the use counted
//! in one write transaction per request, so an ended task or a replayed
//! proof is refused at the next request on every node.
//!
//! Checks, in order: the token's signature, `typ` and claims; its row
//! live (unrevoked, unexpired); its task active and unexpired; the agent,
//! its owner and the delegator active; the DPoP proof (method, the URL
//! without query, `ath`, nonce, `jti` once) by the key the token is bound
//! to; the URL within the token's audience; then policy, with the task in
//! the context.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{IdentityKind, WriteTx};

use super::dpop::DpopFailure;
use super::tokens::LiveTaskToken;
use crate::access::{AccessAction, AccessContext, AccessPrincipal, AccessRequest, AccessResource};
use crate::forward::{ForwardDecision, ForwardedRequest, Grant};
use crate::{AccessDecision, ClientContext, EventKind, Refusal, Service, ServiceError};

/// The group an agent's requests are in (`Remote-Groups`).
pub const AGENT_GROUP: &str = "agent";

/// `WWW-Authenticate: DPoP error=...` codes (RFC 6750 §3.1, RFC 9449 §7.1).
const INVALID_TOKEN: &str = "invalid_token";
const INVALID_DPOP_PROOF: &str = "invalid_dpop_proof";
const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Why a task token's request was refused, and what the proxy is told.
type Refused = (Refusal, &'static str);

/// Whether `url` (`scheme://host/path`, normalised) is within `resource`:
/// the same origin, and the resource's path a prefix of the URL's ending
/// at a segment boundary (`/v1` covers `/v1` and `/v1/x`, not `/v1x`).
pub(crate) fn within(resource: &str, request: &ForwardedRequest) -> bool {
    let Ok(resource) = ForwardedRequest::from_url("GET", resource) else {
        return false;
    };
    if resource.scheme() != request.scheme() || resource.host() != request.host() {
        return false;
    }
    let prefix = resource.path();
    let path = request.path();
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

impl Service {
    /// Decides a proxied request made with a DPoP-bound task token
    /// (`token`, from `Authorization: DPoP`) and its `proof` (the `DPoP`
    /// header). Allowed: as the delegator (or the agent, when autonomous),
    /// with the agent and task named. A token or proof that does not hold:
    /// [`ForwardDecision::Unauthorized`], audited (`task.use`, failure,
    /// at most 120 (`AUDITED_REFUSALS_PER_MINUTE`) a minute per
    /// address). Refused by policy: [`ForwardDecision::Deny`].
    pub async fn forward_auth_task(
        &self,
        token: &str,
        proof: Option<&str>,
        request: &ForwardedRequest,
        ctx: &ClientContext,
    ) -> Result<ForwardDecision, ServiceError> {
        let mut event = self.event(EventKind::TaskUse, ctx);
        match self
            .try_forward_task(token, proof, request, ctx, &mut event)
            .await?
        {
            Ok(decision) => Ok(decision),
            Err((reason, error)) => self.refuse_task_request(event, reason, error).await,
        }
    }

    /// A task token sent as `Authorization: Bearer`: it is bound to a key,
    /// so never accepted without the proof. `None` when `token` is not a
    /// task token (the caller goes on as without one).
    pub async fn forward_auth_bearer(
        &self,
        token: &str,
        ctx: &ClientContext,
    ) -> Result<Option<ForwardDecision>, ServiceError> {
        let Some(claims) = self.task_token_claims(token).await? else {
            return Ok(None);
        };
        let mut event = self.event(EventKind::TaskUse, ctx);
        if let Some(task) = claims.get("task_id").and_then(serde_json::Value::as_str) {
            event.details.insert("task".into(), task.to_owned());
        }
        self.refuse_task_request(event, Refusal::TaskTokenAsBearer, INVALID_TOKEN)
            .await
            .map(Some)
    }

    async fn try_forward_task(
        &self,
        token: &str,
        proof: Option<&str>,
        request: &ForwardedRequest,
        ctx: &ClientContext,
        event: &mut NewEvent,
    ) -> Result<Result<ForwardDecision, Refused>, ServiceError> {
        let Some(claims) = self.task_token_claims(token).await? else {
            return Ok(Err((Refusal::TaskTokenInvalid, INVALID_TOKEN)));
        };
        // The nonce key is loaded before the transaction (the writer is
        // one per node).
        self.dpop_ready().await?;
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let live = match self.live_task_token(&mut tx, claims).await? {
            Ok(live) => live,
            Err(reason) => return Ok(Err((reason, INVALID_TOKEN))),
        };
        event.details.insert("task".into(), live.task.id.clone());
        event
            .details
            .insert("agent".into(), live.agent.name.clone());
        event.subject = Some(live.agent.name.clone());
        event.subject_kind = Some("agent".into());
        let url = format!(
            "{}://{}{}",
            request.scheme(),
            request.host(),
            request.path()
        );
        let dpop = match self
            .check_dpop(&mut tx, proof, request.method(), &url, Some(token))
            .await
        {
            Ok(dpop) => dpop,
            Err(failure) => return Ok(Err(forward_dpop_refusal(failure)?)),
        };
        if !keyed_alike(&dpop.jkt, live.jkt()) {
            return Ok(Err((Refusal::TaskTokenKeyMismatch, INVALID_DPOP_PROOF)));
        }
        if !live.audience().iter().any(|r| within(r, request)) {
            return Ok(Err((Refusal::TaskTokenWrongResource, INVALID_TOKEN)));
        }
        let access = task_access(&live, request, ctx, now);
        let decision = self.decide(&access);
        let user = live
            .delegator
            .as_ref()
            .map_or_else(|| live.agent.name.clone(), |d| d.name.clone());
        let AccessDecision::Allow { .. } = decision else {
            // The proof's `jti` stays taken: a refused request's proof is
            // spent all the same.
            tx.commit().await?;
            if let Err(e) = self.record_denial(&access, &decision, ctx).await {
                tracing::warn!(error = %e, "a task token denial could not be recorded");
            }
            let policies = match decision {
                AccessDecision::Deny { policies } => policies,
                _ => Vec::new(),
            };
            return Ok(Ok(ForwardDecision::Deny { user, policies }));
        };
        if !count_use(&mut tx, &live, now).await? {
            return Ok(Err((Refusal::TaskTokenTaskEnded, INVALID_TOKEN)));
        }
        tx.commit().await?;
        self.agents.count_use(
            &live.task.id,
            &live.agent.name,
            live.delegator.as_ref().map(|d| d.name.as_str()),
        );
        Ok(Ok(ForwardDecision::Allow(Grant {
            name: user.clone(),
            user,
            groups: vec![AGENT_GROUP.to_owned()],
            tier: live.task.approval_tier.unwrap_or(0),
            agent: Some(live.agent.name.clone()),
            task: Some(live.task.id.clone()),
            scope: Some(live.scope().join(" ")),
        })))
    }

    /// Records a refused task-token request (within the per-address
    /// bound) and answers 401 with a fresh nonce.
    async fn refuse_task_request(
        &self,
        mut event: NewEvent,
        reason: Refusal,
        error: &'static str,
    ) -> Result<ForwardDecision, ServiceError> {
        event.outcome = Some(Outcome::Failure);
        let audited = self
            .agents
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(event.ip.as_deref(), self.now_ms());
        if audited {
            match self.record_refusal(event, reason, None).await {
                ServiceError::Rejected(_) => {}
                internal => return Err(internal),
            }
        } else {
            tracing::debug!(
                reason = reason.reason(),
                "task token refusal over the audit limit"
            );
        }
        Ok(ForwardDecision::Unauthorized {
            error,
            nonce: self.dpop_nonce().await.ok(),
        })
    }
}

/// Counts the use in the task's row; false when the task stopped being
/// active since it was read (it cannot within the transaction, but the
/// row is the authority).
async fn count_use(tx: &mut WriteTx, live: &LiveTaskToken, now: i64) -> Result<bool, ServiceError> {
    Ok(tx.count_task_uses(&live.task.id, 1, now).await?)
}

/// The refusal and `WWW-Authenticate` error of a failed proof; `Err`
/// for our own failure.
fn forward_dpop_refusal(failure: DpopFailure) -> Result<Refused, ServiceError> {
    let error = match failure {
        DpopFailure::NonceRequired => USE_DPOP_NONCE,
        _ => INVALID_DPOP_PROOF,
    };
    match (failure.refusal(), failure) {
        (Some(reason), _) => Ok((reason, error)),
        (None, DpopFailure::Internal(e)) => Err(e),
        (None, _) => Err(ServiceError::Internal("dpop".into())),
    }
}

/// Thumbprints compared in constant time.
fn keyed_alike(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The policy question: the agent, this method on this route, the task in
/// the context.
fn task_access(
    live: &LiveTaskToken,
    request: &ForwardedRequest,
    ctx: &ClientContext,
    now: i64,
) -> AccessRequest {
    AccessRequest {
        principal: Some(AccessPrincipal {
            id: live.agent.id.clone(),
            kind: IdentityKind::Agent,
            name: live.agent.name.clone(),
            groups: vec![AGENT_GROUP.to_owned()],
            active: true,
        }),
        action: AccessAction::Http(request.method().to_owned()),
        resource: AccessResource::Route {
            host: request.host().to_owned(),
            path: request.path().to_owned(),
        },
        context: AccessContext {
            tier: live.task.approval_tier.unwrap_or(0),
            user_verified: false,
            // Since the approval (or the unattended start): a policy that
            // wants a recent proof does not pass for a task's whole life.
            auth_age_s: now
                .saturating_sub(live.task.approved_ms.unwrap_or(live.task.created_ms))
                .max(0)
                / 1000,
            client_ip: ctx.ip.clone(),
            now_s: now / 1000,
            backup_met: false,
            session_bound: false,
            device: None,
            // What the task grants, for policies on agent routes
            // (`context.task.actions`...).
            task: Some(keybound_policy::TaskGrant {
                id: live.task.id.clone(),
                actions: live.scope(),
                delegator: live
                    .delegator
                    .as_ref()
                    .map(|d| d.name.clone())
                    .unwrap_or_default(),
                approval_tier: live.task.approval_tier.unwrap_or(0),
            }),
            task_request: None,
        },
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn at(url: &str) -> ForwardedRequest {
        ForwardedRequest::from_url("GET", url).unwrap_or_else(|_| panic!("{url}"))
    }

    #[test]
    fn a_resource_covers_its_origin_and_path_at_segment_boundaries() {
        assert!(within("https://api.test/", &at("https://api.test/x/y")));
        assert!(within("https://API.test:443/", &at("https://api.test/")));
        assert!(within("https://api.test/v1", &at("https://api.test/v1")));
        assert!(within("https://api.test/v1", &at("https://api.test/v1/x")));
        assert!(within(
            "https://api.test/v1/",
            &at("https://api.test/v1/x?q=1")
        ));
        assert!(!within("https://api.test/v1", &at("https://api.test/v1x")));
        assert!(!within("https://api.test/v1/", &at("https://api.test/v1")));
        assert!(!within("https://api.test/", &at("http://api.test/")));
        assert!(!within("https://api.test/", &at("https://api.test:8443/")));
        assert!(!within("https://api.test/", &at("https://other.test/")));
        assert!(!within("https://api.test/", &at("https://api.test.evil/")));
        assert!(!within("not a url", &at("https://api.test/")));
    }
}
