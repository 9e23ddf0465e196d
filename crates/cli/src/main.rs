//! The `keybound` binary: `serve`, `admin …`, `audit …`. Parses, loads
//! configuration and calls the service or the server; nothing more.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

mod config_file;
mod limits;
mod mds_fetch;
use keybound_service::names::text::{escape, escape_json};
use keybound_service::{Config, Operator, Service, SystemClock};
use keybound_store::{Durability, Store};
use keybound_webauthn::OriginPolicy;
use rand_core::TryRngCore;

#[derive(Parser)]
#[command(
    name = "keybound",
    version,
    about = "Bind identities to keys, not secrets."
)]
struct Cli {
    /// A TOML file with the same settings as the flags (flags and
    /// KEYBOUND_* variables take precedence).
    #[arg(long, env = "KEYBOUND_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relying-party server.
    Serve(Common),
    /// Administer identities.
    Admin {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Check or export the audit chain.
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// FIDO Metadata Service BLOBs (needs --mds-root).
    Mds {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: MdsCommand,
    },
}

#[derive(Subcommand)]
enum MdsCommand {
    /// Verify and import a BLOB (the JWT file from the FIDO MDS); existing
    /// credentials are re-tiered by what it says.
    Import {
        /// The BLOB file.
        file: PathBuf,
    },
    /// Download the BLOB from --mds-url and import it if it is newer.
    Fetch,
    /// Show what the current BLOB says about a model.
    Show {
        /// The model's AAGUID (8-4-4-4-12).
        aaguid: String,
    },
}

#[derive(Subcommand)]
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
        id: String,
    },
    /// Vouch for a credential that counts below the tier it earned because
    /// it was added from a weaker session: it then counts what it earned.
    VouchCredential {
        /// The credential id as `admin credentials` prints it.
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; names the first broken event.
    Verify,
    /// Write every event as JSON lines to standard output.
    Export,
    /// Write the events that call for attention (alerts, and events with a
    /// severity) as JSON lines.
    Alerts {
        /// Only those of the last DURATION: `30m`, `24h`, `7d`.
        #[arg(long, value_parser = parse_duration_ms)]
        since: Option<i64>,
    },
}

/// `30s`, `30m`, `24h`, `7d` in milliseconds, for clap.
fn parse_duration_ms(text: &str) -> Result<i64, String> {
    keybound_service::duration_ms(text)
        .ok_or_else(|| format!("{text:?}: expected a number and s, m, h or d"))
}

