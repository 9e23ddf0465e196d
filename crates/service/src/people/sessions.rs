//! A person's sessions, for the console: which are live, with which
//! passkey and tier, and ending one (a lost laptop still signed in).

use crate::people::PersonByName;
use keybound_audit::Outcome;
use keybound_store::EndingSessions;
use keybound_webauthn::b64;

use crate::record::Record;
use crate::EventKind;
use crate::{Actor, Admin, ClientContext, Service, ServiceError};

/// A live session as the console shows it. The reference names it in the
/// "end" form: the base64url of its cookie's SHA-256, which cannot be
/// turned back into the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// What an administrator sends to end it.
    pub reference: String,
    /// The passkey it was opened with.
    pub credential_id: Vec<u8>,
    /// Whether the sign-in verified the user.
    pub user_verified: bool,
    /// The tier it reached.
    pub tier: i64,
    /// Start, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: i64,
}

impl Service {
    /// The live sessions of `name`, newest first. Unknown name:
    /// [`ServiceError::NotFound`].
    pub async fn sessions_of(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<Vec<LiveSession>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let sessions = tx.live_sessions_of(&identity.id, self.now_ms()).await?;
        Ok(sessions
            .into_iter()
            .map(|s| LiveSession {
                reference: b64::encode(&s.id_hash),
                credential_id: s.credential_id,
                user_verified: s.user_verified,
                tier: s.tier,
                created_ms: s.created_ms,
                expires_ms: s.expires_ms,
            })
            .collect())
    }

    /// An administrator ends one live session of `name` (its
    /// [`LiveSession::reference`]); one transaction with its `session.end`
    /// event. Not a live session of theirs (ended, expired, someone
    /// else's, garbled): [`ServiceError::NotFound`].
    pub async fn end_session_of(
        &self,
        admin: &Admin,
        name: &str,
        reference: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let hash = b64::decode(reference).map_err(|_| ServiceError::NotFound)?;
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        self.still_admin(&mut tx, admin.identity()).await?;
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let session = tx
            .live_sessions_of(&identity.id, now)
            .await?
            .into_iter()
            .find(|s| s.id_hash == hash)
            .ok_or(ServiceError::NotFound)?;
        self.sessions_ending(&mut tx, EndingSessions::Session(&hash))
            .await?;
        if !tx.end_session_of(&identity.id, &hash, now).await? {
            return Err(ServiceError::NotFound);
        }
        let mut event = self.event(EventKind::SessionEnd, ctx);
        event.actor = Some(admin.name.clone());
        event.subject = Some(identity.name.clone());
        event.credential_id = Some(b64::encode(&session.credential_id));
        event.outcome = Some(Outcome::Success);
        event.reason = Some("ended by an administrator".to_owned());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }
}
