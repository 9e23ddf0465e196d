//! Decommissioning: a device lost, retired or whose owner left. One
//! transaction revokes the credential that binds it, ends every session
//! that credential opened (telling the relying parties), and marks the
//! device decommissioned, with an event for each. A decommissioned device
//! never comes back: a later sign-in with its credential is refused like
//! any revoked credential's, and raises the `device.returned` alert.

use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{DeviceRow, EndingSessions, IdentityKind, ReadTx, WriteTx};
use keybound_webauthn::b64;

use crate::record::Record;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::status;

/// What decommissioning a device took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decommissioned {
    /// Its credential was revoked now (false: it was revoked already).
    pub credential_revoked: bool,
    /// Live sessions it had opened that ended.
    pub sessions: u64,
    /// The session that asked was one of them (the owner decommissioned
    /// the device they are using).
    pub ended_own_session: bool,
}

impl Service {
    /// The signed-in person decommissions one of their devices ("I lost
    /// this device"). Someone else's: [`ServiceError::NotFound`]
    /// (`device_of_another_person` in the audit log).
    pub async fn decommission_my_device(
        &self,
        session_token: &str,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<Decommissioned, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let (session, identity) = self.signed_in(&mut tx, session_token).await?;
        let device = match self.own_device(&mut tx, &identity, name).await? {
            Ok(device) => device,
            Err(theirs) => {
                drop(tx);
                let event = self.event(EventKind::DeviceDecommission, ctx);
                return Err(self
                    .refuse_device_of_another(event, &identity, &theirs)
                    .await);
            }
        };
        let mut done = self
            .decommission_checked(
                tx,
                &device,
                &identity.name,
                "decommissioned by its owner",
                ctx,
            )
            .await?;
        done.ended_own_session = device.credential_id.as_deref() == Some(&session.credential_id);
        Ok(done)
    }

    /// The operator (`keybound device decommission NAME`) or an
    /// administrator (the console) decommissions any device.
    pub async fn decommission_device(
        &self,
        actor: Actor<'_>,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<Decommissioned, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let device = self.device_for(&mut tx, actor, name).await?;
        let reason = format!("decommissioned by {}", actor.name());
        self.decommission_checked(tx, &device, actor.name(), &reason, ctx)
            .await
    }

