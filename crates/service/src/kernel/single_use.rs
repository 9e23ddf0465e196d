//! The single-use rule, once: a value handed out (or presented) once, kept
//! only as its SHA-256 with a kind and an expiry, and used at most once
//! across every node (the store's conditional update under the writer
//! lock). Challenges and enrolment grants follow it in their own tables,
//! beside the state they carry; kinds that carry nothing else (OIDC codes,
//! DPoP proof ids, join tokens) share the store's `single_use` table
//! through the functions here.

use keybound_store::{StoreError, WriteTx};

use crate::tokens::{hash_token, sha256, Token};
use crate::{Service, ServiceError};

/// What a value in the `single_use` table is for. A value of one kind
/// never passes as another, even with the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An OpenID Connect authorization code.
    OidcCode,
    /// A DPoP proof's `jti`, remembered until the proof would expire.
    DpopProof,
    /// A node's join token for workload attestation.
    JoinToken,
    /// A `private_key_jwt` client assertion's `jti` (with its client),
    /// remembered until the assertion expires.
    ClientAssertion,
    /// A DBSC challenge a proof answered, remembered until it expires.
    DbscChallenge,
    /// A node proof's `jti` (with its node), remembered until the proof
    /// would be refused as stale anyway.
    NodeProof,
    /// A TPM attestation attempt finished, remembered until it expires.
    TpmAttempt,
}

impl TokenKind {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::OidcCode => "oidc_code",
            TokenKind::DpopProof => "dpop_jti",
            TokenKind::JoinToken => "join_token",
            TokenKind::ClientAssertion => "client_assertion_jti",
            TokenKind::DbscChallenge => "dbsc_challenge",
            TokenKind::NodeProof => "node_proof_jti",
            TokenKind::TpmAttempt => "tpm_attempt",
        }
    }
}

// The OIDC, workload and agent contexts are the callers of the stored
// kinds; until they land, this crate's tests are.
#[allow(dead_code)]
impl Service {
    /// A fresh random token: the value for its holder (shown once), the
    /// hash for the store. Grants are minted here too, and kept in their
    /// own table beside their terms.
    pub(crate) fn mint(&self) -> Token {
        Token::from_bytes(self.kernel.random())
    }

    /// Mints a value of `kind` usable for `ttl_ms` and stores its hash in
    /// `tx`.
    pub(crate) async fn issue_single_use(
        &self,
        tx: &mut WriteTx,
        kind: TokenKind,
        ttl_ms: i64,
    ) -> Result<Token, ServiceError> {
        let token = self.mint();
        let expires_ms = self.now_ms().saturating_add(ttl_ms);
        tx.insert_single_use(kind.as_str(), &token.hash, expires_ms)
            .await?;
        Ok(token)
    }

    /// Uses a value a client presented: true once, for the first use on any
    /// node before it expires.
    pub(crate) async fn use_single_use(
        &self,
        tx: &mut WriteTx,
        kind: TokenKind,
        presented: &str,
    ) -> Result<bool, ServiceError> {
        Ok(tx
            .use_single_use(kind.as_str(), &hash_token(presented), self.now_ms())
            .await?)
    }

    /// Remembers a value the client chose (a DPoP `jti`) until
    /// `expires_ms`: true the first time, false for a replay.
    pub(crate) async fn remember_once(
        &self,
        tx: &mut WriteTx,
        kind: TokenKind,
        value: &[u8],
        expires_ms: i64,
    ) -> Result<bool, ServiceError> {
        match tx
            .insert_single_use(kind.as_str(), &sha256(value), expires_ms)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keybound_store::Store;
    use keybound_webauthn::OriginPolicy;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::{Clock, Config};

    struct Fixed(std::sync::atomic::AtomicI64);

    impl Clock for Fixed {
        fn now_ms(&self) -> i64 {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    async fn two_nodes(dir: &std::path::Path) -> (Service, Service, Arc<Fixed>) {
        let url = format!("sqlite://{}", dir.join("kb.db").display());
        let clock = Arc::new(Fixed(1_000_000.into()));
        let node = |seed: u64| {
            let url = url.clone();
            let clock = clock.clone();
            async move {
                let config = Config::new(
                    "kb.test",
                    OriginPolicy::exact(["https://kb.test"]).unwrap(),
                    [0; 32],
                );
                let rng: Box<dyn rand_core::CryptoRng + Send> =
                    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
                Service::new(Store::open(&url).await.unwrap(), config, clock, rng)
            }
        };
        let a = node(1).await;
        let b = node(2).await;
        (a, b, clock)
    }

    #[tokio::test]
    async fn a_value_is_used_once_across_nodes_and_never_as_another_kind() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, clock) = two_nodes(dir.path()).await;
        let mut tx = a.store().begin().await.unwrap();
        let code = a
            .issue_single_use(&mut tx, TokenKind::OidcCode, 60_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = b.store().begin().await.unwrap();
        assert!(
            !b.use_single_use(&mut tx, TokenKind::JoinToken, &code.value)
                .await
                .unwrap(),
            "a code is not a join token"
        );
        assert!(b
            .use_single_use(&mut tx, TokenKind::OidcCode, &code.value)
            .await
            .unwrap());
        tx.commit().await.unwrap();

        let mut tx = a.store().begin().await.unwrap();
        assert!(
            !a.use_single_use(&mut tx, TokenKind::OidcCode, &code.value)
                .await
                .unwrap(),
            "the other node sees it used"
        );
        drop(tx);

        let mut tx = a.store().begin().await.unwrap();
        let late = a
            .issue_single_use(&mut tx, TokenKind::OidcCode, 60_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        clock
            .0
            .fetch_add(60_000, std::sync::atomic::Ordering::SeqCst);
        let mut tx = a.store().begin().await.unwrap();
        assert!(
            !a.use_single_use(&mut tx, TokenKind::OidcCode, &late.value)
                .await
                .unwrap(),
            "expired"
        );
    }

    #[tokio::test]
    async fn a_client_chosen_value_is_remembered_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_nodes(dir.path()).await;
        let jti = b"proof-1";
        for (node, first) in [(&a, true), (&b, false), (&a, false)] {
            let mut tx = node.store().begin().await.unwrap();
            assert_eq!(
                node.remember_once(&mut tx, TokenKind::DpopProof, jti, 2_000_000)
                    .await
                    .unwrap(),
                first
            );
            tx.commit().await.unwrap();
        }
        // A rolled-back first sighting leaves nothing behind.
        let mut tx = a.store().begin().await.unwrap();
        assert!(a
            .remember_once(&mut tx, TokenKind::DpopProof, b"proof-2", 2_000_000)
            .await
            .unwrap());
        drop(tx);
        let mut tx = b.store().begin().await.unwrap();
        assert!(b
            .remember_once(&mut tx, TokenKind::DpopProof, b"proof-2", 2_000_000)
            .await
            .unwrap());
    }
}
