//! Signing keys in custody (issue 15): several per purpose and algorithm,
//! each prepared, then active, then retired, then removed. Every change is
//! a conditional statement under the database-wide writer lock, and two
//! partial unique indexes allow one prepared and one active key per
//! purpose and algorithm, so nodes rotating at once agree on one key.

use crate::conn::{params, Fields};
use crate::queries::inserted;
use crate::{ReadTx, StoreError, WriteTx};

/// A stored signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// The RFC 7638 thumbprint of the public key (the JWS `kid`).
    pub kid: String,
    /// What it signs (`id-tokens`, ...).
    pub purpose: String,
    /// The JWS algorithm (`ES256`, `RS256`).
    pub alg: String,
    /// The private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// The public JWK, JSON.
    pub public_jwk: String,
    /// When it was made (and published), ms.
    pub created_ms: i64,
    /// When it started signing, ms.
    pub activated_ms: Option<i64>,
    /// When it stopped signing, ms.
    pub retired_ms: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("alg", &self.alg)
            .field("created_ms", &self.created_ms)
            .field("activated_ms", &self.activated_ms)
            .field("retired_ms", &self.retired_ms)
            .finish_non_exhaustive()
    }
}

fn key_from_row(r: &dyn Fields) -> Result<SigningKeyRow, StoreError> {
    Ok(SigningKeyRow {
        kid: r.text("kid")?,
        purpose: r.text("purpose")?,
        alg: r.text("alg")?,
        private_key: r.blob("private_key")?,
        public_jwk: r.text("public_jwk")?,
        created_ms: r.int("created_ms")?,
        activated_ms: r.opt_int("activated_ms")?,
        retired_ms: r.opt_int("retired_ms")?,
    })
}

impl ReadTx {
    /// Every stored key of `purpose`, oldest first.
    pub async fn signing_keys(&mut self, purpose: &str) -> Result<Vec<SigningKeyRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM signing_keys WHERE purpose = $1 ORDER BY created_ms, kid",
                params![purpose],
                key_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores a new key. [`StoreError::Conflict`] when its `kid` is stored
    /// already, or when it would be a second prepared (no `activated_ms`)
    /// or second active key of its purpose and algorithm.
    pub async fn insert_signing_key(&mut self, key: &SigningKeyRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO signing_keys (kid, purpose, alg, private_key, public_jwk,
                 created_ms, activated_ms, retired_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                params![
                    &key.kid,
                    &key.purpose,
                    &key.alg,
                    &key.private_key,
                    &key.public_jwk,
                    key.created_ms,
                    key.activated_ms,
                    key.retired_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Retires the active key `kid`: false when it is not active.
    pub async fn retire_signing_key(&mut self, kid: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE signing_keys SET retired_ms = $2
                 WHERE kid = $1 AND activated_ms IS NOT NULL AND retired_ms IS NULL",
                params![kid, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Activates the prepared key `kid`: false when it is not prepared.
    /// Retire the active key of its purpose and algorithm first.
    pub async fn activate_signing_key(
        &mut self,
        kid: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE signing_keys SET activated_ms = $2
                 WHERE kid = $1 AND activated_ms IS NULL",
                params![kid, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Removes the key `kid` if it was retired at or before
    /// `retired_by_ms`: false otherwise.
    pub async fn remove_signing_key(
        &mut self,
        kid: &str,
        retired_by_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "DELETE FROM signing_keys WHERE kid = $1 AND retired_ms <= $2",
                params![kid, retired_by_ms],
            )
            .await?;
        Ok(done == 1)
    }
}

impl ReadTx {
    /// The deployment secret `name`, if one was ever stored (the single
    /// key per purpose that came before rotation, to carry it over).
    pub async fn stored_secret(&mut self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT value FROM secrets WHERE name = $1",
                params![name],
                |r| r.blob("value"),
            )
            .await
    }
}
