//! Validation: every rule names the source and the key, with Consul's wording.

mod common;

use cairn_config::{load, validate_paths, AgentFlags, ConfigError, Format};
use common::*;

/// Load `text` as `bad.json` (plus flags) and return the error.
fn invalid(args: &[&str], text: &str) -> ConfigError {
    err(load_text(args, "bad.json", Format::Json, text))
}

fn assert_invalid(args: &[&str], text: &str, key: &str, message: &str) {
    let e = invalid(args, text);
    assert_eq!(e.key(), Some(key), "{e}");
    assert_eq!(e.to_string(), message, "{text}");
}

#[test]
fn data_dir_is_required_outside_dev() {
    let e = err(load_args(&["-server"]));
    assert_eq!(e.to_string(), "data_dir cannot be empty");
    assert_eq!(e.key(), Some("data_dir"));
    ok(load_args(&["-dev"]));

    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "not-a-dir", "");
    let e = err(load_args(&[&format!("-data-dir={file}")]));
    assert_eq!(
        e.to_string(),
        format!("command line: data_dir {file:?} is not a directory")
    );
}

#[test]
fn server_and_bootstrap_rules() {
    let d = "-data-dir=/tmp/d";
    assert_invalid(
        &[d],
        r#"{"server": true, "bootstrap": true, "bootstrap_expect": 3}"#,
        "bootstrap_expect",
        "bad.json: 'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
    );
    assert_invalid(
        &[d],
        r#"{"bootstrap_expect": 3}"#,
        "bootstrap_expect",
        "bad.json: 'bootstrap_expect > 0' requires 'server = true'",
    );
    assert_invalid(
        &[d],
        r#"{"bootstrap": true}"#,
        "bootstrap",
        "bad.json: 'bootstrap = true' requires 'server = true'",
    );
    assert_invalid(
        &[d],
        r#"{"server": true, "bootstrap_expect": -1}"#,
        "bootstrap_expect",
        "bad.json: bootstrap_expect cannot be -1. Must be greater than or equal to zero",
    );
    assert_invalid(
        &["-dev"],
        r#"{"bootstrap_expect": 3}"#,
        "bootstrap_expect",
        "bad.json: 'bootstrap_expect > 0' not allowed in dev mode",
    );
    // A flag is blamed on the command line.
    let e = err(load_args(&[d, "-bootstrap-expect=3"]));
    assert_eq!(
        e.to_string(),
        "command line: 'bootstrap_expect > 0' requires 'server = true'"
    );
}

#[test]
fn bootstrap_expect_warnings() {
    let d = "-data-dir=/tmp/d";
    let (c, w) = ok(load_args(&[
        "-server",
        "-bootstrap-expect=1",
        d,
        "-node=s1",
        "-bind=127.0.0.1",
        "-client=0.0.0.0",
    ]));
    assert!(c.bootstrap);
    assert_eq!(c.bootstrap_expect, 0);
    assert!(
        w.contains(&"BootstrapExpect is set to 1; this is the same as Bootstrap mode.".to_owned())
    );
    assert!(w.contains(&"bootstrap = true: do not enable unless necessary".to_owned()));

    let (c, w) = ok(load_args(&["-server", "-bootstrap-expect=2", d]));
    assert_eq!(c.bootstrap_expect, 2);
    assert!(w
        .iter()
        .any(|w| w.starts_with("bootstrap_expect = 2: A cluster with 2 servers")));
    let (_, w) = ok(load_args(&["-server", "-bootstrap-expect=4", d]));
    assert!(w
        .iter()
        .any(|w| w.starts_with("bootstrap_expect is even number")));
    assert!(w.contains(&"bootstrap_expect > 0: expecting 4 servers".to_owned()));
    let (_, w) = ok(load_args(&["-server", "-bootstrap-expect=3", d]));
    assert_eq!(w, vec!["bootstrap_expect > 0: expecting 3 servers"]);
}

