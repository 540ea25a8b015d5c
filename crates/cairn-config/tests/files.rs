//! Config files: JSON and HCL shapes, services and checks, ACL blocks, ports, unknown keys.

mod common;

use cairn_config::{ConfigError, Format, ListenAddr};
use common::*;
use std::time::Duration;

const JSON: &str = r#"{
  "datacenter": "East-1",
  "node_name": "n1",
  "data_dir": "/var/lib/cairn",
  "server": true,
  "bootstrap_expect": 3,
  "bind_addr": "10.0.0.5",
  "client_addr": "127.0.0.1 10.0.0.5",
  "addresses": {"http": "0.0.0.0"},
  "ports": {"http": 8501, "dns": -1, "grpc": 8502},
  "retry_join": ["10.0.0.6", "10.0.0.7"],
  "recursors": ["8.8.8.8"],
  "log_level": "warn",
  "node_meta": {"rack": "r1"},
  "session_ttl_min": "5s",
  "limits": {"http_max_conns_per_client": 500, "kv_max_value_size": 1048576},
  "performance": {"raft_multiplier": 1},
  "dns_config": {"only_passing": true, "service_ttl": {"*": "5s", "web": "30s"}, "udp_answer_limit": 5},
  "http_config": {"response_headers": {"Access-Control-Allow-Origin": "*"}},
  "ui_config": {"enabled": true},
  "acl": {"enabled": true, "default_policy": "deny", "tokens": {"initial_management": "root"}},
  "services": [
    {"name": "web", "port": 80, "tags": ["rails"], "check": {"http": "http://localhost/", "interval": "10s"}},
    {"id": "db1", "name": "db", "port": 5432}
  ],
  "checks": [{"id": "mem", "name": "Memory", "ttl": "30s"}]
}"#;

const HCL: &str = r#"
datacenter = "East-1"
node_name  = "n1"
data_dir   = "/var/lib/cairn"
server     = true
bootstrap_expect = 3
bind_addr   = "10.0.0.5"
client_addr = "127.0.0.1 10.0.0.5"
addresses { http = "0.0.0.0" }
ports { http = 8501 dns = -1 grpc = 8502 }
retry_join = ["10.0.0.6", "10.0.0.7"]
recursors  = ["8.8.8.8"]
log_level  = "warn"
node_meta { rack = "r1" }
session_ttl_min = "5s"
limits {
  http_max_conns_per_client = 500
  kv_max_value_size = 1048576
}
performance { raft_multiplier = 1 }
dns_config {
  only_passing = true
  service_ttl { "*" = "5s", web = "30s" }
  udp_answer_limit = 5
}
http_config { response_headers { "Access-Control-Allow-Origin" = "*" } }
ui_config { enabled = true }
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "root" }
}
services {
  name = "web"
  port = 80
  tags = ["rails"]
  check { http = "http://localhost/" interval = "10s" }
}
services {
  id   = "db1"
  name = "db"
  port = 5432
}
checks { id = "mem" name = "Memory" ttl = "30s" }
"#;

#[test]
fn json_and_hcl_give_the_same_runtime_config() {
    let (from_json, wj) = ok(load_text(&[], "agent.conf", Format::Json, JSON));
    let (from_hcl, wh) = ok(load_text(&[], "agent.conf", Format::Hcl, HCL));
    assert_eq!(from_json, from_hcl);
    assert_eq!(wj, wh);

    let c = from_json;
    assert_eq!(c.datacenter, "east-1");
    assert_eq!(c.node_name, "n1");
    assert!(c.server);
    assert_eq!(c.bootstrap_expect, 3);
    assert_eq!(c.bind_addr.to_string(), "10.0.0.5");
    assert_eq!(
        c.advertise_addr_lan.map(|a| a.to_string()).as_deref(),
        Some("10.0.0.5")
    );
    assert_eq!(c.client_addrs.len(), 2);
    assert_eq!(c.ports.http, Some(8501));
    assert_eq!(c.ports.dns, None);
    assert!(c.dns_addrs.is_empty());
    assert_eq!(c.ports.grpc, Some(8502));
    assert_eq!(c.grpc_addrs.len(), 2);
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Tcp("0.0.0.0:8501".parse().unwrap())]
    );
    assert_eq!(c.join.retry_join, vec!["10.0.0.6", "10.0.0.7"]);
    assert_eq!(c.dns.recursors, vec!["8.8.8.8"]);
    assert_eq!(c.log.level, cairn_config::LogLevel::Warn);
    assert_eq!(c.node_meta["rack"], "r1");
    assert_eq!(c.session_ttl_min, Duration::from_secs(5));
    assert_eq!(c.http.max_conns_per_client, 500);
    assert_eq!(c.limits.kv_max_value_size, 1 << 20);
    assert_eq!(c.raft.multiplier, 1);
    assert_eq!(c.raft.election_timeout, Duration::from_secs(1));
    assert!(c.dns.only_passing);
    assert_eq!(c.dns.service_ttl["*"], Duration::from_secs(5));
    assert_eq!(c.dns.service_ttl["web"], Duration::from_secs(30));
    assert_eq!(c.dns.udp_answer_limit, 5);
    assert_eq!(c.http.response_headers["Access-Control-Allow-Origin"], "*");
    assert!(c.ui.enabled);
    assert!(c.acl.enabled);
    assert_eq!(c.acl.default_policy, "deny");
    assert_eq!(c.acl.initial_management_token.as_deref(), Some("root"));
    assert_eq!(c.services.len(), 2);
    assert_eq!(c.services[0].registration.name, "web");
    let web_checks = c.services[0].registration.check_types().unwrap();
    assert_eq!(web_checks[0].http, "http://localhost/");
    assert_eq!(
        web_checks[0].interval.as_duration(),
        Duration::from_secs(10)
    );
    assert_eq!(c.services[1].registration.service_id(), "db1");
    assert_eq!(c.checks.len(), 1);
    assert_eq!(c.checks[0].check.check_id, "mem");
    assert_eq!(c.checks[0].check.ttl.as_duration(), Duration::from_secs(30));
    assert_eq!(c.checks[0].source, "agent.conf");
}

