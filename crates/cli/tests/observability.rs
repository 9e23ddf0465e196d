//! What an operator sees of a running server, through the binary: the JSON
//! log of a failed ceremony (its reason, never its challenge, cookies or
//! tokens), the access log, hostile and untrusted request ids, a log
//! reader that stalls, and `/metrics` parsed by Prometheus's own Python
//! parser after ceremonies that succeed and fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

#[path = "observability/logs.rs"]
mod logs;
#[path = "observability/metrics.rs"]
mod metrics;
#[path = "observability/request_ids.rs"]
mod request_ids;
#[path = "observability/served.rs"]
mod served;
#[path = "observability/stalled_log.rs"]
mod stalled_log;
