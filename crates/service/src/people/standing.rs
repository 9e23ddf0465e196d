//! A person's standing: the admin role (promote, demote) and suspension
//! (suspend, resume). Two rules hold whoever acts: the deployment never
//! loses its last active administrator (a demotion or suspension that would
//! leave none is refused; the count is made inside the action's write
//! transaction, which holds the database-wide writer lock, so two nodes
//! cannot each remove "the other" last admin), and every refusal is
//! audited. Promotion follows `roles.rs`: the local operator grants the
//! role directly, an administrator in the console proposes it and other
//! administrators approve.
//!
//! From the console, demote, suspend and resume act only on people who are
//! not administrators: an administrator target is refused (`needs_operator`,
//! High severity) so one stolen console session cannot demote or suspend
//! every other administrator and lock the organisation out. The local
//! operator (`keybound admin demote|suspend|resume`), who holds the
//! database anyway, still acts directly.
//!
//! A suspended person cannot sign in (authentication wants an active
//! identity), cannot enrol a key or be recovered, and their sessions end
//! when they are suspended; resuming makes them active again with the
//! credentials they had.

use crate::people::PersonByName;
use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{NewEvent, Severity};
use keybound_store::{EndingSessions, Identity, IdentityStatus, WriteTx};

use crate::invite::Issuer;
use crate::roles::RoleGrant;
use crate::{Admin, ClientContext, Operator, Service, ServiceError};

/// Who acts on someone's standing and from where: the local operator, or
/// an administrator in the console (who must still be one when it happens,
/// see [`Service::begin_as`]).
#[derive(Clone, Copy)]
pub(crate) struct By<'a> {
    /// The name the audit event records as its actor.
    pub(crate) actor: &'a str,
    /// The console administrator, `None` for the operator.
    pub(crate) admin: Option<&'a Identity>,
    pub(crate) ctx: &'a ClientContext,
}

impl<'a> By<'a> {
    pub(crate) fn operator(operator: &'a Operator, ctx: &'a ClientContext) -> By<'a> {
        By {
            actor: operator.name(),
            admin: None,
            ctx,
        }
    }

    pub(crate) fn console(admin: &'a Admin, ctx: &'a ClientContext) -> By<'a> {
        By {
            actor: &admin.name,
            admin: Some(admin.identity()),
            ctx,
        }
    }
}

impl Service {
    /// Grants `name` the admin role (`keybound admin promote NAME`): the
    /// local operator grants it directly, a high-severity audit event.
    /// Refused: an administrator already (`role_unchanged`), a suspended or
    /// offboarded person (`identity_not_active`).
    pub async fn promote(
        &self,
        name: &str,
        operator: &Operator,
    ) -> Result<RoleGrant, ServiceError> {
        self.promote_by(
            name,
            Issuer::Operator(operator.name()),
            &ClientContext::default(),
        )
        .await
    }

    /// An administrator asks for `name` to become one: a proposal that
    /// other administrators approve ([`Service::approve_role`]).
    pub async fn console_promote(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<RoleGrant, ServiceError> {
        self.promote_by(name, Issuer::Admin(admin.identity()), ctx)
            .await
    }

    async fn promote_by(
        &self,
        name: &str,
        issuer: Issuer<'_>,
        ctx: &ClientContext,
    ) -> Result<RoleGrant, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let (kind, actor) = match issuer {
            Issuer::Operator(actor) => (EventKind::AdminGrantRole, actor),
            Issuer::Admin(admin) => {
                if let Err(e) = self.still_admin(&mut tx, admin).await {
                    drop(tx);
                    let event =
                        self.role_event(EventKind::AdminProposeRole, &admin.name, name, ctx);
                    return Err(self.refuse_stale_admin(event, e).await);
                }
                (EventKind::AdminProposeRole, admin.name.as_str())
            }
        };
        let identity = found(&mut tx, name).await?;
        let event = self.role_event(kind, actor, &identity.name, ctx);
        // An invited person's open link would silently become an admin
        // enrolment link: `admin invite NAME --admin` replaces it instead.
        let refusal = if identity.is_admin {
            Some(Refusal::RoleUnchanged)
        } else if matches!(
            identity.status,
            IdentityStatus::Suspended | IdentityStatus::Offboarded | IdentityStatus::Invited
        ) {
            Some(Refusal::IdentityNotActive)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(tx);
            return Err(self.record_refusal(event, refusal, None).await);
        }
        let grant = self.grant_role(&mut tx, &identity, issuer, ctx).await?;
        tx.commit().await?;
        Ok(grant)
    }

