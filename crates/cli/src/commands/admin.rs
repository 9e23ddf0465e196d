//! `keybound admin …`: the local operator's commands, on the database
//! (`--data-dir`, `--database-url`); `invite` also takes the site settings
//! its link is made of, and `vouch-credential` the tier settings it judges
//! by.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape;
use keybound_service::{
    Credential, CredentialStatus, Identity, Operator, Refusal, Service, ServiceError,
};

use crate::app::{self, ServiceSettings};
use crate::settings::{SiteSettings, Sources, StoreSettings, TierSettings};

/// Who the audit log names as the actor of these commands: the local
/// operator, who holds the database.
fn operator() -> Operator {
    Operator::local("cli")
}

/// Administer identities.
#[derive(Args, Debug)]
pub(crate) struct Admin {
    #[command(flatten)]
    store: StoreSettings,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create NAME if needed and print a single-use enrolment URL.
    Invite {
        /// The account name.
        name: String,
        /// Make the identity an administrator.
        #[arg(long)]
        admin: bool,
        /// The lowest tier the enrolled credential may have (1-3).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
        min_tier: u8,
        #[command(flatten)]
        site: SiteSettings,
    },
    /// List identities, their status and credentials.
    Users,
    /// List the credentials of NAME.
    Credentials {
        /// The account name.
        name: String,
    },
    /// Revoke a credential (base64url id): no more sign-ins, sessions end.
    RevokeCredential {
        /// The credential id as `admin credentials` prints it.
        // base64url: one id in 64 starts with '-', which is still an id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "revoked by admin")]
        reason: String,
    },
    /// Offboard NAME: revoke every credential, end every session, void every
    /// open invitation, in one transaction. Only a new invitation undoes it.
    Offboard {
        /// The account name.
        name: String,
    },
    /// Return a quarantined credential (suspected clone) to use once you
    /// have established it is genuine; its counter restarts.
    ClearCredential {
        /// The credential id as `admin credentials` prints it.
        // base64url: one id in 64 starts with '-', which is still an id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Vouch for a credential that counts below the tier it earned because
    /// it was added from a weaker session: it then counts what it earned.
    VouchCredential {
        /// The credential id as `admin credentials` prints it.
        // base64url: one id in 64 starts with '-', which is still an id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        tiers: TierSettings,
    },
}

impl Admin {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let mut settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            ..ServiceSettings::default()
        };
        match self.command {
            AdminCommand::Invite {
                name,
                admin,
                min_tier,
                site,
            } => {
                settings.site = sources.resolve(site)?;
                let service = app::service(&settings).await?;
                invite(&service, &settings.site, &name, admin, min_tier).await?;
            }
            AdminCommand::Users => {
                let service = app::service(&settings).await?;
                for (identity, creds) in service
                    .people((&operator()).into())
                    .await
                    .map_err(|e| e.to_string())?
                {
                    println!("{}", user_line(&identity, &creds));
                }
            }
            AdminCommand::Credentials { name } => {
                let service = app::service(&settings).await?;
                let creds = service
                    .credentials_of((&operator()).into(), &name)
                    .await
                    .map_err(|e| e.to_string())?;
                for c in creds {
                    println!("{}", credential_line(&c));
                }
            }
            AdminCommand::RevokeCredential { id, reason } => {
                let service = app::service(&settings).await?;
                service
                    .revoke_credential(&id, &operator(), &reason)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("revoked {}", escape(&id));
            }
            AdminCommand::Offboard { name } => {
                let service = app::service(&settings).await?;
                let done = service
                    .offboard(&name, &operator())
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "offboarded {}: {} credentials revoked, {} sessions ended, {} invitations voided",
                    escape(&name), done.credentials, done.sessions, done.grants
                );
            }
            AdminCommand::ClearCredential { id } => {
                let service = app::service(&settings).await?;
                service
                    .clear_credential(&id, &operator())
                    .await
                    .map_err(|e| e.to_string())?;
                println!("cleared {}", escape(&id));
            }
            AdminCommand::VouchCredential { id, tiers } => {
                settings.tiers = sources.resolve(tiers)?;
                let service = app::service(&settings).await?;
                let tier = service
                    .vouch_credential_as_operator(&id, &operator())
                    .await
                    .map_err(|e| e.to_string())?;
                println!("vouched for {id}: tier {tier}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Issues the invitation and prints its link (with the first origin).
async fn invite(
    service: &Service,
    site: &SiteSettings,
    name: &str,
    admin: bool,
    min_tier: u8,
) -> Result<(), String> {
    let token = service
        .invite_with_min_tier(name, admin, &operator(), i64::from(min_tier))
        .await
        .map_err(|e| match e {
            ServiceError::Rejected(Refusal::IdentityActive) => format!(
                "{name} already has an active account, so no invitation can be issued for it \
                 (it would let whoever holds the link add a key to that account). They add a \
                 passkey themselves from their signed-in page; if they lost every passkey, use \
                 recovery (\"Lost all your passkeys?\" on the sign-in page)."
            ),
            e => e.to_string(),
        })?;
    let origin = site.origins()?.into_iter().next().unwrap_or_default();
    println!("{origin}/enroll?token={}", token.value);
    if admin {
        eprintln!(
            "{name} is an administrator. The console needs a sign-in at tier {}: \
             enrol a device-bound passkey (a security key, or a passkey that stays on one \
             device) with a PIN or biometric.",
            keybound_service::ADMIN_MIN_TIER
        );
    }
    Ok(())
}

/// `NAME\tSTATUS\tROLE\tN active / M credentials`. Names come from
/// clients: escaped, a newline in one cannot forge a line (nor a tab a
/// column).
fn user_line(identity: &Identity, creds: &[Credential]) -> String {
    let active = creds
        .iter()
        .filter(|c| c.status == CredentialStatus::Active)
        .count();
    format!(
        "{}\t{}\t{}\t{active} active / {} credentials",
        escape(&identity.name),
        identity.status.as_str(),
        if identity.is_admin { "admin" } else { "user" },
        creds.len()
    )
}

/// One credential as a tab-separated line, client-supplied text escaped.
fn credential_line(c: &Credential) -> String {
    let status = match &c.status {
        CredentialStatus::Active => "active".to_owned(),
        CredentialStatus::Quarantined => "QUARANTINED (suspected clone)".to_owned(),
        CredentialStatus::Revoked(why) => format!("revoked ({})", escape(why)),
    };
    format!(
        "{}\t{}\ttier={} ({})\t{}\t{}/{}\t{}\tcount={}\tlast_used={}\t{}",
        keybound_webauthn::b64::encode(&c.id),
        status,
        c.tier,
        escape(&c.tier_reasons),
        escape(&c.aaguid),
        escape(&c.attestation_format),
        escape(&c.attestation_type),
        if c.backup_eligible {
            "synced"
        } else {
            "device-bound"
        },
        c.sign_count,
        c.last_used_ms.map_or("never".to_owned(), |t| t.to_string()),
        escape(c.nickname.as_deref().unwrap_or_default())
    )
}
