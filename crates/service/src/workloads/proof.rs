//! The node proof every node call carries after attestation:
//! `Authorization: KeyboundNode <jws>`, an ES256 JWS with header
//! `{"typ": "kb-node+jwt", "jwk": <node key>}` and claims
//! `{"htm", "htu", "iat", "jti", "node"}` (DPoP's shape, RFC 9449 §4.2).
//!
//! Checks, in order: the scheme, size, the header's `typ` and `jwk`, a
//! node bound to that key (by RFC 7638 thumbprint), the signature under
//! the *stored* key, `node` naming that node, `htm` and the path of `htu`
//! matching the request, `iat` within the window, the node active, and
//! the `jti` never seen before (remembered, per node, until the proof
//! would be stale anyway). Only the path of `htu` is compared: servers
//! behind proxies and load balancers do not know the URL the agent
//! dialled, and a proof replayed to another server of the same
//! deployment is still refused by the shared `jti` record.

use keybound_jose::Algorithm;
use keybound_store::{WorkloadNodeRow, WriteTx};
use keybound_workload_api::wire::{NODE_AUTH_SCHEME, NODE_PROOF_TYP};
use serde_json::Value;

use crate::{Refusal, Service, ServiceError, TokenKind};

use super::status;

/// The longest proof accepted, in bytes.
pub(crate) const MAX_NODE_PROOF: usize = 4096;
/// The longest `jti` accepted.
pub(crate) const MAX_JTI: usize = 128;

/// A node call as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct NodeCall<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The request method (`POST`).
    pub method: &'a str,
    /// The request path (`/workload/v1/sync`).
    pub path: &'a str,
}

/// Why a proof was refused, and the node it claimed when known.
pub(crate) type ProofRefusal = (Option<String>, Refusal);

fn header_of(token: &str) -> Option<serde_json::Map<String, Value>> {
    let h64 = token.split('.').next()?;
    match serde_json::from_slice(&keybound_webauthn::b64::decode(h64).ok()?) {
        Ok(Value::Object(header)) => Some(header),
        _ => None,
    }
}

impl Service {
    /// The node that made `call`, its proof checked and its `jti`
    /// remembered in `tx`; `Ok(Err(..))` with the refusal otherwise.
    pub(crate) async fn authenticate_node(
        &self,
        tx: &mut WriteTx,
        call: &NodeCall<'_>,
    ) -> Result<Result<WorkloadNodeRow, ProofRefusal>, ServiceError> {
        let malformed = Err((None, Refusal::WorkloadNodeProofMalformed));
        let Some(token) = call
            .authorization
            .and_then(|a| a.strip_prefix(NODE_AUTH_SCHEME))
            .and_then(|a| a.strip_prefix(' '))
            .map(str::trim)
        else {
            return Ok(malformed);
        };
        if token.len() > MAX_NODE_PROOF {
            return Ok(malformed);
        }
        let Some(header) = header_of(token) else {
            return Ok(malformed);
        };
        if header.get("typ").and_then(Value::as_str) != Some(NODE_PROOF_TYP) {
            return Ok(malformed);
        }
        let Some(Ok((_, thumbprint, _))) = header.get("jwk").map(super::nodes::node_key) else {
            return Ok(malformed);
        };
        let Some(node) = tx.workload_node_by_key(&thumbprint).await? else {
            return Ok(Err((None, Refusal::WorkloadNodeProofSignature)));
        };
        let name = Some(node.name.clone());
        let stored = serde_json::from_str(&node.key_jwk)
            .ok()
            .and_then(|v| keybound_jose::Jwk::parse(&v).ok())
            .ok_or_else(|| ServiceError::Internal("a stored node key is unreadable".into()))?;
        let verified = match keybound_jose::verify(token, &[Algorithm::Es256], |_| Some(stored)) {
            Ok(v) => v,
            Err(_) => return Ok(Err((name, Refusal::WorkloadNodeProofSignature))),
        };
        let Ok(claims) = verified.claims() else {
            return Ok(Err((name, Refusal::WorkloadNodeProofMalformed)));
        };
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        let htu_path = text("htu")
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.path().to_owned());
        if text("node") != Some(node.name.as_str())
            || text("htm") != Some(call.method)
            || htu_path.as_deref() != Some(call.path)
        {
            return Ok(Err((name, Refusal::WorkloadNodeProofWrongTarget)));
        }
        let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
            return Ok(Err((name, Refusal::WorkloadNodeProofMalformed)));
        };
        let window = self.config.workloads.proof_window_ms;
        let iat_ms = iat.saturating_mul(1000);
        if iat_ms.saturating_sub(self.now_ms()).abs() > window {
            return Ok(Err((name, Refusal::WorkloadNodeProofStale)));
        }
        let jti = match text("jti") {
            Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI => jti,
            _ => return Ok(Err((name, Refusal::WorkloadNodeProofMalformed))),
        };
        if node.status != status::ACTIVE {
            return Ok(Err((name, Refusal::WorkloadNodeDecommissioned)));
        }
        let seen = format!("{}\n{jti}", node.name);
        let expires = iat_ms.saturating_add(window).saturating_add(1000);
        if !self
            .remember_once(tx, TokenKind::NodeProof, seen.as_bytes(), expires)
            .await?
        {
            return Ok(Err((name, Refusal::WorkloadNodeProofReplayed)));
        }
        Ok(Ok(node))
    }
}
