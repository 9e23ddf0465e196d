//! What a node receives: its entries (parented to it or to one of its
//! sets), X.509-SVIDs for the public keys it sent, this trust domain's
//! bundle, the bundles its entries federate with, and the CRLs; and
//! JWT-SVIDs one at a time. Each call carries a node proof (`proof`).
//!
//! A node asking for an entry that is not its own gets nothing for it
//! (`workload_entry_not_for_node`, recorded in the sync's transaction);
//! so does one asking for the same entry's SVID more often than rotation
//! needs (`workload_svid_rate_limited`: [`MAX_ISSUES_PER_HALF_LIFE`]).

use keybound_audit::{Outcome, Severity};
use keybound_jose::Algorithm;
use keybound_store::{WorkloadEntryRow, WorkloadNodeRow, WriteTx};
use keybound_workload_api::wire::{
    EntryView as WireEntry, IssuedSvid, JwtSvidRequest, JwtSvidResponse, SyncRequest, SyncResponse,
};
use serde_json::{json, Map, Value};

use crate::record::Record;
use crate::{ClientContext, EventKind, KeyPurpose, Refusal, Service, ServiceError};

use super::entries::ttl;
use super::proof::NodeCall;
use super::spiffe;

/// SVIDs one sync may ask for.
pub(crate) const MAX_CSRS: usize = 64;
/// SVIDs of one entry a node may be issued within half the entry's
/// X.509 lifetime: one for rotation at half-life, one after a restart,
/// one for a CA rotation.
pub(crate) const MAX_ISSUES_PER_HALF_LIFE: usize = 3;
/// Audiences one JWT-SVID may name.
pub(crate) const MAX_AUDIENCES: usize = 8;
/// The longest audience, in bytes.
pub(crate) const MAX_AUDIENCE: usize = 256;
/// The longest a node waits between syncs, ms.
pub(crate) const MAX_SYNC_INTERVAL_MS: i64 = 30_000;

fn wire_entry(row: &WorkloadEntryRow) -> WireEntry {
    WireEntry {
        id: row.id.clone(),
        spiffe_id: row.spiffe_id.clone(),
        selectors: spiffe::from_json(&row.selectors),
        hint: row.hint.clone(),
        dns_names: spiffe::from_json(&row.dns_names),
        x509_ttl_s: ttl(row.x509_ttl_s),
        jwt_ttl_s: ttl(row.jwt_ttl_s),
        federates_with: spiffe::from_json(&row.federates_with),
        revision: row.revision,
    }
}

