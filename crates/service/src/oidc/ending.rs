//! Sessions ending, told to the relying parties (OpenID Connect
//! Back-Channel Logout 1.0): every use case that ends keybound sessions
//! (sign-out, an administrator's end, RP-initiated logout, a sign-in
//! replacing another person's session, suspension, offboarding, recovery,
//! a credential revoked or quarantined) calls [`Service::sessions_ending`]
//! in its own transaction, before it ends them. Each live client with a
//! `backchannel_logout_uri` that was issued a code or token on one of them
//! gets one logout token per `sid`, queued in that transaction: a change
//! that rolls back sends nothing, one that commits reaches every app.
//!
//! The OIDC tokens of those sessions need nothing more: a token is live
//! only while its session is live, its credential active and its person
//! active (`introspect.rs`), so they stop at the change itself.

use keybound_store::{EndingSessions, WriteTx};

use crate::oidc::claims::subject_with;
use crate::{Service, ServiceError};

impl Service {
    /// Queues a logout token for every (client, `sid`) of the live sessions
    /// in `which` (see the module docs), in `tx`; how many logout tokens
    /// were queued. Call it before the
    /// sessions end: it only finds live ones.
    pub(crate) async fn sessions_ending(
        &self,
        tx: &mut WriteTx,
        which: EndingSessions<'_>,
    ) -> Result<usize, ServiceError> {
        let now = self.now_ms();
        let ending = tx.oidc_sessions_ending(which, now).await?;
        if ending.is_empty() {
            return Ok(0);
        }
        let Some(secret) = self.oidc_secret_in(tx).await? else {
            return Err(ServiceError::Internal(
                "a sid was issued without the OIDC secret".into(),
            ));
        };
        for end in &ending {
            let Some(uri) = end.client.backchannel_logout_uri.as_deref() else {
                continue;
            };
            let sub = subject_with(&secret, &end.client, &end.identity_id);
            self.queue_backchannel_logout(
                tx,
                &end.client.client_id,
                uri,
                Some(&sub),
                Some(&end.sid),
            )
            .await?;
        }
        Ok(ending.len())
    }
}
