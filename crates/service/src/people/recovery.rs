//! Recovery when every credential is lost: no email link, no codes. The
//! person asks by name; M administrators other than them approve, each from
//! a fresh tier-2 console session; after an optional wait, one of the
//! approvers receives a single-use 15-minute grant to hand over in person,
//! and (by default) the old credentials are revoked then.

use crate::people::PersonByName;
use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{
    EndingSessions, Grant, Identity, IdentityStatus, ReadTx, Recovery, StoreError, WriteTx,
};
use keybound_webauthn::b64;

use crate::tokens::hex_id;
use crate::{Actor, Admin, ClientContext, Service, ServiceError, Token};

/// A pending recovery as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecovery {
    /// Its id.
    pub id: String,
    /// Who asked.
    pub name: String,
    /// When, ms.
    pub requested_ms: i64,
    /// Until when it may be approved, ms.
    pub expires_ms: i64,
    /// Names of the administrators who approved.
    pub approvers: Vec<String>,
    /// When enough approvals arrived and the wait ends, ms.
    pub ready_ms: Option<i64>,
}

/// What an approval led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// More approvals are needed.
    NeedsMore {
        /// How many.
        missing: usize,
    },
    /// Enough approvals; the grant can be issued from this time, ms.
    Waiting {
        /// When.
        ready_ms: i64,
    },
    /// The grant: hand it to the person. Shown once.
    Issued(Token),
}

