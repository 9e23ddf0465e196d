//! Device-bound sessions (issue 16, W3C DBSC): the key a browser bound a
//! signed-in session to, and its refreshes. The session itself stays in
//! `sessions`; a binding is live only while it is not ended *and* its
//! session is live, so every way a session ends (sign-out, revocation,
//! offboarding, decommission, expiry) ends its binding at once.

use super::storable;
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// A stored device-bound session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbscSessionRow {
    /// The `session_identifier` the browser names it by.
    pub id: String,
    /// SHA-256 of the session cookie it binds.
    pub session_hash: Vec<u8>,
    /// Whose session.
    pub identity_id: String,
    /// The session key, a public JWK as JSON.
    pub public_key: String,
    /// Its RFC 7638 thumbprint.
    pub thumbprint: String,
    /// Registration time, ms.
    pub created_ms: i64,
    /// The last refresh that proved the key, ms.
    pub last_refresh_ms: Option<i64>,
    /// How many refreshes proved the key.
    pub refresh_count: i64,
    /// When it ended, ms.
    pub ended_ms: Option<i64>,
}

fn dbsc_from_row(r: &dyn Fields) -> Result<DbscSessionRow, StoreError> {
    Ok(DbscSessionRow {
        id: r.text("id")?,
        session_hash: r.blob("session_hash")?,
        identity_id: r.text("identity_id")?,
        public_key: r.text("public_key")?,
        thumbprint: r.text("thumbprint")?,
        created_ms: r.int("created_ms")?,
        last_refresh_ms: r.opt_int("last_refresh_ms")?,
        refresh_count: r.int("refresh_count")?,
        ended_ms: r.opt_int("ended_ms")?,
    })
}

/// A binding that is not ended and whose session is live.
const LIVE: &str = "SELECT d.* FROM dbsc_sessions d
     JOIN sessions s ON s.id_hash = d.session_hash
     JOIN credentials c ON c.id = s.credential_id
     WHERE d.ended_ms IS NULL AND s.ended_ms IS NULL AND s.expires_ms > $2
       AND c.status = 'active'";

impl ReadTx {
    /// The live binding named `id`.
    pub async fn live_dbsc_session(
        &mut self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<DbscSessionRow>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                &format!("{LIVE} AND d.id = $1"),
                params![id, now_ms],
                dbsc_from_row,
            )
            .await
    }

    /// The binding of the session with this cookie hash, live or ended
    /// (a session bound once stays bound: an ended binding admits nothing).
    pub async fn dbsc_session_of(
        &mut self,
        session_hash: &[u8],
    ) -> Result<Option<DbscSessionRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM dbsc_sessions WHERE session_hash = $1",
                params![session_hash],
                dbsc_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores a binding. [`StoreError::Conflict`] when the id is taken or
    /// the session is already bound.
    pub async fn insert_dbsc_session(&mut self, d: &DbscSessionRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO dbsc_sessions (id, session_hash, identity_id, public_key,
                 thumbprint, created_ms, last_refresh_ms, refresh_count, ended_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
                params![
                    &d.id,
                    &d.session_hash,
                    &d.identity_id,
                    &d.public_key,
                    &d.thumbprint,
                    d.created_ms,
                    d.last_refresh_ms,
                    d.refresh_count,
                    d.ended_ms
                ],
            )
            .await?;
        super::inserted(done)
    }

    /// Counts a refresh that proved the key; false when the binding is
    /// ended.
    pub async fn refresh_dbsc_session(
        &mut self,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE dbsc_sessions SET last_refresh_ms = $2, refresh_count = refresh_count + 1
                 WHERE id = $1 AND ended_ms IS NULL",
                params![id, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Ends a binding; false when it was already ended.
    pub async fn end_dbsc_session(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE dbsc_sessions SET ended_ms = $2 WHERE id = $1 AND ended_ms IS NULL",
                params![id, now_ms],
            )
            .await?;
        Ok(done == 1)
    }
}
