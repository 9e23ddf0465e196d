//! Sign-in: request options (by name, username-less, or plausibly for a
//! name that does not exist), then the verified assertion becomes a session.

use crate::record::Record;
use crate::EventKind;
use crate::Refusal;
use keybound_audit::{NewEvent, Outcome};
use keybound_store::{Challenge, CredentialStatus, EndingSessions, Session, StoreError, WriteTx};
use keybound_webauthn::{
    b64, challenge_of, verify_authentication, AuthenticationExpectation, AuthenticationResponse,
    CredentialPublicKey, Error as VerifyError, PublicKeyCredentialRequestOptions, StoredCredential,
    UserVerificationRequirement, VerifiedAuthentication,
};
use serde::{Deserialize, Serialize};

use crate::ceremony::{refuse, refuse_and_quarantine, refuse_unknown, Failure};
use crate::tokens::{hash_token, sha256};
use crate::{ClientContext, Service, ServiceError, Token};

/// What the client asked for in `/assertion/options`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthenticationRequest {
    /// `userVerification`; `required` is then enforced on the response.
    pub user_verification: Option<UserVerificationRequirement>,
    /// Client extension inputs; none is supported at sign-in, so none is
    /// echoed into the options.
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The stored state of a sign-in ceremony.
#[derive(Serialize, Deserialize)]
struct Pending {
    identity_id: Option<String>,
    allowed: Vec<String>,
    user_verification: UserVerificationRequirement,
}

/// A sign-in succeeded and a session began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session cookie value (shown once; stored hashed).
    pub session: Token,
    /// Who signed in.
    pub name: String,
    /// With which credential.
    pub credential_id: Vec<u8>,
    /// Whether the user was verified.
    pub user_verified: bool,
    /// The tier the session reached.
    pub tier: i64,
}

/// What a sign-in answer is checked against.
struct Attempt<'a> {
    challenge: &'a [u8],
    pending: &'a Pending,
    allowed: &'a [Vec<u8>],
    response: &'a AuthenticationResponse,
    user_handle: &'a [u8],
}

/// Refuses a credential that may not sign in: quarantined (a suspected
/// clone) or revoked.
fn usable(credential: &keybound_store::Credential, event: &NewEvent) -> Result<(), Failure> {
    match credential.status {
        CredentialStatus::Active => Ok(()),
        CredentialStatus::Quarantined => {
            let mut event = event.clone();
            event.severity = Some(keybound_audit::Severity::Warning);
            Err(refuse(Refusal::CredentialQuarantined, &event))
        }
        CredentialStatus::Revoked(_) => {
            // Someone still holds a key we took away: worth a look.
            let mut event = event.clone();
            event.severity = Some(keybound_audit::Severity::Warning);
            Err(refuse_unknown(Refusal::CredentialRevoked, &event))
        }
    }
}

/// An owner id no identity has (ids are 32 hex digits).
const STAND_IN_OWNER: &str = "decoy";