#[test]
fn tutorial_service_with_script_check() {
    let text = r#"{"service":{"name":"web","tags":["rails"],"port":80,
        "check":{"name":"ping","args":["curl","-s","localhost:80"],"interval":"3s"}}}"#;
    // A script check needs script checks turned on, as in Consul.
    let e = err(load_text(&["-dev"], "web.json", Format::Json, text));
    assert_eq!(
        e.to_string(),
        "web.json: service \"web\": Scripts are disabled on this agent; to enable, configure \
         'enable_script_checks' or 'enable_local_script_checks' to true"
    );
    let (c, w) = ok(load_text(
        &["-dev", "-enable-script-checks=true"],
        "web.json",
        Format::Json,
        text,
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("enable-script-checks without ACLs")),
        "{w:?}"
    );
    let reg = &c.services[0].registration;
    assert_eq!(reg.tags, vec!["rails"]);
    assert_eq!(reg.port, 80);
    let checks = reg.check_types().unwrap();
    assert_eq!(checks[0].name, "ping");
    assert_eq!(checks[0].script_args, vec!["curl", "-s", "localhost:80"]);
    assert_eq!(checks[0].check_id, "service:web");
    assert_eq!(checks[0].interval.as_duration(), Duration::from_secs(3));

    // enable_local_script_checks alone is enough for config-file checks.
    let (c, _) = ok(load_text(
        &["-dev", "-enable-local-script-checks"],
        "web.json",
        Format::Json,
        text,
    ));
    assert!(!c.enable_remote_script_checks);
    assert!(c.enable_local_script_checks);
}

#[test]
fn top_level_checks_list() {
    let text = r#"{"checks":[{"http":"http://localhost:5000/health","interval":"10s"},
                             {"id":"api","name":"API","tcp":"localhost:22","interval":"10s","timeout":"1s"}]}"#;
    let (c, _) = ok(load_text(&["-dev"], "checks.json", Format::Json, text));
    assert_eq!(c.checks.len(), 2);
    assert_eq!(c.checks[0].check.http, "http://localhost:5000/health");
    assert_eq!(c.checks[1].check.tcp, "localhost:22");
    assert_eq!(
        c.checks[1].check.timeout.as_duration(),
        Duration::from_secs(1)
    );
}

#[test]
fn repeated_hcl_services_and_acl_block() {
    let text = r#"
acl {
  enabled        = true
  default_policy = "deny"
  down_policy    = "extend-cache"
  tokens {
    initial_management = "root"
    agent              = "agent-token"
  }
}
services {
  name = "a"
  port = 1000
  check { ttl = "10s" }
}
services {
  id   = "b1"
  name = "b"
  tags = ["x", "y"]
  meta { version = "2" }
  checks = [
    { http = "http://127.0.0.1:1/", interval = "5s" },
    { tcp = "127.0.0.1:1", interval = "5s" },
  ]
}
services {
  name = "c"
  checks { ttl = "1m" }
  check { ttl = "2m" }
  check { ttl = "3m" }
}
"#;
    let (c, w) = ok(load_text(&["-dev"], "harness.hcl", Format::Hcl, text));
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<&str> = c
        .services
        .iter()
        .map(|s| s.registration.name.as_str())
        .collect();
    assert_eq!(names, vec!["a", "b", "c"]);
    assert_eq!(c.acl.agent_token.as_deref(), Some("agent-token"));
    assert_eq!(c.acl.down_policy, "extend-cache");
    let b = &c.services[1].registration;
    assert_eq!(b.meta["version"], "2");
    let b_checks = b.check_types().unwrap();
    assert_eq!(b_checks.len(), 2);
    assert_eq!(b_checks[0].check_id, "service:b1:1");
    assert_eq!(b_checks[1].check_id, "service:b1:2");
    let c_checks = c.services[2].registration.check_types().unwrap();
    let ttls: Vec<u64> = c_checks
        .iter()
        .map(|k| k.ttl.as_duration().as_secs())
        .collect();
    assert_eq!(ttls, vec![120, 60, 180]);
}

