//! The client handle and its request plumbing: URL building, query options, headers, status
//! mapping and query metadata.

use crate::config::{base_url, Config};
use crate::error::{Error, Result};
use cairn_types::duration::format_go_duration;
use cairn_types::{Consistency, QueryMeta, QueryOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// A handle on one agent's HTTP API. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: String,
    token: String,
    datacenter: String,
}

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Method {
    /// Go's spelling in transport errors (`Get "http://…": …`).
    fn go_name(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Put => "Put",
            Method::Post => "Post",
            Method::Delete => "Delete",
        }
    }

    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One request being built.
#[derive(Debug)]
pub(crate) struct Request {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    token: Option<String>,
    datacenter: Option<String>,
}

impl Request {
    /// A request for `path`, which must already be escaped (see [`escape_path`]).
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            params: Vec::new(),
            body: None,
            content_type: None,
            token: None,
            datacenter: None,
        }
    }

    /// Add `?name=value`.
    pub(crate) fn param(mut self, name: &str, value: impl ToString) -> Request {
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Add `?name=` (a flag parameter, true by presence).
    pub(crate) fn flag(self, name: &str) -> Request {
        self.param(name, "")
    }

    /// Add `?name=` when `on`.
    pub(crate) fn flag_if(self, name: &str, on: bool) -> Request {
        if on {
            self.flag(name)
        } else {
            self
        }
    }

    /// Add `?name=value` when `value` is not empty.
    pub(crate) fn param_nonempty(self, name: &str, value: &str) -> Request {
        if value.is_empty() {
            self
        } else {
            self.param(name, value)
        }
    }

    /// Raw body bytes.
    pub(crate) fn body(mut self, bytes: Vec<u8>, content_type: &'static str) -> Request {
        self.body = Some(bytes);
        self.content_type = Some(content_type);
        self
    }

    /// JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Request> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::Decode(format!("cannot encode request: {e}")))?;
        Ok(self.body(bytes, "application/json"))
    }

    /// Apply read options: datacenter, token, blocking (`index`, `wait`), consistency,
    /// `filter`, `near`.
    pub(crate) fn query(mut self, opts: &QueryOptions) -> Request {
        if !opts.datacenter.is_empty() {
            self.datacenter = Some(opts.datacenter.clone());
        }
        if !opts.token.is_empty() {
            self.token = Some(opts.token.clone());
        }
        if opts.min_query_index > 0 {
            self = self.param("index", opts.min_query_index);
        }
        if let Some(wait) = opts.max_query_time {
            self = self.param("wait", wait_param(wait));
        }
        match opts.consistency {
            Consistency::Default => {}
            Consistency::Stale => self = self.flag("stale"),
            Consistency::Consistent => self = self.flag("consistent"),
        }
        if let Some(max_stale) = opts.max_stale {
            self = self.param("max_stale", format_go_duration(max_stale));
        }
        let filter = opts.filter.clone();
        let near = opts.near.clone();
        self.param_nonempty("filter", &filter)
            .param_nonempty("near", &near)
    }

    /// `?node-meta=k:v` for each pair (Consul ANDs them).
    pub(crate) fn node_meta<'a>(
        mut self,
        meta: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Request {
        for (k, v) in meta {
            self = self.param("node-meta", format!("{k}:{v}"));
        }
        self
    }
}

/// A `wait` value as Consul's Go client sends it: whole milliseconds (`"1500ms"`), so any
/// duration round-trips.
fn wait_param(wait: Duration) -> String {
    format!("{}ms", wait.as_millis())
}

/// An answer with any status, body read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) meta: QueryMeta,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// Fail with [`Error::Status`] unless the status is 2xx.
    pub(crate) fn ok(self) -> Result<Response> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    /// The error this answer stands for.
    pub(crate) fn into_error(self) -> Error {
        Error::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body).trim().to_string(),
        }
    }

    /// Decode the JSON body; an empty body or `null` decodes as `T::default()`, as Go leaves
    /// nil slices and maps.
    pub(crate) fn decode<T: DeserializeOwned + Default>(&self) -> Result<T> {
        let text = self.body.as_slice();
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        let value: Option<T> =
            serde_json::from_slice(text).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(value.unwrap_or_default())
    }

    /// Decode a JSON `true`/`false` write result.
    pub(crate) fn decode_bool(&self) -> Result<bool> {
        let text = String::from_utf8_lossy(&self.body);
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(Error::Decode(format!(
                "expected true or false, got {:?}",
                truncate(other, 80)
            ))),
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl Client {
    /// A client for the agent in `config`. Fails on an unusable address or token file; does
    /// not contact the agent.
    pub fn new(config: Config) -> Result<Client> {
        let base = base_url(&config.address)?;
        let token = config.resolve_token()?;
        // Another crate in the same build (the agent's HTTPS health checks) may compile
        // reqwest with `rustls-no-provider`; reqwest then refuses to build any client unless a
        // process-wide crypto provider exists. Install ring's if none is (a no-op otherwise).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                token,
                datacenter: config.datacenter,
            }),
        })
    }

    /// A client for [`Config::from_env`].
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env())
    }

    /// The base URL requests go to (`http://127.0.0.1:8500`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The configured default datacenter (empty: the agent's).
    pub fn datacenter(&self) -> &str {
        &self.inner.datacenter
    }

    /// The token sent when a request sets none (empty: none).
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// Send a request and read the whole answer, whatever its status.
    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        let mut params = req.params;
        let dc = req
            .datacenter
            .unwrap_or_else(|| self.inner.datacenter.clone());
        if !dc.is_empty() {
            params.insert(0, ("dc".to_string(), dc));
        }
        let mut url = format!("{}{}", self.inner.base, req.path);
        if !params.is_empty() {
            url.push('?');
            let encoded: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", escape_query(k), escape_query(v)))
                .collect();
            url.push_str(&encoded.join("&"));
        }
        let token = req.token.unwrap_or_else(|| self.inner.token.clone());
        tracing::debug!(method = req.method.go_name(), %url, "cairn-client request");
        let mut builder = self.inner.http.request(req.method.to_reqwest(), &url);
        if !token.is_empty() {
            builder = builder.header("X-Consul-Token", token);
        }
        if let Some(ct) = req.content_type {
            builder = builder.header("Content-Type", ct);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let transport = |e: reqwest::Error| Error::Transport {
            method: req.method.go_name(),
            url: url.clone(),
            reason: transport_reason(&e, &self.inner.base),
        };
        let resp = builder.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let meta = parse_meta(resp.headers());
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        Ok(Response { status, meta, body })
    }

    /// Send and require a 2xx answer.
    pub(crate) async fn send_ok(&self, req: Request) -> Result<Response> {
        self.send(req).await?.ok()
    }

    /// Send, require 2xx, decode JSON.
    pub(crate) async fn get_json<T: DeserializeOwned + Default>(
        &self,
        req: Request,
    ) -> Result<(T, QueryMeta)> {
        let resp = self.send_ok(req).await?;
        Ok((resp.decode()?, resp.meta))
    }

    /// Send, treat 404 as `None`, otherwise require 2xx and decode.
    pub(crate) async fn get_json_opt<T: DeserializeOwned + Default>(
        &self,
        req: Request,
    ) -> Result<(Option<T>, QueryMeta)> {
        let resp = self.send(req).await?;
        if resp.status == 404 {
            return Ok((None, resp.meta));
        }
        let resp = resp.ok()?;
        Ok((Some(resp.decode()?), resp.meta))
    }
}