/// A P-256 public key (the curve's generator, private key 1) as a COSE_Key:
/// what a decoy's answer is verified against. ES256, as most passkeys.
const STAND_IN_KEY: [u8; 77] = [
    0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c,
    0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
    0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x22, 0x58, 0x20, 0x4f, 0xe3, 0x42,
    0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
    0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

impl Service {
    /// Request options. `""` gives username-less options; an unknown name
    /// gets options of the same shape with a decoy credential id derived from
    /// the name with a server secret, so replies do not reveal who has an
    /// account.
    pub async fn begin_authentication(
        &self,
        browser: &[u8],
        name: &str,
        request: &AuthenticationRequest,
    ) -> Result<PublicKeyCredentialRequestOptions, ServiceError> {
        let now = self.now_ms();
        let (identity_id, allow) = if name.is_empty() {
            (None, Vec::new())
        } else {
            // Its usable credentials, or decoys shaped like a real
            // account's (crate::decoys).
            self.allow_list(name).await?
        };
        let mut options = {
            let mut rng = self.kernel.rng();
            PublicKeyCredentialRequestOptions::new(&self.config.rp_id, &mut **rng)
        };
        options.allow_credentials = allow;
        if let Some(uv) = request.user_verification {
            options.user_verification = uv;
        }
        options.extensions = crate::bounds::authentication_extensions(request.extensions.as_ref());
        options.timeout = u32::try_from(self.config.challenge_ttl_ms).ok();
        let pending = Pending {
            identity_id,
            allowed: options
                .allow_credentials
                .iter()
                .map(|d| b64::encode(&d.id))
                .collect(),
            user_verification: options.user_verification,
        };
        let mut tx = self.kernel.store.begin().await?;
        tx.insert_challenge(&Challenge {
            challenge_hash: sha256(&options.challenge),
            session_hash: browser.to_vec(),
            ceremony: "authentication".to_owned(),
            payload: serde_json::to_string(&pending)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            expires_ms: now.saturating_add(self.config.challenge_ttl_ms),
        })
        .await?;
        tx.commit().await?;
        Ok(options)
    }

    /// Verifies an assertion and starts a session, recording the new counter
    /// and the audit event in one transaction.
    pub async fn finish_authentication(
        &self,
        browser: &[u8],
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<SignedIn, ServiceError> {
        let attempt = self
            .try_finish_authentication(browser, body, ctx, None)
            .await;
        self.settle(attempt).await
    }

    /// A sign-in from a browser that already holds `previous` (its session
    /// cookie): the new session replaces it, in the same transaction. When
    /// both belong to the same person this is a step-up: the new session
    /// keeps the higher of the two tiers, so proving more raises it and
    /// proving less does not lower it. Otherwise it is a plain sign-in.
    pub async fn step_up(
        &self,
        previous: &str,
        browser: &[u8],
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<SignedIn, ServiceError> {
        let attempt = self
            .try_finish_authentication(browser, body, ctx, Some(previous))
            .await;
        self.settle(attempt).await
    }

    async fn try_finish_authentication(
        &self,
        browser: &[u8],
        body: &[u8],
        ctx: &ClientContext,
        previous: Option<&str>,
    ) -> Result<SignedIn, Failure> {
        let now = self.now_ms();
        let mut event = self.event(EventKind::Authentication, ctx);
        let response = AuthenticationResponse::from_json(body)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;
        event.credential_id = Some(b64::encode(&response.raw_id));
        let challenge = challenge_of(&response.client_data_json)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;

        // First look, on a reader beside the writer: the challenge (not
        // taken yet), the credential, its owner.
        let mut tx = self.kernel.store.read().await?;
        let pending: Pending = self
            .peek_pending(&mut tx, browser, &challenge, "authentication", now, &event)
            .await?;
        let Some(credential) = tx.credential(&response.raw_id).await? else {
            // A decoy must fail like a real credential with a bad signature,
            // or answering with it would tell which names have accounts:
            // the same owner look-up and the same verification (against a
            // stand-in key), so the time taken tells nothing either.
            if crate::decoys::is_decoy(&self.config.enumeration_secret, &response.raw_id) {
                let _ = tx.identity_by_id(STAND_IN_OWNER).await?;
                drop(tx);
                self.verify_as_if_real(&challenge, &pending, &response);
                return Err(refuse(Refusal::DecoyCredential, &event));
            }
            return Err(refuse_unknown(Refusal::UnknownCredential, &event));
        };
        let identity = tx
            .identity_by_id(&credential.identity_id)
            .await?
            .ok_or_else(|| refuse(Refusal::UnknownCredential, &event))?;
        event.subject = Some(identity.name.clone());
        event.aaguid = Some(credential.aaguid.clone());
        if let Err(refused) = usable(&credential, &event) {
            // A decommissioned device's credential is revoked: its use
            // is refused as any revoked credential's, and alerted on.
            let alert =
                crate::devices::decommission::returned_alert(&mut tx, &credential.id, &event)
                    .await?;
            return Err(crate::ceremony::with_alert(refused, alert));
        }
        drop(tx);
        if pending
            .identity_id
            .as_ref()
            .is_some_and(|id| *id != identity.id)
        {
            return Err(refuse(Refusal::CredentialOfAnotherIdentity, &event));
        }
        if identity.status != keybound_store::IdentityStatus::Active {
            return Err(refuse(Refusal::IdentityNotActive, &event));
        }
        let allowed: Vec<Vec<u8>> = pending
            .allowed
            .iter()
            .filter_map(|id| b64::decode(id).ok())
            .collect();
        // The signature check, the costly part, runs while other ceremonies
        // use the writer.
        let attempt = Attempt {
            challenge: &challenge,
            pending: &pending,
            allowed: &allowed,
            response: &response,
            user_handle: &identity.user_handle,
        };
        // A counter that did not grow may only mean that a copy of this very
        // answer won the race for the challenge meanwhile: that suspicion is
        // confirmed under the writer, with the challenge in hand, before
        // anything is quarantined.
        let verified = match self.check_assertion(&attempt, &credential, &event) {
            Ok(verified) => Some(verified),
            Err(Failure::Refused(refusal)) if refusal.quarantine.is_some() => None,
            Err(refused) => return Err(refused),
        };

        // Then, under the writer: take the challenge (once, however many
        // nodes race for it) and record the use, provided the credential is
        // still active with the counter the assertion was judged against.
        // If a concurrent sign-in moved the counter or it was revoked
        // meanwhile, read it again and judge again against what is stored.
        let mut tx = self.kernel.store.begin().await?;
        self.take_challenge(&mut tx, browser, &challenge, "authentication", now, &event)
            .await?;
        let unchanged = match &verified {
            Some(verified) => {
                tx.record_use_if_unchanged(
                    &credential.id,
                    credential.sign_count,
                    verified.sign_count,
                    verified.backup_state,
                    now,
                )
                .await?
            }
            None => false,
        };
        let verified = match verified {
            Some(verified) if unchanged => verified,
            _ => {
                let current = tx
                    .credential(&credential.id)
                    .await?
                    .ok_or_else(|| refuse_unknown(Refusal::UnknownCredential, &event))?;
                usable(&current, &event)?;
                let verified = self.check_assertion(&attempt, &current, &event)?;
                tx.record_use(&current.id, verified.sign_count, verified.backup_state, now)
                    .await?;
                verified
            }
        };
        // The identity was judged active in the read above; a suspension or
        // offboarding that committed since must not leave a session behind,
        // so its status is read again under the writer. (The credential's
        // status was re-checked above: the recorded use wants it active.)
        let still_active = tx
            .identity_by_id(&identity.id)
            .await?
            .is_some_and(|now| now.status == keybound_store::IdentityStatus::Active);
        if !still_active {
            return Err(refuse(Refusal::IdentityNotActive, &event));
        }
        // A sign-in with a device's credential proves the device (issue 16).
        crate::devices::decommission::touch_device(&mut tx, &credential.id, now).await?;
        event.user_verified = Some(verified.user_verified);
        event.sign_count = Some(verified.sign_count);
        event.origin = Some(verified.client_data.origin.clone());

        // The session's tier is what this sign-in proved, now: a weaker
        // proof does not keep an older, stronger one fresh ("tier N within
        // the step-up window" means a tier-N proof within that window).
        let tier = crate::tiers::session_tier(credential.tier, verified.user_verified);
        if let Some(previous) = previous {
            if let Some(old_tier) = self
                .end_replaced_session(&mut tx, previous, &identity, ctx)
                .await?
            {
                event.reason = Some(format!("step-up from tier {old_tier}"));
            }
        }
        let session = self
            .start_session(
                &mut tx,
                &identity.id,
                &credential.id,
                verified.user_verified,
                tier,
            )
            .await?;
        // A sign-in with a device's credential proves the device: what the
        // browser claims about it is posture (issue 16).
        self.record_device_proof(&mut tx, &credential.id, ctx, now)
            .await?;
        event.outcome = Some(Outcome::Success);
        tx.record(event).await?;
        tx.commit().await?;
        Ok(SignedIn {
            session,
            name: identity.name,
            credential_id: credential.id,
            user_verified: verified.user_verified,
            tier,
        })
    }

    /// The verification a real credential's answer gets, against a stand-in
    /// key, its verdict ignored: what a decoy's answer costs.
    fn verify_as_if_real(
        &self,
        challenge: &[u8],
        pending: &Pending,
        response: &AuthenticationResponse,
    ) {
        let Ok(key) = CredentialPublicKey::from_cose(&STAND_IN_KEY) else {
            return;
        };
        let allowed: Vec<Vec<u8>> = pending
            .allowed
            .iter()
            .filter_map(|id| b64::decode(id).ok())
            .collect();
        let _ = verify_authentication(
            &AuthenticationExpectation {
                challenge,
                rp_id: &self.config.rp_id,
                origins: &self.config.origins,
                user_verification: pending.user_verification,
                allowed_credentials: &allowed,
            },
            response,
            &StoredCredential {
                credential_id: &response.raw_id,
                public_key: &key,
                user_handle: &[],
                sign_count: 0,
                backup_eligible: false,
            },
        );
    }

    /// §7.2 against `credential` as stored; a counter that did not grow
    /// becomes a refusal that quarantines the credential.
    fn check_assertion(
        &self,
        attempt: &Attempt<'_>,
        credential: &keybound_store::Credential,
        event: &NewEvent,
    ) -> Result<VerifiedAuthentication, Failure> {
        let key = CredentialPublicKey::from_cose(&credential.public_key)
            .map_err(|e| Failure::Internal(ServiceError::Internal(e.to_string())))?;
        verify_authentication(
            &AuthenticationExpectation {
                challenge: attempt.challenge,
                rp_id: &self.config.rp_id,
                origins: &self.config.origins,
                user_verification: attempt.pending.user_verification,
                allowed_credentials: attempt.allowed,
            },
            attempt.response,
            &StoredCredential {
                credential_id: &credential.id,
                public_key: &key,
                user_handle: attempt.user_handle,
                sign_count: credential.sign_count,
                backup_eligible: credential.backup_eligible,
            },
        )
        .map_err(|e| match e {
            VerifyError::CloneSuspected { received, .. } => {
                let mut event = event.clone();
                event.sign_count = Some(received);
                refuse_and_quarantine(Refusal::Verification(e.reason()), &event, &credential.id)
            }
            e => refuse(Refusal::Verification(e.reason()), event),
        })
    }

    /// Ends the live session behind the browser's `previous` cookie, which a
    /// new sign-in or enrolment of `identity` replaces. Its own earlier
    /// session: the tier it had (a step-up). Someone else's: its end is
    /// audited (`session.end`), since their trail must show it; `None`.
    pub(crate) async fn end_replaced_session(
        &self,
        tx: &mut WriteTx,
        previous: &str,
        identity: &keybound_store::Identity,
        ctx: &ClientContext,
    ) -> Result<Option<i64>, ServiceError> {
        let now = self.now_ms();
        let hash = hash_token(previous);
        let Some(old) = tx.live_session(&hash, now).await? else {
            return Ok(None);
        };
        // A step-up keeps the person signed in to their apps; someone
        // else's session ending is told to theirs.
        if old.identity_id != identity.id {
            self.sessions_ending(tx, EndingSessions::Session(&hash))
                .await?;
        }
        tx.end_session(&hash, now).await?;
        if old.identity_id == identity.id {
            return Ok(Some(old.tier));
        }
        let mut ended = self.event(EventKind::SessionEnd, ctx);
        ended.subject = tx.identity_by_id(&old.identity_id).await?.map(|i| i.name);
        ended.credential_id = Some(b64::encode(&old.credential_id));
        ended.outcome = Some(Outcome::Success);
        ended.reason = Some(format!(
            "replaced by a sign-in as {} in the same browser",
            identity.name
        ));
        tx.record(ended).await?;
        Ok(None)
    }

    /// Opens a session for `identity_id` signed in with `credential_id`, in
    /// the caller's transaction; the token is handed out once.
    pub(crate) async fn start_session(
        &self,
        tx: &mut WriteTx,
        identity_id: &str,
        credential_id: &[u8],
        user_verified: bool,
        tier: i64,
    ) -> Result<Token, StoreError> {
        let now = self.now_ms();
        let session = Token::from_bytes(self.random());
        tx.insert_session(&Session {
            id_hash: session.hash.clone(),
            identity_id: identity_id.to_owned(),
            credential_id: credential_id.to_vec(),
            user_verified,
            tier,
            created_ms: now,
            expires_ms: now.saturating_add(self.config.session_ttl_ms),
        })
        .await?;
        Ok(session)
    }

    /// Ends the session whose cookie is `token`; false when none was live.
    pub async fn sign_out(&self, token: &str, ctx: &ClientContext) -> Result<bool, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let hash = hash_token(token);
        let Some(session) = tx.live_session(&hash, now).await? else {
            return Ok(false);
        };
        self.sessions_ending(&mut tx, EndingSessions::Session(&hash))
            .await?;
        tx.end_session(&hash, now).await?;
        let mut event = self.event(EventKind::SignOut, ctx);
        event.subject = tx
            .identity_by_id(&session.identity_id)
            .await?
            .map(|i| i.name);
        event.credential_id = Some(b64::encode(&session.credential_id));
        event.outcome = Some(Outcome::Success);
        tx.record(event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_key_is_a_valid_es256_key() {
        assert!(CredentialPublicKey::from_cose(&STAND_IN_KEY).is_ok());
    }
}
