//! Self-service for a signed-in person: what they may see and change about
//! their own credentials, and what an invitation link says to its holder.
//! Every change is checked against the session's owner and commits with its
//! audit event.

use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::Outcome;
use keybound_store::{
    Credential, CredentialStatus, EndingSessions, Identity, IdentityStatus, ReadTx, Session,
};
use keybound_webauthn::b64;

use crate::policy;
use crate::tokens::hash_token;
use crate::{ClientContext, Service, ServiceError};

/// A signed-in person's view of their account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Who is signed in.
    pub identity: Identity,
    /// Their active credentials, oldest first.
    pub credentials: Vec<Credential>,
    /// The credential this session signed in with.
    pub session_credential: Vec<u8>,
    /// The tier this session reached.
    pub session_tier: i64,
    /// Fewer active credentials than the policy's minimum: no backup if
    /// this one is lost. Access policy may require it to be false.
    pub lacks_backup: bool,
    /// Someone asked to recover this account and it is still open: the
    /// person, signed in, can object ([`Service::object_to_recovery`]).
    pub pending_recovery: Option<OpenRecovery>,
    /// An administrator holding no active credential that reaches the
    /// console's tier: they need to add one (and have it vouched for)
    /// before the console opens.
    pub admin_lacks_tier: bool,
}

/// A recovery of the signed-in person's own account, still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecovery {
    /// Its id.
    pub id: String,
    /// When it was asked for, ms.
    pub requested_ms: i64,
    /// Approvals so far.
    pub approvals: usize,
}

/// What happened when a person revoked one of their credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    /// The revoked credential opened the session that asked, which has
    /// therefore ended too.
    pub ended_own_session: bool,
}

/// What an invitation link is, told to whoever holds it (the token is 256
/// random bits, so holding it is the only way to ask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationState {
    /// Usable: enrol `name` before `expires_ms`.
    Open {
        /// The invited identity.
        name: String,
        /// When the invitation lapses, ms since the epoch.
        expires_ms: i64,
    },
    /// Already used to enrol a credential.
    Used,
    /// Past its expiry.
    Expired,
    /// No such invitation (mistyped, or voided).
    Unknown,
}

/// Nicknames are what people type to tell their passkeys apart.
const MAX_NICKNAME_CHARS: usize = 64;

fn clean_nickname(raw: &str) -> Result<Option<String>, ServiceError> {
    let nickname = raw.trim();
    if nickname.chars().count() > MAX_NICKNAME_CHARS || nickname.chars().any(char::is_control) {
        return Err(ServiceError::Rejected(Refusal::InvalidNickname));
    }
    Ok((!nickname.is_empty()).then(|| nickname.to_owned()))
}

