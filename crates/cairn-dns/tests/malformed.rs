//! Garbage and absurd names never crash the server.

mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use std::time::Duration;

/// A small deterministic generator so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[tokio::test]
async fn random_packets_get_formerr_or_silence_and_the_server_keeps_answering() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = Lcg(42);
    let mut buf = vec![0u8; 65535];
    for round in 0..300 {
        let len = (rng.next() % 200) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 && pkt.len() >= 12 {
            // Make it look like a query so it gets past the first checks.
            pkt[2] &= 0x07;
            pkt[4] = 0;
            pkt[5] = 1;
        }
        sock.send_to(&pkt, addr).await.unwrap();
        // Replies, when any, must be well-formed responses.
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(20), sock.recv(&mut buf)).await
        {
            let reply = Message::from_vec(&buf[..n]).expect("well-formed reply");
            assert_eq!(reply.metadata.message_type, MessageType::Response);
        }
    }
    // Still serving.
    let msg = udp(addr, "web.service.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers).len(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn truncated_question_gets_formerr() {
    let server = start(fixture(), config());
    let mut pkt = query_bytes("web.service.consul.", RecordType::A, None);
    pkt.truncate(pkt.len() - 3);
    let raw = udp_raw(server.udp_addr().unwrap(), &pkt)
        .await
        .expect("reply");
    let msg = Message::from_vec(&raw).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(msg.metadata.id, 0x1234);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_opcode_and_question_counts() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    // Two questions: FORMERR.
    let mut msg = Message::new(1, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(
        Name::from_ascii("a.service.consul.").unwrap(),
        RecordType::A,
    ));
    msg.add_query(Query::query(
        Name::from_ascii("b.service.consul.").unwrap(),
        RecordType::A,
    ));
    let raw = udp_raw(addr, &msg.to_vec().unwrap()).await.unwrap();
    assert_eq!(
        Message::from_vec(&raw).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    // No question: FORMERR.
    let msg = Message::new(2, MessageType::Query, OpCode::Query);
    let raw = udp_raw(addr, &msg.to_vec().unwrap()).await.unwrap();
    assert_eq!(
        Message::from_vec(&raw).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    // A NOTIFY or UPDATE: NOTIMP.
    let mut msg = Message::new(3, MessageType::Query, OpCode::Update);
    msg.add_query(Query::query(
        Name::from_ascii("consul.").unwrap(),
        RecordType::SOA,
    ));
    let raw = udp_raw(addr, &msg.to_vec().unwrap()).await.unwrap();
    assert_eq!(
        Message::from_vec(&raw).unwrap().metadata.response_code,
        ResponseCode::NotImp
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn absurd_names_are_nxdomain() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let long_label = "a".repeat(63);
    let deep = format!("{}.service.consul.", [long_label.as_str(); 3].join("."));
    let many = format!("{}web.service.consul.", "x.".repeat(100));
    for name in [deep.as_str(), many.as_str()] {
        let msg = udp(addr, name, RecordType::SRV).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    // Binary and non-UTF-8 label bytes.
    for labels in [
        vec![&b"we\0b"[..], b"service", b"consul"],
        vec![&b"\xff\xfe"[..], b"node", b"consul"],
        vec![&b"a.b"[..], b"service", b"consul"],
        vec![&b"_"[..], b"_", b"service", b"consul"],
        vec![&b"-"[..], b"node", b"consul"],
    ] {
        let mut msg = Message::new(9, MessageType::Query, OpCode::Query);
        let mut name = Name::from_labels(labels).unwrap();
        name.set_fqdn(true);
        msg.add_query(Query::query(name, RecordType::SRV));
        let raw = udp_raw(addr, &msg.to_vec().unwrap()).await.expect("reply");
        let reply = Message::from_vec(&raw).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    }
    let msg = udp(addr, "1.2.3.4.5.6.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    server.shutdown().await.unwrap();
}
