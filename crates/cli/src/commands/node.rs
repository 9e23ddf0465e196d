//! `keybound node`: the node agent. Attests this host to the keybound
//! servers, keeps its workloads' SVIDs current and serves them the SPIFFE
//! Workload API on a Unix socket (docs/manual/node-agent.md).

use std::process::ExitCode;

use clap::Args;

use crate::lifecycle::StopSignals;
use crate::node::{Agent, AgentConfig};
use crate::settings::{NodeSettings, Sources};

/// Run the node agent: the SPIFFE Workload API for this host's workloads.
#[derive(Args, Debug)]
pub(crate) struct Node {
    #[command(flatten)]
    node: NodeSettings,
}

impl Node {
    /// Attests (once), then syncs and serves until SIGTERM or SIGINT.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = sources.resolve(self.node)?;
        let config = AgentConfig {
            servers: settings.servers()?,
            data_dir: settings.data_dir()?,
            attestation: settings.attestation()?,
            sync_interval: settings.sync_interval()?,
        };
        let socket = settings.socket()?;
        let mut signals = StopSignals::install()?;
        let agent = tokio::select! {
            agent = Agent::start(config) => agent?,
            which = signals.next() => {
                tracing::info!(signal = which, "stopped before attesting");
                return Ok(ExitCode::SUCCESS);
            }
        };
        let api = crate::node::workload_api(&agent, &socket)?;
        tracing::info!(node = %agent.node(), socket = %socket.display(), "serving the Workload API");
        let stopped = async move {
            let which = signals.next().await;
            tracing::info!(signal = which, "stopping");
        };
        agent.run(stopped).await;
        drop(api);
        let _ = std::fs::remove_file(&socket);
        Ok(ExitCode::SUCCESS)
    }
}
