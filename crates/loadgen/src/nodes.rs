//! `keybound-load nodes`: two `keybound serve` nodes on one PostgreSQL
//! database, driven at once, and how long each node's write batches
//! waited for the database-wide writer lock (issue 19's question: does a
//! request wait on another node's lock?). The wait is each node's own
//! `keybound_store_lock_wait_seconds` histogram, scraped from its metrics
//! listener before and after the run.

use std::path::PathBuf;
use std::time::Duration;

use keybound_testdb::{free_port, Postgres};

use crate::load::{run, Scenario};
use crate::table::Node;

/// Sum and count of one histogram, from Prometheus text.
fn histogram(text: &str, name: &str) -> (f64, f64) {
    let value = |suffix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_{suffix} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (value("sum"), value("count"))
}

async fn scrape(port: u16) -> Result<String, String> {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// Runs sign-ins against both nodes at once at each client count (per
/// node) and prints a markdown table of throughput and lock waits.
pub async fn nodes(
    bin: &PathBuf,
    clients: &[usize],
    warmup: Duration,
    duration: Duration,
) -> Result<(), String> {
    let pg = Postgres::start(&[]).map_err(|e| format!("PostgreSQL: {e}"))?;
    let url = pg.fresh_database();
    let ports = [free_port()?, free_port()?];
    let mut nodes = Vec::new();
    for port in ports {
        let extra = vec!["--metrics-listen".to_owned(), format!("127.0.0.1:{port}")];
        nodes.push(Node::start_with(bin, Some(&url), "full", &extra)?);
    }
    let (Some(a), Some(b)) = (nodes.first(), nodes.get(1)) else {
        return Err("two nodes did not start".into());
    };
    println!("| clients per node | node | sign-ins/s | p99 ms | batches | lock wait, mean ms | lock wait, total s | share of the run waiting |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let lock = "keybound_store_lock_wait_seconds";
    for &n in clients {
        let before = [scrape(ports[0]).await?, scrape(ports[1]).await?];
        let (ra, rb) = tokio::join!(
            run(&a.target, Scenario::SignIn, n, warmup, duration, None),
            run(&b.target, Scenario::SignIn, n, warmup, duration, None)
        );
        let after = [scrape(ports[0]).await?, scrape(ports[1]).await?];
        let wall = (warmup + duration).as_secs_f64();
        for (i, report) in [ra?, rb?].into_iter().enumerate() {
            let (s0, c0) = histogram(before.get(i).map_or("", String::as_str), lock);
            let (s1, c1) = histogram(after.get(i).map_or("", String::as_str), lock);
            let (sum, count) = (s1 - s0, c1 - c0);
            println!(
                "| {n} | {} | {:.0} | {:.2} | {count:.0} | {:.3} | {sum:.2} | {:.0} % |",
                if i == 0 { "A" } else { "B" },
                report.throughput(),
                report.percentile_ms(99.0),
                if count > 0.0 {
                    sum / count * 1000.0
                } else {
                    0.0
                },
                sum / wall * 100.0,
            );
        }
    }
    Ok(())
}
