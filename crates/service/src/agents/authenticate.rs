//! An agent proves who it is with every call, never with a secret:
//!
//! - an agent registered with a SPIFFE ID presents a JWT-SVID that this
//!   deployment's workload CA signed (key custody's `WorkloadCa` keys, as
//!   the Workload API hands them out), for an audience naming the OIDC
//!   issuer, whose `sub` is its SPIFFE ID;
//! - an agent registered with a key presents a JWT it signed with that key
//!   under the `private_key_jwt` client-assertion rules (RFC 7523 §3:
//!   `iss` = `sub` = its name, `aud` the issuer, `exp`, at most five
//!   minutes of life, a `jti` taken once across nodes).
//!
//! Then the agent must be active, its identity active and its owner an
//! active person. Each way it fails is its own [`Refusal`].

use keybound_jose::{Algorithm, ClientAssertionChecks, Jwk};
use keybound_store::{AgentRow, Identity, IdentityKind, IdentityStatus, WriteTx};
use serde_json::Value;

use crate::single_use::TokenKind;
use crate::{KeyPurpose, Refusal, Service, ServiceError};

use super::registry::status;

/// The algorithms an agent may sign its key assertion with.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

/// An agent that proved itself.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticatedAgent {
    /// Its identity (kind `agent`).
    pub identity: Identity,
    /// Its registry row.
    #[allow(dead_code)] // read by the token exchange
    pub agent: AgentRow,
    /// The person answerable for it.
    pub owner: Identity,
    /// How it proved itself: `jwt_svid:<spiffe id>` or `key:<thumbprint>`.
    pub proof: String,
    /// When the proof expires, unix seconds.
    #[allow(dead_code)] // read by the token exchange
    pub expires_s: i64,
}

/// The refusal a JOSE failure is audited with.
fn jose_refusal(error: &keybound_jose::Error) -> Refusal {
    use keybound_jose::Error as E;
    match error {
        E::Expired | E::NotYetValid | E::IssuedInFuture | E::LifetimeTooLong => {
            Refusal::AgentProofExpired
        }
        _ => Refusal::AgentProofInvalid,
    }
}

/// Whether some registration entry still gives `spiffe_id` to an active
/// node (a named node, or any node of a `set:` parent). Read in the
/// caller's transaction, so a removal or decommission committed before
/// it is seen.
async fn still_registered(tx: &mut WriteTx, spiffe_id: &str) -> Result<bool, ServiceError> {
    let parents: Vec<String> = tx
        .workload_entries()
        .await?
        .into_iter()
        .filter(|e| e.spiffe_id == spiffe_id)
        .map(|e| e.parent)
        .collect();
    if parents.is_empty() {
        return Ok(false);
    }
    let active: Vec<keybound_store::WorkloadNodeRow> = tx
        .workload_nodes()
        .await?
        .into_iter()
        .filter(|n| n.status == "active")
        .collect();
    Ok(parents
        .iter()
        .any(|parent| match parent.strip_prefix("set:") {
            Some(label) => active
                .iter()
                .any(|n| super::string_list(&n.sets).iter().any(|s| s == label)),
            None => active.iter().any(|n| &n.name == parent),
        }))
}

fn rejected(refusal: Refusal) -> ServiceError {
    ServiceError::Rejected(refusal)
}

