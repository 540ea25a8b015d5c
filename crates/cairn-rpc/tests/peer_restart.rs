//! A peer that restarted while we had nothing to send it: the next message must not be lost
//! to the dead stream (a lost vote request costs a whole election timeout).

mod support;

use cairn_consensus::{Peers, RaftMessage, RaftTransport, ReportSink};
use cairn_rpc::{GrpcRaftTransport, RaftService, TransportConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{bind, serve, wait_until};

/// A heartbeat from raft node 1 to node 2 (protobuf: msg_type=8, to=2, from=1).
fn heartbeat() -> RaftMessage {
    RaftMessage::decode(&[0x08, 8, 0x10, 2, 0x18, 1]).expect("valid message")
}

fn counting_service() -> (RaftService, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let service = RaftService::new(7, move |_| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    (service, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_message_to_a_restarted_peer_is_delivered() {
    let (listener, addr) = bind().await;
    let (service, before) = counting_service();
    let (stop, server) = serve(listener, service);
    let transport = GrpcRaftTransport::new(
        TransportConfig::new(7, "127.0.0.1:1"),
        tokio::runtime::Handle::current(),
    );
    let peers: Peers = [(2, addr.clone())].into_iter().collect();
    transport.set_peers(&peers);
    let sink = ReportSink::discarding();
    transport.send(heartbeat(), &sink);
    wait_until(Duration::from_secs(5), "the first message", || {
        before.load(Ordering::Relaxed) == 1
    })
    .await;

    // The peer goes away and comes back on the same address while nothing is sent to it.
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Ok(listener) = tokio::net::TcpListener::bind(addr.as_str()).await else {
        eprintln!("port {addr} was taken meanwhile; skipping");
        return;
    };
    let (service, after) = counting_service();
    let (_stop, _server) = serve(listener, service);

    // One message, no retries: it must arrive.
    transport.send(heartbeat(), &sink);
    wait_until(
        Duration::from_secs(3),
        "the message after the restart",
        || after.load(Ordering::Relaxed) == 1,
    )
    .await;
}
