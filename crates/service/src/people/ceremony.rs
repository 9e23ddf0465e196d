//! What both ceremonies share: finding the stored state a response answers,
//! and turning a refusal into its audit event.

use crate::record::Record;
use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{EndingSessions, ReadTx, StoreError, WriteTx};
use serde::de::DeserializeOwned;

use crate::tokens::sha256;
use crate::{Refusal, Service, ServiceError};

/// A refusal: the audit reason plus what is known about the attempt.
pub(crate) struct Refused {
    pub reason: Refusal,
    pub event: NewEvent,
    /// The client may learn that the credential is unknown here.
    pub unknown_credential: bool,
    /// Quarantine this credential, in the transaction that records the
    /// refusal (a suspected clone).
    pub quarantine: Option<Vec<u8>>,
    /// Alerts recorded with the refusal (`device.returned`).
    pub alerts: Vec<NewEvent>,
}

/// `failure` with `alert` recorded beside its refusal event, when there is
/// one (an internal failure has no event to go beside).
pub(crate) fn with_alert(failure: Failure, alert: Option<NewEvent>) -> Failure {
    match (failure, alert) {
        (Failure::Refused(mut refused), Some(alert)) => {
            refused.alerts.push(alert);
            Failure::Refused(refused)
        }
        (failure, _) => failure,
    }
}

pub(crate) enum Failure {
    Refused(Box<Refused>),
    Internal(ServiceError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Internal(e.into())
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        Failure::Internal(e)
    }
}

pub(crate) fn refuse(reason: Refusal, event: &NewEvent) -> Failure {
    Failure::Refused(Box::new(Refused {
        reason,
        event: event.clone(),
        unknown_credential: false,
        quarantine: None,
        alerts: Vec::new(),
    }))
}

/// A refusal because the credential is not one we accept, which the client
/// may be told (see [`ServiceError::UnknownCredential`]).
pub(crate) fn refuse_unknown(reason: Refusal, event: &NewEvent) -> Failure {
    Failure::Refused(Box::new(Refused {
        reason,
        event: event.clone(),
        unknown_credential: true,
        quarantine: None,
        alerts: Vec::new(),
    }))
}

/// A refusal that also quarantines `credential_id`: its counter went
/// backwards, so two copies of the key may exist. The event is high
/// severity.
pub(crate) fn refuse_and_quarantine(
    reason: Refusal,
    event: &NewEvent,
    credential_id: &[u8],
) -> Failure {
    let mut event = event.clone();
    event.severity = Some(Severity::High);
    // What the refusal did to the credential, for `audit reconcile`.
    event.details.insert(
        crate::kernel::reconcile::CREDENTIAL_STATUS.into(),
        "quarantined".into(),
    );
    Failure::Refused(Box::new(Refused {
        reason,
        event,
        unknown_credential: false,
        quarantine: Some(credential_id.to_vec()),
        alerts: Vec::new(),
    }))
}

impl Service {
    /// Finishes a ceremony attempt: success passes through; a refusal is
    /// recorded on its own (the attempt's transaction was dropped) and
    /// becomes [`ServiceError::Rejected`] (or
    /// [`ServiceError::UnknownCredential`]).
    pub(crate) async fn settle<T>(&self, attempt: Result<T, Failure>) -> Result<T, ServiceError> {
        match attempt {
            Ok(done) => Ok(done),
            Err(Failure::Internal(e)) => Err(e),
            Err(Failure::Refused(refusal)) => {
                let Refused {
                    reason,
                    mut event,
                    unknown_credential,
                    quarantine,
                    alerts,
                } = *refusal;
                event.outcome = Some(Outcome::Failure);
                event.reason = Some(reason.reason().to_owned());
                let alert = self.failure_alert(&event);
                let mut tx = self.kernel.store.begin().await?;
                if let Some(id) = quarantine {
                    // Whoever holds a copy may already be signed in with
                    // it: those sessions end with the quarantine, and
                    // clearing it later revives none of them.
                    self.sessions_ending(&mut tx, EndingSessions::Credential(&id))
                        .await?;
                    tx.quarantine_credential(&id).await?;
                    tx.end_sessions_of_credential(&id, event.time_ms).await?;
                }
                tx.record(event).await?;
                // The detector's alert carries its source as the address.
                let source = alert
                    .as_ref()
                    .and_then(|a| a.ip.clone())
                    .unwrap_or_default();
                let alert = self
                    .claimed_alert(&mut tx, "failures_across_accounts", &source, alert)
                    .await?;
                if let Some(alert) = alert {
                    tx.record(alert).await?;
                }
                for alert in alerts {
                    tx.record(alert).await?;
                }
                tx.commit().await?;
                if unknown_credential {
                    Err(ServiceError::UnknownCredential(reason))
                } else {
                    Err(ServiceError::Rejected(reason))
                }
            }
        }
    }

    /// The failures-across-accounts detector's verdict on one refusal.
    fn failure_alert(&self, event: &NewEvent) -> Option<NewEvent> {
        // Counted by the rate limits' bucket: an IPv6 /64 is one source,
        // so rotating addresses inside it does not reset the count.
        let source = crate::rate_limit::source::bucket_of(Some(event.ip.as_deref()?));
        let target = event
            .subject
            .as_deref()
            .or(event.credential_id.as_deref())?;
        let t = self.config.alerts;
        self.people.detectors.observe(
            "failures_across_accounts",
            &source,
            target,
            true,
            t.failure_accounts,
            t.window_ms,
            event.time_ms,
        )
    }

    /// The state stored with the challenge `challenge` issued to `browser`
    /// for `ceremony`, on a reader and without taking it: both ceremonies
    /// verify on it outside the writer, then [`Service::take_challenge`].
    pub(crate) async fn peek_pending<P: DeserializeOwned>(
        &self,
        tx: &mut ReadTx,
        browser: &[u8],
        challenge: &[u8],
        ceremony: &str,
        now_ms: i64,
        event: &NewEvent,
    ) -> Result<P, Failure> {
        let stored = tx
            .peek_challenge(&sha256(challenge), browser, ceremony, now_ms)
            .await?
            .ok_or_else(|| refuse(Refusal::NoMatchingChallenge, event))?;
        serde_json::from_str(&stored.payload)
            .map_err(|e| Failure::Internal(ServiceError::Internal(e.to_string())))
    }

    /// Takes the challenge under the writer: once, whichever node asks
    /// first. The state was read by [`Service::peek_pending`]; a refusal
    /// after this rolls the take back with the rest.
    pub(crate) async fn take_challenge(
        &self,
        tx: &mut WriteTx,
        browser: &[u8],
        challenge: &[u8],
        ceremony: &str,
        now_ms: i64,
        event: &NewEvent,
    ) -> Result<(), Failure> {
        tx.take_challenge(&sha256(challenge), browser, ceremony, now_ms)
            .await?
            .map(|_| ())
            .ok_or_else(|| refuse(Refusal::NoMatchingChallenge, event))
    }
}
