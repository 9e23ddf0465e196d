//! A keybound server as far as the node agent can tell: join attestation,
//! sync and JWT-SVIDs on in-process axum listeners sharing one state (as
//! servers share one database), with test CAs from rcgen that rotate in
//! SPIRE's phases. It checks every node proof the way the wire module asks
//! (key bound at attestation, method, URL path, node name, a jti never seen
//! before), so an agent sending a bad or replayed proof fails these tests.
//!
//! Self-contained (the unit tests and `tests/workload.rs` both compile it).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use keybound_workload_api::wire::{
    paths, AttestResponse, BundleView, EntryView, IssuedSvid, JoinAttestRequest, JwtSvidResponse,
    SyncRequest, SyncResponse,
};
use rcgen::{
    BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SanType, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
};
use serde_json::{json, Value};

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

pub(crate) fn unix_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

pub(crate) const TD: &str = "example.org";
pub(crate) const NODE: &str = "n1";

/// What the fake does with a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Serve,
    /// 503 to everything.
    Down,
    /// 401 to node calls (decommissioned).
    Refuse,
}

/// A test CA.
pub(crate) struct Ca {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    pub(crate) der: Vec<u8>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            issuer: Issuer::new(params, key),
            der,
        }
    }

    /// A leaf for `spki` (DER) naming `spiffe_id`, valid `ttl_s` from now.
    pub(crate) fn leaf(&self, spki: &[u8], spiffe_id: &str, ttl_s: i64) -> Vec<u8> {
        let now = unix_ms();
        self.leaf_at(spki, spiffe_id, now, now + ttl_s * 1000)
    }

    /// A leaf valid from `from_ms` to `to_ms` (whole seconds).
    pub(crate) fn leaf_at(
        &self,
        spki: &[u8],
        spiffe_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<u8> {
        let at = |ms: i64| time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .subject_alt_names
            .push(SanType::URI(spiffe_id.try_into().unwrap()));
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // The X.509-SVID profile: basicConstraints CA:false, present.
        params.is_ca = IsCa::ExplicitNoCa;
        params.not_before = at(from_ms);
        params.not_after = at(to_ms);
        params
            .signed_by(&Spki::from_der(spki), &self.issuer)
            .unwrap()
            .der()
            .to_vec()
    }
}

/// A P-256 public key from its SubjectPublicKeyInfo.
pub(crate) struct Spki(Vec<u8>);

impl Spki {
    pub(crate) fn from_der(der: &[u8]) -> Spki {
        use der::Decode as _;
        let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(der).unwrap();
        Spki(spki.subject_public_key.raw_bytes().to_vec())
    }
}

impl PublicKeyData for Spki {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

pub(crate) fn entry(id: &str, uid: u32) -> EntryView {
    EntryView {
        id: id.into(),
        spiffe_id: format!("spiffe://{TD}/{id}"),
        selectors: vec![format!("unix:uid:{uid}")],
        hint: String::new(),
        dns_names: vec![],
        x509_ttl_s: 4,
        jwt_ttl_s: 60,
        federates_with: vec![],
        revision: 1,
    }
}

pub(crate) fn bundle(authorities: &[&[u8]]) -> BundleView {
    BundleView {
        trust_domain: TD.into(),
        x509_authorities: authorities.iter().map(|a| b64(a)).collect(),
        jwt_authorities: vec![],
        sequence: 1,
        refresh_hint_s: 60,
    }
}

/// The fake's state; tests change it between calls.
pub(crate) struct Fake {
    pub(crate) base: String,
    pub(crate) token: Option<String>,
    pub(crate) bound: Option<Value>,
    pub(crate) entries: Vec<EntryView>,
    /// Every authority made so far; `active` signs, `published` are in
    /// the bundle (SPIRE's prepare → activate → retire).
    pub(crate) cas: Vec<Ca>,
    pub(crate) active: usize,
    pub(crate) published: Vec<usize>,
    pub(crate) ttl_s: i64,
    pub(crate) mode: Mode,
    /// Listeners (by index) that answer 503, as a stopped server.
    pub(crate) down: HashSet<usize>,
    /// Every listener's base URL.
    pub(crate) bases: Vec<String>,
    pub(crate) jtis: HashSet<String>,
    pub(crate) syncs: usize,
    pub(crate) issued: usize,
    pub(crate) refused_proofs: usize,
}

pub(crate) type Shared = Arc<Mutex<Fake>>;

impl Fake {
    /// The signing authority.
    pub(crate) fn ca(&self) -> &Ca {
        &self.cas[self.active]
    }

    /// Prepare: a new authority, published, not signing yet.
    pub(crate) fn prepare(&mut self) {
        self.cas
            .push(Ca::new(&format!("fake CA {}", self.cas.len())));
        self.published.push(self.cas.len() - 1);
    }

    /// Activate: the newest authority signs.
    pub(crate) fn activate(&mut self) {
        self.active = self.cas.len() - 1;
    }

    /// Retire: only the active authority stays in the bundle.
    pub(crate) fn retire(&mut self) {
        self.published = vec![self.active];
    }

