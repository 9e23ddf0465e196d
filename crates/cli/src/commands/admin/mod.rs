//! `keybound admin …`: the local operator's commands, on the database
//! (`--data-dir`, `--database-url`) of a server set up before (they never
//! create one); `invite` also takes the site settings its link is made of
//! and the lifetimes, `vouch-credential` the tier settings it judges by,
//! and `suspend`, `revoke-credential` and `offboard` the site and OIDC
//! settings their back-channel logout tokens are issued under. Listings print a table, or JSON with `--json` (`crate::output`).

mod credentials;
mod invitations;
mod people;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape;
use keybound_service::{Operator, Refusal, Service, ServiceError};

use crate::app::{self, ServiceSettings};
use crate::output::Format;
use crate::settings::{
    LifetimeSettings, OidcSettings, SiteSettings, Sources, StoreSettings, TierSettings,
};

/// Who the audit log names as the actor of these commands: the local
/// operator, who holds the database.
fn operator() -> Operator {
    Operator::local("cli")
}

/// `name` as an error message quotes it (`main` escapes the whole
/// message).
fn quoted(name: &str) -> String {
    format!("'{name}'")
}

/// `name` as standard output shows it: escaped, in quotes.
fn shown(name: &str) -> String {
    format!("'{}'", escape(name))
}

/// Administer identities.
#[derive(Args, Debug)]
pub(crate) struct Admin {
    #[command(flatten)]
    store: StoreSettings,
    #[command(subcommand)]
    command: AdminCommand,
}

/// The server's site and OIDC settings, for the commands that end
/// sessions: the back-channel logout tokens they queue name the issuer
/// (`iss`) the relying parties know, so they must run with the settings
/// `serve` runs with (the same file, variables or flags).
#[derive(Args, Debug, Clone)]
struct IssuerSettings {
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    oidc: OidcSettings,
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
        #[command(flatten)]
        lifetimes: LifetimeSettings,
    },
    /// List the open invitations: who, which role, until when, from whom.
    Invitations {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Void NAME's open invitation: its link stops working.
    RevokeInvitation {
        /// The account name.
        name: String,
    },
    /// List identities, their status and credentials.
    Users {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the credentials of NAME.
    Credentials {
        /// The account name.
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grant NAME the admin role (recorded at high severity).
    Promote {
        /// The account name.
        name: String,
    },
    /// Withdraw NAME's admin role; never the last active administrator's.
    Demote {
        /// The account name.
        name: String,
    },
    /// Suspend NAME: no sign-in until resumed, their sessions end now.
    /// Never the last active administrator.
    Suspend {
        /// The account name.
        name: String,
        #[command(flatten)]
        issuer: IssuerSettings,
    },
    /// Make a suspended NAME active again, with the passkeys they had.
    Resume {
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
        #[command(flatten)]
        issuer: IssuerSettings,
    },
    /// Offboard NAME: revoke every credential, end every session, void every
    /// open invitation, in one transaction. Only a new invitation undoes it.
    Offboard {
        /// The account name.
        name: String,
        #[command(flatten)]
        issuer: IssuerSettings,
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
        match &self.command {
            AdminCommand::Invite {
                site, lifetimes, ..
            } => {
                settings.site = sources.resolve(site.clone())?;
                settings.lifetimes = sources.resolve(lifetimes.clone())?;
            }
            AdminCommand::VouchCredential { tiers, .. } => {
                settings.tiers = sources.resolve(tiers.clone())?;
            }
            AdminCommand::Suspend { issuer, .. }
            | AdminCommand::RevokeCredential { issuer, .. }
            | AdminCommand::Offboard { issuer, .. } => {
                settings.site = sources.resolve(issuer.site.clone())?;
                settings.oidc = sources.resolve(issuer.oidc.clone())?;
            }
            _ => {}
        }
        let service = app::existing_service(&settings).await?;
        run(&service, &settings, self.command).await?;
        Ok(ExitCode::SUCCESS)
    }
}

async fn run(
    service: &Service,
    settings: &ServiceSettings,
    command: AdminCommand,
) -> Result<(), String> {
    match command {
        AdminCommand::Invite {
            name,
            admin,
            min_tier,
            ..
        } => invitations::invite(service, &settings.site, &name, admin, min_tier).await,
        AdminCommand::Invitations { json } => {
            invitations::list(service, Format::json_if(json)).await
        }
        AdminCommand::RevokeInvitation { name } => invitations::revoke(service, &name).await,
        AdminCommand::Users { json } => people::list(service, Format::json_if(json)).await,
        AdminCommand::Credentials { name, json } => {
            credentials::list(service, &name, Format::json_if(json)).await
        }
        AdminCommand::Promote { name } => people::promote(service, &name).await,
        AdminCommand::Demote { name } => people::demote(service, &name).await,
        AdminCommand::Suspend { name, .. } => people::suspend(service, &name).await,
        AdminCommand::Resume { name } => people::resume(service, &name).await,
        AdminCommand::Offboard { name, .. } => people::offboard(service, &name).await,
        AdminCommand::RevokeCredential { id, reason, .. } => {
            credentials::revoke(service, &id, &reason).await
        }
        AdminCommand::ClearCredential { id } => credentials::clear(service, &id).await,
        AdminCommand::VouchCredential { id, .. } => credentials::vouch(service, &id).await,
    }
}

/// A service error about the person `name`, as the operator reads it:
/// what was not found or why it was refused, never a bare "not found".
/// The commands match their own refusals first and fall back on this.
async fn person_error(service: &Service, name: &str, e: ServiceError) -> String {
    match e {
        ServiceError::NotFound => {
            let mut said = format!("person not found: no person named {}", quoted(name));
            if let Some(similar) = resembling(service, name).await {
                said.push_str(&format!(
                    "; {} looks the same, but the name typed has {}",
                    quoted(&similar),
                    spelled(name)
                ));
            }
            said
        }
        ServiceError::Rejected(Refusal::InvalidName) => {
            format!("{} is not a valid account name", quoted(name))
        }
        ServiceError::Rejected(Refusal::NameConfusable) => format!(
            "{} looks like the name of an existing person; choose a name that does not",
            quoted(name)
        ),
        ServiceError::Rejected(Refusal::LastAdmin) => format!(
            "{} is the last active administrator: promote another person first \
             (keybound admin promote NAME)",
            quoted(name)
        ),
        e => e.to_string(),
    }
}

/// The name of a person whose name looks like `name` (the same skeleton
/// under the naming rule) but is not it: what a confusable typo meant.
async fn resembling(service: &Service, name: &str) -> Option<String> {
    let key = keybound_service::names::lookup_key(name)?;
    let skeleton = keybound_service::names::skeleton(&key);
    let people = service.people((&operator()).into()).await.ok()?;
    people
        .into_iter()
        .map(|(identity, _)| identity.name)
        .find(|other| {
            keybound_service::names::lookup_key(other)
                .is_some_and(|k| k != key && keybound_service::names::skeleton(&k) == skeleton)
        })
}

/// The code points of `name` outside printable ASCII (`U+0430`), so
/// look-alikes can be told apart.
fn spelled(name: &str) -> String {
    let odd: Vec<String> = name
        .chars()
        .filter(|c| !c.is_ascii_graphic())
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    odd.join(" ")
}
