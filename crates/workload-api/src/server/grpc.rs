//! The gRPC plumbing `tonic-build` would generate for `SpiffeWorkloadAPI`,
//! written out: route a path to its method, decode with prost (request size
//! bounded), encode the answer. Any other path — `FetchWITSVID` of newer
//! versions of the standard included — answers `Unimplemented`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::rpc::Api;
use crate::proto::{paths, SERVICE};

/// The tower service tonic's router serves.
#[derive(Clone)]
pub(crate) struct WorkloadApiService {
    api: Arc<Api>,
}

impl WorkloadApiService {
    pub(crate) fn new(api: Arc<Api>) -> Self {
        WorkloadApiService { api }
    }
}

impl NamedService for WorkloadApiService {
    const NAME: &'static str = SERVICE;
}

/// A unary method as a closure.
struct Unary<F>(F);

impl<Req, Resp, F, Fut> UnaryService<Req> for Unary<F>
where
    F: FnMut(Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = Fut;
    fn call(&mut self, request: Request<Req>) -> Fut {
        (self.0)(request)
    }
}

/// A server-streaming method as a closure.
struct Streaming<F>(F);

impl<Req, Resp, S, F, Fut> ServerStreamingService<Req> for Streaming<F>
where
    F: FnMut(Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    S: tokio_stream::Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    type Response = Resp;
    type ResponseStream = S;
    type Future = Fut;
    fn call(&mut self, request: Request<Req>) -> Fut {
        (self.0)(request)
    }
}

/// Binds `$method` of [`Api`] as a unary or streaming handler of `$req`.
macro_rules! route {
    (unary $api:expr, $req:expr, $max:expr, $method:ident) => {{
        let api = $api;
        Box::pin(async move {
            let svc = Unary(move |r| {
                let api = Arc::clone(&api);
                async move { api.$method(r).await }
            });
            let mut grpc =
                Grpc::new(ProstCodec::default()).apply_max_message_size_config(Some($max), None);
            Ok(grpc.unary(svc, $req).await)
        })
    }};
    (stream $api:expr, $req:expr, $max:expr, $method:ident) => {{
        let api = $api;
        Box::pin(async move {
            let svc = Streaming(move |r| {
                let api = Arc::clone(&api);
                async move { api.$method(r).await }
            });
            let mut grpc =
                Grpc::new(ProstCodec::default()).apply_max_message_size_config(Some($max), None);
            Ok(grpc.server_streaming(svc, $req).await)
        })
    }};
}

impl Service<http::Request<Body>> for WorkloadApiService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let api = Arc::clone(&self.api);
        let max = api.max_request_bytes();
        match req.uri().path() {
            paths::FETCH_X509_SVID => route!(stream api, req, max, fetch_x509_svid),
            paths::FETCH_X509_BUNDLES => route!(stream api, req, max, fetch_x509_bundles),
            paths::FETCH_JWT_BUNDLES => route!(stream api, req, max, fetch_jwt_bundles),
            paths::FETCH_JWT_SVID => route!(unary api, req, max, fetch_jwt_svid),
            paths::VALIDATE_JWT_SVID => route!(unary api, req, max, validate_jwt_svid),
            _ => Box::pin(async move { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}
