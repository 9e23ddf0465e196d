//! Enrolment: creation options, then the verified credential stored with its
//! audit event in one transaction.

use crate::EventKind;
use crate::Refusal;
use keybound_audit::Outcome;
use keybound_store::{Challenge, Credential, Identity, IdentityStatus, StoreError};
use keybound_webauthn::{
    b64, challenge_of, verify_registration, AttestationConveyancePreference, AttestationTrust,
    AttestationType, AuthenticatorSelectionCriteria, CoseAlgorithm,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialDescriptor, PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity, RegistrationExpectation, RegistrationResponse,
    ResidentKeyRequirement, UserVerificationRequirement,
};
use serde::{Deserialize, Serialize};

use crate::ceremony::{refuse, Failure};
use crate::invite::hex_id;
use crate::tokens::{hash_token, sha256};
use crate::{ClientContext, Service, ServiceError, Token};

/// The largest COSE_Key stored (bytes, as the client encoded it).
const MAX_PUBLIC_KEY_BYTES: usize = 2048;
/// Credentials (active or quarantined) one identity may hold: enough for
/// every device a person owns, not a way to fill the table.
const MAX_CREDENTIALS_PER_IDENTITY: usize = 32;

/// What entitles a browser to register a credential.
#[derive(Debug, Clone, Copy)]
pub enum RegistrationStart<'a> {
    /// An invitation token.
    Invitation(&'a str),
    /// A signed-in session adding a credential to its own account; it must
    /// have signed in within the step-up window (device replacement:
    /// prove an existing credential, add the new one, revoke the old).
    Session(&'a str),
    /// Open registration of a name (only with `open_registration`).
    Open(&'a str),
}

/// What the client asked for in `/attestation/options`, honoured within
/// the server's policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistrationRequest {
    /// `authenticatorSelection` (attachment, resident key, UV).
    pub authenticator_selection: Option<AuthenticatorSelectionCriteria>,
    /// `attestation` conveyance.
    pub attestation: Option<AttestationConveyancePreference>,
    /// Client extension inputs; only supported ones (`credProps`) are
    /// echoed into the options, the rest dropped.
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
    /// `displayName` for the account; the name when absent.
    pub display_name: Option<String>,
    /// The name the client asked to enrol, when it named one. With an
    /// invitation or a session it must be the name of the account they
    /// entitle: a credential is never attached to an account other than
    /// the one the person asked for.
    pub username: Option<String>,
}

/// The stored state of a registration ceremony.
#[derive(Serialize, Deserialize)]
struct Pending {
    identity_id: Option<String>,
    new_name: Option<String>,
    user_handle: String,
    grant_hash: Option<String>,
    algorithms: Vec<CoseAlgorithm>,
    user_verification: UserVerificationRequirement,
    /// Started by a signed-in session adding a credential; otherwise the
    /// new credential signs its holder in.
    #[serde(default)]
    by_session: bool,
    /// The tier the adding session had proved: the new credential counts
    /// no more than that until attestation or an administrator vouches.
    #[serde(default)]
    session_tier: Option<i64>,
    /// The adding session (hashed cookie): it must still be live when the
    /// answer arrives, so signing out or a revocation in between stops it.
    #[serde(default)]
    session_hash: Option<String>,
}

/// A credential was enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The identity's name.
    pub name: String,
    /// The new credential's id.
    pub credential_id: Vec<u8>,
    /// A session opened with the new credential, when the ceremony was not
    /// started by a session already (invitation, open registration): the
    /// person just proved they hold it.
    pub session: Option<Token>,
}

impl Service {
    /// Issues creation options for whoever `start` entitles, remembering the
    /// challenge for `browser` (the hash of the ceremony cookie).
    ///
    /// A request for `userVerification: required` is enforced when the
    /// response arrives; by default UV and resident keys are preferred.
    pub async fn begin_registration(
        &self,
        browser: &[u8],
        start: RegistrationStart<'_>,
        request: &RegistrationRequest,
    ) -> Result<PublicKeyCredentialCreationOptions, ServiceError> {
        self.begin_registration_from(browser, start, request, &ClientContext::default())
            .await
    }

