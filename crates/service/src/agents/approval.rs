//! What-you-see-is-what-you-sign approval of a task with a passkey.
//!
//! The WebAuthn challenge is not random: it is [`approval_challenge`], a
//! hash of everything the person is shown (agent, delegator, resources,
//! actions, lifetime, purpose, when and from where it was asked). No
//! challenge row is kept: the finish recomputes the hash from the stored
//! task and compares, so an assertion made for one task cannot approve
//! another, and one made for a task whose stored terms differ from what was
//! shown cannot approve it either.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{Credential, CredentialStatus, Identity, IdentityStatus};
use keybound_webauthn::{
    b64, challenge_of, verify_authentication, AuthenticationExpectation, AuthenticationResponse,
    CredentialPublicKey, Error as VerifyError, PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions, StoredCredential, UserVerificationRequirement,
    VerifiedAuthentication,
};

use super::mine::{bounded, Held};
use super::policy::TaskQuestion;
use super::TaskView;
use crate::ceremony::{refuse, refuse_and_quarantine, Failure};
use crate::record::Record;
use crate::{AccessPrincipal, ClientContext, EventKind, Refusal, Service, ServiceError};

/// The domain separation prefix of the approval challenge.
const APPROVAL_PREFIX: &[u8] = b"keybound task approval v1\n";

/// The highest tier there is: asking policy again with it tells a tier
/// that is too low from an approval no tier would get.
const TOP_TIER: i64 = 3;

