//! Docker checks: run `Args` inside a container through the Engine API's exec endpoints
//! (create, start, inspect), over the Unix socket or TCP. Exit 0 passing, 1 warning, else
//! critical, as Consul's `CheckDocker` does.
//!
//! A few requests per run do not justify a Docker client library: this speaks just enough
//! HTTP/1.1 (one request per connection, `Content-Length`, chunked or read-to-close bodies).

use super::{Outcome, Probe};
use crate::goerr;
use crate::output::TailBuffer;
use cairn_types::CheckStatus;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Largest status line or header line accepted from the engine.
const MAX_LINE: usize = 16 * 1024;

/// Where the Docker engine listens (`DOCKER_HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DockerHost {
    /// `unix:///path/to/socket`.
    Unix(String),
    /// `tcp://host:port`.
    Tcp(String),
}

impl DockerHost {
    /// Parses `unix:///var/run/docker.sock` or `tcp://host:port[/base]`.
    pub(crate) fn parse(host: &str) -> Option<DockerHost> {
        let (proto, addr) = host.split_once("://")?;
        match proto {
            "unix" if !addr.is_empty() => Some(DockerHost::Unix(addr.to_owned())),
            "tcp" => {
                let hostport = addr.split('/').next().unwrap_or_default();
                (!hostport.is_empty()).then(|| DockerHost::Tcp(hostport.to_owned()))
            }
            _ => None,
        }
    }

    fn network(&self) -> (&'static str, &str) {
        match self {
            DockerHost::Unix(p) => ("unix", p),
            DockerHost::Tcp(a) => ("tcp", a),
        }
    }

    async fn connect(&self) -> Result<Box<dyn crate::tls::Io>, String> {
        match self {
            DockerHost::Unix(path) => tokio::net::UnixStream::connect(path)
                .await
                .map(|s| Box::new(s) as Box<dyn crate::tls::Io>)
                .map_err(|e| goerr::dial_error("unix", path, &e)),
            DockerHost::Tcp(addr) => goerr::dial_tcp(addr)
                .await
                .map(|s| Box::new(s) as Box<dyn crate::tls::Io>),
        }
    }

    /// One request; returns the status code and the body's tail (at most `max` bytes).
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        max: usize,
    ) -> Result<(u16, TailBuffer), String> {
        let (network, addr) = self.network();
        let url = format!("http://docker{path}");
        let op = format!(
            "{}{} {url:?}",
            &method[..1],
            method[1..].to_ascii_lowercase()
        );
        let stream = self.connect().await.map_err(|e| format!("{op}: {e}"))?;
        let mut stream = BufReader::new(stream);
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: Consul Health Check\r\nConnection: close\r\n"
        );
        if let Some(b) = &body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        let io_err = |e: std::io::Error| {
            format!(
                "{op}: {network} {addr}: {}",
                goerr::syscall_text("read", &e)
            )
        };
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(io_err)?;

        let status_line = read_line(&mut stream).await.map_err(io_err)?;
        let code = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("{op}: malformed HTTP response {status_line:?}"))?;
        let mut chunked = false;
        let mut length = None;
        loop {
            let line = read_line(&mut stream).await.map_err(io_err)?;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("transfer-encoding")
                    && value.eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<u64>().ok();
                }
            }
        }
        let mut out = TailBuffer::new(max);
        let mut buf = vec![0u8; 8192];
        if chunked {
            loop {
                let size_line = read_line(&mut stream).await.map_err(io_err)?;
                let size_hex = size_line.split(';').next().unwrap_or_default().trim();
                let mut size = u64::from_str_radix(size_hex, 16)
                    .map_err(|_| format!("{op}: malformed chunk size {size_line:?}"))?;
                if size == 0 {
                    break;
                }
                while size > 0 {
                    let want = buf.len().min(usize::try_from(size).unwrap_or(usize::MAX));
                    let n = stream.read(&mut buf[..want]).await.map_err(io_err)?;
                    if n == 0 {
                        return Ok((code, out));
                    }
                    out.write(&buf[..n]);
                    size -= n as u64;
                }
                read_line(&mut stream).await.map_err(io_err)?;
            }
        } else {
            let mut remaining = length.unwrap_or(u64::MAX);
            while remaining > 0 {
                let want = buf
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                match stream.read(&mut buf[..want]).await {
                    Ok(0) => break,
                    Ok(n) => {
                        out.write(&buf[..n]);
                        remaining -= n as u64;
                    }
                    // The engine may reset the hijacked exec stream once done (Consul ignores
                    // "connection reset by peer" here too).
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                    Err(e) => return Err(io_err(e)),
                }
            }
        }
        Ok((code, out))
    }
}

/// Reads one CRLF-terminated line (without the terminator), bounded in length.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Percent-encodes a container ID for a URL path (Go's `url.QueryEscape`).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a top-level JSON string or number field, found textually (the engine's
/// answers are small flat objects).
fn json_field<'a>(body: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\"");
    let start = body.find(&key)? + key.len();
    let rest = body[start..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        Some(&s[..end])
    } else {
        let end = rest
            .find(|c: char| c != '-' && !c.is_ascii_digit())
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }
}

