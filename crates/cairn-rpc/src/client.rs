//! Request forwarding, client side: [`RpcClient`].

use crate::error::RpcError;
use crate::forward::{self, QueryReply, ServerStatus};
use crate::net;
use crate::pb;
use crate::pb::forward_client::ForwardClient;
use cairn_types::QueryOptions;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::Status;

/// How an [`RpcClient`] behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long connecting to a server may take.
    pub connect_timeout: Duration,
    /// How long one call may take, connecting included. Blocking queries get their wait time
    /// on top.
    pub request_timeout: Duration,
    /// Largest message sent or accepted.
    pub max_message_size: usize,
    /// Source address of outgoing connections (`None`: the OS picks).
    pub local_address: Option<std::net::IpAddr>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_message_size: crate::DEFAULT_MAX_MESSAGE_SIZE,
            local_address: None,
        }
    }
}

/// Consul's upper bound on a blocking query's wait, and its default.
const MAX_QUERY_TIME: Duration = Duration::from_secs(600);
const DEFAULT_QUERY_TIME: Duration = Duration::from_secs(300);

struct Inner {
    cfg: ClientConfig,
    pool: Mutex<HashMap<String, Channel>>,
}

/// Calls the forwarding service of Cairn servers. Cheap to clone: clones share one pool of
/// connections, one per server address (HTTP/2 multiplexes concurrent calls on it).
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

impl Default for RpcClient {
    fn default() -> Self {
        RpcClient::new(ClientConfig::default())
    }
}

impl RpcClient {
    /// A client with no connections yet.
    pub fn new(cfg: ClientConfig) -> Self {
        RpcClient {
            inner: Arc::new(Inner {
                cfg,
                pool: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// Apply an encoded write on the server at `addr`; its encoded result.
    pub async fn apply(&self, addr: &str, command: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let timeout = self.inner.cfg.request_timeout;
        let reply = self
            .call(addr, timeout, |mut c, t| async move {
                let mut req = tonic::Request::new(pb::ApplyRequest {
                    command: command.into(),
                });
                req.set_timeout(t);
                c.apply(req).await
            })
            .await?;
        Ok(Vec::from(reply.result))
    }

    /// Run an encoded read on the server at `addr`. A blocking query (non-zero
    /// `min_query_index`) may take its wait time on top of the request timeout.
    pub async fn query(
        &self,
        addr: &str,
        query: Vec<u8>,
        options: &QueryOptions,
    ) -> Result<QueryReply, RpcError> {
        let blocking = options.min_query_index > 0;
        let wait = match options.max_query_time {
            Some(w) if blocking => w.min(MAX_QUERY_TIME),
            None if blocking => DEFAULT_QUERY_TIME,
            _ => Duration::ZERO,
        };
        // Consul adds up to wait/16 of jitter on the server side.
        let timeout = self.inner.cfg.request_timeout + wait + wait / 16;
        let options = forward::options_to_pb(options);
        let reply = self
            .call(addr, timeout, |mut c, t| async move {
                let mut req = tonic::Request::new(pb::QueryRequest {
                    query: query.into(),
                    options: Some(options),
                });
                req.set_timeout(t);
                c.query(req).await
            })
            .await?;
        Ok(QueryReply {
            result: Vec::from(reply.result),
            meta: forward::meta_from_pb(reply.meta.unwrap_or_default()),
        })
    }

    /// Ask the server at `addr` who it is and who leads.
    pub async fn status(&self, addr: &str) -> Result<ServerStatus, RpcError> {
        let timeout = self.inner.cfg.request_timeout;
        let reply = self
            .call(addr, timeout, |mut c, t| async move {
                let mut req = tonic::Request::new(pb::StatusRequest {});
                req.set_timeout(t);
                c.status(req).await
            })
            .await?;
        Ok(forward::status_from_pb(reply))
    }

    /// Drop the pooled connection to `addr` (it is re-made on the next call).
    pub fn disconnect(&self, addr: &str) {
        self.inner.pool.lock().remove(addr);
    }

    /// One call within `timeout`, connecting first if needed. The closure gets a client and
    /// the time left, for the request's `grpc-timeout`.
    async fn call<T, F, Fut>(&self, addr: &str, timeout: Duration, f: F) -> Result<T, RpcError>
    where
        F: FnOnce(ForwardClient<Channel>, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let deadline = Instant::now() + timeout;
        let channel = match tokio::time::timeout_at(deadline, self.channel(addr)).await {
            Ok(c) => c?,
            Err(_) => {
                return Err(RpcError::unavailable(format!(
                    "rpc error: failed to connect to {addr}: timed out after {timeout:?}"
                ))
                .never_sent())
            }
        };
        let max = self.inner.cfg.max_message_size;
        let client = ForwardClient::new(channel)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout_at(deadline, f(client, left)).await {
            Ok(Ok(reply)) => Ok(reply.into_inner()),
            Ok(Err(status)) => {
                let untagged = !RpcError::is_tagged(&status);
                // The request's own `grpc-timeout` fires at the deadline too, as `Cancelled`.
                if untagged && Instant::now() + Duration::from_millis(20) >= deadline {
                    return Err(timed_out(addr, timeout));
                }
                if untagged && RpcError::is_transport_failure(&status) {
                    self.disconnect(addr);
                }
                if RpcError::is_connect_failure(&status) {
                    return Err(RpcError::from_status(&status).never_sent());
                }
                Err(RpcError::from_status(&status))
            }
            Err(_) => Err(timed_out(addr, timeout)),
        }
    }

    async fn channel(&self, addr: &str) -> Result<Channel, RpcError> {
        if let Some(c) = self.inner.pool.lock().get(addr) {
            return Ok(c.clone());
        }
        let channel = net::connect(
            addr,
            self.inner.cfg.connect_timeout,
            self.inner.cfg.local_address,
        )
        .await
        .map_err(|e| RpcError::unavailable(format!("rpc error: {e}")).never_sent())?;
        tracing::debug!(addr, "rpc connection opened");
        let mut pool = self.inner.pool.lock();
        Ok(pool.entry(addr.to_string()).or_insert(channel).clone())
    }
}

fn timed_out(addr: &str, timeout: Duration) -> RpcError {
    RpcError::timeout(format!(
        "rpc error: request to {addr} timed out after {timeout:?}"
    ))
}
