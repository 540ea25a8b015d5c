//! `cairn agent` flag parsing: every form Consul users type.

use cairn_config::{AgentFlags, ConfigError, ConfigPath};

fn parse(args: &[&str]) -> AgentFlags {
    match AgentFlags::parse_from_go_args(args.iter().copied()) {
        Ok(f) => f,
        Err(e) => panic!("{args:?}: {e}"),
    }
}

fn parse_err(args: &[&str]) -> String {
    match AgentFlags::parse_from_go_args(args.iter().copied()) {
        Ok(f) => panic!("{args:?} parsed: {f:?}"),
        Err(ConfigError::Flags(m)) => m,
        Err(other) => panic!("{args:?}: unexpected {other:?}"),
    }
}

#[test]
fn issue_examples_single_dash() {
    let f = parse(&[
        "-server",
        "-bootstrap-expect=1",
        "-data-dir=D",
        "-node=s1",
        "-bind=127.0.0.1",
        "-client=0.0.0.0",
    ]);
    assert_eq!(f.server, Some(true));
    assert_eq!(f.bootstrap_expect, Some(1));
    assert_eq!(f.data_dir.as_deref(), Some("D"));
    assert_eq!(f.node.as_deref(), Some("s1"));
    assert_eq!(f.bind.as_deref(), Some("127.0.0.1"));
    assert_eq!(f.client.as_deref(), Some("0.0.0.0"));

    let f = parse(&[
        "-bootstrap-expect",
        "1",
        "-rejoin",
        "-config-dir=/etc/consul.d/",
        "-client",
        "0.0.0.0",
        "-ui",
        "-enable-script-checks=true",
        "-datacenter",
        "dc1",
        "-log-level",
        "debug",
    ]);
    assert_eq!(f.bootstrap_expect, Some(1));
    assert_eq!(f.rejoin, Some(true));
    assert_eq!(f.config_dir, vec!["/etc/consul.d/"]);
    assert_eq!(f.client.as_deref(), Some("0.0.0.0"));
    assert_eq!(f.ui, Some(true));
    assert_eq!(f.enable_script_checks, Some(true));
    assert_eq!(f.datacenter.as_deref(), Some("dc1"));
    assert_eq!(f.log_level.as_deref(), Some("debug"));
    assert_eq!(f.server, None);
}

#[test]
fn double_dash_forms_are_the_same() {
    let single = parse(&["-dev", "-node=a", "-http-port", "8501", "-ui"]);
    let double = parse(&["--dev", "--node=a", "--http-port", "8501", "--ui"]);
    assert_eq!(single, double);
    assert_eq!(double.dev, Some(true));
    assert_eq!(double.http_port, Some(8501));
}

#[test]
fn go_bool_syntax() {
    for t in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(parse(&[&format!("-server={t}")]).server, Some(true), "{t}");
    }
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse(&[&format!("-server={f}")]).server, Some(false), "{f}");
    }
    let e = parse_err(&["-server=yes"]);
    assert_eq!(e, "invalid value \"yes\" for flag -server: parse error");
    // Go's bool flags never take the next argument as their value.
    assert_eq!(
        parse_err(&["-server", "false"]),
        "unexpected argument: false"
    );
}

#[test]
fn repeatable_flags_and_last_wins() {
    let f = parse(&[
        "-retry-join=a",
        "-retry-join",
        "b:8301",
        "-recursor=8.8.8.8",
        "-recursor",
        "1.1.1.1",
        "-node-meta",
        "rack:r1",
        "-node-meta=zone:z:1",
        "-node=x",
        "-node=y",
        "-hcl",
        "ui_config { enabled = true }",
        "-hcl=log_level = \"warn\"",
    ]);
    assert_eq!(f.retry_join, vec!["a", "b:8301"]);
    assert_eq!(f.recursor, vec!["8.8.8.8", "1.1.1.1"]);
    assert_eq!(f.node_meta, vec!["rack:r1", "zone:z:1"]);
    assert_eq!(f.node.as_deref(), Some("y"));
    assert_eq!(f.hcl.len(), 2);
    let v = f.to_config_value();
    assert_eq!(v["node_meta"]["zone"], "z:1");
    assert_eq!(v["node_name"], "y");
    assert_eq!(v["recursors"][1], "1.1.1.1");
}

#[test]
fn config_paths_keep_command_line_order() {
    let f = parse(&[
        "-config-dir=/d1",
        "-config-file",
        "/f1.json",
        "-config-dir",
        "/d2",
        "-config-file=/f2.hcl",
    ]);
    assert_eq!(
        f.config_paths,
        vec![
            ConfigPath::Dir("/d1".into()),
            ConfigPath::File("/f1.json".into()),
            ConfigPath::Dir("/d2".into()),
            ConfigPath::File("/f2.hcl".into()),
        ]
    );
}