/// Settings shared by every subcommand (flags or KEYBOUND_* variables).
#[derive(Args, Clone)]
struct Common {
    /// Address to listen on.
    #[arg(
        long,
        env = "KEYBOUND_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// The WebAuthn RP ID.
    #[arg(
        long,
        env = "KEYBOUND_RP_ID",
        default_value = "localhost",
        global = true
    )]
    rp_id: String,
    /// The name authenticators show.
    #[arg(
        long,
        env = "KEYBOUND_RP_NAME",
        default_value = "keybound",
        global = true
    )]
    rp_name: String,
    /// Allowed origin (repeatable); default from the listen address and RP ID.
    #[arg(
        long = "origin",
        env = "KEYBOUND_ORIGIN",
        value_delimiter = ',',
        global = true
    )]
    origins: Vec<String>,
    /// Where the embedded database lives.
    #[arg(
        long,
        env = "KEYBOUND_DATA_DIR",
        default_value = "keybound-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Database URL: `sqlite://FILE` (one node) or `postgres://…` (any
    /// number of nodes on one database); default: DATA_DIR/keybound.db.
    #[arg(long, env = "KEYBOUND_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// What an acknowledged write survives: `full` (a power cut: fsync
    /// before every acknowledgement, shared by group commit) or `relaxed`
    /// (a killed process, not a power cut or database crash).
    #[arg(
        long,
        env = "KEYBOUND_DURABILITY",
        default_value = "full",
        value_parser = parse_durability,
        global = true
    )]
    durability: Durability,
    /// Seconds a ceremony's challenge may be answered.
    #[arg(
        long,
        env = "KEYBOUND_CHALLENGE_TTL",
        default_value_t = 300,
        global = true
    )]
    challenge_ttl: u32,
    /// Let anyone register a new name through the ceremony API.
    #[arg(long, env = "KEYBOUND_OPEN_REGISTRATION", global = true)]
    open_registration: bool,
    /// The lowest tier a new credential may have: 1 any passkey, 2
    /// device-bound with user verification, 3 certified hardware.
    #[arg(
        long,
        env = "KEYBOUND_REGISTRATION_MIN_TIER",
        default_value_t = 1,
        value_parser = clap::value_parser!(u8).range(1..=3),
        global = true
    )]
    registration_min_tier: u8,
    /// Passkeys each person should hold (the backup rule): below it the
    /// account says it lacks a backup, and revoking down past it needs a
    /// fresh sign-in and a confirmation.
    #[arg(
        long,
        env = "KEYBOUND_MIN_CREDENTIALS",
        default_value_t = 2,
        global = true
    )]
    min_credentials: usize,
    /// Refuse credentials created without user verification.
    #[arg(long, env = "KEYBOUND_REQUIRE_USER_VERIFICATION", global = true)]
    require_user_verification: bool,
    /// Tier 2 needs a verified attestation: without one, "device-bound with
    /// user verification" is only what the authenticator says of itself.
    #[arg(long, env = "KEYBOUND_TIER2_REQUIRES_ATTESTATION", global = true)]
    tier2_requires_attestation: bool,
    /// Refuse TPM attestations signed with SHA-1 (RS1), which Windows Hello
    /// laptops send; accepted by default and marked in the audit log.
    #[arg(long, env = "KEYBOUND_REFUSE_SHA1_TPM_ATTESTATION", global = true)]
    refuse_sha1_tpm_attestation: bool,
    /// Only these authenticator models (AAGUID) may register (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_AAGUID_ALLOW",
        value_delimiter = ',',
        global = true
    )]
    aaguid_allow: Vec<String>,
    /// A higher minimum tier for a group (role), as GROUP=TIER, e.g.
    /// `admin=2` (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_GROUP_MIN_TIER",
        value_delimiter = ',',
        global = true
    )]
    group_min_tier: Vec<String>,
    /// These authenticator models (AAGUID) may never register (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_AAGUID_DENY",
        value_delimiter = ',',
        global = true
    )]
    aaguid_deny: Vec<String>,
    /// The FIDO Metadata Service root certificate (DER or PEM file) that
    /// metadata BLOBs must chain to.
    #[arg(long, env = "KEYBOUND_MDS_ROOT", global = true)]
    mds_root: Option<PathBuf>,
    /// Administrators who must approve a recovery (each other than the
    /// person recovered).
    #[arg(long, env = "KEYBOUND_RECOVERY_APPROVALS", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..), global = true)]
    recovery_approvals: u8,
    /// Seconds between the last approval and the recovery grant.
    #[arg(
        long,
        env = "KEYBOUND_RECOVERY_WAIT",
        default_value_t = 0,
        global = true
    )]
    recovery_wait: u32,
    /// Ceremony requests a minute from one client address (IPv6: /64), not
    /// counting successful sign-ins (0: no limits). The default suits an
    /// organisation behind one NAT.
    #[arg(
        long,
        env = "KEYBOUND_RATE_LIMIT_PER_MINUTE",
        default_value_t = 600,
        global = true
    )]
    rate_limit_per_minute: u32,
    /// Ceremony requests a minute naming one account, from any address,
    /// before each further one is delayed (never refused).
    #[arg(
        long,
        env = "KEYBOUND_RATE_LIMIT_PER_IDENTITY",
        default_value_t = 30,
        global = true
    )]
    rate_limit_per_identity: u32,
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For names
    /// the client (repeatable); otherwise the socket's address is the
    /// client.
    #[arg(
        long = "trusted-proxy",
        env = "KEYBOUND_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    trusted_proxies: Vec<keybound_server::TrustedProxies>,
    #[command(flatten)]
    limits: limits::Limits,
    /// Where to fetch the FIDO metadata BLOB from while serving (e.g.
    /// https://mds3.fidoalliance.org/); off unless set.
    #[arg(long, env = "KEYBOUND_MDS_URL", global = true)]
    mds_url: Option<String>,
    /// Seconds between metadata fetches.
    #[arg(
        long,
        env = "KEYBOUND_MDS_REFRESH",
        default_value_t = 86_400,
        global = true
    )]
    mds_refresh: u64,
    /// Attestation requested at registration: none, indirect, direct,
    /// enterprise.
    #[arg(
        long,
        env = "KEYBOUND_ATTESTATION",
        default_value = "none",
        global = true
    )]
    attestation: String,
}

impl Common {
    fn origins(&self) -> Vec<String> {
        if !self.origins.is_empty() {
            return self.origins.clone();
        }
        if self.rp_id == "localhost" {
            vec![format!("http://localhost:{}", self.listen.port())]
        } else {
            vec![format!("https://{}", self.rp_id)]
        }
    }

