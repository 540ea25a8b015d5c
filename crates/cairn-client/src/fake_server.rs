//! A tiny in-process HTTP/1.1 server answering canned responses and recording every request,
//! for tests of code built on this client. Enabled by the `fake-server` feature.
//!
//! It runs on its own thread and runtime, so it works from synchronous and asynchronous tests
//! alike, binds `127.0.0.1:0`, answers each connection once and closes it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Largest request head or body accepted.
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method (`GET`, `PUT`, …).
    pub method: String,
    /// Path, percent-decoded.
    pub path: String,
    /// Path as sent (still percent-encoded).
    pub raw_path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First query parameter with this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedResponse {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering (to imitate a blocking query).
    pub delay: Duration,
}

impl CannedResponse {
    /// A JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> CannedResponse {
        CannedResponse {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// A plain-text body (Consul's error bodies).
    pub fn text(status: u16, body: impl Into<String>) -> CannedResponse {
        CannedResponse {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// Add `X-Consul-Index`.
    pub fn with_index(self, index: u64) -> CannedResponse {
        self.with_header("X-Consul-Index", &index.to_string())
    }

    /// Add a header.
    pub fn with_header(mut self, name: &str, value: &str) -> CannedResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Answer after `delay`.
    pub fn with_delay(mut self, delay: Duration) -> CannedResponse {
        self.delay = delay;
        self
    }
}

type Handler = Box<dyn Fn(&RecordedRequest) -> CannedResponse + Send + Sync>;

enum Responder {
    /// Answers in order; the last one repeats.
    Queue(VecDeque<CannedResponse>),
    Handler(Handler),
}

struct Route {
    method: String,
    path: String,
    prefix: bool,
    responder: Responder,
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<RecordedRequest>,
}

/// The fake agent. Dropping it stops the server.
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not hide the other tests' results.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeServer {
    /// Start on `127.0.0.1` with an ephemeral port. Unrouted requests get 404 with an empty
    /// body, as Consul answers a missing key.
    pub fn start() -> std::io::Result<FakeServer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread_state = state.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("cairn-fake-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(_) => return,
                    };
                    serve(listener, thread_state, stop_rx).await;
                })
            })?;
        Ok(FakeServer {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer `method path` (decoded path, no query) with these responses in order; the last
    /// one repeats. A later route for the same method and path replaces the earlier one.
    pub fn route(&self, method: &str, path: &str, responses: Vec<CannedResponse>) {
        self.add(method, path, Responder::Queue(responses.into()));
    }

    /// Answer `method path` by calling `handler`.
    pub fn route_fn(
        &self,
        method: &str,
        path: &str,
        handler: impl Fn(&RecordedRequest) -> CannedResponse + Send + Sync + 'static,
    ) {
        self.add(method, path, Responder::Handler(Box::new(handler)));
    }

    /// Answer every `method` request whose path starts with `prefix` by calling `handler`
    /// (exact routes win; among prefixes, the longest).
    pub fn route_prefix_fn(
        &self,
        method: &str,
        prefix: &str,
        handler: impl Fn(&RecordedRequest) -> CannedResponse + Send + Sync + 'static,
    ) {
        self.add_route(method, prefix, true, Responder::Handler(Box::new(handler)));
    }

    fn add(&self, method: &str, path: &str, responder: Responder) {
        self.add_route(method, path, false, responder);
    }

    fn add_route(&self, method: &str, path: &str, prefix: bool, responder: Responder) {
        let mut state = lock(&self.state);
        state
            .routes
            .retain(|r| !(r.method == method && r.path == path && r.prefix == prefix));
        state.routes.push(Route {
            method: method.to_string(),
            path: path.to_string(),
            prefix,
            responder,
        });
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Requests received for one path.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _ = handle(stream, state).await;
                    });
                }
            }
        }
    }
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let response = {
        let mut state = lock(&state);
        state.requests.push(request.clone());
        respond(&mut state, &request)
    };
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.shutdown().await
}

fn respond(state: &mut State, request: &RecordedRequest) -> CannedResponse {
    let exact = state
        .routes
        .iter()
        .position(|r| !r.prefix && r.method == request.method && r.path == request.path);
    let chosen = exact.or_else(|| {
        state
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.prefix && r.method == request.method && request.path.starts_with(&r.path)
            })
            .max_by_key(|(_, r)| r.path.len())
            .map(|(i, _)| i)
    });
    let route = chosen.and_then(|i| state.routes.get_mut(i));
    match route {
        None => CannedResponse::text(404, ""),
        Some(route) => match &mut route.responder {
            Responder::Handler(h) => h(request),
            Responder::Queue(queue) => {
                if queue.len() > 1 {
                    queue
                        .pop_front()
                        .unwrap_or_else(|| CannedResponse::text(500, "empty"))
                } else {
                    queue
                        .front()
                        .cloned()
                        .unwrap_or_else(|| CannedResponse::text(500, "no canned response"))
                }
            }
        },
    }
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<RecordedRequest>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > MAX_REQUEST_BYTES {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST_BYTES);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let (raw_path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k, true), decode(v, true)),
            None => (decode(pair, true), String::new()),
        })
        .collect();
    Ok(Some(RecordedRequest {
        method,
        path: decode(&raw_path, false),
        raw_path,
        query,
        headers,
        body,
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
