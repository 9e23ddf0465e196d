//! The single-host node (`keybound serve --workload-socket`): `serve` runs
//! the node agent in-process for a node named [`LOCAL_NODE`], which calls
//! these use cases directly instead of the HTTP node API.
//!
//! There is no node key and no proof: the caller is this process, so the
//! trust comes from the operator's setting that started it. The node is
//! stored like any other (attestation kind `local`, audited as
//! `workload.node.attest` when first made), so entries are parented to
//! `local`, `keybound workload node decommission local` works, and every
//! sync is audited as for a remote node. Its key thumbprint is
//! [`LOCAL_THUMBPRINT`], which no RFC 7638 thumbprint (43 base64url
//! characters) can equal: no proof over HTTP can act as the local node.

use keybound_store::{WorkloadNodeRow, WriteTx};
use keybound_workload_api::wire::{
    AttestResponse, JwtSvidRequest, JwtSvidResponse, SyncRequest, SyncResponse,
};

use crate::record::Record as _;
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError};

use super::status;

/// The single-host node's name.
pub const LOCAL_NODE: &str = "local";
/// Its attestation kind.
pub const LOCAL_ATTESTATION: &str = "local";
/// Its stored key thumbprint: not a thumbprint any key has.
pub(crate) const LOCAL_THUMBPRINT: &str = "local:in-process";

impl Service {
    /// Makes the local node if there is none (`workload.node.attest`), and
    /// says who it is. Refused (`workload_node_name_taken`) when a node
    /// named `local` was attested another way: it is not this process.
    /// A decommissioned local node stays so; its syncs are refused.
    pub async fn workload_local_node(
        &self,
        ctx: &ClientContext,
    ) -> Result<AttestResponse, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let response = AttestResponse {
            node: LOCAL_NODE.to_owned(),
            spiffe_id: self.node_spiffe_id(LOCAL_NODE),
            trust_domain: self.trust_domain().to_owned(),
        };
        if let Some(node) = tx.workload_node(LOCAL_NODE).await? {
            drop(tx);
            if node.attestation != LOCAL_ATTESTATION {
                return Err(self
                    .refuse_node(
                        ctx,
                        Some(LOCAL_NODE),
                        Refusal::WorkloadNodeNameTaken,
                        Some(format!("attested by {}", node.attestation)),
                    )
                    .await);
            }
            return Ok(response);
        }
        let row = WorkloadNodeRow {
            name: LOCAL_NODE.to_owned(),
            spiffe_id: response.spiffe_id.clone(),
            attestation: LOCAL_ATTESTATION.into(),
            key_thumbprint: LOCAL_THUMBPRINT.into(),
            key_jwk: "{}".into(),
            tpm_ek_hash: None,
            tpm_ak_public: None,
            device_id: None,
            status: status::ACTIVE.into(),
            sets: "[]".into(),
            attested_ms: self.now_ms(),
            last_seen_ms: None,
            decommissioned_ms: None,
        };
        if let Err(refusal) = self.bind_node(&mut tx, &row).await? {
            // Another server on the same database made it first.
            drop(tx);
            return match refusal {
                Refusal::WorkloadNodeNameTaken | Refusal::WorkloadNodeKeyTaken => Ok(response),
                other => Err(self.refuse_node(ctx, Some(LOCAL_NODE), other, None).await),
            };
        }
        let mut event = self.workload_event(
            EventKind::WorkloadNodeAttest,
            ctx,
            LOCAL_NODE,
            &row.spiffe_id,
        );
        event.reason = Some("local node of keybound serve --workload-socket".into());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// The local node in a new transaction, or the refusal recorded: it
    /// is missing, not a local node, or decommissioned.
    async fn local_call(
        &self,
        ctx: &ClientContext,
    ) -> Result<(WriteTx, WorkloadNodeRow), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let refusal = match tx.workload_node(LOCAL_NODE).await? {
            Some(node)
                if node.attestation == LOCAL_ATTESTATION && node.status == status::ACTIVE =>
            {
                return Ok((tx, node))
            }
            Some(node) if node.attestation == LOCAL_ATTESTATION => {
                Refusal::WorkloadNodeDecommissioned
            }
            Some(_) => Refusal::WorkloadNodeNameTaken,
            None => Refusal::WorkloadNodeDecommissioned,
        };
        drop(tx);
        Err(self.refuse_node(ctx, Some(LOCAL_NODE), refusal, None).await)
    }

    /// The local node's sync: as [`Service::workload_sync`], without a
    /// proof.
    pub async fn workload_local_sync(
        &self,
        request: &SyncRequest,
        ctx: &ClientContext,
    ) -> Result<SyncResponse, ServiceError> {
        let (tx, node) = self.local_call(ctx).await?;
        self.sync_in(tx, &node, request, ctx).await
    }

    /// A JWT-SVID for the local node: as [`Service::workload_jwt_svid`],
    /// without a proof.
    pub async fn workload_local_jwt_svid(
        &self,
        request: &JwtSvidRequest,
        ctx: &ClientContext,
    ) -> Result<JwtSvidResponse, ServiceError> {
        let (tx, node) = self.local_call(ctx).await?;
        self.jwt_svid_in(tx, &node, request, ctx).await
    }
}