    fn database_url(&self) -> Result<String, String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", self.data_dir.display()))?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("keybound.db").display()
        ))
    }

    async fn service(&self) -> Result<Service, String> {
        let url = self.database_url()?;
        let store = Store::open_with(&url, self.durability)
            .await
            .map_err(|e| format!("{}: {e}", redact_password(&url)))?;
        let mut rng = rand_core::OsRng.unwrap_err();
        let mut fresh = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rng, &mut fresh);
        let secret = store
            .secret("enumeration", &fresh)
            .await
            .map_err(|e| e.to_string())?;
        let origins = OriginPolicy::exact(self.origins()).map_err(|e| e.to_string())?;
        let mut config = Config::new(
            &self.rp_id,
            origins,
            secret
                .try_into()
                .map_err(|_| "stored secret has the wrong length".to_owned())?,
        );
        config.rp_name = self.rp_name.clone();
        config.open_registration = self.open_registration;
        config.challenge_ttl_ms = i64::from(self.challenge_ttl) * 1000;
        config.mds_root = self.mds_root.as_deref().map(read_certificate).transpose()?;
        config.recovery.approvals = usize::from(self.recovery_approvals);
        config.recovery.wait_ms = i64::from(self.recovery_wait) * 1000;
        config.rate_limits = keybound_service::RateLimits {
            per_source: self.rate_limit_per_minute,
            per_identity: self.rate_limit_per_identity,
            ..Default::default()
        };
        self.limits.pending(&mut config.rate_limits);
        config.policy = keybound_service::Policy {
            registration_min_tier: i64::from(self.registration_min_tier),
            require_user_verification: self.require_user_verification,
            tier2_requires_attestation: self.tier2_requires_attestation,
            aaguid_allow: self.aaguid_allow.clone(),
            aaguid_deny: self.aaguid_deny.clone(),
            min_credentials: self.min_credentials,
            allow_sha1_tpm_attestation: !self.refuse_sha1_tpm_attestation,
            group_min_tier: self
                .group_min_tier
                .iter()
                .map(|g| {
                    g.split_once('=')
                        .and_then(|(group, tier)| {
                            let tier: i64 = tier.trim().parse().ok()?;
                            (1..=3)
                                .contains(&tier)
                                .then(|| (group.trim().to_owned(), tier))
                        })
                        .ok_or_else(|| format!("--group-min-tier {g:?}: expected GROUP=1..3"))
                })
                .collect::<Result<_, _>>()?,
            attestation: serde_json::from_value(serde_json::Value::String(
                self.attestation.clone(),
            ))
            .map_err(|_| {
                format!(
                    "--attestation {:?}: expected none, indirect, direct or enterprise",
                    self.attestation
                )
            })?,
        };
        Ok(Service::new(
            store,
            config,
            Arc::new(SystemClock),
            Box::new(rng),
        ))
    }
}

/// A certificate file, DER or PEM.
fn read_certificate(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    let Some(body) = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
    else {
        return Ok(bytes);
    };
    let joined: String = body.split_whitespace().collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .map_err(|e| format!("{}: bad PEM: {e}", path.display()))
}

