//! A keybound server as far as the node agent can tell: join attestation,
//! sync and JWT-SVIDs on an in-process axum listener, with a test CA from
//! rcgen. It checks every node proof the way the wire module asks (key
//! bound at attestation, method, URL, node name, a jti never seen before),
//! so an agent sending a bad or replayed proof fails these tests.

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

use crate::node::key::{b64, unb64};
use crate::node::unix_ms;

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
    pub(crate) ca: Ca,
    pub(crate) ttl_s: i64,
    pub(crate) mode: Mode,
    pub(crate) jtis: HashSet<String>,
    pub(crate) syncs: usize,
    pub(crate) issued: usize,
    pub(crate) refused_proofs: usize,
}

pub(crate) type Shared = Arc<Mutex<Fake>>;

/// Starts a fake on a random port with one join token `tok` and entries.
pub(crate) async fn start(entries: Vec<EntryView>) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = Arc::new(Mutex::new(Fake {
        base: format!("http://127.0.0.1:{port}"),
        token: Some("tok".into()),
        bound: None,
        entries,
        ca: Ca::new("fake CA"),
        ttl_s: 4,
        mode: Mode::Serve,
        jtis: HashSet::new(),
        syncs: 0,
        issued: 0,
        refused_proofs: 0,
    }));
    let app = Router::new()
        .route(paths::ATTEST_JOIN, post(join))
        .route(paths::SYNC, post(sync))
        .route(paths::JWT_SVID, post(jwt))
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

type Answer = (StatusCode, String);

fn error(status: StatusCode, word: &str) -> Answer {
    (status, json!({ "error": word }).to_string())
}

async fn join(State(fake): State<Shared>, body: Bytes) -> Answer {
    let mut f = fake.lock().unwrap();
    if f.mode == Mode::Down {
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
    claims["htm"] == "POST"
        && claims["htu"] == format!("{}{path}", f.base)
        && claims["node"] == NODE
        && fresh
        && !jti.is_empty()
        && f.jtis.insert(jti)
}

async fn sync(State(fake): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut f = fake.lock().unwrap();
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
        let leaf = f.ca.leaf(&spki, &entry.spiffe_id, f.ttl_s);
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
        bundle: bundle(&[&f.ca.der]),
        federated: vec![],
        crls: vec![],
        next_sync_ms: unix_ms() + 60_000,
    };
    (StatusCode::OK, serde_json::to_string(&answer).unwrap())
}

async fn jwt(State(fake): State<Shared>, headers: HeaderMap, _body: Bytes) -> Answer {
    let mut f = fake.lock().unwrap();
    if !proof_ok(&mut f, &headers, paths::JWT_SVID) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let answer = JwtSvidResponse {
        token: "a.b.c".into(),
        expires_at_ms: unix_ms() + 60_000,
    };
    (StatusCode::OK, serde_json::to_string(&answer).unwrap())
}