impl Service {
    /// A person asks to recover `name`. The answer is the same whether or
    /// not the name exists. The request is an ordinary audit event (success
    /// when it opened a recovery, failure otherwise, no severity): anyone
    /// may ask, so one request is no alarm and a flood must not bury real
    /// alerts. Patterns raise one alert each, per window (the alert
    /// thresholds): many requests from one address
    /// (`alert.recovery_requests`), or several requests for one real
    /// account from anywhere (`alert.recovery_account`).
    pub async fn request_recovery(
        &self,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let mut event = self.event(EventKind::RecoveryRequest, ctx);
        event.subject = Some(keybound_names::for_audit(name));
        event.outcome = Some(Outcome::Failure);
        let identity = tx.person_by_name(name).await?;
        let active = identity.filter(|i| i.status == IdentityStatus::Active);
        match &active {
            None => event.reason = Some("no active identity of that name".into()),
            Some(identity) => {
                let open = tx
                    .pending_recoveries(now)
                    .await?
                    .into_iter()
                    .any(|r| r.identity_id == identity.id);
                if open {
                    event.reason = Some("a recovery is already pending".into());
                } else {
                    let id = hex_id(self.random::<16>());
                    tx.insert_recovery(&Recovery {
                        id: id.clone(),
                        identity_id: identity.id.clone(),
                        requested_ms: now,
                        expires_ms: now.saturating_add(self.config.recovery.request_ttl_ms),
                        ready_ms: None,
                        status: "pending".into(),
                        revoke_old: true,
                    })
                    .await?;
                    event.outcome = Some(Outcome::Success);
                    event.reason = Some(format!("recovery {id}"));
                }
            }
        }
        let t = self.config.alerts;
        let from_one_source = ctx.ip.as_deref().and_then(|ip| {
            let source = crate::rate_limit::source::bucket_of(Some(ip));
            let mut alert = self.people.detectors.observe(
                "recovery_requests",
                &source,
                "",
                false,
                t.recovery_requests,
                t.window_ms,
                now,
            )?;
            alert.user_agent.clone_from(&ctx.user_agent);
            alert.severity = Some(Severity::Warning);
            alert.reason = Some(format!(
                "{} or more recovery requests from one address within {} minutes",
                t.recovery_requests,
                t.window_ms / 60_000
            ));
            Some(alert)
        });
        // Keyed by the account, so only real accounts hold detector state.
        let for_one_account = active.as_ref().and_then(|identity| {
            let mut alert = self.people.detectors.observe(
                "recovery_account",
                &identity.id,
                "",
                false,
                t.recovery_account_requests,
                t.window_ms,
                now,
            )?;
            alert.subject = Some(identity.name.clone());
            alert.ip.clone_from(&ctx.ip);
            alert.user_agent.clone_from(&ctx.user_agent);
            alert.severity = Some(Severity::Warning);
            alert.reason = Some(format!(
                "{} or more recovery requests for this account within {} minutes",
                t.recovery_account_requests,
                t.window_ms / 60_000
            ));
            Some(alert)
        });
        tx.record(event).await?;
        // Claimed across nodes first: one alert however many saw it.
        let source = from_one_source
            .as_ref()
            .and_then(|a| a.ip.clone())
            .unwrap_or_default();
        let from_one_source = self
            .claimed_alert(&mut tx, "recovery_requests", &source, from_one_source)
            .await?;
        let account = active.as_ref().map(|i| i.id.clone()).unwrap_or_default();
        let for_one_account = self
            .claimed_alert(&mut tx, "recovery_account", &account, for_one_account)
            .await?;
        for alert in [from_one_source, for_one_account].into_iter().flatten() {
            tx.record(alert).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Recoveries awaiting approval or issue, oldest first.
    pub async fn pending_recoveries(
        &self,
        _viewer: Actor<'_>,
    ) -> Result<Vec<PendingRecovery>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let mut out = Vec::new();
        for r in tx.pending_recoveries(self.now_ms()).await? {
            let name = tx
                .identity_by_id(&r.identity_id)
                .await?
                .map(|i| i.name)
                .unwrap_or_default();
            let ids = tx.recovery_approvers(&r.id).await?;
            let approvers = crate::roles::names_of(&mut tx, ids).await?;
            out.push(PendingRecovery {
                id: r.id,
                name,
                requested_ms: r.requested_ms,
                expires_ms: r.expires_ms,
                approvers,
                ready_ms: r.ready_ms,
            });
        }
        Ok(out)
    }

    /// `admin` (from [`Service::authorize_admin`]) approves recovery `id`,
    /// choosing whether the old credentials are revoked. Nobody approves
    /// their own recovery, and each administrator counts once. The old
    /// credentials are kept only if every approver chose to keep them.
    pub async fn approve_recovery(
        &self,
        admin: &Admin,
        id: &str,
        revoke_old: bool,
    ) -> Result<Approval, ServiceError> {
        self.approve_recovery_from(admin, id, revoke_old, &ClientContext::default())
            .await
    }

    /// [`Service::approve_recovery`] with where the request came from.
    pub async fn approve_recovery_from(
        &self,
        admin: &Admin,
        id: &str,
        revoke_old: bool,
        ctx: &ClientContext,
    ) -> Result<Approval, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin).await?;
        let mut recovery = self.open_recovery(&mut tx, id, now).await?;
        let mut event = self
            .recovery_event(&mut tx, EventKind::RecoveryApprove, admin, &recovery, ctx)
            .await?;
        if recovery.identity_id == admin.id {
            drop(tx);
            return Err(self
                .record_refusal(event, Refusal::SelfApproval, None)
                .await);
        }
        let first = tx.recovery_approvers(id).await?.is_empty();
        match tx.approve_recovery(id, &admin.id, now).await {
            Err(StoreError::Conflict) => {
                drop(tx);
                return Err(self
                    .record_refusal(event, Refusal::AlreadyApproved, None)
                    .await);
            }
            other => other?,
        }
        // Revoke if any approver asked: a later "keep" never overrides an
        // earlier "revoke".
        recovery.revoke_old = if first {
            revoke_old
        } else {
            recovery.revoke_old || revoke_old
        };
        let approvals = self.standing_approvals(&mut tx, &recovery).await?;
        let needed = self.config.recovery.approvals.max(1);
        event.reason = Some(format!(
            "recovery {id}: {approvals} of {needed} approvals{}",
            if revoke_old {
                ", asks to revoke the old credentials"
            } else {
                ", asks to keep the old credentials"
            }
        ));
        // The approval is sealed before the issue it may cause.
        tx.record(event).await?;
        let outcome = if approvals < needed {
            recovery.ready_ms = None;
            Approval::NeedsMore {
                missing: needed - approvals,
            }
        } else {
            let ready_ms = now.saturating_add(self.config.recovery.wait_ms);
            recovery.ready_ms = Some(ready_ms);
            if ready_ms <= now {
                Approval::Issued(
                    self.issue_recovery(&mut tx, &mut recovery, admin, now, ctx)
                        .await?,
                )
            } else {
                Approval::Waiting { ready_ms }
            }
        };
        tx.update_recovery(&recovery).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Approvals that still count: by identities that are active
    /// administrators now, other than the person recovered.
    async fn standing_approvals(
        &self,
        tx: &mut ReadTx,
        recovery: &Recovery,
    ) -> Result<usize, ServiceError> {
        let ids = tx.recovery_approvers(&recovery.id).await?;
        let standing = crate::roles::standing_approvers(tx, ids, &recovery.identity_id).await?;
        Ok(standing.len())
    }

    /// After the waiting period, one of the approvers takes the grant.
    pub async fn issue_recovery_grant(
        &self,
        admin: &Admin,
        id: &str,
    ) -> Result<Token, ServiceError> {
        self.issue_recovery_grant_from(admin, id, &ClientContext::default())
            .await
    }

