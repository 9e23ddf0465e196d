//! The admin role. Granting it from the console needs as many
//! administrators as a recovery does (the proposer counts as one), each an
//! active administrator when the count is made; otherwise one administrator
//! could make a second admin account and pass an M-of-N recovery alone.
//! The local operator (`keybound admin invite --admin`) holds the database
//! and grants it directly. Every grant is a high-severity audit event.

use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{Identity, IdentityStatus, ReadTx, RoleProposal, StoreError, WriteTx};

use crate::invite::Issuer;
use crate::tokens::hex_id;
use crate::{Actor, Admin, ClientContext, Service, ServiceError};

/// What became of a request for the admin role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleGrant {
    /// Granted now.
    Granted,
    /// Proposed: this many more approvals from other administrators.
    Proposed {
        /// The proposal's id.
        id: String,
        /// Approvals still missing.
        missing: usize,
    },
}

/// A pending proposal as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRole {
    /// Its id.
    pub id: String,
    /// Who would become an administrator.
    pub name: String,
    /// Administrators who approved (the proposer first).
    pub approvers: Vec<String>,
    /// Approvals needed in all.
    pub needed: usize,
    /// When it lapses, ms.
    pub expires_ms: i64,
}

impl Service {
    /// As many as a recovery needs, and never fewer than two: one
    /// administrator alone never makes another.
    fn role_approvals_needed(&self) -> usize {
        self.config.recovery.approvals.max(2)
    }

