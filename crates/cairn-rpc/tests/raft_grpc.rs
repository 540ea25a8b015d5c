//! Raft over real loopback gRPC: replication, snapshots, dead peers, cluster ids.

mod support;

use cairn_consensus::{MemLogStore, RaftConfig};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_apply_1000_proposals_in_the_same_order() {
    init_tracing();
    let nodes = cluster(3, 7, config).await;
    let l = wait_leader(&nodes, &[]).await;
    let payloads: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
    propose_all(&nodes[l].handle, payloads.clone(), 50).await;
    wait_until(
        Duration::from_secs(20),
        "all nodes to apply 1000 entries",
        || nodes.iter().all(|n| n.item_count() == 1000),
    )
    .await;
    let first = nodes[0].items();
    for n in &nodes[1..] {
        assert_eq!(n.items(), first, "node {} applied another order", n.id);
    }
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, payloads, "every proposal applied exactly once");
    let st = nodes[l].transport.stats();
    assert!(st.messages_sent > 0 && st.connects >= 2, "{st:?}");
    for n in &nodes {
        assert!(n.service.stats().messages_received > 0);
        assert!(
            n.max_send() < Duration::from_millis(250),
            "slow send {:?}",
            n.max_send()
        );
    }
    for n in &nodes {
        n.handle.shutdown().await;
    }
}

