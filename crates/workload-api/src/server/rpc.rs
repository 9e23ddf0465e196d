//! The five methods: metadata check, caller identity, request bounds, then
//! the answer from the current snapshot. Errors to the workload are generic;
//! the reason goes to the log.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use super::answers;
use super::caller::Caller;
use super::streams::{self, StreamSlots};
use super::{JwtIssuer, Limits};
use crate::jwt_svid::{self, JwtAuthorities};
use crate::proto::{
    JwtBundlesRequest, JwtBundlesResponse, JwtSvid, JwtSvidRequest, JwtSvidResponse,
    ValidateJwtSvidRequest, ValidateJwtSvidResponse, X509BundlesRequest, X509BundlesResponse,
    X509SvidRequest, X509SvidResponse,
};
use crate::snapshot::Snapshot;
use keybound_ca::MAX_SPIFFE_ID_LEN;

/// The metadata key every call must carry with the value `true`.
pub(crate) const SECURITY_HEADER: &str = "workload.spiffe.io";

type Stream<T> = ReceiverStream<Result<T, Status>>;

/// The server's state, shared by every call.
pub(crate) struct Api {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    jwt: Arc<dyn JwtIssuer>,
    limits: Limits,
    slots: Arc<StreamSlots>,
    stop: watch::Receiver<bool>,
}

fn denied() -> Status {
    Status::permission_denied("no identity issued")
}

/// The check of §5.2: without the header, refuse before anything else.
fn require_header<T>(req: &Request<T>) -> Result<(), Status> {
    match req.metadata().get(SECURITY_HEADER).map(|v| v.to_str()) {
        Some(Ok("true")) => Ok(()),
        _ => Err(Status::invalid_argument(
            "security header missing from request",
        )),
    }
}

