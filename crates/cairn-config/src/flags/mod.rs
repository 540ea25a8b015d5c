//! `cairn agent` command-line flags, spelled and parsed as `consul agent` does.
//!
//! Consul users type Go-style flags: one dash (`-server`, `-node=s1`, `-bootstrap-expect 3`),
//! booleans true by presence or with `=value` in Go's syntax (`-ui`, `-server=false`,
//! `-enable-script-checks=T`), repeatable list flags (`-retry-join a -retry-join b`), and the
//! last of a repeated single-value flag wins. [`AgentFlags::parse_from_go_args`] accepts exactly
//! that (and `--long` forms), then [`crate::load()`] turns the flags into config layers
//! that merge with the config files under Consul's rules.

mod help;
mod layers;

use crate::error::ConfigError;
use crate::go_flags::normalize_args;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

pub use help::help_text;

/// One `-config-file` or `-config-dir` argument, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPath {
    /// `-config-file=PATH`: one file (its extension must be `.json`/`.hcl` unless
    /// `-config-format` is given).
    File(String),
    /// `-config-dir=PATH`: every `*.json`/`*.hcl` file directly in the directory, by name.
    Dir(String),
}

impl ConfigPath {
    /// The path as given.
    pub fn path(&self) -> &str {
        match self {
            ConfigPath::File(p) | ConfigPath::Dir(p) => p,
        }
    }
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {text:?}")),
    }
}

/// Every `consul agent` flag. Fields are `None`/empty when the flag was not given, so that
/// config files keep their values; see [`AgentFlags::to_config_value`].
#[derive(Debug, Clone, Default, PartialEq, Parser)]
#[command(
    name = "cairn agent",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
#[non_exhaustive]
pub struct AgentFlags {
    /// `-h`, `-help`: set when help was asked for; [`AgentFlags::parse_from_go_args`] answers
    /// it with [`ConfigError::HelpRequested`].
    #[arg(short = 'h', long = "help", action = ArgAction::SetTrue)]
    pub help: bool,

