//! Administration that is not a ceremony: listing people and credentials,
//! revoking a credential.

use crate::people::PersonByName;
use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{NewEvent, Outcome};
use keybound_store::{Credential, EndingSessions, Identity, ReadTx};
use keybound_webauthn::b64;

use crate::{Actor, Admin, ClientContext, Operator, Service, ServiceError};

impl Service {
    /// Every person with their credentials (`keybound admin users`);
    /// devices are listed by [`Service::devices`].
    pub async fn people(
        &self,
        _viewer: Actor<'_>,
    ) -> Result<Vec<(Identity, Vec<Credential>)>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let mut out = Vec::new();
        for identity in tx.identities().await? {
            // People, not the devices they enrolled (issue 16).
            if identity.kind != keybound_store::IdentityKind::Person {
                continue;
            }
            let creds = tx.credentials_of(&identity.id).await?;
            out.push((identity, creds));
        }
        Ok(out)
    }

    /// The credentials of `name` (`keybound admin credentials NAME`).
    pub async fn credentials_of(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<Vec<Credential>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(tx.credentials_of(&identity.id).await?)
    }

    /// Revokes a credential (base64url id): it can no longer sign in and its
    /// sessions end at once. One transaction with its audit event.
    pub async fn revoke_credential(
        &self,
        credential_id: &str,
        operator: &Operator,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let id = b64::decode_lenient(credential_id).map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.kernel.store.begin().await?;
        let credential = tx.credential(&id).await?.ok_or(ServiceError::NotFound)?;
        self.sessions_ending(&mut tx, EndingSessions::Credential(&id))
            .await?;
        if !tx.revoke_credential(&id, reason).await? {
            return Err(ServiceError::NotFound);
        }
        let mut event = self
            .admin_credential_event(
                &mut tx,
                EventKind::AdminRevokeCredential,
                operator.name(),
                &credential,
            )
            .await?;
        event.reason = Some(reason.to_owned());
        tx.record(event).await?;
        self.decommission_bound_device(&mut tx, &id, operator.name(), &ClientContext::default())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns a quarantined credential (suspected clone) to use, after an
    /// administrator has looked into it; its counter restarts. One
    /// transaction with its audit event.
    pub async fn clear_credential(
        &self,
        credential_id: &str,
        operator: &Operator,
    ) -> Result<(), ServiceError> {
        let id = b64::decode_lenient(credential_id).map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.kernel.store.begin().await?;
        let credential = tx.credential(&id).await?.ok_or(ServiceError::NotFound)?;
        if !tx.clear_quarantine(&id).await? {
            return Err(ServiceError::NotFound);
        }
        // No session opened before the quarantine comes back with it.
        tx.end_sessions_of_credential(&id, self.now_ms()).await?;
        let event = self
            .admin_credential_event(
                &mut tx,
                EventKind::AdminClearCredential,
                operator.name(),
                &credential,
            )
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Another administrator vouches for a credential that counts less than
    /// it earned because it was added from a weaker session: its cap is
    /// lifted and its tier recomputed. Nobody vouches for their own.
    pub async fn vouch_credential(
        &self,
        admin: &Admin,
        credential_id: &str,
        ctx: &ClientContext,
    ) -> Result<i64, ServiceError> {
        self.vouch(credential_id, &admin.name, Some(admin.identity()), ctx)
            .await
    }

    /// [`Service::vouch_credential`] by the local operator
    /// (`keybound admin vouch-credential ID`).
    pub async fn vouch_credential_as_operator(
        &self,
        credential_id: &str,
        operator: &Operator,
    ) -> Result<i64, ServiceError> {
        self.vouch(
            credential_id,
            operator.name(),
            None,
            &ClientContext::default(),
        )
        .await
    }

    async fn vouch(
        &self,
        credential_id: &str,
        actor: &str,
        admin: Option<&Identity>,
        ctx: &ClientContext,
    ) -> Result<i64, ServiceError> {
        let id = b64::decode_lenient(credential_id).map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.kernel.store.begin().await?;
        let credential = tx
            .credential(&id)
            .await?
            .filter(|c| c.status == keybound_store::CredentialStatus::Active)
            .ok_or(ServiceError::NotFound)?;
        let mut event = self
            .admin_credential_event(&mut tx, EventKind::AdminVouchCredential, actor, &credential)
            .await?;
        event.ip.clone_from(&ctx.ip);
        event.user_agent.clone_from(&ctx.user_agent);
        event.severity = Some(keybound_audit::Severity::High);
        if let Some(admin) = admin {
            self.still_admin(&mut tx, admin).await?;
        }
        if admin.is_some_and(|a| a.id == credential.identity_id) {
            drop(tx);
            return Err(self.record_refusal(event, Refusal::SelfVouch, None).await);
        }
        if credential.tier_cap.is_none() {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::NothingToVouch, None)
                .await);
        }
        let metadata = self.current_metadata(&mut tx).await?;
        let (_, standing) = self.judge_stored(metadata.as_deref(), &credential, None);
        let reasons = format!("{}; vouched for by {actor}", standing.reasons);
        tx.set_tier_cap(&credential.id, None, standing.tier, &reasons)
            .await?;
        event.reason = Some(format!(
            "tier {} -> {}: {reasons}",
            credential.tier, standing.tier
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(standing.tier)
    }

    /// The audit event of an administrator's action on `credential`.
    async fn admin_credential_event(
        &self,
        tx: &mut ReadTx,
        kind: EventKind,
        actor: &str,
        credential: &Credential,
    ) -> Result<NewEvent, ServiceError> {
        let owner = tx.identity_by_id(&credential.identity_id).await?;
        let mut event = self.event(kind, &ClientContext::default());
        event.actor = Some(actor.to_owned());
        event.subject = owner.map(|o| o.name);
        event.credential_id = Some(b64::encode(&credential.id));
        event.aaguid = Some(credential.aaguid.clone());
        event.outcome = Some(Outcome::Success);
        Ok(event)
    }
}
