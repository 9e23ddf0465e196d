//! Rows to domain values, through [`Fields`] so both backends share them.

use keybound_audit::{AuditEvent, NewEvent, Outcome, Severity};

use crate::conn::Fields;

use crate::model::{
    Challenge, Credential, CredentialStatus, Grant, Identity, IdentityKind, IdentityStatus,
    Recovery, RoleProposal, Session,
};
use crate::StoreError;

pub(crate) fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Alert => "alert",
    }
}

fn outcome_parse(s: &str) -> Result<Outcome, StoreError> {
    Ok(match s {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure,
        "alert" => Outcome::Alert,
        other => return Err(StoreError::Corrupt(format!("outcome {other:?}"))),
    })
}

pub(crate) fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::High => "high",
    }
}

fn severity_parse(s: &str) -> Result<Severity, StoreError> {
    Ok(match s {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        "high" => Severity::High,
        other => return Err(StoreError::Corrupt(format!("severity {other:?}"))),
    })
}

pub(crate) fn audit_from_row(row: &dyn Fields) -> Result<AuditEvent, StoreError> {
    let seq = row.int("seq")?;
    let sign_count = row.opt_int("sign_count")?;
    let outcome = row.opt_text("outcome")?;
    let severity = row.opt_text("severity")?;
    let details = match row.opt_text("details")? {
        Some(json) => {
            serde_json::from_str(&json).map_err(|_| StoreError::Corrupt("audit details".into()))?
        }
        None => Default::default(),
    };
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?,
        event: NewEvent {
            time_ms: row.int("time_ms")?,
            kind: row.text("kind")?,
            actor: row.opt_text("actor")?,
            subject: row.opt_text("subject")?,
            credential_id: row.opt_text("credential_id")?,
            aaguid: row.opt_text("aaguid")?,
            attestation: row.opt_text("attestation")?,
            user_verified: row.opt_flag("user_verified")?,
            sign_count: sign_count
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("audit sign_count".into()))?,
            origin: row.opt_text("origin")?,
            ip: row.opt_text("ip")?,
            user_agent: row.opt_text("user_agent")?,
            outcome: outcome.as_deref().map(outcome_parse).transpose()?,
            reason: row.opt_text("reason")?,
            severity: severity.as_deref().map(severity_parse).transpose()?,
            subject_kind: row.opt_text("subject_kind")?,
            details,
        },
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

/// An event's details as stored: a JSON object in key order, or NULL when
/// there are none (as on every event from before details existed).
pub(crate) fn details_json(
    details: &std::collections::BTreeMap<String, String>,
) -> Result<Option<String>, StoreError> {
    if details.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(details)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))
}

pub(crate) fn identity_from_row(row: &dyn Fields) -> Result<Identity, StoreError> {
    let status = row.text("status")?;
    Ok(Identity {
        id: row.text("id")?,
        kind: IdentityKind::parse(&row.text("kind")?)?,
        name: row.text("name")?,
        status: IdentityStatus::parse(&status)?,
        is_admin: row.flag("is_admin")?,
        user_handle: row.blob("user_handle")?,
        created_ms: row.int("created_ms")?,
    })
}

pub(crate) fn credential_from_row(row: &dyn Fields) -> Result<Credential, StoreError> {
    let sign_count = row.int("sign_count")?;
    let transports = row.text("transports")?;
    let status = row.text("status")?;
    let status = match status.as_str() {
        "active" => CredentialStatus::Active,
        "quarantined" => CredentialStatus::Quarantined,
        "revoked" => CredentialStatus::Revoked(row.opt_text("revoked_reason")?.unwrap_or_default()),
        other => return Err(StoreError::Corrupt(format!("credential status {other:?}"))),
    };
    Ok(Credential {
        id: row.blob("id")?,
        identity_id: row.text("identity_id")?,
        public_key: row.blob("public_key")?,
        alg: row.int("alg")?,
        sign_count: u32::try_from(sign_count)
            .map_err(|_| StoreError::Corrupt("sign_count".into()))?,
        aaguid: row.text("aaguid")?,
        attestation_format: row.text("attestation_format")?,
        attestation_type: row.text("attestation_type")?,
        attestation_trust: row.text("attestation_trust")?,
        transports: serde_json::from_str(&transports)
            .map_err(|_| StoreError::Corrupt("transports".into()))?,
        backup_eligible: row.flag("backup_eligible")?,
        backup_state: row.flag("backup_state")?,
        user_verified: row.flag("user_verified")?,
        nickname: row.opt_text("nickname")?,
        created_ms: row.int("created_ms")?,
        last_used_ms: row.opt_int("last_used_ms")?,
        status,
        tier: row.int("tier")?,
        tier_reasons: row.text("tier_reasons")?,
        attestation_chain: serde_json::from_str(&row.text("attestation_chain")?)
            .map_err(|_| StoreError::Corrupt("attestation chain".into()))?,
        tier_cap: row.opt_int("tier_cap")?,
    })
}

pub(crate) fn grant_from_row(r: &dyn Fields) -> Result<Grant, StoreError> {
    Ok(Grant {
        token_hash: r.blob("token_hash")?,
        kind: r.text("kind")?,
        identity_id: r.text("identity_id")?,
        issued_by: r.text("issued_by")?,
        min_tier: r.int("min_tier")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
        used_ms: r.opt_int("used_ms")?,
    })
}

pub(crate) fn session_from_row(r: &dyn Fields) -> Result<Session, StoreError> {
    Ok(Session {
        id_hash: r.blob("id_hash")?,
        identity_id: r.text("identity_id")?,
        credential_id: r.blob("credential_id")?,
        user_verified: r.flag("user_verified")?,
        tier: r.int("tier")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
    })
}

pub(crate) fn recovery_from_row(r: &dyn Fields) -> Result<Recovery, StoreError> {
    Ok(Recovery {
        id: r.text("id")?,
        identity_id: r.text("identity_id")?,
        requested_ms: r.int("requested_ms")?,
        expires_ms: r.int("expires_ms")?,
        ready_ms: r.opt_int("ready_ms")?,
        status: r.text("status")?,
        revoke_old: r.flag("revoke_old")?,
    })
}

pub(crate) fn challenge_from_row(r: &dyn Fields) -> Result<Challenge, StoreError> {
    Ok(Challenge {
        challenge_hash: r.blob("challenge_hash")?,
        session_hash: r.blob("session_hash")?,
        ceremony: r.text("ceremony")?,
        payload: r.text("payload")?,
        expires_ms: r.int("expires_ms")?,
    })
}

pub(crate) fn role_proposal_from_row(r: &dyn Fields) -> Result<RoleProposal, StoreError> {
    Ok(RoleProposal {
        id: r.text("id")?,
        identity_id: r.text("identity_id")?,
        proposed_by: r.text("proposed_by")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
        status: r.text("status")?,
    })
}