#[test]
fn harness_ports_with_minus_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ports.hcl",
        r#"
ports {
  http     = 18500
  dns      = -1
  serf_lan = 18301
  serf_wan = -1
  server   = 18300
  grpc     = -1
  https    = -1
}
"#,
    );
    let arg = format!("-config-file={file}");
    let (c, _) = ok(load_args(&[
        "-dev",
        "-bind=127.0.0.1",
        "-client=127.0.0.1",
        "-node=n1",
        &arg,
    ]));
    assert_eq!(c.ports.http, Some(18500));
    assert_eq!(c.ports.dns, None);
    assert_eq!(c.ports.serf_lan, 18301);
    assert_eq!(c.ports.serf_wan, None);
    assert_eq!(c.ports.server, 18300);
    assert_eq!(c.ports.grpc, None);
    assert_eq!(c.ports.https, None);
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Tcp("127.0.0.1:18500".parse().unwrap())]
    );
    assert!(c.dns_addrs.is_empty() && c.grpc_addrs.is_empty() && c.https_addrs.is_empty());
    assert_eq!(c.node_name, "n1");
}

#[test]
fn unknown_keys_warn_and_loading_continues() {
    let text = r#"{"foo": 1, "ports": {"htp": 1}, "services": [{"name": "w", "colour": "red"}],
                   "telemetry": {"prometheus_retention_time": "1m"}}"#;
    let (c, w) = ok(load_text(
        &["-dev"],
        "/etc/consul.d/a.json",
        Format::Json,
        text,
    ));
    assert_eq!(c.services.len(), 1);
    assert!(
        w.contains(&"config: /etc/consul.d/a.json: unknown key \"foo\"".to_owned()),
        "{w:?}"
    );
    assert!(w.contains(&"config: /etc/consul.d/a.json: unknown key \"ports.htp\"".to_owned()));
    assert!(
        w.contains(&"config: /etc/consul.d/a.json: unknown key \"services[0].colour\"".to_owned())
    );
    assert!(w.contains(
        &"config: /etc/consul.d/a.json: key \"telemetry\" is not supported by Cairn and is ignored"
            .to_owned()
    ));
}

#[test]
fn type_errors_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.json", r#"{"ports": {"http": "x"}}"#);
    let e = err(load_args(&["-dev", &format!("-config-file={file}")]));
    assert_eq!(
        e.to_string(),
        format!("Error parsing {file}: ports.http: expected an integer, got \"x\"")
    );
    assert_eq!(e.key(), Some("ports.http"));
    assert_eq!(e.source_name(), Some(file.as_str()));

    let cases = [
        (
            r#"{"server": "yes"}"#,
            "server: expected a boolean, got \"yes\"",
        ),
        (
            r#"{"retry_join": "a"}"#,
            "retry_join: expected a list, got \"a\"",
        ),
        (
            r#"{"session_ttl_min": "ten"}"#,
            "session_ttl_min: invalid duration: \"ten\"",
        ),
        (
            r#"{"node_meta": {"a": 1}}"#,
            "node_meta.a: expected a string, got 1",
        ),
        (
            r#"{"services": [{"name": "w", "port": "80"}]}"#,
            "services[0].Port:",
        ),
        (
            r#"{"services": [{"name": "w", "check": {"interval": "soon"}}]}"#,
            "services[0].Check.Interval:",
        ),
        (r#"[1]"#, "the top level must be an object"),
        (r#"{"a": "#, "EOF while parsing"),
    ];
    for (text, want) in cases {
        let e = err(load_text(&["-dev"], "b.json", Format::Json, text));
        let shown = e.to_string();
        assert!(shown.starts_with("Error parsing b.json: "), "{shown}");
        assert!(shown.contains(want), "{text}: {shown}");
        assert!(matches!(e, ConfigError::Parse { .. }));
    }
    let e = err(load_text(
        &["-dev"],
        "c.hcl",
        Format::Hcl,
        "ports {\n  http = \n}",
    ));
    assert!(
        e.to_string().starts_with("Error parsing c.hcl: At 3:1:"),
        "{e}"
    );
}

#[test]
fn config_file_with_unknown_extension_needs_a_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "agent.conf", r#"{"node_name": "x"}"#);
    let e = err(load_args(&["-dev", &format!("-config-file={file}")]));
    assert!(
        e.to_string()
            .contains("has unknown extension; must be .hcl or .json"),
        "{e}"
    );
    let (c, _) = ok(load_args(&[
        "-dev",
        "-config-format=json",
        &format!("-config-file={file}"),
    ]));
    assert_eq!(c.node_name, "x");
    let e = err(load_args(&["-dev", "-config-file=/nonexistent/x.json"]));
    assert!(matches!(e, ConfigError::File { .. }), "{e:?}");
}
