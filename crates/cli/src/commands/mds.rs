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
        let service = app::service(&settings).await?;
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
            MdsCommand::Show { aaguid } => {
                let entry = service
                    .metadata_entry(&aaguid)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no metadata for {}", escape(&aaguid)))?;
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
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn imported(report: &MetadataImport) -> String {
    format!(
        "imported metadata BLOB no {}: {} entries; {} credentials re-tiered, {} suspended",
        report.no, report.entries, report.retiered, report.suspended
    )
}
