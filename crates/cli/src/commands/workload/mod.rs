//! `keybound workload …`: workload identity (issue 17) from the server's
//! machine, as the local operator: registration entries, join tokens,
//! nodes, the CA, federated trust domains. Listings print a table, or
//! JSON with `--json`; every change is audited under the actor `cli`.

mod ca;
mod entry;
mod federation;
mod node;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::{Operator, Refusal, ServiceError};

use crate::app::{self, ServiceSettings};
use crate::settings::{SiteSettings, Sources, StoreSettings, WorkloadSettings};

/// Who the audit log names as the actor: the local operator.
fn operator() -> Operator {
    Operator::local("cli")
}

/// Workload identity: entries, join tokens, nodes, the CA, federation.
#[derive(Args, Debug)]
pub(crate) struct Workload {
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    workloads: WorkloadSettings,
    #[command(subcommand)]
    command: WorkloadCommand,
}

#[derive(Subcommand, Debug)]
enum WorkloadCommand {
    /// Registration entries: which workloads on which nodes get which
    /// SPIFFE ID.
    #[command(subcommand)]
    Entry(entry::EntryCommand),
    /// Join tokens: one-time credentials a node agent attests with.
    #[command(subcommand)]
    Token(node::TokenCommand),
    /// Attested nodes.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// The workload CA's X.509 authorities.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Federated trust domains.
    #[command(subcommand)]
    Federation(federation::FederationCommand),
}

impl Workload {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            site: sources.resolve(self.site)?,
            workloads: sources.resolve(self.workloads)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        match self.command {
            WorkloadCommand::Entry(c) => entry::run(&service, c).await?,
            WorkloadCommand::Token(c) => node::run_token(&service, c).await?,
            WorkloadCommand::Node(c) => node::run_node(&service, c).await?,
            WorkloadCommand::Ca(c) => ca::run(&service, c).await?,
            WorkloadCommand::Federation(c) => federation::run(&service, c).await?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A service error as the operator reads it (`main` escapes the message):
/// a refusal names its reason, which the audit log holds too.
fn error(what: &str, e: ServiceError) -> String {
    match e {
        ServiceError::NotFound => format!("{what}: not found"),
        ServiceError::Rejected(reason) => format!("{what}: refused: {}", explain(reason)),
        e => format!("{what}: {e}"),
    }
}

fn explain(reason: Refusal) -> String {
    let why = match reason {
        Refusal::WorkloadInvalidSpiffeId => "not a SPIFFE ID (spiffe://TRUST-DOMAIN/PATH)",
        Refusal::WorkloadForeignTrustDomain => "the SPIFFE ID is not in this trust domain",
        Refusal::WorkloadReservedSpiffeId => "paths under /keybound/node/ are the nodes' own",
        Refusal::WorkloadNoSelectors => "an entry needs at least one --selector",
        Refusal::WorkloadInvalidSelector => {
            "selectors are unix:uid:N, unix:gid:N or unix:path:/ABSOLUTE (at most 16)"
        }
        Refusal::WorkloadInvalidParent => "the parent is a node name or set:LABEL",
        Refusal::WorkloadOwnerNotActive => "the owner must be an active person",
        Refusal::WorkloadEntryExists => "the same SPIFFE ID, parent and selectors exist",
        Refusal::WorkloadInvalidNodeName => "node names are 1-63 of a-z, 0-9 and -",
        Refusal::WorkloadNodeNameTaken => "a node of that name exists (names are never reused)",
        Refusal::WorkloadNodeDecommissioned => "the node is decommissioned already",
        Refusal::WorkloadInvalidTrustDomain => "not a trust domain name, or our own",
        Refusal::WorkloadInvalidBundle => "the bundle is not a SPIFFE bundle, or the URL not https",
        Refusal::WorkloadFederationExists => "that trust domain is federated already",
        _ => reason.reason(),
    };
    format!("{why} ({})", reason.reason())
}
