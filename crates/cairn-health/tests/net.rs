//! TCP, UDP, gRPC and H2PING checks against real loopback peers.

mod common;

use cairn_health::{CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing};
use common::*;
use std::time::Duration;
use tonic_health::ServingStatus;

const WAIT: Duration = Duration::from_secs(5);

fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_check_follows_the_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            drop(s);
        }
    });
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let def = CheckType {
        tcp: addr.to_string(),
        interval: secs(1),
        ..CheckType::default()
    };
    m.add("tcp", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(
        (u.status, u.output.clone()),
        (Passing, format!("TCP connect {addr}: Success"))
    );

    // Close the listener: the next run is refused.
    accept.abort();
    let _ = accept.await;
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!("dial tcp {addr}: connect: connection refused")
    );

    // Malformed and unresolvable addresses read like Go's errors too.
    let def = CheckType {
        tcp: "127.0.0.1".into(),
        interval: secs(1),
        status: "passing".into(),
        ..CheckType::default()
    };
    m.add("noport", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "noport", WAIT).await;
    assert_eq!(
        u.output,
        "dial tcp: address 127.0.0.1: missing port in address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_check_passes_on_reply_or_silence_and_fails_on_refusal() {
    // A peer that answers.
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        while let Ok((_, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(b"pong", from).await;
        }
    });
    // A peer that stays silent.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    // A port nobody listens on (ICMP port unreachable on loopback).
    let refused_addr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };

    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let udp = |addr: std::net::SocketAddr| CheckType {
        udp: addr.to_string(),
        interval: secs(1),
        timeout: millis(300),
        ..CheckType::default()
    };
    m.add("echo", udp(echo_addr), CheckOptions::api()).unwrap();
    m.add("silent", udp(silent_addr), CheckOptions::api())
        .unwrap();
    let mut refused = udp(refused_addr);
    refused.status = "passing".into();
    m.add("refused", refused, CheckOptions::api()).unwrap();

    let mut seen = std::collections::HashMap::new();
    while seen.len() < 3 {
        let u = next_update(&mut ev, WAIT).await;
        seen.entry(u.check_id.clone()).or_insert(u);
    }
    assert_eq!(seen["echo"].status, Passing);
    assert_eq!(
        seen["echo"].output,
        format!("UDP connect {echo_addr}: Success")
    );
    assert_eq!(seen["silent"].status, Passing);
    assert_eq!(seen["refused"].status, Critical);
    assert!(
        seen["refused"].output.starts_with("read udp 127.0.0.1:")
            && seen["refused"]
                .output
                .ends_with(&format!("->{refused_addr}: read: connection refused")),
        "{}",
        seen["refused"].output
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_check_uses_the_standard_health_protocol() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("pkg.Svc", ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let grpc = |target: String| CheckType {
        grpc: target,
        interval: secs(1),
        ..CheckType::default()
    };
    m.add("whole", grpc(addr.to_string()), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "whole", WAIT).await;
    assert_eq!(
        (u.status, u.output.clone()),
        (Passing, format!("gRPC check {addr}: success"))
    );

    let target = format!("{addr}/pkg.Svc");
    m.add("svc", grpc(target.clone()), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "svc", WAIT).await;
    assert_eq!(
        (u.status, u.output.clone()),
        (Passing, format!("gRPC check {target}: success"))
    );

    reporter
        .set_service_status("pkg.Svc", ServingStatus::NotServing)
        .await;
    let u = next_update_of(&mut ev, "svc", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!("gRPC {target} serving status: NOT_SERVING")
    );

    // An unknown service is an RPC error.
    let mut def = grpc(format!("{addr}/nope"));
    def.status = "passing".into();
    m.add("unknown", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "unknown", WAIT).await;
    assert_eq!(u.status, Critical);
    assert!(
        u.output.starts_with("rpc error: code = NotFound desc = "),
        "{}",
        u.output
    );

    // Nobody listening.
    let closed = closed_port();
    let mut def = grpc(closed.to_string());
    def.status = "passing".into();
    m.add("down", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "down", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!(
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {closed}: connect: connection refused\""
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2ping_check_pings_an_http2_server() {
    // tonic's server speaks h2c, which is all H2PING needs.
    let (_reporter, service) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let def = CheckType {
        h2ping: addr.to_string(),
        interval: secs(1),
        ..CheckType::default()
    };
    m.add("h2", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(
        (u.status, u.output.as_str()),
        (Passing, "HTTP2 ping was successful")
    );

    // An HTTP/1 server does not speak HTTP/2.
    let http1 = TestServer::start(Reply::new(200, "OK", "")).await;
    let def = CheckType {
        h2ping: http1.addr.to_string(),
        interval: secs(1),
        timeout: secs(2),
        status: "passing".into(),
        ..CheckType::default()
    };
    m.add("h1", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "h1", WAIT).await;
    assert_eq!(u.status, Critical);
    assert!(
        u.output.starts_with("HTTP2 ping failed: ")
            || u.output.starts_with("Failed to create client connection"),
        "{}",
        u.output
    );
}
