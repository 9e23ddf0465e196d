//! The node agent ↔ keybound server protocol, JSON over HTTP(S).
//!
//! Bytes (certificates, public keys, CRLs) travel as base64url without
//! padding. Every call after attestation carries a node proof:
//! `Authorization: KeyboundNode <jws>`, a compact ES256 JWS made with the
//! node key bound at attestation, header `{"typ": NODE_PROOF_TYP, "alg":
//! "ES256", "jwk": <public node key>}`, claims `{"htm", "htu", "iat",
//! "jti", "node"}` (DPoP's shape, RFC 9449 §4.2, so a copied proof is good
//! for one request to one URL within the window and never twice).
//!
//! The node key never expires by itself: a node that slept past every TTL
//! signs a fresh proof and syncs again. It stops working when the node is
//! decommissioned. TPM-attested nodes must also show a fresh TPM quote when
//! their attestation is older than the node TTL (`/workload/v1/attest/tpm/*`
//! again, with the same node key).

use serde::{Deserialize, Serialize};

/// `typ` of a node proof's JWS header.
pub const NODE_PROOF_TYP: &str = "kb-node+jwt";
/// The `Authorization` scheme of node calls.
pub const NODE_AUTH_SCHEME: &str = "KeyboundNode";

/// Paths on the keybound server.
pub mod paths {
    /// Join-token attestation: [`super::JoinAttestRequest`] → [`super::AttestResponse`].
    pub const ATTEST_JOIN: &str = "/workload/v1/attest/join";
    /// TPM attestation, step one: [`super::TpmAttestStart`] → [`super::TpmChallenge`].
    pub const ATTEST_TPM_START: &str = "/workload/v1/attest/tpm/start";
    /// TPM attestation, step two: [`super::TpmAttestFinish`] → [`super::AttestResponse`].
    pub const ATTEST_TPM_FINISH: &str = "/workload/v1/attest/tpm/finish";
    /// The node's entries, SVIDs, bundles and CRLs: [`super::SyncRequest`] → [`super::SyncResponse`].
    pub const SYNC: &str = "/workload/v1/sync";
    /// A JWT-SVID for one entry: [`super::JwtSvidRequest`] → [`super::JwtSvidResponse`].
    pub const JWT_SVID: &str = "/workload/v1/jwt";
    /// This trust domain's SPIFFE bundle (`https_web` profile), public.
    pub const BUNDLE: &str = "/workload/v1/bundle";
    /// CRL of one authority, DER, public: `/workload/v1/crl/{authority id}`.
    pub const CRL_PREFIX: &str = "/workload/v1/crl/";
}

/// Attest with a one-time join token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JoinAttestRequest {
    /// The token an administrator created (`keybound workload token create`).
    pub token: String,
    /// The node key's public JWK (EC P-256), bound to the node from now on.
    pub node_key: serde_json::Value,
}

/// TPM attestation, step one: the node's endorsement and attestation keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TpmAttestStart {
    /// EK certificate, DER (base64url).
    pub ek_cert: String,
    /// EK public area, `TPM2B_PUBLIC` (base64url).
    pub ek_public: String,
    /// AK public area, `TPM2B_PUBLIC` (base64url).
    pub ak_public: String,
    /// The node key's public JWK (EC P-256).
    pub node_key: serde_json::Value,
}

/// TPM attestation, the server's challenge: a credential only the TPM
/// holding both the EK and the AK can activate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TpmChallenge {
    /// Opaque attempt state to send back (MAC'd by the server).
    pub attempt: String,
    /// `TPM2B_ID_OBJECT` credential blob (base64url).
    pub credential_blob: String,
    /// `TPM2B_ENCRYPTED_SECRET` (base64url).
    pub encrypted_secret: String,
}

/// TPM attestation, step two: the activated secret and a quote binding the
/// node key to the AK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TpmAttestFinish {
    /// From [`TpmChallenge::attempt`].
    pub attempt: String,
    /// The secret `ActivateCredential` released (base64url).
    pub secret: String,
    /// `TPMS_ATTEST` of a quote by the AK (base64url).
    pub quote: String,
    /// `TPMT_SIGNATURE` over it (base64url).
    pub quote_signature: String,
}

