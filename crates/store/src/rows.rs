//! Rows to domain values. Both backends come through sqlx's `Any` driver:
//! SQLite reports booleans as integers and PostgreSQL as booleans, so flags
//! are read through [`flag`].

use keybound_audit::{AuditEvent, NewEvent, Outcome, Severity};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::model::{Credential, CredentialStatus, Grant, Identity, IdentityStatus, Recovery};
use crate::StoreError;

/// A boolean column, whichever way the backend stores it.
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// A nullable boolean column.
pub(crate) fn maybe_flag(row: &AnyRow, column: &str) -> Result<Option<bool>, StoreError> {
    match row.try_get::<Option<bool>, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<Option<i64>, _>(column)?.map(|v| v != 0)),
    }
}

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

pub(crate) fn audit_from_row(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let seq: i64 = row.try_get("seq")?;
    let sign_count: Option<i64> = row.try_get("sign_count")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let severity: Option<String> = row.try_get("severity")?;
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?,
        event: NewEvent {
            time_ms: row.try_get("time_ms")?,
            kind: row.try_get("kind")?,
            actor: row.try_get("actor")?,
            subject: row.try_get("subject")?,
            credential_id: row.try_get("credential_id")?,
            aaguid: row.try_get("aaguid")?,
            attestation: row.try_get("attestation")?,
            user_verified: maybe_flag(row, "user_verified")?,
            sign_count: sign_count
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("audit sign_count".into()))?,
            origin: row.try_get("origin")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            outcome: outcome.as_deref().map(outcome_parse).transpose()?,
            reason: row.try_get("reason")?,
            severity: severity.as_deref().map(severity_parse).transpose()?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

pub(crate) fn identity_from_row(row: &AnyRow) -> Result<Identity, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Identity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: IdentityStatus::parse(&status)?,
        is_admin: flag(row, "is_admin")?,
        user_handle: row.try_get("user_handle")?,
        created_ms: row.try_get("created_ms")?,
    })
}

pub(crate) fn credential_from_row(row: &AnyRow) -> Result<Credential, StoreError> {
    let sign_count: i64 = row.try_get("sign_count")?;
    let transports: String = row.try_get("transports")?;
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "active" => CredentialStatus::Active,
        "quarantined" => CredentialStatus::Quarantined,
        "revoked" => CredentialStatus::Revoked(
            row.try_get::<Option<String>, _>("revoked_reason")?
                .unwrap_or_default(),
        ),
        other => return Err(StoreError::Corrupt(format!("credential status {other:?}"))),
    };
    Ok(Credential {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        public_key: row.try_get("public_key")?,
        alg: row.try_get("alg")?,
        sign_count: u32::try_from(sign_count)
            .map_err(|_| StoreError::Corrupt("sign_count".into()))?,
        aaguid: row.try_get("aaguid")?,
        attestation_format: row.try_get("attestation_format")?,
        attestation_type: row.try_get("attestation_type")?,
        attestation_trust: row.try_get("attestation_trust")?,
        transports: serde_json::from_str(&transports)
            .map_err(|_| StoreError::Corrupt("transports".into()))?,
        backup_eligible: flag(row, "backup_eligible")?,
        backup_state: flag(row, "backup_state")?,
        user_verified: flag(row, "user_verified")?,
        nickname: row.try_get("nickname")?,
        created_ms: row.try_get("created_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        status,
        tier: row.try_get("tier")?,
        tier_reasons: row.try_get("tier_reasons")?,
        attestation_chain: serde_json::from_str(&row.try_get::<String, _>("attestation_chain")?)
            .map_err(|_| StoreError::Corrupt("attestation chain".into()))?,
    })
}

pub(crate) fn grant_from_row(r: &AnyRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        token_hash: r.try_get("token_hash")?,
        kind: r.try_get("kind")?,
        identity_id: r.try_get("identity_id")?,
        issued_by: r.try_get("issued_by")?,
        min_tier: r.try_get("min_tier")?,
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        used_ms: r.try_get("used_ms")?,
    })
}

pub(crate) fn recovery_from_row(r: &AnyRow) -> Result<Recovery, StoreError> {
    Ok(Recovery {
        id: r.try_get("id")?,
        identity_id: r.try_get("identity_id")?,
        requested_ms: r.try_get("requested_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        ready_ms: r.try_get("ready_ms")?,
        status: r.try_get("status")?,
        revoke_old: flag(r, "revoke_old")?,
    })
}
