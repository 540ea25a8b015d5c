//! HTTP checks: 2xx passing, 429 warning, anything else (or an error) critical; the output is
//! `HTTP <method> <url>: <status> Output: <body>` with the body cut to its last
//! `output_max_size` bytes, as Consul writes it.

use super::{Outcome, Probe};
use crate::goerr;
use crate::output::TailBuffer;
use cairn_types::CheckStatus;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::time::Duration;

/// Consul's `User-Agent` for HTTP checks.
pub const USER_AGENT: &str = "Consul Health Check";

/// Consul's default `Accept` for HTTP checks.
pub const ACCEPT: &str = "text/plain, text/*, */*";

/// What distinguishes one HTTP client from another; everything else is per request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    skip_verify: bool,
    server_name: String,
    disable_redirects: bool,
}

/// HTTP clients shared by all HTTP checks with the same TLS and redirect settings. Keep-alive
/// is off, as in Consul (a failing keep-alive must not fail a check), so sharing a client
/// shares configuration and root certificates, not connections.
#[derive(Default)]
pub(crate) struct HttpClients {
    clients: Mutex<HashMap<ClientKey, reqwest::Client>>,
}

impl HttpClients {
    fn get(&self, key: &ClientKey) -> Result<reqwest::Client, String> {
        let mut clients = self.clients.lock();
        if let Some(c) = clients.get(key) {
            return Ok(c.clone());
        }
        let tls = crate::tls::client_config(key.skip_verify, &key.server_name, true, &[])?;
        let redirect = if key.disable_redirects {
            reqwest::redirect::Policy::none()
        } else {
            // Go's client follows up to ten redirects.
            reqwest::redirect::Policy::limited(10)
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(redirect)
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        clients.insert(key.clone(), client.clone());
        Ok(client)
    }
}

/// One HTTP check.
pub(crate) struct HttpProbe {
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) header: BTreeMap<String, Vec<String>>,
    pub(crate) body: String,
    pub(crate) timeout: Duration,
    pub(crate) output_max: usize,
    pub(crate) client: Result<reqwest::Client, String>,
}

impl HttpProbe {
    /// Builds the probe; a client that cannot be built makes every run critical with why.
    pub(crate) fn new(
        clients: &HttpClients,
        def: &cairn_types::requests::CheckType,
        timeout: Duration,
        output_max: usize,
    ) -> Self {
        let key = ClientKey {
            skip_verify: def.tls_skip_verify,
            server_name: def.tls_server_name.clone(),
            disable_redirects: def.disable_redirects,
        };
        HttpProbe {
            url: def.http.clone(),
            method: if def.method.is_empty() {
                "GET".to_owned()
            } else {
                def.method.clone()
            },
            header: def.header.clone(),
            body: def.body.clone(),
            timeout,
            output_max,
            client: clients.get(&key),
        }
    }

    /// Go's `url.Error` prefix: `Get "http://…"`.
    fn op(&self) -> String {
        let mut chars = self.method.chars();
        let op: String = match chars.next() {
            Some(first) => first
                .to_uppercase()
                .chain(chars.flat_map(|c| c.to_lowercase()))
                .collect(),
            None => String::new(),
        };
        format!("{op} \"{}\"", self.url)
    }

    fn request(&self, client: &reqwest::Client) -> Result<reqwest::RequestBuilder, String> {
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("net/http: invalid method {:?}", self.method))?;
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| format!("parse {:?}: {e}", self.url))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, values) in &self.header {
            let Ok(name) = reqwest::header::HeaderName::from_bytes(name.as_bytes()) else {
                return Err(format!("net/http: invalid header field name {name:?}"));
            };
            for v in values {
                let Ok(value) = reqwest::header::HeaderValue::from_str(v) else {
                    return Err(format!("net/http: invalid header field value for {name:?}"));
                };
                headers.append(name.clone(), value);
            }
        }
        if !headers.contains_key(reqwest::header::USER_AGENT) {
            headers.insert(
                reqwest::header::USER_AGENT,
                reqwest::header::HeaderValue::from_static(USER_AGENT),
            );
        }
        if !headers.contains_key(reqwest::header::ACCEPT) {
            headers.insert(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static(ACCEPT),
            );
        }
        let mut req = client
            .request(method, url)
            .headers(headers)
            .timeout(self.timeout);
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        Ok(req)
    }

    /// Go's text for a failed request.
    fn error_text(&self, err: &reqwest::Error) -> String {
        if err.is_timeout() {
            return format!(
                "{}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                self.op()
            );
        }
        if err.is_redirect() {
            return format!("{}: stopped after 10 redirects", self.op());
        }
        // Walk the cause chain for the TLS or I/O error underneath.
        let mut source = err.source();
        while let Some(e) = source {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return format!("{}: tls: {}", self.op(), crate::tls::rustls_text(tls));
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.get_ref() {
                    // A wrapping I/O error: keep looking below it.
                    Some(inner) => {
                        if inner.is::<rustls::Error>()
                            || inner.is::<std::io::Error>()
                            || inner.source().is_some()
                        {
                            source = Some(inner);
                            continue;
                        }
                        return format!("{}: {inner}", self.op());
                    }
                    None if err.is_connect() => {
                        let dial = goerr::dial_error("tcp", &self.addr(), io);
                        return format!("{}: {dial}", self.op());
                    }
                    None => return format!("{}: {}", self.op(), goerr::plain_io_text(io)),
                }
            }
            source = e.source();
        }
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(e) = source {
            text.push_str(": ");
            text.push_str(&e.to_string());
            source = e.source();
        }
        format!("{}: {text}", self.op())
    }

    /// `host:port` of the URL, as Go prints it in dial errors.
    fn addr(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(u) => {
                let host = u.host_str().unwrap_or_default();
                let port = u.port_or_known_default().unwrap_or(80);
                if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
            Err(_) => self.url.clone(),
        }
    }
}

impl Probe for HttpProbe {
    async fn run(&self) -> Outcome {
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => return Outcome::critical(e.clone()),
        };
        let req = match self.request(client) {
            Ok(r) => r,
            Err(e) => return Outcome::critical(e),
        };
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let text = self.error_text(&e);
                tracing::warn!(url = %self.url, error = %text, "HTTP check request failed");
                return Outcome::critical(text);
            }
        };
        let code = resp.status();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| code.canonical_reason().map(str::to_owned))
            .unwrap_or_default();
        // Like Go's io.Copy into a circular buffer: read everything (bounded by the request
        // timeout), keep the tail.
        let mut body = TailBuffer::new(self.output_max);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.write(&chunk),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "HTTP check error while reading body");
                    break;
                }
            }
        }
        let status_line = if reason.is_empty() {
            code.as_u16().to_string()
        } else {
            format!("{} {reason}", code.as_u16())
        };
        let result = format!(
            "HTTP {} {}: {status_line} Output: {}",
            self.method,
            self.url,
            body.text()
        );
        let status = match code.as_u16() {
            200..=299 => CheckStatus::Passing,
            429 => CheckStatus::Warning,
            _ => CheckStatus::Critical,
        };
        Outcome::new(status, result)
    }
}
