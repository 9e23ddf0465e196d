//! The `keybound` binary: `serve`, `init`, `check-config`, `admin …`,
//! `audit …`, `mds …`. Parses
//! the command line, reads the configuration file and hands over to the
//! command; [`app`] builds what the commands run on.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod app;
mod backchannel;
mod checks;
mod commands;
mod jobs;
mod lifecycle;
mod logging;
mod mds_fetch;
mod metrics;
mod node;
mod output;
mod policy_dir;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use keybound_service::names::text::escape;

use crate::settings::{Group, ObserveSettings, Sources};

#[derive(Parser, Debug)]
#[command(
    name = "keybound",
    version,
    about = "Bind identities to keys, not secrets."
)]
struct Cli {
    /// A TOML file of settings keyed by the flags' names (`rp_id` for
    /// `--rp-id`; `origins` and `trusted_proxies` are arrays,
    /// `group_min_tier` a table). Flags and KEYBOUND_* variables take
    /// precedence. Every subcommand reads the whole file and uses what it
    /// needs.
    #[arg(long, env = "KEYBOUND_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Serve(Box<commands::serve::Serve>),
    Init(commands::init::Init),
    CheckConfig(Box<commands::check_config::CheckConfig>),
    Admin(commands::admin::Admin),
    Audit(commands::audit::Audit),
    Device(commands::device::Device),
    Mds(commands::mds::Mds),
    Oidc(commands::oidc::Oidc),
    Backup(commands::backup::Backup),
    Restore(commands::backup::Restore),
    Policy(commands::policy::Policy),
    /// Workload identity (SPIFFE): entries, join tokens, nodes, the CA,
    /// federated trust domains.
    Workload(Box<commands::workload::Workload>),
    Node(Box<commands::node::Node>),
    /// Agents (issue 18): register, list, show and remove them.
    Agents(Box<commands::agents::Agents>),
    /// Agents' tasks: list, show and end them.
    Task(Box<commands::agents::Task>),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The file's errors quote the file: printed as they are, not escaped
    // as service errors (which may carry client text) are.
    let sources = match Sources::new(cli.config.as_deref(), &matches) {
        Ok(sources) => sources,
        Err(e) => {
            eprintln!("keybound: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keybound: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(start(cli.command, sources));
    // Dropping the runtime would wait without end for a thread blocked in
    // a synchronous call; what is still running now is abandoned.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn start(command: Command, sources: Sources) -> ExitCode {
    // `serve` takes the log settings as flags; the other commands use the
    // file's (or the defaults) and log only what calls for attention. Their
    // own audit events stay out of the terminal: the command already says in
    // words what it did or refused, and the audit chain keeps the record.
    let (observe, default_filter) = match &command {
        Command::Serve(serve) => (sources.resolve(serve.observe().clone()), "info"),
        // The node agent is a daemon too: its sync and refusals are news.
        Command::Node(_) => (sources.resolve(ObserveSettings::defaults()), "info"),
        _ => (
            sources.resolve(ObserveSettings::defaults()),
            "warn,keybound::audit=off",
        ),
    };
    let observe = match observe {
        Ok(observe) => observe,
        Err(e) => {
            eprintln!("keybound: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log = logging::init(observe.log_format(), default_filter);
    let done = match command {
        Command::Serve(serve) => serve.run(&sources).await,
        Command::Init(init) => init.run(&sources).await,
        Command::CheckConfig(check) => check.run(&sources).await,
        Command::Admin(admin) => admin.run(&sources).await,
        Command::Audit(audit) => audit.run(&sources).await,
        Command::Device(device) => device.run(&sources).await,
        Command::Mds(mds) => mds.run(&sources).await,
        Command::Oidc(oidc) => oidc.run(&sources).await,
        Command::Backup(backup) => backup.run(&sources).await,
        Command::Restore(restore) => restore.run(&sources).await,
        Command::Policy(policy) => policy.run(&sources).await,
        Command::Workload(workload) => workload.run(&sources).await,
        Command::Node(node) => node.run(&sources).await,
        Command::Agents(agents) => agents.run(&sources).await,
        Command::Task(task) => task.run(&sources).await,
    };
    // What the log has queued is written out before the last word.
    drop(log);
    done.unwrap_or_else(|e| {
        eprintln!("keybound: {}", escape(&e));
        ExitCode::FAILURE
    })
}