    /// [`Service::issue_recovery_grant`] with where the request came from.
    /// Approvals are counted again: one whose administrator was offboarded
    /// or lost the role since no longer counts.
    pub async fn issue_recovery_grant_from(
        &self,
        admin: &Admin,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<Token, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin).await?;
        let mut recovery = self.open_recovery(&mut tx, id, now).await?;
        if !tx.recovery_approvers(id).await?.contains(&admin.id) {
            return Err(ServiceError::Forbidden);
        }
        let needed = self.config.recovery.approvals.max(1);
        if self.standing_approvals(&mut tx, &recovery).await? < needed {
            // Back to waiting for approvals, recorded in the same
            // transaction as the change.
            let mut event = self
                .recovery_event(&mut tx, EventKind::RecoveryIssue, admin, &recovery, ctx)
                .await?;
            event.outcome = Some(Outcome::Failure);
            event.reason = Some("approvals_no_longer_stand".into());
            recovery.ready_ms = None;
            tx.update_recovery(&recovery).await?;
            tx.record(event).await?;
            tx.commit().await?;
            return Err(ServiceError::Rejected(Refusal::ApprovalsNoLongerStand));
        }
        match recovery.ready_ms {
            Some(ready) if ready <= now => {}
            _ => return Err(ServiceError::Rejected(Refusal::RecoveryNotReady)),
        }
        let token = self
            .issue_recovery(&mut tx, &mut recovery, admin, now, ctx)
            .await?;
        tx.update_recovery(&recovery).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// `admin` denies recovery `id`.
    pub async fn deny_recovery(&self, admin: &Admin, id: &str) -> Result<(), ServiceError> {
        self.deny_recovery_from(admin, id, &ClientContext::default())
            .await
    }

    /// [`Service::deny_recovery`] with where the request came from.
    pub async fn deny_recovery_from(
        &self,
        admin: &Admin,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin).await?;
        let mut recovery = self.open_recovery(&mut tx, id, now).await?;
        recovery.status = "denied".into();
        tx.update_recovery(&recovery).await?;
        let event = self
            .recovery_event(&mut tx, EventKind::RecoveryDeny, admin, &recovery, ctx)
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A pending, unexpired recovery.
    async fn open_recovery(
        &self,
        tx: &mut ReadTx,
        id: &str,
        now: i64,
    ) -> Result<Recovery, ServiceError> {
        tx.recovery(id)
            .await?
            .filter(|r| r.status == "pending" && r.expires_ms > now)
            .ok_or(ServiceError::NotFound)
    }

    async fn recovery_event(
        &self,
        tx: &mut ReadTx,
        kind: EventKind,
        admin: &Identity,
        recovery: &Recovery,
        ctx: &ClientContext,
    ) -> Result<NewEvent, ServiceError> {
        let mut event = self.event(kind, ctx);
        event.actor = Some(admin.name.clone());
        event.subject = tx
            .identity_by_id(&recovery.identity_id)
            .await?
            .map(|i| i.name);
        event.outcome = Some(Outcome::Alert);
        event.severity = Some(Severity::Warning);
        Ok(event)
    }

    /// Issues the grant (and revokes the old credentials if so chosen), in
    /// the caller's transaction, with an event for each. The grant keeps
    /// the minimum tier the identity's invitation required.
    async fn issue_recovery(
        &self,
        tx: &mut WriteTx,
        recovery: &mut Recovery,
        admin: &Identity,
        now: i64,
        ctx: &ClientContext,
    ) -> Result<Token, ServiceError> {
        let token = self.mint();
        let min_tier = tx.enrolled_min_tier(&recovery.identity_id).await?;
        tx.insert_grant(&Grant {
            token_hash: token.hash.clone(),
            kind: "recovery".into(),
            identity_id: recovery.identity_id.clone(),
            issued_by: admin.name.clone(),
            min_tier,
            created_ms: now,
            expires_ms: now.saturating_add(self.config.recovery.grant_ttl_ms),
            used_ms: None,
        })
        .await?;
        if recovery.revoke_old {
            self.sessions_ending(tx, EndingSessions::Identity(&recovery.identity_id))
                .await?;
            for c in tx.credentials_of(&recovery.identity_id).await? {
                if tx.revoke_credential(&c.id, "replaced by recovery").await? {
                    let mut e = self
                        .recovery_event(
                            tx,
                            EventKind::RecoveryRevokeCredential,
                            admin,
                            recovery,
                            ctx,
                        )
                        .await?;
                    e.outcome = Some(Outcome::Success);
                    e.severity = None;
                    e.credential_id = Some(b64::encode(&c.id));
                    tx.record(e).await?;
                    self.decommission_bound_device(tx, &c.id, &admin.name, ctx)
                        .await?;
                }
            }
            for credential_id in tx.end_sessions_of(&recovery.identity_id, now).await? {
                let mut e = self
                    .recovery_event(tx, EventKind::RecoveryEndSession, admin, recovery, ctx)
                    .await?;
                e.outcome = Some(Outcome::Success);
                e.severity = None;
                e.credential_id = Some(b64::encode(&credential_id));
                tx.record(e).await?;
            }
        }
        recovery.status = "issued".into();
        tx.set_recovery_grant(&recovery.id, &token.hash).await?;
        let mut e = self
            .recovery_event(tx, EventKind::RecoveryIssue, admin, recovery, ctx)
            .await?;
        e.reason = Some(format!(
            "grant {} for 15 minutes, minimum tier {min_tier}{}",
            b64::encode(token.hash.get(..8).unwrap_or_default()),
            if recovery.revoke_old {
                ", old credentials revoked"
            } else {
                ", old credentials kept"
            }
        ));
        e.severity = Some(Severity::High);
        tx.record(e).await?;
        Ok(token)
    }
}
