//! Forwarding to recursors: a fake upstream on loopback, failover, timeouts, REFUSED.

mod common;

use cairn_dns::DnsConfig;
use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The fake upstream's reply to a query.
fn upstream_reply(raw: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(raw).ok()?;
    let mut resp = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    resp.metadata.recursion_available = true;
    resp.queries = req.queries.clone();
    let q = req.queries.first()?;
    match q.name().to_ascii().as_str() {
        "fail.example." => resp.metadata.response_code = ResponseCode::ServFail,
        "missing.example." => resp.metadata.response_code = ResponseCode::NXDomain,
        _ => resp.answers.push(Record::from_rdata(
            q.name().clone(),
            60,
            RData::A(A("192.0.2.53".parse().unwrap())),
        )),
    }
    resp.to_vec().ok()
}

/// A fake recursor on 127.0.0.1 serving UDP and TCP on one port.
async fn fake_upstream() -> SocketAddr {
    // The UDP port picked by the kernel may already be taken for TCP by another test.
    let mut bound = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            bound = Some((udp, addr, tcp));
            break;
        }
    }
    let (udp, addr, tcp) = bound.expect("no port free for both UDP and TCP");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Some(reply) = upstream_reply(&buf[..n]) {
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut buf).await.is_err() {
                    return;
                }
                if let Some(reply) = upstream_reply(&buf) {
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&reply);
                    let _ = s.write_all(&framed).await;
                }
            });
        }
    });
    addr
}

/// A bound socket that never answers (kept alive by the returned handle).
async fn silent_upstream() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    (s, addr)
}

fn with_recursors(recursors: Vec<SocketAddr>, timeout: Duration) -> DnsConfig {
    DnsConfig {
        recursors: recursors.iter().map(ToString::to_string).collect(),
        recursor_timeout: timeout,
        ..config()
    }
}

#[tokio::test]
async fn outside_names_are_forwarded_over_udp_and_tcp() {
    let up = fake_upstream().await;
    let server = start(fixture(), with_recursors(vec![up], Duration::from_secs(2)));
    let msg = udp(server.udp_addr().unwrap(), "www.example.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.recursion_available);
    assert_eq!(ipv4s(&msg.answers), vec!["192.0.2.53"]);
    assert_eq!(msg.metadata.id, 0x1234);
    let msg = tcp(server.tcp_addr().unwrap(), "www.example.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["192.0.2.53"]);
    // NXDOMAIN from upstream is passed on.
    let msg = udp(
        server.udp_addr().unwrap(),
        "missing.example.",
        RecordType::A,
    )
    .await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    // Unknown reverse names go upstream too; our own answers advertise recursion.
    let msg = udp(
        server.udp_addr().unwrap(),
        "9.9.9.9.in-addr.arpa.",
        RecordType::PTR,
    )
    .await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    let msg = udp(
        server.udp_addr().unwrap(),
        "web.service.consul.",
        RecordType::A,
    )
    .await;
    assert!(msg.metadata.recursion_available && msg.metadata.authoritative);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_recursor_is_skipped_after_its_timeout() {
    let (_keep, silent) = silent_upstream().await;
    let up = fake_upstream().await;
    let server = start(
        fixture(),
        with_recursors(vec![silent, up], Duration::from_millis(200)),
    );
    let started = Instant::now();
    let msg = udp(server.udp_addr().unwrap(), "www.example.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["192.0.2.53"]);
    assert!(started.elapsed() >= Duration::from_millis(200));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn local_answers_do_not_wait_behind_a_slow_recursion() {
    let (_keep, silent) = silent_upstream().await;
    let server = start(
        fixture(),
        with_recursors(vec![silent], Duration::from_secs(2)),
    );
    let addr = server.udp_addr().unwrap();
    let stuck = tokio::spawn(async move { udp(addr, "www.example.", RecordType::A).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let msg = udp(addr, "web.service.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered in {:?} while a recursion waits",
        started.elapsed()
    );
    assert!(!stuck.is_finished(), "the recursion is still waiting");
    let msg = stuck.await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn servfail_when_every_recursor_fails() {
    let (_keep, silent) = silent_upstream().await;
    let up = fake_upstream().await;
    let server = start(
        fixture(),
        with_recursors(vec![silent], Duration::from_millis(200)),
    );
    let started = Instant::now();
    let msg = udp(server.udp_addr().unwrap(), "www.example.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert!(msg.metadata.recursion_available);
    assert!(started.elapsed() < Duration::from_secs(2));
    server.shutdown().await.unwrap();
    // An upstream SERVFAIL is not accepted either.
    let server = start(fixture(), with_recursors(vec![up], Duration::from_secs(1)));
    let msg = udp(server.udp_addr().unwrap(), "fail.example.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn refused_without_recursors() {
    let server = start(fixture(), config());
    let msg = udp(server.udp_addr().unwrap(), "www.example.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    assert!(!msg.metadata.recursion_available);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn external_service_hostnames_are_resolved_through_recursors() {
    let up = fake_upstream().await;
    let server = start(fixture(), with_recursors(vec![up], Duration::from_secs(2)));
    let msg = udp(
        server.udp_addr().unwrap(),
        "extsvc.service.consul.",
        RecordType::A,
    )
    .await;
    assert_eq!(types(&msg.answers), vec![RecordType::CNAME, RecordType::A]);
    assert_eq!(ipv4s(&msg.answers), vec!["192.0.2.53"]);
    assert_eq!(msg.answers[1].name.to_ascii(), "ext.example.test.");
    server.shutdown().await.unwrap();
}