/// The challenge a passkey signs to approve `task`: SHA-256 of the prefix
/// and the canonical JSON (sorted keys, no spaces) of what the person is
/// shown. Pure: the same task gives the same challenge on every node.
pub fn approval_challenge(task: &TaskView) -> [u8; 32] {
    let terms = serde_json::json!({
        "id": task.id,
        "agent": task.agent,
        "delegator": task.delegator,
        "resources": task.resources,
        "actions": task.actions,
        "lifetime_s": task.lifetime_s,
        "purpose": task.purpose,
        "requested_at": task.created_ms,
        "context": task.context,
    });
    let mut message = APPROVAL_PREFIX.to_vec();
    canonical(&terms, &mut message);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Canonical JSON: object keys sorted (by their UTF-8 bytes) at every
/// depth, whatever map order serde_json was built with, no whitespace.
fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(&serde_json::Value::String(key.clone()), out);
                out.push(b':');
                canonical(value, out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

impl Service {
    /// WebAuthn request options to approve task `task_id`: the signed-in
    /// person's active passkeys, user verification required, the challenge
    /// `approval_challenge`. Only for a pending task they approve;
    /// otherwise [`ServiceError::NotFound`].
    pub async fn task_approval_options(
        &self,
        session_cookie: &str,
        task_id: &str,
    ) -> Result<PublicKeyCredentialRequestOptions, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let (_, person) = self.signed_in(&mut tx, session_cookie).await?;
        let held = Held::read(&mut tx, task_id)
            .await?
            .filter(|h| h.approver().id == person.id)
            .filter(|h| h.task.status == super::TaskStatus::Pending.as_str())
            .ok_or(ServiceError::NotFound)?;
        let allow: Vec<_> = tx
            .credentials_of(&person.id)
            .await?
            .into_iter()
            .filter(|c| c.status == CredentialStatus::Active)
            .map(|c| PublicKeyCredentialDescriptor::new(c.id, c.transports))
            .collect();
        let mut options = {
            let mut rng = self.kernel.rng();
            PublicKeyCredentialRequestOptions::new(&self.config.rp_id, &mut **rng)
        };
        options.challenge = approval_challenge(&held.view()).to_vec();
        options.allow_credentials = allow;
        options.user_verification = UserVerificationRequirement::Required;
        options.timeout = u32::try_from(self.config.challenge_ttl_ms).ok();
        Ok(options)
    }

    /// Approves pending task `task_id` with the passkey assertion `body`
    /// (the browser's JSON): pending -> active, `task.approve`. Every
    /// refusal is audited with its reason and changes nothing but the
    /// quarantine of a credential whose counter went backwards.
    pub async fn approve_task(
        &self,
        session_cookie: &str,
        task_id: &str,
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<TaskView, ServiceError> {
        let attempt = self.try_approve(session_cookie, task_id, body, ctx).await;
        self.settle(attempt).await
    }

    async fn try_approve(
        &self,
        session_cookie: &str,
        task_id: &str,
        body: &[u8],
        ctx: &ClientContext,
    ) -> Result<TaskView, Failure> {
        let now = self.now_ms();
        let mut event = self.event(EventKind::TaskApprove, ctx);
        event.details.insert("task".to_owned(), bounded(task_id));

        // First look, on a reader: the session, the task, the passkey.
        let mut tx = self.kernel.store.read().await?;
        let (_, person) = self.signed_in(&mut tx, session_cookie).await?;
        event.actor = Some(person.name.clone());
        let held = Held::read(&mut tx, task_id)
            .await?
            .ok_or_else(|| refuse(Refusal::TaskUnknown, &event))?;
        held.describe(&mut event);
        if held.approver().id != person.id {
            return Err(refuse(Refusal::TaskNotApprover, &event));
        }
        if held.task.status != super::TaskStatus::Pending.as_str() {
            return Err(refuse(Refusal::TaskNotPending, &event));
        }
        if held.task.expires_ms <= now {
            return Err(refuse(Refusal::TaskApprovalExpired, &event));
        }
        let response = AuthenticationResponse::from_json(body)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;
        event.credential_id = Some(b64::encode(&response.raw_id));
        let challenge = challenge_of(&response.client_data_json)
            .map_err(|e| refuse(Refusal::Verification(e.reason()), &event))?;
        let expected = approval_challenge(&held.view());
        if aws_lc_rs::constant_time::verify_slices_are_equal(&challenge, &expected).is_err() {
            return Err(refuse(Refusal::TaskApprovalChallengeMismatch, &event));
        }
        let credential = tx
            .credential(&response.raw_id)
            .await?
            .filter(|c| c.identity_id == person.id && c.status == CredentialStatus::Active)
            .ok_or_else(|| refuse(Refusal::TaskApprovalCredentialRefused, &event))?;
        event.aaguid = Some(credential.aaguid.clone());
        drop(tx);
        let verified = self.check_approval(&expected, &response, &credential, &person, &event)?;
        event.user_verified = Some(verified.user_verified);
        event.sign_count = Some(verified.sign_count);
        event.origin = Some(verified.client_data.origin.clone());

        // The approval's tier is what this passkey proves now, as a
        // sign-in's; policy decides whether it is enough.
        let tier = crate::session_tier(credential.tier, verified.user_verified);
        self.approval_permitted(&held, tier, verified.user_verified, ctx, &event)?;

        // Under the writer: the counter (unchanged since the check), the
        // person still active, then the one conditional update that makes
        // one approval win however many nodes race.
        let mut tx = self.kernel.store.begin().await?;
        if !tx
            .record_use_if_unchanged(
                &credential.id,
                credential.sign_count,
                verified.sign_count,
                verified.backup_state,
                now,
            )
            .await?
        {
            return Err(refuse(Refusal::TaskApprovalCredentialRefused, &event));
        }
        let still_active = tx
            .identity_by_id(&person.id)
            .await?
            .is_some_and(|i| i.status == IdentityStatus::Active);
        if !still_active {
            return Err(refuse(Refusal::IdentityNotActive, &event));
        }
        let ends = now.saturating_add(held.task.lifetime_s.saturating_mul(1000));
        if !tx
            .approve_task(&held.task.id, &person.name, tier, &credential.id, now, ends)
            .await?
        {
            return Err(refuse(Refusal::TaskNotPending, &event));
        }
        crate::devices::decommission::touch_device(&mut tx, &credential.id, now).await?;
        event
            .details
            .insert("approval_tier".to_owned(), tier.to_string());
        event.details.insert(
            "approval_credential".to_owned(),
            b64::encode(&credential.id),
        );
        self.describe_device(&mut tx, &credential.id, now, &mut event)
            .await?;
        event.outcome = Some(Outcome::Success);
        tx.record(event).await?;
        tx.commit().await?;
        let mut tx = self.kernel.store.read().await?;
        Ok(Held::read(&mut tx, task_id)
            .await?
            .map(|h| h.view())
            .ok_or(ServiceError::NotFound)?)
    }

    /// §7.2 against the stored credential with the task's challenge, user
    /// verification required; a counter that went backwards quarantines
    /// the credential, as at sign-in.
    fn check_approval(
        &self,
        challenge: &[u8],
        response: &AuthenticationResponse,
        credential: &Credential,
        person: &Identity,
        event: &NewEvent,
    ) -> Result<VerifiedAuthentication, Failure> {
        let key = CredentialPublicKey::from_cose(&credential.public_key)
            .map_err(|e| Failure::Internal(ServiceError::Internal(e.to_string())))?;
        let allowed = [credential.id.clone()];
        verify_authentication(
            &AuthenticationExpectation {
                challenge,
                rp_id: &self.config.rp_id,
                origins: &self.config.origins,
                user_verification: UserVerificationRequirement::Required,
                allowed_credentials: &allowed,
            },
            response,
            &StoredCredential {
                credential_id: &credential.id,
                public_key: &key,
                user_handle: &person.user_handle,
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

    /// Cedar's `task:approve` for every resource of the task at `tier`. A
    /// refusal that the top tier would not get is `task_approval_tier_too_low`
    /// (the person may use a stronger passkey); otherwise it is forbidden.
    fn approval_permitted(
        &self,
        held: &Held,
        tier: i64,
        user_verified: bool,
        ctx: &ClientContext,
        event: &NewEvent,
    ) -> Result<(), Failure> {
        let agent = AccessPrincipal {
            id: held.agent_identity.id.clone(),
            kind: held.agent_identity.kind,
            name: held.agent_identity.name.clone(),
            groups: vec!["agent".to_owned()],
            active: held.agent_identity.status == IdentityStatus::Active
                && held.agent.status == "active",
        };
        let view = held.view();
        let question = TaskQuestion {
            agent: &agent,
            owner: &held.owner.name,
            delegator: held.delegator.as_ref().map(|d| d.name.as_str()),
            resources: &view.resources,
            actions: &view.actions,
            lifetime_s: held.task.lifetime_s,
            client_ip: ctx.ip.clone(),
            now_s: self.now_ms() / 1000,
        };
        let Err(policies) = self.decide_approval(&question, tier, user_verified) else {
            return Ok(());
        };
        let mut event = event.clone();
        if !policies.is_empty() {
            event
                .details
                .insert("policies".to_owned(), policies.join(","));
        }
        event
            .details
            .insert("approval_tier".to_owned(), tier.to_string());
        let stronger = tier < TOP_TIER
            && self
                .decide_approval(&question, TOP_TIER, user_verified)
                .is_ok();
        Err(refuse(
            if stronger {
                Refusal::TaskApprovalTierTooLow
            } else {
                Refusal::TaskApprovalForbidden
            },
            &event,
        ))
    }

    /// The approving passkey's device and its posture, where the passkey
    /// binds one (issue 16), as event details.
    async fn describe_device(
        &self,
        tx: &mut keybound_store::ReadTx,
        credential_id: &[u8],
        now: i64,
        event: &mut NewEvent,
    ) -> Result<(), ServiceError> {
        let Some(device) = tx.device_by_credential(credential_id).await? else {
            return Ok(());
        };
        event
            .details
            .insert("device".to_owned(), device.name.clone());
        let facts = tx.posture_facts(&device.identity_id).await?;
        let posture = crate::posture::resolve_posture(&facts, now, self.config.posture_max_age_ms);
        event.details.insert(
            "posture".to_owned(),
            format!(
                "managed={} compliant={} disk_encrypted={}",
                posture.managed, posture.compliant, posture.disk_encrypted
            ),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskView {
        TaskView {
            id: "0123456789abcdef0123456789abcdef".to_owned(),
            agent: "report-bot".to_owned(),
            delegator: Some("alice".to_owned()),
            resources: vec!["https://api.example.test/".to_owned()],
            actions: vec!["read".to_owned()],
            lifetime_s: 900,
            purpose: "weekly report".to_owned(),
            context: serde_json::json!({"address": "192.0.2.1", "user_agent": "bot/1"}),
            status: "pending".to_owned(),
            needs_approval: true,
            created_ms: 1_700_000_000_000,
            expires_ms: 1_700_000_600_000,
            approved_by: None,
            approval_tier: None,
            ended_ms: None,
            ended_by: None,
            end_reason: None,
            uses: 0,
        }
    }

    /// One shown field and how to change it.
    type Change = (&'static str, Box<dyn Fn(&mut TaskView)>);

    #[test]
    fn every_shown_field_changes_the_challenge() {
        let base = approval_challenge(&task());
        let changes: Vec<Change> = vec![
            ("id", Box::new(|t| t.id.push('0'))),
            ("agent", Box::new(|t| t.agent = "other-bot".to_owned())),
            ("delegator", Box::new(|t| t.delegator = None)),
            (
                "delegator name",
                Box::new(|t| t.delegator = Some("bob".to_owned())),
            ),
            (
                "resources",
                Box::new(|t| t.resources.push("https://b.test/".to_owned())),
            ),
            (
                "actions",
                Box::new(|t| t.actions = vec!["write".to_owned()]),
            ),
            ("lifetime_s", Box::new(|t| t.lifetime_s = 901)),
            ("purpose", Box::new(|t| t.purpose.push('!'))),
            ("requested_at", Box::new(|t| t.created_ms += 1)),
            (
                "context",
                Box::new(|t| t.context = serde_json::json!({"address": "192.0.2.2"})),
            ),
        ];
        for (field, change) in changes {
            let mut t = task();
            change(&mut t);
            assert_ne!(approval_challenge(&t), base, "{field} is not covered");
        }
    }

    #[test]
    fn what_is_not_shown_does_not_change_it() {
        let base = approval_challenge(&task());
        let mut t = task();
        t.status = "active".to_owned();
        t.uses = 7;
        t.expires_ms += 1;
        assert_eq!(approval_challenge(&t), base);
    }

    #[test]
    fn the_message_is_the_prefix_and_sorted_compact_json() {
        let mut out = Vec::new();
        canonical(
            &serde_json::json!({"b": [1, {"d": null, "c": "x"}], "a": true}),
            &mut out,
        );
        assert_eq!(out, br#"{"a":true,"b":[1,{"c":"x","d":null}]}"#);
        let t = task();
        let mut message = APPROVAL_PREFIX.to_vec();
        message.extend_from_slice(
            br#"{"actions":["read"],"agent":"report-bot","context":{"address":"192.0.2.1","user_agent":"bot/1"},"delegator":"alice","id":"0123456789abcdef0123456789abcdef","lifetime_s":900,"purpose":"weekly report","requested_at":1700000000000,"resources":["https://api.example.test/"]}"#,
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
        assert_eq!(approval_challenge(&t).as_slice(), digest.as_ref());
    }
}