    fn bundle(&self) -> BundleView {
        let ders: Vec<&[u8]> = self
            .published
            .iter()
            .map(|i| self.cas[*i].der.as_slice())
            .collect();
        let mut b = bundle(&ders);
        b.sequence = self.cas.len() as u64 * 10 + self.published.len() as u64;
        b
    }
}

#[derive(Clone)]
struct Ctx {
    fake: Shared,
    listener: usize,
}

/// Starts a fake on a random port with one join token `tok` and entries.
pub(crate) async fn start(entries: Vec<EntryView>) -> Shared {
    start_many(entries, 1).await
}

/// Starts `listeners` fakes sharing one state; `base` is the first's.
pub(crate) async fn start_many(entries: Vec<EntryView>, listeners: usize) -> Shared {
    let fake = Arc::new(Mutex::new(Fake {
        base: String::new(),
        token: Some("tok".into()),
        bound: None,
        entries,
        cas: vec![Ca::new("fake CA 0")],
        active: 0,
        published: vec![0],
        ttl_s: 4,
        mode: Mode::Serve,
        down: HashSet::new(),
        bases: Vec::new(),
        jtis: HashSet::new(),
        syncs: 0,
        issued: 0,
        refused_proofs: 0,
    }));
    for index in 0..listeners {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        fake.lock()
            .unwrap()
            .bases
            .push(format!("http://127.0.0.1:{port}"));
        let app = Router::new()
            .route(paths::ATTEST_JOIN, post(join))
            .route(paths::SYNC, post(sync))
            .route(paths::JWT_SVID, post(jwt))
            .with_state(Ctx {
                fake: Arc::clone(&fake),
                listener: index,
            });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let first = fake.lock().unwrap().bases[0].clone();
    fake.lock().unwrap().base = first;
    fake
}

type Answer = (StatusCode, String);

fn error(status: StatusCode, word: &str) -> Answer {
    (status, json!({ "error": word }).to_string())
}

async fn join(State(ctx): State<Ctx>, body: Bytes) -> Answer {
    let mut f = ctx.fake.lock().unwrap();
    if f.mode == Mode::Down || f.down.contains(&ctx.listener) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "down");
    }
    let Ok(request) = serde_json::from_slice::<JoinAttestRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if f.token.as_deref() != Some(request.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    f.token = None;
    f.bound = Some(request.node_key);
    let answer = AttestResponse {
        node: NODE.into(),
        spiffe_id: format!("spiffe://{TD}/keybound/node/{NODE}"),
        trust_domain: TD.into(),
    };
    (StatusCode::OK, serde_json::to_string(&answer).unwrap())
}

/// Checks a node proof as the wire module says a server must.
fn proof_ok(f: &mut Fake, headers: &HeaderMap, path: &str) -> bool {
    let Some(jws) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("KeyboundNode "))
    else {
        return false;
    };
    let Some(header) = jws
        .split('.')
        .next()
        .and_then(unb64)
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
    else {
        return false;
    };
    if header["typ"] != "kb-node+jwt" || Some(&header["jwk"]) != f.bound.as_ref() {
        return false;
    }
    let Ok(jwk) = keybound_jose::Jwk::parse(&header["jwk"]) else {
        return false;
    };
    let Ok(verified) =
        keybound_jose::verify(jws, &[keybound_jose::Algorithm::Es256], |_| Some(jwk))
    else {
        return false;
    };
    let claims = verified.claims().unwrap();
    let now = unix_ms() / 1000;
    let fresh = claims["iat"]
        .as_i64()
        .is_some_and(|iat| (iat - now).abs() <= 60);
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    // Only the path: behind a proxy a server does not know the URL.
    let htu = claims["htu"].as_str().unwrap_or_default();
    claims["htm"] == "POST"
        && htu.starts_with("http://127.0.0.1:")
        && htu.ends_with(path)
        && f.bases.iter().any(|b| format!("{b}{path}") == htu)
        && claims["node"] == NODE
        && fresh
        && !jti.is_empty()
        && f.jtis.insert(jti)
}

async fn sync(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut f = ctx.fake.lock().unwrap();
    if f.down.contains(&ctx.listener) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "down");
    }
    match f.mode {
        Mode::Down => return error(StatusCode::SERVICE_UNAVAILABLE, "down"),
        Mode::Refuse => return error(StatusCode::UNAUTHORIZED, "unauthorized"),
        Mode::Serve => {}
    }
    if !proof_ok(&mut f, &headers, paths::SYNC) {
        f.refused_proofs += 1;
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Ok(request) = serde_json::from_slice::<SyncRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    f.syncs += 1;
    let mut svids = Vec::new();
    for csr in request.csrs {
        let Some(entry) = f.entries.iter().find(|e| e.id == csr.entry_id) else {
            continue;
        };
        let spki = unb64(&csr.public_key).unwrap();
        let leaf = f.ca().leaf(&spki, &entry.spiffe_id, f.ttl_s);
        svids.push(IssuedSvid {
            entry_id: entry.id.clone(),
            chain: vec![b64(&leaf)],
            expires_at_ms: unix_ms() + f.ttl_s * 1000,
        });
    }
    f.issued += svids.len();
    let answer = SyncResponse {
        node: format!("spiffe://{TD}/keybound/node/{NODE}"),
        entries: f.entries.clone(),
        svids,
        bundle: f.bundle(),
        federated: vec![],
        crls: vec![],
        next_sync_ms: unix_ms() + 60_000,
    };
    (StatusCode::OK, serde_json::to_string(&answer).unwrap())
}

async fn jwt(State(ctx): State<Ctx>, headers: HeaderMap, _body: Bytes) -> Answer {
    let mut f = ctx.fake.lock().unwrap();
    if f.down.contains(&ctx.listener) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "down");
    }
    if !proof_ok(&mut f, &headers, paths::JWT_SVID) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let answer = JwtSvidResponse {
        token: "a.b.c".into(),
        expires_at_ms: unix_ms() + 60_000,
    };
    (StatusCode::OK, serde_json::to_string(&answer).unwrap())
}