/// The node as the server now knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttestResponse {
    /// The node's name in the registry.
    pub node: String,
    /// The node's own SPIFFE ID (`spiffe://<td>/keybound/node/<name>`).
    pub spiffe_id: String,
    /// The trust domain.
    pub trust_domain: String,
}

/// Ask for the node's state; renew the SVIDs named in `csrs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncRequest {
    /// Public keys the agent generated for entries whose SVID it wants
    /// (re)issued: missing, past half-life, or issued by a retiring CA.
    #[serde(default)]
    pub csrs: Vec<SvidRequest>,
}

/// One SVID to issue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SvidRequest {
    /// [`EntryView::id`].
    pub entry_id: String,
    /// SubjectPublicKeyInfo, DER (base64url); EC P-256.
    pub public_key: String,
}

/// Everything the node's workloads may receive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SyncResponse {
    /// The node's SPIFFE ID.
    pub node: String,
    /// The entries parented to this node (directly or by a node set).
    pub entries: Vec<EntryView>,
    /// SVIDs issued for this request's `csrs` (entries not allowed are left out).
    pub svids: Vec<IssuedSvid>,
    /// This trust domain's bundle.
    pub bundle: BundleView,
    /// Bundles of the trust domains any entry federates with.
    pub federated: Vec<BundleView>,
    /// CRLs, one per X.509 authority, DER (base64url).
    pub crls: Vec<String>,
    /// When to sync again at the latest, ms since the epoch.
    pub next_sync_ms: i64,
}

/// A registration entry, as its node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryView {
    /// Stable id.
    pub id: String,
    /// The SPIFFE ID workloads matching it receive.
    pub spiffe_id: String,
    /// Selectors, `type:value` (`unix:uid:1000`, `unix:gid:100`,
    /// `unix:path:/usr/bin/app`); a workload matches when it has all.
    pub selectors: Vec<String>,
    /// `X509SVID.hint` / `JWTSVID.hint`.
    pub hint: String,
    /// DNS SANs for the X.509-SVID.
    pub dns_names: Vec<String>,
    /// X.509-SVID lifetime, seconds.
    pub x509_ttl_s: u32,
    /// JWT-SVID lifetime, seconds.
    pub jwt_ttl_s: u32,
    /// Trust domains whose bundles workloads of this entry receive.
    pub federates_with: Vec<String>,
    /// Changes whenever the entry does.
    pub revision: i64,
}

/// An issued X.509-SVID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IssuedSvid {
    /// [`EntryView::id`].
    pub entry_id: String,
    /// Leaf first, then intermediates up to (not including) the bundle's
    /// root; DER (base64url).
    pub chain: Vec<String>,
    /// The leaf's notAfter, ms since the epoch.
    pub expires_at_ms: i64,
}

/// A trust domain's bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleView {
    /// `example.org`.
    pub trust_domain: String,
    /// X.509 authorities, DER (base64url).
    pub x509_authorities: Vec<String>,
    /// JWT authorities: public JWKs, each with its `kid`.
    pub jwt_authorities: Vec<serde_json::Value>,
    /// `spiffe_sequence`.
    pub sequence: u64,
    /// `spiffe_refresh_hint`, seconds.
    pub refresh_hint_s: u64,
}

/// Ask for a JWT-SVID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JwtSvidRequest {
    /// [`EntryView::id`].
    pub entry_id: String,
    /// `aud`, at least one.
    pub audience: Vec<String>,
}

/// A JWT-SVID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JwtSvidResponse {
    /// Compact JWS.
    pub token: String,
    /// `exp`, ms since the epoch.
    pub expires_at_ms: i64,
}

/// The error body of every refused call: one generic word, the reason in
/// the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// `invalid_request`, `unauthorized`, `forbidden`, `rate_limited`.
    pub error: String,
}
