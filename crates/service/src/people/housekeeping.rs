//! Housekeeping the application schedules: nothing here runs on its own.
//! The `keybound` binary's jobs runner calls it on an interval, so no
//! ceremony pays for it and a quiet node still clears its tables.

use crate::{Service, ServiceError};

impl Service {
    /// Removes challenges that expired unanswered and sessions that ended,
    /// so those tables hold only what is live; returns the rows removed.
    /// Housekeeping, not a change anyone made: no audit event. Safe to run
    /// on every node at once (each deletes what has expired by its clock).
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails; nothing is
    /// removed then, and the next run tries again.
    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let purged = tx.purge_expired(now).await?;
        tx.commit().await?;
        Ok(purged)
    }
}
