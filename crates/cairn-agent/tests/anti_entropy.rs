//! Anti-entropy against a real single server.

use cairn_agent::local::sync::{sync_once, SyncConfig};
use cairn_agent::local::{LocalCheck, LocalService, LocalState, Source};
use cairn_agent::{LeaderDuties, Server, ServerOptions, StoreKind};
use cairn_catalog::{Command, RegisterRequest};
use cairn_consensus::RaftConfig;
use cairn_types::{AgentService, CheckStatus, HealthCheck, Node};
use std::time::Duration;

fn node() -> Node {
    Node {
        id: "0c7a5c49-9a1c-4b7c-9d3f-7e2f36a1b001".into(),
        node: "s1".into(),
        address: "127.0.0.1".into(),
        datacenter: "dc1".into(),
        ..Node::default()
    }
}

async fn server() -> Server {
    let mut raft = RaftConfig::new(1);
    raft.tick_interval = Duration::from_millis(20);
    let opts = ServerOptions {
        raft,
        rpc_addr: "127.0.0.1:8300".into(),
        store: StoreKind::Memory,
        bootstrap: true,
        rpc_hold_timeout: Duration::from_secs(3),
    };
    let duties = LeaderDuties {
        node: node(),
        server_port: 8300,
        tombstone_ttl: Duration::from_secs(900),
        housekeeping_interval: Duration::from_secs(1),
        members: None,
        reconcile_interval: Duration::from_secs(60),
        autopilot: Default::default(),
    };
    let s = Server::start(opts, duties).await.unwrap();
    for _ in 0..200 {
        if s.reader().view().node_check("s1", "serfHealth").0.is_some() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server never registered itself");
}

fn web(tags: &[&str], override_tags: bool) -> LocalService {
    LocalService {
        service: AgentService {
            id: "web1".into(),
            service: "web".into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            port: 80,
            enable_tag_override: override_tags,
            ..AgentService::default()
        },
        token: String::new(),
        source: Source::Api,
    }
}

fn check(status: CheckStatus) -> LocalCheck {
    LocalCheck {
        check: HealthCheck {
            check_id: "service:web1".into(),
            name: "Service 'web' check".into(),
            service_id: "web1".into(),
            service_name: "web".into(),
            status,
            check_type: "ttl".into(),
            ..HealthCheck::default()
        },
        definition: None,
        token: String::new(),
        source: Source::Api,
    }
}

fn cfg() -> SyncConfig {
    SyncConfig {
        node: node(),
        foreign_services: vec!["consul".into()],
        foreign_checks: vec!["serfHealth".into()],
        interval: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_local_state_and_removes_strays() {
    let server = server().await;
    let state = LocalState::new(None);
    state.add_service(web(&["v1"], false)).unwrap();
    state.add_check(check(CheckStatus::Critical)).unwrap();

    assert!(sync_once(&cfg(), &state, &server).await.unwrap() > 0);
    let view = server.reader().view();
    assert_eq!(view.node_service("s1", "web1").0.unwrap().tags, vec!["v1"]);
    assert_eq!(
        view.node_check("s1", "service:web1").0.unwrap().status,
        CheckStatus::Critical
    );
    // In sync: a second round writes nothing.
    assert_eq!(sync_once(&cfg(), &state, &server).await.unwrap(), 0);

    // A status change is pushed.
    state.update_check("service:web1", CheckStatus::Passing, "ok");
    assert_eq!(sync_once(&cfg(), &state, &server).await.unwrap(), 1);
    assert_eq!(
        server
            .reader()
            .view()
            .node_check("s1", "service:web1")
            .0
            .unwrap()
            .status,
        CheckStatus::Passing
    );

    // Something registered behind the agent's back on its node is removed; the leader's
    // `consul` service and `serfHealth` are left alone.
    let stray = Command::Register(Box::new(RegisterRequest {
        node: node(),
        service: Some(AgentService {
            id: "stray".into(),
            service: "stray".into(),
            ..AgentService::default()
        }),
        skip_node_update: true,
        ..RegisterRequest::default()
    }));
    server.apply(&stray).await.unwrap();
    sync_once(&cfg(), &state, &server).await.unwrap();
    let view = server.reader().view();
    assert!(view.node_service("s1", "stray").0.is_none());
    assert!(view.node_service("s1", "consul").0.is_some());
    assert!(view.node_check("s1", "serfHealth").0.is_some());

    // Removing the local service removes it and its check from the catalog.
    state.remove_service("web1").unwrap();
    sync_once(&cfg(), &state, &server).await.unwrap();
    let view = server.reader().view();
    assert!(view.node_service("s1", "web1").0.is_none());
    assert!(view.node_check("s1", "service:web1").0.is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_override_keeps_catalog_tags() {
    let server = server().await;
    let state = LocalState::new(None);
    state.add_service(web(&["v1"], true)).unwrap();
    sync_once(&cfg(), &state, &server).await.unwrap();
    // An external tool retags the instance in the catalog.
    let mut retagged = web(&["v2", "canary"], true).service;
    retagged.port = 80;
    server
        .apply(&Command::Register(Box::new(RegisterRequest {
            node: node(),
            service: Some(retagged),
            skip_node_update: true,
            ..RegisterRequest::default()
        })))
        .await
        .unwrap();
    assert_eq!(
        sync_once(&cfg(), &state, &server).await.unwrap(),
        0,
        "tags left alone"
    );
    assert_eq!(
        server
            .reader()
            .view()
            .node_service("s1", "web1")
            .0
            .unwrap()
            .tags,
        vec!["v2", "canary"]
    );
    // Without override, the agent's tags win.
    state.add_service(web(&["v1"], false)).unwrap();
    sync_once(&cfg(), &state, &server).await.unwrap();
    assert_eq!(
        server
            .reader()
            .view()
            .node_service("s1", "web1")
            .0
            .unwrap()
            .tags,
        vec!["v1"]
    );
    server.shutdown().await;
}
