//! `keybound device import FILE`: an MDM inventory export (CSV with a
//! header row, or a JSON array) onto the device registry's posture. All or
//! nothing: a malformed row refuses the file, naming its line and field,
//! before the database is written. [`Import`] is a variant of the `device`
//! subcommand (`commands/device.rs`), beside list, show, trust…

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keybound_service::names::text::escape;
use keybound_service::posture::{import::MAX_IMPORT_BYTES, parse_inventory, ImportSummary};
use keybound_service::Operator;
use serde::Serialize;

use crate::app::{self, ServiceSettings};
use crate::output;
use crate::settings::{LifetimeSettings, Sources, StoreSettings};

/// `device import`.
#[derive(Args, Debug)]
pub(crate) struct Import {
    /// The export: CSV with a header row (identifier or serial or device,
    /// managed, owner, compliant, disk_encrypted, os_version), or a JSON
    /// array of objects with those keys. A UTF-8 BOM is accepted.
    file: PathBuf,
    /// Print JSON instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    lifetimes: LifetimeSettings,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    records: usize,
    matched: usize,
    waiting: usize,
    decommissioned: usize,
    changed: &'a [String],
}

impl Import {
    /// Reads and checks the file, then imports it in one transaction.
    /// `store` is the `device` command's (global) database settings.
    pub(crate) async fn run(
        self,
        sources: &Sources,
        store: StoreSettings,
    ) -> Result<ExitCode, String> {
        // The file first: a bad row is told before the database is opened.
        let file = std::fs::File::open(&self.file)
            .map_err(|e| format!("cannot read {}: {e}", self.file.display()))?;
        let mut bytes = Vec::new();
        // One byte past the bound is enough to know it is too big.
        file.take(MAX_IMPORT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {e}", self.file.display()))?;
        let records = parse_inventory(&bytes)
            .map_err(|e| format!("{}: {}", self.file.display(), escape(&e.to_string())))?;
        let settings = ServiceSettings {
            store: sources.resolve(store)?,
            lifetimes: sources.resolve(self.lifetimes)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        let operator = Operator::local("cli");
        let summary: ImportSummary = service
            .import_inventory((&operator).into(), &records)
            .await
            .map_err(|e| e.to_string())?;
        if self.json {
            let report = Report {
                records: summary.records,
                matched: summary.matched,
                waiting: summary.waiting,
                decommissioned: summary.decommissioned,
                changed: &summary.changed,
            };
            output::write_out(&format!("{}\n", output::json(&report)?))?;
        } else {
            output::write_out(&format!(
                "imported {} records: {} matched a device, {} wait for their device, \
                 {} named only decommissioned devices; posture changed on {} devices\n",
                summary.records,
                summary.matched,
                summary.waiting,
                summary.decommissioned,
                summary.changed.len()
            ))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
