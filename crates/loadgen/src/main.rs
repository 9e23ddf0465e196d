//! `keybound-load`: a load generator for keybound. Every client is a user
//! agent with its own cookies and software authenticator running complete
//! ceremonies over HTTP, so the numbers include everything a real sign-in
//! costs: HTTP, JSON, the database, the audit chain, the signature check.
//!
//! `keybound-load run --url … --scenario sign-in --clients 64` measures one
//! thing; `keybound-load table` produces the BENCHMARKS.md table.

mod client;
mod load;
mod nodes;
mod raw;
mod stats;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Load generator for keybound: whole WebAuthn ceremonies over HTTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive one scenario against a running server (which needs
    /// `--open-registration` and rate limits off for a load test).
    Run {
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The server's RP ID.
        #[arg(long, default_value = "localhost")]
        rp_id: String,
        /// The origin the server accepts.
        #[arg(long, default_value = "http://localhost:8080")]
        origin: String,
        /// Which ceremony to repeat.
        #[arg(long, value_enum, default_value = "sign-in")]
        scenario: load::Scenario,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds measured.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds run before measuring.
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        /// For `--scenario oidc`: a public client's id
        /// (`keybound oidc client add NAME --public --redirect-uri URI`).
        #[arg(long)]
        oidc_client_id: Option<String>,
        /// For `--scenario oidc`: that client's redirect URI.
        #[arg(long, default_value = "http://127.0.0.1/callback")]
        oidc_redirect_uri: String,
    },
    /// The yardsticks alone: raw aws-lc-rs ES256 verifications and
    /// signatures per second on one core.
    Raw {
        /// Seconds each is measured.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Start servers (SQLite and PostgreSQL, full and relaxed durability),
    /// measure, and print the BENCHMARKS.md tables.
    Table {
        /// The `keybound` binary to start (default: next to this one).
        #[arg(long)]
        server_bin: Option<PathBuf>,
        /// Seconds measured per row.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Seconds run before measuring each row.
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        /// Client counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
        clients: Vec<usize>,
    },
    /// Two servers on one throwaway PostgreSQL database, driven at once:
    /// sign-ins per second and how long each node waited for the
    /// database-wide writer lock.
    Nodes {
        /// The `keybound` binary to start (default: next to this one).
        #[arg(long)]
        server_bin: Option<PathBuf>,
        /// Seconds measured per row.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Client counts per node, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "8,32")]
        clients: Vec<usize>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match go(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keybound-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn go(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Run {
            url,
            rp_id,
            origin,
            scenario,
            clients,
            seconds,
            warmup,
            oidc_client_id,
            oidc_redirect_uri,
        } => {
            let target = client::Target { url, rp_id, origin };
            let oidc = oidc_client_id.map(|client_id| client::OidcClient {
                client_id,
                redirect_uri: oidc_redirect_uri,
            });
            let report = load::run(
                &target,
                scenario,
                clients,
                Duration::from_secs(warmup),
                Duration::from_secs(seconds),
                oidc.as_ref(),
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Raw { seconds } => {
            let d = Duration::from_secs(seconds);
            println!(
                "raw aws-lc-rs ES256, one core: {:.0} verifies/s, {:.0} signs/s",
                raw::es256_verifies_per_second(1, d)?,
                raw::es256_signs_per_second(d)?
            );
            Ok(())
        }
        Command::Table {
            server_bin,
            seconds,
            warmup,
            clients,
        } => {
            table::table(table::Plan {
                warmup: Duration::from_secs(warmup),
                duration: Duration::from_secs(seconds),
                clients,
                server_bin: server_bin_or_sibling(server_bin)?,
            })
            .await
        }
        Command::Nodes {
            server_bin,
            seconds,
            clients,
        } => {
            nodes::nodes(
                &server_bin_or_sibling(server_bin)?,
                &clients,
                Duration::from_secs(1),
                Duration::from_secs(seconds),
            )
            .await
        }
    }
}

/// `--server-bin`, or the `keybound` binary next to this one.
fn server_bin_or_sibling(given: Option<PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(bin) => Ok(bin),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())
            .map(|exe| exe.with_file_name("keybound")),
    }
}
