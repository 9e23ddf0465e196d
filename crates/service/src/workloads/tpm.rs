//! TPM node attestation (issue 17 item 3), the server's side of
//! `/workload/v1/attest/tpm/{start,finish}`. The checks on bytes are
//! `keybound-tpm`'s; this file decides what they mean for the registry.
//!
//! - start: the EK certificate chains to `--tpm-ek-roots` and certifies
//!   the EK, the EK is a restricted decryption key, the AK a restricted
//!   signing key fixed to its TPM; then a credential for a fresh 32-byte
//!   secret, wrapped to the EK and the AK's name, and an [`attempt`] that
//!   carries (MAC'd) what finish needs. Nothing is stored.
//! - finish: the attempt is ours, young, and spent once; the released
//!   secret matches (constant time); the quote is signed by the AK over
//!   `SHA-256(secret || node key thumbprint)`. The node is the one of
//!   that EK (`tpm_ek_hash`): a TPM seen before renews its node (new node
//!   key, new AK, fresh `attested_ms`), a new one becomes
//!   `tpm-<first 16 hex digits of the EK hash>`; a decommissioned one is
//!   refused for good.
//!
//! Every refusal is `workload.node.refused` with a `workload_tpm_*` reason
//! and `keybound-tpm`'s precise one as detail; the node sees one generic
//! error.

pub(crate) mod attempt;
mod device;

use keybound_store::{StoreError, WorkloadNodeRow};
use keybound_tpm::{
    check_ak_policy, check_ek_policy, make_credential, quote_nonce, verify_ek_certificate,
    verify_quote, Public, PublicKey, UnixTime,
};
use keybound_webauthn::b64;
use keybound_workload_api::wire::{AttestResponse, TpmAttestFinish, TpmAttestStart, TpmChallenge};

use crate::record::Record;
use crate::tokens::sha256;
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError, TokenKind};

use super::nodes::node_key;
use super::status;
use attempt::Attempt;

/// How long the node has between start and finish, ms (activation and a
/// quote take well under a second, a slow TPM a few).
pub(crate) const ATTEMPT_TTL_MS: i64 = 60_000;
/// How far in the future another server's clock may have dated an attempt.
const CLOCK_SKEW_MS: i64 = 5_000;
/// Longest base64url field accepted (an EK certificate of 8 KiB).
const MAX_FIELD: usize = 11_000;

/// A refusal with `keybound-tpm`'s precise reason as its detail.
type Refused = (Refusal, Option<String>);
/// A checked finish: the attempt, its spending hash, the node key's
/// thumbprint and public JWK (JSON).
type Finished = (Attempt, Vec<u8>, String, String);

fn bytes(field: &str) -> Result<Vec<u8>, Refused> {
    if field.len() > MAX_FIELD {
        return Err((Refusal::WorkloadTpmMalformed, Some("field too long".into())));
    }
    b64::decode(field).map_err(|_| (Refusal::WorkloadTpmMalformed, Some("not base64url".into())))
}

fn tpm(refusal: Refusal) -> impl Fn(keybound_tpm::Error) -> Refused {
    move |e| (refusal, Some(e.reason().to_owned()))
}

/// The node name of a TPM: `tpm-` and the first 16 hex digits of its EK
/// hash (64 bits: collisions need 2^32 TPMs).
/// The TPM's stable identity: the SHA-256 of its endorsement key alone,
/// canonical (RSA exponent spelled out, no leading zeros). Not of the whole
/// public area: the certificate vouches only for the key, and a client
/// could vary the rest (`authPolicy`, attribute bits, an explicit 65537)
/// to pass one TPM off as a new node after it was decommissioned.
fn ek_identity(ek: &Public) -> Vec<u8> {
    let mut canonical = Vec::new();
    match ek.key() {
        PublicKey::Rsa { modulus, exponent } => {
            canonical.extend_from_slice(b"rsa\0");
            canonical.extend_from_slice(&exponent.to_be_bytes());
            canonical.extend(modulus.iter().skip_while(|b| **b == 0));
        }
        PublicKey::EccP256 { x, y } => {
            canonical.extend_from_slice(b"p256\0");
            canonical.extend_from_slice(x);
            canonical.extend_from_slice(y);
        }
    }
    sha256(&canonical)
}

/// The prefix of TPM-attested nodes' names, reserved: join tokens may not
/// name a node with it.
pub(crate) const TPM_NODE_PREFIX: &str = "tpm-";

fn node_name(ek_hash: &[u8]) -> String {
    let hex: String = ek_hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{TPM_NODE_PREFIX}{hex}")
}