#[test]
fn negative_ports_and_hyphen_values() {
    let f = parse(&[
        "-dns-port",
        "-1",
        "-https-port=-1",
        "-grpc-port",
        "8502",
        "-datacenter",
        "-x",
    ]);
    assert_eq!(f.dns_port, Some(-1));
    assert_eq!(f.https_port, Some(-1));
    assert_eq!(f.grpc_port, Some(8502));
    assert_eq!(f.datacenter.as_deref(), Some("-x"));
    let v = f.to_config_value();
    assert_eq!(v["ports"]["dns"], -1);
    assert_eq!(v["ports"]["grpc"], 8502);
}

#[test]
fn errors_read_like_go() {
    assert_eq!(
        parse_err(&["-bogus"]),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        parse_err(&["-bogus=1"]),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        parse_err(&["-http-port=eighty"]),
        "invalid value \"eighty\" for flag -http-port: parse error"
    );
    assert_eq!(parse_err(&["-node"]), "flag needs an argument: -node");
    assert_eq!(parse_err(&["stray"]), "unexpected argument: stray");
}

#[test]
fn help_is_consul_shaped() {
    for h in ["-h", "-help", "--help"] {
        match AgentFlags::parse_from_go_args([h]) {
            Err(ConfigError::HelpRequested(text)) => {
                assert!(text.starts_with("Usage: cairn agent [options]\n"), "{text}");
                assert!(text.contains("\n  -bootstrap-expect=<value>\n"), "{text}");
                assert!(text.contains("\n  -server\n     Switches agent to server mode.\n"));
                assert!(text.contains("\n  -node-meta=<key:value>\n"));
                assert!(!text.contains("--"), "{text}");
                let advertise = text.find("\n  -advertise=").unwrap();
                let advertise_wan = text.find("\n  -advertise-wan=").unwrap();
                assert!(advertise < advertise_wan, "sorted by flag name");
                assert!(text.contains("HTTPS and gRPC (if configured).\n"));
            }
            other => panic!("{h}: {other:?}"),
        }
    }
}

#[test]
fn every_listed_flag_exists() {
    // The flags of consul-surface §5.1 and the issue, with a value where they take one.
    let args = [
        "-dev",
        "-ui",
        "-ui-dir=/u",
        "-ui-content-path=/ui/",
        "-config-file=a.json",
        "-config-dir=d",
        "-config-format=json",
        "-data-dir=/d",
        "-node=n",
        "-node-id=x",
        "-datacenter=dc1",
        "-domain=consul.",
        "-alt-domain=alt.",
        "-bind=0.0.0.0",
        "-advertise=10.0.0.1",
        "-advertise-wan=1.2.3.4",
        "-client=127.0.0.1",
        "-serf-lan-bind=0.0.0.0",
        "-serf-wan-bind=0.0.0.0",
        "-serf-lan-port=8301",
        "-serf-wan-port=8302",
        "-server-port=8300",
        "-http-port=8500",
        "-https-port=-1",
        "-dns-port=8600",
        "-grpc-port=-1",
        "-grpc-tls-port=-1",
        "-server",
        "-bootstrap",
        "-bootstrap-expect=3",
        "-join=a",
        "-retry-join=b",
        "-retry-interval=30s",
        "-retry-max=0",
        "-rejoin",
        "-join-wan=c",
        "-retry-join-wan=d",
        "-retry-interval-wan=30s",
        "-retry-max-wan=0",
        "-encrypt=k",
        "-enable-script-checks",
        "-enable-local-script-checks",
        "-log-level=info",
        "-log-json",
        "-log-file=/l",
        "-log-rotate-bytes=1",
        "-log-rotate-duration=24h",
        "-log-rotate-max-files=1",
        "-syslog",
        "-pid-file=/p",
        "-node-meta=k:v",
        "-recursor=8.8.8.8",
        "-disable-host-node-id",
        "-disable-keyring-file",
        "-raft-protocol=3",
        "-protocol=2",
        "-segment=s",
        "-hcl=a = 1",
        "-default-query-time=300s",
        "-max-query-time=600s",
        "-check_output_max_size=4096",
        "-allow-write-http-from=10.0.0.0/8",
        "-serf-lan-allowed-cidrs=10.0.0.0/8",
        "-serf-wan-allowed-cidrs=10.0.0.0/8",
        "-primary-gateway=g",
        "-auto-reload-config",
        "-read-replica",
        "-non-voting-server",
    ];
    let f = parse(&args);
    assert_eq!(f.bootstrap_expect, Some(3));
    assert_eq!(f.check_output_max_size, Some(4096));
}
