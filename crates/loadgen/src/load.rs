//! Drives one scenario with N concurrent clients for a fixed time.

use std::time::{Duration, Instant};

use crate::client::{Agent, OidcClient, Target};
use crate::stats::Report;

/// Which ceremony the clients repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A new name and a new passkey each time (`--open-registration`).
    Registration,
    /// Sign-in by name (options carry allowCredentials).
    SignIn,
    /// Username-less sign-in (the account comes from the user handle).
    UsernameLess,
    /// An OpenID Connect authorization code flow (authorize + token) on
    /// a live session (`--oidc-client-id`, `--oidc-redirect-uri`).
    Oidc,
}

impl Scenario {
    /// The name printed in reports.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Registration => "registration",
            Scenario::SignIn => "sign-in by name",
            Scenario::UsernameLess => "username-less sign-in",
            Scenario::Oidc => "OIDC code flow (authorize + token)",
        }
    }
}

/// Runs `scenario` with `clients` agents: a setup (each signing-in agent
/// registers its own user), `warmup` unmeasured, then `duration` measured.
pub async fn run(
    target: &Target,
    scenario: Scenario,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    oidc: Option<&OidcClient>,
) -> Result<Report, String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients.max(1))
        .build()
        .map_err(|e| e.to_string())?;
    let no_redirects = reqwest::Client::builder()
        .pool_max_idle_per_host(clients.max(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let oidc = match (scenario, oidc) {
        (Scenario::Oidc, None) => {
            return Err("the oidc scenario needs --oidc-client-id and --oidc-redirect-uri".into())
        }
        (_, oidc) => oidc.cloned(),
    };
    let run_id = unique_run_id();
    let mut agents = Vec::with_capacity(clients);
    for c in 0..clients {
        let mut agent = Agent::new(http.clone(), no_redirects.clone(), target.clone());
        if scenario != Scenario::Registration {
            agent
                .register(&format!("load-{run_id}-{c}"))
                .await
                .map_err(|e| format!("setup: {}", e.0))?;
        }
        if scenario == Scenario::Oidc {
            agent
                .sign_in(0, true)
                .await
                .map_err(|e| format!("setup: {}", e.0))?;
        }
        agents.push(agent);
    }
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let tasks: Vec<_> = agents
        .into_iter()
        .enumerate()
        .map(|(c, mut agent)| {
            let run_id = run_id.clone();
            let oidc = oidc.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                let mut i = 0u64;
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let outcome = match scenario {
                        Scenario::Registration => {
                            i += 1;
                            agent.register(&format!("load-{run_id}-{c}-{i}")).await
                        }
                        Scenario::SignIn => agent.sign_in(0, true).await,
                        Scenario::UsernameLess => agent.sign_in(0, false).await,
                        Scenario::Oidc => match &oidc {
                            Some(client) => agent.code_flow(client).await,
                            None => Err(crate::client::Failed("no client".into())),
                        },
                    };
                    // Registrations keep only the latest credential.
                    if agent.credentials.len() > 1 {
                        agent.credentials.remove(0);
                    }
                    if began < measure_from {
                        continue;
                    }
                    match outcome {
                        Ok(()) => latencies.push(began.elapsed().as_micros() as u64),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e.0);
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    Ok(Report::new(
        scenario.label(),
        clients,
        duration,
        latencies,
        errors,
        first_error,
    ))
}

/// Distinct names across runs against one database.
fn unique_run_id() -> String {
    let mut bytes = [0u8; 6];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
