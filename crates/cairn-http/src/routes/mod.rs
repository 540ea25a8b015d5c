//! The `/v1` route table and the wrapper every endpoint runs in.
//!
//! Like Consul's `registerEndpoint`, each endpoint declares its methods: `OPTIONS` answers 200
//! with `Allow: OPTIONS,<methods>`, any other method answers 405 `method X not allowed` with
//! that `Allow` header. Prefix endpoints (`/v1/kv/`, `/v1/catalog/service/`, …) receive the
//! rest of the path, percent-decoded, as Consul's handlers `TrimPrefix` it.

mod agent;
mod agent_checks;
mod agent_health;
mod agent_services;
mod catalog;
mod coordinate;
mod event;
mod health;
mod kv;
mod metrics;
mod operator;
mod session;
mod snapshot;
mod status;
mod txn;

pub(crate) use metrics::NoCompression;

use crate::backend::{AgentApi, ConsensusApi, WriteOptions};
use crate::call::Call;
use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::params::{self, Params};
use crate::respond;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{any, MethodRouter};
use axum::Router;
use bytes::Bytes;
use cairn_catalog::{ApplyResult, Command, Query, QueryResult};
use cairn_types::{QueryMeta, QueryOptions};
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What every handler gets: the two backends and the configuration.
#[derive(Clone)]
pub(crate) struct AppState {
    pub consensus: Arc<dyn ConsensusApi>,
    pub agent: Arc<dyn AgentApi>,
    pub config: Arc<HttpConfig>,
    /// Becomes `true` when the server starts shutting down: blocking waits end early.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    /// Resolves once the server is shutting down (never, if it is not).
    pub async fn stopping(&self) {
        let mut rx = self.stopping.clone();
        if rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Run a read through the consensus backend. A blocking read still waiting when the
    /// server shuts down is answered at once with the current state, so shutdown never waits
    /// for a 10-minute blocking query.
    pub async fn read(
        &self,
        query: Query,
        opts: QueryOptions,
    ) -> Result<(QueryResult, QueryMeta), ApiError> {
        if opts.min_query_index == 0 {
            return self.consensus.query(query, opts).await;
        }
        tokio::select! {
            answer = self.consensus.query(query.clone(), opts.clone()) => answer,
            _ = self.stopping() => {
                let now = QueryOptions { min_query_index: 0, ..opts };
                self.consensus.query(query, now).await
            }
        }
    }

    /// Apply a write; a rejected command is HTTP 500 with its text.
    pub async fn apply(&self, cmd: Command, opts: WriteOptions) -> Result<ApplyResult, ApiError> {
        match self.consensus.apply(cmd, opts).await? {
            ApplyResult::Error(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Apply a write answered with `true`/`false`.
    pub async fn apply_bool(&self, cmd: Command, opts: WriteOptions) -> Result<bool, ApiError> {
        match self.apply(cmd, opts).await? {
            ApplyResult::Bool(b) => Ok(b),
            ApplyResult::Ok => Ok(true),
            other => Err(unexpected(&other)),
        }
    }
}

/// A backend answered with the wrong shape for the request: a bug, answered as HTTP 500.
pub(crate) fn unexpected(what: &impl std::fmt::Debug) -> ApiError {
    let text = format!("{what:?}");
    let short: String = text.chars().take(80).collect();
    tracing::error!(answer = %short, "backend returned an unexpected answer");
    ApiError::internal(format!("unexpected backend answer: {short}"))
}

/// Wall-clock milliseconds since the Unix epoch, stamped into commands (lock-delays).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A fresh session or event ID: a random UUID in Consul's text form.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The allowed methods of an endpoint, as `Allow` lists them (`OPTIONS` first).
fn allow_value(methods: &[Method]) -> String {
    std::iter::once("OPTIONS")
        .chain(methods.iter().map(Method::as_str))
        .collect::<Vec<_>>()
        .join(",")
}

/// Wrap a handler with Consul's method rules, body reading and error rendering. `prefix` is
/// stripped from the path to give [`Call::rest`].
pub(crate) fn endpoint<F, Fut>(
    prefix: &'static str,
    methods: &'static [Method],
    handler: F,
) -> MethodRouter<AppState>
where
    F: Fn(AppState, Call) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    any(move |State(st): State<AppState>, req: Request| {
        let handler = handler.clone();
        async move { dispatch(st, req, prefix, methods, handler).await }
    })
}

async fn dispatch<F, Fut>(
    st: AppState,
    req: Request,
    prefix: &'static str,
    methods: &'static [Method],
    handler: F,
) -> Response
where
    F: Fn(AppState, Call) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let method = req.method().clone();
    let path = req.uri().path();
    if st
        .config
        .block_endpoints
        .iter()
        .any(|b| path.starts_with(b.as_str()))
    {
        return respond::text(
            StatusCode::FORBIDDEN,
            "Endpoint is blocked by agent configuration",
        );
    }
    if method == Method::OPTIONS {
        let mut resp = respond::empty(StatusCode::OK);
        if let Ok(v) = HeaderValue::from_str(&allow_value(methods)) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        return resp;
    }
    if !methods.contains(&method) {
        let mut resp = respond::text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} not allowed"),
        );
        if let Ok(v) = HeaderValue::from_str(&allow_value(methods)) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        return resp;
    }
    let (parts, body) = req.into_parts();
    let content_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Bodies over the limit are not read. KV and txn answer with their own 413 texts (which
    // quote the size); every other endpoint answers the generic one here.
    let limit = st.config.body_limit();
    let mut oversized = content_length.is_some_and(|n| n > limit as u64);
    let body = if oversized {
        Bytes::new()
    } else {
        match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                oversized = true;
                Bytes::new()
            }
        }
    };
    if oversized && !matches!(prefix, "/v1/kv/" | "/v1/txn") {
        return respond::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large, max size: {limit} bytes"),
        );
    }
    let path = parts.uri.path();
    let rest = params::unescape(path.strip_prefix(prefix).unwrap_or(""), false);
    let params = Params::parse(parts.uri.query().unwrap_or(""));
    let pretty = st.config.pretty_by_default || params.has("pretty");
    let call = Call {
        method,
        rest,
        params,
        headers: parts.headers,
        body,
        content_length,
        oversized,
        pretty,
    };
    tracing::debug!(method = %call.method, path = prefix, "http request");
    match handler(st, call).await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status() >= 500 {
                tracing::warn!(path = prefix, error = %e, "request failed");
            }
            respond::error(&e)
        }
    }
}

