//! Defaults of a plain agent and of `-dev`.

mod common;

use cairn_config::{ListenAddr, LogLevel};
use common::*;
use std::net::IpAddr;
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn dev_mode_defaults() {
    let (c, w) = ok(load_args(&["-dev"]));
    assert!(w.is_empty(), "{w:?}");
    assert!(c.dev_mode);
    assert!(c.server);
    assert!(c.bootstrap);
    assert_eq!(c.bootstrap_expect, 0);
    assert_eq!(c.data_dir, None);
    assert_eq!(c.node_name, HOST);
    assert_eq!(c.datacenter, "dc1");
    assert_eq!(c.bind_addr, ip("127.0.0.1"));
    assert_eq!(c.advertise_addr_lan, Some(ip("127.0.0.1")));
    assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Tcp("127.0.0.1:8500".parse().unwrap())]
    );
    assert_eq!(c.dns_addrs, vec!["127.0.0.1:8600".parse().unwrap()]);
    assert_eq!(c.ports.grpc, Some(8502));
    assert_eq!(c.grpc_addrs, vec!["127.0.0.1:8502".parse().unwrap()]);
    assert!(c.ui.enabled);
    assert_eq!(c.ui.content_path, "/ui/");
    assert_eq!(c.log.level, LogLevel::Debug);
    assert_eq!(c.raft.multiplier, 1);
    assert_eq!(c.raft.election_timeout, Duration::from_millis(52));
    assert_eq!(c.raft.heartbeat_timeout, Duration::from_millis(35));
    assert_eq!(c.gossip_lan.gossip_interval, Duration::from_millis(100));
    assert_eq!(c.gossip_lan.suspicion_mult, 3);
    assert!(c.encrypt.disable_keyring_file);
    assert!(c.enable_debug);
    // Servers stay in the cluster on SIGTERM and skip the leave on SIGINT.
    assert!(!c.join.leave_on_terminate);
    assert!(c.join.skip_leave_on_interrupt);
}

#[test]
fn dev_defaults_yield_to_files_and_flags() {
    let (c, _) = ok(load_text(
        &["-dev", "-bind=127.0.0.2", "-client=0.0.0.0"],
        "over.hcl",
        cairn_config::Format::Hcl,
        "ui_config { enabled = false }\nports { grpc = -1 }\nlog_level = \"info\"",
    ));
    assert!(!c.ui.enabled);
    assert_eq!(c.ports.grpc, None);
    assert_eq!(c.log.level, LogLevel::Info);
    assert_eq!(c.bind_addr, ip("127.0.0.2"));
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Tcp("0.0.0.0:8500".parse().unwrap())]
    );
}

#[test]
fn client_agent_defaults() {
    let (c, w) = ok(load_args(&["-data-dir=/var/lib/cairn"]));
    assert!(w.is_empty(), "{w:?}");
    assert!(!c.dev_mode && !c.server && !c.bootstrap);
    assert_eq!(
        c.data_dir.as_deref(),
        Some(std::path::Path::new("/var/lib/cairn"))
    );
    assert_eq!(c.node_name, HOST);
    assert_eq!(c.node_id, None);
    assert!(c.disable_host_node_id);
    assert_eq!(c.bind_addr, ip("0.0.0.0"));
    // Bound to every interface: the agent must pick the address to advertise.
    assert_eq!(c.advertise_addr_lan, None);
    assert_eq!(c.serf_bind_addr_lan, ip("0.0.0.0"));
    assert_eq!(
        (c.ports.dns, c.ports.http, c.ports.https, c.ports.grpc),
        (Some(8600), Some(8500), None, None)
    );
    assert_eq!(
        (c.ports.serf_lan, c.ports.serf_wan, c.ports.server),
        (8301, Some(8302), 8300)
    );
    assert_eq!(c.dns.domain, "consul.");
    assert_eq!(c.dns.alt_domain, None);
    assert!(c.dns.allow_stale);
    assert_eq!(c.dns.max_stale, Duration::from_secs(87600 * 3600));
    assert_eq!(c.dns.udp_answer_limit, 3);
    assert_eq!(c.dns.a_record_limit, 0);
    assert!(c.dns.node_meta_txt);
    assert_eq!(c.dns.soa.refresh, 3600);
    assert_eq!(c.dns.recursor_timeout, Duration::from_secs(2));
    assert_eq!(c.session_ttl_min, Duration::from_secs(10));
    assert_eq!(c.default_query_time, Duration::from_secs(300));
    assert_eq!(c.max_query_time, Duration::from_secs(600));
    assert_eq!(c.limits.kv_max_value_size, 524_288);
    assert_eq!(c.limits.txn_max_req_len, 524_288);
    assert_eq!(c.limits.rpc_hold_timeout, Duration::from_secs(7));
    assert_eq!(c.limits.rpc_rate, None);
    assert_eq!(c.http.max_conns_per_client, 200);
    assert_eq!(c.raft.multiplier, 5);
    assert_eq!(c.raft.election_timeout, Duration::from_secs(5));
    assert_eq!(c.raft.leader_lease_timeout, Duration::from_millis(2500));
    assert_eq!(c.raft.snapshot_threshold, 16384);
    assert_eq!(c.raft.trailing_logs, 10240);
    assert_eq!(c.gossip_wan.probe_interval, Duration::from_secs(5));
    assert_eq!(c.join.reconnect_timeout, Duration::from_secs(72 * 3600));
    assert_eq!(c.join.retry_interval, Duration::from_secs(30));
    assert!(c.join.leave_on_terminate);
    assert!(!c.join.skip_leave_on_interrupt);
    assert!(!c.enable_remote_script_checks && !c.enable_local_script_checks);
    assert_eq!(c.check_output_max_size, 4096);
    assert_eq!(c.log.level, LogLevel::Info);
    assert!(!c.ui.enabled);
    assert!(!c.acl.enabled);
    assert_eq!(c.acl.default_policy, "allow");
    assert_eq!(c.acl.down_policy, "extend-cache");
    assert_eq!(c.acl.token_ttl, Duration::from_secs(30));
    assert!(c.disable_remote_exec);
    assert!(c.encrypt.verify_incoming && c.encrypt.verify_outgoing);
    assert_eq!(c.raft_protocol, 3);
}

