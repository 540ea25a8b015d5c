//! Running real `cairn agent` processes on free loopback ports, and talking to them.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now (TCP and UDP).
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The ports of one agent.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub dns: u16,
    pub serf_lan: u16,
    pub serf_wan: u16,
    pub server: u16,
}

impl Ports {
    /// Consul's default ports (for agents on their own loopback address).
    pub fn defaults() -> Ports {
        Ports {
            http: 8500,
            dns: 8600,
            serf_lan: 8301,
            serf_wan: 8302,
            server: 8300,
        }
    }

    pub fn free() -> Ports {
        Ports {
            http: free_port(),
            dns: free_port(),
            serf_lan: free_port(),
            serf_wan: free_port(),
            server: free_port(),
        }
    }

    /// Every port in a config file, as test harnesses write them (`-1` = off).
    pub fn hcl(&self) -> String {
        format!(
            "ports {{\n  http = {}\n  dns = {}\n  serf_lan = {}\n  serf_wan = {}\n  server = {}\n  grpc = -1\n  https = -1\n}}\n",
            self.http, self.dns, self.serf_lan, self.serf_wan, self.server
        )
    }
}

/// A running `cairn agent`, killed when dropped.
pub struct AgentProcess {
    /// The address its HTTP API is reached at (`-client`).
    pub host: String,
    pub child: Child,
    pub ports: Ports,
    pub dir: PathBuf,
    pub log: PathBuf,
}

pub fn cairn_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cairn")
}

impl AgentProcess {
    /// Start `cairn agent <args>` with a ports file in `dir`; wait until it has a leader.
    pub fn start(dir: &Path, ports: Ports, args: &[&str]) -> AgentProcess {
        let agent = AgentProcess::spawn(dir, ports, args);
        agent.wait_for_leader(Duration::from_secs(20));
        agent
    }

