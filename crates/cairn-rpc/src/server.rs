//! One gRPC server for both services: [`RpcServer`].

use crate::error::ServeError;
use crate::forward::{ForwardGrpc, ForwardHandler};
use crate::net;
use crate::pb;
use crate::raft_service::{RaftGrpc, RaftService};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

/// How long open calls may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The RPC server of a Cairn server agent: raft transport and request forwarding on one
/// listener.
///
/// ```no_run
/// # async fn demo(handler: impl cairn_rpc::ForwardHandler) -> Result<(), cairn_rpc::ServeError> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|_| todo!())?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// cairn_rpc::RpcServer::builder()
///     .raft(cairn_rpc::RaftService::new(1, |_msg| {}))
///     .forward(handler)
///     .serve(listener, async move { let _ = stopped.await; })
///     .await
/// # }
/// ```
pub struct RpcServer;

impl RpcServer {
    /// Start describing a server.
    pub fn builder() -> RpcServerBuilder {
        RpcServerBuilder {
            raft: None,
            forward: None,
            max_message_size: crate::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// Which services an [`RpcServer`] offers, and its limits.
pub struct RpcServerBuilder {
    raft: Option<RaftService>,
    forward: Option<Arc<dyn ForwardHandler>>,
    max_message_size: usize,
}

impl RpcServerBuilder {
    /// Accept raft traffic for `service`.
    pub fn raft(mut self, service: RaftService) -> Self {
        self.raft = Some(service);
        self
    }

    /// Answer forwarded requests with `handler`.
    pub fn forward(self, handler: impl ForwardHandler) -> Self {
        self.forward_shared(Arc::new(handler))
    }

    /// Answer forwarded requests with a shared `handler`.
    pub fn forward_shared(mut self, handler: Arc<dyn ForwardHandler>) -> Self {
        self.forward = Some(handler);
        self
    }

    /// Largest gRPC message accepted or sent (default 64 MiB; snapshot chunks and raft batches
    /// must fit).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Serve on `listener` until `shutdown` completes. Open raft streams and blocking queries
    /// are then ended; other calls get a few seconds to finish.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send,
    {
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let token = CancellationToken::new();
        let max = self.max_message_size;
        let raft = self.raft.map(|svc| {
            pb::raft_server::RaftServer::new(RaftGrpc {
                svc,
                shutdown: token.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max)
        });
        let forward = self.forward.map(|handler| {
            pb::forward_server::ForwardServer::new(ForwardGrpc {
                handler,
                shutdown: token.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max)
        });
        let router = Server::builder()
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .add_optional_service(raft)
            .add_optional_service(forward);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let signal_token = token.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!(addr = %local, "rpc server shutting down");
            signal_token.cancel();
        };
        let serve = router.serve_with_incoming_shutdown(incoming, signal);
        tokio::select! {
            r = serve => r.map_err(|e| ServeError(net::chain(&e))),
            _ = async { token.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("rpc server stopped with calls still open");
                Ok(())
            }
        }
    }
}
