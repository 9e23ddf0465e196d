//! `keybound workload entry add|list|show|remove`.

use clap::Subcommand;
use keybound_service::names::text::escape;
use keybound_service::{ClientContext, EntryView, NewEntry, Service};

use crate::output::{self, Format, Table};

#[derive(Subcommand, Debug)]
pub(crate) enum EntryCommand {
    /// Add an entry: workloads matching every selector on the parent
    /// node(s) get SPIFFE_ID.
    Add {
        /// The SPIFFE ID, `spiffe://TRUST-DOMAIN/PATH`.
        #[arg(long)]
        spiffe_id: String,
        /// A node's name, or `set:LABEL` for every node in that set.
        #[arg(long)]
        parent: String,
        /// `unix:uid:N`, `unix:gid:N`, `unix:path:/ABSOLUTE`; repeat for more
        /// (a workload must match all).
        #[arg(long = "selector", required = true)]
        selectors: Vec<String>,
        /// The person answerable for it (offboarding them removes it).
        #[arg(long)]
        owner: String,
        /// X.509-SVID lifetime in seconds (default: --svid-ttl).
        #[arg(long, default_value_t = 0)]
        x509_ttl: u32,
        /// JWT-SVID lifetime in seconds (default: --jwt-svid-ttl).
        #[arg(long, default_value_t = 0)]
        jwt_ttl: u32,
        /// A DNS name for the X.509-SVID; repeat for more.
        #[arg(long = "dns-name")]
        dns_names: Vec<String>,
        /// The hint workloads see (which SVID is which).
        #[arg(long, default_value = "")]
        hint: String,
        /// A trust domain whose bundle its workloads receive; repeat.
        #[arg(long = "federates-with")]
        federates_with: Vec<String>,
        /// Print the entry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every entry.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry.
    Show {
        /// The entry's id.
        id: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove an entry; its SVIDs are revoked (listed in the CRL until they
    /// expire) and its node drops it at the next sync.
    Remove {
        /// The entry's id.
        id: String,
    },
}

pub(crate) async fn run(service: &Service, command: EntryCommand) -> Result<(), String> {
    let op = super::operator();
    let ctx = ClientContext::default();
    match command {
        EntryCommand::Add {
            spiffe_id,
            parent,
            selectors,
            owner,
            x509_ttl,
            jwt_ttl,
            dns_names,
            hint,
            federates_with,
            json,
        } => {
            let new = NewEntry {
                spiffe_id,
                parent,
                selectors,
                owner,
                x509_ttl_s: x509_ttl,
                jwt_ttl_s: jwt_ttl,
                dns_names,
                hint,
                federates_with,
            };
            let added = service
                .add_workload_entry((&op).into(), &new, &ctx)
                .await
                .map_err(|e| super::error("entry add", e))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&added)?))
            } else {
                output::write_out(&format!(
                    "added entry {} for {}\n",
                    escape(&added.id),
                    escape(&added.spiffe_id)
                ))
            }
        }
        EntryCommand::List { json } => {
            let entries = service
                .workload_entries((&op).into())
                .await
                .map_err(|e| super::error("entry list", e))?;
            output::print(Format::json_if(json), &entries, table)
        }
        EntryCommand::Show { id, json } => {
            let entry = service
                .workload_entry((&op).into(), &id)
                .await
                .map_err(|e| super::error(&format!("entry {id}"), e))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&entry)?))
            } else {
                output::write_out(&lines(&entry))
            }
        }
        EntryCommand::Remove { id } => {
            service
                .remove_workload_entry((&op).into(), &id, &ctx)
                .await
                .map_err(|e| super::error(&format!("entry {id}"), e))?;
            output::write_out(&format!("removed entry {}\n", escape(&id)))
        }
    }
}

fn lines(e: &EntryView) -> String {
    let fields = [
        ("id", e.id.clone()),
        ("spiffe id", e.spiffe_id.clone()),
        ("parent", e.parent.clone()),
        ("selectors", e.selectors.join(" ")),
        ("owner", e.owner.clone()),
        ("x509-svid ttl", format!("{} s", e.x509_ttl_s)),
        ("jwt-svid ttl", format!("{} s", e.jwt_ttl_s)),
        ("dns names", e.dns_names.join(" ")),
        ("hint", e.hint.clone()),
        ("federates with", e.federates_with.join(" ")),
        ("revision", e.revision.to_string()),
        ("created", output::iso(e.created_ms)),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", escape(v)))
        .collect()
}

fn table(entries: &[EntryView]) -> Table {
    let mut table = Table::new(&["ID", "SPIFFE ID", "PARENT", "SELECTORS", "OWNER", "TTL"]);
    for e in entries {
        table.row([
            e.id.clone(),
            e.spiffe_id.clone(),
            e.parent.clone(),
            e.selectors.join(" "),
            e.owner.clone(),
            format!("{} s", e.x509_ttl_s),
        ]);
    }
    table
}