impl Service {
    /// Authenticates a node call in a new transaction: the node and the
    /// transaction, or the refusal recorded (`workload.node.refused`).
    async fn node_call(
        &self,
        call: &NodeCall<'_>,
        ctx: &ClientContext,
    ) -> Result<(WriteTx, WorkloadNodeRow), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        match self.authenticate_node(&mut tx, call).await? {
            Ok(node) => Ok((tx, node)),
            Err((name, refusal)) => {
                drop(tx);
                Err(self.refuse_node(ctx, name.as_deref(), refusal, None).await)
            }
        }
    }

    /// The entries of `node`: parented to its name or to `set:<label>` of
    /// one of its sets.
    pub(crate) async fn entries_of_node(
        &self,
        tx: &mut keybound_store::ReadTx,
        node: &WorkloadNodeRow,
    ) -> Result<Vec<WorkloadEntryRow>, ServiceError> {
        let mut parents = vec![node.name.clone()];
        parents.extend(
            spiffe::from_json(&node.sets)
                .into_iter()
                .map(|set| format!("set:{set}")),
        );
        Ok(tx.workload_entries_of_parents(&parents).await?)
    }

    /// A node's sync (`POST /workload/v1/sync`): see the module docs.
    pub async fn workload_sync(
        &self,
        call: &NodeCall<'_>,
        request: &SyncRequest,
        ctx: &ClientContext,
    ) -> Result<SyncResponse, ServiceError> {
        let (tx, node) = self.node_call(call, ctx).await?;
        self.sync_in(tx, &node, request, ctx).await
    }

    /// The sync of an authenticated `node` in `tx` (committed here).
    pub(crate) async fn sync_in(
        &self,
        mut tx: WriteTx,
        node: &WorkloadNodeRow,
        request: &SyncRequest,
        ctx: &ClientContext,
    ) -> Result<SyncResponse, ServiceError> {
        if request.csrs.len() > MAX_CSRS {
            drop(tx);
            return Err(self
                .refuse_node(
                    ctx,
                    Some(&node.name),
                    Refusal::WorkloadTooManyRequests,
                    None,
                )
                .await);
        }
        let now = self.now_ms();
        tx.touch_workload_node(&node.name, now).await?;
        let entries = self.entries_of_node(&mut tx, node).await?;
        let mut svids = Vec::new();
        let mut left_out = Vec::new();
        for csr in &request.csrs {
            let Some(entry) = entries.iter().find(|e| e.id == csr.entry_id) else {
                left_out.push(format!(
                    "{}: {}",
                    super::entries::clip(&csr.entry_id),
                    Refusal::WorkloadEntryNotForNode.reason()
                ));
                continue;
            };
            match self
                .issue_x509_svid_in(&mut tx, node, entry, &csr.public_key)
                .await?
            {
                Ok(svid) => svids.push(svid),
                Err(refusal) => left_out.push(format!("{}: {}", entry.id, refusal.reason())),
            }
        }
        if !left_out.is_empty() {
            let mut event = self.workload_event(
                EventKind::WorkloadNodeRefused,
                ctx,
                &node.name,
                &node.spiffe_id,
            );
            event.outcome = Some(Outcome::Failure);
            event.severity = Some(Severity::Warning);
            event.reason = Some(format!("left out of the sync: {}", left_out.join("; ")));
            tx.record(event).await?;
        }
        if !svids.is_empty() {
            let mut event = self.workload_event(
                EventKind::WorkloadSvidIssue,
                ctx,
                &node.name,
                &node.spiffe_id,
            );
            event.reason = Some(format!(
                "{} X.509-SVIDs for entries {}",
                svids.len(),
                svids
                    .iter()
                    .map(|s: &IssuedSvid| s.entry_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            tx.record(event).await?;
        }
        let federated = self.federated_bundles_for(&mut tx, &entries).await?;
        let crls = self.crls_in(&mut tx).await?;
        tx.commit().await?;
        // After the commit: the JWT keys are made on first use, under the
        // writer this transaction held.
        let bundle = self.workload_bundle().await?;
        let shortest = entries
            .iter()
            .map(|e| e.x509_ttl_s.saturating_mul(1000) / 6)
            .min()
            .unwrap_or(MAX_SYNC_INTERVAL_MS);
        Ok(SyncResponse {
            node: node.spiffe_id.clone(),
            entries: entries.iter().map(wire_entry).collect(),
            svids,
            bundle,
            federated,
            crls,
            next_sync_ms: now.saturating_add(shortest.clamp(1000, MAX_SYNC_INTERVAL_MS)),
        })
    }

    /// A JWT-SVID for one of the node's entries (`POST /workload/v1/jwt`):
    /// ES256 under the workload CA's key custody (`KeyPurpose::WorkloadCa`,
    /// rotated and published like the OIDC keys), `sub` the entry's SPIFFE
    /// ID, `aud` as asked (1-8, each 1-256 bytes), the entry's JWT TTL.
    pub async fn workload_jwt_svid(
        &self,
        call: &NodeCall<'_>,
        request: &JwtSvidRequest,
        ctx: &ClientContext,
    ) -> Result<JwtSvidResponse, ServiceError> {
        let (tx, node) = self.node_call(call, ctx).await?;
        self.jwt_svid_in(tx, &node, request, ctx).await
    }

    /// A JWT-SVID for an authenticated `node` in `tx` (committed here).
    pub(crate) async fn jwt_svid_in(
        &self,
        mut tx: WriteTx,
        node: &WorkloadNodeRow,
        request: &JwtSvidRequest,
        ctx: &ClientContext,
    ) -> Result<JwtSvidResponse, ServiceError> {
        let audience_ok = !request.audience.is_empty()
            && request.audience.len() <= MAX_AUDIENCES
            && request.audience.iter().all(|a| {
                !a.is_empty() && a.len() <= MAX_AUDIENCE && !a.chars().any(char::is_control)
            });
        let entries = self.entries_of_node(&mut tx, node).await?;
        let refusal = if !audience_ok {
            Some(Refusal::WorkloadInvalidAudience)
        } else if !entries.iter().any(|e| e.id == request.entry_id) {
            Some(Refusal::WorkloadEntryNotForNode)
        } else {
            None
        };
        let Some(entry) = entries
            .into_iter()
            .find(|e| e.id == request.entry_id)
            .filter(|_| refusal.is_none())
        else {
            drop(tx);
            let refusal = refusal.unwrap_or(Refusal::WorkloadEntryNotForNode);
            return Err(self.refuse_node(ctx, Some(&node.name), refusal, None).await);
        };
        let now = self.now_ms();
        let exp_s = now.saturating_add(entry.jwt_ttl_s.saturating_mul(1000)) / 1000;
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(entry.spiffe_id.clone()));
        claims.insert("aud".into(), json!(request.audience));
        claims.insert("iat".into(), json!(now / 1000));
        claims.insert("exp".into(), json!(exp_s));
        let token = self
            .sign_jwt_in(
                &mut tx,
                KeyPurpose::WorkloadCa,
                Algorithm::Es256,
                "JWT",
                &claims,
            )
            .await?;
        let mut event = self.workload_event(
            EventKind::WorkloadSvidIssue,
            ctx,
            &node.name,
            &node.spiffe_id,
        );
        event.reason = Some(format!(
            "JWT-SVID for entry {} ({}), audience {}",
            entry.id,
            entry.spiffe_id,
            request.audience.join(",")
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(JwtSvidResponse {
            token,
            expires_at_ms: exp_s.saturating_mul(1000),
        })
    }
}
