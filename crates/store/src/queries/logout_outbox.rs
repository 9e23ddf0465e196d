//! The back-channel logout outbox (issue 15): logout tokens waiting to be
//! POSTed to a client's `backchannel_logout_uri`. A delivery is queued in
//! the transaction that ends the session, and a sender claims due ones
//! (a conditional `UPDATE`, so two nodes never send one at once), then
//! removes each on success or reschedules it with its error.

use crate::conn::{params, Fields};
use crate::queries::inserted;
use crate::{ReadTx, StoreError, WriteTx};

/// A queued back-channel logout.
#[derive(Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// Random id.
    pub id: String,
    /// The client it goes to.
    pub client_id: String,
    /// The client's `backchannel_logout_uri`.
    pub url: String,
    /// The form body: `logout_token=...`.
    pub body: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When to try next, ms.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued, ms.
    pub created_ms: i64,
}

impl std::fmt::Debug for LogoutDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the body: it holds a signed token.
        f.debug_struct("LogoutDelivery")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("url", &self.url)
            .field("attempts", &self.attempts)
            .field("next_attempt_ms", &self.next_attempt_ms)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

fn delivery_from_row(r: &dyn Fields) -> Result<LogoutDelivery, StoreError> {
    Ok(LogoutDelivery {
        id: r.text("id")?,
        client_id: r.text("client_id")?,
        url: r.text("url")?,
        body: r.text("body")?,
        attempts: r.int("attempts")?,
        next_attempt_ms: r.int("next_attempt_ms")?,
        last_error: r.opt_text("last_error")?,
        created_ms: r.int("created_ms")?,
    })
}

impl ReadTx {
    /// Up to `limit` deliveries due at `now_ms`, the longest-waiting first.
    pub async fn due_logout_deliveries(
        &mut self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<LogoutDelivery>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM logout_outbox WHERE next_attempt_ms <= $1
                 ORDER BY next_attempt_ms, id LIMIT $2",
                params![now_ms, limit],
                delivery_from_row,
            )
            .await
    }

    /// Every queued delivery (tests and the console).
    pub async fn logout_deliveries(&mut self) -> Result<Vec<LogoutDelivery>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM logout_outbox ORDER BY created_ms, id",
                params![],
                delivery_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Queues a delivery.
    pub async fn insert_logout_delivery(&mut self, d: &LogoutDelivery) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO logout_outbox (id, client_id, url, body, attempts, next_attempt_ms,
                 last_error, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                params![
                    &d.id,
                    &d.client_id,
                    &d.url,
                    &d.body,
                    d.attempts,
                    d.next_attempt_ms,
                    &d.last_error,
                    d.created_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Claims the due delivery `id` until `lease_until_ms` and counts the
    /// attempt: true for exactly one caller on any node.
    pub async fn claim_logout_delivery(
        &mut self,
        id: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE logout_outbox SET next_attempt_ms = $3, attempts = attempts + 1
                 WHERE id = $1 AND next_attempt_ms <= $2",
                params![id, now_ms, lease_until_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Records a failed attempt and when to try again.
    pub async fn reschedule_logout_delivery(
        &mut self,
        id: &str,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE logout_outbox SET next_attempt_ms = $2, last_error = $3 WHERE id = $1",
                params![id, next_attempt_ms, error],
            )
            .await?;
        Ok(done == 1)
    }

    /// Removes a delivery (sent, or given up on).
    pub async fn remove_logout_delivery(&mut self, id: &str) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute("DELETE FROM logout_outbox WHERE id = $1", params![id])
            .await?;
        Ok(done == 1)
    }
}