    /// Start `cairn agent <args>` and wait only until its HTTP API answers (client agents,
    /// servers still waiting for peers).
    pub fn start_unled(dir: &Path, ports: Ports, args: &[&str]) -> AgentProcess {
        let agent = AgentProcess::spawn(dir, ports, args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(try_http(&agent.http_addr(), "GET", "/v1/agent/self", b""), Ok(r) if r.status == 200)
            {
                return agent;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("agent API did not answer; log:\n{}", agent.log_text());
    }

    /// Start `cairn agent <args>` with a ports file in `dir`, without waiting.
    pub fn spawn(dir: &Path, ports: Ports, args: &[&str]) -> AgentProcess {
        let ports_file = dir.join("ports.hcl");
        std::fs::write(&ports_file, ports.hcl()).expect("write ports");
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = dir.join(format!("agent-{n}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(cairn_bin());
        cmd.arg("agent")
            .args(args)
            .arg(format!("-config-file={}", ports_file.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd.spawn().expect("spawn cairn agent");
        let host = args
            .iter()
            .find_map(|a| a.strip_prefix("-client="))
            .filter(|h| *h != "0.0.0.0")
            .unwrap_or("127.0.0.1")
            .to_string();
        AgentProcess {
            host,
            child,
            ports,
            dir: dir.to_path_buf(),
            log,
        }
    }

    pub fn http_addr(&self) -> String {
        format!("{}:{}", self.host, self.ports.http)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_leader(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(r) = try_http(&self.http_addr(), "GET", "/v1/status/leader", b"") {
                if r.status == 200 && r.body.len() > 2 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "agent had no leader within {within:?}; log:\n{}",
            self.log_text()
        );
    }

    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> Response {
        http(&self.http_addr(), method, path, body)
    }

    /// `cairn <args>` pointed at this agent.
    pub fn cli(&self, args: &[&str]) -> CliRun {
        let out = Command::new(cairn_bin())
            .args(args)
            .env("CONSUL_HTTP_ADDR", self.http_addr())
            .env_remove("CAIRN_HTTP_ADDR")
            .stdin(Stdio::null())
            .output()
            .expect("run cairn");
        CliRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Poll `f` every 100 ms until it returns `Some`, at most `within`.
    pub fn eventually<T>(
        &self,
        what: &str,
        within: Duration,
        mut f: impl FnMut(&AgentProcess) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {within:?} waiting for {what}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait (bounded) for the process to exit on its own; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The output of one CLI run.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Split a raw HTTP/1.0 answer into status, headers and body.
fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// One HTTP/1.0 request (no chunking, connection closes): enough for tests, no client crate.
pub fn try_http(addr: &str, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Response {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Poll `f` until it holds, at most `within`.
pub fn eventually(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {within:?} waiting for {what}");
}

/// Why [`try_http_within`] got no answer.
#[derive(Debug)]
pub enum HttpFailure {
    /// The connection was refused: the request was certainly not sent.
    NotSent(std::io::Error),
    /// The request may have been sent (timeout, reset, garbled answer): its effect is unknown.
    Unknown(std::io::Error),
}

/// Like [`try_http`], but gives up after `timeout` (connecting, sending and reading together),
/// and tells a request that was never sent from one whose fate is unknown.
pub fn try_http_within(
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpFailure> {
    let deadline = Instant::now() + timeout;
    let sock: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| HttpFailure::NotSent(std::io::Error::other(format!("{addr}: {e}"))))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).map_err(HttpFailure::NotSent)?;
    let unknown = HttpFailure::Unknown;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    s.set_write_timeout(Some(left())).map_err(unknown)?;
    s.write_all(head.as_bytes()).map_err(unknown)?;
    s.write_all(body).map_err(unknown)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if Instant::now() >= deadline {
            return Err(unknown(std::io::Error::from(std::io::ErrorKind::TimedOut)));
        }
        s.set_read_timeout(Some(left())).map_err(unknown)?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unknown(e)),
        }
    }
    parse_response(&raw).map_err(unknown)
}

/// The leader's RPC address as the agent at `http_addr` reports it (`None`: none, or no answer).
pub fn leader_at(http_addr: &str) -> Option<String> {
    let r = try_http(http_addr, "GET", "/v1/status/leader", b"").ok()?;
    let l: String = serde_json::from_slice(&r.body).ok()?;
    (!l.is_empty()).then_some(l)
}

impl AgentProcess {
    /// The leader this agent reports.
    pub fn leader(&self) -> Option<String> {
        leader_at(&self.http_addr())
    }
}

/// Wait until every agent in `agents` reports the same leader; returns it.
pub fn agreed_leader(agents: &[&AgentProcess], within: Duration) -> String {
    agents[0].eventually("one agreed leader", within, |_| {
        let ls: Vec<Option<String>> = agents.iter().map(|a| a.leader()).collect();
        (ls[0].is_some() && ls.iter().all(|l| *l == ls[0]))
            .then(|| ls[0].clone().unwrap_or_default())
    })
}

/// Server `n` (1..=3) of a `-bootstrap-expect=3` cluster on 127.0.0.`base+n` with Consul's
/// default ports, node `{prefix}{n}`, data in `dir/{prefix}{n}` (reused on restart).
pub fn cluster_server(dir: &Path, base: u8, n: u8, prefix: &str) -> AgentProcess {
    cluster_server_with(dir, base, n, prefix, &[])
}

/// [`cluster_server`] with `extra` command-line arguments.
pub fn cluster_server_with(
    dir: &Path,
    base: u8,
    n: u8,
    prefix: &str,
    extra: &[&str],
) -> AgentProcess {
    let ip = format!("127.0.0.{}", base + n);
    let d = dir.join(format!("{prefix}{n}"));
    std::fs::create_dir_all(&d).expect("data dir");
    let join_to = format!("-retry-join=127.0.0.{}", base + if n == 1 { 2 } else { 1 });
    let node = format!("-node={prefix}{n}");
    let bind = format!("-bind={ip}");
    let client = format!("-client={ip}");
    let data = format!("-data-dir={}", d.display());
    let mut args = vec![
        "-server",
        "-bootstrap-expect=3",
        &node,
        &bind,
        &client,
        &data,
        "-retry-interval=1s",
        &join_to,
    ];
    args.extend_from_slice(extra);
    AgentProcess::start_unled(&d, Ports::defaults(), &args)
}