#[test]
fn issue_server_example() {
    let (c, _) = ok(load_args(&[
        "-server",
        "-bootstrap-expect=1",
        "-data-dir=D",
        "-node=s1",
        "-bind=127.0.0.1",
        "-client=0.0.0.0",
    ]));
    assert!(c.server && c.bootstrap && !c.dev_mode);
    assert_eq!(c.node_name, "s1");
    assert_eq!(c.data_dir.as_deref(), Some(std::path::Path::new("D")));
    assert_eq!(c.advertise_addr_lan, Some(ip("127.0.0.1")));
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Tcp("0.0.0.0:8500".parse().unwrap())]
    );
    assert_eq!(c.dns_addrs, vec!["0.0.0.0:8600".parse().unwrap()]);
}

#[test]
fn ipv6_addresses_and_domains() {
    let (c, _) = ok(load_args(&[
        "-dev",
        "-bind=::1",
        "-client=[::1] 127.0.0.1",
        "-advertise-wan=2001:db8::1",
        "-domain=example",
        "-alt-domain=alt.example.",
    ]));
    assert_eq!(c.bind_addr, ip("::1"));
    assert_eq!(c.client_addrs, vec![ip("::1"), ip("127.0.0.1")]);
    assert_eq!(c.advertise_addr_wan, Some(ip("2001:db8::1")));
    assert_eq!(
        c.http_addrs[0],
        ListenAddr::Tcp("[::1]:8500".parse().unwrap())
    );
    assert_eq!(c.dns.domain, "example.");
    assert_eq!(c.dns.alt_domain.as_deref(), Some("alt.example."));
}

#[test]
fn unix_socket_http_listener() {
    let (c, _) = ok(load_text(
        &["-dev"],
        "sock.json",
        cairn_config::Format::Json,
        r#"{"addresses": {"http": "unix:///tmp/cairn.sock"}}"#,
    ));
    assert_eq!(
        c.http_addrs,
        vec![ListenAddr::Unix("/tmp/cairn.sock".into())]
    );
    assert_eq!(c.http_addrs[0].to_string(), "unix:///tmp/cairn.sock");
}

#[test]
fn dev_config_helper_applies_extra_hcl_last() {
    let c = cairn_config::dev_config("n1", "ports { http = 18500 dns = -1 }").unwrap();
    assert!(c.dev_mode && c.server && c.bootstrap);
    assert_eq!(c.node_name, "n1");
    assert_eq!(c.ports.http, Some(18500));
    assert_eq!(c.ports.dns, None);
    let e = cairn_config::dev_config("n1", "ports { http = \"x\" }").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error parsing flags-0.hcl: ports.http: expected an integer, got \"x\""
    );
}
