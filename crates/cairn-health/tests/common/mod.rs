//! Test helpers: a scriptable loopback HTTP server and event helpers.
#![allow(dead_code)]

use cairn_health::{CheckEvent, CheckEvents, CheckUpdate, ReapService};
use cairn_types::duration::GoDuration;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the test HTTP server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, reason: &str, body: &str) -> Self {
        Reply {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server whose answer can be changed while checks run. Answers per path
/// can be set; other paths get the default reply.
#[derive(Clone)]
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    replies: Arc<Mutex<Vec<(String, Reply)>>>,
    default: Arc<Mutex<Reply>>,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl TestServer {
    pub async fn start(default: Reply) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = TestServer {
            addr: listener.local_addr().expect("addr"),
            replies: Arc::new(Mutex::new(Vec::new())),
            default: Arc::new(Mutex::new(default)),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut conn).await else {
                        return;
                    };
                    let reply = s.reply_for(&req.path);
                    s.seen.lock().unwrap().push(req);
                    if !reply.delay.is_zero() {
                        tokio::time::sleep(reply.delay).await;
                    }
                    let mut head = format!(
                        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.reason,
                        reply.body.len()
                    );
                    for (n, v) in &reply.headers {
                        head.push_str(&format!("{n}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(&reply.body).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        server
    }

    fn reply_for(&self, path: &str) -> Reply {
        let replies = self.replies.lock().unwrap();
        replies
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| self.default.lock().unwrap().clone())
    }

    pub fn set(&self, reply: Reply) {
        *self.default.lock().unwrap() = reply;
    }

    pub fn set_path(&self, path: &str, reply: Reply) {
        let mut replies = self.replies.lock().unwrap();
        replies.retain(|(p, _)| p != path);
        replies.push((path.to_owned(), reply));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<SeenRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(SeenRequest {
        method,
        path,
        headers,
        body,
    })
}

/// Next status update, skipping reap events; panics after `within`.
pub async fn next_update(events: &mut CheckEvents, within: Duration) -> CheckUpdate {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(CheckEvent::Update(u))) => return u,
            Ok(Some(CheckEvent::Reap(_))) => continue,
            Ok(None) => panic!("event stream closed"),
            Err(_) => panic!("no check update within {within:?}"),
        }
    }
}

/// Next update of `check_id`, skipping others.
pub async fn next_update_of(
    events: &mut CheckEvents,
    check_id: &str,
    within: Duration,
) -> CheckUpdate {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let u = next_update(events, left).await;
        if u.check_id == check_id {
            return u;
        }
    }
}

/// Next reap event; panics after `within`.
pub async fn next_reap(events: &mut CheckEvents, within: Duration) -> ReapService {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(CheckEvent::Reap(r))) => return r,
            Ok(Some(CheckEvent::Update(_))) => continue,
            Ok(None) => panic!("event stream closed"),
            Err(_) => panic!("no reap within {within:?}"),
        }
    }
}

/// Asserts that no event arrives within `within`.
pub async fn assert_quiet(events: &mut CheckEvents, within: Duration) {
    if let Ok(Some(e)) = tokio::time::timeout(within, events.recv()).await {
        panic!("unexpected event {e:?}");
    }
}

pub fn secs(s: u64) -> GoDuration {
    GoDuration(Duration::from_secs(s))
}

pub fn millis(ms: u64) -> GoDuration {
    GoDuration(Duration::from_millis(ms))
}