    /// Sets the advertise address to use.
    #[arg(long = "advertise", value_name = "value", allow_hyphen_values = true)]
    pub advertise: Option<String>,
    /// Sets address to advertise on WAN instead of -advertise address.
    #[arg(
        long = "advertise-wan",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub advertise_wan: Option<String>,
    /// Only allow write endpoint calls from given network. CIDR format, can be specified
    /// multiple times.
    #[arg(
        long = "allow-write-http-from",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub allow_write_http_from: Vec<String>,
    /// Alternate domain to use for DNS interface.
    #[arg(long = "alt-domain", value_name = "value", allow_hyphen_values = true)]
    pub alt_domain: Option<String>,
    /// Watches config files for changes and auto reloads the files when modified.
    #[arg(long = "auto-reload-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub auto_reload_config: Option<bool>,
    /// Sets the bind address for cluster communication.
    #[arg(long = "bind", value_name = "value", allow_hyphen_values = true)]
    pub bind: Option<String>,
    /// Sets server to bootstrap mode.
    #[arg(long = "bootstrap", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub bootstrap: Option<bool>,
    /// Sets server to expect bootstrap mode.
    #[arg(
        long = "bootstrap-expect",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub bootstrap_expect: Option<i64>,
    /// Sets the maximum output size for checks on this agent.
    #[arg(
        long = "check_output_max_size",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub check_output_max_size: Option<i64>,
    /// Sets the address to bind for client access. This includes RPC, DNS, HTTP, HTTPS and
    /// gRPC (if configured).
    #[arg(long = "client", value_name = "value", allow_hyphen_values = true)]
    pub client: Option<String>,
    /// Path to a directory to read configuration files from. This will read every file ending
    /// in '.json' or '.hcl' as configuration in this directory in alphabetical order. Can be
    /// specified multiple times.
    #[arg(long = "config-dir", value_name = "value", allow_hyphen_values = true)]
    pub config_dir: Vec<String>,
    /// Path to a file in JSON or HCL format with a matching file extension. Can be specified
    /// multiple times.
    #[arg(long = "config-file", value_name = "value", allow_hyphen_values = true)]
    pub config_file: Vec<String>,
    /// Config files are in this format irrespective of their extension. Must be 'hcl' or
    /// 'json'.
    #[arg(
        long = "config-format",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub config_format: Option<String>,
    /// Path to a data directory to store agent state.
    #[arg(long = "data-dir", value_name = "value", allow_hyphen_values = true)]
    pub data_dir: Option<String>,
    /// Datacenter of the agent.
    #[arg(long = "datacenter", value_name = "value", allow_hyphen_values = true)]
    pub datacenter: Option<String>,
    /// The amount of time a blocking query will wait before Cairn will force a response. This
    /// value can be overridden by the 'wait' query parameter.
    #[arg(
        long = "default-query-time",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub default_query_time: Option<String>,
    /// Starts the agent in development mode.
    #[arg(long = "dev", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub dev: Option<bool>,
    /// Setting this to true will prevent Cairn from using information from the host to
    /// generate a node ID, and will cause Cairn to generate a random node ID instead.
    #[arg(long = "disable-host-node-id", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub disable_host_node_id: Option<bool>,
    /// Disables the backing up of the keyring to a file.
    #[arg(long = "disable-keyring-file", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub disable_keyring_file: Option<bool>,
    /// DNS port to use.
    #[arg(long = "dns-port", value_name = "value", allow_negative_numbers = true)]
    pub dns_port: Option<i64>,
    /// Domain to use for DNS interface.
    #[arg(long = "domain", value_name = "value", allow_hyphen_values = true)]
    pub domain: Option<String>,
    /// Enables health check scripts from configuration file.
    #[arg(long = "enable-local-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub enable_local_script_checks: Option<bool>,
    /// Enables health check scripts.
    #[arg(long = "enable-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub enable_script_checks: Option<bool>,
    /// Provides the gossip encryption key.
    #[arg(long = "encrypt", value_name = "value", allow_hyphen_values = true)]
    pub encrypt: Option<String>,
    /// Sets the gRPC API port to listen on.
    #[arg(
        long = "grpc-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub grpc_port: Option<i64>,
    /// Sets the gRPC-TLS API port to listen on.
    #[arg(
        long = "grpc-tls-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub grpc_tls_port: Option<i64>,
    /// hcl config fragment. Can be specified multiple times.
    #[arg(long = "hcl", value_name = "value", allow_hyphen_values = true)]
    pub hcl: Vec<String>,
    /// Sets the HTTP API port to listen on.
    #[arg(
        long = "http-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i64>,
    /// Sets the HTTPS API port to listen on.
    #[arg(
        long = "https-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i64>,
    /// Address of an agent to join at start time. Can be specified multiple times.
    #[arg(long = "join", value_name = "value", allow_hyphen_values = true)]
    pub join: Vec<String>,
    /// Address of an agent to join -wan at start time. Can be specified multiple times.
    #[arg(long = "join-wan", value_name = "value", allow_hyphen_values = true)]
    pub join_wan: Vec<String>,
    /// Path to the file the logs get written to.
    #[arg(long = "log-file", value_name = "value", allow_hyphen_values = true)]
    pub log_file: Option<String>,
    /// Output logs in JSON format.
    #[arg(long = "log-json", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub log_json: Option<bool>,
    /// Log level of the agent.
    #[arg(long = "log-level", value_name = "value", allow_hyphen_values = true)]
    pub log_level: Option<String>,
    /// Maximum number of bytes that should be written to a log file.
    #[arg(
        long = "log-rotate-bytes",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub log_rotate_bytes: Option<i64>,
    /// Time after which log rotation needs to be performed.
    #[arg(
        long = "log-rotate-duration",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub log_rotate_duration: Option<String>,
    /// Maximum number of log file archives to keep.
    #[arg(
        long = "log-rotate-max-files",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub log_rotate_max_files: Option<i64>,
    /// The maximum amount of time a blocking query can wait before Cairn will force a
    /// response. Cairn applies jitter to the wait time. The jittered time will be capped to
    /// MaxQueryTime.
    #[arg(
        long = "max-query-time",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub max_query_time: Option<String>,
    /// Name of this node. Must be unique in the cluster.
    #[arg(long = "node", value_name = "value", allow_hyphen_values = true)]
    pub node: Option<String>,
    /// A unique ID for this node across space and time. Defaults to a randomly-generated ID
    /// that persists in the data-dir.
    #[arg(long = "node-id", value_name = "value", allow_hyphen_values = true)]
    pub node_id: Option<String>,
    /// An arbitrary metadata key/value pair for this node, of the format `key:value`. Can be
    /// specified multiple times.
    #[arg(
        long = "node-meta",
        value_name = "key:value",
        allow_hyphen_values = true
    )]
    pub node_meta: Vec<String>,
    /// (Enterprise-only) DEPRECATED: -read-replica should be used instead.
    #[arg(long = "non-voting-server", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub non_voting_server: Option<bool>,
    /// Path to file to store agent PID.
    #[arg(long = "pid-file", value_name = "value", allow_hyphen_values = true)]
    pub pid_file: Option<String>,
    /// Address of a mesh gateway in the primary datacenter to use to bootstrap WAN federation
    /// at start time with retries enabled. Can be specified multiple times.
    #[arg(
        long = "primary-gateway",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub primary_gateway: Vec<String>,
    /// Sets the protocol version. Defaults to latest.
    #[arg(long = "protocol", value_name = "value", allow_negative_numbers = true)]
    pub protocol: Option<i64>,
    /// Sets the Raft protocol version. Defaults to latest.
    #[arg(
        long = "raft-protocol",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub raft_protocol: Option<i64>,
    /// (Enterprise-only) This flag is used to make the server not participate in the Raft
    /// quorum, and have it only receive the data replication stream.
    #[arg(long = "read-replica", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub read_replica: Option<bool>,
    /// Address of an upstream DNS server. Can be specified multiple times.
    #[arg(long = "recursor", value_name = "value", allow_hyphen_values = true)]
    pub recursor: Vec<String>,
    /// Ignores a previous leave and attempts to rejoin the cluster.
    #[arg(long = "rejoin", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub rejoin: Option<bool>,
    /// Time to wait between join attempts.
    #[arg(
        long = "retry-interval",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub retry_interval: Option<String>,
    /// Time to wait between join -wan attempts.
    #[arg(
        long = "retry-interval-wan",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub retry_interval_wan: Option<String>,
    /// Address of an agent to join at start time with retries enabled. Can be specified
    /// multiple times.
    #[arg(long = "retry-join", value_name = "value", allow_hyphen_values = true)]
    pub retry_join: Vec<String>,
    /// Address of an agent to join -wan at start time with retries enabled. Can be specified
    /// multiple times.
    #[arg(
        long = "retry-join-wan",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub retry_join_wan: Vec<String>,
    /// Maximum number of join attempts. Defaults to 0, which will retry indefinitely.
    #[arg(
        long = "retry-max",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub retry_max: Option<i64>,
    /// Maximum number of join -wan attempts. Defaults to 0, which will retry indefinitely.
    #[arg(
        long = "retry-max-wan",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub retry_max_wan: Option<i64>,
    /// (Enterprise-only) Sets the network segment to join.
    #[arg(long = "segment", value_name = "value", allow_hyphen_values = true)]
    pub segment: Option<String>,
    /// Networks (eg: 192.168.1.0/24) allowed for Serf LAN. Can be specified multiple times.
    #[arg(
        long = "serf-lan-allowed-cidrs",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub serf_lan_allowed_cidrs: Vec<String>,
    /// Address to bind Serf LAN listeners to.
    #[arg(
        long = "serf-lan-bind",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub serf_lan_bind: Option<String>,
    /// Sets the Serf LAN port to listen on.
    #[arg(
        long = "serf-lan-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub serf_lan_port: Option<i64>,
    /// Networks (eg: 192.168.1.0/24) allowed for Serf WAN (other datacenters). Can be
    /// specified multiple times.
    #[arg(
        long = "serf-wan-allowed-cidrs",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub serf_wan_allowed_cidrs: Vec<String>,
    /// Address to bind Serf WAN listeners to.
    #[arg(
        long = "serf-wan-bind",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub serf_wan_bind: Option<String>,
    /// Sets the Serf WAN port to listen on.
    #[arg(
        long = "serf-wan-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub serf_wan_port: Option<i64>,
    /// Switches agent to server mode.
    #[arg(long = "server", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub server: Option<bool>,
    /// Sets the server port to listen on.
    #[arg(
        long = "server-port",
        value_name = "value",
        allow_negative_numbers = true
    )]
    pub server_port: Option<i64>,
    /// Enables logging to syslog.
    #[arg(long = "syslog", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub syslog: Option<bool>,
    /// Enables the built-in static web UI server.
    #[arg(long = "ui", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub ui: Option<bool>,
    /// Sets the external UI path to a string. Defaults to: /ui/
    #[arg(
        long = "ui-content-path",
        value_name = "value",
        allow_hyphen_values = true
    )]
    pub ui_content_path: Option<String>,
    /// Path to directory containing the web UI resources.
    #[arg(long = "ui-dir", value_name = "value", allow_hyphen_values = true)]
    pub ui_dir: Option<String>,

    /// `-config-file` and `-config-dir` arguments interleaved in command-line order (the
    /// order Consul reads them in). Filled by [`AgentFlags::parse_from_go_args`].
    #[arg(skip)]
    pub config_paths: Vec<ConfigPath>,
}

