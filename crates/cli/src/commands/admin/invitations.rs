//! Invitations: issuing one, the open ones, voiding one.

use keybound_service::{OpenInvitation, Refusal, Service, ServiceError};
use serde::Serialize;

use super::{operator, person_error, quoted, shown};
use crate::output::{self, Format, Table};
use crate::settings::SiteSettings;

/// Issues the invitation and prints its link (with the first origin).
pub(super) async fn invite(
    service: &Service,
    site: &SiteSettings,
    name: &str,
    admin: bool,
    min_tier: u8,
) -> Result<(), String> {
    // The link is made of these settings: the shape checks `serve` runs
    // (RP ID, origins) refuse them here too, with the same message, rather
    // than print a link such as `https://x.example//enroll`. The transport
    // checks are `serve`'s (they need its TLS and proxy settings).
    let origins = site.origins()?;
    let report = crate::checks::site(&crate::checks::Deployment {
        rp_id: site.rp_id()?,
        origins: &origins,
        allow_insecure_origin: true,
        tls: false,
        proxy_declared: false,
    });
    if !report.problems.is_empty() {
        return Err(report.problems.join("\n"));
    }
    let token = match service
        .invite_with_min_tier(name, admin, &operator(), i64::from(min_tier))
        .await
    {
        Ok(token) => token,
        Err(ServiceError::Rejected(Refusal::IdentityActive)) => {
            return Err(format!(
                "{} already has an active account, so no invitation can be issued for it \
                 (it would let whoever holds the link add a key to that account). They add a \
                 passkey themselves from their signed-in page; if they lost every passkey, use \
                 recovery (\"Lost all your passkeys?\" on the sign-in page).",
                quoted(name)
            ))
        }
        Err(e) => return Err(person_error(service, name, e).await),
    };
    let origin = origins.into_iter().next().unwrap_or_default();
    println!("{origin}/enroll?token={}", token.value);
    if admin {
        eprintln!(
            "{} is an administrator. The console needs a sign-in at tier {}: \
             enrol a device-bound passkey (a security key, or a passkey that stays on one \
             device) with a PIN or biometric.",
            shown(name),
            keybound_service::ADMIN_MIN_TIER
        );
    }
    Ok(())
}

/// One open invitation as `admin invitations --json` prints it.
#[derive(Serialize)]
struct Listed {
    name: String,
    role: &'static str,
    min_tier: i64,
    created_at: String,
    expires_at: String,
    invited_by: String,
}

impl Listed {
    fn of(i: &OpenInvitation) -> Listed {
        Listed {
            name: i.name.clone(),
            role: i.role.as_str(),
            min_tier: i.min_tier,
            created_at: output::iso(i.created_ms),
            expires_at: output::iso(i.expires_ms),
            invited_by: i.invited_by.clone(),
        }
    }
}

/// `admin invitations`.
pub(super) async fn list(service: &Service, format: Format) -> Result<(), String> {
    let open: Vec<Listed> = service
        .invitations((&operator()).into())
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(Listed::of)
        .collect();
    output::print(format, &open, |open| {
        let mut table = Table::new(&[
            "NAME",
            "ROLE",
            "MIN TIER",
            "CREATED",
            "EXPIRES",
            "INVITED BY",
        ]);
        for i in open {
            table.row([
                i.name.as_str(),
                i.role,
                &i.min_tier.to_string(),
                &i.created_at,
                &i.expires_at,
                &i.invited_by,
            ]);
        }
        table
    })
}

/// `admin revoke-invitation NAME`.
pub(super) async fn revoke(service: &Service, name: &str) -> Result<(), String> {
    match service.void_invitation(name, &operator()).await {
        Ok(n) => {
            println!("revoked {n} invitation(s) of {}", shown(name));
            Ok(())
        }
        Err(ServiceError::Rejected(Refusal::GrantUsedOrExpired)) => Err(format!(
            "{} has no open invitation (it was used, revoked or has expired); \
             `keybound admin invitations` lists the open ones",
            quoted(name)
        )),
        Err(e) => Err(person_error(service, name, e).await),
    }
}