fn compacting(id: u64) -> RaftConfig {
    let mut c = config(id);
    c.snapshot_threshold = 100;
    c.trailing_logs = 20;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_added_after_compaction_catches_up_through_a_chunked_snapshot() {
    init_tracing();
    let nodes = cluster(3, 7, compacting).await;
    let l = wait_leader(&nodes, &[]).await;
    // 600 entries of 4 KiB: a snapshot of about 2.4 MiB, three chunks or more.
    let payloads: Vec<Vec<u8>> = (0..600u32)
        .map(|i| {
            let mut p = vec![(i % 251) as u8; 4096];
            p[..4].copy_from_slice(&i.to_be_bytes());
            p
        })
        .collect();
    propose_all(&nodes[l].handle, payloads, 50).await;
    let st = nodes[l].handle.status().await.expect("status");
    assert!(st.first_index > 2, "the leader compacted its log: {st:?}");

    let (listener, addr) = bind().await;
    let n4 = start_node(4, 7, listener, &addr, MemLogStore::new(), compacting(4));
    nodes[l]
        .handle
        .add_server(4, addr.clone())
        .await
        .expect("add server 4");
    wait_until(Duration::from_secs(20), "node 4 to catch up", || {
        n4.item_count() == 600
    })
    .await;
    assert_eq!(n4.items(), nodes[l].items());
    let rx = n4.service.stats();
    assert!(rx.snapshots_received >= 1, "{rx:?}");
    assert!(rx.snapshot_chunks >= 3, "{rx:?}");
    let tx = nodes[l].transport.stats();
    assert!(tx.snapshots_sent >= 1, "{tx:?}");

    // The new voter takes part in later commits.
    let n = nodes[l]
        .handle
        .propose(b"after".to_vec())
        .await
        .expect("propose");
    assert_eq!(n, 601);
    wait_until(
        Duration::from_secs(10),
        "node 4 to apply the next entry",
        || n4.item_count() == 601,
    )
    .await;
    for n in nodes.iter().chain(std::iter::once(&n4)) {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_after_the_others_compacted_catches_up_through_a_snapshot() {
    init_tracing();
    let mut nodes = cluster(3, 7, compacting).await;
    let l = wait_leader(&nodes, &[]).await;
    let f = (l + 1) % 3;
    propose_all(
        &nodes[l].handle,
        (0..30u32).map(|i| i.to_be_bytes().to_vec()).collect(),
        10,
    )
    .await;
    wait_until(Duration::from_secs(10), "the follower to apply", || {
        nodes[f].item_count() == 30
    })
    .await;
    // Stop the follower entirely; the others commit and compact far past its log.
    nodes[f].stop_server().await;
    nodes[f].handle.shutdown().await;
    let payloads: Vec<Vec<u8>> = (30..500u32)
        .map(|i| {
            let mut p = vec![(i % 251) as u8; 2048];
            p[..4].copy_from_slice(&i.to_be_bytes());
            p
        })
        .collect();
    propose_all(&nodes[l].handle, payloads, 50).await;
    let st = nodes[l].handle.status().await.expect("status");
    assert!(st.first_index > 40, "compacted past the follower: {st:?}");

    // Restart it from its own store on the same address.
    let (id, addr, store) = (nodes[f].id, nodes[f].addr.clone(), nodes[f].store.clone());
    let Ok(listener) = tokio::net::TcpListener::bind(addr.as_str()).await else {
        eprintln!("port {addr} was taken meanwhile; skipping the restart half");
        return;
    };
    nodes[f] = start_node(id, 7, listener, &addr, store, compacting(id));
    wait_until(
        Duration::from_secs(20),
        "the restarted node to catch up",
        || nodes[f].item_count() == 500,
    )
    .await;
    assert_eq!(nodes[f].items(), nodes[l].items());
    let rx = nodes[f].service.stats();
    assert!(rx.snapshots_received >= 1, "caught up by snapshot: {rx:?}");
    for n in &nodes {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_neither_stops_commits_nor_blocks_the_driver() {
    init_tracing();
    let mut nodes = cluster(3, 7, config).await;
    let l = wait_leader(&nodes, &[]).await;
    let f = (l + 1) % 3;
    propose_all(
        &nodes[l].handle,
        (0..50u32).map(|i| i.to_be_bytes().to_vec()).collect(),
        25,
    )
    .await;

    // Stop the follower's server, and put a black hole on its port: TCP connects, HTTP/2
    // never answers, so a blocking sender would stall for its whole connect timeout.
    nodes[f].stop_server().await;
    let hole = tokio::net::TcpListener::bind(nodes[f].addr.as_str())
        .await
        .ok();
    let before = nodes[l].transport.stats();
    let started = Instant::now();
    for i in 50..250u32 {
        let t = Instant::now();
        nodes[l]
            .handle
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose with a dead peer");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a commit took {:?}",
            t.elapsed()
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    let other = 3 - l - f;
    wait_until(
        Duration::from_secs(10),
        "the live follower to apply",
        || nodes[other].item_count() == 250,
    )
    .await;
    assert!(nodes[f].item_count() < 250, "the dead follower was cut off");
    let after = nodes[l].transport.stats();
    // The leader noticed the dead stream: it reconnected at once (to the black hole, which
    // accepts TCP and never reads) or dropped what it could not send.
    assert!(
        after.connects > before.connects || after.messages_dropped > before.messages_dropped,
        "the broken stream went unnoticed: {before:?} -> {after:?}"
    );
    assert!(
        nodes[l].max_send() < Duration::from_millis(250),
        "send blocked for {:?}",
        nodes[l].max_send()
    );

    // Bring the server back on the same port: the leader reconnects and the follower catches up.
    drop(hole);
    if let Ok(listener) = tokio::net::TcpListener::bind(nodes[f].addr.as_str()).await {
        nodes[f].restart_server(listener);
        wait_until(Duration::from_secs(20), "the follower to catch up", || {
            nodes[f].item_count() == 250
        })
        .await;
        assert_eq!(nodes[f].items(), nodes[l].items());
    }
    for n in &nodes {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_from_another_cluster_is_rejected() {
    init_tracing();
    // Node 3 believes it belongs to cluster 8; nodes 1 and 2 to cluster 7.
    let nodes = cluster(3, 7, config).await;
    let mut nodes = nodes;
    let n3 = nodes.pop().expect("node 3");
    let (id, addr, store) = (n3.id, n3.addr.clone(), MemLogStore::new());
    let mut n3 = n3;
    n3.stop_server().await;
    n3.handle.shutdown().await;
    let listener = tokio::net::TcpListener::bind(addr.as_str())
        .await
        .expect("rebind node 3's port");
    let voters = nodes[0].handle.status().await.expect("status").peers;
    let mut store = store;
    cairn_consensus::RaftCore::bootstrap(&mut store, &ListSm::default(), &voters)
        .expect("bootstrap");
    let n3 = start_node(id, 8, listener, &addr, store, config(id));

    let l = wait_leader(&nodes, &[]).await;
    propose_all(
        &nodes[l].handle,
        (0..20u32).map(|i| i.to_be_bytes().to_vec()).collect(),
        10,
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "both cluster-7 nodes to apply",
        || nodes.iter().all(|n| n.item_count() == 20),
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "node 3 to refuse cluster 7",
        || n3.service.stats().rejected_cluster > 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(n3.item_count(), 0, "node 3 accepted nothing from cluster 7");
    assert_eq!(n3.service.stats().messages_received, 0);
    // Node 3 campaigns with cluster id 8; the others refuse it.
    wait_until(
        Duration::from_secs(10),
        "cluster 7 to refuse node 3",
        || nodes.iter().any(|n| n.service.stats().rejected_cluster > 0),
    )
    .await;
    for n in nodes.iter().chain(std::iter::once(&n3)) {
        n.handle.shutdown().await;
    }
}
