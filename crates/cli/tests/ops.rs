//! Operating `keybound serve`: a graceful stop on a real signal, backups
//! of a live database and their restore, https with a certificate that is
//! replaced while serving, a reverse proxy (nginx) in front, and real
//! proxies asking forward-auth for an app behind them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

#[path = "ops/backup.rs"]
mod backup;
#[path = "ops/forward.rs"]
mod forward;
#[path = "ops/lifecycle.rs"]
mod lifecycle;
#[path = "ops/proxy.rs"]
mod proxy;
#[path = "ops/tls.rs"]
mod tls;
// Issue 19: the audit log streamed to a SIEM.
#[path = "ops/siem.rs"]
mod siem;
