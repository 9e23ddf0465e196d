//! `keybound mds …`: FIDO Metadata Service BLOBs. Takes the database and
//! tier settings (an import re-tiers every credential, judged as the
//! server judges them); `fetch` also takes the URL.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape;
use keybound_service::MetadataImport;

use crate::app::{self, ServiceSettings};
use crate::mds_fetch::Fetcher;
use crate::output;
use crate::settings::{MetadataSource, Sources, StoreSettings, TierSettings};

/// FIDO Metadata Service BLOBs (needs --mds-root).
#[derive(Args, Debug)]
pub(crate) struct Mds {
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    tiers: TierSettings,
    #[command(subcommand)]
    command: MdsCommand,
}

#[derive(Subcommand, Debug)]
enum MdsCommand {
    /// Verify and import a BLOB (the JWT file from the FIDO MDS); existing
    /// credentials are re-tiered by what it says.
    Import {
        /// The BLOB file.
        file: PathBuf,
    },
    /// Download the BLOB from --mds-url and import it if it is newer.
    Fetch {
        #[command(flatten)]
        source: MetadataSource,
    },
    /// Show what the current BLOB says about a model.
    Show {
        /// The model's AAGUID (8-4-4-4-12).
        aaguid: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
}

impl Mds {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            tiers: sources.resolve(self.tiers)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        match self.command {
            MdsCommand::Import { file } => {
                let jwt = std::fs::read(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                let report = service
                    .import_metadata(&jwt, "cli")
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{}", imported(&report));
            }
            MdsCommand::Fetch { source } => {
                let source = sources.resolve(source)?;
                let url = source.url().ok_or("set --mds-url (or KEYBOUND_MDS_URL)")?;
                match Fetcher::default().fetch(&service, url).await? {
                    Some(report) => println!("{}", imported(&report)),
                    None => println!("metadata unchanged"),
                }
            }
            MdsCommand::Show { aaguid, json } => {
                let entry = service
                    .metadata_entry(&aaguid)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no metadata for {}", escape(&aaguid)))?;
                let shown = Shown {
                    aaguid: aaguid.clone(),
                    description: entry.description.clone(),
                    certification: entry.certification().map(str::to_owned),
                    adverse_status: entry.adverse_status().map(str::to_owned),
                    status_reports: entry.statuses.clone(),
                    attestation_roots: entry.roots.len(),
                };
                if json {
                    println!("{}", output::json(&shown)?);
                } else {
                    println!("description: {}", escape(&shown.description));
                    println!(
                        "certification: {}",
                        escape(shown.certification.as_deref().unwrap_or("none"))
                    );
                    println!(
                        "adverse status: {}",
                        escape(shown.adverse_status.as_deref().unwrap_or("none"))
                    );
                    println!(
                        "status reports: {}",
                        escape(&shown.status_reports.join(", "))
                    );
                    println!("attestation roots: {}", shown.attestation_roots);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// What `mds show --json` prints.
#[derive(serde::Serialize)]
struct Shown {
    aaguid: String,
    description: String,
    certification: Option<String>,
    adverse_status: Option<String>,
    status_reports: Vec<String>,
    attestation_roots: usize,
}

fn imported(report: &MetadataImport) -> String {
    format!(
        "imported metadata BLOB no {}: {} entries; {} credentials re-tiered, {} suspended",
        report.no, report.entries, report.retiered, report.suspended
    )
}
