//! The token exchange for agents (RFC 8693) at the token endpoint: an
//! agent trades its own proof (`actor_token`) and, for a delegated task,
//! its person's token (`subject_token`) for a task token: a short-lived
//! RFC 9068 access token naming the person (`sub`), the agent (`act`), the
//! task (`task_id`), the resources it may reach (`aud`, RFC 8707) and the
//! key the agent holds (`cnf.jkt`, RFC 9449). No bearer tokens for agents:
//! the request must carry a DPoP proof, and the token is bound to its key.
//!
//! Each check is its own audited [`Refusal`]; the agent is told only the
//! RFC's error code. Everything happens in one write transaction: the DPoP
//! proof's and the actor token's `jti`s are taken there, so a refusal
//! rolls them back along with anything it would have issued.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{IdentityStatus, TaskRow, TaskTokenRow, WriteTx};
use serde_json::{json, Map, Value};

use super::authenticate::AuthenticatedAgent;
use super::dpop::DpopFailure;
use super::string_list;
use crate::oidc::params::OidcParams;
use crate::oidc::signing;
use crate::oidc::token::{internal, refused, Refused};
use crate::oidc::OAuthError;
use crate::record::Record;
use crate::tokens::hash_token;
use crate::{Refusal, Service, TaskStatus};

/// The grant type of RFC 8693 §2.1.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// A JWT (RFC 8693 §3): the agent's own proof.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// An access token keybound issued (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// An ID token keybound issued (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Resources one exchange may name (a task has at most 16).
const MAX_RESOURCES: usize = 16;

/// What a token request carries besides its form: the `DPoP` header and
/// the token endpoint's own URL (the proof's `htu`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenProof<'a> {
    /// The `DPoP` header, if sent.
    pub dpop: Option<&'a str>,
    /// The token endpoint's URL as the client addresses it.
    pub url: &'a str,
}

/// The refusal and error a failed DPoP check is told (RFC 9449 §5, §8);
/// a missing proof is `invalid_request` (no bearer tokens for agents).
pub(crate) fn dpop_refused(failure: DpopFailure) -> Refused {
    let told = match failure {
        DpopFailure::Missing => OAuthError::InvalidRequest,
        DpopFailure::NonceRequired => OAuthError::UseDpopNonce,
        _ => OAuthError::InvalidDpopProof,
    };
    match (failure.refusal(), failure) {
        (Some(reason), _) => refused(reason, told),
        (None, DpopFailure::Internal(e)) => internal(e),
        (None, _) => internal(crate::ServiceError::Internal("dpop".into())),
    }
}

/// The refusal and error a failed agent proof is told: an expired proof
/// is `invalid_grant`, any other `invalid_request` (RFC 8693 §2.2.2);
/// our own failure stays internal.
fn actor_refusal(e: crate::ServiceError) -> Refused {
    match e {
        crate::ServiceError::Rejected(Refusal::AgentProofExpired) => {
            refused(Refusal::AgentProofExpired, OAuthError::InvalidGrant)
        }
        crate::ServiceError::Rejected(reason) => refused(reason, OAuthError::InvalidRequest),
        other => internal(other),
    }
}

/// The `aud` claim: the one resource, or all of them.
pub(crate) fn audience(resources: &[String]) -> Value {
    match resources {
        [one] => json!(one),
        many => json!(many),
    }
}

/// What an exchange asks for, checked against its task.
struct Asked {
    resources: Vec<String>,
    scope: Vec<String>,
}

/// The subset of the task asked for: each `resource` among the task's
/// (else `invalid_target`), each `scope` value among its actions (else
/// `invalid_scope`); none asked means all.
fn narrow(params: &OidcParams, task: &TaskRow) -> Result<Asked, Refused> {
    let malformed = |r| refused(r, OAuthError::InvalidRequest);
    let granted = string_list(&task.resources);
    let actions = string_list(&task.actions);
    let asked = params.all("resource", MAX_RESOURCES).map_err(malformed)?;
    let mut resources: Vec<String> = Vec::new();
    for resource in asked {
        if !granted.iter().any(|g| g == resource) {
            return Err(refused(
                Refusal::ExchangeResourceNotInTask,
                OAuthError::InvalidTarget,
            ));
        }
        if !resources.iter().any(|r| r == resource) {
            resources.push(resource.to_owned());
        }
    }
    if resources.is_empty() {
        resources = granted;
    }
    let scope = match params.get("scope").map_err(malformed)? {
        None => actions,
        Some(asked) => {
            let mut scope: Vec<String> = Vec::new();
            for value in asked.split(' ').filter(|v| !v.is_empty()) {
                if !actions.iter().any(|a| a == value) {
                    return Err(refused(
                        Refusal::ExchangeScopeNotInTask,
                        OAuthError::InvalidScope,
                    ));
                }
                if !scope.iter().any(|s| s == value) {
                    scope.push(value.to_owned());
                }
            }
            scope
        }
    };
    if resources.is_empty() || scope.is_empty() {
        return Err(refused(
            Refusal::ExchangeScopeNotInTask,
            OAuthError::InvalidScope,
        ));
    }
    Ok(Asked { resources, scope })
}

