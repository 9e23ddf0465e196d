//! The service's one error type, which the server maps to HTTP once.

use std::fmt;

use keybound_store::StoreError;

use crate::Refusal;

/// Why a use case did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The client's request was refused; the reason is for the audit log,
    /// never for the client.
    Rejected(Refusal),
    /// The credential a sign-in presented is not (or no longer) registered
    /// here. Unlike [`ServiceError::Rejected`] the client may be told, so its
    /// page can ask the passkey provider to forget the credential
    /// (`signalUnknownCredential`). Never returned for the decoy ids offered
    /// for names that do not exist, so it reveals nothing about accounts.
    UnknownCredential(Refusal),
    /// The action needs the person's explicit confirmation (revoking a
    /// credential they cannot spare).
    ConfirmationRequired,
    /// The action needs a fresh sign-in first (the session is older than
    /// the step-up window).
    StepUpRequired,
    /// The caller may not do this.
    Forbidden,
    /// No such thing.
    NotFound,
    /// Too many attempts from this source; try again after this many
    /// seconds.
    RateLimited {
        /// Seconds until the next attempt is admitted.
        retry_after_s: u64,
    },
    /// Our fault (the database is down...). Details went to the log.
    Internal(String),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Rejected(reason) => write!(f, "rejected: {reason}"),
            ServiceError::UnknownCredential(reason) => write!(f, "unknown credential: {reason}"),
            ServiceError::ConfirmationRequired => f.write_str("confirmation required"),
            ServiceError::StepUpRequired => f.write_str("step-up required"),
            ServiceError::Forbidden => f.write_str("forbidden"),
            ServiceError::NotFound => f.write_str("not found"),
            ServiceError::RateLimited { retry_after_s } => {
                write!(f, "rate limited for {retry_after_s} s")
            }
            ServiceError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}
