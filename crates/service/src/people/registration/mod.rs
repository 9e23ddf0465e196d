//! Enrolment: creation options, then the verified credential stored with its
//! audit event in one transaction.

use crate::EventKind;
use crate::Refusal;
use keybound_store::{Challenge, Identity, IdentityStatus};
use keybound_webauthn::{
    b64, AttestationConveyancePreference, AuthenticatorSelectionCriteria, CoseAlgorithm,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialDescriptor, PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity, ResidentKeyRequirement, UserVerificationRequirement,
};
use serde::{Deserialize, Serialize};

mod finish;

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
    /// A signed-in session enrolling the device it runs on ("Trust this
    /// device", issue 16): a session-added credential that also becomes a
    /// device called `label`. The options ask for a platform authenticator
    /// with user verification and direct (or enterprise) attestation; the
    /// answer is refused if the key is synced, roaming or unverified.
    Device {
        /// The session cookie.
        session: &'a str,
        /// What the person calls the device (1-64 printable characters).
        label: &'a str,
    },
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
    /// Enrolling the device the session runs on (issue 16).
    #[serde(default)]
    device: Option<crate::devices::enrol::PendingDevice>,
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
    /// The device enrolled with it ([`RegistrationStart::Device`]).
    pub device: Option<crate::EnrolledDevice>,
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
        let by_session = matches!(
            start,
            RegistrationStart::Session(_) | RegistrationStart::Device { .. }
        );
        let device = match start {
            RegistrationStart::Device { label, .. } => Some(
                crate::devices::enrol::PendingDevice::new(label, self.enterprise_attestation())?,
            ),
            _ => None,
        };
        let mut session_tier = None;
        let mut session_hash = None;
        let mut tx = self.kernel.store.begin().await?;
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
                RegistrationStart::Session(token)
                | RegistrationStart::Device { session: token, .. } => {
                    let session = tx
                        .live_session(&hash_token(token), now)
                        .await?
                        .ok_or(ServiceError::Forbidden)?;
                    // Binding a new key to an account is a step-up action:
                    // a stale (perhaps stolen) session cannot do it.
                    if !crate::policy::fresh(session.created_ms, now, self.config.step_up_window_ms)
                    {
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
        let user_verification = match &device {
            Some(_) => self.device_options(&mut options),
            None => user_verification,
        };
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
            device,
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
}