impl Service {
    /// Authenticates the agent presenting `token` (a JWT-SVID or a key
    /// assertion, see the module docs), in `tx`: a key assertion's `jti`
    /// is remembered there, so it counts as used once `tx` commits.
    /// Refusals come back as [`ServiceError::Rejected`] with their precise
    /// reason, for the caller to record under its own event kind; other
    /// errors are internal.
    pub(crate) async fn authenticate_agent(
        &self,
        tx: &mut WriteTx,
        token: &str,
    ) -> Result<AuthenticatedAgent, ServiceError> {
        if token.len() > keybound_jose::MAX_TOKEN_LEN {
            return Err(rejected(Refusal::AgentProofInvalid));
        }
        let claims = crate::oidc::assertion::unverified_claims(token)
            .ok_or(rejected(Refusal::AgentProofInvalid))?;
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        let now_s = self.now_ms() / 1000;
        let issuer = self.config.oidc.issuer.as_str();
        let (agent, proof, expires_s) =
            if sub.starts_with("spiffe://") {
                // A JWT-SVID: keybound's workload CA keys, this trust domain.
                // Read in `tx`: the caller holds the writer, and a reader
                // of the same database would wait for it on some backends.
                let after = self.config.key_rotation.published_after_retirement_ms();
                let now_ms = self.now_ms();
                let keys: Vec<Jwk> = tx
                    .signing_keys(KeyPurpose::WorkloadCa.as_str())
                    .await?
                    .iter()
                    .filter(|row| {
                        row.retired_ms
                            .is_none_or(|r| now_ms < r.saturating_add(after))
                    })
                    .filter_map(|row| serde_json::from_str::<Value>(&row.public_jwk).ok())
                    .filter_map(|v| Jwk::parse(&v).ok())
                    .collect();
                let td = keybound_ca::TrustDomain::parse(self.trust_domain())
                    .map_err(|e| ServiceError::Internal(format!("trust domain: {}", e.reason())))?;
                let svid = keybound_ca::validate_jwt_svid(token, issuer, &keys, &td, now_s)
                    .map_err(|e| match e {
                        keybound_ca::Error::Jwt(jose) => rejected(jose_refusal(&jose)),
                        _ => rejected(Refusal::AgentProofInvalid),
                    })?;
                let id = svid.spiffe_id.as_str().to_owned();
                let agent = tx
                    .agent_by_spiffe_id(&id)
                    .await?
                    .ok_or(rejected(Refusal::AgentUnknown))?;
                // An SVID outlives the entry and node it came from by up to
                // its lifetime: once no entry gives this SPIFFE ID to an
                // active node, a copy kept on a decommissioned host proves
                // nothing.
                if !still_registered(tx, &id).await? {
                    return Err(rejected(Refusal::AgentSvidUnregistered));
                }
                (agent, format!("jwt_svid:{id}"), svid.expiry_s)
            } else {
                // A key assertion: the agent its `iss` names, its registered key.
                let name = claims.get("iss").and_then(Value::as_str).unwrap_or("");
                let identity = tx
                    .identity_by_name(name)
                    .await?
                    .filter(|i| i.kind == IdentityKind::Agent && i.name == name)
                    .ok_or(rejected(Refusal::AgentUnknown))?;
                let agent = tx
                    .agent(&identity.id)
                    .await?
                    .ok_or(rejected(Refusal::AgentUnknown))?;
                let key = agent
                    .key_jwk
                    .as_deref()
                    .and_then(|json| serde_json::from_str::<Value>(json).ok())
                    .and_then(|v| Jwk::parse(&v).ok())
                    .ok_or(rejected(Refusal::AgentProofInvalid))?;
                let keys = [key];
                let audiences = [issuer];
                let checks = ClientAssertionChecks {
                    client_id: &identity.name,
                    audiences: &audiences,
                    keys: &keys,
                    algorithms: &ALGORITHMS,
                    now: now_s,
                };
                let verified = keybound_jose::verify_client_assertion(token, &checks)
                    .map_err(|e| rejected(jose_refusal(&e)))?;
                let until_s = verified
                    .exp
                    .saturating_add(keybound_jose::CLIENT_ASSERTION_LEEWAY);
                let once = format!("agent:{}:{}", identity.name, verified.jti);
                if !self
                    .remember_once(
                        tx,
                        TokenKind::ClientAssertion,
                        once.as_bytes(),
                        until_s.saturating_mul(1000),
                    )
                    .await?
                {
                    return Err(rejected(Refusal::AgentProofReplayed));
                }
                let thumbprint = agent.key_thumbprint.clone().unwrap_or_default();
                (agent, format!("key:{thumbprint}"), verified.exp)
            };
        let identity = tx
            .identity_by_id(&agent.identity_id)
            .await?
            .ok_or(rejected(Refusal::AgentUnknown))?;
        if agent.status != status::ACTIVE || identity.status != IdentityStatus::Active {
            return Err(rejected(Refusal::AgentDisabled));
        }
        let owner = tx
            .identity_by_id(&agent.owner_id)
            .await?
            .filter(|o| o.kind == IdentityKind::Person && o.status == IdentityStatus::Active)
            .ok_or(rejected(Refusal::AgentOwnerNotActive))?;
        Ok(AuthenticatedAgent {
            identity,
            agent,
            owner,
            proof,
            expires_s,
        })
    }
}
