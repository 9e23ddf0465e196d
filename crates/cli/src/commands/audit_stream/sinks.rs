//! Where a page of events goes, and what counts as its acknowledgement:
//! a file written and fsync'd; standard output flushed; a syslog stream
//! written and flushed (TCP syslog has no application-level ack, so
//! "acknowledged" means "accepted by the socket"); an OTLP/HTTP POST
//! answered 2xx. A sink that fails drops its connection: the next attempt
//! connects again and resends the page from the cursor.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keybound_audit::AuditEvent;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::format;
use super::target::{Framing, Target};

/// Connecting, writing a page, or an HTTP exchange may take this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected syslog stream, plain or TLS.
trait Stream: AsyncWrite + Unpin + Send {}
impl<T: AsyncWrite + Unpin + Send> Stream for T {}

/// One destination, connected lazily.
pub(crate) struct Sink {
    target: Target,
    hostname: String,
    tls: Option<tokio_rustls::TlsConnector>,
    http: Option<reqwest::Client>,
    connection: Option<Box<dyn Stream>>,
    file: Option<std::fs::File>,
}

impl Sink {
    /// A sink for `target`; `ca_file` is the PEM bundle that authenticates
    /// a TLS syslog server or an https OTLP collector.
    pub(crate) fn new(target: Target, ca_file: Option<&PathBuf>) -> Result<Sink, String> {
        let tls = match &target {
            Target::SyslogTls { .. } => {
                let ca = ca_file.ok_or("syslog+tls needs --ca-file (the server's CA, PEM)")?;
                Some(tls_connector(ca)?)
            }
            _ => None,
        };
        let http = match &target {
            Target::Otlp { .. } => Some(http_client(ca_file)?),
            _ => None,
        };
        Ok(Sink {
            target,
            hostname: hostname(),
            tls,
            http,
            connection: None,
            file: None,
        })
    }

    /// Delivers `events` (in order); `Ok` once the destination has
    /// acknowledged all of them as this sink defines it.
    pub(crate) async fn deliver(&mut self, events: &[AuditEvent]) -> Result<(), String> {
        let done = tokio::time::timeout(IO_TIMEOUT, self.deliver_inner(events)).await;
        let result = done.unwrap_or_else(|_| Err("timed out".into()));
        if result.is_err() {
            self.connection = None;
            self.file = None;
        }
        result
    }

    /// Ends a syslog connection cleanly (a TLS close_notify, then FIN), so
    /// the receiver sees the end of the stream rather than a truncation.
    pub(crate) async fn close(&mut self) {
        if let Some(mut stream) = self.connection.take() {
            let _ = tokio::time::timeout(IO_TIMEOUT, stream.shutdown()).await;
        }
    }

    async fn deliver_inner(&mut self, events: &[AuditEvent]) -> Result<(), String> {
        match self.target.clone() {
            Target::Stdout => {
                let text = export_lines(events)?;
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("standard output: {e}"))
            }
            Target::File(path) => {
                let text = export_lines(events)?;
                let mut file = match self.file.take() {
                    Some(file) => file,
                    None => open_append(&path)?,
                };
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_data())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                self.file = Some(file);
                Ok(())
            }
            Target::SyslogTcp { framing, .. } => self.send_syslog(events, framing).await,
            Target::SyslogTls { .. } => self.send_syslog(events, Framing::OctetCounting).await,
            Target::Otlp { url } => self.post_otlp(&url, events).await,
        }
    }

    /// Writes the page as framed RFC 5424 messages and flushes.
    async fn send_syslog(&mut self, events: &[AuditEvent], framing: Framing) -> Result<(), String> {
        let mut wire = Vec::new();
        for e in events {
            let message = format::syslog_message(e, &self.hostname)?;
            match framing {
                Framing::OctetCounting => {
                    wire.extend_from_slice(format!("{} ", message.len()).as_bytes());
                    wire.extend_from_slice(message.as_bytes());
                }
                Framing::Lf => {
                    wire.extend_from_slice(message.as_bytes());
                    wire.push(b'\n');
                }
            }
        }
        let mut stream = match self.connection.take() {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        stream
            .write_all(&wire)
            .await
            .map_err(|e| format!("syslog write: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("syslog flush: {e}"))?;
        self.connection = Some(stream);
        Ok(())
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, String> {
        let (host, port) = match &self.target {
            Target::SyslogTcp { host, port, .. } | Target::SyslogTls { host, port } => {
                (host.clone(), *port)
            }
            _ => return Err("not a syslog target".into()),
        };
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("syslog connect {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("syslog+tls: {host:?}: {e}"))?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("syslog TLS handshake with {host}:{port}: {e}"))?;
        Ok(Box::new(stream))
    }

    /// Posts the page as one OTLP/HTTP JSON request; a 2xx is the ack.
    async fn post_otlp(&self, url: &url::Url, events: &[AuditEvent]) -> Result<(), String> {
        let client = self.http.as_ref().ok_or("no HTTP client")?;
        let body = format::otlp_body(events, &self.hostname)?;
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let reply = client
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("OTLP POST {url}: {e}"))?;
        let status = reply.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("OTLP POST {url}: {status}"))
        }
    }
}

/// `events` as `audit export` writes them, a line each.
fn export_lines(events: &[AuditEvent]) -> Result<String, String> {
    let mut text = String::new();
    for e in events {
        text.push_str(&crate::commands::audit::json_line(e)?);
        text.push('\n');
    }
    Ok(text)
}

/// Opens `path` to append (created 0600: the log names people).
fn open_append(path: &PathBuf) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The PEM certificates in `path`.
fn certificates(path: &PathBuf) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--ca-file {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("--ca-file {}: no certificate", path.display()));
    }
    Ok(certs)
}

/// A TLS client trusting only the CA certificates in `ca`.
fn tls_connector(ca: &PathBuf) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca)? {
        roots
            .add(cert)
            .map_err(|e| format!("--ca-file {}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The OTLP client: no redirects, bounded time, and with `--ca-file` that
/// CA trusted besides the platform's.
fn http_client(ca_file: Option<&PathBuf>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(IO_TIMEOUT)
        .timeout(IO_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_file {
        for cert in certificates(ca)? {
            let cert = reqwest::Certificate::from_der(&cert)
                .map_err(|e| format!("--ca-file {}: {e}", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("OTLP client: {e}"))
}

/// This machine's name for the syslog HOSTNAME field (`-` when unknown).
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format::header_field(name.trim(), 255)
}
