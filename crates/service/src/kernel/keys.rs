//! Key custody: the signing keys keybound itself holds, per purpose (ID
//! tokens for the OIDC provider, the workload CA, agents' task tokens) and
//! algorithm (ES256 by default, RS256 for legacy OIDC clients), rotated on
//! a schedule (`rotation`): a successor is published in the JWKS before it
//! signs, and a retired key stays published until every token it signed
//! has expired. Each key is named by its RFC 7638 thumbprint (the `kid`).
//!
//! Nodes agree through the store: every change is one conditional
//! statement under the writer lock, with its audit event in the same
//! transaction, and partial unique indexes allow one prepared and one
//! active key per purpose and algorithm. Each node caches the active key
//! for [`CACHE_TTL_MS`], so after another node rotates it may sign with
//! the retired key that long; removal waits for that too.
//!
//! The private key is stored as PKCS#8 in the database, like the other
//! deployment secrets: whoever can read the database can sign. An HSM or
//! KMS would slot in here, behind the same API. A deployment that had the
//! single key per purpose of before (`signing-key/<purpose>/p256` secret)
//! keeps it: it becomes the first active ES256 key.

mod rotation;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use keybound_audit::NewEvent;
use keybound_jose::{Algorithm, Jwk};
use keybound_store::{SigningKeyRow, StoreError, WriteTx};
use serde_json::{Map, Value};

pub use rotation::KeyRotation;
use rotation::{next_step, Step};

use crate::record::Record;
use crate::{ClientContext, EventKind, ServiceError};

/// How long a node signs with the active key it loaded before it looks
/// for a newer one, ms.
pub(crate) const CACHE_TTL_MS: i64 = 60_000;

/// What a key signs. Each purpose has its own keys, so a token of one kind
/// can never be passed off as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// OpenID Connect ID tokens, access tokens and logout tokens.
    IdTokens,
    /// The workload CA's certificates (X.509-SVIDs) and JWT-SVIDs.
    WorkloadCa,
    /// Agents' task credentials.
    TaskTokens,
}

impl KeyPurpose {
    /// Every purpose.
    pub const ALL: [KeyPurpose; 3] = [
        KeyPurpose::IdTokens,
        KeyPurpose::WorkloadCa,
        KeyPurpose::TaskTokens,
    ];

    /// The name stored with the key and shown in audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::IdTokens => "id-tokens",
            KeyPurpose::WorkloadCa => "workload-ca",
            KeyPurpose::TaskTokens => "task-tokens",
        }
    }

    /// The secret the one key of before rotation was stored under.
    fn legacy_secret_name(self) -> &'static str {
        match self {
            KeyPurpose::IdTokens => "signing-key/id-tokens/p256",
            KeyPurpose::WorkloadCa => "signing-key/workload-ca/p256",
            KeyPurpose::TaskTokens => "signing-key/task-tokens/p256",
        }
    }
}

/// The active ES256 key of a purpose as raw ECDSA P-256 with SHA-256
/// (X.509 `ecdsa-with-SHA256`), for signers that are not JOSE (the
/// workload CA). JOSE callers use [`crate::Service::sign_jwt`].
pub struct SigningKey {
    pair: EcdsaKeyPair,
    key_id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private half.
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pkcs8(pkcs8: &[u8], key_id: &str) -> Result<SigningKey, ServiceError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| unreadable())?;
        Ok(SigningKey {
            pair,
            key_id: key_id.to_owned(),
        })
    }

    /// Signs `message`: the fixed-width `r || s` form JOSE uses.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ServiceError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| ServiceError::Internal("signing failed".into()))
    }

    /// The public key, an uncompressed SEC1 point (65 bytes).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The key's `kid`: its RFC 7638 thumbprint, as in the JWKS.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn unreadable() -> ServiceError {
    ServiceError::Internal("a stored signing key is unreadable".into())
}

/// An active key, loaded.
pub(crate) struct ActiveKey {
    kid: String,
    jose: keybound_jose::SigningKey,
    /// The same key for raw ECDSA signers (ES256 only).
    raw: Option<Arc<SigningKey>>,
}

impl ActiveKey {
    fn load(row: &SigningKeyRow, alg: Algorithm) -> Result<ActiveKey, ServiceError> {
        let jose = keybound_jose::SigningKey::from_pkcs8(alg, &row.private_key)
            .map_err(|_| unreadable())?;
        let raw = match alg {
            Algorithm::Es256 => Some(Arc::new(SigningKey::from_pkcs8(
                &row.private_key,
                &row.kid,
            )?)),
            _ => None,
        };
        Ok(ActiveKey {
            kid: row.kid.clone(),
            jose,
            raw,
        })
    }
}

/// A key loaded at `loaded_ms`.
struct Cached {
    key: Arc<ActiveKey>,
    loaded_ms: i64,
}

