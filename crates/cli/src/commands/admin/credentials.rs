//! Credentials: the list of one person's, revoking, clearing a quarantine,
//! vouching.

use keybound_service::{Credential, CredentialStatus, Service, ServiceError};
use keybound_webauthn::b64;
use serde::Serialize;

use super::{operator, person_error, quoted, shown};
use crate::output::{self, Format, Table};

/// One credential as `admin credentials --json` prints it.
#[derive(Serialize)]
struct Listed {
    id: String,
    status: &'static str,
    revoked_reason: Option<String>,
    tier: i64,
    tier_reasons: String,
    aaguid: String,
    attestation_format: String,
    attestation_type: String,
    attestation_trust: String,
    backup_eligible: bool,
    backup_state: bool,
    user_verified: bool,
    sign_count: u32,
    transports: Vec<String>,
    nickname: Option<String>,
    created_at: String,
    last_used_at: Option<String>,
    #[serde(skip)]
    last_used_ms: Option<i64>,
}

impl Listed {
    fn of(c: &Credential) -> Listed {
        let (status, revoked_reason) = match &c.status {
            CredentialStatus::Active => ("active", None),
            CredentialStatus::Quarantined => ("quarantined", None),
            CredentialStatus::Revoked(why) => ("revoked", Some(why.clone())),
        };
        Listed {
            id: b64::encode(&c.id),
            status,
            revoked_reason,
            tier: c.tier,
            tier_reasons: c.tier_reasons.clone(),
            aaguid: c.aaguid.clone(),
            attestation_format: c.attestation_format.clone(),
            attestation_type: c.attestation_type.clone(),
            attestation_trust: c.attestation_trust.clone(),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            user_verified: c.user_verified,
            sign_count: c.sign_count,
            transports: c.transports.clone(),
            nickname: c.nickname.clone(),
            created_at: output::iso(c.created_ms),
            last_used_at: c.last_used_ms.map(output::iso),
            last_used_ms: c.last_used_ms,
        }
    }

    /// The status as the table shows it: a quarantine stands out.
    fn status_cell(&self) -> String {
        match (self.status, &self.revoked_reason) {
            ("quarantined", _) => "QUARANTINED (suspected clone)".to_owned(),
            (_, Some(why)) => format!("revoked ({why})"),
            (status, None) => status.to_owned(),
        }
    }
}

/// `admin credentials NAME`.
pub(super) async fn list(service: &Service, name: &str, format: Format) -> Result<(), String> {
    let creds = match service.credentials_of((&operator()).into(), name).await {
        Ok(creds) => creds,
        Err(e) => return Err(person_error(service, name, e).await),
    };
    let listed: Vec<Listed> = creds.iter().map(Listed::of).collect();
    output::print(format, &listed, |listed| {
        let mut table = Table::new(&[
            "ID",
            "STATUS",
            "TIER",
            "WHY",
            "KIND",
            "MODEL (AAGUID)",
            "ATTESTATION",
            "COUNT",
            "CREATED",
            "LAST USED",
            "NICKNAME",
        ]);
        for c in listed {
            table.row([
                c.id.clone(),
                c.status_cell(),
                c.tier.to_string(),
                c.tier_reasons.clone(),
                if c.backup_eligible {
                    "synced"
                } else {
                    "device-bound"
                }
                .to_owned(),
                c.aaguid.clone(),
                format!("{}/{}", c.attestation_format, c.attestation_type),
                c.sign_count.to_string(),
                c.created_at.clone(),
                output::iso_or_never(c.last_used_ms),
                c.nickname.clone().unwrap_or_default(),
            ]);
        }
        table
    })
}

/// A credential error: which id was not found.
fn credential_error(id: &str, e: ServiceError) -> String {
    match e {
        ServiceError::NotFound => format!(
            "credential not found: no credential with id {} (ids are as `keybound admin \
             credentials NAME` prints them)",
            quoted(id)
        ),
        e => e.to_string(),
    }
}

/// `admin revoke-credential ID`.
pub(super) async fn revoke(service: &Service, id: &str, reason: &str) -> Result<(), String> {
    service
        .revoke_credential(id, &operator(), reason)
        .await
        .map_err(|e| credential_error(id, e))?;
    println!("revoked {}", shown(id));
    Ok(())
}

/// `admin clear-credential ID`.
pub(super) async fn clear(service: &Service, id: &str) -> Result<(), String> {
    service
        .clear_credential(id, &operator())
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => format!(
                "credential not found: no quarantined credential with id {}",
                quoted(id)
            ),
            e => e.to_string(),
        })?;
    println!("cleared {}", shown(id));
    Ok(())
}

/// `admin vouch-credential ID`.
pub(super) async fn vouch(service: &Service, id: &str) -> Result<(), String> {
    let tier = service
        .vouch_credential_as_operator(id, &operator())
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => format!(
                "credential not found: no active credential with id {}",
                quoted(id)
            ),
            ServiceError::Rejected(keybound_service::Refusal::NothingToVouch) => format!(
                "credential {} already counts the tier it earned: nothing to vouch for",
                quoted(id)
            ),
            e => e.to_string(),
        })?;
    println!("vouched for {}: tier {tier}", shown(id));
    Ok(())
}
