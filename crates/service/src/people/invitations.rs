//! The open invitations: listing them and voiding one. A voided
//! invitation's link reads as unknown from then on, like a used one. The
//! admin role is granted with an invitation or not at all (see
//! `invite.rs`), so voiding the invitation of someone not yet enrolled also
//! withdraws a role granted or proposed with it.

use crate::people::PersonByName;
use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{Outcome, Severity};
use keybound_store::IdentityStatus;
use keybound_webauthn::b64;

use super::standing::By;
use crate::{Actor, Admin, ClientContext, Operator, Service, ServiceError};

/// The role an invitation brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitedRole {
    /// A person without the admin role.
    User,
    /// The admin role, granted already (by the local operator, or
    /// approved).
    Admin,
    /// The admin role, proposed and waiting for approvals.
    AdminProposed,
}

impl InvitedRole {
    /// The stable spelling the CLI's `--json` output and the console use.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitedRole::User => "user",
            InvitedRole::Admin => "admin",
            InvitedRole::AdminProposed => "admin_proposed",
        }
    }
}

/// An open invitation: issued, not used, not voided, not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvitation {
    /// Who it is for.
    pub name: String,
    /// The role it brings.
    pub role: InvitedRole,
    /// The lowest tier a key enrolled with it must reach.
    pub min_tier: i64,
    /// When it was issued, ms.
    pub created_ms: i64,
    /// When it lapses, ms.
    pub expires_ms: i64,
    /// Who issued it (an administrator's name or the operator's).
    pub invited_by: String,
}

impl Service {
    /// The open invitations, oldest first (`keybound admin invitations`,
    /// the console's invitations page).
    pub async fn invitations(
        &self,
        _viewer: Actor<'_>,
    ) -> Result<Vec<OpenInvitation>, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let proposed: std::collections::BTreeSet<String> = tx
            .pending_role_proposals(now)
            .await?
            .into_iter()
            .map(|p| p.identity_id)
            .collect();
        let mut out = Vec::new();
        for grant in tx.open_invitations(now).await? {
            let Some(identity) = tx.identity_by_id(&grant.identity_id).await? else {
                continue;
            };
            let role = if identity.is_admin {
                InvitedRole::Admin
            } else if proposed.contains(&identity.id) {
                InvitedRole::AdminProposed
            } else {
                InvitedRole::User
            };
            out.push(OpenInvitation {
                name: identity.name,
                role,
                min_tier: grant.min_tier,
                created_ms: grant.created_ms,
                expires_ms: grant.expires_ms,
                invited_by: grant.issued_by,
            });
        }
        Ok(out)
    }

    /// Voids the open invitation of `name` (`keybound admin
    /// revoke-invitation NAME`): its link stops working. No such person:
    /// [`ServiceError::NotFound`]; no open invitation (used, voided,
    /// expired): `Rejected(GrantUsedOrExpired)`, audited. Returns how many
    /// invitations were voided.
    pub async fn void_invitation(
        &self,
        name: &str,
        operator: &Operator,
    ) -> Result<usize, ServiceError> {
        self.void_invitation_by(name, By::operator(operator, &ClientContext::default()))
            .await
    }

    /// [`Service::void_invitation`] by an administrator in the console,
    /// who must still be one when it happens.
    pub async fn console_void_invitation(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<usize, ServiceError> {
        self.void_invitation_by(name, By::console(admin, ctx)).await
    }

    async fn void_invitation_by(&self, name: &str, by: By<'_>) -> Result<usize, ServiceError> {
        let By { actor, admin, ctx } = by;
        let now = self.now_ms();
        let mut tx = self
            .begin_as(admin, || {
                let mut event = self.event(EventKind::AdminVoidInvitation, ctx);
                event.actor = Some(actor.to_owned());
                event.subject = Some(name.to_owned());
                event
            })
            .await?;
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let event = |kind: EventKind| {
            let mut e = self.event(kind, ctx);
            e.actor = Some(actor.to_owned());
            e.subject = Some(identity.name.clone());
            e.outcome = Some(Outcome::Success);
            e
        };
        let voided = tx.void_invitations_of(&identity.id, now).await?;
        if voided.is_empty() {
            drop(tx);
            return Err(self
                .record_refusal(
                    event(EventKind::AdminVoidInvitation),
                    Refusal::GrantUsedOrExpired,
                    Some("no open invitation".into()),
                )
                .await);
        }
        for grant in &voided {
            let mut e = event(EventKind::AdminVoidInvitation);
            e.reason = Some(format!(
                "grant {} issued by {}, voided",
                b64::encode(grant.token_hash.get(..8).unwrap_or_default()),
                grant.issued_by
            ));
            tx.record(e).await?;
        }
        if identity.status == IdentityStatus::Invited {
            if identity.is_admin {
                tx.set_admin(&identity.id, false).await?;
                let mut dropped = event(EventKind::AdminRevokeRole);
                dropped.severity = Some(Severity::High);
                dropped.reason = Some("the invitation it came with was voided".into());
                tx.record(dropped).await?;
            }
            if tx.void_role_proposals_of(&identity.id).await? > 0 {
                tx.record(event(EventKind::AdminVoidRoleProposal)).await?;
            }
        }
        tx.commit().await?;
        Ok(voided.len())
    }
}