/// The active keys this node has loaded.
#[derive(Default)]
pub(crate) struct KeyCustody {
    active: Mutex<HashMap<(KeyPurpose, Algorithm), Cached>>,
}

impl std::fmt::Debug for KeyCustody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCustody").finish_non_exhaustive()
    }
}

impl KeyCustody {
    fn cached(&self, purpose: KeyPurpose, alg: Algorithm, now_ms: i64) -> Option<Arc<ActiveKey>> {
        let held = self.lock();
        let cached = held.get(&(purpose, alg))?;
        (now_ms.saturating_sub(cached.loaded_ms) < CACHE_TTL_MS && now_ms >= cached.loaded_ms)
            .then(|| cached.key.clone())
    }

    fn keep(&self, purpose: KeyPurpose, alg: Algorithm, key: Arc<ActiveKey>, now_ms: i64) {
        self.lock().insert(
            (purpose, alg),
            Cached {
                key,
                loaded_ms: now_ms,
            },
        );
    }

    fn forget(&self, purpose: KeyPurpose, alg: Algorithm) {
        self.lock().remove(&(purpose, alg));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(KeyPurpose, Algorithm), Cached>> {
        // A poisoned map still holds valid keys.
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One change rotation made (each audited in its own transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// `signing_key.prepared`, `.activated`, `.retired` or `.removed`.
    pub kind: EventKind,
    /// The key's purpose.
    pub purpose: KeyPurpose,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its `kid`.
    pub kid: String,
}

/// A fresh key as a stored row, created (published) at `now_ms`.
fn fresh_row(
    purpose: KeyPurpose,
    alg: Algorithm,
    pkcs8: Vec<u8>,
    now_ms: i64,
) -> Result<SigningKeyRow, ServiceError> {
    let key = keybound_jose::SigningKey::from_pkcs8(alg, &pkcs8).map_err(|_| unreadable())?;
    let public = key.public_jwk(None).map_err(|_| unreadable())?;
    let kid = public.thumbprint();
    let jwk = Jwk::parse(&with_kid(public.to_json(), &kid)).map_err(|_| unreadable())?;
    Ok(SigningKeyRow {
        kid,
        purpose: purpose.as_str().to_owned(),
        alg: alg.as_str().to_owned(),
        private_key: pkcs8,
        public_jwk: jwk.to_json().to_string(),
        created_ms: now_ms,
        activated_ms: None,
        retired_ms: None,
    })
}

fn with_kid(mut jwk: Value, kid: &str) -> Value {
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), kid.into());
    }
    jwk
}

/// The active key of `alg` among `rows`.
fn active_row(rows: &[SigningKeyRow], alg: Algorithm) -> Option<&SigningKeyRow> {
    rows.iter()
        .find(|r| r.alg == alg.as_str() && r.activated_ms.is_some() && r.retired_ms.is_none())
}

