//! Every reply of the ceremony API, and the one mapping from service errors
//! to HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use keybound_service::{Refusal, ServiceError};
use serde_json::{json, Value};

/// Which ceremony a refusal ended: what a person may be told differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceremony {
    /// Enrolling or adding a passkey (`/attestation/result`).
    Registration,
    /// Signing in or stepping up (`/assertion/result`).
    Authentication,
}

/// The reason codes a refused ceremony may carry (`"reason"` in the reply),
/// for refusals the person can act on. The page turns each into words
/// (`REASONS` in `keybound.js`; the list is `REASON_CODES` in the tests);
/// every other refusal stays the one generic message.
///
/// None of them may tell whether an account exists. At sign-in, a name
/// without usable passkeys gets decoys (`people/decoys.rs`) that must fail
/// exactly like a real passkey with a bad signature; so no code is given
/// for anything checked against the account or its passkey before the
/// signature is (user verification, the account's state, whose passkey it
/// is). What is left is what the browser itself caused (a stale
/// challenge) and a quarantined passkey, whose id is known to exist
/// already (a revoked or unknown id is told apart by `unknownCredential`).
/// At enrolment the caller holds an invitation or a session, or is
/// creating a new account, so the policy verdicts on their key are theirs
/// to know; a taken name is not (open registration would reveal it).
///
/// Returns the code for `refusal` in `ceremony`, if it is one a person
/// may see.
pub(crate) fn reason_code(refusal: Refusal, ceremony: Ceremony) -> Option<&'static str> {
    let code = match (ceremony, refusal) {
        (_, Refusal::NoMatchingChallenge | Refusal::StaleCeremonyState) => "timed_out",
        (Ceremony::Authentication, Refusal::CredentialQuarantined) => "credential_quarantined",
        (Ceremony::Authentication, _) => return None,
        (
            Ceremony::Registration,
            Refusal::TierBelowPolicy | Refusal::TierBelowGroupPolicy | Refusal::TierBelowGrant,
        ) => "tier_too_low",
        (
            Ceremony::Registration,
            Refusal::AaguidDenied
            | Refusal::AaguidNotAllowed
            | Refusal::AuthenticatorModelCompromised,
        ) => "authenticator_not_allowed",
        (Ceremony::Registration, Refusal::GrantUsedOrExpired) => "invitation_used_or_expired",
        (Ceremony::Registration, Refusal::SessionEnded) => "session_ended",
        (Ceremony::Registration, Refusal::TooManyCredentials) => "too_many_passkeys",
        (
            Ceremony::Registration,
            Refusal::Verification("user_not_verified") | Refusal::DeviceUserNotVerified,
        ) => "user_verification_required",
        // "Trust this device" (a registration started from `/me`): what
        // the device made, judged for the person who holds it.
        (Ceremony::Registration, Refusal::DeviceBackupEligible) => "device_synced",
        (Ceremony::Registration, Refusal::DeviceRoamingAttachment) => "device_roaming",
        (Ceremony::Registration, Refusal::TooManyDevices) => "too_many_devices",
        (Ceremony::Registration, Refusal::InvalidDeviceLabel) => "invalid_device_label",
        (Ceremony::Registration, _) => return None,
    };
    Some(code)
}

/// [`from_service`] for the end of a ceremony: a refusal the person can
/// act on carries its [`reason_code`].
pub(crate) fn from_ceremony(e: &ServiceError, ceremony: Ceremony) -> Response {
    let code = match e {
        ServiceError::Rejected(refusal) => reason_code(*refusal, ceremony),
        _ => None,
    };
    match code {
        Some(code) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "status": "failed",
                "errorMessage": "the ceremony failed",
                "reason": code,
            })),
        )
            .into_response(),
        None => from_service(e),
    }
}

/// `{"status":"ok","errorMessage":"", ...fields}`.
pub(crate) fn ok(mut fields: Value) -> Response {
    if let Some(map) = fields.as_object_mut() {
        map.insert("status".into(), json!("ok"));
        map.insert("errorMessage".into(), json!(""));
    }
    (StatusCode::OK, Json(fields)).into_response()
}

/// `{"status":"failed","errorMessage":message}` with `status`.
pub(crate) fn failed(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"status": "failed", "errorMessage": message})),
    )
        .into_response()
}

/// The only place a service error becomes HTTP. Clients get a generic
/// message; the reason is already in the audit log, and the access log
/// names it too.
pub(crate) fn from_service(e: &ServiceError) -> Response {
    crate::access::refused(response_for(e), crate::access::service_refusal(e))
}

