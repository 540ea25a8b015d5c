//! The HTTP server: the router plus Consul's cross-cutting behaviour (path cleaning, gzip,
//! default headers), served on an injected listener.

use crate::backend::{AgentApi, ConsensusApi};
use crate::config::HttpConfig;
use crate::error::ServeError;
use crate::routes::{self, AppState};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode, Uri, Version};
use axum::Router;
use http_body_util::BodyExt;
use std::future::Future;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::compression::predicate::Predicate;
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The Consul-compatible HTTP API of one agent.
///
/// ```no_run
/// # async fn run(consensus: std::sync::Arc<dyn cairn_http::ConsensusApi>,
/// #              agent: std::sync::Arc<dyn cairn_http::AgentApi>) -> Result<(), Box<dyn std::error::Error>> {
/// let server = cairn_http::HttpServer::new(cairn_http::HttpConfig::default(), consensus, agent);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8500").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let task = tokio::spawn(server.serve(listener, async { let _ = stopped.await; }));
/// // … later:
/// let _ = stop.send(());
/// task.await??;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpServer {
    app: Router,
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

/// An in-process request (for tests and embedding): no sockets involved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method (`GET`, `PUT`, …).
    pub method: String,
    /// Path and query (`/v1/kv/a?recurse`).
    pub uri: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A request without headers.
    pub fn new(method: &str, uri: &str, body: impl Into<Vec<u8>>) -> ApiRequest {
        ApiRequest {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> ApiRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// The answer to an [`ApiRequest`], body fully read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes (still compressed if the request asked for gzip).
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Compress everything gzip-capable clients accept (Consul's `gziphandler` with `MinSize(0)`),
/// except empty bodies and log streams.
#[derive(Clone, Copy)]
struct ConsulCompression;

impl Predicate for ConsulCompression {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        response
            .extensions()
            .get::<routes::NoCompression>()
            .is_none()
            && response.body().size_hint().exact() != Some(0)
    }
}

/// Collapse repeated slashes (`/v1/kv//app` → `/v1/kv/app`), as Go's mux cleans paths.
fn clean_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !path.contains("//") {
        return req;
    }
    let mut cleaned = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && cleaned.ends_with('/') {
            continue;
        }
        cleaned.push(c);
    }
    if let Some(q) = req.uri().query() {
        cleaned.push('?');
        cleaned.push_str(q);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = cleaned.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

impl HttpServer {
    /// Build the API over the agent's backends.
    pub fn new(
        config: HttpConfig,
        consensus: Arc<dyn ConsensusApi>,
        agent: Arc<dyn AgentApi>,
    ) -> HttpServer {
        let mut extra: Vec<(HeaderName, HeaderValue)> = Vec::new();
        for (k, v) in &config.response_headers {
            match (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                (Ok(k), Ok(v)) => extra.push((k, v)),
                _ => {
                    tracing::warn!(header = %k, "ignoring invalid http_config.response_headers entry")
                }
            }
        }
        let policy = HeaderValue::try_from(config.acl_default_policy.as_str())
            .unwrap_or(HeaderValue::from_static("allow"));
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let state = AppState {
            consensus,
            agent,
            config: Arc::new(config),
            stopping: stopping_rx,
        };
        let app = routes::router(state)
            .layer(axum::middleware::map_response(
                move |mut resp: axum::response::Response| {
                    let policy = policy.clone();
                    let extra = extra.clone();
                    async move {
                        let h = resp.headers_mut();
                        h.insert("X-Consul-Default-ACL-Policy", policy);
                        for (k, v) in extra {
                            h.insert(k, v);
                        }
                        resp
                    }
                },
            ))
            .layer(
                // Fastest level: API answers are small and CPU matters more than bytes here.
                CompressionLayer::new()
                    .gzip(true)
                    .quality(CompressionLevel::Fastest)
                    .compress_when(ConsulCompression),
            );
        HttpServer {
            app,
            stopping: Arc::new(stopping),
        }
    }

    /// Serve on `listener` until `shutdown` resolves, then stop accepting, answer blocking
    /// queries at once with their current result, and return when in-flight requests are
    /// done. (Clones share the shutdown: one stopping ends blocking waits in all.)
    pub async fn serve<F>(
        self,
        listener: tokio::net::TcpListener,
        shutdown: F,
    ) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().ok();
        tracing::info!(?addr, "http api listening");
        self.serve_on(listener, shutdown).await?;
        tracing::info!(?addr, "http api stopped");
        Ok(())
    }

    /// [`HttpServer::serve`] on a Unix socket (`addresses.http = "unix:///…"`).
    #[cfg(unix)]
    pub async fn serve_unix<F>(
        self,
        listener: tokio::net::UnixListener,
        shutdown: F,
    ) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::info!("http api listening on a unix socket");
        self.serve_on(listener, shutdown).await
    }

    async fn serve_on<L, F>(self, listener: L, shutdown: F) -> Result<(), ServeError>
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
        F: Future<Output = ()> + Send + 'static,
    {
        let app = self.app.map_request(clean_path);
        let stopping = self.stopping.clone();
        let signal = async move {
            shutdown.await;
            // Blocking queries answer now instead of holding the shutdown for minutes.
            stopping.send_replace(true);
        };
        axum::serve(
            listener,
            axum::ServiceExt::<Request>::into_make_service(app),
        )
        .with_graceful_shutdown(signal)
        .await?;
        Ok(())
    }

    /// Handle one request in-process (no socket), reading the whole answer.
    pub async fn send(&self, req: ApiRequest) -> ApiResponse {
        let mut builder = axum::http::Request::builder()
            .method(req.method.as_str())
            .uri(req.uri.as_str())
            .version(Version::HTTP_11);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !req.body.is_empty() {
            builder = builder.header("content-length", req.body.len().to_string());
        }
        let request = match builder.body(Body::from(req.body)) {
            Ok(r) => clean_path(r),
            Err(e) => {
                return ApiResponse {
                    status: StatusCode::BAD_REQUEST.as_u16(),
                    headers: Vec::new(),
                    body: e.to_string().into_bytes(),
                }
            }
        };
        let resp = match self.app.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(e) => e.to_string().into_bytes(),
        };
        ApiResponse {
            status,
            headers,
            body,
        }
    }
}
