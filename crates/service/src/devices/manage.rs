//! Changing a device: its owner renames it; an administrator (console) or
//! the operator (CLI) trusts or untrusts it, with a reason. Each change
//! commits with its event; a decommissioned device changes no more.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{DeviceRow, IdentityKind};

use crate::record::Record;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::{clean_label, clean_reason, status};

impl Service {
    /// The event of an action on `device` by `actor`.
    pub(crate) fn device_event(
        &self,
        kind: EventKind,
        ctx: &ClientContext,
        actor: &str,
        device: &DeviceRow,
    ) -> NewEvent {
        let mut event = self.event(kind, ctx);
        event.actor = Some(actor.to_owned());
        event.subject = Some(device.name.clone());
        event.subject_kind = Some(IdentityKind::Device.as_str().to_owned());
        event.credential_id = device
            .credential_id
            .as_deref()
            .map(keybound_webauthn::b64::encode);
        event.outcome = Some(Outcome::Success);
        event
    }

    /// The signed-in person renames one of their devices (`label`: 1-64
    /// printable characters, else `invalid_device_label`). Someone else's
    /// device: [`ServiceError::NotFound`] (`device_of_another_person`).
    pub async fn rename_my_device(
        &self,
        session_token: &str,
        name: &str,
        label: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let label = clean_label(label)?;
        let mut tx = self.kernel.store.begin().await?;
        let (_, identity) = self.signed_in(&mut tx, session_token).await?;
        let device = match self.own_device(&mut tx, &identity, name).await? {
            Ok(device) => device,
            Err(theirs) => {
                drop(tx);
                let event = self.event(EventKind::DeviceRename, ctx);
                return Err(self
                    .refuse_device_of_another(event, &identity, &theirs)
                    .await);
            }
        };
        self.rename_in(tx, device, &identity.name, &label, ctx)
            .await
    }

    /// The operator or an administrator renames a device
    /// (`keybound device rename NAME LABEL`).
    pub async fn rename_device(
        &self,
        actor: Actor<'_>,
        name: &str,
        label: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let label = clean_label(label)?;
        let mut tx = self.kernel.store.begin().await?;
        let device = self.device_for(&mut tx, actor, name).await?;
        self.rename_in(tx, device, actor.name(), &label, ctx).await
    }

    async fn rename_in(
        &self,
        mut tx: keybound_store::WriteTx,
        device: DeviceRow,
        actor: &str,
        label: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        if device.status == status::DECOMMISSIONED {
            drop(tx);
            let event = self.device_event(EventKind::DeviceRename, ctx, actor, &device);
            return Err(self
                .record_refusal(event, Refusal::DeviceDecommissioned, None)
                .await);
        }
        tx.rename_device(&device.identity_id, label).await?;
        let mut event = self.device_event(EventKind::DeviceRename, ctx, actor, &device);
        event.reason = Some(format!("label {:?} changed to {label:?}", device.label));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The operator or an administrator trusts a device
    /// (`keybound device trust NAME`, the console's "approve"). Already
    /// trusted: `device_status_unchanged`; decommissioned:
    /// `device_decommissioned`.
    pub async fn trust_device(
        &self,
        actor: Actor<'_>,
        name: &str,
        reason: Option<&str>,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        self.set_trust(actor, name, status::TRUSTED, reason, ctx)
            .await
    }

    /// The operator or an administrator withdraws a device's trust
    /// (`keybound device untrust NAME`): its sessions go on, but policies
    /// that require a trusted device refuse them from the next request.
    pub async fn untrust_device(
        &self,
        actor: Actor<'_>,
        name: &str,
        reason: Option<&str>,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        self.set_trust(actor, name, status::UNTRUSTED, reason, ctx)
            .await
    }

    async fn set_trust(
        &self,
        actor: Actor<'_>,
        name: &str,
        to: &str,
        reason: Option<&str>,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let kind = if to == status::TRUSTED {
            EventKind::DeviceTrust
        } else {
            EventKind::DeviceUntrust
        };
        let mut tx = self.kernel.store.begin().await?;
        let device = self.device_for(&mut tx, actor, name).await?;
        let mut event = self.device_event(kind, ctx, actor.name(), &device);
        let refusal = if device.status == status::DECOMMISSIONED {
            Some(Refusal::DeviceDecommissioned)
        } else if device.status == to {
            Some(Refusal::DeviceStatusUnchanged)
        } else if matches!(actor, Actor::Admin(admin)
            if to == status::TRUSTED && device.owner_id.as_deref() == Some(admin.identity().id.as_str()))
        {
            // Four eyes: another administrator (or the operator at the
            // host) approves an administrator's own device.
            Some(Refusal::DeviceSelfApproval)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(tx);
            return Err(self.record_refusal(event, refusal, None).await);
        }
        let why = clean_reason(reason).unwrap_or_else(|| {
            if to == status::TRUSTED {
                format!("trusted by {}", actor.name())
            } else {
                format!("trust withdrawn by {}", actor.name())
            }
        });
        if !tx
            .set_device_status(&device.identity_id, to, &why, self.now_ms())
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        event.reason = Some(format!("{} -> {to}: {why}", device.status));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }
}
