//! The OpenID Connect provider's rows: registered clients, the state an
//! authorization code is bound to, and the tokens issued. Codes are taken
//! once through the `single_use` table (kind `oidc_code`); this table only
//! holds what the code stands for, found by the same hash. Tokens are kept
//! by hash so a replayed code can revoke what it issued, a reused refresh
//! token its whole family, and revocation and introspection find them.

use crate::conn::{params, Fields};
use crate::queries::{inserted, storable};
use crate::{ReadTx, StoreError, WriteTx};

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    /// Random, public `client_id`.
    pub client_id: String,
    /// The operator's name for it (unique among live clients).
    pub name: String,
    /// SHA-256 of the secret (confidential clients); `None` for public ones.
    pub secret_hash: Option<Vec<u8>>,
    /// A public client (no secret; PKCE alone binds its codes).
    pub public: bool,
    /// The exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`.
    pub auth_method: String,
    /// Its public keys (a JWK Set, JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where back-channel logout tokens go.
    pub backchannel_logout_uri: Option<String>,
    /// Where RP-initiated logout may return.
    pub post_logout_redirect_uris: Vec<String>,
    /// `sub` is pairwise for this client.
    pub pairwise: bool,
    /// `ES256` or `RS256`.
    pub id_token_alg: String,
    /// Registration time, ms.
    pub created_ms: i64,
    /// Removal time, ms; `None` while registered.
    pub removed_ms: Option<i64>,
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcCode {
    /// SHA-256 of the code (also its `single_use` row).
    pub code_hash: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The client's nonce, for the ID token.
    pub nonce: Option<String>,
    /// Granted scope, space separated.
    pub scope: String,
    /// SHA-256 of the session cookie the person was signed in with.
    pub session_hash: Vec<u8>,
    /// The session's id as this client sees it (`sid`).
    pub sid: String,
    /// Who.
    pub identity_id: String,
    /// When the session's proof was made, ms.
    pub auth_time_ms: i64,
    /// The `acr` the session earned.
    pub acr: String,
    /// The `amr` values, space separated.
    pub amr: String,
    /// Issue time, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: i64,
}

/// An issued access or refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcToken {
    /// SHA-256 of the access token's `jti` or of the refresh token.
    pub token_hash: Vec<u8>,
    /// `access` or `refresh`.
    pub kind: String,
    /// Every token descended from one code shares it.
    pub family_id: String,
    /// The code the family came from.
    pub code_hash: Option<Vec<u8>>,
    /// The keybound session behind it.
    pub session_hash: Vec<u8>,
    /// The session's id as the client sees it.
    pub sid: String,
    /// Who.
    pub identity_id: String,
    /// For which client.
    pub client_id: String,
    /// Granted scope.
    pub scope: String,
    /// Issue time, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: i64,
    /// When a refresh token was exchanged (rotated away).
    pub used_ms: Option<i64>,
    /// When it was revoked.
    pub revoked_ms: Option<i64>,
}

fn uris(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt("oidc uris".into()))
}

fn uris_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

pub(super) fn client_from_row(r: &dyn Fields) -> Result<OidcClient, StoreError> {
    Ok(OidcClient {
        client_id: r.text("client_id")?,
        name: r.text("name")?,
        secret_hash: blob_opt(r, "secret_hash")?,
        public: r.flag("is_public")?,
        redirect_uris: uris(&r.text("redirect_uris")?)?,
        auth_method: r.text("auth_method")?,
        jwks: r.opt_text("jwks")?,
        backchannel_logout_uri: r.opt_text("backchannel_logout_uri")?,
        post_logout_redirect_uris: uris(&r.text("post_logout_redirect_uris")?)?,
        pairwise: r.flag("pairwise")?,
        id_token_alg: r.text("id_token_alg")?,
        created_ms: r.int("created_ms")?,
        removed_ms: r.opt_int("removed_ms")?,
    })
}

/// An optional blob, stored empty when absent (a hash is never empty).
fn blob_opt(r: &dyn Fields, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let bytes = r.blob(column)?;
    Ok((!bytes.is_empty()).then_some(bytes))
}

