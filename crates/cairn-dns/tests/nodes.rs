//! Node, `.addr`, PTR, SOA/NS and prepared-query lookups.

mod common;

use cairn_dns::{DnsConfig, PreparedQueryAnswer, ServiceInstance};
use cairn_types::CheckStatus;
use common::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn node_lookups_answer_a_txt_and_any() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "node1.node.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.0.0.1"]);
    // node_meta_txt (default on) puts the meta in the additional section.
    assert_eq!(txts(&msg.additionals), vec!["plain", "rack=r1"]);
    let msg = udp(addr, "node1.node.dc1.consul.", RecordType::TXT).await;
    assert_eq!(types(&msg.answers), vec![RecordType::TXT; 2]);
    assert_eq!(txts(&msg.answers), vec!["plain", "rack=r1"]);
    let msg = udp(addr, "NODE1.node.consul.", RecordType::ANY).await;
    let mut t = types(&msg.answers);
    t.sort();
    assert_eq!(t, vec![RecordType::A, RecordType::TXT, RecordType::TXT]);
    let msg = udp(addr, "node4.node.consul.", RecordType::AAAA).await;
    assert_eq!(types(&msg.answers), vec![RecordType::AAAA]);
    // A node with a hostname address is a CNAME.
    let msg = udp(addr, "ext.node.consul.", RecordType::A).await;
    assert_eq!(types(&msg.answers), vec![RecordType::CNAME]);
    let msg = udp(addr, "dc2-node.node.dc2.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.9.0.1"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn node_misses_and_other_types() {
    let cfg = DnsConfig {
        node_meta_txt: false,
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "node1.node.consul.", RecordType::A).await;
    assert!(msg.additionals.is_empty(), "{:?}", msg.additionals);
    let msg = udp(addr, "nobody.node.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(types(&msg.authorities), vec![RecordType::SOA]);
    // Existing node, type it does not answer, or IPv4 node asked for AAAA: NODATA.
    for (name, t) in [
        ("node1.node.consul.", RecordType::MX),
        ("node1.node.consul.", RecordType::AAAA),
        ("node2.node.consul.", RecordType::TXT),
    ] {
        let msg = udp(addr, name, t).await;
        assert_eq!(
            msg.metadata.response_code,
            ResponseCode::NoError,
            "{name} {t}"
        );
        assert!(msg.answers.is_empty(), "{name} {t}");
        assert_eq!(types(&msg.authorities), vec![RecordType::SOA], "{name} {t}");
    }
    let msg = udp(addr, "node1.node.nodc.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn addr_names_decode_hex_addresses() {
    let cfg = DnsConfig {
        node_ttl: Duration::from_secs(9),
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "7f000001.addr.dc1.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["127.0.0.1"]);
    assert_eq!(msg.answers[0].ttl, 9);
    let msg = udp(
        addr,
        "fd000000000000000000000000000004.addr.consul.",
        RecordType::AAAA,
    )
    .await;
    assert_eq!(types(&msg.answers), vec![RecordType::AAAA]);
    // The other type: NOERROR, record in the additional section (Consul's behaviour).
    let msg = udp(addr, "7f000001.addr.consul.", RecordType::AAAA).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.answers.is_empty());
    assert_eq!(ipv4s(&msg.additionals), vec!["127.0.0.1"]);
    for bad in [
        "7f00001.addr.consul.",
        "xyz.addr.consul.",
        "a.b.addr.consul.",
    ] {
        let msg = udp(addr, bad, RecordType::A).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{bad}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn ptr_finds_nodes_then_services() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "2.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    let RData::PTR(p) = &msg.answers[0].data else {
        panic!("{msg:?}")
    };
    assert_eq!(p.0.to_ascii(), "node2.node.dc1.consul.");
    let msg = udp(addr, "1.0.1.10.in-addr.arpa.", RecordType::PTR).await;
    let RData::PTR(p) = &msg.answers[0].data else {
        panic!("{msg:?}")
    };
    assert_eq!(p.0.to_ascii(), "db.service.dc1.consul.");
    let v6 = "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    let msg = udp(addr, v6, RecordType::PTR).await;
    let RData::PTR(p) = &msg.answers[0].data else {
        panic!("{msg:?}")
    };
    assert_eq!(p.0.to_ascii(), "node4.node.dc1.consul.");
    // Unknown address without recursors: NXDOMAIN with the primary domain's SOA.
    let msg = udp(addr, "9.9.9.9.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(msg.authorities[0].name.to_ascii(), "consul.");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn soa_and_ns_name_the_servers() {
    let cfg = DnsConfig {
        node_ttl: Duration::from_secs(11),
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "consul.", RecordType::SOA).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(types(&msg.answers), vec![RecordType::SOA]);
    assert_eq!(types(&msg.authorities), vec![RecordType::NS]);
    let RData::NS(ns) = &msg.authorities[0].data else {
        panic!()
    };
    assert_eq!(ns.0.to_ascii(), "server1.node.dc1.consul.");
    assert_eq!(msg.authorities[0].ttl, 11);
    assert_eq!(ipv4s(&msg.additionals), vec!["10.0.0.10"]);
    // Any name in the domain answers SOA/NS for the zone.
    let msg = udp(addr, "web.service.consul.", RecordType::NS).await;
    assert_eq!(types(&msg.answers), vec![RecordType::NS]);
    assert_eq!(msg.answers[0].name.to_ascii(), "consul.");
    assert_eq!(ipv4s(&msg.additionals), vec!["10.0.0.10"]);
    let msg = udp(addr, "alt.test.", RecordType::SOA).await;
    assert_eq!(msg.answers[0].name.to_ascii(), "alt.test.");
    let msg = udp(addr, "consul.", RecordType::AXFR).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NotImp);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn prepared_queries_use_the_backend() {
    let mut backend = fixture();
    let n = node("dc1", "pq-node", "10.5.0.1");
    let inst: ServiceInstance = instance(&n, "web", 8080, CheckStatus::Passing);
    backend.queries.insert(
        "geo".into(),
        PreparedQueryAnswer {
            service: "web".into(),
            datacenter: "dc1".into(),
            instances: Arc::from(vec![inst]),
            ttl: Some(Duration::from_secs(42)),
        },
    );
    let backend = Arc::new(backend);
    let server = start_shared(backend.clone(), config());
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "geo.query.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.5.0.1"]);
    assert_eq!(msg.answers[0].ttl, 42);
    let source = *backend.last_query_source.lock().unwrap();
    assert_eq!(source, Some("127.0.0.1".parse().unwrap()));
    // With an EDNS client subnet, its address is the source.
    let mut q = Message::new(5, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(
        Name::from_ascii("geo.query.consul.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
        "198.51.100.0".parse().unwrap(),
        24,
        0,
    )));
    q.set_edns(e);
    let raw = udp_raw(addr, &q.to_vec().unwrap()).await.unwrap();
    let reply = Message::from_vec(&raw).unwrap();
    assert_eq!(ipv4s(&reply.answers), vec!["10.5.0.1"]);
    // Prepared-query answers are not global: the scope echoes the source prefix.
    match reply.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
        Some(EdnsOption::Subnet(s)) => assert_eq!(s.scope_prefix(), 24),
        other => panic!("no subnet option: {other:?}"),
    }
    let source = *backend.last_query_source.lock().unwrap();
    assert_eq!(source, Some("198.51.100.0".parse().unwrap()));
    let msg = udp(addr, "_geo._tcp.query.consul.", RecordType::SRV).await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 8080, "pq-node.node.dc1.consul.".to_string())]
    );
    let msg = udp(addr, "nope.query.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reload_applies_to_following_queries() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    assert_eq!(
        ipv4s(
            &udp(addr, "web.service.consul.", RecordType::A)
                .await
                .answers
        )
        .len(),
        2
    );
    server
        .reload(&DnsConfig {
            only_passing: true,
            domain: "cairn.".into(),
            ..config()
        })
        .unwrap();
    let msg = udp(addr, "web.service.cairn.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.0.0.1"]);
    let msg = udp(addr, "web.service.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    let bad = DnsConfig {
        recursors: vec!["not an address".into()],
        ..config()
    };
    assert!(server.reload(&bad).is_err());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn node_meta_txt_is_rfc1464_escaped() {
    // Node meta order in TXT answers follows the map; keys with `=` are escaped.
    let mut backend = fixture();
    let mut n = node("dc1", "metanode", "10.0.0.99");
    n.meta = meta_map(&[("a=b", "c"), ("k", "v`")]);
    backend.add_node(n);
    let server = start(backend, config());
    let msg = udp(
        server.udp_addr().unwrap(),
        "metanode.node.consul.",
        RecordType::TXT,
    )
    .await;
    assert_eq!(txts(&msg.answers), vec!["a`=b=c", "k=v``"]);
    server.shutdown().await.unwrap();
}
