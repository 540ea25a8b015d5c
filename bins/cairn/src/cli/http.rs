//! Consul's HTTP API flags (`-http-addr`, `-token`, …) and server flags (`-datacenter`,
//! `-stale`), and the client they configure.

use cairn_client::{Client, Config};
use cairn_types::{Consistency, QueryOptions};
use clap::{ArgAction, Args};
use std::path::PathBuf;

/// Flag names listed under "HTTP API Options" in help.
pub const HTTP_FLAG_NAMES: &[&str] = &[
    "http-addr",
    "token",
    "token-file",
    "ca-file",
    "ca-path",
    "client-cert",
    "client-key",
    "tls-server-name",
    "datacenter",
    "stale",
];

/// Client flags every command that talks to the agent takes.
#[derive(Debug, Clone, Default, Args)]
pub struct HttpFlags {
    /// The `address` and port of the agent's HTTP API (`127.0.0.1:8500` or
    /// `http://127.0.0.1:8500`). Also read from CAIRN_HTTP_ADDR or CONSUL_HTTP_ADDR. Defaults to
    /// http://127.0.0.1:8500.
    #[arg(long = "http-addr", value_name = "address")]
    pub http_addr: Option<String>,
    /// ACL token sent with the request. Also read from CAIRN_HTTP_TOKEN or CONSUL_HTTP_TOKEN.
    /// Without one, the agent's default token applies.
    #[arg(long = "token", value_name = "value")]
    pub token: Option<String>,
    /// File holding the ACL token; wins over -token. Also read from CONSUL_HTTP_TOKEN_FILE.
    #[arg(long = "token-file", value_name = "value")]
    pub token_file: Option<PathBuf>,
    /// CA file for TLS (accepted for compatibility; this build speaks plain HTTP).
    #[arg(long = "ca-file", value_name = "value")]
    pub ca_file: Option<String>,
    /// Directory of CA certificates for TLS (accepted for compatibility).
    #[arg(long = "ca-path", value_name = "value")]
    pub ca_path: Option<String>,
    /// Client certificate for TLS (accepted for compatibility).
    #[arg(long = "client-cert", value_name = "value")]
    pub client_cert: Option<String>,
    /// Client key for TLS (accepted for compatibility).
    #[arg(long = "client-key", value_name = "value")]
    pub client_key: Option<String>,
    /// SNI host name for TLS (accepted for compatibility).
    #[arg(long = "tls-server-name", value_name = "value")]
    pub tls_server_name: Option<String>,
}

/// Flags of commands that read server state.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerFlags {
    /// Datacenter to query; defaults to the agent's.
    #[arg(long = "datacenter", value_name = "value")]
    pub datacenter: Option<String>,
    /// Let any server answer, not only the leader: faster, possibly stale.
    #[arg(long = "stale", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub stale: bool,
}

impl HttpFlags {
    /// The client configuration: flags over environment over defaults.
    pub fn config(&self, server: Option<&ServerFlags>) -> Config {
        let mut config = Config::from_env();
        if let Some(addr) = &self.http_addr {
            config.address = addr.clone();
        }
        if let Some(token) = &self.token {
            // An explicit flag beats a token file from the environment.
            config.token = token.clone();
            config.token_file = None;
        }
        if let Some(file) = &self.token_file {
            config.token_file = Some(file.clone());
        }
        if let Some(dc) = server.and_then(|s| s.datacenter.clone()) {
            config.datacenter = dc;
        }
        config
    }

    /// A client for these flags.
    pub fn client(&self, server: Option<&ServerFlags>) -> Result<Client, cairn_client::Error> {
        Client::new(self.config(server))
    }
}

impl ServerFlags {
    /// Read options for these flags.
    pub fn query_options(&self) -> QueryOptions {
        QueryOptions {
            consistency: if self.stale {
                Consistency::Stale
            } else {
                Consistency::Default
            },
            ..QueryOptions::default()
        }
    }
}