    /// Refuses a device decommissioned already (`device_decommissioned`),
    /// otherwise decommissions it and commits.
    async fn decommission_checked(
        &self,
        mut tx: WriteTx,
        device: &DeviceRow,
        actor: &str,
        reason: &str,
        ctx: &ClientContext,
    ) -> Result<Decommissioned, ServiceError> {
        if device.status == status::DECOMMISSIONED {
            drop(tx);
            let event = self.device_event(EventKind::DeviceDecommission, ctx, actor, device);
            return Err(self
                .record_refusal(event, Refusal::DeviceDecommissioned, None)
                .await);
        }
        let done = self
            .decommission_in(&mut tx, device, actor, reason, ctx)
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Decommissions `device` in `tx`: its credential revoked (with a
    /// `credential.revoke` event), the sessions it opened ended (relying
    /// parties told), its status set, and `device.decommission` recorded.
    pub(crate) async fn decommission_in(
        &self,
        tx: &mut WriteTx,
        device: &DeviceRow,
        actor: &str,
        reason: &str,
        ctx: &ClientContext,
    ) -> Result<Decommissioned, ServiceError> {
        let now = self.now_ms();
        let mut done = Decommissioned::default();
        if let Some(id) = &device.credential_id {
            self.sessions_ending(tx, EndingSessions::Credential(id))
                .await?;
            done.sessions = tx.end_sessions_of_credential(id, now).await?;
            if tx.revoke_credential(id, reason).await? {
                done.credential_revoked = true;
                let credential = tx.credential(id).await?;
                let owner = match &device.owner_id {
                    Some(owner) => tx.identity_by_id(owner).await?.map(|i| i.name),
                    None => None,
                };
                let mut event = self.event(EventKind::CredentialRevoke, ctx);
                event.actor = Some(actor.to_owned());
                event.subject = owner;
                event.credential_id = Some(b64::encode(id));
                event.aaguid = credential.map(|c| c.aaguid);
                event.outcome = Some(Outcome::Success);
                event.reason = Some(format!("device {} decommissioned", device.name));
                tx.record(event).await?;
            }
        }
        self.mark_decommissioned(tx, device, actor, reason, done, ctx)
            .await?;
        // A TPM-attested host: its workload node goes with it.
        self.decommission_node_of_device(tx, device, actor, ctx)
            .await?;
        Ok(done)
    }

    /// Sets the status and records `device.decommission`.
    async fn mark_decommissioned(
        &self,
        tx: &mut WriteTx,
        device: &DeviceRow,
        actor: &str,
        reason: &str,
        done: Decommissioned,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        if !tx
            .set_device_status(
                &device.identity_id,
                status::DECOMMISSIONED,
                reason,
                self.now_ms(),
            )
            .await?
        {
            return Ok(());
        }
        let mut event = self.device_event(EventKind::DeviceDecommission, ctx, actor, device);
        event.severity = Some(Severity::Warning);
        event.reason = Some(format!(
            "{reason}; credential {}, {} sessions ended",
            if done.credential_revoked {
                "revoked"
            } else {
                "already revoked"
            },
            done.sessions
        ));
        tx.record(event).await?;
        Ok(())
    }

    /// The device bound by `credential_id`, decommissioned in `tx` because
    /// that credential was just revoked (from `/me`, by an administrator):
    /// a device without its key proves nothing any more. How many
    /// devices that was (0 or 1).
    pub(crate) async fn decommission_bound_device(
        &self,
        tx: &mut WriteTx,
        credential_id: &[u8],
        actor: &str,
        ctx: &ClientContext,
    ) -> Result<usize, ServiceError> {
        let Some(device) = tx.device_by_credential(credential_id).await? else {
            return Ok(0);
        };
        if device.status == status::DECOMMISSIONED {
            return Ok(0);
        }
        self.decommission_in(tx, &device, actor, "its credential was revoked", ctx)
            .await?;
        Ok(1)
    }

    /// Every device of `owner_id` decommissioned in `tx` (offboarding,
    /// which revokes their credentials and ends their sessions itself);
    /// how many.
    pub(crate) async fn decommission_devices_of(
        &self,
        tx: &mut WriteTx,
        owner_id: &str,
        actor: &str,
        ctx: &ClientContext,
    ) -> Result<usize, ServiceError> {
        let mut count = 0;
        for device in tx.devices_of_owner(owner_id).await? {
            if device.status == status::DECOMMISSIONED {
                continue;
            }
            self.decommission_in(tx, &device, actor, "its owner was offboarded", ctx)
                .await?;
            count += 1;
        }
        Ok(count)
    }
}

/// The `device.returned` alert, when `credential_id` binds a decommissioned
/// device: someone still holds, and tried to use, a device that was
/// reported lost or retired. Recorded beside the refused attempt's event.
pub(crate) async fn returned_alert(
    tx: &mut ReadTx,
    credential_id: &[u8],
    attempt: &NewEvent,
) -> Result<Option<NewEvent>, ServiceError> {
    let Some(device) = tx.device_by_credential(credential_id).await? else {
        return Ok(None);
    };
    if device.status != status::DECOMMISSIONED {
        return Ok(None);
    }
    let mut alert = attempt.clone();
    alert.kind = EventKind::DeviceReturned.as_str().to_owned();
    alert.subject = Some(device.name.clone());
    alert.subject_kind = Some(IdentityKind::Device.as_str().to_owned());
    alert.outcome = Some(Outcome::Alert);
    alert.severity = Some(Severity::High);
    alert.reason = Some(format!(
        "decommissioned device {} ({:?}) was used to sign in; the attempt was refused",
        device.name, device.label
    ));
    Ok(Some(alert))
}

/// Records a sign-in with `credential_id` as a proof of the device it
/// binds, if it binds one still in service, in the sign-in's transaction.
pub(crate) async fn touch_device(
    tx: &mut WriteTx,
    credential_id: &[u8],
    now_ms: i64,
) -> Result<(), keybound_store::StoreError> {
    if let Some(device) = tx.device_by_credential(credential_id).await? {
        if device.status != status::DECOMMISSIONED {
            tx.touch_device(&device.identity_id, None, now_ms).await?;
        }
    }
    Ok(())
}