#[test]
fn names_ports_and_addresses() {
    let dev = &["-dev"][..];
    assert_invalid(
        dev,
        r#"{"datacenter": "dc 1"}"#,
        "datacenter",
        "bad.json: datacenter can only contain lowercase alphanumeric, - or _ characters. received: \"dc 1\"",
    );
    assert_invalid(
        dev,
        r#"{"ports": {"http": 70000}}"#,
        "ports.http",
        "bad.json: ports.http: invalid port: 70000",
    );
    assert_invalid(
        dev,
        r#"{"ports": {"server": -1}}"#,
        "ports.server",
        "bad.json: server-port must be greater than zero",
    );
    assert_invalid(
        dev,
        r#"{"ports": {"serf_lan": 0}}"#,
        "ports.serf_lan",
        "bad.json: serf-lan-port must be greater than zero",
    );
    assert_invalid(
        dev,
        r#"{"ports": {"dns": 8500}}"#,
        "ports.http",
        "HTTP address 127.0.0.1:8500 already configured for DNS",
    );
    assert_invalid(
        dev,
        r#"{"bind_addr": "{{ GetPrivateIP }}"}"#,
        "bind_addr",
        "bad.json: bind_addr: go-sockaddr templates are not supported by Cairn: \"{{ GetPrivateIP }}\"; give literal addresses",
    );
    assert_invalid(
        dev,
        r#"{"bind_addr": "10.0.0.1 10.0.0.2"}"#,
        "bind_addr",
        "bad.json: bind_addr cannot contain multiple addresses. Use 'addresses.{dns,http,https}' instead.",
    );
    assert_invalid(
        dev,
        r#"{"advertise_addr": "0.0.0.0"}"#,
        "advertise_addr",
        "bad.json: Advertise address cannot be 0.0.0.0, :: or [::]",
    );
    assert_invalid(
        dev,
        r#"{"client_addr": "localhost"}"#,
        "client_addr",
        "bad.json: client_addr: invalid ip address: localhost",
    );
    assert_invalid(
        dev,
        r#"{"recursors": ["0.0.0.0"]}"#,
        "recursors",
        "bad.json: DNS recursor address cannot be 0.0.0.0, :: or [::]",
    );
    assert_invalid(
        dev,
        r#"{"alt_domain": "service.example."}"#,
        "alt_domain",
        "bad.json: alt_domain cannot start with {service,connect,node,query,addr,dc1}",
    );
    assert_invalid(
        dev,
        r#"{"node_id": "not-a-uuid"}"#,
        "node_id",
        "bad.json: node_id: \"not-a-uuid\" is not a valid UUID (36 hex characters in 8-4-4-4-12 form)",
    );
}

#[test]
fn tuning_values() {
    let dev = &["-dev"][..];
    assert_invalid(
        dev,
        r#"{"performance": {"raft_multiplier": 11}}"#,
        "performance.raft_multiplier",
        "bad.json: performance.raft_multiplier cannot be 11. Must be between 1 and 10",
    );
    assert_invalid(
        dev,
        r#"{"raft_protocol": 2}"#,
        "raft_protocol",
        "bad.json: raft_protocol version 2 is not supported by this version of Cairn",
    );
    assert_invalid(
        dev,
        r#"{"log_level": "loud"}"#,
        "log_level",
        "bad.json: Invalid log level: loud. Valid log levels are: [TRACE DEBUG INFO WARN ERR]",
    );
    assert_invalid(
        dev,
        r#"{"dns_config": {"udp_answer_limit": -1}}"#,
        "dns_config.udp_answer_limit",
        "bad.json: dns_config.udp_answer_limit cannot be -1. Must be greater than or equal to zero",
    );
    assert_invalid(
        dev,
        r#"{"dns_config": {"recursor_strategy": "fastest"}}"#,
        "dns_config.recursor_strategy",
        "bad.json: dns_config.recursor_strategy: invalid strategy: \"fastest\"",
    );
    assert_invalid(
        dev,
        r#"{"check_output_max_size": 0}"#,
        "check_output_max_size",
        "bad.json: check_output_max_size must be positive, to discard check output use the discard_check_output flag",
    );
    assert_invalid(
        dev,
        r#"{"http_config": {"allow_write_http_from": ["10.0.0.0/40"]}}"#,
        "http_config.allow_write_http_from",
        "bad.json: allow_write_http_from: invalid cidr: 10.0.0.0/40",
    );
    assert_invalid(
        &["-data-dir=/d"],
        r#"{"ui_config": {"enabled": true, "dir": "/ui"}}"#,
        "ui_config.dir",
        "bad.json: Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only one.\n\
         If trying to use your own web UI resources, use ui_config.dir or the -ui-dir flag.\n\
         The web UI is included in the binary so use ui_config.enabled or the -ui flag to enable it",
    );
}

