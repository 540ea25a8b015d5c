//! UDP answer limits, truncation, EDNS and TCP sizes.

mod common;

use cairn_dns::DnsConfig;
use cairn_types::CheckStatus;
use common::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};

#[tokio::test]
async fn non_edns_udp_keeps_udp_answer_limit_answers() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let (msg, len) = udp_edns(addr, "big.service.consul.", RecordType::A, None).await;
    assert_eq!(msg.answers.len(), 3);
    assert!(len <= 512);
    // TC only when enable_truncate.
    assert!(!msg.metadata.truncation);
    let (msg, len) = udp_edns(addr, "big.service.consul.", RecordType::SRV, None).await;
    assert_eq!(msg.answers.len(), 3);
    assert_eq!(msg.additionals.len(), 3, "glue follows the kept answers");
    for (a, x) in msg.answers.iter().zip(&msg.additionals) {
        let RData::SRV(srv) = &a.data else { panic!() };
        assert_eq!(srv.target, x.name);
    }
    assert!(len <= 512);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn enable_truncate_sets_tc_only_when_answers_were_cut() {
    let cfg = DnsConfig {
        enable_truncate: true,
        udp_answer_limit: 5,
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "big.service.consul.", RecordType::A).await;
    assert_eq!(msg.answers.len(), 5);
    assert!(msg.metadata.truncation);
    let msg = udp(addr, "web.service.consul.", RecordType::A).await;
    assert_eq!(msg.answers.len(), 2);
    assert!(!msg.metadata.truncation);
    // The whole answer over TCP, no TC.
    let msg = tcp(
        server.tcp_addr().unwrap(),
        "big.service.consul.",
        RecordType::A,
    )
    .await;
    assert_eq!(msg.answers.len(), 100);
    assert!(!msg.metadata.truncation);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn udp_answer_limit_is_capped_at_eight() {
    let cfg = DnsConfig {
        udp_answer_limit: 100,
        ..config()
    };
    let server = start(fixture(), cfg);
    let msg = udp(
        server.udp_addr().unwrap(),
        "big.service.consul.",
        RecordType::A,
    )
    .await;
    assert_eq!(msg.answers.len(), 8);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn edns_fills_the_advertised_buffer_and_echoes_it() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let (msg, len) = udp_edns(addr, "big.service.consul.", RecordType::SRV, Some(4096)).await;
    assert!(len <= 4096, "{len} bytes");
    assert!(
        msg.answers.len() > 8 && msg.answers.len() < 100,
        "{}",
        msg.answers.len()
    );
    assert_eq!(msg.additionals.len(), msg.answers.len());
    let edns = msg.edns.as_ref().expect("OPT in the response");
    assert_eq!(edns.max_payload(), 4096);
    // All 100 A records fit in 4096 bytes compressed.
    let (msg, len) = udp_edns(addr, "big.service.consul.", RecordType::A, Some(4096)).await;
    assert_eq!(msg.answers.len(), 100);
    assert!(len <= 4096);
    // A 1232-byte buffer keeps fewer.
    let (msg, len) = udp_edns(addr, "big.service.consul.", RecordType::SRV, Some(1232)).await;
    assert!(len <= 1232, "{len}");
    assert!(msg.answers.len() > 3);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tcp_returns_everything_up_to_the_message_limit() {
    let mut backend = fixture();
    let many = (0..3000)
        .map(|i| {
            let n = node(
                "dc1",
                &format!("many-node-{i}"),
                &format!("10.3.{}.{}", i / 256, i % 256),
            );
            instance(&n, "many", 7000, CheckStatus::Passing)
        })
        .collect();
    backend.add_service("dc1", "many", many);
    let cfg = DnsConfig {
        enable_truncate: true,
        ..config()
    };
    let server = start(backend, cfg);
    let addr = server.tcp_addr().unwrap();
    let msg = tcp(addr, "big.service.consul.", RecordType::SRV).await;
    assert_eq!(msg.answers.len(), 100);
    assert_eq!(msg.additionals.len(), 100);
    let msg = tcp(addr, "many.service.consul.", RecordType::SRV).await;
    assert!(
        msg.answers.len() <= 1024 && msg.answers.len() > 100,
        "{}",
        msg.answers.len()
    );
    assert_eq!(msg.additionals.len(), msg.answers.len());
    assert!(msg.metadata.truncation);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_subnet_is_echoed_with_its_scope() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let ask = |name: &str| {
        let mut msg = Message::new(7, MessageType::Query, OpCode::Query);
        msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            "192.0.2.0".parse().unwrap(),
            24,
            0,
        )));
        msg.set_edns(e);
        msg.to_vec().unwrap()
    };
    let scope = |raw: Vec<u8>| {
        let msg = Message::from_vec(&raw).unwrap();
        match msg.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
            Some(EdnsOption::Subnet(s)) => (s.source_prefix(), s.scope_prefix()),
            other => panic!("no subnet option: {other:?}"),
        }
    };
    // Service answers are global (scope 0), as are NXDOMAIN answers.
    let raw = udp_raw(addr, &ask("web.service.consul.")).await.unwrap();
    assert_eq!(scope(raw), (24, 0));
    let raw = udp_raw(addr, &ask("nope.service.consul.")).await.unwrap();
    assert_eq!(scope(raw), (24, 0));
    server.shutdown().await.unwrap();
}