impl Service {
    /// The account behind a session cookie; [`ServiceError::Forbidden`]
    /// when the session is not live.
    pub async fn account(&self, session_token: &str) -> Result<Account, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let (session, identity) = self.signed_in(&mut tx, session_token).await?;
        let credentials = active_credentials(&mut tx, &identity.id).await?;
        let mut pending_recovery = tx
            .issued_recovery_of(&identity.id, self.now_ms())
            .await?
            .map(|r| OpenRecovery {
                id: r.id,
                requested_ms: r.requested_ms,
                approvals: self.config.recovery.approvals,
            });
        if let Some(r) = tx.pending_recovery_of(&identity.id, self.now_ms()).await? {
            pending_recovery = Some(OpenRecovery {
                approvals: tx.recovery_approvers(&r.id).await?.len(),
                id: r.id,
                requested_ms: r.requested_ms,
            });
        }
        Ok(Account {
            admin_lacks_tier: identity.is_admin
                && !policy::reaches_console(credentials.iter().map(|c| c.tier)),
            pending_recovery,
            lacks_backup: policy::lacks_backup(&self.config.policy, credentials.len()),
            identity,
            credentials,
            session_credential: session.credential_id,
            session_tier: session.tier,
        })
    }

    /// Gives one of the session owner's credentials a nickname (blank
    /// clears it).
    pub async fn rename_credential(
        &self,
        session_token: &str,
        credential_id: &str,
        nickname: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let nickname = clean_nickname(nickname)?;
        let mut tx = self.kernel.store.begin().await?;
        let (_, identity) = self.signed_in(&mut tx, session_token).await?;
        let credential = owned_credential(&mut tx, &identity, credential_id).await?;
        tx.set_nickname(&credential.id, nickname.as_deref()).await?;
        let mut event = self.event(EventKind::CredentialRename, ctx);
        event.actor = Some(identity.name.clone());
        event.subject = Some(identity.name);
        event.credential_id = Some(b64::encode(&credential.id));
        event.outcome = Some(Outcome::Success);
        event.reason = Some(match (&credential.nickname, &nickname) {
            (_, None) => "nickname cleared".to_owned(),
            (None, Some(new)) => format!("nickname set to {new:?}"),
            (Some(old), Some(new)) => format!("nickname {old:?} changed to {new:?}"),
        });
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes one of the session owner's credentials; every session it
    /// opened ends with it. Revoking one that leaves fewer than the policy's
    /// `min_credentials` (the last one above all) needs `confirmed`
    /// ([`ServiceError::ConfirmationRequired`]) and a session signed in within
    /// the step-up window ([`ServiceError::StepUpRequired`]): a stolen,
    /// stale session must not be able to strip someone's backup.
    pub async fn revoke_own_credential(
        &self,
        session_token: &str,
        credential_id: &str,
        confirmed: bool,
        ctx: &ClientContext,
    ) -> Result<Revoked, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let (session, identity) = self.signed_in(&mut tx, session_token).await?;
        let credential = owned_credential(&mut tx, &identity, credential_id).await?;
        let active = active_credentials(&mut tx, &identity.id).await?;
        if policy::revoke_needs_care(&self.config.policy, active.len()) {
            if !policy::fresh(
                session.created_ms,
                self.now_ms(),
                self.config.step_up_window_ms,
            ) {
                return Err(ServiceError::StepUpRequired);
            }
            if !confirmed {
                return Err(ServiceError::ConfirmationRequired);
            }
        }
        self.sessions_ending(&mut tx, EndingSessions::Credential(&credential.id))
            .await?;
        if !tx
            .revoke_credential(&credential.id, "revoked by owner")
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        let mut event = self.event(EventKind::CredentialRevoke, ctx);
        event.actor = Some(identity.name.clone());
        event.subject = Some(identity.name.clone());
        event.credential_id = Some(b64::encode(&credential.id));
        event.aaguid = Some(credential.aaguid);
        event.outcome = Some(Outcome::Success);
        event.reason = Some("revoked by owner".to_owned());
        tx.record(event).await?;
        self.decommission_bound_device(&mut tx, &credential.id, &identity.name, ctx)
            .await?;
        tx.commit().await?;
        Ok(Revoked {
            ended_own_session: session.credential_id == credential.id,
        })
    }

    /// The signed-in person objects to recovery `id` of their own account:
    /// someone who is not them may be trying to take it over. The recovery
    /// is cancelled and an alert raised, in one transaction.
    pub async fn object_to_recovery(
        &self,
        session_token: &str,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let (_, identity) = self.signed_in(&mut tx, session_token).await?;
        // Open means pending, or issued with its grant still unused: the
        // grant is voided with it.
        let issued = tx
            .issued_recovery_of(&identity.id, now)
            .await?
            .filter(|r| r.id == id);
        let mut recovery = tx
            .recovery(id)
            .await?
            .filter(|r| {
                r.identity_id == identity.id
                    && ((r.status == "pending" && r.expires_ms > now) || issued.is_some())
            })
            .ok_or(ServiceError::NotFound)?;
        if let Some(issued) = &issued {
            tx.void_grant(&issued.grant_hash, now).await?;
        }
        recovery.status = "cancelled".into();
        tx.update_recovery(&recovery).await?;
        let mut event = self.event(EventKind::RecoveryObjection, ctx);
        event.actor = Some(identity.name.clone());
        event.subject = Some(identity.name);
        event.outcome = Some(Outcome::Alert);
        event.severity = Some(keybound_audit::Severity::High);
        event.reason = Some(format!(
            "recovery {id} cancelled: the account holder, signed in, objected"
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the invitation `token` is, for the enrolment page.
    pub async fn invitation(&self, token: &str) -> Result<InvitationState, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let Some(grant) = tx.grant(&hash_token(token)).await? else {
            return Ok(InvitationState::Unknown);
        };
        if grant.kind != "invitation" && grant.kind != "recovery" {
            return Ok(InvitationState::Unknown);
        }
        if grant.used_ms.is_some() {
            return Ok(InvitationState::Used);
        }
        if grant.expires_ms <= now {
            return Ok(InvitationState::Expired);
        }
        let identity = tx.identity_by_id(&grant.identity_id).await?;
        Ok(match identity {
            Some(i) if !matches!(i.status, IdentityStatus::Offboarded) => InvitationState::Open {
                name: i.name,
                expires_ms: grant.expires_ms,
            },
            _ => InvitationState::Unknown,
        })
    }

    /// The live session behind `token` and its owner.
    pub(crate) async fn signed_in(
        &self,
        tx: &mut ReadTx,
        token: &str,
    ) -> Result<(Session, Identity), ServiceError> {
        let session = tx
            .live_session(&hash_token(token), self.now_ms())
            .await?
            .ok_or(ServiceError::Forbidden)?;
        let identity = tx
            .identity_by_id(&session.identity_id)
            .await?
            .filter(|i| i.status == IdentityStatus::Active)
            .ok_or(ServiceError::Forbidden)?;
        // The request's span (its access log line) names who asked.
        tracing::Span::current().record("identity", identity.name.as_str());
        Ok((session, identity))
    }
}

async fn active_credentials(
    tx: &mut ReadTx,
    identity_id: &str,
) -> Result<Vec<Credential>, ServiceError> {
    let mut credentials = tx.credentials_of(identity_id).await?;
    credentials.retain(|c| c.status == CredentialStatus::Active);
    Ok(credentials)
}

/// One of `identity`'s active credentials; anyone else's is
/// [`ServiceError::NotFound`], exactly as a credential that does not exist.
async fn owned_credential(
    tx: &mut ReadTx,
    identity: &Identity,
    credential_id: &str,
) -> Result<Credential, ServiceError> {
    let id = b64::decode_lenient(credential_id).map_err(|_| ServiceError::NotFound)?;
    tx.credential(&id)
        .await?
        .filter(|c| c.identity_id == identity.id && c.status == CredentialStatus::Active)
        .ok_or(ServiceError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_trimmed_bounded_and_printable() {
        assert_eq!(
            clean_nickname("  laptop ").unwrap().as_deref(),
            Some("laptop")
        );
        assert_eq!(clean_nickname("   ").unwrap(), None);
        assert!(clean_nickname(&"x".repeat(MAX_NICKNAME_CHARS)).is_ok());
        assert!(clean_nickname(&"x".repeat(MAX_NICKNAME_CHARS + 1)).is_err());
        assert!(clean_nickname("a\u{7}b").is_err());
        assert_eq!(
            clean_nickname(&"é".repeat(MAX_NICKNAME_CHARS))
                .unwrap()
                .map(|n| n.chars().count()),
            Some(MAX_NICKNAME_CHARS),
            "characters, not bytes"
        );
    }
}
