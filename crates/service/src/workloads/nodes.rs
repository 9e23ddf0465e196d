//! Nodes: the hosts whose node agent (`keybound node`) serves workloads.
//! An administrator creates a join token naming the node to be; the agent
//! spends it once (on any server: the kernel's single-use rule) to bind
//! its node key. From then on the node proves that key on every call; a
//! decommissioned node is refused at its next call and its SVIDs revoked.

use super::tpm::TPM_NODE_PREFIX;
use keybound_jose::{Algorithm, Jwk};
use keybound_store::{JoinTokenRow, StoreError, WorkloadNodeRow};
use keybound_workload_api::wire::{AttestResponse, JoinAttestRequest};

use crate::record::Record;
use crate::tokens::hash_token;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError, TokenKind};

use super::{spiffe, status};

/// The longest join token accepted, in bytes (ours are 43).
const MAX_JOIN_TOKEN: usize = 128;
/// The longest node key JWK accepted, serialized.
const MAX_NODE_KEY: usize = 2048;

/// A join token, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// The token for the node agent (`keybound node --join-token`).
    pub token: String,
    /// The node it makes.
    pub node: String,
    /// Expiry, ms.
    pub expires_ms: i64,
}

/// A node as the CLI (`--json`) and the console show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeView {
    /// Its name.
    pub name: String,
    /// Its SPIFFE ID.
    pub spiffe_id: String,
    /// `join_token`, `tpm` or `local`.
    pub attestation: String,
    /// `active` or `decommissioned`.
    pub status: String,
    /// Node sets.
    pub sets: Vec<String>,
    /// The node key's thumbprint.
    pub key_thumbprint: String,
    /// Last attestation, ms.
    pub attested_ms: i64,
    /// Last sync, ms.
    pub last_seen_ms: Option<i64>,
}

impl NodeView {
    pub(crate) fn of(row: &WorkloadNodeRow) -> NodeView {
        NodeView {
            name: row.name.clone(),
            spiffe_id: row.spiffe_id.clone(),
            attestation: row.attestation.clone(),
            status: row.status.clone(),
            sets: spiffe::from_json(&row.sets),
            key_thumbprint: row.key_thumbprint.clone(),
            attested_ms: row.attested_ms,
            last_seen_ms: row.last_seen_ms,
        }
    }
}

/// A node key as bound: a public EC P-256 JWK (ES256), its thumbprint and
/// its JSON; otherwise `workload_node_key_invalid`.
pub(crate) fn node_key(value: &serde_json::Value) -> Result<(Jwk, String, String), Refusal> {
    let json = serde_json::to_string(value).map_err(|_| Refusal::WorkloadNodeKeyInvalid)?;
    if json.len() > MAX_NODE_KEY {
        return Err(Refusal::WorkloadNodeKeyInvalid);
    }
    let jwk = Jwk::parse(value).map_err(|_| Refusal::WorkloadNodeKeyInvalid)?;
    if jwk.algorithm() != Algorithm::Es256 {
        return Err(Refusal::WorkloadNodeKeyInvalid);
    }
    let thumbprint = jwk.thumbprint();
    let public = jwk.to_json().to_string();
    Ok((jwk, thumbprint, public))
}

