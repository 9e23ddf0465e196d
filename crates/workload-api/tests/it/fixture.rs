//! A test PKI (rcgen), the snapshot the `spiffe` crate's integration tests
//! expect (as SPIRE's `run-spire.sh` sets it up), a JWT issuer double, and
//! [`start_workload_api`]: the one place that starts a Workload API for
//! the tests and the acceptance harnesses.

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use keybound_jose::{Algorithm, SigningKey};
use keybound_workload_api::snapshot::{Identity, Snapshot};
use keybound_workload_api::wire::{BundleView, EntryView, JwtSvidResponse};
use keybound_workload_api::{JwtIssueError, JwtIssuer, Limits, MintFuture};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, watch};

pub const TD: &str = "example.org";
pub const FEDERATED_TD: &str = "example-federated.org";

/// A CA of one trust domain.
pub struct Ca {
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.subject_alt_names =
            vec![SanType::URI(format!("spiffe://{name}").try_into().unwrap())];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An X.509-SVID (leaf only) and its PKCS#8 key.
    pub fn svid(&self, spiffe_id: &str) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyAgreement,
        ];
        params.subject_alt_names = vec![SanType::URI(spiffe_id.try_into().unwrap())];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }

    pub fn bundle(&self, td: &str, jwt: Vec<Value>) -> BundleView {
        BundleView {
            trust_domain: td.into(),
            x509_authorities: vec![URL_SAFE_NO_PAD.encode(&self.der)],
            jwt_authorities: jwt,
            sequence: 1,
            refresh_hint_s: 300,
        }
    }
}

/// A JWT authority: signs JWT-SVIDs as the keybound server would.
pub struct JwtKey {
    pub kid: String,
    key: SigningKey,
}

impl JwtKey {
    pub fn new(kid: &str) -> JwtKey {
        let der = SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
        JwtKey {
            kid: kid.into(),
            key: SigningKey::from_pkcs8(Algorithm::Es256, &der).unwrap(),
        }
    }

    pub fn jwk(&self) -> Value {
        self.key
            .public_jwk(Some(self.kid.clone()))
            .unwrap()
            .to_json()
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Map::new();
        header.insert("kid".into(), self.kid.clone().into());
        header.insert("typ".into(), "JWT".into());
        keybound_jose::sign(
            &header,
            claims,
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }

    pub fn token(&self, sub: &str, aud: &[&str], ttl_s: i64) -> String {
        let now = now_s();
        self.sign(&json!({"sub": sub, "aud": aud, "iat": now, "exp": now + ttl_s}))
    }
}

pub fn now_s() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// The JWT issuer double: signs locally, or fails when told to.
pub struct TestIssuer {
    pub key: JwtKey,
    pub fail: std::sync::atomic::AtomicBool,
}

impl JwtIssuer for TestIssuer {
    fn mint<'a>(&'a self, entry: &'a EntryView, audience: &'a [String]) -> MintFuture<'a> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(JwtIssueError("server unreachable".into()));
            }
            let now = now_s();
            let exp = now + i64::from(entry.jwt_ttl_s);
            Ok(JwtSvidResponse {
                token: self.key.sign(&json!({
                    "sub": entry.spiffe_id, "aud": audience, "iat": now, "exp": exp,
                })),
                expires_at_ms: exp * 1000,
            })
        })
    }
}

/// The effective uid and gid of this process (what `SO_PEERCRED` reports).
pub fn own_ids() -> (u32, u32) {
    proc_ids()
}

fn proc_ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u32 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    (field("Uid:"), field("Gid:"))
}

pub fn entry(id: &str, spiffe_id: &str, selectors: Vec<String>, hint: &str) -> EntryView {
    EntryView {
        id: id.into(),
        spiffe_id: spiffe_id.into(),
        selectors,
        hint: hint.into(),
        dns_names: vec![],
        x509_ttl_s: 3600,
        jwt_ttl_s: 300,
        federates_with: vec![],
        revision: 1,
    }
}

/// The PKI and keys behind a snapshot, to build new snapshots in tests.
pub struct World {
    pub ca: Ca,
    pub federated_ca: Ca,
    pub jwt: Arc<TestIssuer>,
    pub federated_jwt: JwtKey,
    pub uid: u32,
    pub gid: u32,
}

impl World {
    pub fn new() -> World {
        let (uid, gid) = own_ids();
        World {
            ca: Ca::new(TD),
            federated_ca: Ca::new(FEDERATED_TD),
            jwt: Arc::new(TestIssuer {
                key: JwtKey::new("kb-jwt-1"),
                fail: false.into(),
            }),
            federated_jwt: JwtKey::new("fed-jwt-1"),
            uid,
            gid,
        }
    }

    pub fn uid_selector(&self) -> String {
        format!("unix:uid:{}", self.uid)
    }

    pub fn identity(&self, entry: EntryView) -> Identity {
        let (leaf, key) = self.ca.svid(&entry.spiffe_id);
        Identity {
            entry,
            chain: vec![leaf],
            key_pkcs8: key,
            expires_at_ms: (now_s() + 3600) * 1000,
        }
    }

    pub fn snapshot(&self, identities: Vec<Identity>) -> Snapshot {
        Snapshot {
            trust_domain: TD.into(),
            identities,
            bundle: Some(self.ca.bundle(TD, vec![self.jwt.key.jwk()])),
            federated: vec![self
                .federated_ca
                .bundle(FEDERATED_TD, vec![self.federated_jwt.jwk()])],
            crls: vec![b"not a real crl".to_vec()],
        }
    }

    /// What `run-spire.sh` registers: `myservice` and `myservice2` for this
    /// uid, with hints, federating with `example-federated.org`.
    pub fn spire_like(&self) -> Snapshot {
        let ids = ["myservice", "myservice2"]
            .iter()
            .map(|name| {
                let mut e = entry(
                    name,
                    &format!("spiffe://{TD}/{name}"),
                    vec![self.uid_selector()],
                    name,
                );
                e.federates_with = vec![FEDERATED_TD.into()];
                self.identity(e)
            })
            .collect();
        self.snapshot(ids)
    }
}

/// A running Workload API.
pub struct Running {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Publishes a new snapshot, as the agent does after a sync.
    pub fn publish(&self, snap: Snapshot) {
        self.snapshots.send_replace(Arc::new(snap));
    }

    /// Shuts the server down and waits for it to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.task)
            .await
            .expect("server did not stop")
            .unwrap();
    }
}

/// Starts a Workload API serving `snapshot` on a fresh socket. The one
/// function to change when the fixture becomes `keybound serve` +
/// `keybound node`.
pub async fn start_workload_api(
    snapshot: Snapshot,
    jwt: Arc<dyn JwtIssuer>,
    limits: Limits,
) -> Running {
    // `RUST_LOG=h2=debug,keybound_workload_api=debug` shows why a call
    // was refused.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (tx, rx) = watch::channel(Arc::new(snapshot));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        keybound_workload_api::serve_with(
            listener,
            rx,
            jwt,
            async move {
                let _ = stop_rx.await;
            },
            limits,
        )
        .await
        .unwrap();
    });
    Running {
        dir,
        socket,
        snapshots: tx,
        stop: Some(stop_tx),
        task,
    }
}
