//! A test PKI made on the spot (rcgen) and an https client (rustls) that
//! trusts it: what the TLS tests serve and talk with.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate authority the tests' clients trust.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key, as PEM, and what identifies them.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    /// The DER SubjectPublicKeyInfo (Chromium's SPKI allow-list hashes it).
    pub spki: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "keybound test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for kb.test, localhost and 127.0.0.1.
    pub fn leaf(&self) -> Leaf {
        self.leaf_for(&["kb.test", "localhost", "127.0.0.1"])
    }

    /// A server certificate for `names`.
    pub fn leaf_for(&self, names: &[&str]) -> Leaf {
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        }
    }
}

impl Leaf {
    /// Writes the pair to `dir` as `cert.pem` and `key.pem`, each replaced
    /// in one rename (as certbot and most ACME clients do); their paths.
    pub fn install(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let put = |name: &str, text: &str| {
            let path = dir.join(name);
            let staged = dir.join(format!("{name}.new"));
            std::fs::write(&staged, text).unwrap();
            std::fs::rename(&staged, &path).unwrap();
            path
        };
        (
            put("cert.pem", &self.cert_pem),
            put("key.pem", &self.key_pem),
        )
    }
}

/// The answer to one https request and the certificate the server showed.
pub struct Reply {
    pub text: String,
    pub peer: Vec<u8>,
    pub alpn: Option<Vec<u8>>,
}

/// `GET path` over https to 127.0.0.1:`port` as `kb.test`, trusting `ca`.
pub fn get(port: u16, ca: &TestCa, path: &str) -> std::io::Result<Reply> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from("kb.test").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: kb.test\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    // The server may close without close_notify after a Connection: close
    // answer: what arrived is the answer.
    if let Err(e) = tls.read_to_end(&mut raw) {
        if raw.is_empty() {
            return Err(e);
        }
    }
    let peer = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok(Reply {
        text: String::from_utf8_lossy(&raw).into_owned(),
        peer,
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
    })
}
