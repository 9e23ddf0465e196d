//! Finishing a registration: verify on a reader's look, then bind the key
//! under the writer, with its audit event, in one transaction.

use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::Outcome;
use keybound_store::{Credential, Identity, IdentityStatus, StoreError};
use keybound_webauthn::{
    b64, challenge_of, verify_registration, AttestationTrust, AttestationType,
    RegistrationExpectation, RegistrationResponse,
};

use crate::ceremony::{refuse, Failure};
use crate::tokens::hex_id;
use crate::{ClientContext, Service, ServiceError};

use super::{Enrolled, Pending, MAX_CREDENTIALS_PER_IDENTITY, MAX_PUBLIC_KEY_BYTES};

impl Service {
    /// Verifies a registration response and stores the credential, with its
    /// audit event, in one transaction. A refusal stores nothing but its
    /// audit event and returns [`ServiceError::Rejected`] with the reason.
    pub async fn finish_registration(
        &self,
        browser: &[u8],
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<Enrolled, ServiceError> {
        let attempt = self.try_finish_registration(browser, None, body, ctx).await;
        self.settle(attempt).await
    }

    /// [`Service::finish_registration`] from a browser that may hold the
    /// session cookie `previous`: when the enrolment signs in someone else
    /// (an invitation opened in a browser signed in as another person), the
    /// earlier session ends in the same transaction and is audited, rather
    /// than living on server-side after its cookie was replaced.
    pub async fn finish_registration_replacing(
        &self,
        browser: &[u8],
        previous: Option<&str>,
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<Enrolled, ServiceError> {
        let attempt = self
            .try_finish_registration(browser, previous, body, ctx)
            .await;
        self.settle(attempt).await
    }

    async fn try_finish_registration(
        &self,
        browser: &[u8],
        previous: Option<&str>,
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<Enrolled, Failure> {
        let now = self.now_ms();
        let mut event = self.event(EventKind::Registration, ctx);
        let response = RegistrationResponse::from_json(body)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;
        event.credential_id = Some(b64::encode(&response.raw_id));
        let challenge = challenge_of(&response.client_data_json)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;

        // First look, on a reader beside the writer: the ceremony's state
        // (the challenge is not taken yet) and the metadata. The
        // attestation check, the costliest CPU work in the system, then
        // runs while other ceremonies use the writer, as sign-in's does.
        let mut reader = self.kernel.store.read().await?;
        let pending: Pending = self
            .peek_pending(
                &mut reader,
                browser,
                &challenge,
                "registration",
                now,
                &event,
            )
            .await?;
        let metadata = self
            .current_metadata(&mut reader)
            .await
            .map_err(Failure::Internal)?;
        drop(reader);
        let anchors = self.trust.anchors_at(now).map_err(Failure::Internal)?;
        let verified = verify_registration(
            &RegistrationExpectation {
                challenge: &challenge,
                rp_id: &self.config.rp_id,
                origins: &self.config.origins,
                algorithms: &pending.algorithms,
                user_verification: pending.user_verification,
                trust_anchors: &anchors,
                allow_sha1_tpm_attestation: self.config.policy.allow_sha1_tpm_attestation,
            },
            response,
        )
        .map_err(|e| refuse(Refusal::Verification(e.reason()), &event));

        // Then, under the writer: take the challenge (once, however many
        // nodes race for it). A refusal from here on, the verification's
        // included, rolls the take back with the rest, as before.
        let mut tx = self.kernel.store.begin().await?;
        self.take_challenge(&mut tx, browser, &challenge, "registration", now, &event)
            .await?;
        let verified = verified?;
        // A ceremony for an existing account is entitled by a grant or by a
        // live session; state naming an account with neither (written by an
        // older node during an upgrade) is not honoured.
        if pending.identity_id.is_some()
            && pending.grant_hash.is_none()
            && pending.session_hash.is_none()
        {
            return Err(refuse(Refusal::StaleCeremonyState, &event));
        }
        event.aaguid = Some(verified.aaguid.to_string());
        event.user_verified = Some(verified.user_verified);
        event.sign_count = Some(verified.sign_count);
        event.origin = Some(verified.client_data.origin.clone());
        event.attestation = Some(format!(
            "{}/{}{}",
            verified.attestation.format.as_str(),
            attestation_type(verified.attestation.attestation_type),
            if verified.attestation.legacy_sha1_signature {
                " (legacy SHA-1 signature)"
            } else {
                ""
            }
        ));
        let chain = match &verified.attestation.trust {
            AttestationTrust::Verified { chain } | AttestationTrust::Unverified { chain, .. } => {
                chain.clone()
            }
            _ => Vec::new(),
        };
        if !crate::bounds::attestation_chain_fits(&chain) {
            return Err(refuse(Refusal::AttestationChainTooLarge, &event));
        }
        let judgement = crate::metadata::evidence(
            metadata.as_deref(),
            &verified.aaguid.to_string(),
            &chain,
            u64::try_from(now / 1000).unwrap_or_default(),
        );
        if pending.device.is_some() {
            crate::devices::enrol::fit_for_device(&verified, &judgement.form)
                .map_err(|reason| refuse(reason, &event))?;
        }
        if judgement.adverse.is_some() {
            event.severity = Some(keybound_audit::Severity::Warning);
            return Err(refuse(Refusal::AuthenticatorModelCompromised, &event));
        }
        let attested = judgement.model.attested
            || matches!(
                verified.attestation.trust,
                AttestationTrust::Verified { .. }
            );
        let earned = judgement.standing(verified.backup_eligible, verified.user_verified);
        // A key added from a signed-in session proves no more than that
        // session did, unless its attestation vouches for it: otherwise a
        // synced-passkey session could mint tier 2 by adding a key that
        // merely reports itself device-bound.
        let tier_cap = pending
            .session_tier
            .filter(|cap| !attested && earned.tier > *cap);
        let limits = crate::tiers::Limits {
            attested,
            cap: None,
            require_attestation: self.config.policy.tier2_requires_attestation,
        };
        // Minimum-tier policies judge what the key earned: the session cap
        // only says how much it counts for now, and must not stop a tier-1
        // administrator from adding the key another administrator will
        // vouch for.
        let earned = crate::tiers::limited(earned, limits);
        self.check_policy(&verified.aaguid.to_string(), &earned)
            .map_err(|reason| refuse(reason, &event))?;
        let standing = crate::tiers::limited(
            earned.clone(),
            crate::tiers::Limits {
                cap: tier_cap,
                ..limits
            },
        );

        let mut by_invitation = false;
        if let Some(grant) = &pending.grant_hash {
            let hash = b64::decode(grant).unwrap_or_default();
            let grant = tx
                .take_grant(&hash, now)
                .await?
                .ok_or_else(|| refuse(Refusal::GrantUsedOrExpired, &event))?;
            if standing.tier < grant.min_tier {
                return Err(refuse(Refusal::TierBelowGrant, &event));
            }
            if grant.kind == "recovery" {
                // A key bound to an existing account by the M-of-N path.
                event.severity = Some(keybound_audit::Severity::High);
                event.actor = Some(grant.issued_by.clone());
            }
            by_invitation = grant.kind == "invitation";
        }
        if let Some(session) = &pending.session_hash {
            let hash = b64::decode(session).unwrap_or_default();
            let live = tx.live_session(&hash, now).await?;
            if live.is_none_or(|s| Some(&s.identity_id) != pending.identity_id.as_ref()) {
                return Err(refuse(Refusal::SessionEnded, &event));
            }
            // A key bound to an active account by that account's own
            // fresh sign-in.
            event.severity = Some(keybound_audit::Severity::High);
        }
        let identity = match (&pending.identity_id, &pending.new_name) {
            (Some(id), _) => tx
                .identity_by_id(id)
                .await?
                .ok_or_else(|| refuse(Refusal::IdentityGone, &event))?,
            (None, Some(name)) => {
                let identity = Identity {
                    kind: keybound_store::IdentityKind::Person,
                    id: hex_id(self.random::<16>()),
                    name: name.clone(),
                    status: IdentityStatus::Active,
                    is_admin: false,
                    user_handle: b64::decode(&pending.user_handle).unwrap_or_default(),
                    created_ms: now,
                };
                match tx.insert_identity(&identity).await {
                    Err(StoreError::Conflict) => return Err(refuse(Refusal::NameTaken, &event)),
                    other => other?,
                }
                identity
            }
            (None, None) => return Err(refuse(Refusal::NoIdentity, &event)),
        };
        event.subject = Some(identity.name.clone());
        // An invitation enrols only an account nobody holds yet: one that
        // went live since the options were issued is refused.
        if by_invitation && identity.status != IdentityStatus::Invited {
            event.severity = Some(keybound_audit::Severity::High);
            return Err(refuse(Refusal::IdentityActive, &event));
        }
        if matches!(
            identity.status,
            IdentityStatus::Offboarded | IdentityStatus::Suspended
        ) {
            return Err(refuse(Refusal::IdentityNotEnrollable, &event));
        }
        if let Some(min) = crate::policy::group_min_tier(&self.config.policy, identity.is_admin) {
            if !min.reached_by(earned.tier) {
                return Err(refuse(Refusal::TierBelowGroupPolicy, &event));
            }
        }
        // The key is stored as the client encoded it: a COSE_Key padded
        // with unknown labels would otherwise put kilobytes into a row per
        // registration. The largest real one (RSA-4096) is under 600 bytes.
        if verified.public_key.cose_bytes().len() > MAX_PUBLIC_KEY_BYTES {
            return Err(refuse(Refusal::PublicKeyTooLarge, &event));
        }
        let held = tx
            .credentials_of(&identity.id)
            .await?
            .iter()
            .filter(|c| !matches!(c.status, keybound_store::CredentialStatus::Revoked(_)))
            .count();
        if held >= MAX_CREDENTIALS_PER_IDENTITY {
            return Err(refuse(Refusal::TooManyCredentials, &event));
        }

        let credential = Credential {
            id: verified.credential_id.clone(),
            identity_id: identity.id.clone(),
            public_key: verified.public_key.cose_bytes().to_vec(),
            alg: verified.algorithm().id(),
            sign_count: verified.sign_count,
            aaguid: verified.aaguid.to_string(),
            attestation_format: verified.attestation.format.as_str().to_owned(),
            attestation_type: attestation_type(verified.attestation.attestation_type).to_owned(),
            attestation_trust: attestation_trust(&verified.attestation.trust),
            transports: verified.transports.clone(),
            backup_eligible: verified.backup_eligible,
            backup_state: verified.backup_state,
            user_verified: verified.user_verified,
            nickname: None,
            created_ms: now,
            last_used_ms: None,
            status: keybound_store::CredentialStatus::Active,
            tier: standing.tier,
            tier_reasons: standing.reasons.clone(),
            attestation_chain: chain.iter().map(|c| b64::encode(c)).collect(),
            tier_cap,
        };
        match tx.insert_credential(&credential).await {
            Err(StoreError::Conflict) => return Err(refuse(Refusal::CredentialIdTaken, &event)),
            other => other?,
        }
        if identity.status == IdentityStatus::Invited {
            tx.set_identity_status(&identity.id, IdentityStatus::Active)
                .await?;
        }
        let device = match &pending.device {
            Some(device) => Some(
                self.enrol_device(
                    &mut tx,
                    crate::devices::enrol::Enrolment {
                        pending: device,
                        owner: &identity,
                        verified: &verified,
                        judgement: &judgement,
                        chain: &chain,
                        ctx,
                    },
                    &event,
                )
                .await?,
            ),
            None => None,
        };
        let session = if pending.by_session {
            None
        } else {
            if let Some(previous) = previous {
                self.end_replaced_session(&mut tx, previous, &identity, ctx)
                    .await?;
            }
            Some(
                self.start_session(
                    &mut tx,
                    &identity.id,
                    &credential.id,
                    verified.user_verified,
                    crate::tiers::session_tier(standing.tier, verified.user_verified),
                )
                .await?,
            )
        };
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!("tier {}: {}", standing.tier, standing.reasons));
        let alert = event.ip.as_deref().and_then(|ip| {
            let t = self.config.alerts;
            let source = crate::rate_limit::source::bucket_of(Some(ip));
            self.people.detectors.observe(
                "registrations",
                &source,
                &identity.name,
                false,
                t.registrations,
                t.window_ms,
                now,
            )
        });
        tx.record(event).await?;
        // The detector's alert carries its source as the address.
        let source = alert
            .as_ref()
            .and_then(|a| a.ip.clone())
            .unwrap_or_default();
        let alert = self
            .claimed_alert(&mut tx, "registrations", &source, alert)
            .await?;
        if let Some(alert) = alert {
            tx.record(alert).await?;
        }
        tx.commit().await?;
        Ok(Enrolled {
            name: identity.name,
            credential_id: credential.id,
            session,
            device,
        })
    }
}

impl Service {
    /// The registration policy's verdict on a new credential: `Err` names
    /// the rule it breaks, for the audit log.
    fn check_policy(&self, aaguid: &str, standing: &crate::tiers::Standing) -> Result<(), Refusal> {
        let policy = &self.config.policy;
        let listed = |list: &[String]| list.iter().any(|a| a.eq_ignore_ascii_case(aaguid));
        if listed(&policy.aaguid_deny) {
            return Err(Refusal::AaguidDenied);
        }
        if !policy.aaguid_allow.is_empty() && !listed(&policy.aaguid_allow) {
            return Err(Refusal::AaguidNotAllowed);
        }
        if !policy.registration_min_tier.reached_by(standing.tier) {
            return Err(Refusal::TierBelowPolicy);
        }
        Ok(())
    }
}

fn attestation_type(t: AttestationType) -> &'static str {
    match t {
        AttestationType::None => "none",
        AttestationType::SelfAttestation => "self",
        AttestationType::Basic => "basic",
        AttestationType::AttCa => "attca",
        AttestationType::AnonCa => "anonca",
        _ => "unknown",
    }
}

fn attestation_trust(t: &AttestationTrust) -> String {
    match t {
        AttestationTrust::NotApplicable => "not_applicable".to_owned(),
        AttestationTrust::Verified { .. } => "verified".to_owned(),
        AttestationTrust::Unverified { reason, .. } => format!("unverified:{reason:?}"),
    }
}
