//! Inviting an identity: the only way into a governed deployment.
//!
//! An invitation binds a key to an account nobody holds yet. So it is never
//! issued for an account that is active: a credential is added to a live
//! account only by that account's own fresh sign-in (`/me`) or by M-of-N
//! recovery, or one administrator could add their own key to anyone's
//! account and sign in as them. A role is granted with each invitation or
//! not at all: re-inviting an invited or offboarded identity does not bring
//! back an admin role nobody granted again.

use crate::record::Record;
use crate::tokens::hex_id;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{Outcome, Severity};
use keybound_store::{Grant, Identity, IdentityStatus, StoreError};
use keybound_webauthn::b64;

use crate::roles::RoleGrant;
use crate::{Admin, ClientContext, Operator, Service, ServiceError, Token};

/// Who issues an invitation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Issuer<'a> {
    /// The local operator (`keybound admin invite`): holds the database, so
    /// it may grant the admin role directly (recorded at high severity).
    Operator(&'a str),
    /// An administrator in the console: the admin role needs approvals.
    Admin(&'a Identity),
}

impl Issuer<'_> {
    fn name(&self) -> &str {
        match self {
            Issuer::Operator(name) => name,
            Issuer::Admin(admin) => &admin.name,
        }
    }
}

/// An invitation made in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The token for the enrolment link; shown once.
    pub token: Token,
    /// What became of the admin role, when it was asked for.
    pub role: Option<RoleGrant>,
    /// The lowest tier a credential enrolled with it must reach.
    pub min_tier: i64,
}

impl Service {
    /// Creates `name` if needed and issues a single-use invitation for it
    /// (`keybound admin invite NAME [--admin]`). The token is returned once;
    /// only its hash is stored.
    pub async fn invite(
        &self,
        name: &str,
        admin: bool,
        actor: &Operator,
    ) -> Result<Token, ServiceError> {
        self.invite_with_min_tier(name, admin, actor, 1).await
    }

    /// [`Service::invite`] for a credential of at least `min_tier`
    /// (`keybound admin invite NAME --min-tier N`): an enrolment below it is
    /// refused and leaves the invitation usable. An active identity is
    /// refused (`identity_active`).
    pub async fn invite_with_min_tier(
        &self,
        name: &str,
        admin: bool,
        actor: &Operator,
        min_tier: i64,
    ) -> Result<Token, ServiceError> {
        let invitation = self
            .issue_invitation(
                name,
                admin,
                Issuer::Operator(actor.name()),
                min_tier,
                &ClientContext::default(),
            )
            .await?;
        Ok(invitation.token)
    }

    /// An administrator's invitation from the console. Asking for the admin
    /// role opens a proposal that other administrators approve
    /// ([`Service::approve_role`]); the administrator proposing counts as
    /// the first approval.
    pub async fn console_invite(
        &self,
        admin: &Admin,
        name: &str,
        role_admin: bool,
        min_tier: i64,
        ctx: &ClientContext,
    ) -> Result<Invitation, ServiceError> {
        self.issue_invitation(
            name,
            role_admin,
            Issuer::Admin(admin.identity()),
            min_tier,
            ctx,
        )
        .await
    }