impl Service {
    fn tpm_attempt_key(&self) -> aws_lc_rs::hmac::Key {
        attempt::key(&self.config.enumeration_secret)
    }

    /// Step one of TPM attestation (`POST /workload/v1/attest/tpm/start`):
    /// checks the EK certificate and both keys, and returns a credential
    /// only that TPM can activate. Refused, audited as
    /// `workload.node.refused`: no roots configured, malformed fields, an
    /// untrusted EK, an AK that is not a TPM-bound restricted signing key,
    /// a bad node key, a decommissioned TPM.
    pub async fn attest_tpm_start(
        &self,
        request: &TpmAttestStart,
        ctx: &ClientContext,
    ) -> Result<TpmChallenge, ServiceError> {
        let checked = self.check_tpm_start(request);
        let (challenge, ek_hash) = match checked {
            Ok(ok) => ok,
            Err((refusal, detail)) => {
                return Err(self.refuse_node(ctx, None, refusal, detail).await)
            }
        };
        let mut tx = self.kernel.store.read().await?;
        if let Some(node) = tx.workload_node_by_ek(&ek_hash).await? {
            if node.status != status::ACTIVE {
                drop(tx);
                return Err(self
                    .refuse_node(
                        ctx,
                        Some(&node.name),
                        Refusal::WorkloadNodeDecommissioned,
                        None,
                    )
                    .await);
            }
        }
        Ok(challenge)
    }

    fn check_tpm_start(
        &self,
        request: &TpmAttestStart,
    ) -> Result<(TpmChallenge, Vec<u8>), Refused> {
        let roots = &self.config.workloads.tpm_ek_roots;
        if roots.is_empty() {
            return Err((Refusal::WorkloadTpmNotConfigured, None));
        }
        let ek_cert = bytes(&request.ek_cert)?;
        let ek_public = bytes(&request.ek_public)?;
        let ak_public = bytes(&request.ak_public)?;
        let (_, _, node_key_json) = node_key(&request.node_key).map_err(|r| (r, None))?;
        let ek = Public::from_tpm2b(&ek_public).map_err(tpm(Refusal::WorkloadTpmMalformed))?;
        let ak = Public::from_tpm2b(&ak_public).map_err(tpm(Refusal::WorkloadTpmMalformed))?;
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_millis(
            u64::try_from(self.now_ms()).unwrap_or(0),
        ));
        verify_ek_certificate(&ek_cert, &ek, roots, now)
            .map_err(tpm(Refusal::WorkloadTpmEkUntrusted))?;
        check_ek_policy(&ek).map_err(tpm(Refusal::WorkloadTpmEkUntrusted))?;
        check_ak_policy(&ak).map_err(tpm(Refusal::WorkloadTpmAkRefused))?;

