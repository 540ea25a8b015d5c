//! A single server: bootstrap, writes, consistency modes and leader duties.

use cairn_agent::{LeaderDuties, Server, ServerOptions, StoreKind};
use cairn_catalog::{ApplyResult, Command};
use cairn_consensus::RaftConfig;
use cairn_types::{Consistency, Node, Session};
use std::time::Duration;

fn options(store: StoreKind) -> ServerOptions {
    let mut raft = RaftConfig::new(7);
    raft.tick_interval = Duration::from_millis(20);
    ServerOptions {
        raft,
        rpc_addr: "127.0.0.1:8300".into(),
        store,
        bootstrap: true,
        rpc_hold_timeout: Duration::from_secs(3),
    }
}

fn duties() -> LeaderDuties {
    LeaderDuties {
        node: Node {
            id: "0c7a5c49-9a1c-4b7c-9d3f-7e2f36a1b001".into(),
            node: "s1".into(),
            address: "127.0.0.1".into(),
            datacenter: "dc1".into(),
            ..Node::default()
        },
        server_port: 8300,
        tombstone_ttl: Duration::from_millis(300),
        housekeeping_interval: Duration::from_millis(100),
        members: None,
        reconcile_interval: Duration::from_secs(60),
        autopilot: Default::default(),
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_registers_itself_and_serves_reads() {
    let server = Server::start(options(StoreKind::Memory), duties())
        .await
        .unwrap();
    eventually("leadership", || server.is_leader()).await;
    assert_eq!(server.leader_addr().as_deref(), Some("127.0.0.1:8300"));
    assert_eq!(
        server.peers().await.unwrap(),
        vec!["127.0.0.1:8300".to_string()]
    );

    eventually("self registration", || {
        let view = server.reader().view();
        view.node_service("s1", "consul").0.is_some()
            && view.node_check("s1", "serfHealth").0.is_some()
    })
    .await;

    let r = server
        .apply(&Command::KvSet {
            key: "a/b".into(),
            value: b"v".to_vec(),
            flags: 3,
        })
        .await
        .unwrap();
    assert_eq!(r, ApplyResult::Bool(true));
    for c in [
        Consistency::Default,
        Consistency::Stale,
        Consistency::Consistent,
    ] {
        let meta = server.prepare_read(c, None).await.unwrap();
        assert!(meta.known_leader);
        assert_eq!(meta.last_contact, Duration::ZERO);
        assert_eq!(meta.consistency, c);
        let (entry, index) = server.reader().view().kv_get("a/b");
        assert_eq!(entry.unwrap().flags, 3);
        assert!(index > 0);
    }
    server.shutdown().await;
    assert!(server
        .apply(&Command::KvSet {
            key: "x".into(),
            value: vec![],
            flags: 0
        })
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_expires_ttl_sessions_and_reaps_tombstones() {
    let server = Server::start(options(StoreKind::Memory), duties())
        .await
        .unwrap();
    eventually("self registration", || {
        server.reader().view().node("s1").0.is_some()
    })
    .await;
    let session = Session {
        id: "5a1f0b9e-1111-4222-8333-944455556666".into(),
        node: "s1".into(),
        ttl: "1s".into(),
        node_checks: vec![],
        ..Session::default()
    };
    let r = server
        .apply(&Command::SessionCreate { session })
        .await
        .unwrap();
    assert!(matches!(r, ApplyResult::SessionId(_)), "{r:?}");
    // Renewals keep it alive past its TTL...
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(server
            .renew_session("5a1f0b9e-1111-4222-8333-944455556666")
            .await
            .unwrap());
    }
    // ...and without them it is invalidated (Consul: after up to 2×TTL).
    eventually("session expiry", || {
        server
            .reader()
            .view()
            .session("5a1f0b9e-1111-4222-8333-944455556666")
            .0
            .is_none()
    })
    .await;
    assert!(!server
        .renew_session("5a1f0b9e-1111-4222-8333-944455556666")
        .await
        .unwrap());

    server
        .apply(&Command::KvSet {
            key: "t".into(),
            value: b"1".to_vec(),
            flags: 0,
        })
        .await
        .unwrap();
    server
        .apply(&Command::KvDelete { key: "t".into() })
        .await
        .unwrap();
    assert_eq!(server.reader().view().tombstone_count(), 1);
    eventually("tombstone reap", || {
        server.reader().view().tombstone_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[cfg(feature = "rocksdb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_comes_back_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreKind::RocksDb(dir.path().join("raft"));
    let server = Server::start(options(store.clone()), duties())
        .await
        .unwrap();
    eventually("leadership", || server.is_leader()).await;
    for i in 0..50u32 {
        let r = server
            .apply(&Command::KvSet {
                key: format!("k/{i}"),
                value: i.to_be_bytes().to_vec(),
                flags: 0,
            })
            .await
            .unwrap();
        assert_eq!(r, ApplyResult::Bool(true));
    }
    server.shutdown().await;
    drop(server);
    let server = Server::start(options(store), duties()).await.unwrap();
    eventually("replay", || {
        server.reader().view().kv_list("k/").0.len() == 50
    })
    .await;
    eventually("leadership after restart", || server.is_leader()).await;
    server.shutdown().await;
}
