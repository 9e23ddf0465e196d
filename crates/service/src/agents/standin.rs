//! Stand-ins for what h-dpop (`check_dpop`, `dpop_nonce`) and h-agents
//! (`authenticate_agent`) deliver, with their contract's names and shapes,
//! so the token exchange and forward-auth build and are tested before
//! those land. Removed at their merge.

use keybound_store::{AgentRow, Identity, IdentityStatus, WriteTx};
use serde_json::Value;

use crate::single_use::TokenKind;
use crate::{Refusal, Service, ServiceError};

/// How old a DPoP proof may be, seconds.
const DPOP_MAX_AGE_S: i64 = 60;
/// How far ahead a client's clock may run, seconds.
const DPOP_MAX_FUTURE_S: i64 = 5;

/// A DPoP proof that passed every check, its `jti` taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopVerified {
    /// The key's RFC 7638 thumbprint.
    pub(crate) jkt: String,
    /// The proof's id.
    #[allow(dead_code)]
    pub(crate) jti: String,
}

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // NonceRequired: h-dpop's nonces
pub(crate) enum DpopFailure {
    /// None was sent.
    Missing,
    /// A check failed; the reason.
    Invalid(&'static str),
    /// No nonce, or a stale one: retry with `DPoP-Nonce`.
    NonceRequired,
    /// Its `jti` was seen before (on any node).
    Replayed,
}

fn reason(e: &keybound_jose::Error) -> &'static str {
    use keybound_jose::Error as E;
    match e {
        E::AlgorithmNotAllowed => "dpop_algorithm_not_allowed",
        E::PrivateKey => "dpop_private_key",
        E::BadSignature => "dpop_bad_signature",
        E::WrongMethod => "dpop_wrong_method",
        E::WrongUri => "dpop_wrong_uri",
        E::Stale => "dpop_stale",
        E::IssuedInFuture => "dpop_issued_in_future",
        E::WrongAccessToken => "dpop_wrong_access_token",
        _ => "dpop_malformed",
    }
}

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
    /// Checks a DPoP proof for `method` `url` (and `access_token`'s
    /// `ath`), taking its `jti` once in `tx`.
    pub(crate) async fn check_dpop(
        &self,
        tx: &mut WriteTx,
        proof: Option<&str>,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<DpopVerified, DpopFailure> {
        let proof = proof.ok_or(DpopFailure::Missing)?;
        let now_s = self.now_ms() / 1000;
        let checked = keybound_jose::verify_dpop_proof(
            proof,
            &keybound_jose::DpopChecks {
                method,
                url,
                now_s,
                max_age_s: DPOP_MAX_AGE_S,
                max_future_s: DPOP_MAX_FUTURE_S,
                access_token,
            },
        )
        .map_err(|e| DpopFailure::Invalid(reason(&e)))?;
        let once = format!("{}:{}", checked.jkt, checked.jti);
        let fresh = self
            .remember_once(
                tx,
                TokenKind::DpopProof,
                once.as_bytes(),
                (checked.iat + DPOP_MAX_AGE_S + DPOP_MAX_FUTURE_S) * 1000,
            )
            .await
            .map_err(|_| DpopFailure::Invalid("dpop_store"))?;
        if !fresh {
            return Err(DpopFailure::Replayed);
        }
        Ok(DpopVerified {
            jkt: checked.jkt,
            jti: checked.jti,
        })
    }

    /// The nonce to hand out (`DPoP-Nonce`).
    pub async fn dpop_nonce(&self) -> Result<String, ServiceError> {
        Ok(format!("n{}", self.now_ms() / 60_000))
    }

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
