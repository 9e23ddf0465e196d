//! `keybound-load table`: the BENCHMARKS.md table in one run. Measures the
//! raw ES256 yardstick, then starts `keybound serve` on SQLite and on a
//! throwaway PostgreSQL server, each with full and relaxed durability, and
//! drives sign-ins by name at 1, 8 and 64 concurrent clients; then the other
//! two ceremonies once, so every scenario is shown working.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keybound_testdb::Postgres;

use crate::client::Target;
use crate::load::{run, Scenario};
use crate::raw::es256_verifies_per_second;
use crate::stats::Report;

const RP_ID: &str = "kb.test";
const ORIGIN: &str = "https://kb.test";

/// How long each measurement runs.
pub struct Plan {
    pub warmup: Duration,
    pub duration: Duration,
    pub clients: Vec<usize>,
    pub server_bin: PathBuf,
}

/// A `keybound serve` child process, killed on drop.
pub(crate) struct Node {
    child: Child,
    pub(crate) target: Target,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(bin: &PathBuf, database_url: Option<&str>, durability: &str) -> Result<Node, String> {
        Node::start_with(bin, database_url, durability, &[])
    }

    /// [`Node::start`] with more arguments for `serve`.
    pub(crate) fn start_with(
        bin: &PathBuf,
        database_url: Option<&str>,
        durability: &str,
        extra: &[String],
    ) -> Result<Node, String> {
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rp-id",
            RP_ID,
            "--origin",
            ORIGIN,
            // Plain HTTP to an https origin, as if behind a TLS proxy.
            "--allow-insecure-origin",
            "--open-registration",
            "--rate-limit-per-minute",
            "0",
            "--rate-limit-per-identity",
            "0",
            "--durability",
            durability,
        ])
        .arg("--data-dir")
        .arg(data.path())
        .args(extra)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut first = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut first);
        }
        let port: u16 = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("keybound serve did not start: {first:?}"))?;
        Ok(Node {
            child,
            target: Target {
                url: format!("http://127.0.0.1:{port}"),
                rp_id: RP_ID.into(),
                origin: ORIGIN.into(),
            },
            _data: data,
        })
    }
}

struct Row {
    backend: &'static str,
    durability: &'static str,
    report: Report,
    /// CPU seconds the keybound process used during the run, if readable.
    server_cpu: Option<f64>,
}

impl Node {
    /// CPU seconds (user + system) this server process has used so far.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / clock_ticks())
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs the whole plan and prints the markdown tables.
pub async fn table(plan: Plan) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!("measuring raw aws-lc-rs ES256 verification ...");
    let per_core = es256_verifies_per_second(1, Duration::from_secs(3))?;
    let all_cores = es256_verifies_per_second(cores, Duration::from_secs(3))?;
    let yardstick = per_core * cores as f64;

    eprintln!("starting PostgreSQL (default durable settings) ...");
    let pg = match Postgres::start(&[]) {
        Ok(pg) => Some(pg),
        Err(e) => {
            eprintln!("!!! no PostgreSQL rows: {e}");
            None
        }
    };
    let backends: &[&'static str] = if pg.is_some() {
        &["SQLite", "PostgreSQL"]
    } else {
        &["SQLite"]
    };
    let mut rows = Vec::new();
    let mut scenarios = Vec::new();
    for &backend in backends {
        for durability in ["full", "relaxed"] {
            let url = match (&pg, backend) {
                (Some(pg), "PostgreSQL") => Some(pg.fresh_database()),
                _ => None,
            };
            let node = Node::start(&plan.server_bin, url.as_deref(), durability)?;
            for &clients in &plan.clients {
                let before = node.cpu_seconds();
                let report = run(
                    &node.target,
                    Scenario::SignIn,
                    clients,
                    plan.warmup,
                    plan.duration,
                    None,
                )
                .await?;
                // The CPU of the whole run, setup and warm-up included,
                // spread over the measured ceremonies: an upper bound.
                let server_cpu = node
                    .cpu_seconds()
                    .zip(before)
                    .map(|(after, before)| after - before);
                eprintln!("{backend} {durability}: {report}");
                rows.push(Row {
                    backend,
                    durability,
                    report,
                    server_cpu,
                });
            }
            if durability == "full" {
                for scenario in [Scenario::Registration, Scenario::UsernameLess] {
                    let report =
                        run(&node.target, scenario, 8, plan.warmup, plan.duration, None).await?;
                    eprintln!("{backend} {durability}: {report}");
                    scenarios.push(Row {
                        backend,
                        durability,
                        report,
                        server_cpu: None,
                    });
                }
            }
        }
    }

    println!("Raw aws-lc-rs ES256 verify: {per_core:.0}/s on one core; {all_cores:.0}/s on all {cores} cores at once.");
    println!(
        "Yardstick for the ratio: {per_core:.0} x {cores} cores = {yardstick:.0} verifies/s.\n"
    );
    println!("| backend | durability | clients | sign-ins/s | p50 ms | p99 ms | errors | ratio | server CPU µs/sign-in | per-core ratio |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let per_sign_in = r
            .server_cpu
            .map(|cpu| cpu / (r.report.ok() as f64).max(1.0));
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.3} | {} | {} |",
            r.backend,
            r.durability,
            r.report.clients,
            r.report.throughput(),
            r.report.percentile_ms(50.0),
            r.report.percentile_ms(99.0),
            r.report.errors,
            r.report.throughput() / yardstick,
            per_sign_in.map_or("-".into(), |s| format!("{:.0}", s * 1e6)),
            per_sign_in.map_or("-".into(), |s| format!("{:.3}", 1.0 / s / per_core)),
        );
    }
    println!("\n| backend | durability | ceremony | clients | per s | p50 ms | p90 ms | p99 ms | errors |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &scenarios {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.backend,
            r.durability,
            r.report.scenario,
            r.report.clients,
            r.report.throughput(),
            r.report.percentile_ms(50.0),
            r.report.percentile_ms(90.0),
            r.report.percentile_ms(99.0),
            r.report.errors
        );
    }
    for (backend, durability) in [("SQLite", "full"), ("PostgreSQL", "full")] {
        if let Some(best) = rows
            .iter()
            .filter(|r| r.backend == backend && r.durability == durability)
            .max_by(|a, b| a.report.throughput().total_cmp(&b.report.throughput()))
        {
            println!(
                "\nBest {backend} ({durability}): {:.0} sign-ins/s at {} clients, ratio {:.3}, p99 {:.2} ms",
                best.report.throughput(),
                best.report.clients,
                best.report.throughput() / yardstick,
                best.report.percentile_ms(99.0)
            );
        }
    }
    Ok(())
}