/// Signs `claims` with `key`; the header names `kid` and `typ`.
fn sign_with(
    key: &ActiveKey,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<String, ServiceError> {
    let mut header = Map::new();
    header.insert("kid".into(), key.kid.clone().into());
    header.insert("typ".into(), typ.into());
    // aws-lc-rs draws the ECDSA nonce from its own DRBG whatever RNG is
    // passed, so the injected RNG could not make this reproducible.
    keybound_jose::sign(
        &header,
        &Value::Object(claims.clone()),
        &key.jose,
        &SystemRandom::new(),
    )
    .map_err(|_| ServiceError::Internal("signing failed".into()))
}

fn generate(alg: Algorithm) -> Result<Vec<u8>, ServiceError> {
    keybound_jose::SigningKey::generate_pkcs8(alg)
        .map_err(|_| ServiceError::Internal("key generation failed".into()))
}

/// Key custody's use cases.
impl crate::Service {
    /// The active ES256 key for `purpose` as a raw ECDSA signer (made on
    /// first use, the same on every node).
    pub async fn signing_key(&self, purpose: KeyPurpose) -> Result<Arc<SigningKey>, ServiceError> {
        self.active_key(purpose, Algorithm::Es256)
            .await?
            .raw
            .clone()
            .ok_or_else(unreadable)
    }

    /// Signs `claims` as a compact JWS with the active key of `purpose`
    /// and `alg` (made on first use); the header carries `alg`, `kid` and
    /// `typ`.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when the store fails or a stored key is
    /// unreadable.
    pub async fn sign_jwt(
        &self,
        purpose: KeyPurpose,
        alg: Algorithm,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, ServiceError> {
        let key = self.active_key(purpose, alg).await?;
        sign_with(&key, typ, claims)
    }

    /// [`Service::sign_jwt`](crate::Service::sign_jwt) inside the caller's transaction `tx`: what a
    /// use case that signs while it holds the writer calls (a token issued
    /// in the transaction that consumes a code). `sign_jwt` there could
    /// wait for the writer `tx` holds. A key made here is stored, with its
    /// audit event, in `tx`, and is used only once `tx` commits.
    ///
    /// # Errors
    /// As [`Service::sign_jwt`](crate::Service::sign_jwt).
    pub async fn sign_jwt_in(
        &self,
        tx: &mut WriteTx,
        purpose: KeyPurpose,
        alg: Algorithm,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, ServiceError> {
        let key = match self.kernel.keys.cached(purpose, alg, self.now_ms()) {
            Some(key) => key,
            None => self.active_key_in(tx, purpose, alg).await?,
        };
        sign_with(&key, typ, claims)
    }

    /// The active key as `tx` sees it, made in `tx` when there is none.
    /// Not cached: `tx` may yet roll back.
    async fn active_key_in(
        &self,
        tx: &mut WriteTx,
        purpose: KeyPurpose,
        alg: Algorithm,
    ) -> Result<Arc<ActiveKey>, ServiceError> {
        for _ in 0..2 {
            let rows = tx.signing_keys(purpose.as_str()).await?;
            if let Some(row) = active_row(&rows, alg) {
                return Ok(Arc::new(ActiveKey::load(row, alg)?));
            }
            let legacy = match alg {
                Algorithm::Es256 => tx.stored_secret(purpose.legacy_secret_name()).await?,
                _ => None,
            };
            let (pkcs8, carried) = match legacy {
                Some(old) => (old, true),
                None => (generate(alg)?, false),
            };
            let now = self.now_ms();
            self.insert_key(tx, purpose, alg, pkcs8, now, true, carried)
                .await?;
        }
        Err(ServiceError::Internal("no active signing key".into()))
    }

    /// The JWKS for `purpose`: `{"keys": [...]}` with the public members of
    /// every key that is prepared, active, or retired but still covering
    /// unexpired tokens. Makes the ES256 key on first use.
    pub async fn published_jwks(&self, purpose: KeyPurpose) -> Result<Value, ServiceError> {
        self.active_key(purpose, Algorithm::Es256).await?;
        self.published_keys(purpose).await
    }

    /// [`Service::published_jwks`] without making a key: only reads, so a
    /// use case holding the writer may call it (to verify its own tokens).
    pub(crate) async fn published_keys(&self, purpose: KeyPurpose) -> Result<Value, ServiceError> {
        let now = self.now_ms();
        let after = self.config().key_rotation.published_after_retirement_ms();
        let rows = self
            .store()
            .read()
            .await?
            .signing_keys(purpose.as_str())
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            if row
                .retired_ms
                .is_some_and(|r| now >= r.saturating_add(after))
            {
                continue;
            }
            // Parsed again so only public members can ever leave.
            let jwk = serde_json::from_str(&row.public_jwk)
                .ok()
                .and_then(|v| Jwk::parse(&v).ok())
                .ok_or_else(unreadable)?;
            keys.push(jwk.to_json());
        }
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Rotates every purpose and algorithm that has keys, as far as the
    /// schedule says is due now; run by the jobs runner. Returns what
    /// changed.
    pub async fn rotate_signing_keys(&self) -> Result<Vec<KeyChange>, ServiceError> {
        let mut changes = Vec::new();
        for purpose in KeyPurpose::ALL {
            let rows = self
                .store()
                .read()
                .await?
                .signing_keys(purpose.as_str())
                .await?;
            for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
                if rows.iter().any(|r| r.alg == alg.as_str()) {
                    changes.extend(self.rotate(purpose, alg).await?);
                }
            }
        }
        Ok(changes)
    }

    /// The active key of `purpose` and `alg`: cached, else stored, else
    /// made now.
    pub(crate) async fn active_key(
        &self,
        purpose: KeyPurpose,
        alg: Algorithm,
    ) -> Result<Arc<ActiveKey>, ServiceError> {
        let now = self.now_ms();
        if let Some(key) = self.kernel.keys.cached(purpose, alg, now) {
            return Ok(key);
        }
        for _ in 0..2 {
            let rows = self
                .store()
                .read()
                .await?
                .signing_keys(purpose.as_str())
                .await?;
            if let Some(row) = active_row(&rows, alg) {
                let key = Arc::new(ActiveKey::load(row, alg)?);
                self.kernel.keys.keep(purpose, alg, key.clone(), now);
                return Ok(key);
            }
            self.rotate(purpose, alg).await?;
        }
        Err(ServiceError::Internal("no active signing key".into()))
    }

    /// Takes every step due for `purpose` and `alg`, one transaction each.
    async fn rotate(
        &self,
        purpose: KeyPurpose,
        alg: Algorithm,
    ) -> Result<Vec<KeyChange>, ServiceError> {
        let mut changes = Vec::new();
        let mut fresh: Option<Vec<u8>> = None;
        // Each pass takes one step or generates one key; a race lost to
        // another node costs a pass. Bounded so a fault cannot spin.
        for _ in 0..12 {
            let now = self.now_ms();
            let rotation = self.config().key_rotation;
            let mut tx = self.store().begin().await?;
            let rows = tx.signing_keys(purpose.as_str()).await?;
            let Some(step) = next_step(&rows, alg, now, &rotation) else {
                return Ok(changes);
            };
            let legacy = match (&step, alg) {
                (Step::Bootstrap, Algorithm::Es256) => {
                    tx.stored_secret(purpose.legacy_secret_name()).await?
                }
                _ => None,
            };
            if step.needs_key() && legacy.is_none() && fresh.is_none() {
                // Generated outside the transaction: RSA takes a while.
                drop(tx);
                fresh = Some(generate(alg)?);
                continue;
            }
            let done = match step {
                Step::Bootstrap | Step::Prepare => {
                    let (pkcs8, carried) = match legacy {
                        Some(old) => (old, true),
                        None => (fresh.take().ok_or_else(unreadable)?, false),
                    };
                    let active = step == Step::Bootstrap;
                    self.insert_key(&mut tx, purpose, alg, pkcs8, now, active, carried)
                        .await?
                        .map(|done| vec![done])
                }
                Step::Activate { next, retiring } => {
                    let retired = match &retiring {
                        Some(old) => tx.retire_signing_key(old, now).await?,
                        None => true,
                    };
                    if retired && tx.activate_signing_key(&next, now).await? {
                        let mut done = Vec::new();
                        if let Some(old) = retiring {
                            done.push((EventKind::SigningKeyRetired, old));
                        }
                        done.push((EventKind::SigningKeyActivated, next));
                        for (kind, kid) in &done {
                            tx.record(self.key_event(*kind, purpose, alg, kid)).await?;
                        }
                        Some(done)
                    } else {
                        None
                    }
                }
                Step::Remove { kid } => {
                    let cutoff = now.saturating_sub(rotation.published_after_retirement_ms());
                    if tx.remove_signing_key(&kid, cutoff).await? {
                        let kind = EventKind::SigningKeyRemoved;
                        tx.record(self.key_event(kind, purpose, alg, &kid)).await?;
                        Some(vec![(kind, kid)])
                    } else {
                        None
                    }
                }
            };
            // A lost race drops the transaction (nothing written stays)
            // and plans again from what the winner stored.
            let Some(done) = done else { continue };
            tx.commit().await?;
            self.kernel.keys.forget(purpose, alg);
            for (kind, kid) in done {
                tracing::info!(kind = kind.as_str(), purpose = purpose.as_str(), alg = alg.as_str(), kid = %kid, "signing key rotated");
                changes.push(KeyChange {
                    kind,
                    purpose,
                    alg,
                    kid,
                });
            }
        }
        Ok(changes)
    }

    /// Stores a new key made at `now_ms` (active at once, or prepared) in
    /// `tx` with its audit event; None when another node's key got there
    /// first (`tx` then holds no change).
    #[allow(clippy::too_many_arguments)]
    async fn insert_key(
        &self,
        tx: &mut WriteTx,
        purpose: KeyPurpose,
        alg: Algorithm,
        pkcs8: Vec<u8>,
        now_ms: i64,
        active: bool,
        carried: bool,
    ) -> Result<Option<(EventKind, String)>, ServiceError> {
        let mut row = fresh_row(purpose, alg, pkcs8, now_ms)?;
        let kind = if active {
            row.activated_ms = Some(now_ms);
            EventKind::SigningKeyActivated
        } else {
            EventKind::SigningKeyPrepared
        };
        match tx.insert_signing_key(&row).await {
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
            Ok(()) => {
                let mut event = self.key_event(kind, purpose, alg, &row.kid);
                if carried {
                    event
                        .details
                        .insert("from".into(), "stored single key".into());
                }
                tx.record(event).await?;
                Ok(Some((kind, row.kid)))
            }
        }
    }

    fn key_event(
        &self,
        kind: EventKind,
        purpose: KeyPurpose,
        alg: Algorithm,
        kid: &str,
    ) -> NewEvent {
        let mut event = self.event(kind, &ClientContext::default());
        event.actor = Some("system".into());
        event.outcome = Some(keybound_audit::Outcome::Success);
        event.details.insert("kid".into(), kid.into());
        event
            .details
            .insert("purpose".into(), purpose.as_str().into());
        event.details.insert("alg".into(), alg.as_str().into());
        event
    }
}

#[cfg(test)]
mod tests;