/// A Docker exec check.
pub(crate) struct DockerProbe {
    pub(crate) host: DockerHost,
    pub(crate) container: String,
    pub(crate) cmd: Vec<String>,
    pub(crate) output_max: usize,
    /// Consul sets no timeout on Docker checks; the definition's `Timeout` bounds a run here
    /// when given.
    pub(crate) timeout: Option<Duration>,
}

impl DockerProbe {
    async fn create_exec(&self) -> Result<String, String> {
        let cmd: Vec<String> = self.cmd.iter().map(|c| json_string(c)).collect();
        let body = format!(
            "{{\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"Cmd\":[{}]}}",
            cmd.join(",")
        );
        let path = format!("/containers/{}/exec", query_escape(&self.container));
        let c = &self.container;
        let (code, b) = self
            .host
            .call("POST", &path, Some(body), 64 * 1024)
            .await
            .map_err(|e| format!("create exec failed for container {c}: {e}"))?;
        match code {
            201 => json_field(&b.text(), "Id")
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("create exec response for container {c} cannot be parsed: no Id")
                }),
            404 => Err(format!("create exec failed for unknown container {c}")),
            409 => Err(format!(
                "create exec failed since container {c} is paused or stopped"
            )),
            _ => Err(format!(
                "create exec failed for container {c} with status {code}: {}",
                b.text()
            )),
        }
    }

    async fn start_exec(&self, exec_id: &str) -> Result<TailBuffer, String> {
        let c = &self.container;
        let path = format!("/exec/{exec_id}/start");
        let (code, b) = self
            .host
            .call(
                "POST",
                &path,
                Some("{\"Detach\":false,\"Tty\":true}".to_owned()),
                self.output_max,
            )
            .await
            .map_err(|e| format!("start exec failed for container {c}: {e}"))?;
        match code {
            200 => Ok(b),
            404 => Err(format!(
                "start exec failed for container {c}: invalid exec id {exec_id}"
            )),
            409 => Err(format!(
                "start exec failed since container {c} is paused or stopped"
            )),
            _ => Err(format!(
                "start exec failed for container {c} with status {code}: body: {} err: <nil>",
                b.text()
            )),
        }
    }

    async fn inspect_exec(&self, exec_id: &str) -> Result<i64, String> {
        let c = &self.container;
        let path = format!("/exec/{exec_id}/json");
        let (code, b) = self
            .host
            .call("GET", &path, None, 64 * 1024)
            .await
            .map_err(|e| format!("inspect exec failed for container {c}: {e}"))?;
        match code {
            200 => json_field(&b.text(), "ExitCode")
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| {
                    format!("inspect exec response for container {c} cannot be parsed: no ExitCode")
                }),
            404 => Err(format!(
                "inspect exec failed for container {c}: invalid exec id {exec_id}"
            )),
            _ => Err(format!(
                "inspect exec failed for container {c} with status {code}: {}",
                b.text()
            )),
        }
    }

    async fn exec(&self) -> Result<(CheckStatus, TailBuffer), String> {
        let id = self.create_exec().await?;
        let out = self.start_exec(&id).await?;
        let status = match self.inspect_exec(&id).await? {
            0 => CheckStatus::Passing,
            1 => CheckStatus::Warning,
            _ => CheckStatus::Critical,
        };
        Ok((status, out))
    }
}

impl Probe for DockerProbe {
    async fn run(&self) -> Outcome {
        let result = match self.timeout {
            Some(t) => match tokio::time::timeout(t, self.exec()).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "Timed out ({}) running check",
                    cairn_types::duration::format_go_duration(t)
                )),
            },
            None => self.exec().await,
        };
        match result {
            Ok((status, out)) => Outcome::new(status, out.text_with_marker()),
            Err(e) => {
                tracing::debug!(container = %self.container, error = %e, "docker check failed");
                Outcome::critical(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hosts() {
        assert_eq!(
            DockerHost::parse("unix:///var/run/docker.sock"),
            Some(DockerHost::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            DockerHost::parse("tcp://10.0.0.1:2375/base"),
            Some(DockerHost::Tcp("10.0.0.1:2375".into()))
        );
        assert_eq!(DockerHost::parse("/var/run/docker.sock"), None);
        assert_eq!(DockerHost::parse("ssh://host"), None);
    }

    #[test]
    fn json_helpers() {
        assert_eq!(json_string("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
        assert_eq!(json_field("{\"Id\": \"abc\"}", "Id"), Some("abc"));
        assert_eq!(
            json_field("{\"Running\":false,\"ExitCode\":2,\"Pid\":0}", "ExitCode"),
            Some("2")
        );
        assert_eq!(query_escape("my container/1"), "my+container%2F1");
    }
}
