//! gRPC checks: the standard `grpc.health.v1.Health/Check`, passing only on `SERVING`.
//!
//! The target is `host:port` or `host:port/service`; like Consul, every run dials a fresh
//! connection (plaintext HTTP/2, or TLS with `GRPCUseTLS`) and closes it afterwards.

use super::{Outcome, Probe};
use crate::tls::{dial, TlsSettings};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A gRPC health check.
pub(crate) struct GrpcProbe {
    /// The target as written (`host:port[/service]`).
    pub(crate) target: String,
    pub(crate) timeout: Duration,
    pub(crate) tls: Option<TlsSettings>,
}

/// Go's name of a gRPC status code (`codes.Code.String()`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// Marks our own dial errors inside tonic's error chain.
#[derive(Debug)]
struct DialError(String);

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DialError {}

impl GrpcProbe {
    fn split(&self) -> (&str, &str) {
        match self.target.split_once('/') {
            Some((server, service)) => (server, service),
            None => (self.target.as_str(), ""),
        }
    }

    async fn check(&self) -> Result<(), String> {
        let (server, service) = self.split();
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
            .map_err(|e| format!("grpc: invalid target {:?}: {e}", self.target))?;
        let server_owned = server.to_owned();
        let tls = self.tls.clone();
        let connector = tower::service_fn(move |_uri: http::Uri| {
            let server = server_owned.clone();
            let tls = tls.clone();
            async move {
                dial(&server, tls.as_ref())
                    .await
                    .map(TokioIo::new)
                    .map_err(DialError)
            }
        });
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| connect_error_text(&e))?;
        let mut client = HealthClient::new(channel);
        let response = client
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .map_err(|s| {
                format!(
                    "rpc error: code = {} desc = {}",
                    code_name(s.code()),
                    s.message()
                )
            })?;
        let status = response.into_inner().status;
        if status != ServingStatus::Serving as i32 {
            let name = ServingStatus::try_from(status)
                .map(|s| s.as_str_name().to_owned())
                .unwrap_or_else(|_| status.to_string());
            return Err(format!("gRPC {} serving status: {name}", self.target));
        }
        Ok(())
    }
}

/// Go's text for a connection that could not be made.
fn connect_error_text(err: &tonic::transport::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(d) = e.downcast_ref::<DialError>() {
            return format!(
                "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: {}\"",
                d.0
            );
        }
        source = e.source();
    }
    format!("rpc error: code = Unavailable desc = {err}")
}

impl Probe for GrpcProbe {
    async fn run(&self) -> Outcome {
        match tokio::time::timeout(self.timeout, self.check()).await {
            Ok(Ok(())) => Outcome::passing(format!("gRPC check {}: success", self.target)),
            Ok(Err(e)) => Outcome::critical(e),
            Err(_) => Outcome::critical(
                "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            ),
        }
    }
}