impl AgentFlags {
    /// Parse the arguments that follow `cairn agent` (without the program name or the
    /// subcommand), Go style: `-flag`, `-flag=value`, `-flag value`, `--flag` all work.
    ///
    /// `-h`/`-help`/`--help` yields [`ConfigError::HelpRequested`] with Consul-style usage;
    /// other problems yield [`ConfigError::Flags`] with a one-line message.
    pub fn parse_from_go_args<I, S>(args: I) -> Result<AgentFlags, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut command = AgentFlags::command();
        command.build();
        let value_flags: Vec<String> = command
            .get_arguments()
            .filter(|a| a.get_num_args().is_some_and(|n| n.min_values() >= 1))
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect();
        let value_refs: Vec<&str> = value_flags.iter().map(String::as_str).collect();
        let argv =
            std::iter::once("cairn agent".to_owned()).chain(args.into_iter().map(Into::into));
        let normalized = normalize_args(argv, &value_refs);
        let matches = command
            .try_get_matches_from(normalized)
            .map_err(flag_error)?;
        let mut flags = AgentFlags::from_arg_matches(&matches).map_err(flag_error)?;
        if flags.help {
            return Err(ConfigError::HelpRequested(help_text()));
        }
        flags.config_paths = ordered_paths(&matches);
        Ok(flags)
    }

    /// Whether `-dev` is on.
    pub fn dev_mode(&self) -> bool {
        self.dev.unwrap_or(false)
    }
}

