//! keybound's HTTP layer. Handlers extract typed input, call one service
//! method and map the result; no SQL, policy or audit here.
//!
//! The ceremony API is the FIDO2 server conformance API: JSON bodies with
//! base64url binary members, every reply carrying `status` and
//! `errorMessage`. Failures are 4xx with one generic message; the precise
//! reason is in the audit log. The pages (`/`, `/enroll`, `/me`) sit on
//! the same origin and call that API from `/assets/keybound.js`.
#![warn(missing_docs)]

mod access;
mod agents;
mod assets;
mod audit;
mod ceremony;
mod client;
mod cookies;
mod dbsc;
mod forward;
mod headers;
mod oidc;
mod pages;
mod reply;
mod same_origin;
mod serve;
mod tls;
mod workload;

pub use access::{DURATION_METRIC, MAX_REQUEST_ID, RATE_LIMITED_METRIC, UNMATCHED};
pub use client::{IpNet, TrustedProxies};
pub use serve::{serve, serve_behind, serve_with, ConnectionLimits};
pub use tls::{Tls, TlsFiles};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use keybound_service::Service;

/// Request bodies above this are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    service: Arc<Service>,
    secure_cookies: bool,
    trusted_proxies: Arc<TrustedProxies>,
    ready: Readiness,
    https: bool,
    /// The parent domain the session cookie is scoped to, if any.
    cookie_domain: Option<Arc<str>>,
}

/// Whether `/readyz` says this node should get traffic. A stopping node
/// turns it off first, so a load balancer moves away before the listener
/// closes. Clones share one flag.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// From now on `/readyz` answers 503, whatever the database says.
    pub fn stop(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    fn ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl AppState {
    /// State over `service`; `secure_cookies` adds `Secure` (serve over https).
    pub fn new(service: Arc<Service>, secure_cookies: bool) -> Self {
        AppState {
            service,
            secure_cookies,
            trusted_proxies: Arc::new(TrustedProxies::default()),
            ready: Readiness(Arc::new(AtomicBool::new(true))),
            https: false,
            cookie_domain: None,
        }
    }

    /// Scopes the session cookie to `domain` (`Domain=`), so apps on
    /// sibling hosts behind forward-auth see it; return addresses under it
    /// are followed after signing in. Checked by the caller (the RP ID or a
    /// parent of it, not a public suffix).
    pub fn with_cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie_domain = domain.map(Arc::from);
        self
    }

    /// This process terminates TLS itself: every response then carries
    /// `Strict-Transport-Security`, unless the RP ID is `localhost` or an
    /// origin is on a loopback host.
    pub fn with_https(mut self) -> Self {
        self.https = true;
        self
    }

    /// The flag that turns `/readyz` off (for a graceful stop).
    pub fn readiness(&self) -> Readiness {
        self.ready.clone()
    }

    /// Reverse proxies (addresses or ranges) whose `X-Forwarded-For` names
    /// the client; from any other peer the socket address is the client.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let https = state.https && !headers::is_local(state.service.config());
    let app = Router::new()
        .route("/healthz", get(|| async { StatusCode::OK }))
        .route("/readyz", get(readyz))
        .merge(ceremony::router())
        .merge(dbsc::router())
        .merge(forward::router())
        .merge(pages::router())
        .merge(oidc::router())
        .merge(assets::router())
        .merge(workload::router())
        .merge(agents::router())
        .merge(audit::router())
        .fallback(pages::not_found)
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            dbsc::gate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(headers::secure));
    let app = if https {
        app.layer(axum::middleware::from_fn(headers::strict_transport))
    } else {
        app
    };
    // Outermost: its span holds the whole request, its clock the
    // whole response, and it sees the route the router matched.
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        access::observe,
    ))
    .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> StatusCode {
    if state.ready.ready() && state.service.store().ping().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
