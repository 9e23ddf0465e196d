//! Server-provided DPoP nonces (RFC 9449 §8), without state and the same
//! on every node: `nonce = b64url(step ‖ HMAC-SHA256(key, "dpop-nonce" ‖
//! step)[..16])`, `step = now_s / 60` as 8 big-endian bytes, under a
//! deployment secret (`dpop/nonce-key`) every node reads from the store.
//! A nonce is accepted during its step and the next one, so a proof made
//! ahead of time (by a key thief who cannot sign later) is worth at most
//! two minutes, and a client that just fetched a nonce never sees it
//! refused at a minute boundary. No table, no write per nonce: the
//! `DPoP-Nonce` header can go on every answer.

// The task-token exchange and forward-auth (h-exchange) call this; until
// they land, only the tests do.
#![allow(dead_code)]

use std::sync::OnceLock;

use aws_lc_rs::{constant_time, hmac};
use keybound_webauthn::b64;

use crate::{Service, ServiceError};

/// The store's name of the nonce key.
pub(crate) const NONCE_KEY: &str = "dpop/nonce-key";

/// How long one nonce step lasts, seconds.
pub(crate) const NONCE_STEP_S: i64 = 60;

/// The domain separation label of the MAC input.
const LABEL: &[u8] = b"dpop-nonce";

/// Bytes of the step, then of the truncated tag.
const STEP_LEN: usize = 8;
const TAG_LEN: usize = 16;

/// The longest nonce looked at: ours are 32 base64url characters.
const MAX_NONCE_LEN: usize = 64;

/// The nonce key, loaded once per node (see [`Service::dpop_ready`]).
#[derive(Default)]
pub(crate) struct NonceKey(pub(super) OnceLock<[u8; 32]>);

fn tag(key: &[u8; 32], step: i64) -> hmac::Tag {
    let mut input = LABEL.to_vec();
    input.extend_from_slice(&step.to_be_bytes());
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &input)
}

/// The nonce of `step` under `key`.
pub(crate) fn make(key: &[u8; 32], step: i64) -> String {
    let tag = tag(key, step);
    let mut bytes = step.to_be_bytes().to_vec();
    bytes.extend(tag.as_ref().iter().take(TAG_LEN));
    b64::encode(&bytes)
}

/// The step a time falls in.
pub(crate) fn step_of(now_s: i64) -> i64 {
    now_s.div_euclid(NONCE_STEP_S)
}

/// Whether `nonce` is one `key` made for the step of `now_s` or the one
/// before; the tag is compared in constant time.
pub(crate) fn check(key: &[u8; 32], nonce: &str, now_s: i64) -> bool {
    if nonce.len() > MAX_NONCE_LEN {
        return false;
    }
    let Ok(bytes) = b64::decode(nonce) else {
        return false;
    };
    let Some((step, presented)) = bytes.split_first_chunk::<STEP_LEN>() else {
        return false;
    };
    let step = i64::from_be_bytes(*step);
    let current = step_of(now_s);
    if step != current && step != current.saturating_sub(1) {
        return false;
    }
    let expected = tag(key, step);
    let expected = expected.as_ref().get(..TAG_LEN).unwrap_or_default();
    presented.len() == TAG_LEN
        && constant_time::verify_slices_are_equal(presented, expected).is_ok()
}

impl Service {
    /// Loads the deployment's nonce key (made on first use, the same on
    /// every node) in a write transaction of its own, so a use case never
    /// asks for it while it holds its own: the writer is one per node.
    pub(crate) async fn dpop_ready(&self) -> Result<[u8; 32], ServiceError> {
        if let Some(key) = self.dpop.0.get() {
            return Ok(*key);
        }
        let fresh: [u8; 32] = self.random();
        let kept = self.kernel.store.secret(NONCE_KEY, &fresh).await?;
        let key: [u8; 32] = kept
            .try_into()
            .map_err(|_| ServiceError::Internal("the DPoP nonce key is unreadable".into()))?;
        Ok(*self.dpop.0.get_or_init(|| key))
    }

    /// The nonce to send now in a `DPoP-Nonce` header (every token-endpoint
    /// and forward-auth answer carries one, so a client always has a
    /// current nonce for its next proof).
    pub async fn dpop_nonce(&self) -> Result<String, ServiceError> {
        let key = self.dpop_ready().await?;
        Ok(make(&key, step_of(self.now_ms().div_euclid(1000))))
    }

    /// The nonce key as `tx` sees it, for a check inside a use case's
    /// transaction: never made here (`None` when no nonce was ever handed
    /// out, so none can be valid).
    pub(crate) async fn dpop_nonce_key_in(
        &self,
        tx: &mut keybound_store::WriteTx,
    ) -> Result<Option<[u8; 32]>, ServiceError> {
        if let Some(key) = self.dpop.0.get() {
            return Ok(Some(*key));
        }
        let Some(kept) = tx.stored_secret(NONCE_KEY).await? else {
            return Ok(None);
        };
        let key: [u8; 32] = kept
            .try_into()
            .map_err(|_| ServiceError::Internal("the DPoP nonce key is unreadable".into()))?;
        Ok(Some(*self.dpop.0.get_or_init(|| key)))
    }
}