impl Service {
    /// The token-exchange grant (RFC 8693 §2.1) for an agent's task; the
    /// reply of §2.2.1 with `token_type: DPoP`. `event` is `task.token`.
    pub(crate) async fn exchange_task_token(
        &self,
        params: &OidcParams,
        proof: &TokenProof<'_>,
        event: &mut NewEvent,
    ) -> Result<Value, Refused> {
        let malformed = |r| refused(r, OAuthError::InvalidRequest);
        let actor_token = params
            .get("actor_token")
            .map_err(malformed)?
            .ok_or_else(|| malformed(Refusal::ExchangeActorMissing))?;
        if params.get("actor_token_type").map_err(malformed)? != Some(JWT_TOKEN_TYPE) {
            return Err(malformed(Refusal::ExchangeActorTypeUnsupported));
        }
        let task_id = params
            .get("task_id")
            .map_err(malformed)?
            .ok_or_else(|| malformed(Refusal::ExchangeTaskMissing))?;
        event.details.insert("task".into(), task_id.to_owned());
        let subject_token = params
            .get("subject_token")
            .map_err(malformed)?
            .ok_or_else(|| malformed(Refusal::ExchangeSubjectInvalid))?;
        let subject_type = params
            .get("subject_token_type")
            .map_err(malformed)?
            .ok_or_else(|| malformed(Refusal::ExchangeSubjectInvalid))?;
        // No bearer tokens for agents: a request without a proof is
        // refused before anything is looked up.
        if proof.dpop.is_none() {
            return Err(dpop_refused(DpopFailure::Missing));
        }
        // The nonce key is loaded before the transaction (the writer is
        // one per node).
        self.dpop_ready().await.map_err(internal)?;
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await.map_err(internal)?;
        // The proof first: a client told to fetch a nonce has spent
        // nothing else (the refusal rolls every take back anyway).
        let dpop = self
            .check_dpop(&mut tx, proof.dpop, "POST", proof.url, None)
            .await
            .map_err(dpop_refused)?;
        let agent = self
            .authenticate_agent(&mut tx, actor_token)
            .await
            .map_err(actor_refusal)?;
        event.subject = Some(agent.identity.name.clone());
        event.subject_kind = Some("agent".into());
        event
            .details
            .insert("agent".into(), agent.identity.name.clone());
        event
            .details
            .insert("agent_proof".into(), agent.proof.clone());
        let task = self.exchange_task(&mut tx, &agent, task_id, now).await?;
        let delegator = self
            .exchange_subject(
                &mut tx,
                &agent,
                &task,
                subject_token,
                subject_type,
                actor_token,
            )
            .await?;
        event.details.insert(
            "delegator".into(),
            delegator.clone().unwrap_or_else(|| "-".into()),
        );
        let asked = narrow(params, &task)?;
        let ttl_s = self.config.tasks.token_ttl_s;
        let exp_s = (now / 1000 + ttl_s).min(task.expires_ms / 1000);
        let jti = self.mint().value;
        let claims = json!({
            "iss": self.config.oidc.issuer,
            "sub": delegator.as_deref().unwrap_or(&agent.identity.name),
            "act": {"sub": agent.identity.name},
            "client_id": agent.identity.name,
            "aud": audience(&asked.resources),
            "scope": asked.scope.join(" "),
            "task_id": task.id,
            "cnf": {"jkt": dpop.jkt},
            "jti": jti,
            "iat": now / 1000,
            "exp": exp_s,
        });
        let Value::Object(claims) = claims else {
            return Err(internal(crate::ServiceError::Internal(
                "claims are not an object".into(),
            )));
        };
        let token = signing::sign_jwt(self, &mut tx, "ES256", "at+jwt", &claims)
            .await
            .map_err(internal)?;
        tx.insert_task_token(&TaskTokenRow {
            jti_hash: hash_token(&jti),
            task_id: task.id.clone(),
            cnf_kind: "jkt".into(),
            cnf_value: dpop.jkt.clone(),
            created_ms: now,
            expires_ms: exp_s * 1000,
            revoked_ms: None,
        })
        .await
        .map_err(internal)?;
        let mut done = event.clone();
        done.outcome = Some(Outcome::Success);
        for (name, value) in [
            ("jkt", dpop.jkt.clone()),
            ("resources", asked.resources.join(" ")),
            ("scope", asked.scope.join(" ")),
            ("expires", (exp_s * 1000).to_string()),
        ] {
            done.details.insert(name.into(), value);
        }
        tx.record(done).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(json!({
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "DPoP",
            "expires_in": (exp_s - now / 1000).max(0),
            "scope": asked.scope.join(" "),
        }))
    }