    /// Withdraws the admin role of `name` (`keybound admin demote NAME`).
    /// Refused: not an administrator (`role_unchanged`), the last active
    /// one (`last_admin`).
    pub async fn demote(&self, name: &str, operator: &Operator) -> Result<(), ServiceError> {
        self.demote_by(name, By::operator(operator, &ClientContext::default()))
            .await
    }

    /// [`Service::demote`] by an administrator in the console.
    pub async fn console_demote(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        self.demote_by(name, By::console(admin, ctx)).await
    }

    async fn demote_by(&self, name: &str, by: By<'_>) -> Result<(), ServiceError> {
        let By { actor, admin, ctx } = by;
        let (mut tx, identity) = self.begin_on(EventKind::AdminRevokeRole, name, by).await?;
        let mut event = self.role_event(EventKind::AdminRevokeRole, actor, &identity.name, ctx);
        let refusal = if !identity.is_admin {
            Some(Refusal::RoleUnchanged)
        } else if identity.status == IdentityStatus::Active && tx.count_active_admins().await? <= 1
        {
            Some(Refusal::LastAdmin)
        } else if admin.is_some() {
            Some(Refusal::NeedsOperator)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(tx);
            return Err(self.refuse(event, refusal).await);
        }
        tx.set_admin(&identity.id, false).await?;
        event.reason = Some(format!("demoted by {actor}"));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Suspends `name` (`keybound admin suspend NAME`): no sign-in until
    /// resumed, and every live session ends now. Returns how many ended.
    /// Refused: already suspended (`status_unchanged`), invited or
    /// offboarded (`identity_not_active`), the last active administrator
    /// (`last_admin`).
    pub async fn suspend(&self, name: &str, operator: &Operator) -> Result<usize, ServiceError> {
        self.suspend_by(name, By::operator(operator, &ClientContext::default()))
            .await
    }

    /// [`Service::suspend`] by an administrator in the console, never of
    /// themselves (`suspend_self`).
    pub async fn console_suspend(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<usize, ServiceError> {
        self.suspend_by(name, By::console(admin, ctx)).await
    }

    async fn suspend_by(&self, name: &str, by: By<'_>) -> Result<usize, ServiceError> {
        let By { actor, admin, ctx } = by;
        let now = self.now_ms();
        let (mut tx, identity) = self.begin_on(EventKind::AdminSuspend, name, by).await?;
        let mut event = self.standing_event(EventKind::AdminSuspend, actor, &identity, ctx);
        let refusal = match identity.status {
            _ if admin.is_some_and(|a| a.id == identity.id) => Some(Refusal::SuspendSelf),
            IdentityStatus::Suspended => Some(Refusal::StatusUnchanged),
            IdentityStatus::Invited | IdentityStatus::Offboarded => {
                Some(Refusal::IdentityNotActive)
            }
            IdentityStatus::Active if identity.is_admin && tx.count_active_admins().await? <= 1 => {
                Some(Refusal::LastAdmin)
            }
            IdentityStatus::Active if identity.is_admin && admin.is_some() => {
                Some(Refusal::NeedsOperator)
            }
            IdentityStatus::Active => None,
        };
        if let Some(refusal) = refusal {
            drop(tx);
            return Err(self.refuse(event, refusal).await);
        }
        self.sessions_ending(&mut tx, EndingSessions::Identity(&identity.id))
            .await?;
        tx.set_identity_status(&identity.id, IdentityStatus::Suspended)
            .await?;
        let ended = tx.end_sessions_of(&identity.id, now).await?.len();
        let voided = self.void_while_suspended(&mut tx, &identity, now).await?;
        event.reason = Some(format!("{ended} sessions ended{voided}"));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Makes a suspended `name` active again (`keybound admin resume
    /// NAME`). Refused: not suspended (`status_unchanged`).
    pub async fn resume(&self, name: &str, operator: &Operator) -> Result<(), ServiceError> {
        self.resume_by(name, By::operator(operator, &ClientContext::default()))
            .await
    }

    /// [`Service::resume`] by an administrator in the console.
    pub async fn console_resume(
        &self,
        admin: &Admin,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        self.resume_by(name, By::console(admin, ctx)).await
    }

    async fn resume_by(&self, name: &str, by: By<'_>) -> Result<(), ServiceError> {
        let By { actor, admin, ctx } = by;
        let (mut tx, identity) = self.begin_on(EventKind::AdminResume, name, by).await?;
        let event = self.standing_event(EventKind::AdminResume, actor, &identity, ctx);
        let refusal = if identity.status != IdentityStatus::Suspended {
            Some(Refusal::StatusUnchanged)
        } else if identity.is_admin && admin.is_some() {
            Some(Refusal::NeedsOperator)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(tx);
            return Err(self.refuse(event, refusal).await);
        }
        tx.set_identity_status(&identity.id, IdentityStatus::Active)
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What suspending `identity` voids beside its sessions, in the
    /// suspension's transaction, so nothing handed out before is usable
    /// after a resume: their open grants and pending recoveries, and for an
    /// administrator the enrolment links they issued and their pending role
    /// proposals and approvals. The audit reason's tail saying so.
    async fn void_while_suspended(
        &self,
        tx: &mut WriteTx,
        identity: &Identity,
        now: i64,
    ) -> Result<String, ServiceError> {
        let grants = tx.void_grants_of(&identity.id, now).await?.len();
        let recoveries = tx.void_recoveries_of(&identity.id).await?;
        let mut said = format!(", {grants} grants and {recoveries} recoveries voided");
        if identity.is_admin {
            let issued = tx.void_grants_issued_by(&identity.name, now).await?.len();
            let (proposals, approvals) = tx.void_role_actions_by(&identity.id).await?;
            said.push_str(&format!(
                ", {issued} issued invitations, {proposals} role proposals and \
                 {approvals} role approvals voided"
            ));
        }
        Ok(said)
    }

    /// Opens an action's write transaction. When an administrator in the
    /// console acts (`admin`), they must still be one: if not, the try is
    /// refused and audited with `refused`'s event (see
    /// [`Service::refuse_stale_admin`]), and nothing is written.
    pub(crate) async fn begin_as(
        &self,
        admin: Option<&Identity>,
        refused: impl FnOnce() -> NewEvent,
    ) -> Result<WriteTx, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        if let Some(admin) = admin {
            if let Err(e) = self.still_admin(&mut tx, admin).await {
                drop(tx);
                return Err(self.refuse_stale_admin(refused(), e).await);
            }
        }
        Ok(tx)
    }

    /// [`Service::begin_as`] for a standing change of `name`, and the
    /// identity it acts on ([`ServiceError::NotFound`] if nobody has it).
    async fn begin_on(
        &self,
        kind: EventKind,
        name: &str,
        by: By<'_>,
    ) -> Result<(WriteTx, Identity), ServiceError> {
        let mut tx = self
            .begin_as(by.admin, || self.role_event(kind, by.actor, name, by.ctx))
            .await?;
        let identity = found(&mut tx, name).await?;
        Ok((tx, identity))
    }

    /// A console administrator who is no longer one (demoted, suspended
    /// since the page loaded): the refusal is recorded (`not_admin`,
    /// Warning) and the caller still gets `Forbidden`.
    pub(crate) async fn refuse_stale_admin(
        &self,
        mut event: NewEvent,
        e: ServiceError,
    ) -> ServiceError {
        if e != ServiceError::Forbidden {
            return e;
        }
        event.severity = Some(Severity::Warning);
        match self.record_refusal(event, Refusal::NotAdmin, None).await {
            ServiceError::Rejected(_) => ServiceError::Forbidden,
            other => other,
        }
    }

    /// Records a refusal; one that only the local operator may lift
    /// (`needs_operator`) is a High severity event: it is what a stolen
    /// console session turning on the other administrators looks like.
    async fn refuse(&self, mut event: NewEvent, refusal: Refusal) -> ServiceError {
        if refusal == Refusal::NeedsOperator {
            event.severity = Some(Severity::High);
        }
        self.record_refusal(event, refusal, None).await
    }

    fn standing_event(
        &self,
        kind: EventKind,
        actor: &str,
        identity: &Identity,
        ctx: &ClientContext,
    ) -> NewEvent {
        let mut event = self.event(kind, ctx);
        event.actor = Some(actor.to_owned());
        event.subject = Some(identity.name.clone());
        event.outcome = Some(keybound_audit::Outcome::Success);
        event.severity = Some(Severity::Warning);
        event
    }
}

/// The identity called `name` (under the naming rule), or `NotFound`.
async fn found(tx: &mut WriteTx, name: &str) -> Result<Identity, ServiceError> {
    tx.person_by_name(name).await?.ok_or(ServiceError::NotFound)
}