/// The caller as the kernel knows it; no credentials → refused.
fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred.as_ref())
        .map(Caller::from_cred)
        .ok_or_else(|| {
            tracing::info!("workload api: caller without peer credentials refused");
            denied()
        })
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Api {
    pub(crate) fn new(
        snapshots: watch::Receiver<Arc<Snapshot>>,
        jwt: Arc<dyn JwtIssuer>,
        limits: Limits,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Api {
            snapshots,
            jwt,
            limits,
            slots: Arc::default(),
            stop,
        }
    }

    pub(crate) fn max_request_bytes(&self) -> usize {
        self.limits.max_request_bytes
    }

    /// A synced snapshot, for unary calls (`Unavailable` before the first
    /// sync: the workload retries).
    fn synced(&self) -> Result<Arc<Snapshot>, Status> {
        let snap = Arc::clone(&self.snapshots.borrow());
        if snap.trust_domain.is_empty() {
            return Err(Status::unavailable("not synced yet"));
        }
        Ok(snap)
    }

    fn stream<T>(
        &self,
        caller: Caller,
        answer: fn(&Snapshot, &[String]) -> Option<T>,
    ) -> Result<Response<Stream<T>>, Status>
    where
        T: Clone + PartialEq + Send + Sync + 'static,
    {
        let slot = self
            .slots
            .take(caller.uid, self.limits.max_streams_per_uid)
            .ok_or_else(|| {
                tracing::warn!(uid = caller.uid, "workload api: stream limit reached");
                Status::resource_exhausted("too many streams")
            })?;
        Ok(Response::new(streams::spawn(
            self.snapshots.clone(),
            self.stop.clone(),
            caller.selectors,
            slot,
            answer,
        )))
    }

    /// `FetchX509SVID`.
    pub(crate) async fn fetch_x509_svid(
        &self,
        req: Request<X509SvidRequest>,
    ) -> Result<Response<Stream<X509SvidResponse>>, Status> {
        require_header(&req)?;
        let caller = caller(&req)?;
        self.stream(caller, answers::x509_svids)
    }

    /// `FetchX509Bundles`.
    pub(crate) async fn fetch_x509_bundles(
        &self,
        req: Request<X509BundlesRequest>,
    ) -> Result<Response<Stream<X509BundlesResponse>>, Status> {
        require_header(&req)?;
        let caller = caller(&req)?;
        self.stream(caller, answers::x509_bundles)
    }

    /// `FetchJWTBundles`.
    pub(crate) async fn fetch_jwt_bundles(
        &self,
        req: Request<JwtBundlesRequest>,
    ) -> Result<Response<Stream<JwtBundlesResponse>>, Status> {
        require_header(&req)?;
        let caller = caller(&req)?;
        self.stream(caller, answers::jwt_bundles)
    }

    /// `FetchJWTSVID`: one token per matching identity (or only for
    /// `spiffe_id`), minted by the [`JwtIssuer`].
    pub(crate) async fn fetch_jwt_svid(
        &self,
        req: Request<JwtSvidRequest>,
    ) -> Result<Response<JwtSvidResponse>, Status> {
        require_header(&req)?;
        let caller = caller(&req)?;
        let req = req.into_inner();
        let l = &self.limits;
        if req.audience.is_empty()
            || req.audience.len() > l.max_audiences
            || req
                .audience
                .iter()
                .any(|a| a.is_empty() || a.len() > l.max_audience_len)
        {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        if req.spiffe_id.len() > MAX_SPIFFE_ID_LEN {
            return Err(Status::invalid_argument("invalid spiffe_id"));
        }
        let snap = self.synced()?;
        let ids: Vec<_> = snap
            .matching(&caller.selectors)
            .filter(|i| req.spiffe_id.is_empty() || i.entry.spiffe_id == req.spiffe_id)
            .collect();
        if ids.is_empty() {
            return Err(denied());
        }
        let mut svids = Vec::with_capacity(ids.len());
        for id in ids {
            let minted =
                tokio::time::timeout(l.mint_timeout, self.jwt.mint(&id.entry, &req.audience)).await;
            match minted {
                Ok(Ok(t)) => svids.push(JwtSvid {
                    spiffe_id: id.entry.spiffe_id.clone(),
                    svid: t.token,
                    hint: id.entry.hint.clone(),
                }),
                Ok(Err(e)) => {
                    tracing::warn!(entry = %id.entry.id, error = %e, "workload api: minting a JWT-SVID failed");
                    return Err(Status::unavailable("could not mint JWT-SVID"));
                }
                Err(_) => {
                    tracing::warn!(entry = %id.entry.id, "workload api: minting a JWT-SVID timed out");
                    return Err(Status::unavailable("could not mint JWT-SVID"));
                }
            }
        }
        Ok(Response::new(JwtSvidResponse { svids }))
    }

    /// `ValidateJWTSVID`, against this trust domain's JWT authorities and
    /// the federated ones the caller's entries name.
    pub(crate) async fn validate_jwt_svid(
        &self,
        req: Request<ValidateJwtSvidRequest>,
    ) -> Result<Response<ValidateJwtSvidResponse>, Status> {
        require_header(&req)?;
        let caller = caller(&req)?;
        let req = req.into_inner();
        if req.audience.is_empty() || req.audience.len() > self.limits.max_audience_len {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        if req.svid.is_empty() {
            return Err(Status::invalid_argument("svid must be specified"));
        }
        let snap = self.synced()?;
        let trust = answers::jwt_trust(&snap, &caller.selectors).ok_or_else(denied)?;
        let bundles: Vec<JwtAuthorities<'_>> = trust
            .iter()
            .map(|b| JwtAuthorities {
                trust_domain: &b.trust_domain,
                keys: &b.jwt_authorities,
            })
            .collect();
        match jwt_svid::validate(&req.svid, &req.audience, &bundles, now_s()) {
            Ok(valid) => Ok(Response::new(ValidateJwtSvidResponse {
                spiffe_id: valid.spiffe_id.as_str().to_owned(),
                claims: Some(jwt_svid::claims_struct(&valid.claims)),
            })),
            Err(e) => {
                tracing::info!(reason = %e, "workload api: JWT-SVID refused");
                Err(Status::invalid_argument("invalid JWT-SVID"))
            }
        }
    }
}
