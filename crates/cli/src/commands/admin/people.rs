//! People: the list, the admin role, suspension and offboarding.

use keybound_service::{
    Credential, CredentialStatus, Identity, Refusal, RoleGrant, Service, ServiceError,
};
use serde::Serialize;

use super::{operator, person_error, quoted, shown};
use crate::output::{self, Format, Table};

/// One person as `admin users --json` prints them.
#[derive(Serialize)]
struct Person {
    name: String,
    kind: &'static str,
    status: &'static str,
    role: &'static str,
    created_at: String,
    credentials_active: usize,
    credentials: usize,
}

impl Person {
    fn of(identity: &Identity, creds: &[Credential]) -> Person {
        Person {
            name: identity.name.clone(),
            kind: identity.kind.as_str(),
            status: identity.status.as_str(),
            role: if identity.is_admin { "admin" } else { "user" },
            created_at: output::iso(identity.created_ms),
            credentials_active: creds
                .iter()
                .filter(|c| c.status == CredentialStatus::Active)
                .count(),
            credentials: creds.len(),
        }
    }
}

/// `admin users`.
pub(super) async fn list(service: &Service, format: Format) -> Result<(), String> {
    let people: Vec<Person> = service
        .people((&operator()).into())
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|(identity, creds)| Person::of(identity, creds))
        .collect();
    output::print(format, &people, |people| {
        let mut table = Table::new(&["NAME", "STATUS", "ROLE", "CREDENTIALS", "CREATED"]);
        for p in people {
            table.row([
                p.name.as_str(),
                p.status,
                p.role,
                &format!(
                    "{} active / {} credentials",
                    p.credentials_active, p.credentials
                ),
                &p.created_at,
            ]);
        }
        table
    })
}

/// `admin promote NAME`: the operator grants the role directly.
pub(super) async fn promote(service: &Service, name: &str) -> Result<(), String> {
    let grant = match service.promote(name, &operator()).await {
        Ok(grant) => grant,
        Err(ServiceError::Rejected(Refusal::RoleUnchanged)) => {
            return Err(format!("{} is already an administrator", quoted(name)))
        }
        Err(ServiceError::Rejected(Refusal::IdentityNotActive)) => {
            return Err(format!(
                "{} is not active (invited, suspended or offboarded). Someone invited is not \
                 promoted, as their open link would silently become an admin enrolment link: \
                 use keybound admin invite {} --admin (it replaces the link). Resume a \
                 suspended person first (keybound admin resume); invite an offboarded one again",
                quoted(name),
                shown(name)
            ))
        }
        Err(e) => return Err(person_error(service, name, e).await),
    };
    match grant {
        RoleGrant::Granted => println!("{} is an administrator", shown(name)),
        RoleGrant::Proposed { id, missing } => {
            println!("proposed {id}: {missing} more approvals needed")
        }
    }
    eprintln!(
        "The console needs a sign-in at tier {}: a device-bound passkey (a security key) \
         with a PIN or biometric.",
        keybound_service::ADMIN_MIN_TIER
    );
    Ok(())
}

/// `admin demote NAME`.
pub(super) async fn demote(service: &Service, name: &str) -> Result<(), String> {
    match service.demote(name, &operator()).await {
        Ok(()) => {
            println!("{} is no longer an administrator", shown(name));
            Ok(())
        }
        Err(ServiceError::Rejected(Refusal::RoleUnchanged)) => {
            Err(format!("{} is not an administrator", quoted(name)))
        }
        Err(e) => Err(person_error(service, name, e).await),
    }
}

/// `admin suspend NAME`.
pub(super) async fn suspend(service: &Service, name: &str) -> Result<(), String> {
    match service.suspend(name, &operator()).await {
        Ok(ended) => {
            println!("suspended {}: {ended} sessions ended", shown(name));
            Ok(())
        }
        Err(ServiceError::Rejected(Refusal::StatusUnchanged)) => {
            Err(format!("{} is already suspended", quoted(name)))
        }
        Err(ServiceError::Rejected(Refusal::IdentityNotActive)) => Err(format!(
            "{} has no active account to suspend (invited or offboarded)",
            quoted(name)
        )),
        Err(e) => Err(person_error(service, name, e).await),
    }
}

/// `admin resume NAME`.
pub(super) async fn resume(service: &Service, name: &str) -> Result<(), String> {
    match service.resume(name, &operator()).await {
        Ok(()) => {
            println!("resumed {}", shown(name));
            Ok(())
        }
        Err(ServiceError::Rejected(Refusal::StatusUnchanged)) => {
            Err(format!("{} is not suspended", quoted(name)))
        }
        Err(e) => Err(person_error(service, name, e).await),
    }
}

/// `admin offboard NAME`.
pub(super) async fn offboard(service: &Service, name: &str) -> Result<(), String> {
    let done = match service.offboard(name, &operator()).await {
        Ok(done) => done,
        Err(e) => return Err(person_error(service, name, e).await),
    };
    println!(
        "offboarded {}: {} credentials revoked, {} sessions ended, {} invitations voided",
        keybound_service::names::text::escape(name),
        done.credentials,
        done.sessions,
        done.grants
    );
    Ok(())
}