/// Describe a transport failure the way Go's net package does where it can
/// (`dial tcp 127.0.0.1:8500: connect: connection refused`).
fn transport_reason(err: &reqwest::Error, base: &str) -> String {
    let io = find_io_error(err);
    if err.is_connect() {
        let host = base.trim_start_matches("http://");
        let cause = match io {
            Some(e) => io_kind_text(e),
            None => root_cause(err),
        };
        return format!("dial tcp {host}: connect: {cause}");
    }
    if err.is_timeout() {
        return "timeout awaiting response".to_string();
    }
    match io {
        Some(e) => io_kind_text(e),
        None => root_cause(err),
    }
}

fn find_io_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

fn io_kind_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset by peer".into(),
        ErrorKind::TimedOut => "i/o timeout".into(),
        _ => e.to_string(),
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        last = e.to_string();
        current = e.source();
    }
    last
}

/// Read `X-Consul-Index`, `X-Consul-KnownLeader`, `X-Consul-LastContact` and
/// `X-Consul-Effective-Consistency`. Missing or malformed headers leave defaults.
fn parse_meta(headers: &reqwest::header::HeaderMap) -> QueryMeta {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    QueryMeta {
        index: get("X-Consul-Index")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        known_leader: get("X-Consul-KnownLeader").is_some_and(|v| v.trim() == "true"),
        last_contact: get("X-Consul-LastContact")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or_default(),
        consistency: match get("X-Consul-Effective-Consistency") {
            Some("stale") => Consistency::Stale,
            Some("consistent") => Consistency::Consistent,
            _ => Consistency::Default,
        },
    }
}

/// Percent-encode a path, keeping `/` and the characters Go's URL path encoder keeps.
pub(crate) fn escape_path(path: &str) -> String {
    escape(path, |b| {
        b.is_ascii_alphanumeric() || b"-._~/$&+,:;=@".contains(&b)
    })
}

/// Percent-encode one path segment (an ID or name that must not add path levels).
pub(crate) fn escape_segment(segment: &str) -> String {
    escape(segment, |b| {
        b.is_ascii_alphanumeric() || b"-._~$&+,:;=@".contains(&b)
    })
}

/// Percent-encode a query key or value.
fn escape_query(text: &str) -> String {
    escape(text, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn escape(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_path("a/b c?d#e%"), "a/b%20c%3Fd%23e%25");
        assert_eq!(escape_segment("a/b"), "a%2Fb");
        assert_eq!(escape_query("k:v w&x"), "k%3Av%20w%26x");
        assert_eq!(escape_path("ünï"), "%C3%BCn%C3%AF");
    }

    #[test]
    fn wait_is_sent_in_milliseconds() {
        assert_eq!(wait_param(Duration::from_secs(5)), "5000ms");
        assert_eq!(wait_param(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn decode_empty_and_null_as_default() {
        let r = |body: &str| Response {
            status: 200,
            meta: QueryMeta::default(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(r("").decode::<Vec<String>>().unwrap(), Vec::<String>::new());
        assert_eq!(
            r("null").decode::<Vec<String>>().unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(r("[\"a\"]").decode::<Vec<String>>().unwrap(), vec!["a"]);
        assert!(r("{").decode::<Vec<String>>().is_err());
        assert!(r("true\n").decode_bool().unwrap());
        assert!(r("maybe").decode_bool().is_err());
    }

    #[test]
    fn status_error_text_matches_go_client() {
        let resp = Response {
            status: 500,
            meta: QueryMeta::default(),
            body: b"No cluster leader\n".to_vec(),
        };
        assert_eq!(
            resp.into_error().to_string(),
            "Unexpected response code: 500 (No cluster leader)"
        );
    }
}
