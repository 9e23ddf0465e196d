//! Which relying parties must hear that keybound sessions are ending
//! (OpenID Connect Back-Channel Logout 1.0): every live client with a
//! `backchannel_logout_uri` that was issued a code or a token on one of
//! those sessions, once per (client, `sid`). Asked in the transaction that
//! ends the sessions and before it does, so only sessions still live are
//! found: a session that ended earlier was announced when it ended.

use crate::conn::params;
use crate::queries::oidc::client_from_row;
use crate::queries::storable;
use crate::{OidcClient, ReadTx, StoreError};

/// The sessions about to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndingSessions<'a> {
    /// One session, by its cookie hash (sign-out, an administrator's end,
    /// RP-initiated logout).
    Session(&'a [u8]),
    /// Every session of an identity (offboarding, suspension, recovery).
    Identity(&'a str),
    /// Every session opened with a credential (revocation, quarantine).
    Credential(&'a [u8]),
}

/// One client to tell about one ending session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSessionEnding {
    /// The client (live, with a `backchannel_logout_uri`); its `sub` for
    /// the person may be pairwise, so the whole row.
    pub client: OidcClient,
    /// The `sid` this client was given for the session.
    pub sid: String,
    /// Whose session it is.
    pub identity_id: String,
    /// The session's cookie hash.
    pub session_hash: Vec<u8>,
}

impl ReadTx {
    /// The clients to send a logout token to for the live sessions in
    /// `which`, by `client_id` then `sid`, each (client, `sid`) once.
    pub async fn oidc_sessions_ending(
        &mut self,
        which: EndingSessions<'_>,
        now_ms: i64,
    ) -> Result<Vec<OidcSessionEnding>, StoreError> {
        if let EndingSessions::Identity(id) = which {
            if !storable(id) {
                return Ok(Vec::new());
            }
        }
        let filter = match which {
            EndingSessions::Session(_) => "s.id_hash = $1",
            EndingSessions::Identity(_) => "s.identity_id = $1",
            EndingSessions::Credential(_) => "s.credential_id = $1",
        };
        let sql = format!(
            "SELECT c.*, x.sid AS ending_sid, x.identity_id AS ending_identity,
                    x.session_hash AS ending_session
             FROM (SELECT client_id, sid, identity_id, session_hash FROM oidc_codes
                   UNION
                   SELECT client_id, sid, identity_id, session_hash FROM oidc_tokens) x
             JOIN sessions s ON s.id_hash = x.session_hash
             JOIN credentials k ON k.id = s.credential_id
             JOIN oidc_clients c ON c.client_id = x.client_id
             WHERE {filter} AND s.ended_ms IS NULL AND s.expires_ms > $2
               AND k.status = 'active'
               AND c.removed_ms IS NULL AND c.backchannel_logout_uri IS NOT NULL
             ORDER BY c.client_id, x.sid"
        );
        let db = self.db()?;
        let rows = |r: &dyn crate::conn::Fields| {
            Ok(OidcSessionEnding {
                client: client_from_row(r)?,
                sid: r.text("ending_sid")?,
                identity_id: r.text("ending_identity")?,
                session_hash: r.blob("ending_session")?,
            })
        };
        let mut found = match which {
            EndingSessions::Session(hash) | EndingSessions::Credential(hash) => {
                db.query_all(&sql, params![hash, now_ms], rows).await?
            }
            EndingSessions::Identity(id) => db.query_all(&sql, params![id, now_ms], rows).await?,
        };
        // The same (client, sid) from the codes and the tokens of one
        // session is one row already (UNION); a sid is per session, so
        // this only guards against a row told twice.
        found.dedup_by(|a, b| a.client.client_id == b.client.client_id && a.sid == b.sid);
        Ok(found)
    }
}
