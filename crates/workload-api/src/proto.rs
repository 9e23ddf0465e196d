//! The SPIFFE Workload API messages, as prost types derived by hand.
//!
//! Field numbers and names follow `workloadapi.proto` of the SPIFFE
//! standards (spiffe/spiffe, `standards/workloadapi.proto`, Apache-2.0; the
//! service has no proto package, so its gRPC paths are
//! `/SpiffeWorkloadAPI/<Rpc>`). Deriving them here instead of running
//! `protoc` keeps a fresh checkout buildable with cargo alone; the message
//! set is small and frozen by the standard.
//!
//! Maps are `BTreeMap`s so two answers compare (and encode) the same way
//! whatever order they were built in: a stream sends a message only when
//! the caller's answer changed.

use std::collections::BTreeMap;

/// The gRPC service name (no package).
pub const SERVICE: &str = "SpiffeWorkloadAPI";

/// gRPC paths of the service's methods.
pub mod paths {
    /// Server stream of [`super::X509SvidResponse`].
    pub const FETCH_X509_SVID: &str = "/SpiffeWorkloadAPI/FetchX509SVID";
    /// Server stream of [`super::X509BundlesResponse`].
    pub const FETCH_X509_BUNDLES: &str = "/SpiffeWorkloadAPI/FetchX509Bundles";
    /// Unary [`super::JwtSvidRequest`] → [`super::JwtSvidResponse`].
    pub const FETCH_JWT_SVID: &str = "/SpiffeWorkloadAPI/FetchJWTSVID";
    /// Server stream of [`super::JwtBundlesResponse`].
    pub const FETCH_JWT_BUNDLES: &str = "/SpiffeWorkloadAPI/FetchJWTBundles";
    /// Unary [`super::ValidateJwtSvidRequest`] → [`super::ValidateJwtSvidResponse`].
    pub const VALIDATE_JWT_SVID: &str = "/SpiffeWorkloadAPI/ValidateJWTSVID";
}

/// `X509SVIDRequest`: no parameters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509SvidRequest {}

/// `X509SVIDResponse`: the caller's X.509-SVIDs, CRLs, federated bundles.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509SvidResponse {
    /// One per identity the caller is entitled to.
    #[prost(message, repeated, tag = "1")]
    pub svids: Vec<X509Svid>,
    /// DER CRLs.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub crl: Vec<Vec<u8>>,
    /// Foreign trust domains' roots (concatenated DER), keyed by the trust
    /// domain's SPIFFE ID (`spiffe://example-federated.org`).
    #[prost(btree_map = "string, bytes", tag = "3")]
    pub federated_bundles: BTreeMap<String, Vec<u8>>,
}

/// `X509SVID`: one SVID with its key and its trust domain's bundle.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509Svid {
    /// The SVID's SPIFFE ID.
    #[prost(string, tag = "1")]
    pub spiffe_id: String,
    /// Chain, leaf first, concatenated DER.
    #[prost(bytes = "vec", tag = "2")]
    pub x509_svid: Vec<u8>,
    /// PKCS#8 DER, unencrypted.
    #[prost(bytes = "vec", tag = "3")]
    pub x509_svid_key: Vec<u8>,
    /// The trust domain's roots, concatenated DER.
    #[prost(bytes = "vec", tag = "4")]
    pub bundle: Vec<u8>,
    /// Operator guidance (`internal`, `external`...).
    #[prost(string, tag = "5")]
    pub hint: String,
}

/// `X509BundlesRequest`: no parameters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509BundlesRequest {}

/// `X509BundlesResponse`: CRLs and every bundle the caller should trust.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509BundlesResponse {
    /// DER CRLs.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub crl: Vec<Vec<u8>>,
    /// Roots (concatenated DER) keyed by trust domain SPIFFE ID.
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub bundles: BTreeMap<String, Vec<u8>>,
}

/// `JWTSVIDRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JwtSvidRequest {
    /// Required: the audiences the token is for.
    #[prost(string, repeated, tag = "1")]
    pub audience: Vec<String>,
    /// Optional: only this SPIFFE ID's token.
    #[prost(string, tag = "2")]
    pub spiffe_id: String,
}

/// `JWTSVIDResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JwtSvidResponse {
    /// One per matching identity.
    #[prost(message, repeated, tag = "1")]
    pub svids: Vec<JwtSvid>,
}

/// `JWTSVID`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JwtSvid {
    /// The token's `sub`.
    #[prost(string, tag = "1")]
    pub spiffe_id: String,
    /// Compact JWS.
    #[prost(string, tag = "2")]
    pub svid: String,
    /// Operator guidance.
    #[prost(string, tag = "3")]
    pub hint: String,
}

/// `JWTBundlesRequest`: no parameters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JwtBundlesRequest {}

/// `JWTBundlesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JwtBundlesResponse {
    /// JWKS JSON documents keyed by trust domain SPIFFE ID.
    #[prost(btree_map = "string, bytes", tag = "1")]
    pub bundles: BTreeMap<String, Vec<u8>>,
}

/// `ValidateJWTSVIDRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidateJwtSvidRequest {
    /// The validating party's audience; the token's `aud` must contain it.
    #[prost(string, tag = "1")]
    pub audience: String,
    /// The token, compact JWS.
    #[prost(string, tag = "2")]
    pub svid: String,
}

/// `ValidateJWTSVIDResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidateJwtSvidResponse {
    /// The token's `sub`.
    #[prost(string, tag = "1")]
    pub spiffe_id: String,
    /// The token's claims.
    #[prost(message, optional, tag = "2")]
    pub claims: Option<prost_types::Struct>,
}
