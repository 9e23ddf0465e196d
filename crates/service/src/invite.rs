//! Inviting an identity: the only way into a governed deployment.

use keybound_audit::Outcome;
use keybound_store::{Grant, Identity, IdentityStatus, StoreError};
use keybound_webauthn::b64;

use crate::{ClientContext, Service, ServiceError, Token};

impl Service {
    /// Creates `name` if needed and issues a single-use invitation for it
    /// (`keybound admin invite NAME [--admin]`). The token is returned once;
    /// only its hash is stored.
    pub async fn invite(
        &self,
        name: &str,
        admin: bool,
        actor: &str,
    ) -> Result<Token, ServiceError> {
        self.invite_with_min_tier(name, admin, actor, 1).await
    }

    /// [`Service::invite`] for a credential of at least `min_tier`
    /// (`keybound admin invite NAME --min-tier N`): an enrolment below it is
    /// refused and leaves the invitation usable.
    pub async fn invite_with_min_tier(
        &self,
        name: &str,
        admin: bool,
        actor: &str,
        min_tier: i64,
    ) -> Result<Token, ServiceError> {
        if !(1..=3).contains(&min_tier) {
            return Err(ServiceError::Rejected("invalid_tier"));
        }
        // One naming rule everywhere (keybound_names): the name is stored
        // and looked up in its canonical form.
        let canonical =
            keybound_names::canonical(name).map_err(|_| ServiceError::Rejected("invalid_name"))?;
        let name = canonical.as_str();
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let identity = match tx.identity_by_name(name).await? {
            // A new invitation is the only way back after offboarding.
            Some(existing) if existing.status == IdentityStatus::Offboarded => {
                tx.set_identity_status(&existing.id, IdentityStatus::Invited)
                    .await?;
                existing
            }
            Some(existing) => existing,
            None => {
                let identity = Identity {
                    id: hex_id(self.random::<16>()),
                    name: name.to_owned(),
                    status: IdentityStatus::Invited,
                    is_admin: admin,
                    user_handle: self.random::<32>().to_vec(),
                    created_ms: now,
                };
                // Taken by a look-alike of an existing name (the store's
                // unique skeleton index decides, on every node).
                match tx.insert_identity(&identity).await {
                    Err(StoreError::Conflict) => {
                        drop(tx);
                        let mut event = self.event("admin.invite", &ClientContext::default());
                        event.actor = Some(actor.to_owned());
                        event.subject = Some(identity.name);
                        return Err(self.record_refusal(event, "name_confusable", None).await);
                    }
                    other => other?,
                }
                identity
            }
        };
        let token = Token::from_bytes(self.random());
        tx.insert_grant(&Grant {
            token_hash: token.hash.clone(),
            kind: "invitation".to_owned(),
            identity_id: identity.id.clone(),
            issued_by: actor.to_owned(),
            min_tier,
            created_ms: now,
            expires_ms: now.saturating_add(self.config.invitation_ttl_ms),
            used_ms: None,
        })
        .await?;
        let mut event = self.event("admin.invite", &ClientContext::default());
        event.actor = Some(actor.to_owned());
        event.subject = Some(identity.name);
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!(
            "grant {}",
            b64::encode(token.hash.get(..8).unwrap_or_default())
        ));
        tx.append_audit(event).await?;
        tx.commit().await?;
        Ok(token)
    }
}

pub(crate) fn hex_id(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