    /// The task `task_id`, if it is the agent's, active and unexpired.
    async fn exchange_task(
        &self,
        tx: &mut WriteTx,
        agent: &AuthenticatedAgent,
        task_id: &str,
        now: i64,
    ) -> Result<TaskRow, Refused> {
        let task = tx
            .task(task_id)
            .await
            .map_err(internal)?
            .filter(|t| t.agent_id == agent.identity.id)
            .ok_or_else(|| refused(Refusal::ExchangeTaskUnknown, OAuthError::InvalidGrant))?;
        if task.status != TaskStatus::Active.as_str() {
            return Err(refused(
                Refusal::ExchangeTaskNotActive,
                OAuthError::InvalidGrant,
            ));
        }
        if task.expires_ms <= now {
            return Err(refused(
                Refusal::ExchangeTaskExpired,
                OAuthError::InvalidGrant,
            ));
        }
        Ok(task)
    }

    /// Checks the subject token against the task: for a delegated task
    /// the delegator's live access token or an ID token keybound signed
    /// for them (their name is returned); for an autonomous one the
    /// agent's own proof (`None`).
    async fn exchange_subject(
        &self,
        tx: &mut WriteTx,
        agent: &AuthenticatedAgent,
        task: &TaskRow,
        subject_token: &str,
        subject_type: &str,
        actor_token: &str,
    ) -> Result<Option<String>, Refused> {
        let invalid = || refused(Refusal::ExchangeSubjectInvalid, OAuthError::InvalidRequest);
        let not_theirs = || {
            refused(
                Refusal::ExchangeSubjectNotDelegator,
                OAuthError::InvalidGrant,
            )
        };
        let Some(delegator_id) = task.delegator_id.as_deref() else {
            // Autonomous: the agent speaks for itself.
            if subject_type != JWT_TOKEN_TYPE {
                return Err(invalid());
            }
            let same = subject_token.len() == actor_token.len()
                && aws_lc_rs::constant_time::verify_slices_are_equal(
                    subject_token.as_bytes(),
                    actor_token.as_bytes(),
                )
                .is_ok();
            if !same {
                let subject = match self.authenticate_agent(tx, subject_token).await {
                    Ok(subject) => subject,
                    Err(crate::ServiceError::Rejected(_)) => return Err(invalid()),
                    Err(e) => return Err(internal(e)),
                };
                if subject.identity.id != agent.identity.id {
                    return Err(not_theirs());
                }
            }
            return Ok(None);
        };
        let person = match subject_type {
            ACCESS_TOKEN_TYPE => {
                let live = self
                    .live_token(tx, subject_token)
                    .await
                    .map_err(internal)?
                    .filter(|l| l.row.kind == "access")
                    .ok_or_else(invalid)?;
                live.identity.id
            }
            ID_TOKEN_TYPE => {
                self.id_token_person(tx, subject_token, delegator_id)
                    .await?
            }
            _ => return Err(invalid()),
        };
        if person != delegator_id {
            return Err(not_theirs());
        }
        let delegator = tx
            .identity_by_id(delegator_id)
            .await
            .map_err(internal)?
            .filter(|i| i.status == IdentityStatus::Active)
            .ok_or_else(|| {
                refused(
                    Refusal::ExchangeDelegatorNotActive,
                    OAuthError::InvalidGrant,
                )
            })?;
        Ok(Some(delegator.name))
    }

    /// The identity id an ID token keybound signed names (`delegator_id`
    /// when its `sub` is theirs for its client), after its signature,
    /// issuer and expiry. Another person's token answers some other id.
    async fn id_token_person(
        &self,
        tx: &mut WriteTx,
        token: &str,
        delegator_id: &str,
    ) -> Result<String, Refused> {
        let invalid = || refused(Refusal::ExchangeSubjectInvalid, OAuthError::InvalidRequest);
        let claims: Map<String, Value> = signing::verify_jwt(self, token, "JWT")
            .await
            .map_err(internal)?
            .ok_or_else(invalid)?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.oidc.issuer.as_str()) {
            return Err(invalid());
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(invalid)?;
        if exp * 1000 <= self.now_ms() {
            return Err(invalid());
        }
        let client_id = match claims.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            Some(Value::Array(auds)) => match auds.as_slice() {
                [Value::String(aud)] => aud.clone(),
                _ => return Err(invalid()),
            },
            _ => return Err(invalid()),
        };
        let client = tx
            .oidc_client(&client_id)
            .await
            .map_err(internal)?
            .ok_or_else(invalid)?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let theirs = self
            .oidc_subject(&client, delegator_id)
            .await
            .map_err(internal)?;
        Ok(if sub == theirs {
            delegator_id.to_owned()
        } else {
            format!("not:{sub}")
        })
    }
}