    /// [`Service::begin_registration`] with where the request came from,
    /// for the audit record of a refusal.
    pub async fn begin_registration_from(
        &self,
        browser: &[u8],
        start: RegistrationStart<'_>,
        request: &RegistrationRequest,
        ctx: &ClientContext,
    ) -> Result<PublicKeyCredentialCreationOptions, ServiceError> {
        let display_name = crate::bounds::display_name(request.display_name.as_deref())?;
        let now = self.now_ms();
        let by_session = matches!(start, RegistrationStart::Session(_));
        let mut session_tier = None;
        let mut session_hash = None;
        let mut tx = self.store.begin().await?;
        let (identity, new_name, grant_hash): (Option<Identity>, Option<String>, Option<Vec<u8>>) =
            match start {
                RegistrationStart::Invitation(token) => {
                    let hash = hash_token(token);
                    let grant = tx
                        .find_grant(&hash, now)
                        .await?
                        .ok_or(ServiceError::Forbidden)?;
                    let identity = tx
                        .identity_by_id(&grant.identity_id)
                        .await?
                        .ok_or(ServiceError::Forbidden)?;
                    // An invitation enrols an account nobody holds yet; once
                    // the account is live, an older link is worth nothing
                    // (a recovery grant is how a live account is recovered).
                    if grant.kind == "invitation" && identity.status == IdentityStatus::Active {
                        drop(tx);
                        let mut event = self.event(EventKind::RegistrationOptions, ctx);
                        event.subject = Some(identity.name.clone());
                        event.actor = Some(grant.issued_by.clone());
                        event.severity = Some(keybound_audit::Severity::High);
                        return Err(self
                            .record_refusal(event, Refusal::IdentityActive, None)
                            .await);
                    }
                    (Some(identity), None, Some(hash))
                }
                RegistrationStart::Session(token) => {
                    let session = tx
                        .live_session(&hash_token(token), now)
                        .await?
                        .ok_or(ServiceError::Forbidden)?;
                    // Binding a new key to an account is a step-up action:
                    // a stale (perhaps stolen) session cannot do it.
                    if !crate::policy::fresh(session.created_ms, now) {
                        return Err(ServiceError::StepUpRequired);
                    }
                    session_tier = Some(session.tier);
                    session_hash = Some(b64::encode(&session.id_hash));
                    let identity = tx
                        .identity_by_id(&session.identity_id)
                        .await?
                        .ok_or(ServiceError::Forbidden)?;
                    (Some(identity), None, None)
                }
                RegistrationStart::Open(name) => {
                    if !self.config.open_registration {
                        return Err(ServiceError::Forbidden);
                    }
                    // The naming rule, and no look-alike of an existing
                    // name (keybound_names; the store's skeleton index).
                    let name = keybound_names::canonical(name)
                        .map_err(|_| ServiceError::Rejected(Refusal::InvalidName))?;
                    // Open registration only ever creates an identity: a
                    // name that exists in any state (active, invited,
                    // offboarded), or a look-alike of one, is refused like
                    // any failed ceremony, and the options never carry
                    // anything of that account.
                    if tx.identity_resembling(&name).await?.is_some() {
                        drop(tx);
                        let mut event = self.event(EventKind::RegistrationOptions, ctx);
                        event.subject = Some(name);
                        return Err(self.record_refusal(event, Refusal::NameTaken, None).await);
                    }
                    (None, Some(name), None)
                }
            };
        if let (Some(identity), Some(asked)) = (&identity, request.username.as_deref()) {
            let same = asked == identity.name
                || keybound_names::canonical(asked).is_ok_and(|asked| {
                    keybound_names::canonical(&identity.name).ok() == Some(asked)
                });
            if !asked.is_empty() && !same {
                // A signed-in (perhaps shared) browser or an invitation
                // names one account; the client asked for another.
                drop(tx);
                let mut event = self.event(EventKind::RegistrationOptions, ctx);
                event.actor = Some(identity.name.clone());
                event.subject = Some(keybound_names::for_audit(asked));
                event.severity = Some(keybound_audit::Severity::Warning);
                return Err(self
                    .record_refusal(event, Refusal::NameMismatch, None)
                    .await);
            }
        }
        if let Some(barred) = identity.as_ref().filter(|i| {
            i.status == IdentityStatus::Offboarded || i.status == IdentityStatus::Suspended
        }) {
            let mut event = self.event(EventKind::RegistrationOptions, ctx);
            event.subject = Some(barred.name.clone());
            drop(tx);
            return match self
                .record_refusal(event, Refusal::IdentityNotEnrollable, None)
                .await
            {
                ServiceError::Rejected(_) => Err(ServiceError::Forbidden),
                internal => Err(internal),
            };
        }
        let (name, user_handle) = match &identity {
            Some(i) => (i.name.clone(), i.user_handle.clone()),
            None => (
                new_name.clone().unwrap_or_default(),
                self.random::<32>().to_vec(),
            ),
        };
        let exclude = match &identity {
            Some(i) => tx.credentials_of(&i.id).await?,
            None => Vec::new(),
        };

        let mut options = {
            let mut rng = self.kernel.rng();
            PublicKeyCredentialCreationOptions::new(
                PublicKeyCredentialRpEntity {
                    id: self.config.rp_id.clone(),
                    name: self.config.rp_name.clone(),
                },
                PublicKeyCredentialUserEntity {
                    id: user_handle.clone(),
                    display_name: display_name.unwrap_or_else(|| name.clone()),
                    name,
                },
                &CoseAlgorithm::ALL,
                &mut **rng,
            )
        };
        options.exclude_credentials = exclude
            .into_iter()
            .map(|c| PublicKeyCredentialDescriptor::new(c.id, c.transports))
            .collect();
        let selection = request.authenticator_selection.clone().unwrap_or_else(|| {
            AuthenticatorSelectionCriteria {
                resident_key: Some(ResidentKeyRequirement::Preferred),
                user_verification: UserVerificationRequirement::Preferred,
                ..Default::default()
            }
        });
        let mut selection = selection;
        if self.config.policy.require_user_verification {
            selection.user_verification = UserVerificationRequirement::Required;
        }
        let user_verification = selection.user_verification;
        options.authenticator_selection = Some(selection);
        options.attestation = request
            .attestation
            .unwrap_or(self.config.policy.attestation);
        options.extensions = crate::bounds::registration_extensions(request.extensions.as_ref());
        options.timeout = u32::try_from(self.config.challenge_ttl_ms).ok();

        let pending = Pending {
            identity_id: identity.map(|i| i.id),
            new_name,
            user_handle: b64::encode(&user_handle),
            grant_hash: grant_hash.map(|h| b64::encode(&h)),
            algorithms: options.algorithms(),
            user_verification,
            by_session,
            session_tier,
            session_hash,
        };
        tx.insert_challenge(&Challenge {
            challenge_hash: sha256(&options.challenge),
            session_hash: browser.to_vec(),
            ceremony: "registration".to_owned(),
            payload: serde_json::to_string(&pending)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            expires_ms: now.saturating_add(self.config.challenge_ttl_ms),
        })
        .await?;
        tx.commit().await?;
        Ok(options)
    }

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
        let mut reader = self.store.read().await?;
        let stored = reader
            .peek_challenge(&sha256(&challenge), browser, "registration", now)
            .await?
            .ok_or_else(|| refuse(Refusal::NoMatchingChallenge, &event))?;
        let metadata = self
            .current_metadata(&mut reader)
            .await
            .map_err(Failure::Internal)?;
        drop(reader);
        let pending: Pending = serde_json::from_str(&stored.payload)
            .map_err(|e| Failure::Internal(ServiceError::Internal(e.to_string())))?;
        let anchors = self.trust_anchors_at(now).map_err(Failure::Internal)?;
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
        // nodes race for it). A refusal above still consumes it, as before:
        // a challenge answers once, right or wrong.
        let mut tx = self.store.begin().await?;
        let _: Pending = self
            .take_pending(&mut tx, browser, &challenge, "registration", &event)
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
            if earned.tier < min {
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
        tx.append_audit(event).await?;
        if let Some(alert) = alert {
            tx.append_audit(alert).await?;
        }
        tx.commit().await?;
        Ok(Enrolled {
            name: identity.name,
            credential_id: credential.id,
            session,
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
        if standing.tier < policy.registration_min_tier {
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
