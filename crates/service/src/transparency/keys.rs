//! The audit log's Ed25519 signing key.
//!
//! Made on first use by the sealer, in its write transaction. With an
//! operator key-encryption key (`--ca-key-encryption-key-file`, or on
//! SQLite the one generated beside the database) its PKCS#8 is stored
//! sealed (AES-256-GCM, associated data `audit-key/<key id>`), so a copy
//! of the database, or a writer of it, does not get the key: one who
//! rewrites the log cannot sign a checkpoint for the rewrite.
//!
//! Without a key-encryption key (`sqlite::memory:`, or PostgreSQL without
//! the key file) the private key is kept in this process's memory only
//! and the row holds the public key alone (an empty sealed part): nothing
//! in the database can sign, but each process (each restart, each node
//! that takes the lease over) makes a key of its own, so an external
//! monitor sees a new key each time. A deployment that publishes its key
//! to monitors sets the key file.
//!
//! The active key is the newest row for the configured origin; older rows
//! stay, so every checkpoint ever signed verifies with
//! [`crate::Service::audit_verifier_keys`].

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use keybound_audit::checkpoint::VerifierKey;
use keybound_store::{AuditKeyRow, StoreError, WriteTx};

use super::{lock, LoadedKey};
use crate::{Service, ServiceError};

/// The associated data a key is sealed under: its own id, so a sealed key
/// moved to another row does not open.
fn aad(key_id: &str) -> String {
    format!("audit-key/{key_id}")
}

/// The verifier key of `row`.
pub(crate) fn verifier(row: &AuditKeyRow) -> Result<VerifierKey, ServiceError> {
    let public = <[u8; 32]>::try_from(row.public_key.as_slice())
        .map_err(|_| ServiceError::Internal("a stored audit key is not 32 bytes".into()))?;
    VerifierKey::new(&row.origin, public)
        .map_err(|e| ServiceError::Internal(format!("a stored audit key: {e}")))
}

impl Service {
    /// The log's active verifier key (`name+hash+base64`, what monitors
    /// pin), or `None` before the first checkpoint.
    pub async fn audit_verifier_key(&self) -> Result<Option<VerifierKey>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let keys = tx.audit_keys().await?;
        keys.last().map(verifier).transpose()
    }

    /// Every key the log ever signed with, oldest first: a checkpoint
    /// verifies with the one its signature names.
    pub async fn audit_verifier_keys(&self) -> Result<Vec<VerifierKey>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let keys = tx.audit_keys().await?;
        keys.iter().map(verifier).collect()
    }

    /// The key to sign with, in the sealer's transaction `tx`: the newest
    /// stored key of this origin if this node can use it (its own, or one
    /// it can open), else a new one stored in `tx`.
    pub(crate) async fn audit_signing_key(
        &self,
        tx: &mut WriteTx,
    ) -> Result<Arc<LoadedKey>, ServiceError> {
        let origin = &self.config.transparency.origin;
        let keys = tx.audit_keys().await?;
        let active = keys.into_iter().rev().find(|k| &k.origin == origin);
        if let Some(row) = &active {
            let cached = lock(&self.transparency.key).clone();
            if let Some(key) = cached.filter(|k| k.key_id == row.key_id) {
                return Ok(key);
            }
            if !row.sealed_private.is_empty()
                && self.config.workloads.ca_key_encryption_key.is_none()
            {
                // A node without the key file would otherwise start a key
                // of its own, and every node after it too.
                return Err(ServiceError::Internal(format!(
                    "the audit key {} is sealed under a key-encryption key this node was not \
                     given: start it with --ca-key-encryption-key-file",
                    row.key_id
                )));
            }
            if let (Some(kek), false) = (
                self.config.workloads.ca_key_encryption_key.as_ref(),
                row.sealed_private.is_empty(),
            ) {
                // A key that does not open is a wrong key file or a
                // changed row: say so, never quietly start another key.
                let pkcs8 = zeroize::Zeroizing::new(
                    crate::workloads::seal::open(kek, &aad(&row.key_id), &row.sealed_private)
                        .map_err(|_| {
                            ServiceError::Internal(format!(
                                "the audit key {} does not open with the key-encryption key: \
                                 wrong --ca-key-encryption-key-file?",
                                row.key_id
                            ))
                        })?,
                );
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| {
                    ServiceError::Internal(format!("the audit key {} is unreadable", row.key_id))
                })?;
                if pair.public_key().as_ref() != row.public_key.as_slice() {
                    return Err(ServiceError::Internal(format!(
                        "the audit key {} does not match its public key",
                        row.key_id
                    )));
                }
                let key = Arc::new(LoadedKey {
                    key_id: row.key_id.clone(),
                    origin: row.origin.clone(),
                    pair,
                });
                *lock(&self.transparency.key) = Some(key.clone());
                return Ok(key);
            }
        }
        self.make_audit_key(tx).await
    }

    /// Makes a key, stores it (sealed, or its public half only without a
    /// key-encryption key) in `tx` and keeps it.
    async fn make_audit_key(&self, tx: &mut WriteTx) -> Result<Arc<LoadedKey>, ServiceError> {
        let origin = self.config.transparency.origin.clone();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| ServiceError::Internal("no Ed25519 key for the audit log".into()))?;
        let pkcs8 = zeroize::Zeroizing::new(pkcs8.as_ref().to_vec());
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| ServiceError::Internal("a fresh Ed25519 key is unreadable".into()))?;
        let public = <[u8; 32]>::try_from(pair.public_key().as_ref())
            .map_err(|_| ServiceError::Internal("an Ed25519 key is not 32 bytes".into()))?;
        let verifier = VerifierKey::new(&origin, public).map_err(|e| {
            ServiceError::Internal(format!("--audit-origin {origin:?} cannot name a key: {e}"))
        })?;
        let key_id = verifier.key_id();
        let sealed_private = match self.config.workloads.ca_key_encryption_key.as_ref() {
            Some(kek) => crate::workloads::seal::seal(kek, &aad(&key_id), self.random(), &pkcs8)?,
            None => Vec::new(),
        };
        let row = AuditKeyRow {
            key_id: key_id.clone(),
            origin: origin.clone(),
            public_key: public.to_vec(),
            sealed_private,
            created_ms: self.now_ms(),
            retired_ms: None,
        };
        match tx.insert_audit_key(&row).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ServiceError::Internal(
                    "an audit key with this id exists already".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        if row.sealed_private.is_empty() {
            tracing::warn!(
                key = %verifier.encode(),
                "no key-encryption key: the audit log's signing key lives in this process only \
                 (a restart or another node signs with a new key); set \
                 --ca-key-encryption-key-file to keep one key"
            );
        }
        let key = Arc::new(LoadedKey {
            key_id,
            origin,
            pair,
        });
        *lock(&self.transparency.key) = Some(key.clone());
        Ok(key)
    }
}
