//! Offboarding: one transaction that leaves an identity with no way in —
//! every credential revoked, every session ended, every open grant voided —
//! with an audit event for each. Only a new invitation brings it back.

use crate::people::PersonByName;
use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{Outcome, Severity};
use keybound_store::{CredentialStatus, EndingSessions, IdentityStatus};
use keybound_webauthn::b64;

use crate::{Admin, ClientContext, Operator, Service, ServiceError};

/// What offboarding took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offboarded {
    /// Credentials revoked.
    pub credentials: usize,
    /// Live sessions ended.
    pub sessions: usize,
    /// Open grants (invitations) voided.
    pub grants: usize,
    /// Devices decommissioned.
    pub devices: usize,
    /// Workload registration entries removed (their SVIDs revoked).
    pub workload_entries: usize,
    /// Agents they owned, disabled (their tasks ended).
    pub agents_disabled: u64,
    /// Tasks they had delegated, ended.
    pub tasks_ended: u64,
}

impl Service {
    /// Offboards `name` (`keybound admin offboard NAME`).
    pub async fn offboard(&self, name: &str, actor: &Operator) -> Result<Offboarded, ServiceError> {
        self.offboard_from(name, actor, &ClientContext::default())
            .await
    }

    /// [`Service::offboard`] with where the request came from.
    pub async fn offboard_from(
        &self,
        name: &str,
        actor: &Operator,
        ctx: &ClientContext,
    ) -> Result<Offboarded, ServiceError> {
        self.offboard_by(name, actor.name(), None, ctx).await
    }

    /// An administrator offboards `name` from the console: never
    /// themselves (whatever spelling of their name they type), and only
    /// while they are still an active administrator.
    pub async fn console_offboard(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<Offboarded, ServiceError> {
        self.offboard_by(name, &admin.name, Some(admin.identity()), ctx)
            .await
    }

    async fn offboard_by(
        &self,
        name: &str,
        actor: &str,
        admin: Option<&keybound_store::Identity>,
        ctx: &ClientContext,
    ) -> Result<Offboarded, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        if let Some(admin) = admin {
            self.still_admin(&mut tx, admin).await?;
        }
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if admin.is_some_and(|a| a.id == identity.id) {
            return Err(ServiceError::Rejected(Refusal::OffboardSelf));
        }
        let event = |kind: EventKind| {
            let mut e = self.event(kind, ctx);
            e.actor = Some(actor.to_owned());
            e.subject = Some(identity.name.clone());
            e.outcome = Some(Outcome::Success);
            e
        };
        // The last-admin rule holds here as for demote and suspend; the
        // count is made under this transaction's writer lock.
        if identity.is_admin
            && identity.status == IdentityStatus::Active
            && tx.count_active_admins().await? <= 1
        {
            drop(tx);
            let mut refused = event(EventKind::AdminOffboard);
            refused.severity = Some(Severity::High);
            return Err(self.record_refusal(refused, Refusal::LastAdmin, None).await);
        }
        self.sessions_ending(&mut tx, EndingSessions::Identity(&identity.id))
            .await?;
        let mut done = Offboarded::default();
        for credential in tx.credentials_of(&identity.id).await? {
            if matches!(credential.status, CredentialStatus::Revoked(_)) {
                continue;
            }
            tx.revoke_credential(&credential.id, "offboarded").await?;
            let mut e = event(EventKind::OffboardRevokeCredential);
            e.credential_id = Some(b64::encode(&credential.id));
            e.aaguid = Some(credential.aaguid);
            tx.record(e).await?;
            done.credentials += 1;
        }
        for credential_id in tx.end_sessions_of(&identity.id, now).await? {
            let mut e = event(EventKind::OffboardEndSession);
            e.credential_id = Some(b64::encode(&credential_id));
            tx.record(e).await?;
            done.sessions += 1;
        }
        // Their devices go with them (their credentials are revoked and
        // their sessions ended above): each gets its device.decommission.
        let devices = self
            .decommission_devices_of(&mut tx, &identity.id, actor, ctx)
            .await?;
        done.devices = devices;
        // Their workloads lose their identities too (issue 17): each entry
        // removed with its workload.entry.remove, its SVIDs revoked.
        done.workload_entries = self
            .remove_entries_of(&mut tx, &identity.id, actor, ctx)
            .await?;
        // Their agents are disabled and every task hanging on them ends
        // (issue 18): as owner (agent.disable, task.end) and as delegator.
        let template = event(EventKind::AdminOffboard);
        done.agents_disabled = self
            .disable_agents_of(&mut tx, &identity.id, &template)
            .await?;
        done.tasks_ended = self
            .end_tasks_delegated_by(&mut tx, &identity.id, &template)
            .await?;
        for grant in tx.void_grants_of(&identity.id, now).await? {
            let mut e = event(EventKind::OffboardVoidGrant);
            e.reason = Some(format!(
                "grant {} issued by {}",
                b64::encode(grant.token_hash.get(..8).unwrap_or_default()),
                grant.issued_by
            ));
            tx.record(e).await?;
            done.grants += 1;
        }
        if tx.void_role_proposals_of(&identity.id).await? > 0 {
            let mut e = event(EventKind::OffboardVoidRoleProposal);
            e.reason = Some("pending admin role proposals voided".into());
            tx.record(e).await?;
        }
        // Links this person handed out as an administrator end with them.
        for grant in tx.void_grants_issued_by(&identity.name, now).await? {
            let mut e = event(EventKind::OffboardVoidIssuedGrant);
            e.reason = Some(format!(
                "grant {} they issued",
                b64::encode(grant.token_hash.get(..8).unwrap_or_default())
            ));
            tx.record(e).await?;
            done.grants += 1;
        }
        let recoveries = tx.void_recoveries_of(&identity.id).await?;
        if recoveries > 0 {
            let mut e = event(EventKind::OffboardVoidRecovery);
            e.reason = Some(format!("{recoveries} pending recoveries voided"));
            tx.record(e).await?;
        }
        tx.set_identity_status(&identity.id, IdentityStatus::Offboarded)
            .await?;
        let mut e = event(EventKind::AdminOffboard);
        e.reason = Some(format!(
            "{} credentials revoked, {} sessions ended, {} grants voided",
            done.credentials, done.sessions, done.grants
        ));
        tx.record(e).await?;
        tx.commit().await?;
        Ok(done)
    }
}
