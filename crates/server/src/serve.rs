//! Serving the router on a TCP listener with bounded connections.
//!
//! `axum::serve` has no header-read timeout, so a client that opens
//! connections and never finishes a request keeps each one (and its file
//! descriptor) forever: 1,100 of them stopped `/healthz`. Here every
//! connection is bounded in time and number:
//!
//! - **header read**: a request's head must arrive within
//!   [`ConnectionLimits::header_read_timeout`] (hyper's own timer). hyper
//!   starts it as soon as a connection waits for a request, so it also
//!   bounds the wait for the next request on a kept-alive connection.
//! - **request body**: the whole body within
//!   [`ConnectionLimits::request_body_timeout`] of its head, or the request
//!   fails (400) and the connection closes.
//! - **keep-alive idle**: a connection with no request running and no byte
//!   moving in either direction for [`ConnectionLimits::keep_alive_timeout`]
//!   is closed (also a response the client stopped reading: it is closed
//!   gracefully first, then dropped after another idle period).
//! - **connection cap**: at most [`ConnectionLimits::max_connections`] at
//!   once. Beyond it the listener is not asked for more: new connections
//!   wait in the kernel's accept queue, first come first served, until a
//!   slot frees (the timeouts above guarantee one does).
//!
//! - **TLS handshake** (with [`Tls`]): within the header-read timeout.
//!
//! Shutdown is graceful as before: the listener closes, idle connections
//! close, and running requests finish.

mod io;
mod per_address;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::tls::Tls;
use crate::TrustedProxies;
use io::{Activity, Deadline, Watched};
use per_address::{AddressSlot, PerAddress};

/// Time and number bounds on connections; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to receive a request's head (and, on a kept-alive connection,
    /// to start the next request). Default 10 s.
    pub header_read_timeout: Duration,
    /// Time to receive a request's body after its head. Default 30 s.
    pub request_body_timeout: Duration,
    /// Time a connection may sit idle between requests. Default 5 s;
    /// effectively at most `header_read_timeout`.
    pub keep_alive_timeout: Duration,
    /// Connections served at once. Default 512, well under the usual limit
    /// of 1,024 open files.
    pub max_connections: usize,
    /// Connections one client address (IPv6: /64) may hold at once; more
    /// from it are closed at once. Trusted proxies are not counted.
    /// Default 128 (a quarter of the cap); 0: no bound.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(5),
            max_connections: 512,
            max_connections_per_address: 128,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then finishes the requests under way. Requests carry the peer's
/// address as `ConnectInfo<SocketAddr>`.
///
/// Errors only if the listener cannot report its address.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_behind(listener, app, limits, TrustedProxies::default(), shutdown).await
}

/// [`serve`] behind `proxies`, whose connections (each carrying many
/// clients) the per-address bound does not count.
pub async fn serve_behind(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    proxies: TrustedProxies,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, app, limits, proxies, None, shutdown).await
}

/// [`serve_behind`], speaking https with `tls` when given: each
/// connection's handshake uses the certificate current when it was
/// accepted.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    proxies: TrustedProxies,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let per_address = PerAddress::new(limits.max_connections_per_address, proxies);
    listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Connections watch `stop`; each holds a `done` receiver, so the
    // sender sees them all gone.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(address_slot) = per_address.admit(peer.ip()) else {
            // Its address holds its share already: closed at once, and the
            // global slot goes back.
            drop(stream);
            continue;
        };
        let connection = Connection {
            app: app.clone(),
            limits,
            peer,
            tls: tls.clone(),
            _slot: slot,
            _address: address_slot,
            stop: stop_rx.clone(),
            _done: done_rx.clone(),
        };
        tokio::spawn(connection.run(stream));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// An accept that failed: the peer gave up (carry on), or we are out of
/// file descriptors or memory (wait a little for some to free).
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One accepted connection and what it holds until it ends.
struct Connection {
    app: Router,
    limits: ConnectionLimits,
    peer: SocketAddr,
    tls: Option<Tls>,
    _slot: OwnedSemaphorePermit,
    _address: AddressSlot,
    stop: watch::Receiver<bool>,
    _done: watch::Receiver<()>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let activity = Arc::new(Activity::new());
        let watched = Watched::new(stream, activity.clone());
        let Some(tls) = self.tls.take() else {
            return self.serve(TokioIo::new(watched), activity).await;
        };
        // A client that never finishes its handshake holds a slot like one
        // that never finishes its request head: the same bound.
        let handshake = tls.acceptor().accept(watched);
        let stream = tokio::select! {
            done = tokio::time::timeout(self.limits.header_read_timeout, handshake) => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = self.stop.wait_for(|stop| *stop) => return,
        };
        self.serve(TokioIo::new(stream), activity).await;
    }

    /// HTTP/1.1 on `io` until the client, a timeout or the shutdown ends it.
    async fn serve<I>(mut self, io: I, activity: Arc<Activity>)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (app, peer, body_timeout) = (
            self.app.clone(),
            self.peer,
            self.limits.request_body_timeout,
        );
        let busy = activity.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = app.clone();
            let busy = busy.clone();
            async move {
                let _running = busy.request();
                let mut request = request.map(|body| Deadline::wrap(body, body_timeout));
                request.extensions_mut().insert(ConnectInfo(peer));
                Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {}))
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            // A request head is a few hundred bytes; hyper's default buffer
            // (about 400 kB) times the connection cap is memory a slow
            // sender could hold.
            .max_buf_size(16 * 1024)
            .keep_alive(true);
        let connection = builder.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended");
                    }
                    return;
                }
                _ = self.stop.wait_for(|stop| *stop), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = activity.idle_for(self.limits.keep_alive_timeout) => {
                    // Idle after a graceful close too: nobody is reading
                    // what we write. Dropping the connection closes it.
                    if closing {
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}
