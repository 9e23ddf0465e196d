//! FIDO metadata: importing a BLOB (keeping the last good one), what it
//! says about a model at registration, and re-tiering every credential when
//! a new BLOB changes a model's standing.

use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use std::sync::Arc;

use keybound_audit::{Outcome, Severity};
use keybound_metadata::{key_identifier, verify_blob, Entry, MetadataBlob, MetadataError};
use keybound_store::{Credential, CredentialStatus, EndingSessions, ReadTx, WriteTx};
use keybound_webauthn::b64;

use crate::tiers::{standing, ModelEvidence, Standing};
use crate::{ClientContext, Service, ServiceError};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataImport {
    /// The BLOB's serial number.
    pub no: u64,
    /// Entries it holds.
    pub entries: usize,
    /// Credentials whose tier changed.
    pub retiered: usize,
    /// Credentials quarantined because their model is now compromised.
    pub suspended: usize,
}

/// What metadata says about one credential's model.
pub(crate) struct Judgement {
    pub model: ModelEvidence,
    /// The adverse status, if the model has one.
    pub adverse: Option<String>,
    /// The certification level, if certified.
    pub certification: Option<String>,
    /// What the metadata says about the model's form (issue 16: devices).
    pub form: ModelForm,
}

/// What a model's metadata statement says it is: its name, whether it is
/// built into a platform or roams, how it protects keys. Empty without
/// metadata for the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ModelForm {
    /// The statement's description.
    pub description: String,
    /// `attachmentHint` includes `internal`.
    pub platform: bool,
    /// `attachmentHint` names only external attachments (a security key).
    pub roaming: bool,
    /// `keyProtection` includes `hardware`, `tee` or `secure_element`.
    pub hardware_key: bool,
}

impl Judgement {
    /// The credential's standing, its reasons naming the certification
    /// level and any adverse status.
    pub(crate) fn standing(&self, backup_eligible: bool, user_verified: bool) -> Standing {
        let mut s = standing(backup_eligible, user_verified, self.model);
        if let Some(level) = &self.certification {
            s.reasons = format!("{}; {level}", s.reasons);
        }
        if let Some(status) = &self.adverse {
            s.reasons = format!("{}; metadata status {status}", s.reasons);
        }
        s
    }
}

/// The judgement on a credential of `aaguid` that arrived with `chain`:
/// its model found by AAGUID, or (U2F) by the attestation certificate's key
/// identifier.
pub(crate) fn evidence(
    blob: Option<&MetadataBlob>,
    aaguid: &str,
    chain: &[Vec<u8>],
    now_secs: u64,
) -> Judgement {
    let entry: Option<&Entry> = blob.and_then(|b| {
        b.by_aaguid(aaguid).or_else(|| {
            chain
                .first()
                .and_then(|leaf| key_identifier(leaf))
                .and_then(|id| b.by_key_identifier(&id))
        })
    });
    let Some(entry) = entry else {
        return Judgement {
            model: ModelEvidence::default(),
            adverse: None,
            certification: None,
            form: ModelForm::default(),
        };
    };
    let hint = &entry.attachment_hint;
    let form = ModelForm {
        description: entry.description.clone(),
        platform: hint.iter().any(|h| h == "internal"),
        roaming: !hint.is_empty() && hint.iter().all(|h| h != "internal"),
        hardware_key: entry
            .key_protection
            .iter()
            .any(|k| matches!(k.as_str(), "hardware" | "tee" | "secure_element")),
    };
    Judgement {
        model: ModelEvidence {
            attested: !chain.is_empty() && entry.verify_attestation(chain.to_vec(), now_secs),
            certified: entry.certification().is_some(),
            adverse: entry.adverse_status().is_some(),
        },
        adverse: entry.adverse_status().map(str::to_owned),
        certification: entry.certification().map(str::to_owned),
        form,
    }
}

impl Service {
    /// A stored credential's standing against `blob`, after the limits
    /// (`cap`: the session cap still in force, or `None` once vouched for).
    pub(crate) fn judge_stored(
        &self,
        blob: Option<&MetadataBlob>,
        credential: &Credential,
        cap: Option<i64>,
    ) -> (Judgement, Standing) {
        let chain = decode_chain(&credential.attestation_chain);
        let judgement = evidence(blob, &credential.aaguid, &chain, self.now_secs());
        let earned = judgement.standing(credential.backup_eligible, credential.user_verified);
        let standing = crate::tiers::limited(
            earned,
            crate::tiers::Limits {
                attested: judgement.model.attested || credential.attestation_trust == "verified",
                cap,
                require_attestation: self.config.policy.tier2_requires_attestation,
            },
        );
        (judgement, standing)
    }
}