impl Service {
    /// Creates a join token for the node `node` (in `sets`), usable once
    /// within `ttl_ms` (`keybound workload token create`). A name already
    /// in the registry: `workload_node_name_taken`.
    pub async fn create_join_token(
        &self,
        actor: Actor<'_>,
        node: &str,
        sets: &[String],
        ttl_ms: i64,
        ctx: &ClientContext,
    ) -> Result<JoinToken, ServiceError> {
        let attempt = self.workload_event(
            EventKind::WorkloadTokenCreate,
            ctx,
            actor.name(),
            &super::entries::clip(node),
        );
        // `tpm-…` names belong to TPM-attested nodes (named from their EK):
        // a join token for one would take over that node's entries.
        let checked = spiffe::node_name(node)
            .and_then(|n| match n.starts_with(TPM_NODE_PREFIX) {
                true => Err(ServiceError::Rejected(Refusal::WorkloadInvalidNodeName)),
                false => Ok(n),
            })
            .and_then(|n| Ok((n, spiffe::node_sets(sets)?)));
        let (node, sets) = match checked {
            Ok(ok) => ok,
            Err(ServiceError::Rejected(r)) => {
                return Err(self.record_refusal(attempt, r, None).await)
            }
            Err(e) => return Err(e),
        };
        if ttl_ms <= 0 || ttl_ms > self.config.workloads.max_join_token_ttl_ms {
            return Err(self
                .record_refusal(
                    attempt,
                    Refusal::WorkloadInvalidEntryField,
                    Some("ttl".into()),
                )
                .await);
        }
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        if tx.workload_node(&node).await?.is_some() {
            drop(tx);
            return Err(self
                .record_refusal(attempt, Refusal::WorkloadNodeNameTaken, None)
                .await);
        }
        let token = self
            .issue_single_use(&mut tx, TokenKind::JoinToken, ttl_ms)
            .await?;
        let now = self.now_ms();
        let expires_ms = now.saturating_add(ttl_ms);
        tx.insert_workload_join_token(&JoinTokenRow {
            token_hash: token.hash.clone(),
            node_name: node.clone(),
            sets: spiffe::to_json(&sets),
            created_by: actor.name().to_owned(),
            created_ms: now,
            expires_ms,
        })
        .await?;
        let mut event = attempt;
        event.reason = Some(format!(
            "join token for node {node} (sets: {}), expires in {} s",
            sets.join(","),
            ttl_ms / 1000
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(JoinToken {
            token: token.value,
            node,
            expires_ms,
        })
    }

    /// A node agent attests with a join token (`POST /workload/v1/attest/join`):
    /// the token is spent (once, across every server) and the node key
    /// bound to the node it names. Refused, audited as
    /// `workload.node.refused`: a malformed key, an unknown, spent or
    /// expired token, a node name or key already bound.
    pub async fn attest_join(
        &self,
        request: &JoinAttestRequest,
        ctx: &ClientContext,
    ) -> Result<AttestResponse, ServiceError> {
        let (_, thumbprint, public) = match node_key(&request.node_key) {
            Ok(key) => key,
            Err(r) => return Err(self.refuse_node(ctx, None, r, None).await),
        };
        if request.token.is_empty() || request.token.len() > MAX_JOIN_TOKEN {
            return Err(self
                .refuse_node(ctx, None, Refusal::WorkloadJoinTokenInvalid, None)
                .await);
        }
        let mut tx = self.kernel.store.begin().await?;
        let terms = tx.workload_join_token(&hash_token(&request.token)).await?;
        let spent = self
            .use_single_use(&mut tx, TokenKind::JoinToken, &request.token)
            .await?;
        let Some(terms) = terms.filter(|_| spent) else {
            drop(tx);
            return Err(self
                .refuse_node(ctx, None, Refusal::WorkloadJoinTokenInvalid, None)
                .await);
        };
        let now = self.now_ms();
        let row = WorkloadNodeRow {
            name: terms.node_name.clone(),
            spiffe_id: self.node_spiffe_id(&terms.node_name),
            attestation: "join_token".into(),
            key_thumbprint: thumbprint.clone(),
            key_jwk: public,
            tpm_ek_hash: None,
            tpm_ak_public: None,
            device_id: None,
            status: status::ACTIVE.into(),
            sets: terms.sets.clone(),
            attested_ms: now,
            last_seen_ms: None,
            decommissioned_ms: None,
        };
        if let Err(refusal) = self.bind_node(&mut tx, &row).await? {
            drop(tx);
            return Err(self
                .refuse_node(ctx, Some(&terms.node_name), refusal, None)
                .await);
        }
        let mut event = self.workload_event(
            EventKind::WorkloadNodeAttest,
            ctx,
            &row.name,
            &row.spiffe_id,
        );
        event.reason = Some(format!(
            "join token (created by {}) bound node key {thumbprint}",
            terms.created_by
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(AttestResponse {
            node: row.name,
            spiffe_id: row.spiffe_id,
            trust_domain: self.trust_domain().to_owned(),
        })
    }

    /// Stores a newly attested node in `tx`: `Ok(Err(refusal))` when its
    /// name or key is bound already. (TPM attestation binds through here
    /// too.)
    pub(crate) async fn bind_node(
        &self,
        tx: &mut keybound_store::WriteTx,
        row: &WorkloadNodeRow,
    ) -> Result<Result<(), Refusal>, ServiceError> {
        if tx.workload_node(&row.name).await?.is_some() {
            return Ok(Err(Refusal::WorkloadNodeNameTaken));
        }
        match tx.insert_workload_node(row).await {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Conflict) => Ok(Err(Refusal::WorkloadNodeKeyTaken)),
            Err(e) => Err(e.into()),
        }
    }

    /// Every node (`keybound workload node list`, the console).
    pub async fn workload_nodes(&self, actor: Actor<'_>) -> Result<Vec<NodeView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        Ok(tx
            .workload_nodes()
            .await?
            .iter()
            .map(NodeView::of)
            .collect())
    }

    /// The node `name`; none: [`ServiceError::NotFound`].
    pub async fn workload_node(
        &self,
        actor: Actor<'_>,
        name: &str,
    ) -> Result<NodeView, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let row = tx
            .workload_node(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(NodeView::of(&row))
    }

    /// Decommissions the node `name` (`keybound workload node
    /// decommission`): refused at its next call, its unexpired SVIDs
    /// revoked (listed in the CRLs until they expire). Decommissioned
    /// already: `workload_node_decommissioned`.
    pub async fn decommission_workload_node(
        &self,
        actor: Actor<'_>,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<u64, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let row = tx
            .workload_node(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut event = self.workload_event(
            EventKind::WorkloadNodeDecommission,
            ctx,
            actor.name(),
            &row.spiffe_id,
        );
        let now = self.now_ms();
        if !tx.decommission_workload_node(&row.name, now).await? {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::WorkloadNodeDecommissioned, None)
                .await);
        }
        let revoked = tx.revoke_workload_svids_of_node(&row.name, now).await?;
        // Tasks of agents whose SPIFFE IDs this node served end: the JWT-SVIDs
        // it handed out can no longer be trusted (issue 18).
        let spiffe_ids: Vec<String> = self
            .entries_of_node(&mut tx, &row)
            .await?
            .into_iter()
            .map(|e| e.spiffe_id)
            .collect();
        let ended = self
            .end_tasks_for_spiffe_ids(&mut tx, &spiffe_ids, "node_decommissioned", &event)
            .await?;
        if ended > 0 {
            event
                .details
                .insert("tasks_ended".into(), ended.to_string());
        }
        event.severity = Some(keybound_audit::Severity::Warning);
        event.reason = Some(format!(
            "node {} decommissioned; {revoked} SVIDs revoked",
            row.name
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(revoked)
    }
}
