//! `keybound workload federation add|list|remove`.

use std::path::PathBuf;

use clap::Subcommand;
use keybound_service::names::text::escape;
use keybound_service::{ClientContext, FederationView, Service};

use crate::output::{self, Format, Table};

#[derive(Subcommand, Debug)]
pub(crate) enum FederationCommand {
    /// Federate with TRUST_DOMAIN: its bundle fetched from --bundle-url
    /// (https_web, refreshed by the jobs runner) or read once from
    /// --bundle-file.
    Add {
        /// The federated trust domain.
        trust_domain: String,
        /// Its SPIFFE bundle endpoint (https).
        #[arg(
            long,
            conflicts_with = "bundle_file",
            required_unless_present = "bundle_file"
        )]
        bundle_url: Option<String>,
        /// A SPIFFE bundle (JSON) to keep as it is.
        #[arg(long)]
        bundle_file: Option<PathBuf>,
    },
    /// List the federated trust domains.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop federating with TRUST_DOMAIN.
    Remove {
        /// The federated trust domain.
        trust_domain: String,
    },
}

/// The largest bundle file read, in bytes (the service bounds it again).
const MAX_BUNDLE_FILE: u64 = 256 * 1024;

pub(crate) async fn run(service: &Service, command: FederationCommand) -> Result<(), String> {
    let op = super::operator();
    let ctx = ClientContext::default();
    match command {
        FederationCommand::Add {
            trust_domain,
            bundle_url,
            bundle_file,
        } => {
            let json = match &bundle_file {
                Some(path) => {
                    let len = std::fs::metadata(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?
                        .len();
                    if len > MAX_BUNDLE_FILE {
                        return Err(format!("{}: larger than 256 KiB", path.display()));
                    }
                    Some(
                        std::fs::read_to_string(path)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    )
                }
                None => None,
            };
            service
                .add_federation(
                    (&op).into(),
                    &trust_domain,
                    bundle_url.as_deref(),
                    json.as_deref(),
                    &ctx,
                )
                .await
                .map_err(|e| super::error("federation add", e))?;
            output::write_out(&format!("federated with {}\n", escape(&trust_domain)))
        }
        FederationCommand::List { json } => {
            let list = service
                .federations((&op).into())
                .await
                .map_err(|e| super::error("federation list", e))?;
            output::print(Format::json_if(json), &list, table)
        }
        FederationCommand::Remove { trust_domain } => {
            service
                .remove_federation((&op).into(), &trust_domain, &ctx)
                .await
                .map_err(|e| super::error(&format!("federation {trust_domain}"), e))?;
            output::write_out(&format!(
                "no longer federated with {}\n",
                escape(&trust_domain)
            ))
        }
    }
}

fn table(list: &[FederationView]) -> Table {
    let mut table = Table::new(&[
        "TRUST DOMAIN",
        "SOURCE",
        "SEQUENCE",
        "X509",
        "JWT",
        "FETCHED",
    ]);
    for f in list {
        table.row([
            f.trust_domain.clone(),
            f.bundle_url.clone().unwrap_or_else(|| "(static)".into()),
            f.sequence.map_or_else(|| "-".into(), |s| s.to_string()),
            f.x509_authorities.to_string(),
            f.jwt_authorities.to_string(),
            output::iso_or_never(f.fetched_ms),
        ]);
    }
    table
}