fn refusal_reason(e: &MetadataError) -> Refusal {
    match e {
        MetadataError::Malformed(_) => Refusal::MetadataMalformed,
        MetadataError::UnsupportedAlgorithm(_) => Refusal::MetadataUnsupportedAlgorithm,
        MetadataError::BadSignature => Refusal::MetadataBadSignature,
        MetadataError::UntrustedSigner(_) => Refusal::MetadataUntrustedSigner,
        MetadataError::Expired { .. } => Refusal::MetadataExpired,
        _ => Refusal::MetadataRefused,
    }
}

fn decode_chain(chain: &[String]) -> Vec<Vec<u8>> {
    chain.iter().filter_map(|c| b64::decode(c).ok()).collect()
}

impl Service {
    fn now_secs(&self) -> u64 {
        u64::try_from(self.now_ms() / 1000).unwrap_or_default()
    }

    /// The current BLOB, if one was imported (parsed once per serial).
    pub(crate) async fn current_metadata(
        &self,
        tx: &mut ReadTx,
    ) -> Result<Option<Arc<MetadataBlob>>, ServiceError> {
        let Some(root) = &self.config.mds_root else {
            return Ok(None);
        };
        let Some(no) = tx.latest_metadata_no().await? else {
            return Ok(None);
        };
        if let Some((cached, blob)) = &*self
            .trust
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            if *cached == no {
                return Ok(Some(blob.clone()));
            }
        }
        let Some((jwt, imported_ms)) = tx.metadata_blob(no).await? else {
            return Ok(None);
        };
        // Judged as at its import, when it was verified: the last good BLOB
        // stays in use after its nextUpdate until a newer one arrives.
        let at = u64::try_from(imported_ms / 1000).unwrap_or_default();
        let blob = Arc::new(
            verify_blob(&jwt, root, at).map_err(|e| ServiceError::Internal(e.to_string()))?,
        );
        *self
            .trust
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((no, blob.clone()));
        Ok(Some(blob))
    }

    /// The metadata entry for a model (`keybound mds show AAGUID`).
    pub async fn metadata_entry(&self, aaguid: &str) -> Result<Option<Entry>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let blob = self.current_metadata(&mut tx).await?;
        Ok(blob.and_then(|b| b.by_aaguid(aaguid).cloned()))
    }

    /// Imports a BLOB (`keybound mds import FILE`). It must verify against
    /// the configured FIDO root and be newer than the current one; a refused
    /// BLOB leaves the last good one in force. An accepted one re-judges
    /// every credential in the same transaction, with an event for each
    /// that changes.
    pub async fn import_metadata(
        &self,
        jwt: &[u8],
        actor: &str,
    ) -> Result<MetadataImport, ServiceError> {
        self.import(jwt, actor, false)
            .await?
            .ok_or(ServiceError::Rejected(Refusal::MetadataNotNewer))
    }

    /// A scheduled fetch's import: like [`Service::import_metadata`], but
    /// the BLOB already in force (same serial) is `Ok(None)` and leaves no
    /// audit event, since most fetches find nothing new.
    pub async fn refresh_metadata(
        &self,
        jwt: &[u8],
        actor: &str,
    ) -> Result<Option<MetadataImport>, ServiceError> {
        self.import(jwt, actor, true).await
    }

    async fn import(
        &self,
        jwt: &[u8],
        actor: &str,
        same_is_unchanged: bool,
    ) -> Result<Option<MetadataImport>, ServiceError> {
        let mut event = self.event(EventKind::AdminMdsImport, &ClientContext::default());
        event.actor = Some(actor.to_owned());
        let Some(root) = &self.config.mds_root else {
            return Err(ServiceError::Rejected(Refusal::NoMdsRootConfigured));
        };
        let blob = match verify_blob(jwt, root, self.now_secs()) {
            Ok(blob) => blob,
            Err(e) => {
                return Err(self
                    .record_refusal(event, refusal_reason(&e), Some(e.to_string()))
                    .await)
            }
        };
        let mut tx = self.kernel.store.begin().await?;
        if let Some(current) = tx.latest_metadata_no().await? {
            if same_is_unchanged && blob.no == current {
                return Ok(None);
            }
            if blob.no <= current {
                drop(tx);
                let why = format!("serial {} is not newer than {current}", blob.no);
                return Err(self
                    .record_refusal(event, Refusal::MetadataNotNewer, Some(why))
                    .await);
            }
        }
        tx.insert_metadata(blob.no, &blob.next_update, jwt, self.now_ms())
            .await?;
        let (retiered, suspended) = self.rejudge_all(&mut tx, &blob, actor).await?;
        let report = MetadataImport {
            no: blob.no,
            entries: blob.entries().len(),
            retiered,
            suspended,
        };
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!(
            "no {}: {} entries, {} re-tiered, {} suspended",
            report.no, report.entries, report.retiered, report.suspended
        ));
        tx.record(event).await?;
        tx.commit().await?;
        *self
            .trust
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((blob.no, Arc::new(blob)));
        Ok(Some(report))
    }

    /// Brings every stored tier in line with the policy in force (run at
    /// each start): turning `--tier2-requires-attestation` on lowers the
    /// unattested tier-2 credentials registered before, and off restores
    /// them. Each change is audited (`policy.retier`); the number changed.
    pub async fn retier_for_policy(&self) -> Result<usize, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let metadata = self.current_metadata(&mut tx).await?;
        let mut changed = 0;
        for identity in tx.identities().await? {
            for credential in tx.credentials_of(&identity.id).await? {
                if matches!(credential.status, CredentialStatus::Revoked(_)) {
                    continue;
                }
                let (_, Standing { tier, reasons }) =
                    self.judge_stored(metadata.as_deref(), &credential, credential.tier_cap);
                if tier == credential.tier {
                    continue;
                }
                tx.set_tier(&credential.id, tier, &reasons).await?;
                let mut event = self.event(EventKind::PolicyRetier, &ClientContext::default());
                event.subject = Some(identity.name.clone());
                event.credential_id = Some(b64::encode(&credential.id));
                event.aaguid = Some(credential.aaguid.clone());
                event.outcome = Some(Outcome::Success);
                event.reason = Some(format!("tier {} -> {tier}: {reasons}", credential.tier));
                tx.record(event).await?;
                changed += 1;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// New tiers for every credential not revoked; a compromised model's
    /// active credentials are quarantined. (re-tiered, suspended).
    async fn rejudge_all(
        &self,
        tx: &mut WriteTx,
        blob: &MetadataBlob,
        actor: &str,
    ) -> Result<(usize, usize), ServiceError> {
        let mut credentials: Vec<(Credential, String)> = Vec::new();
        for identity in tx.identities().await? {
            for c in tx.credentials_of(&identity.id).await? {
                credentials.push((c, identity.name.clone()));
            }
        }
        let (mut retiered, mut suspended) = (0, 0);
        for (credential, owner) in credentials {
            if matches!(credential.status, CredentialStatus::Revoked(_)) {
                continue;
            }
            let (judgement, Standing { tier, reasons }) =
                self.judge_stored(Some(blob), &credential, credential.tier_cap);
            let suspend =
                judgement.adverse.is_some() && credential.status == CredentialStatus::Active;
            if tier == credential.tier && !suspend {
                continue;
            }
            tx.set_tier(&credential.id, tier, &reasons).await?;
            let mut event = self.event(
                if suspend {
                    EventKind::MetadataSuspend
                } else {
                    EventKind::MetadataRetier
                },
                &ClientContext::default(),
            );
            event.actor = Some(actor.to_owned());
            event.subject = Some(owner);
            event.credential_id = Some(b64::encode(&credential.id));
            event.aaguid = Some(credential.aaguid.clone());
            event.outcome = Some(Outcome::Success);
            event.reason = Some(format!("tier {} -> {tier}: {reasons}", credential.tier));
            if suspend {
                self.sessions_ending(tx, EndingSessions::Credential(&credential.id))
                    .await?;
                tx.quarantine_credential(&credential.id).await?;
                tx.end_sessions_of_credential(&credential.id, self.now_ms())
                    .await?;
                event.severity = Some(Severity::High);
                suspended += 1;
            } else {
                retiered += 1;
            }
            tx.record(event).await?;
        }
        Ok((retiered, suspended))
    }
}
