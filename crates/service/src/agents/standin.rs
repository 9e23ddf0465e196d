//! A stand-in for what h-agents delivers (`authenticate_agent`) deliver, with their contract's names and shapes,
//! so the token exchange and forward-auth build and are tested before
//! those land. Removed at their merge.

use keybound_store::{AgentRow, Identity, IdentityStatus, WriteTx};
use serde_json::Value;

use crate::single_use::TokenKind;
use crate::{Refusal, Service};

/// An agent whose proof verified.
#[allow(dead_code)]
pub(crate) struct AuthenticatedAgent {
    pub(crate) identity: Identity,
    pub(crate) agent: AgentRow,
    pub(crate) owner: Identity,
    pub(crate) proof: String,
    pub(crate) expires_s: i64,
}

impl Service {
    /// Authenticates an agent by a JWT signed with its registered key.
    pub(crate) async fn authenticate_agent(
        &self,
        tx: &mut WriteTx,
        token: &str,
    ) -> Result<AuthenticatedAgent, Refusal> {
        let unverified = token
            .split('.')
            .nth(1)
            .and_then(|p| keybound_webauthn::b64::decode(p).ok())
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok());
        let name = unverified
            .as_ref()
            .and_then(|c| c.get("iss"))
            .and_then(Value::as_str)
            .ok_or(Refusal::AgentProofInvalid)?
            .to_owned();
        let identity = tx
            .identity_by_name(&name)
            .await
            .ok()
            .flatten()
            .ok_or(Refusal::AgentUnknown)?;
        let agent = tx
            .agent(&identity.id)
            .await
            .ok()
            .flatten()
            .ok_or(Refusal::AgentUnknown)?;
        let key = agent
            .key_jwk
            .as_deref()
            .and_then(|k| serde_json::from_str::<Value>(k).ok())
            .and_then(|k| keybound_jose::Jwk::parse(&k).ok())
            .ok_or(Refusal::AgentProofInvalid)?;
        let issuer = self.config.oidc.issuer.clone();
        let keys = [key.clone()];
        let checked = keybound_jose::verify_client_assertion(
            token,
            &keybound_jose::ClientAssertionChecks {
                client_id: &name,
                audiences: &[issuer.as_str()],
                keys: &keys,
                algorithms: &[keybound_jose::Algorithm::Es256],
                now: self.now_ms() / 1000,
            },
        )
        .map_err(|e| match e {
            keybound_jose::Error::Expired => Refusal::AgentProofExpired,
            _ => Refusal::AgentProofInvalid,
        })?;
        let once = format!("agent:{name}:{}", checked.jti);
        let fresh = self
            .remember_once(
                tx,
                TokenKind::ClientAssertion,
                once.as_bytes(),
                checked.exp * 1000,
            )
            .await
            .map_err(|_| Refusal::AgentProofInvalid)?;
        if !fresh {
            return Err(Refusal::AgentProofInvalid);
        }
        let owner = tx
            .identity_by_id(&agent.owner_id)
            .await
            .ok()
            .flatten()
            .ok_or(Refusal::AgentDisabled)?;
        if agent.status != "active"
            || identity.status != IdentityStatus::Active
            || owner.status != IdentityStatus::Active
        {
            return Err(Refusal::AgentDisabled);
        }
        Ok(AuthenticatedAgent {
            proof: format!("key:{}", key.thumbprint()),
            expires_s: checked.exp,
            identity,
            agent,
            owner,
        })
    }
}
