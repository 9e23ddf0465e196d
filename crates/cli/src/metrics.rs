//! Prometheus metrics on a listener of their own (`--metrics-listen`):
//! off unless set, so nothing is counted or exposed by default, and never
//! on the public listener.
//!
//! The store, the service and the HTTP layer count through the `metrics`
//! facade; this module alone picks the exporter
//! (`metrics-exporter-prometheus`) and serves its text at `/metrics`. The
//! facade keeps the exporter out of the library crates (no registry
//! threaded through every layer, nothing recorded when no recorder is
//! installed), which is why it was chosen over `prometheus-client`. The
//! names are listed in docs/manual/observability.md.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Latency buckets, seconds: a page or ceremony takes milliseconds; a
/// commit waiting on fsync or a delayed (rate-limited) request, seconds.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Transactions per group-commit batch.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// How often histograms are folded in between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The metrics listener while it runs; dropping it stops it.
pub(crate) struct MetricsListener {
    /// Where it listens (the port chosen when asked for port 0).
    pub(crate) local: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Installs the Prometheus recorder and serves it on `listen`; `None`
/// (metrics off) does neither. Errors name the address when it cannot be
/// bound, or say the recorder could not be installed.
pub(crate) async fn start(listen: Option<SocketAddr>) -> Result<Option<MetricsListener>, String> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} for metrics: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let handle = recorder()?;
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(handle.clone());
    let (stop, stopped) = oneshot::channel();
    let served = keybound_server::serve(
        listener,
        app,
        keybound_server::ConnectionLimits::default(),
        until(stopped),
    );
    let serving = tokio::spawn(async move {
        if let Err(e) = served.await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    let upkeep = tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP_EVERY).await;
            handle.run_upkeep();
        }
    });
    Ok(Some(MetricsListener {
        local,
        stop: Some(stop),
        tasks: [serving, upkeep],
    }))
}

/// Completes when `stopped` fires or its sender is dropped.
async fn until(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// The process's Prometheus recorder, with histogram buckets (rather than
/// summaries, which cannot be aggregated across nodes).
fn recorder() -> Result<PrometheusHandle, String> {
    let buckets = |b: PrometheusBuilder, m: Matcher, v: &[f64]| {
        b.set_buckets_for_metric(m, v).map_err(|e| e.to_string())
    };
    let builder = PrometheusBuilder::new();
    let builder = buckets(builder, Matcher::Suffix("_seconds".into()), SECONDS)?;
    let builder = buckets(
        builder,
        Matcher::Full(keybound_store::BATCH_METRIC.into()),
        BATCH,
    )?;
    builder
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))
}

async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    // The log writer keeps its own count; it is read when scraped.
    metrics::counter!(crate::logging::DROPPED_METRIC).absolute(crate::logging::dropped_lines());
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}