fn response_for(e: &ServiceError) -> Response {
    match e {
        ServiceError::Rejected(_) => failed(StatusCode::BAD_REQUEST, "the ceremony failed"),
        // Still the generic message; the flag lets the page ask the passkey
        // provider to forget the credential (`signalUnknownCredential`).
        ServiceError::UnknownCredential(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "status": "failed",
                "errorMessage": "the ceremony failed",
                "unknownCredential": true,
            })),
        )
            .into_response(),
        ServiceError::ConfirmationRequired => failed(StatusCode::CONFLICT, "confirmation required"),
        ServiceError::StepUpRequired => failed(StatusCode::FORBIDDEN, "sign in again first"),
        ServiceError::Forbidden => failed(StatusCode::FORBIDDEN, "not allowed"),
        ServiceError::NotFound => failed(StatusCode::NOT_FOUND, "not found"),
        ServiceError::RateLimited { retry_after_s } => {
            let mut response = failed(StatusCode::TOO_MANY_REQUESTS, "too many attempts");
            if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_s.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            response
        }
        ServiceError::Internal(what) => {
            tracing::error!(error = %what, "internal error");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code [`reason_code`] gives; the page has words for each.
    const REASON_CODES: [&str; 12] = [
        "tier_too_low",
        "authenticator_not_allowed",
        "credential_quarantined",
        "invitation_used_or_expired",
        "session_ended",
        "too_many_passkeys",
        "user_verification_required",
        "timed_out",
        "device_synced",
        "device_roaming",
        "too_many_devices",
        "invalid_device_label",
    ];

    #[test]
    fn the_page_has_words_for_every_code() {
        let script = include_str!("../assets/keybound.js");
        for code in REASON_CODES {
            assert!(script.contains(&format!("    {code}:")), "{code}");
        }
    }

    /// Every code given is on the fixed list the page knows, and none is
    /// given at sign-in for what a decoy could not equally cause.
    #[test]
    fn codes_come_from_the_fixed_list_and_sign_in_says_little() {
        let mut all: Vec<Refusal> = Refusal::ALL.to_vec();
        all.extend(
            ["user_not_verified", "signature_invalid", "user_not_present"]
                .map(Refusal::Verification),
        );
        for refusal in &all {
            for ceremony in [Ceremony::Registration, Ceremony::Authentication] {
                if let Some(code) = reason_code(*refusal, ceremony) {
                    assert!(REASON_CODES.contains(&code), "{code}");
                }
            }
        }
        let told: Vec<_> = all
            .iter()
            .filter(|r| reason_code(**r, Ceremony::Authentication).is_some())
            .collect();
        assert_eq!(
            told,
            [
                &Refusal::CredentialQuarantined,
                &Refusal::NoMatchingChallenge,
                &Refusal::StaleCeremonyState
            ]
        );
        for hidden in [
            Refusal::DecoyCredential,
            Refusal::IdentityNotActive,
            Refusal::CredentialOfAnotherIdentity,
            Refusal::UnknownCredential,
            Refusal::Verification("user_not_verified"),
        ] {
            assert_eq!(reason_code(hidden, Ceremony::Authentication), None);
        }
        // A taken or confusable name is not told (open registration).
        for hidden in [
            Refusal::NameTaken,
            Refusal::NameConfusable,
            Refusal::IdentityActive,
        ] {
            assert_eq!(reason_code(hidden, Ceremony::Registration), None);
        }
        assert_eq!(
            reason_code(Refusal::TierBelowPolicy, Ceremony::Registration),
            Some("tier_too_low")
        );
    }

    /// "Trust this device": each refusal the person can act on has its
    /// code, and someone else's device is not told apart from none.
    #[test]
    fn device_enrolment_refusals_are_told_in_words() {
        for (refusal, code) in [
            (Refusal::DeviceBackupEligible, "device_synced"),
            (Refusal::DeviceRoamingAttachment, "device_roaming"),
            (Refusal::DeviceUserNotVerified, "user_verification_required"),
            (Refusal::TooManyDevices, "too_many_devices"),
            (Refusal::InvalidDeviceLabel, "invalid_device_label"),
        ] {
            assert_eq!(reason_code(refusal, Ceremony::Registration), Some(code));
            assert_eq!(reason_code(refusal, Ceremony::Authentication), None);
        }
        assert_eq!(
            reason_code(Refusal::DeviceOfAnotherPerson, Ceremony::Registration),
            None
        );
    }
}
