//! `keybound workload token create` and `keybound workload node
//! list|show|decommission`.

use clap::Subcommand;
use keybound_service::names::text::escape;
use keybound_service::{ClientContext, NodeView, Service};

use crate::output::{self, Format, Table};

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Create a join token for the node NODE (shown once).
    Create {
        /// The node's name to be (1-63 of a-z, 0-9, -).
        node: String,
        /// A node set the node joins (entries may name `set:LABEL`); repeat.
        #[arg(long = "set")]
        sets: Vec<String>,
        /// Seconds the token may be used.
        #[arg(long, default_value_t = 3600)]
        ttl: u32,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum NodeCommand {
    /// List every node.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one node.
    Show {
        /// The node's name.
        name: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
    /// Decommission NAME: refused from its next call, its SVIDs revoked.
    /// It never comes back.
    Decommission {
        /// The node's name.
        name: String,
    },
}

pub(crate) async fn run_token(service: &Service, command: TokenCommand) -> Result<(), String> {
    let op = super::operator();
    match command {
        TokenCommand::Create { node, sets, ttl } => {
            let token = service
                .create_join_token(
                    (&op).into(),
                    &node,
                    &sets,
                    i64::from(ttl).saturating_mul(1000),
                    &ClientContext::default(),
                )
                .await
                .map_err(|e| super::error("token create", e))?;
            eprintln!(
                "join token for node {} (expires {}); give it to `keybound node --join-token`, \
                 it works once:",
                escape(&token.node),
                output::iso(token.expires_ms)
            );
            output::write_out(&format!("{}\n", token.token))
        }
    }
}

pub(crate) async fn run_node(service: &Service, command: NodeCommand) -> Result<(), String> {
    let op = super::operator();
    match command {
        NodeCommand::List { json } => {
            let nodes = service
                .workload_nodes((&op).into())
                .await
                .map_err(|e| super::error("node list", e))?;
            output::print(Format::json_if(json), &nodes, table)
        }
        NodeCommand::Show { name, json } => {
            let node = service
                .workload_node((&op).into(), &name)
                .await
                .map_err(|e| super::error(&format!("node {name}"), e))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&node)?))
            } else {
                output::write_out(&lines(&node))
            }
        }
        NodeCommand::Decommission { name } => {
            let revoked = service
                .decommission_workload_node((&op).into(), &name, &ClientContext::default())
                .await
                .map_err(|e| super::error(&format!("node {name}"), e))?;
            output::write_out(&format!(
                "decommissioned node {}: {revoked} SVIDs revoked\n",
                escape(&name)
            ))
        }
    }
}

fn lines(n: &NodeView) -> String {
    let fields = [
        ("name", n.name.clone()),
        ("spiffe id", n.spiffe_id.clone()),
        ("attestation", n.attestation.clone()),
        ("status", n.status.clone()),
        ("sets", n.sets.join(" ")),
        ("node key", n.key_thumbprint.clone()),
        ("attested", output::iso(n.attested_ms)),
        ("last seen", output::iso_or_never(n.last_seen_ms)),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", escape(v)))
        .collect()
}

fn table(nodes: &[NodeView]) -> Table {
    let mut table = Table::new(&["NAME", "STATUS", "ATTESTATION", "SETS", "LAST SEEN"]);
    for n in nodes {
        table.row([
            n.name.clone(),
            n.status.clone(),
            n.attestation.clone(),
            n.sets.join(" "),
            output::iso_or_never(n.last_seen_ms),
        ]);
    }
    table
}
