//! `keybound device …`: the device registry (issue 16) from the server's
//! machine: list and show devices, trust or untrust one, rename it, and
//! decommission it (its credential revoked and its sessions ended in one
//! transaction). Listings print a table, or JSON with `--json`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape;
use keybound_service::{ClientContext, DeviceView, Operator, Refusal, Service, ServiceError};
use serde::Serialize;

use crate::app::{self, ServiceSettings};
use crate::output::{self, Format, Table};
use crate::settings::{OidcSettings, SiteSettings, Sources, StoreSettings};

/// Who the audit log names as the actor: the local operator.
fn operator() -> Operator {
    Operator::local("cli")
}

/// Enrolled devices: list, show, trust, untrust, rename, decommission.
#[derive(Args, Debug)]
pub(crate) struct Device {
    #[command(flatten)]
    store: StoreSettings,
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// List every device: owner, label, trust, last seen.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one device (NAME as `device list` prints it, `dev-…`).
    Show {
        /// The device's name.
        name: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
    /// Trust NAME: policies that require a trusted device admit it.
    Trust {
        /// The device's name.
        name: String,
        /// Why, for the audit log and the device's record.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Withdraw NAME's trust (its sessions go on, as an untrusted device's).
    Untrust {
        /// The device's name.
        name: String,
        /// Why, for the audit log and the device's record.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Decommission NAME (lost, stolen, retired): its credential is
    /// revoked and its sessions end now. It never comes back.
    Decommission {
        /// The device's name.
        name: String,
        #[command(flatten)]
        site: SiteSettings,
        #[command(flatten)]
        oidc: OidcSettings,
    },
    /// Give NAME a new label (1-64 printable characters).
    Rename {
        /// The device's name.
        name: String,
        /// The new label.
        label: String,
    },
    /// Import an inventory export (CSV or JSON) of serials or device names
    /// with managed, owner, compliant, disk_encrypted, os_version.
    Import(crate::commands::device_import::Import),
}

impl Device {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        // The import reads and checks its file before it opens the store.
        let command = match self.command {
            DeviceCommand::Import(import) => return import.run(sources, self.store).await,
            other => other,
        };
        let mut settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            ..ServiceSettings::default()
        };
        if let DeviceCommand::Decommission { site, oidc, .. } = &command {
            // Back-channel logout tokens for the ended sessions name the
            // issuer the relying parties know.
            settings.site = sources.resolve(site.clone())?;
            settings.oidc = sources.resolve(oidc.clone())?;
        }
        let service = app::existing_service(&settings).await?;
        run(&service, command).await?;
        Ok(ExitCode::SUCCESS)
    }
}

async fn run(service: &Service, command: DeviceCommand) -> Result<(), String> {
    let ctx = ClientContext::default();
    let op = operator();
    match command {
        DeviceCommand::List { json } => {
            let devices = service
                .devices((&op).into())
                .await
                .map_err(|e| e.to_string())?;
            let listed: Vec<Listed> = devices.iter().map(Listed::of).collect();
            output::print(Format::json_if(json), &listed, table)
        }
        DeviceCommand::Show { name, json } => {
            let device = service
                .device((&op).into(), &name)
                .await
                .map_err(|e| device_error(&name, e))?;
            let listed = Listed::of(&device);
            if json {
                output::write_out(&format!("{}\n", output::json(&listed)?))
            } else {
                output::write_out(&listed.lines())
            }
        }
        DeviceCommand::Trust { name, reason } => {
            service
                .trust_device((&op).into(), &name, reason.as_deref(), &ctx)
                .await
                .map_err(|e| device_error(&name, e))?;
            println!("trusted {}", shown(&name));
            Ok(())
        }
        DeviceCommand::Untrust { name, reason } => {
            service
                .untrust_device((&op).into(), &name, reason.as_deref(), &ctx)
                .await
                .map_err(|e| device_error(&name, e))?;
            println!("untrusted {}", shown(&name));
            Ok(())
        }
        DeviceCommand::Decommission { name, .. } => {
            let done = service
                .decommission_device((&op).into(), &name, &ctx)
                .await
                .map_err(|e| device_error(&name, e))?;
            println!(
                "decommissioned {}: credential {}, {} session{} ended",
                shown(&name),
                if done.credential_revoked {
                    "revoked"
                } else {
                    "was already revoked"
                },
                done.sessions,
                if done.sessions == 1 { "" } else { "s" }
            );
            Ok(())
        }
        DeviceCommand::Rename { name, label } => {
            service
                .rename_device((&op).into(), &name, &label, &ctx)
                .await
                .map_err(|e| device_error(&name, e))?;
            println!("renamed {} to {}", shown(&name), shown(&label));
            Ok(())
        }
        // Run by `Device::run` before the store is opened.
        DeviceCommand::Import(_) => Ok(()),
    }
}

/// `name` as standard output shows it: escaped, in quotes.
fn shown(name: &str) -> String {
    format!("'{}'", escape(name))
}

/// A service error about the device `name`, as the operator reads it
/// (`main` escapes the whole message).
fn device_error(name: &str, e: ServiceError) -> String {
    match e {
        ServiceError::NotFound => format!(
            "device not found: no device named '{name}' (names are as `keybound device list` \
             prints them, dev-…)"
        ),
        ServiceError::Rejected(Refusal::DeviceDecommissioned) => format!(
            "'{name}' is decommissioned: a decommissioned device is never trusted, renamed or \
             decommissioned again"
        ),
        ServiceError::Rejected(Refusal::DeviceStatusUnchanged) => {
            format!("'{name}' already has that trust: nothing changed")
        }
        ServiceError::Rejected(Refusal::InvalidDeviceLabel) => {
            "a device label is 1 to 64 printable characters".to_owned()
        }
        e => e.to_string(),
    }
}

/// One device as `device list --json` and `device show --json` print it.
#[derive(Serialize)]
struct Listed {
    name: String,
    owner: Option<String>,
    label: String,
    platform: String,
    attachment: String,
    status: String,
    trust_reason: String,
    model: String,
    aaguid: String,
    attestation_format: String,
    attestation_trust: String,
    key_storage: String,
    serial: Option<String>,
    credential_id: Option<String>,
    created_at: String,
    last_seen_at: Option<String>,
    decommissioned_at: Option<String>,
    #[serde(skip)]
    last_seen_ms: Option<i64>,
}

impl Listed {
    fn of(d: &DeviceView) -> Listed {
        Listed {
            name: d.name.clone(),
            owner: d.owner.clone(),
            label: d.label.clone(),
            platform: d.platform.clone(),
            attachment: d.attachment.clone(),
            status: d.status.clone(),
            trust_reason: d.trust_reason.clone(),
            model: d.model.clone(),
            aaguid: d.aaguid.clone(),
            attestation_format: d.attestation_format.clone(),
            attestation_trust: d.attestation_trust.clone(),
            key_storage: d.key_storage.clone(),
            serial: d.serial.clone(),
            credential_id: d.credential_id.clone(),
            created_at: output::iso(d.created_ms),
            last_seen_at: d.last_seen_ms.map(output::iso),
            decommissioned_at: d.decommissioned_ms.map(output::iso),
            last_seen_ms: d.last_seen_ms,
        }
    }

