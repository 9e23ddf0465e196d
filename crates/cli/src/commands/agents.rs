//! `keybound agents …` and `keybound task …` (issue 18), as the local
//! operator: register, list, show and remove agents; list, show and end
//! their tasks. Listings print a table, or JSON with `--json`; every change
//! is audited under the actor `cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape;
use keybound_service::{
    Actor, AgentView, ClientContext, NewAgent, Operator, Refusal, Service, ServiceError,
    TaskFilter, TaskStatus, TaskView,
};

use crate::app::{self, ServiceSettings};
use crate::output::{self, Format, Table};
use crate::settings::{SiteSettings, Sources, StoreSettings, WorkloadSettings};

/// The longest key file read, bytes (a JWK is well under 8 KiB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Agents: identities of kind agent, with an owner and a proof.
#[derive(Args, Debug)]
pub(crate) struct Agents {
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    workloads: WorkloadSettings,
    #[command(subcommand)]
    command: AgentsCommand,
}

#[derive(Subcommand, Debug)]
enum AgentsCommand {
    /// Register an agent: it proves itself with JWT-SVIDs for --spiffe-id,
    /// or with assertions signed by the key in --key-file.
    Add {
        /// Its account name (the naming rule of people applies).
        name: String,
        /// The person answerable for it (offboarding them disables it).
        #[arg(long)]
        owner: String,
        /// `spiffe://TRUST-DOMAIN/PATH`, its workload's SPIFFE ID.
        #[arg(
            long,
            conflicts_with = "key_file",
            required_unless_present = "key_file"
        )]
        spiffe_id: Option<String>,
        /// A file holding its public JWK (JSON).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// What it is for (at most 200 characters).
        #[arg(long, default_value = "")]
        description: String,
        /// Print the agent as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every agent.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent.
    Show {
        /// Its account name.
        name: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove an agent: its proofs stop working and its tasks end.
    Remove {
        /// Its account name.
        name: String,
    },
}

/// Agents' tasks.
#[derive(Args, Debug)]
pub(crate) struct Task {
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(subcommand)]
    command: TaskCommand,
}

#[derive(Subcommand, Debug)]
enum TaskCommand {
    /// List the latest tasks.
    List {
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// Only tasks in this status: pending, active, denied, ended,
        /// expired.
        #[arg(long)]
        status: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one task.
    Show {
        /// The task's id.
        id: String,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
    /// End a pending or active task now: its tokens stop working.
    End {
        /// The task's id.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

fn operator() -> Operator {
    Operator::local("cli")
}

impl Agents {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            site: sources.resolve(self.site)?,
            workloads: sources.resolve(self.workloads)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        run_agents(&service, self.command).await?;
        Ok(ExitCode::SUCCESS)
    }
}

impl Task {
    /// Resolves the settings the command takes and runs it.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            site: sources.resolve(self.site)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        run_task(&service, self.command).await?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The public JWK in `path`, read with a bound.
fn read_key(path: &PathBuf) -> Result<serde_json::Value, String> {
    use std::io::Read as _;
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(format!("{shown}: larger than {MAX_KEY_FILE} bytes"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))
}

async fn run_agents(service: &Service, command: AgentsCommand) -> Result<(), String> {
    let op = operator();
    let by = Actor::Operator(&op);
    let ctx = ClientContext::default();
    match command {
        AgentsCommand::Add {
            name,
            owner,
            spiffe_id,
            key_file,
            description,
            json,
        } => {
            let key_jwk = key_file.as_ref().map(read_key).transpose()?;
            let new = NewAgent {
                name,
                owner,
                spiffe_id,
                key_jwk,
                description,
            };
            let added = service
                .add_agent(&by, &new, &ctx)
                .await
                .map_err(|e| error("agents add", e))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&added)?))
            } else {
                output::write_out(&format!(
                    "added agent {} owned by {} ({})\n",
                    escape(&added.name),
                    escape(&added.owner),
                    escape(&proof(&added))
                ))
            }
        }
        AgentsCommand::List { json } => {
            let agents = service
                .list_agents(&by)
                .await
                .map_err(|e| error("agents list", e))?;
            output::print(Format::json_if(json), &agents, agents_table)
        }
        AgentsCommand::Show { name, json } => {
            let agent = service
                .agent_view(&by, &name)
                .await
                .map_err(|e| error(&format!("agent {name}"), e))?
                .ok_or_else(|| format!("agent {}: not found", escape(&name)))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&agent)?))
            } else {
                output::write_out(&agent_lines(&agent))
            }
        }
        AgentsCommand::Remove { name } => {
            let ended = service
                .remove_agent(&by, &name, &ctx)
                .await
                .map_err(|e| error(&format!("agent {name}"), e))?;
            output::write_out(&format!(
                "removed agent {}; {ended} tasks ended\n",
                escape(&name)
            ))
        }
    }
}

