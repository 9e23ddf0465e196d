//! A raw gRPC client over the Unix socket, so tests can send what the
//! `spiffe` crate never would (no security header, huge fields).

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use keybound_workload_api::proto::{self, paths};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Status, Streaming};
use tonic_prost::ProstCodec;

pub struct Client {
    grpc: tonic::client::Grpc<Channel>,
    /// Whether to send `workload.spiffe.io: true`.
    pub header: Option<&'static str>,
}

pub async fn connect(socket: &Path) -> Client {
    let socket: PathBuf = socket.into();
    let channel = Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .unwrap();
    Client {
        grpc: tonic::client::Grpc::new(channel),
        header: Some("true"),
    }
}

impl Client {
    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Some(v) = self.header {
            req.metadata_mut()
                .insert("workload.spiffe.io", v.parse().unwrap());
        }
        req
    }

    async fn stream<Req, Resp>(
        &mut self,
        path: &'static str,
        msg: Req,
    ) -> Result<Streaming<Resp>, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc.ready().await.unwrap();
        let req = self.request(msg);
        self.grpc
            .server_streaming(
                req,
                PathAndQuery::from_static(path),
                ProstCodec::<Req, Resp>::default(),
            )
            .await
            .map(tonic::Response::into_inner)
    }

    async fn unary<Req, Resp>(&mut self, path: &'static str, msg: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc.ready().await.unwrap();
        let req = self.request(msg);
        self.grpc
            .unary(
                req,
                PathAndQuery::from_static(path),
                ProstCodec::<Req, Resp>::default(),
            )
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn x509_svid(&mut self) -> Result<Streaming<proto::X509SvidResponse>, Status> {
        self.stream(paths::FETCH_X509_SVID, proto::X509SvidRequest {})
            .await
    }

    pub async fn x509_bundles(&mut self) -> Result<Streaming<proto::X509BundlesResponse>, Status> {
        self.stream(paths::FETCH_X509_BUNDLES, proto::X509BundlesRequest {})
            .await
    }

    pub async fn jwt_bundles(&mut self) -> Result<Streaming<proto::JwtBundlesResponse>, Status> {
        self.stream(paths::FETCH_JWT_BUNDLES, proto::JwtBundlesRequest {})
            .await
    }

    pub async fn jwt_svid(
        &mut self,
        audience: &[&str],
        spiffe_id: &str,
    ) -> Result<proto::JwtSvidResponse, Status> {
        let msg = proto::JwtSvidRequest {
            audience: audience.iter().map(|a| (*a).to_owned()).collect(),
            spiffe_id: spiffe_id.into(),
        };
        self.unary(paths::FETCH_JWT_SVID, msg).await
    }

    pub async fn validate(
        &mut self,
        audience: &str,
        svid: &str,
    ) -> Result<proto::ValidateJwtSvidResponse, Status> {
        let msg = proto::ValidateJwtSvidRequest {
            audience: audience.into(),
            svid: svid.into(),
        };
        self.unary(paths::VALIDATE_JWT_SVID, msg).await
    }

    /// A method the server does not implement (`FetchWITSVID` of newer
    /// versions of the standard).
    pub async fn wit_svid(&mut self) -> Result<proto::X509SvidResponse, Status> {
        self.unary("/SpiffeWorkloadAPI/FetchWITSVID", proto::X509SvidRequest {})
            .await
    }
}

/// The first message of a stream, or its error.
pub async fn first<T>(s: Result<Streaming<T>, Status>) -> Result<T, Status> {
    let mut s = s?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), s.message()).await {
        Ok(Ok(Some(m))) => Ok(m),
        Ok(Ok(None)) => Err(Status::unknown("stream ended without a message")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Status::deadline_exceeded("no message in 10 s")),
    }
}