#[test]
fn encrypt_key_and_node_meta() {
    let dev = &["-dev"][..];
    let e = invalid(dev, r#"{"encrypt": "not base64!"}"#);
    assert!(
        e.to_string()
            .starts_with("bad.json: encrypt has invalid key: "),
        "{e}"
    );
    assert_invalid(
        dev,
        r#"{"encrypt": "c2hvcnQ="}"#,
        "encrypt",
        "bad.json: encrypt has invalid key: key size must be 16, 24 or 32 bytes, got 5",
    );
    let key = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
    let (c, _) = ok(load_text(
        dev,
        "k.json",
        Format::Json,
        &format!("{{\"encrypt\": \"{key}\"}}"),
    ));
    assert_eq!(c.encrypt.key_bytes.as_ref().map(Vec::len), Some(32));
    assert_eq!(c.encrypt.key.as_deref(), Some(key));

    assert_invalid(
        dev,
        r#"{"node_meta": {"consul-x": "1"}}"#,
        "node_meta",
        "bad.json: node_meta invalid: Couldn't load metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use",
    );
    let e = err(load_args(&["-dev", "-node-meta=bad key:v"]));
    assert_eq!(
        e.to_string(),
        "command line: node_meta invalid: Couldn't load metadata pair ('bad key', 'v'): Key contains invalid characters"
    );
}

#[test]
fn services_and_checks() {
    let dev = &["-dev"][..];
    assert_invalid(
        dev,
        r#"{"services": [{"port": 80}]}"#,
        "services",
        "bad.json: service \"\": missing service name",
    );
    assert_invalid(
        dev,
        r#"{"service": {"name": "w", "check": {"http": "http://x/"}}}"#,
        "services",
        "bad.json: service \"w\": Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
    );
    assert_invalid(
        dev,
        r#"{"service": {"name": "w", "weights": {"passing": 0}}}"#,
        "services",
        "bad.json: service \"w\": Invalid weight definition for service w: Passing must be greater than 0",
    );
    assert_invalid(
        dev,
        r#"{"check": {"name": "c", "ttl": "10s", "interval": "10s"}}"#,
        "checks",
        "bad.json: check \"c\": Interval and TTL cannot both be specified",
    );
    assert_invalid(
        dev,
        r#"{"check": {"name": "c", "ttl": "10s", "status": "fine"}}"#,
        "checks",
        "bad.json: check \"c\": Invalid check status: \"fine\"",
    );
    // Weights not given default to 1 in config files.
    let (c, _) = ok(load_text(
        dev,
        "w.json",
        Format::Json,
        r#"{"service": {"name": "w", "weights": {"warning": 3}}}"#,
    ));
    let w = c.services[0].registration.weights.unwrap();
    assert_eq!((w.passing, w.warning), (1, 3));
}

#[test]
fn load_checks_config_format_and_validate_paths() {
    let mut f = AgentFlags::parse_from_go_args(["-dev", "-config-format=yaml"]).unwrap();
    let e = load(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config: -config-format must be either 'hcl' or 'json'"
    );
    f.config_format = None;
    let (c, _) = load(&f).unwrap();
    assert!(c.dev_mode);
    assert!(!c.node_name.is_empty());

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.json",
        r#"{"data_dir": "/tmp/d", "server": true}"#,
    );
    let paths = vec![dir.path().to_string_lossy().into_owned()];
    assert!(validate_paths(&paths, None).is_ok());
    write(
        dir.path(),
        "b.hcl",
        "bootstrap_expect = 0\nports { http = \"x\" }",
    );
    let e = validate_paths(&paths, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("b.hcl: ports.http: expected an integer"),
        "{e}"
    );
}