async fn run_task(service: &Service, command: TaskCommand) -> Result<(), String> {
    let op = operator();
    let by = Actor::Operator(&op);
    let ctx = ClientContext::default();
    match command {
        TaskCommand::List {
            agent,
            status,
            json,
        } => {
            let status = match status {
                None => None,
                Some(s) => Some(TaskStatus::parse(&s).ok_or_else(|| {
                    format!(
                        "task list: --status {}: one of pending, active, denied, ended, expired",
                        escape(&s)
                    )
                })?),
            };
            let tasks = service
                .tasks(&by, &TaskFilter { agent, status })
                .await
                .map_err(|e| error("task list", e))?;
            output::print(Format::json_if(json), &tasks, tasks_table)
        }
        TaskCommand::Show { id, json } => {
            let task = service
                .task(&by, &id)
                .await
                .map_err(|e| error(&format!("task {id}"), e))?
                .ok_or_else(|| format!("task {}: not found", escape(&id)))?;
            if json {
                output::write_out(&format!("{}\n", output::json(&task)?))
            } else {
                output::write_out(&task_lines(&task))
            }
        }
        TaskCommand::End { id, reason } => {
            let task = service
                .end_task_with_reason(&by, &id, &reason, &ctx)
                .await
                .map_err(|e| error(&format!("task {id}"), e))?;
            output::write_out(&format!(
                "ended task {} of {} after {} uses\n",
                escape(&task.id),
                escape(&task.agent),
                task.uses
            ))
        }
    }
}

/// A service error as the operator reads it (`main` escapes the message).
fn error(what: &str, e: ServiceError) -> String {
    match e {
        ServiceError::NotFound => format!("{what}: not found"),
        ServiceError::Rejected(reason) => format!("{what}: refused: {}", explain(reason)),
        e => format!("{what}: {e}"),
    }
}

fn explain(reason: Refusal) -> String {
    let why = match reason {
        Refusal::InvalidName => "the naming rule refuses that name",
        Refusal::NameConfusable => "the name looks like an existing one",
        Refusal::AgentNameTaken => "an identity of that name exists",
        Refusal::AgentOwnerNotActive => "the owner must be an active person",
        Refusal::AgentProofChoice => "give exactly one of --spiffe-id and --key-file",
        Refusal::AgentInvalidSpiffeId => {
            "not a SPIFFE ID in this trust domain (spiffe://TRUST-DOMAIN/PATH, not under /keybound/node/)"
        }
        Refusal::AgentInvalidKey => {
            "not a public JWK (EC P-256, RSA >= 2048 or Ed25519, without private members)"
        }
        Refusal::AgentInvalidDescription => "the description is over 200 characters or not text",
        Refusal::AgentSpiffeIdTaken => "another agent has that SPIFFE ID",
        Refusal::AgentKeyTaken => "another agent has that key",
        Refusal::AgentDisabled => "the agent is removed already",
        Refusal::TaskNotLive => "the task has ended already",
        _ => reason.reason(),
    };
    format!("{why} ({})", reason.reason())
}

fn proof(a: &AgentView) -> String {
    match (&a.spiffe_id, &a.key_thumbprint) {
        (Some(id), _) => format!("SPIFFE ID {id}"),
        (None, Some(jkt)) => format!("key {jkt}"),
        (None, None) => "no proof".to_owned(),
    }
}

fn agent_lines(a: &AgentView) -> String {
    let fields = [
        ("name", a.name.clone()),
        ("owner", a.owner.clone()),
        ("proof", proof(a)),
        ("description", a.description.clone()),
        ("status", a.status.clone()),
        ("status reason", a.status_reason.clone().unwrap_or_default()),
        ("created", output::iso(a.created_ms)),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", escape(v)))
        .collect()
}

fn agents_table(agents: &[AgentView]) -> Table {
    let mut table = Table::new(&["NAME", "OWNER", "PROOF", "STATUS", "CREATED"]);
    for a in agents {
        table.row([
            a.name.clone(),
            a.owner.clone(),
            proof(a),
            a.status.clone(),
            output::iso(a.created_ms),
        ]);
    }
    table
}

fn task_lines(t: &TaskView) -> String {
    let fields = [
        ("id", t.id.clone()),
        ("agent", t.agent.clone()),
        (
            "delegator",
            t.delegator.clone().unwrap_or_else(|| "-".into()),
        ),
        ("resources", t.resources.join(" ")),
        ("actions", t.actions.join(" ")),
        ("lifetime", format!("{} s", t.lifetime_s)),
        ("purpose", t.purpose.clone()),
        ("status", t.status.clone()),
        ("requested", output::iso(t.created_ms)),
        ("expires", output::iso(t.expires_ms)),
        ("approved by", t.approved_by.clone().unwrap_or_default()),
        (
            "approval tier",
            t.approval_tier.map(|n| n.to_string()).unwrap_or_default(),
        ),
        ("ended", output::iso_or_never(t.ended_ms)),
        ("ended by", t.ended_by.clone().unwrap_or_default()),
        ("end reason", t.end_reason.clone().unwrap_or_default()),
        ("uses", t.uses.to_string()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", escape(v)))
        .collect()
}

fn tasks_table(tasks: &[TaskView]) -> Table {
    let mut table = Table::new(&[
        "ID",
        "AGENT",
        "DELEGATOR",
        "STATUS",
        "RESOURCES",
        "ACTIONS",
        "EXPIRES",
        "USES",
    ]);
    for t in tasks {
        table.row([
            t.id.clone(),
            t.agent.clone(),
            t.delegator.clone().unwrap_or_else(|| "-".into()),
            t.status.clone(),
            t.resources.join(" "),
            t.actions.join(" "),
            output::iso(t.expires_ms),
            t.uses.to_string(),
        ]);
    }
    table
}
