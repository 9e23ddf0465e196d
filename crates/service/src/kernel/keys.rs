//! Key custody: the signing keys keybound itself holds, one per purpose
//! (ID tokens for the OIDC provider, the workload CA, agents' task tokens).
//! A key is made once per deployment: the first node to need it generates
//! one and offers it to the store, and whichever offer landed first is the
//! key every node and every later start uses (`Store::secret`: insert if
//! absent, then read). Kept in memory after the first use.
//!
//! The private key is stored as PKCS#8 in the database, like the other
//! deployment secrets: whoever can read the database can sign. An HSM or
//! KMS would slot in here, behind the same [`SigningKey`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use keybound_store::Store;
use keybound_webauthn::b64;

use crate::ServiceError;

/// What a key signs. Each purpose has its own key, so a token of one kind
/// can never be passed off as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// OpenID Connect ID tokens and access tokens.
    IdTokens,
    /// The workload CA's certificates (X.509-SVIDs) and JWT-SVIDs.
    WorkloadCa,
    /// Agents' task credentials.
    TaskTokens,
}

impl KeyPurpose {
    /// The name the key is stored under.
    fn secret_name(self) -> &'static str {
        match self {
            KeyPurpose::IdTokens => "signing-key/id-tokens/p256",
            KeyPurpose::WorkloadCa => "signing-key/workload-ca/p256",
            KeyPurpose::TaskTokens => "signing-key/task-tokens/p256",
        }
    }
}

/// A signing key in custody: ECDSA P-256 with SHA-256 (JOSE `ES256`,
/// X.509 `ecdsa-with-SHA256`), which every OIDC and SPIFFE peer accepts.
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
    fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, ServiceError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| ServiceError::Internal("a stored signing key is unreadable".into()))?;
        let key_id =
            b64::encode(digest::digest(&digest::SHA256, pair.public_key().as_ref()).as_ref());
        Ok(SigningKey { pair, key_id })
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

    /// A stable name for the key (`kid`): base64url of the SHA-256 of its
    /// public key, so it changes exactly when the key does.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// The keys this node has loaded.
#[derive(Debug, Default)]
pub(crate) struct KeyCustody {
    held: Mutex<BTreeMap<KeyPurpose, Arc<SigningKey>>>,
}

impl KeyCustody {
    /// The deployment's key for `purpose`, made on first use.
    pub(crate) async fn key(
        &self,
        store: &Store,
        purpose: KeyPurpose,
    ) -> Result<Arc<SigningKey>, ServiceError> {
        if let Some(key) = self.lock().get(&purpose) {
            return Ok(key.clone());
        }
        let fresh =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| ServiceError::Internal("key generation failed".into()))?;
        let kept = store.secret(purpose.secret_name(), fresh.as_ref()).await?;
        let key = Arc::new(SigningKey::from_pkcs8(&kept)?);
        Ok(self.lock().entry(purpose).or_insert(key).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<KeyPurpose, Arc<SigningKey>>> {
        // A poisoned map still holds valid keys.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    use super::*;

    /// Two nodes (two custodies on one database) sign with one key per
    /// purpose, made once; a signature verifies with the public key; the
    /// private half never shows in a log line.
    #[tokio::test]
    async fn every_node_signs_with_the_one_key_of_each_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kb.db").display());
        let a = Store::open(&url).await.unwrap();
        let b = Store::open(&url).await.unwrap();
        let (node_a, node_b) = (KeyCustody::default(), KeyCustody::default());

        let ka = node_a.key(&a, KeyPurpose::IdTokens).await.unwrap();
        let kb = node_b.key(&b, KeyPurpose::IdTokens).await.unwrap();
        assert_eq!(ka.key_id(), kb.key_id());
        assert_eq!(ka.public_key(), kb.public_key());
        assert_eq!(ka.public_key().len(), 65);
        let ca = node_a.key(&a, KeyPurpose::WorkloadCa).await.unwrap();
        assert_ne!(ca.key_id(), ka.key_id(), "one key per purpose");

        let signature = kb.sign(b"header.payload").unwrap();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ka.public_key());
        assert!(public.verify(b"header.payload", &signature).is_ok());
        assert!(public.verify(b"header.payloaD", &signature).is_err());

        // A restart finds the same key.
        drop((a, node_a));
        let again = KeyCustody::default()
            .key(&Store::open(&url).await.unwrap(), KeyPurpose::IdTokens)
            .await
            .unwrap();
        assert_eq!(again.key_id(), ka.key_id());
        assert!(!format!("{again:?}").contains("pair"));
    }
}