    async fn issue_invitation(
        &self,
        name: &str,
        role_admin: bool,
        issuer: Issuer<'_>,
        min_tier: i64,
        ctx: &ClientContext,
    ) -> Result<Invitation, ServiceError> {
        let mut event = self.event(EventKind::AdminInvite, ctx);
        event.actor = Some(issuer.name().to_owned());
        event.subject = Some(keybound_names::for_audit(name));
        if !(1..=3).contains(&min_tier) {
            return Err(self.record_refusal(event, Refusal::InvalidTier, None).await);
        }
        // One naming rule everywhere (keybound_names): the name is stored
        // and looked up in its canonical form.
        let Ok(canonical) = keybound_names::canonical(name) else {
            return Err(self.record_refusal(event, Refusal::InvalidName, None).await);
        };
        let name = canonical.as_str();
        let now = self.now_ms();
        event.subject = Some(name.to_owned());
        let mut tx = self.kernel.store.begin().await?;
        if let Issuer::Admin(admin) = issuer {
            self.still_admin(&mut tx, admin).await?;
        }
        let identity = match tx.identity_by_name(name).await? {
            Some(existing)
                if matches!(
                    existing.status,
                    IdentityStatus::Active | IdentityStatus::Suspended
                ) =>
            {
                drop(tx);
                event.severity = Some(Severity::High);
                return Err(self
                    .record_refusal(
                        event,
                        Refusal::IdentityActive,
                        Some(
                            "a live account gains a key only by its own sign-in or by recovery"
                                .into(),
                        ),
                    )
                    .await);
            }
            Some(existing) => {
                // Invited or offboarded: a new invitation, and the role
                // only if it is granted again now.
                if existing.status == IdentityStatus::Offboarded {
                    tx.set_identity_status(&existing.id, IdentityStatus::Invited)
                        .await?;
                }
                // Only the newest link works: an older one handed to
                // someone else must not enrol into this account later.
                let done = |kind: EventKind| {
                    let mut e = self.event(kind, ctx);
                    e.actor = Some(issuer.name().to_owned());
                    e.subject = Some(existing.name.clone());
                    e.outcome = Some(Outcome::Success);
                    e
                };
                for grant in tx.void_grants_of(&existing.id, now).await? {
                    let mut voided = done(EventKind::AdminVoidInvitation);
                    voided.reason = Some(format!(
                        "grant {} issued by {}, replaced by a new invitation",
                        b64::encode(grant.token_hash.get(..8).unwrap_or_default()),
                        grant.issued_by
                    ));
                    tx.record(voided).await?;
                }
                if existing.is_admin {
                    tx.set_admin(&existing.id, false).await?;
                    let mut dropped = done(EventKind::AdminRevokeRole);
                    dropped.severity = Some(Severity::High);
                    dropped.reason = Some(
                        "re-invited: the role is granted with each invitation or not at all".into(),
                    );
                    tx.record(dropped).await?;
                }
                if tx.void_role_proposals_of(&existing.id).await? > 0 {
                    tx.record(done(EventKind::AdminVoidRoleProposal)).await?;
                }
                Identity {
                    status: IdentityStatus::Invited,
                    is_admin: false,
                    ..existing
                }
            }
            None => {
                let identity = Identity {
                    kind: keybound_store::IdentityKind::Person,
                    id: hex_id(self.random::<16>()),
                    name: name.to_owned(),
                    status: IdentityStatus::Invited,
                    is_admin: false,
                    user_handle: self.random::<32>().to_vec(),
                    created_ms: now,
                };
                // Taken by a look-alike of an existing name (the store's
                // unique skeleton index decides, on every node).
                match tx.insert_identity(&identity).await {
                    Err(StoreError::Conflict) => {
                        drop(tx);
                        return Err(self
                            .record_refusal(event, Refusal::NameConfusable, None)
                            .await);
                    }
                    other => other?,
                }
                identity
            }
        };
        let token = self.mint();
        tx.insert_grant(&Grant {
            token_hash: token.hash.clone(),
            kind: "invitation".to_owned(),
            identity_id: identity.id.clone(),
            issued_by: issuer.name().to_owned(),
            min_tier,
            created_ms: now,
            expires_ms: now.saturating_add(self.config.invitation_ttl_ms),
            used_ms: None,
        })
        .await?;
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!(
            "grant {}, minimum tier {min_tier}",
            b64::encode(token.hash.get(..8).unwrap_or_default())
        ));
        tx.record(event).await?;
        let role = if role_admin {
            Some(self.grant_role(&mut tx, &identity, issuer, ctx).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(Invitation {
            token,
            role,
            min_tier,
        })
    }
}
