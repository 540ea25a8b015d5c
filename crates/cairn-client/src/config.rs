//! Where the agent is and how to talk to it: address, token, datacenter.

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// The address used when nothing else is configured.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8500";

/// Environment variables read by [`Config::from_env`], in order of precedence.
pub const ADDRESS_ENV: [&str; 2] = ["CAIRN_HTTP_ADDR", "CONSUL_HTTP_ADDR"];
/// Token variables, in order of precedence.
pub const TOKEN_ENV: [&str; 2] = ["CAIRN_HTTP_TOKEN", "CONSUL_HTTP_TOKEN"];
/// Token file variables, in order of precedence (a token file wins over a token from the same
/// family, as in Consul's client).
pub const TOKEN_FILE_ENV: [&str; 2] = ["CAIRN_HTTP_TOKEN_FILE", "CONSUL_HTTP_TOKEN_FILE"];

/// Client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Agent address: `host:port`, `http://host:port`. `https://` and `unix://` are refused by
    /// [`crate::Client::new`] with a clear message (this build speaks plain HTTP only).
    pub address: String,
    /// ACL token sent as `X-Consul-Token` (empty: none).
    pub token: String,
    /// File holding the token; read by [`crate::Client::new`] and, when it holds a token, used
    /// instead of `token`.
    pub token_file: Option<PathBuf>,
    /// Datacenter sent as `?dc=` (empty: the agent's).
    pub datacenter: String,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            address: DEFAULT_ADDRESS.to_string(),
            token: String::new(),
            token_file: None,
            datacenter: String::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Defaults overridden by `CAIRN_HTTP_ADDR` / `CONSUL_HTTP_ADDR`, `CAIRN_HTTP_TOKEN` /
    /// `CONSUL_HTTP_TOKEN`, `CAIRN_HTTP_TOKEN_FILE` / `CONSUL_HTTP_TOKEN_FILE`, and
    /// `CONSUL_HTTP_SSL=true` (which asks for `https`, refused later).
    pub fn from_env() -> Config {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with a custom variable lookup (for tests and embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| lookup(n))
                .find(|v| !v.trim().is_empty())
        };
        let mut config = Config::default();
        if let Some(addr) = first(&ADDRESS_ENV) {
            config.address = addr.trim().to_string();
        }
        if lookup("CONSUL_HTTP_SSL").is_some_and(|v| parse_go_bool(&v) == Some(true))
            && !config.address.contains("://")
        {
            config.address = format!("https://{}", config.address);
        }
        if let Some(token) = first(&TOKEN_ENV) {
            config.token = token.trim().to_string();
        }
        config.token_file = first(&TOKEN_FILE_ENV).map(PathBuf::from);
        config
    }

    /// The token to send: the token file's trimmed content when a file is set and not empty,
    /// the configured token otherwise.
    pub fn resolve_token(&self) -> Result<String> {
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!(
                    "Error loading token file {}: {}",
                    path.display(),
                    e
                ))
            })?;
            let token = text.trim();
            if !token.is_empty() {
                return Ok(token.to_string());
            }
        }
        Ok(self.token.clone())
    }
}

/// Turn an agent address into the base URL requests go to (`http://host:port`, no trailing
/// slash). Accepts `host:port`, `[v6]:port` and `http://…`; refuses `https://` and `unix://`.
pub fn base_url(address: &str) -> Result<String> {
    let address = address.trim();
    if address.is_empty() {
        return Err(Error::Config("Empty HTTP address".into()));
    }
    let (scheme, rest) = match address.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("http".to_string(), address),
    };
    match scheme.as_str() {
        "http" => {}
        "https" => {
            return Err(Error::Config(format!(
                "HTTPS is not supported by this cairn build; use an http:// address (got {address})"
            )))
        }
        "unix" => {
            return Err(Error::Config(format!(
                "Unix socket addresses are not supported by this cairn build (got {address})"
            )))
        }
        other => {
            return Err(Error::Config(format!(
                "Unknown protocol scheme: {other} (address {address})"
            )))
        }
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        return Err(Error::Config(format!("Invalid HTTP address: {address}")));
    }
    Ok(format!("http://{host}"))
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn address_precedence_cairn_then_consul_then_default() {
        assert_eq!(Config::from_lookup(lookup(&[])).address, DEFAULT_ADDRESS);
        let c = Config::from_lookup(lookup(&[("CONSUL_HTTP_ADDR", "10.0.0.1:8500")]));
        assert_eq!(c.address, "10.0.0.1:8500");
        let c = Config::from_lookup(lookup(&[
            ("CONSUL_HTTP_ADDR", "10.0.0.1:8500"),
            ("CAIRN_HTTP_ADDR", "http://10.0.0.2:8500"),
        ]));
        assert_eq!(c.address, "http://10.0.0.2:8500");
        // An empty variable does not shadow the next one.
        let c = Config::from_lookup(lookup(&[
            ("CAIRN_HTTP_ADDR", ""),
            ("CONSUL_HTTP_ADDR", "10.0.0.1:1"),
        ]));
        assert_eq!(c.address, "10.0.0.1:1");
    }

    #[test]
    fn token_precedence() {
        let c = Config::from_lookup(lookup(&[
            ("CONSUL_HTTP_TOKEN", "consul"),
            ("CAIRN_HTTP_TOKEN", "cairn"),
        ]));
        assert_eq!(c.token, "cairn");
        let c = Config::from_lookup(lookup(&[("CONSUL_HTTP_TOKEN", "consul")]));
        assert_eq!(c.resolve_token().unwrap(), "consul");
    }

    #[test]
    fn token_file_wins_when_not_empty() {
        let dir = std::env::temp_dir().join(format!("cairn-client-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "  from-file\n").unwrap();
        let mut c = Config {
            token: "from-flag".into(),
            token_file: Some(file.clone()),
            ..Config::default()
        };
        assert_eq!(c.resolve_token().unwrap(), "from-file");
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(c.resolve_token().unwrap(), "from-flag");
        c.token_file = Some(dir.join("missing"));
        let err = c.resolve_token().unwrap_err().to_string();
        assert!(err.starts_with("Error loading token file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ssl_env_asks_for_https() {
        let c = Config::from_lookup(lookup(&[("CONSUL_HTTP_SSL", "true")]));
        assert_eq!(c.address, "https://127.0.0.1:8500");
        assert!(base_url(&c.address).is_err());
    }

    #[test]
    fn base_url_forms() {
        assert_eq!(base_url("127.0.0.1:8500").unwrap(), "http://127.0.0.1:8500");
        assert_eq!(
            base_url("http://127.0.0.1:8500/").unwrap(),
            "http://127.0.0.1:8500"
        );
        assert_eq!(base_url("HTTP://h:1").unwrap(), "http://h:1");
        assert_eq!(base_url("[::1]:8500").unwrap(), "http://[::1]:8500");
        let unix = base_url("unix:///tmp/consul.sock").unwrap_err().to_string();
        assert!(unix.contains("Unix socket"), "{unix}");
        let https = base_url("https://h:8501").unwrap_err().to_string();
        assert!(https.contains("HTTPS"), "{https}");
        assert!(base_url("").is_err());
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://h:1/path").is_err());
    }
}
