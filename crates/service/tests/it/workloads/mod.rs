//! Issue 17, workload identity: entries, join tokens and attestation,
//! node proofs, sync, JWT-SVIDs, revocation, federation. Every hostile
//! case is refused, audited with its reason, and changes nothing else.

use super::*;

use keybound_jose::{Algorithm as JoseAlg, SigningKey as JoseKey};
use keybound_workload_api::wire::{JoinAttestRequest, JwtSvidRequest, SvidRequest, SyncRequest};
use serde_json::json;

mod attest;
mod ca;
mod entries;
mod federation;
mod local;
mod proof;
mod revocation;
mod sync;
mod tpm;

const TD: &str = "localhost";
const SERVER: &str = "https://kb.example";

fn ctx() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.9".into()),
        ..ClientContext::default()
    }
}

fn op() -> Operator {
    Operator::local("cli")
}

/// A node agent's key, and the proofs it signs.
pub(crate) struct NodeKey {
    key: JoseKey,
    jwk: Value,
}

impl NodeKey {
    fn new() -> NodeKey {
        let pkcs8 = JoseKey::generate_pkcs8(JoseAlg::Es256).unwrap();
        let key = JoseKey::from_pkcs8(JoseAlg::Es256, &pkcs8).unwrap();
        let jwk = key.public_jwk(None).unwrap().to_json();
        NodeKey { key, jwk }
    }

    /// A proof with every claim set as given.
    fn proof_with(&self, header_jwk: &Value, claims: &Value, typ: &str) -> String {
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), typ.into());
        header.insert("jwk".into(), header_jwk.clone());
        let token = keybound_jose::sign(
            &header,
            claims,
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        format!("KeyboundNode {token}")
    }

    /// A good proof by `node` for `POST path` at `now_ms`, with `jti`.
    pub(crate) fn proof(&self, node: &str, path: &str, now_ms: i64, jti: &str) -> String {
        self.proof_with(
            &self.jwk,
            &json!({"htm": "POST", "htu": format!("{SERVER}{path}"), "iat": now_ms / 1000,
                    "jti": jti, "node": node}),
            "kb-node+jwt",
        )
    }
}

/// An active person named `name` (an entry owner).
async fn owner(w: &World, name: &str) {
    w.enrol(name).await;
}

/// A join token for `node` in `sets`, created by the operator.
async fn token(w: &World, node: &str, sets: &[&str]) -> JoinToken {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    w.service
        .create_join_token((&op()).into(), node, &sets, 600_000, &ctx())
        .await
        .unwrap()
}

/// A node `name` (in `sets`) attested by join token with a fresh key.
pub(crate) async fn attested(w: &World, name: &str, sets: &[&str]) -> NodeKey {
    let key = NodeKey::new();
    let t = token(w, name, sets).await;
    w.service
        .attest_join(
            &JoinAttestRequest {
                token: t.token,
                node_key: key.jwk.clone(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    key
}

/// An entry for `spiffe_id` under `parent`, owned by `owner`, uid `uid`.
pub(crate) fn entry(spiffe_id: &str, parent: &str, owner: &str, uid: u32) -> NewEntry {
    NewEntry {
        spiffe_id: spiffe_id.into(),
        parent: parent.into(),
        selectors: vec![format!("unix:uid:{uid}")],
        owner: owner.into(),
        ..NewEntry::default()
    }
}

pub(crate) async fn add(w: &World, new: &NewEntry) -> Result<EntryView, ServiceError> {
    w.service
        .add_workload_entry((&op()).into(), new, &ctx())
        .await
}

/// A node call to `path` with `authorization`.
pub(crate) fn call<'a>(authorization: &'a str, path: &'a str) -> NodeCall<'a> {
    NodeCall {
        authorization: Some(authorization),
        method: "POST",
        path,
    }
}

/// `node` syncs with a fresh proof and `request`.
async fn sync(
    w: &World,
    key: &NodeKey,
    node: &str,
    request: &SyncRequest,
) -> Result<keybound_workload_api::wire::SyncResponse, ServiceError> {
    let jti = format!(
        "sync-{}",
        w.service.random_bytes()[0..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let proof = key.proof(node, "/workload/v1/sync", w.now(), &jti);
    w.service
        .workload_sync(&call(&proof, "/workload/v1/sync"), request, &ctx())
        .await
}

/// Asserts `result` was refused for `reason`.
fn refused<T: std::fmt::Debug>(result: Result<T, ServiceError>, reason: Refusal) {
    assert_eq!(result.unwrap_err(), ServiceError::Rejected(reason));
}

impl World {
    fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    fn advance(&self, ms: i64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
    }
}
