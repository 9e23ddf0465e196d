//! The workload processes: this test binary run again, as another uid,
//! with `KB_WL_ROLE` set. They use the published `spiffe` crate against the
//! agent's socket (`SPIFFE_ENDPOINT_SOCKET`), as a real workload would, and
//! talk mTLS with rustls. Their answers are stdout lines starting `@@ `.
//!
//! - `fetch`: one `FetchX509SVID`; `@@ ok <id>` or `@@ err <error>`.
//! - `server`: an `X509Source`; listens, `@@ port <n>`; each connection is
//!   a TLS handshake with the current SVID, the client's certificate
//!   verified against the current bundle, and the client's SPIFFE ID sent
//!   back.
//! - `client`: an `X509Source`; reads `connect <port>` (answers `@@ ok
//!   <server id> <own id as the server saw it> <leaf sha256>` or `@@ fail
//!   <why>`) and `id` (answers `@@ id <spiffe id or none>`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use spiffe::{WorkloadApiClient, X509Source};

use super::tls;

pub const ROLE: &str = "KB_WL_ROLE";

fn say(line: &str) {
    println!("@@ {line}");
    std::io::stdout().flush().unwrap();
}

pub fn main(role: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    match role {
        "fetch" => {
            let got = rt.block_on(async {
                let client = WorkloadApiClient::connect_env().await?;
                client.fetch_x509_svid().await
            });
            match got {
                Ok(svid) => say(&format!("ok {}", svid.spiffe_id())),
                Err(e) => say(&format!("err {e:?}")),
            }
        }
        "server" => server(&rt),
        "client" => client(&rt),
        other => panic!("unknown role {other}"),
    }
}

/// The current SVID (chain, key) and every bundle's authorities.
fn material(
    source: &X509Source,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        Vec<CertificateDer<'static>>,
    ),
    String,
> {
    let svid = source.svid().map_err(|e| format!("no-svid:{e}"))?;
    let chain = svid
        .cert_chain()
        .iter()
        .map(|c| CertificateDer::from(c.as_bytes().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        svid.private_key().as_bytes().to_vec(),
    ));
    let bundles = source.bundle_set().map_err(|e| format!("no-bundle:{e}"))?;
    let roots = bundles
        .iter()
        .flat_map(|(_, b)| {
            b.authorities()
                .iter()
                .map(|a| CertificateDer::from(a.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok((chain, key, roots))
}

fn server(rt: &tokio::runtime::Runtime) {
    let source = rt.block_on(X509Source::new()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    say(&format!("port {}", listener.local_addr().unwrap().port()));
    for tcp in listener.incoming() {
        let Ok(mut tcp) = tcp else { continue };
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let config = match material(&source).and_then(|(c, k, r)| tls::server_config(c, k, r)) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("workload server: {e}");
                continue;
            }
        };
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        if let Err(e) = conn.complete_io(&mut tcp) {
            eprintln!("workload server: handshake: {e}");
            continue;
        }
        let peer = tls::peer_id(conn.peer_certificates());
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let _ = writeln!(stream, "{peer}");
        stream.conn.send_close_notify();
        let _ = stream.flush();
    }
}

fn client(rt: &tokio::runtime::Runtime) {
    let source = rt.block_on(X509Source::new()).unwrap();
    say("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["id"] => match source.svid() {
                Ok(svid) => say(&format!("id {}", svid.spiffe_id())),
                Err(_) => say("id none"),
            },
            ["connect", port] => match connect(&source, port.parse().unwrap()) {
                Ok(answer) => say(&format!("ok {answer}")),
                Err(why) => say(&format!("fail {}", why.replace('\n', " "))),
            },
            _ => say("fail unknown command"),
        }
    }
}

fn connect(source: &X509Source, port: u16) -> Result<String, String> {
    let (chain, key, roots) = material(source)?;
    let leaf = tls::sha256_hex(&chain[0]);
    let config = tls::client_config(chain, key, roots)?;
    let name = ServerName::try_from("workload.invalid").unwrap();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.complete_io(&mut tcp)
        .map_err(|e| format!("handshake: {e}"))?;
    let server_id = tls::peer_id(conn.peer_certificates());
    let mut stream = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut echo = String::new();
    stream
        .read_line(&mut echo)
        .map_err(|e| format!("read: {e}"))?;
    if echo.trim().is_empty() {
        return Err("closed by the server".into());
    }
    Ok(format!("{server_id} {} {leaf}", echo.trim()))
}