fn code_from_row(r: &dyn Fields) -> Result<OidcCode, StoreError> {
    Ok(OidcCode {
        code_hash: r.blob("code_hash")?,
        client_id: r.text("client_id")?,
        redirect_uri: r.text("redirect_uri")?,
        code_challenge: r.text("code_challenge")?,
        nonce: r.opt_text("nonce")?,
        scope: r.text("scope")?,
        session_hash: r.blob("session_hash")?,
        sid: r.text("sid")?,
        identity_id: r.text("identity_id")?,
        auth_time_ms: r.int("auth_time_ms")?,
        acr: r.text("acr")?,
        amr: r.text("amr")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
    })
}

fn token_from_row(r: &dyn Fields) -> Result<OidcToken, StoreError> {
    Ok(OidcToken {
        token_hash: r.blob("token_hash")?,
        kind: r.text("kind")?,
        family_id: r.text("family_id")?,
        code_hash: blob_opt(r, "code_hash")?,
        session_hash: r.blob("session_hash")?,
        sid: r.text("sid")?,
        identity_id: r.text("identity_id")?,
        client_id: r.text("client_id")?,
        scope: r.text("scope")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
        used_ms: r.opt_int("used_ms")?,
        revoked_ms: r.opt_int("revoked_ms")?,
    })
}

impl ReadTx {
    /// The registered (not removed) client with this `client_id`.
    pub async fn oidc_client(&mut self, client_id: &str) -> Result<Option<OidcClient>, StoreError> {
        if !storable(client_id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM oidc_clients WHERE client_id = $1 AND removed_ms IS NULL",
                params![client_id],
                client_from_row,
            )
            .await
    }