        let secret: [u8; 32] = self.random();
        let credential = {
            let mut rng = self.kernel.rng();
            make_credential(&ek, &ak.name(), &secret, &mut **rng)
                .map_err(tpm(Refusal::WorkloadTpmEkUntrusted))?
        };
        let ek_hash = ek_identity(&ek);
        let sealed = attempt::seal(
            &self.tpm_attempt_key(),
            &Attempt {
                issued_ms: self.now_ms(),
                ek_hash: ek_hash.clone(),
                ak_public,
                node_key: node_key_json,
                secret_hash: sha256(&secret),
            },
        );
        Ok((
            TpmChallenge {
                attempt: sealed,
                credential_blob: b64::encode(&credential.credential_blob),
                encrypted_secret: b64::encode(&credential.encrypted_secret),
            },
            ek_hash,
        ))
    }

    /// Step two (`POST /workload/v1/attest/tpm/finish`): the activated
    /// secret and a quote; binds the node key to the TPM's node (made on
    /// first attestation, renewed after). Refused, audited as
    /// `workload.node.refused`: an attempt not ours, expired or spent, a
    /// wrong secret (the TPM could not activate the credential), a quote
    /// that does not verify or is over another nonce, a decommissioned
    /// node, a node key bound to another node.
    pub async fn attest_tpm_finish(
        &self,
        request: &TpmAttestFinish,
        ctx: &ClientContext,
    ) -> Result<AttestResponse, ServiceError> {
        let (attempt, attempt_hash, thumbprint, public) = match self.check_tpm_finish(request) {
            Ok(ok) => ok,
            Err((refusal, detail)) => {
                return Err(self.refuse_node(ctx, None, refusal, detail).await)
            }
        };
        let name = node_name(&attempt.ek_hash);

        let mut tx = self.kernel.store.begin().await?;
        let expires_ms = attempt.issued_ms.saturating_add(ATTEMPT_TTL_MS);
        if !self
            .remember_once(&mut tx, TokenKind::TpmAttempt, &attempt_hash, expires_ms)
            .await?
        {
            drop(tx);
            return Err(self
                .refuse_node(
                    ctx,
                    None,
                    Refusal::WorkloadTpmAttemptInvalid,
                    Some("replayed".into()),
                )
                .await);
        }
        let now = self.now_ms();
        let existing = tx.workload_node_by_ek(&attempt.ek_hash).await?;
        let renewed = existing.is_some();
        let bound = match existing {
            Some(node) if node.status != status::ACTIVE => Err(Refusal::WorkloadNodeDecommissioned),
            Some(node) => {
                match tx
                    .rebind_workload_node(&node.name, &thumbprint, &public, &attempt.ak_public, now)
                    .await
                {
                    Ok(true) => Ok(node),
                    Ok(false) => Err(Refusal::WorkloadNodeDecommissioned),
                    Err(StoreError::Conflict) => Err(Refusal::WorkloadNodeKeyTaken),
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                let ek_hex: String = attempt.ek_hash.iter().map(|b| format!("{b:02x}")).collect();
                let device_id = self.enrol_tpm_device(&mut tx, &name, &ek_hex, ctx).await?;
                let row = WorkloadNodeRow {
                    name: name.clone(),
                    spiffe_id: self.node_spiffe_id(&name),
                    attestation: "tpm".into(),
                    key_thumbprint: thumbprint.clone(),
                    key_jwk: public,
                    tpm_ek_hash: Some(attempt.ek_hash.clone()),
                    tpm_ak_public: Some(attempt.ak_public.clone()),
                    device_id: Some(device_id),
                    status: status::ACTIVE.into(),
                    sets: "[]".into(),
                    attested_ms: now,
                    last_seen_ms: None,
                    decommissioned_ms: None,
                };
                match self.bind_node(&mut tx, &row).await? {
                    Ok(()) => Ok(row),
                    Err(r) => Err(r),
                }
            }
        };
        let node = match bound {
            Ok(node) => node,
            Err(refusal) => {
                drop(tx);
                return Err(self.refuse_node(ctx, Some(&name), refusal, None).await);
            }
        };
        let mut event = self.workload_event(
            EventKind::WorkloadNodeAttest,
            ctx,
            &node.name,
            &node.spiffe_id,
        );
        let ek_hex: String = attempt.ek_hash.iter().map(|b| format!("{b:02x}")).collect();
        event.reason = Some(format!(
            "tpm ({}) EK sha256 {ek_hex} bound node key {thumbprint}",
            if renewed { "renewed" } else { "new node" }
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(AttestResponse {
            node: node.name,
            spiffe_id: node.spiffe_id,
            trust_domain: self.trust_domain().to_owned(),
        })
    }

    /// Everything finish can check without the store: the attempt (and
    /// the hash it is spent under), the node key's thumbprint and JWK.
    fn check_tpm_finish(&self, request: &TpmAttestFinish) -> Result<Finished, Refused> {
        let invalid = |d: &str| (Refusal::WorkloadTpmAttemptInvalid, Some(d.to_owned()));
        let (attempt, attempt_hash) = attempt::open(&self.tpm_attempt_key(), &request.attempt)
            .ok_or_else(|| invalid("not ours"))?;
        let now = self.now_ms();
        if now >= attempt.issued_ms.saturating_add(ATTEMPT_TTL_MS)
            || attempt.issued_ms > now.saturating_add(CLOCK_SKEW_MS)
        {
            return Err(invalid("expired"));
        }
        let secret = bytes(&request.secret)?;
        let quote = bytes(&request.quote)?;
        let signature = bytes(&request.quote_signature)?;
        if !keybound_tpm::ct_eq(&sha256(&secret), &attempt.secret_hash) {
            return Err((Refusal::WorkloadTpmActivationFailed, None));
        }
        let ak =
            Public::from_tpm2b(&attempt.ak_public).map_err(tpm(Refusal::WorkloadTpmMalformed))?;
        let key: serde_json::Value = serde_json::from_str(&attempt.node_key)
            .map_err(|_| (Refusal::WorkloadNodeKeyInvalid, None))?;
        let (_, thumbprint, public) = node_key(&key).map_err(|r| (r, None))?;
        let raw = b64::decode(&thumbprint).map_err(|_| (Refusal::WorkloadNodeKeyInvalid, None))?;
        verify_quote(&ak, &quote, &signature, &quote_nonce(&secret, &raw))
            .map_err(tpm(Refusal::WorkloadTpmQuoteInvalid))?;
        Ok((attempt, attempt_hash, thumbprint, public))
    }
}