fn main() -> ExitCode {
    // The configuration file becomes environment defaults before the
    // runtime starts any thread.
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = config_file::requested(&args) {
        if let Err(e) = config_file::apply(std::path::Path::new(&path)) {
            eprintln!("keybound: {e}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keybound: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(start(cli))
}

async fn start(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYBOUND_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keybound: {}", escape(&e));
            ExitCode::FAILURE
        }
    }
}

/// One event as a line of JSON for a terminal: JSON escapes the C0
/// controls, and [`escape_json`] the rest (C1 controls, bidi and invisible
/// characters) that a client may have put in a name or user agent.
fn json_line(event: &keybound_audit::AuditEvent) -> Result<String, String> {
    let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
    Ok(escape_json(&line).into_owned())
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Serve(common) => serve(common).await,
        Command::Admin { common, command } => {
            let service = common.service().await?;
            let operator = Operator::local("cli");
            match command {
                AdminCommand::Invite {
                    name,
                    admin,
                    min_tier,
                } => {
                    let token = service
                        .invite_with_min_tier(&name, admin, &operator, i64::from(min_tier))
                        .await
                        .map_err(|e| match e {
                            keybound_service::ServiceError::Rejected(keybound_service::Refusal::IdentityActive) => format!(
                                "{name} already has an active account, so no invitation can be issued for it \
                                 (it would let whoever holds the link add a key to that account). They add a \
                                 passkey themselves from their signed-in page; if they lost every passkey, use \
                                 recovery (\"Lost all your passkeys?\" on the sign-in page)."
                            ),
                            e => e.to_string(),
                        })?;
                    let origin = common.origins().into_iter().next().unwrap_or_default();
                    println!("{origin}/enroll?token={}", token.value);
                    if admin {
                        eprintln!(
                            "{name} is an administrator. The console needs a sign-in at tier {}: \
                             enrol a device-bound passkey (a security key, or a passkey that stays on one \
                             device) with a PIN or biometric.",
                            keybound_service::ADMIN_MIN_TIER
                        );
                    }
                }
                AdminCommand::Users => {
                    for (identity, creds) in service
                        .people((&operator).into())
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        let active = creds
                            .iter()
                            .filter(|c| c.status == keybound_store::CredentialStatus::Active)
                            .count();
                        // Names come from clients: escaped, a newline in
                        // one cannot forge a line (nor a tab a column).
                        println!(
                            "{}\t{}\t{}\t{active} active / {} credentials",
                            escape(&identity.name),
                            identity.status.as_str(),
                            if identity.is_admin { "admin" } else { "user" },
                            creds.len()
                        );
                    }
                }
                AdminCommand::Credentials { name } => {
                    let creds = service
                        .credentials_of((&operator).into(), &name)
                        .await
                        .map_err(|e| e.to_string())?;
                    for c in creds {
                        let status = match &c.status {
                            keybound_store::CredentialStatus::Active => "active".to_owned(),
                            keybound_store::CredentialStatus::Quarantined => {
                                "QUARANTINED (suspected clone)".to_owned()
                            }
                            keybound_store::CredentialStatus::Revoked(why) => {
                                format!("revoked ({})", escape(why))
                            }
                        };
                        println!(
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
                        );
                    }
                }
                AdminCommand::RevokeCredential { id, reason } => {
                    service
                        .revoke_credential(&id, &operator, &reason)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("revoked {}", escape(&id));
                }
                AdminCommand::Offboard { name } => {
                    let done = service
                        .offboard(&name, &operator)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!(
                        "offboarded {}: {} credentials revoked, {} sessions ended, {} invitations voided",
                        escape(&name), done.credentials, done.sessions, done.grants
                    );
                }
                AdminCommand::VouchCredential { id } => {
                    let tier = service
                        .vouch_credential_as_operator(&id, &operator)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("vouched for {id}: tier {tier}");
                }
                AdminCommand::ClearCredential { id } => {
                    service
                        .clear_credential(&id, &operator)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("cleared {}", escape(&id));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Mds { common, command } => {
            let service = common.service().await?;
            match command {
                MdsCommand::Import { file } => {
                    let jwt = std::fs::read(&file)
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    let report = service
                        .import_metadata(&jwt, "cli")
                        .await
                        .map_err(|e| e.to_string())?;
                    println!(
                        "imported metadata BLOB no {}: {} entries; {} credentials re-tiered, {} suspended",
                        report.no, report.entries, report.retiered, report.suspended
                    );
                }
                MdsCommand::Fetch => {
                    let url = common
                        .mds_url
                        .as_deref()
                        .ok_or("set --mds-url (or KEYBOUND_MDS_URL)")?;
                    match mds_fetch::Fetcher::default().fetch(&service, url).await? {
                        Some(report) => println!(
                            "imported metadata BLOB no {}: {} entries; {} credentials re-tiered, {} suspended",
                            report.no, report.entries, report.retiered, report.suspended
                        ),
                        None => println!("metadata unchanged"),
                    }
                }
                MdsCommand::Show { aaguid } => {
                    match service
                        .metadata_entry(&aaguid)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(entry) => {
                            println!("description: {}", escape(&entry.description));
                            println!(
                                "certification: {}",
                                escape(entry.certification().unwrap_or("none"))
                            );
                            println!(
                                "adverse status: {}",
                                escape(entry.adverse_status().unwrap_or("none"))
                            );
                            println!("status reports: {}", escape(&entry.statuses.join(", ")));
                            println!("attestation roots: {}", entry.roots.len());
                        }
                        None => return Err(format!("no metadata for {}", escape(&aaguid))),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { common, command } => {
            let service = common.service().await?;
            audit_command(&service, command)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// Events read from the database at a time by `audit verify`, `export`
/// and `alerts`: memory stays at one page whatever the chain's length.
const AUDIT_PAGE: usize = 1000;

/// `keybound audit …`: reads the chain as it stood when the command began,
/// a page at a time, writing each page out before reading the next.
async fn audit_command(
    service: &keybound_service::Service,
    command: AuditCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use std::io::Write;
    let mut chain = service.store().audit_chain(AUDIT_PAGE).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let now = keybound_service::Clock::now_ms(&SystemClock);
    let mut verifier = keybound_audit::ChainVerifier::new();
    loop {
        let page = chain.next_page().await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            match &command {
                AuditCommand::Verify => {
                    if let Err(broken) = verifier.push(e) {
                        writeln!(out, "audit chain BROKEN: {}", escape(&broken.to_string()))?;
                        out.flush()?;
                        return Ok(ExitCode::FAILURE);
                    }
                }
                AuditCommand::Export => writeln!(out, "{}", json_line(e)?)?,
                AuditCommand::Alerts { since } => {
                    let from = since.map_or(i64::MIN, |ms| now.saturating_sub(ms));
                    let attention = e.event.outcome == Some(keybound_audit::Outcome::Alert)
                        || e.event.severity.is_some();
                    if e.event.time_ms >= from && attention {
                        writeln!(out, "{}", json_line(e)?)?;
                    }
                }
            }
        }
    }
    if matches!(command, AuditCommand::Verify) {
        if verifier.verified() < chain.len() {
            // Rows missing at the end of what the chain held when we began.
            writeln!(
                out,
                "audit chain BROKEN: expected event {}, found none: events missing",
                verifier.verified() + 1
            )?;
            out.flush()?;
            return Ok(ExitCode::FAILURE);
        }
        writeln!(out, "audit chain verified: {} events", verifier.verified())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    match s {
        "full" => Ok(Durability::Full),
        "relaxed" => Ok(Durability::Relaxed),
        other => Err(format!("{other:?}: expected full or relaxed")),
    }
}

/// A database URL fit for a log line: a password in it becomes `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***".to_owned(),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

async fn serve(common: Common) -> Result<ExitCode, String> {
    let service = Arc::new(common.service().await?);
    if let Some(url) = &common.mds_url {
        if common.mds_root.is_none() {
            return Err("--mds-url needs --mds-root (the FIDO root the BLOB must chain to)".into());
        }
        mds_fetch::spawn_refresh(
            service.clone(),
            url.clone(),
            std::time::Duration::from_secs(common.mds_refresh.max(1)),
        );
    }
    let secure = common.origins().iter().all(|o| o.starts_with("https://"));
    service
        .record_start(&[
            ("listen", common.listen.to_string()),
            ("durability", format!("{:?}", common.durability)),
            ("secure_cookies", secure.to_string()),
            ("trusted_proxies", format!("{:?}", common.trusted_proxies)),
        ])
        .await
        .map_err(|e| format!("cannot record the start in the audit log: {e}"))?;
    service
        .retier_for_policy()
        .await
        .map_err(|e| format!("cannot bring tiers in line with the policy: {e}"))?;
    let app = keybound_server::router(
        keybound_server::AppState::new(service, secure)
            .with_trusted_proxies(common.trusted_proxies.iter().cloned().collect()),
    );
    let listener = tokio::net::TcpListener::bind(common.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", common.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // A closed stdout (a supervisor that stopped reading) must not take the
    // server down, so these lines ignore write errors.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "keybound listening on http://{local} (RP ID {})",
        common.rp_id
    );
    let _ = writeln!(out, "origins: {}", common.origins().join(", "));
    let _ = writeln!(
        out,
        "data: {} (durability: {:?})",
        redact_password(&common.database_url()?),
        common.durability
    );
    let _ = writeln!(
        out,
        "invite the first admin: keybound admin invite NAME --admin"
    );
    let _ = out.flush();
    keybound_server::serve_behind(
        listener,
        app,
        common.limits.connections(),
        common.trusted_proxies.iter().cloned().collect(),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn database_passwords_stay_out_of_logs() {
        assert_eq!(
            redact_password("postgres://kb:s3cret@db.internal:5432/keybound"),
            "postgres://kb:***@db.internal:5432/keybound"
        );
        assert_eq!(
            redact_password("postgres://kb@db/keybound?sslmode=require&password=s3cret"),
            "postgres://kb@db/keybound?sslmode=require&password=***"
        );
        assert_eq!(
            redact_password("sqlite://keybound-data/keybound.db"),
            "sqlite://keybound-data/keybound.db"
        );
    }
}
