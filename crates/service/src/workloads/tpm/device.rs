//! A TPM-attested node is also a device in the registry (issue 16's
//! devices, attachment `node`): an identity of kind `device` named
//! `dev-…`, owned by the organisation, its key proven by the TPM. The
//! device is what inventory, posture and offboarding see; decommissioning
//! it (`keybound device decommission`, the console) decommissions the node
//! in the same transaction, so a retired server loses its workloads'
//! identities at once.

use keybound_audit::{Outcome, Severity};
use keybound_store::{DeviceRow, Identity, IdentityKind, IdentityStatus, StoreError, WriteTx};

use crate::devices::status as device_status;
use crate::record::Record;
use crate::tokens::hex_id;
use crate::{ClientContext, EventKind, Service, ServiceError};

/// The all-zero AAGUID: a TPM node has no WebAuthn authenticator model.
const NO_AAGUID: &str = "00000000-0000-0000-0000-000000000000";

impl Service {
    /// Registers the device of a newly TPM-attested node `node` in `tx`,
    /// with its `device.enrol` event; returns the device identity's id.
    pub(crate) async fn enrol_tpm_device(
        &self,
        tx: &mut WriteTx,
        node: &str,
        ek_hex: &str,
        ctx: &ClientContext,
    ) -> Result<String, ServiceError> {
        let now = self.now_ms();
        let mut identity = None;
        for _ in 0..3 {
            let candidate = Identity {
                kind: IdentityKind::Device,
                id: hex_id(self.random::<16>()),
                name: format!(
                    "dev-{}",
                    self.random::<6>()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ),
                status: IdentityStatus::Active,
                is_admin: false,
                user_handle: self.random::<32>().to_vec(),
                created_ms: now,
            };
            match tx.insert_identity(&candidate).await {
                Err(StoreError::Conflict) => continue,
                other => other?,
            }
            identity = Some(candidate);
            break;
        }
        let identity = identity.ok_or_else(|| ServiceError::Internal("device name".into()))?;
        let reason = "TPM EK certificate chains to a configured manufacturer root";
        let row = DeviceRow {
            identity_id: identity.id.clone(),
            name: identity.name.clone(),
            owner_id: None,
            label: node.to_owned(),
            platform: "TPM 2.0".to_owned(),
            attachment: "node".to_owned(),
            credential_id: None,
            aaguid: NO_AAGUID.to_owned(),
            model: String::new(),
            attestation_format: "tpm".to_owned(),
            attestation_trust: "verified".to_owned(),
            key_storage: "hardware".to_owned(),
            serial: None,
            status: device_status::TRUSTED.to_owned(),
            trust_reason: reason.to_owned(),
            created_ms: now,
            last_seen_ms: Some(now),
            decommissioned_ms: None,
        };
        tx.insert_device(&row).await?;
        let mut event = self.event(EventKind::DeviceEnrol, ctx);
        event.actor = Some(node.to_owned());
        event.subject = Some(identity.name.clone());
        event.subject_kind = Some(IdentityKind::Device.as_str().to_owned());
        event.outcome = Some(Outcome::Success);
        event.details.insert(
            crate::kernel::reconcile::DEVICE_STATUS.into(),
            device_status::TRUSTED.to_owned(),
        );
        event.reason = Some(format!(
            "trusted: {reason}; workload node {node}, EK sha256 {ek_hex}"
        ));
        tx.record(event).await?;
        Ok(identity.id)
    }

    /// Decommissions the workload node of `device` (if it is a node's) in
    /// `tx`, revoking its SVIDs, with its `workload.node.decommission`
    /// event. Called by the device decommission.
    pub(crate) async fn decommission_node_of_device(
        &self,
        tx: &mut WriteTx,
        device: &DeviceRow,
        actor: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let Some(node) = tx.workload_node_by_device(&device.identity_id).await? else {
            return Ok(());
        };
        let now = self.now_ms();
        if !tx.decommission_workload_node(&node.name, now).await? {
            return Ok(());
        }
        let revoked = tx.revoke_workload_svids_of_node(&node.name, now).await?;
        let mut event = self.workload_event(
            EventKind::WorkloadNodeDecommission,
            ctx,
            actor,
            &node.spiffe_id,
        );
        event.severity = Some(Severity::Warning);
        event.reason = Some(format!(
            "node {} decommissioned with its device {}; {revoked} SVIDs revoked",
            node.name, device.name
        ));
        tx.record(event).await?;
        Ok(())
    }
}