    /// `device show` as lines of text, every value escaped.
    fn lines(&self) -> String {
        let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        let fields = [
            ("name", self.name.clone()),
            ("owner", none(&self.owner)),
            ("label", self.label.clone()),
            ("platform", self.platform.clone()),
            ("attachment", self.attachment.clone()),
            ("status", self.status.clone()),
            ("why", self.trust_reason.clone()),
            ("model", self.model.clone()),
            ("aaguid", self.aaguid.clone()),
            (
                "attestation",
                format!("{} ({})", self.attestation_format, self.attestation_trust),
            ),
            ("key storage", self.key_storage.clone()),
            ("serial", none(&self.serial)),
            ("credential", none(&self.credential_id)),
            ("enrolled", self.created_at.clone()),
            ("last seen", output::iso_or_never(self.last_seen_ms)),
            ("decommissioned", none(&self.decommissioned_at)),
        ];
        fields
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", escape(v)))
            .collect()
    }
}

fn table(listed: &[Listed]) -> Table {
    let mut table = Table::new(&[
        "NAME",
        "OWNER",
        "LABEL",
        "PLATFORM",
        "STATUS",
        "KEY",
        "MODEL (AAGUID)",
        "ENROLLED",
        "LAST SEEN",
    ]);
    for d in listed {
        table.row([
            d.name.clone(),
            d.owner
                .clone()
                .unwrap_or_else(|| "(organisation)".to_owned()),
            d.label.clone(),
            d.platform.clone(),
            d.status.clone(),
            d.key_storage.clone(),
            if d.model.is_empty() {
                d.aaguid.clone()
            } else {
                format!("{} ({})", d.model, d.aaguid)
            },
            d.created_at.clone(),
            output::iso_or_never(d.last_seen_ms),
        ]);
    }
    table
}