    /// Re-reads the acting administrator inside the action's transaction:
    /// one offboarded or demoted (on any node) since the console let the
    /// request in acts no more.
    pub(crate) async fn still_admin(
        &self,
        tx: &mut ReadTx,
        admin: &Identity,
    ) -> Result<(), ServiceError> {
        match tx.identity_by_id(&admin.id).await? {
            Some(now) if now.is_admin && now.status == IdentityStatus::Active => Ok(()),
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// Grants (operator) or proposes (administrator) the admin role for
    /// `identity`, in the caller's transaction.
    pub(crate) async fn grant_role(
        &self,
        tx: &mut WriteTx,
        identity: &Identity,
        issuer: Issuer<'_>,
        ctx: &ClientContext,
    ) -> Result<RoleGrant, ServiceError> {
        let now = self.now_ms();
        let admin = match issuer {
            Issuer::Operator(actor) => {
                tx.set_admin(&identity.id, true).await?;
                let mut event =
                    self.role_event(EventKind::AdminGrantRole, actor, &identity.name, ctx);
                event.reason = Some("granted by the local operator".into());
                tx.record(event).await?;
                return Ok(RoleGrant::Granted);
            }
            Issuer::Admin(admin) => admin,
        };
        self.still_admin(tx, admin).await?;
        let proposal = RoleProposal {
            id: hex_id(self.random::<16>()),
            identity_id: identity.id.clone(),
            proposed_by: admin.id.clone(),
            created_ms: now,
            expires_ms: now.saturating_add(self.config.recovery.request_ttl_ms),
            status: "pending".into(),
        };
        tx.insert_role_proposal(&proposal).await?;
        tx.approve_role_proposal(&proposal.id, &admin.id, now)
            .await?;
        let mut event = self.role_event(
            EventKind::AdminProposeRole,
            &admin.name,
            &identity.name,
            ctx,
        );
        event.reason = Some(format!("proposal {}", proposal.id));
        tx.record(event).await?;
        self.settle_role(tx, &proposal, ctx).await
    }

    /// Counts the approvals that still stand (active administrators other
    /// than the grantee) and grants the role when there are enough.
    async fn settle_role(
        &self,
        tx: &mut WriteTx,
        proposal: &RoleProposal,
        ctx: &ClientContext,
    ) -> Result<RoleGrant, ServiceError> {
        let ids = tx.role_approvers(&proposal.id).await?;
        let approvers = standing_approvers(tx, ids, &proposal.identity_id).await?;
        let needed = self.role_approvals_needed();
        if approvers.len() < needed {
            return Ok(RoleGrant::Proposed {
                id: proposal.id.clone(),
                missing: needed - approvers.len(),
            });
        }
        let grantee = tx
            .identity_by_id(&proposal.identity_id)
            .await?
            .filter(|i| i.status != IdentityStatus::Offboarded)
            .ok_or(ServiceError::NotFound)?;
        tx.set_admin(&grantee.id, true).await?;
        tx.set_role_proposal_status(&proposal.id, "granted").await?;
        let mut event = self.role_event(
            EventKind::AdminGrantRole,
            approvers.last().map_or("", String::as_str),
            &grantee.name,
            ctx,
        );
        event.reason = Some(format!(
            "proposal {}: approved by {}",
            proposal.id,
            approvers.join(", ")
        ));
        tx.record(event).await?;
        Ok(RoleGrant::Granted)
    }

    /// `admin` approves role proposal `id`. Nobody approves their own
    /// promotion, and each administrator counts once.
    pub async fn approve_role(
        &self,
        admin: &Admin,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<RoleGrant, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin).await?;
        let proposal = open_proposal(&mut tx, id, now).await?;
        let grantee = tx
            .identity_by_id(&proposal.identity_id)
            .await?
            .map(|i| i.name)
            .unwrap_or_default();
        let event = self.role_event(EventKind::AdminApproveRole, &admin.name, &grantee, ctx);
        if proposal.identity_id == admin.id {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::SelfApproval, None)
                .await);
        }
        match tx.approve_role_proposal(id, &admin.id, now).await {
            Err(StoreError::Conflict) => {
                drop(tx);
                return Err(self
                    .record_refusal(event, Refusal::AlreadyApproved, None)
                    .await);
            }
            other => other?,
        }
        let mut approved = event;
        approved.reason = Some(format!("proposal {id}"));
        tx.record(approved).await?;
        let outcome = self.settle_role(&mut tx, &proposal, ctx).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// `admin` turns down role proposal `id`.
    pub async fn deny_role(
        &self,
        admin: &Admin,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin).await?;
        let proposal = open_proposal(&mut tx, id, now).await?;
        tx.set_role_proposal_status(id, "denied").await?;
        let grantee = tx
            .identity_by_id(&proposal.identity_id)
            .await?
            .map(|i| i.name)
            .unwrap_or_default();
        let mut event = self.role_event(EventKind::AdminDenyRole, &admin.name, &grantee, ctx);
        event.reason = Some(format!("proposal {id}"));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Role proposals awaiting approval, oldest first.
    pub async fn pending_roles(
        &self,
        _viewer: Actor<'_>,
    ) -> Result<Vec<PendingRole>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let mut out = Vec::new();
        for p in tx.pending_role_proposals(self.now_ms()).await? {
            let name = tx
                .identity_by_id(&p.identity_id)
                .await?
                .map(|i| i.name)
                .unwrap_or_default();
            let ids = tx.role_approvers(&p.id).await?;
            let approvers = names_of(&mut tx, ids).await?;
            out.push(PendingRole {
                id: p.id,
                name,
                approvers,
                needed: self.role_approvals_needed(),
                expires_ms: p.expires_ms,
            });
        }
        Ok(out)
    }

    pub(crate) fn role_event(
        &self,
        kind: EventKind,
        actor: &str,
        subject: &str,
        ctx: &ClientContext,
    ) -> NewEvent {
        let mut event = self.event(kind, ctx);
        event.actor = Some(actor.to_owned());
        event.subject = Some(subject.to_owned());
        event.outcome = Some(Outcome::Success);
        event.severity = Some(Severity::High);
        event
    }
}

async fn open_proposal(tx: &mut ReadTx, id: &str, now: i64) -> Result<RoleProposal, ServiceError> {
    tx.role_proposal(id)
        .await?
        .filter(|p| p.status == "pending" && p.expires_ms > now)
        .ok_or(ServiceError::NotFound)
}

/// The names of the approvals that count: by identities that are active
/// administrators now, other than `grantee` (the person promoted or
/// recovered). Recovery and the admin role count the same way.
pub(crate) async fn standing_approvers(
    tx: &mut ReadTx,
    approver_ids: Vec<String>,
    grantee: &str,
) -> Result<Vec<String>, ServiceError> {
    let mut names = Vec::new();
    for id in approver_ids {
        if id == grantee {
            continue;
        }
        if let Some(a) = tx.identity_by_id(&id).await? {
            if a.is_admin && a.status == IdentityStatus::Active {
                names.push(a.name);
            }
        }
    }
    Ok(names)
}

/// The names of identities `ids`, in order (gone ones left out).
pub(crate) async fn names_of(
    tx: &mut ReadTx,
    ids: Vec<String>,
) -> Result<Vec<String>, ServiceError> {
    let mut names = Vec::new();
    for id in ids {
        if let Some(i) = tx.identity_by_id(&id).await? {
            names.push(i.name);
        }
    }
    Ok(names)
}
