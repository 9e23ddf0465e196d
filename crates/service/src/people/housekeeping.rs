//! Housekeeping the application schedules: nothing here runs on its own.
//! The `keybound` binary's jobs runner calls it on an interval, so no
//! ceremony pays for it and a quiet node still clears its tables.

use crate::{Service, ServiceError};

impl Service {
    /// Removes challenges that expired unanswered, sessions that ended and
    /// expired OIDC tokens and code state, so those tables hold only what
    /// is live; returns the rows removed.
    /// Housekeeping, not a change anyone made: no audit event. Safe to run
    /// on every node at once (each deletes what has expired by its clock).
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails; nothing is
    /// removed then, and the next run tries again.
    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let mut purged = tx.purge_expired(now).await?;
        // OIDC code state outlives the code as long as a refresh token
        // from it may (a late replay still revokes what it issued), and as
        // long as its session may: RP-initiated and back-channel logout
        // find the session of a `sid` through it.
        let keep_codes_ms = self
            .config
            .oidc
            .refresh_token_ttl_s
            .saturating_mul(1000)
            .max(self.config.session_ttl_ms);
        purged += tx.purge_oidc(now, keep_codes_ms).await?;
        // Workloads: spent or expired join tokens' terms, and SVIDs past
        // their notAfter (no CRL lists them, no retirement waits for them).
        purged += tx.purge_workload_join_tokens(now).await?;
        purged += tx.purge_workload_svids(now).await?;
        // Shared limits (issue 19): usage rows once no node charges them
        // (two windows), observations and alert claims once they have left
        // every detector's window.
        purged += tx
            .purge_shared_limits(
                crate::people::sharing::window_of(now)
                    .saturating_sub(2 * crate::people::sharing::USAGE_WINDOW_MS),
                now.saturating_sub(self.config.alerts.window_ms.saturating_mul(2)),
            )
            .await?;
        tx.commit().await?;
        Ok(purged)
    }
}