    /// The registered client called `name`.
    pub async fn oidc_client_by_name(
        &mut self,
        name: &str,
    ) -> Result<Option<OidcClient>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM oidc_clients WHERE name = $1 AND removed_ms IS NULL",
                params![name],
                client_from_row,
            )
            .await
    }

    /// Every registered client, by name.
    pub async fn oidc_clients(&mut self) -> Result<Vec<OidcClient>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM oidc_clients WHERE removed_ms IS NULL ORDER BY name",
                params![],
                client_from_row,
            )
            .await
    }

    /// The state behind a code's hash (used or not: a replay needs it too).
    pub async fn oidc_code(&mut self, code_hash: &[u8]) -> Result<Option<OidcCode>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM oidc_codes WHERE code_hash = $1",
                params![code_hash],
                code_from_row,
            )
            .await
    }

    /// The session (its cookie hash) behind the `sid` a client was given,
    /// found through the codes issued on it.
    pub async fn oidc_session_of_sid(
        &mut self,
        client_id: &str,
        sid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if !storable(client_id) || !storable(sid) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT session_hash FROM oidc_codes WHERE client_id = $1 AND sid = $2 LIMIT 1",
                params![client_id, sid],
                |r| r.blob("session_hash"),
            )
            .await
    }

    /// An issued token by hash, whatever its state.
    pub async fn oidc_token(&mut self, token_hash: &[u8]) -> Result<Option<OidcToken>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM oidc_tokens WHERE token_hash = $1",
                params![token_hash],
                token_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Registers a client. [`StoreError::Conflict`] when the name (among
    /// live clients) or the `client_id` is taken.
    pub async fn insert_oidc_client(&mut self, c: &OidcClient) -> Result<(), StoreError> {
        let empty: &[u8] = &[];
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO oidc_clients (client_id, name, secret_hash, is_public, redirect_uris,
                 auth_method, jwks, backchannel_logout_uri, post_logout_redirect_uris, pairwise,
                 id_token_alg, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT DO NOTHING",
                params![
                    &c.client_id,
                    &c.name,
                    c.secret_hash.as_deref().unwrap_or(empty),
                    c.public,
                    uris_json(&c.redirect_uris),
                    &c.auth_method,
                    &c.jwks,
                    &c.backchannel_logout_uri,
                    uris_json(&c.post_logout_redirect_uris),
                    c.pairwise,
                    &c.id_token_alg,
                    c.created_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Removes the live client called `name`; the removed client, if one
    /// was.
    pub async fn remove_oidc_client(
        &mut self,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<OidcClient>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.write()
            .await?
            .query_opt(
                "UPDATE oidc_clients SET removed_ms = $1 WHERE name = $2 AND removed_ms IS NULL
                 RETURNING *",
                params![now_ms, name],
                client_from_row,
            )
            .await
    }

    /// Stores what a code stands for (its `single_use` row is the caller's).
    pub async fn insert_oidc_code(&mut self, c: &OidcCode) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, code_challenge, nonce,
                 scope, session_hash, sid, identity_id, auth_time_ms, acr, amr, created_ms,
                 expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT DO NOTHING",
                params![
                    &c.code_hash,
                    &c.client_id,
                    &c.redirect_uri,
                    &c.code_challenge,
                    &c.nonce,
                    &c.scope,
                    &c.session_hash,
                    &c.sid,
                    &c.identity_id,
                    c.auth_time_ms,
                    &c.acr,
                    &c.amr,
                    c.created_ms,
                    c.expires_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Records an issued token.
    pub async fn insert_oidc_token(&mut self, t: &OidcToken) -> Result<(), StoreError> {
        let empty: &[u8] = &[];
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO oidc_tokens (token_hash, kind, family_id, code_hash, session_hash, sid,
                 identity_id, client_id, scope, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT DO NOTHING",
                params![
                    &t.token_hash,
                    &t.kind,
                    &t.family_id,
                    t.code_hash.as_deref().unwrap_or(empty),
                    &t.session_hash,
                    &t.sid,
                    &t.identity_id,
                    &t.client_id,
                    &t.scope,
                    t.created_ms,
                    t.expires_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Exchanges a refresh token: true once, while it is unused,
    /// unrevoked and unexpired.
    pub async fn use_oidc_refresh(
        &mut self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE oidc_tokens SET used_ms = $2
                 WHERE token_hash = $1 AND kind = 'refresh' AND used_ms IS NULL
                   AND revoked_ms IS NULL AND expires_ms > $2",
                params![token_hash, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Revokes one token of `client_id`; false when there was no such
    /// unrevoked token of that client.
    pub async fn revoke_oidc_token(
        &mut self,
        token_hash: &[u8],
        client_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE oidc_tokens SET revoked_ms = $3
                 WHERE token_hash = $1 AND client_id = $2 AND revoked_ms IS NULL",
                params![token_hash, client_id, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Revokes every token of a family (a reused refresh token, a revoked
    /// refresh token's descendants); how many were live.
    pub async fn revoke_oidc_family(
        &mut self,
        family_id: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE oidc_tokens SET revoked_ms = $2
                 WHERE family_id = $1 AND revoked_ms IS NULL",
                params![family_id, now_ms],
            )
            .await
    }

    /// Revokes every token issued from the code with this hash (a replayed
    /// code); how many were live.
    pub async fn revoke_oidc_tokens_of_code(
        &mut self,
        code_hash: &[u8],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE oidc_tokens SET revoked_ms = $2
                 WHERE code_hash = $1 AND revoked_ms IS NULL",
                params![code_hash, now_ms],
            )
            .await
    }

    /// Removes tokens past their expiry (a used or revoked one included:
    /// once expired, a replay of it is refused as unknown anyway) and the
    /// state of codes that expired more than `keep_codes_ms` ago (kept that
    /// long so a late replay can still revoke what its code issued, and
    /// logout can still find a session by its `sid`). How many rows went.
    pub async fn purge_oidc(&mut self, now_ms: i64, keep_codes_ms: i64) -> Result<u64, StoreError> {
        let tokens = self
            .write()
            .await?
            .execute(
                "DELETE FROM oidc_tokens WHERE expires_ms <= $1",
                params![now_ms],
            )
            .await?;
        let codes = self
            .write()
            .await?
            .execute(
                "DELETE FROM oidc_codes WHERE expires_ms <= $1",
                params![now_ms.saturating_sub(keep_codes_ms)],
            )
            .await?;
        Ok(tokens + codes)
    }

    /// Revokes every token issued on a keybound session (RP-initiated
    /// logout); how many were live.
    pub async fn revoke_oidc_tokens_of_session(
        &mut self,
        session_hash: &[u8],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE oidc_tokens SET revoked_ms = $2
                 WHERE session_hash = $1 AND revoked_ms IS NULL",
                params![session_hash, now_ms],
            )
            .await
    }
}