/// `-config-file` and `-config-dir` values merged by their position on the command line.
fn ordered_paths(matches: &clap::ArgMatches) -> Vec<ConfigPath> {
    let mut indexed: Vec<(usize, ConfigPath)> = Vec::new();
    for (id, make) in [
        ("config_file", ConfigPath::File as fn(String) -> ConfigPath),
        ("config_dir", ConfigPath::Dir as fn(String) -> ConfigPath),
    ] {
        if let (Some(values), Some(indices)) =
            (matches.get_many::<String>(id), matches.indices_of(id))
        {
            for (value, index) in values.zip(indices) {
                indexed.push((index, make(value.clone())));
            }
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, p)| p).collect()
}

/// A clap error as Go's flag package words it, on one line.
fn flag_error(e: clap::Error) -> ConfigError {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let single_dash = |s: String| match s.strip_prefix("--") {
        Some(rest) => format!("-{rest}"),
        None => s,
    };
    let message = match e.kind() {
        ErrorKind::UnknownArgument => match context(ContextKind::InvalidArg) {
            Some(arg) if arg.starts_with('-') => {
                let name = arg.split('=').next().unwrap_or(&arg).to_owned();
                format!("flag provided but not defined: {}", single_dash(name))
            }
            Some(arg) => format!("unexpected argument: {arg}"),
            None => first_line(&e),
        },
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            match (
                context(ContextKind::InvalidArg),
                context(ContextKind::InvalidValue),
            ) {
                (Some(arg), Some(value)) if value.is_empty() => {
                    let name = arg.split([' ', '=', '[']).next().unwrap_or(&arg).to_owned();
                    format!("flag needs an argument: {}", single_dash(name))
                }
                (Some(arg), Some(value)) => {
                    let name = arg.split([' ', '=', '[']).next().unwrap_or(&arg).to_owned();
                    format!(
                        "invalid value {value:?} for flag {}: parse error",
                        single_dash(name)
                    )
                }
                _ => first_line(&e),
            }
        }
        ErrorKind::NoEquals => match context(ContextKind::InvalidArg) {
            Some(arg) => format!(
                "flag {} takes its value with '=' (e.g. {}=true)",
                single_dash(arg.split(' ').next().unwrap_or(&arg).to_owned()),
                single_dash(arg.split(' ').next().unwrap_or(&arg).to_owned())
            ),
            None => first_line(&e),
        },
        _ => first_line(&e),
    };
    ConfigError::Flags(message)
}

fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ")
        .unwrap_or(line)
        .replace("'--", "'-")
}