/// Register an exact path.
pub(crate) fn exact<F, Fut>(
    r: Router<AppState>,
    path: &'static str,
    methods: &'static [Method],
    handler: F,
) -> Router<AppState>
where
    F: Fn(AppState, Call) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    r.route(path, endpoint(path, methods, handler))
}

/// Register a prefix (`/v1/kv/`): the prefix itself and everything below it.
pub(crate) fn prefix<F, Fut>(
    r: Router<AppState>,
    path: &'static str,
    methods: &'static [Method],
    handler: F,
) -> Router<AppState>
where
    F: Fn(AppState, Call) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    let ep = endpoint(path, methods, handler);
    r.route(path, ep.clone())
        .route(&format!("{path}{{*rest}}"), ep)
}

pub(crate) const GET: &[Method] = &[Method::GET];
pub(crate) const PUT: &[Method] = &[Method::PUT];
pub(crate) const POST: &[Method] = &[Method::POST];
pub(crate) const DELETE: &[Method] = &[Method::DELETE];
pub(crate) const GET_PUT_DELETE: &[Method] = &[Method::GET, Method::PUT, Method::DELETE];

/// `GET /`: Consul's answer without a UI.
async fn index() -> Response {
    respond::text(StatusCode::OK, "Consul Agent")
}

/// Unknown paths: 404 with an empty body.
async fn not_found() -> Response {
    respond::empty(StatusCode::NOT_FOUND)
}

/// Every `/v1` route.
pub(crate) fn router(state: AppState) -> Router {
    let r = Router::new().route("/", axum::routing::get(index));
    let r = kv::routes(r);
    let r = txn::routes(r);
    let r = session::routes(r);
    let r = status::routes(r);
    let r = catalog::routes(r);
    let r = health::routes(r);
    let r = coordinate::routes(r);
    let r = event::routes(r);
    let r = operator::routes(r);
    let r = snapshot::routes(r);
    let r = agent::routes(r);
    let r = agent_services::routes(r);
    let r = agent_checks::routes(r);
    let r = agent_health::routes(r);
    let r = metrics::routes(r);
    r.fallback(not_found).with_state(state)
}
