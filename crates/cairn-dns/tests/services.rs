//! Service lookups over real UDP and TCP sockets.

mod common;

use cairn_dns::DnsConfig;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn a_records_leave_out_critical_instances_and_answer_authoritatively() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let msg = tcp(
        server.tcp_addr().unwrap(),
        "web.service.consul.",
        RecordType::A,
    )
    .await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative);
    assert!(!msg.metadata.recursion_available);
    let mut ips = ipv4s(&msg.answers);
    ips.sort();
    // node3 (critical service check) and sick (critical node check) are left out; node4 is
    // IPv6-only, so it has no A record.
    assert_eq!(ips, vec!["10.0.0.1", "10.0.0.2"]);
    assert!(msg
        .answers
        .iter()
        .all(|r| r.name.to_ascii() == "web.service.consul."));

    let msg = udp(addr, "web.service.consul.", RecordType::AAAA).await;
    let v6: Vec<String> = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(v6, vec!["fd00::4"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_passing_drops_warning_instances() {
    let cfg = DnsConfig {
        only_passing: true,
        ..config()
    };
    let server = start(fixture(), cfg);
    let msg = udp(
        server.udp_addr().unwrap(),
        "web.service.consul.",
        RecordType::A,
    )
    .await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.0.0.1"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn srv_answers_carry_weights_ports_and_glue() {
    let server = start(fixture(), config());
    let addr = server.tcp_addr().unwrap();
    let msg = tcp(addr, "web.service.consul.", RecordType::SRV).await;
    let mut srv = srv_targets(&msg.answers);
    srv.sort();
    assert_eq!(
        srv,
        vec![
            (1, 81, "node2.node.dc1.consul.".to_string()),
            (1, 84, "node4.node.dc1.consul.".to_string()),
            (10, 80, "node1.node.dc1.consul.".to_string()),
        ]
    );
    for r in &msg.answers {
        let RData::SRV(s) = &r.data else { panic!() };
        assert_eq!(s.priority, 1);
    }
    // Glue: an address per target, plus node1's meta as TXT.
    let glue: HashSet<(String, RecordType)> = msg
        .additionals
        .iter()
        .map(|r| (r.name.to_ascii(), r.record_type()))
        .collect();
    assert!(glue.contains(&("node1.node.dc1.consul.".into(), RecordType::A)));
    assert!(glue.contains(&("node2.node.dc1.consul.".into(), RecordType::A)));
    assert!(glue.contains(&("node4.node.dc1.consul.".into(), RecordType::AAAA)));
    assert_eq!(txts(&msg.additionals), vec!["plain", "rack=r1"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn service_address_targets_use_addr_names() {
    let server = start(fixture(), config());
    let msg = tcp(
        server.tcp_addr().unwrap(),
        "db.service.consul.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 5432, "0a010001.addr.dc1.consul.".to_string())]
    );
    assert_eq!(ipv4s(&msg.additionals), vec!["10.1.0.1"]);
    assert_eq!(
        msg.additionals[0].name.to_ascii(),
        "0a010001.addr.dc1.consul."
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tags_and_rfc2782_forms() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "v1.web.service.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.0.0.1"]);
    // Tags match case-insensitively.
    let msg = udp(addr, "primary.web.service.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["10.0.0.1"]);
    let msg = udp(addr, "_web._v2.service.consul.", RecordType::SRV).await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 81, "node2.node.dc1.consul.".to_string())]
    );
    // `_tcp` is no tag filter; the `service` label is optional for SRV.
    let msg = tcp(
        server.tcp_addr().unwrap(),
        "_web._tcp.consul.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(msg.answers.len(), 3);
    let msg = udp(addr, "_web._v1.dc1.consul.", RecordType::SRV).await;
    assert_eq!(srv_targets(&msg.answers).len(), 1);
    // An unknown tag is NXDOMAIN with the SOA in authority.
    let msg = udp(addr, "nope.web.service.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(types(&msg.authorities), vec![RecordType::SOA]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn datacenter_qualifiers_and_alt_domain() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    for name in [
        "web.service.dc2.consul.",
        "web.service.dc2.dc.consul.",
        "WEB.Service.DC2.Consul.",
    ] {
        let msg = udp(addr, name, RecordType::A).await;
        assert_eq!(ipv4s(&msg.answers), vec!["10.9.0.1"], "{name}");
    }
    let msg = udp(addr, "web.service.dc2.consul.", RecordType::SRV).await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 80, "dc2-node.node.dc2.consul.".to_string())]
    );
    // Unknown datacenter: NXDOMAIN.
    let msg = udp(addr, "web.service.nodc.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    // The alternative domain answers with its own names.
    let msg = udp(addr, "web.service.alt.test.", RecordType::SRV).await;
    let targets: Vec<String> = srv_targets(&msg.answers).into_iter().map(|t| t.2).collect();
    assert!(!targets.is_empty());
    assert!(
        targets.iter().all(|t| t.ends_with(".node.dc1.alt.test.")),
        "{targets:?}"
    );
    let msg = udp(addr, "web.service.alt.test.", RecordType::MX).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(msg.authorities[0].name.to_ascii(), "alt.test.");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn nxdomain_and_nodata_carry_the_soa() {
    let cfg = DnsConfig {
        soa: cairn_dns::SoaConfig {
            min_ttl: 7,
            ..Default::default()
        },
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "missing.service.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert!(msg.answers.is_empty());
    let soa = &msg.authorities[0];
    assert_eq!(soa.ttl, 7);
    let RData::SOA(data) = &soa.data else {
        panic!("not an SOA: {soa:?}")
    };
    assert_eq!(data.mname.to_ascii(), "ns.consul.");
    assert_eq!(data.rname.to_ascii(), "hostmaster.consul.");
    assert_eq!(
        (data.refresh, data.retry, data.expire, data.minimum),
        (3600, 600, 86400, 7)
    );
    // The service exists but has no MX records: NOERROR, no answers, SOA.
    let msg = udp(addr, "web.service.consul.", RecordType::MX).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.answers.is_empty());
    assert_eq!(types(&msg.authorities), vec![RecordType::SOA]);
    // Names Consul does not parse are NXDOMAIN.
    for name in [
        "consul.",
        "foo.consul.",
        "service.consul.",
        "a.b.c.web.service.x.y.z.consul.",
    ] {
        let msg = udp(addr, name, RecordType::A).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    // A catalog failure is SERVFAIL.
    let msg = udp(addr, "broken.service.consul.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn ttls_come_from_node_ttl_and_service_ttl() {
    let mut cfg = DnsConfig {
        node_ttl: Duration::from_secs(30),
        ..config()
    };
    cfg.service_ttl.insert("*".into(), Duration::from_secs(5));
    cfg.service_ttl
        .insert("we*".into(), Duration::from_secs(15));
    cfg.service_ttl.insert("db".into(), Duration::from_secs(60));
    let server = start(fixture(), cfg);
    let addr = server.tcp_addr().unwrap();
    let ttl =
        |m: &hickory_proto::op::Message| m.answers.iter().map(|r| r.ttl).collect::<HashSet<_>>();
    let web = tcp(addr, "web.service.consul.", RecordType::SRV).await;
    assert_eq!(ttl(&web), HashSet::from([15]));
    assert!(web.additionals.iter().all(|r| r.ttl == 15));
    assert_eq!(
        ttl(&tcp(addr, "db.service.consul.", RecordType::A).await),
        HashSet::from([60])
    );
    assert_eq!(
        ttl(&tcp(addr, "big.service.consul.", RecordType::A).await),
        HashSet::from([5])
    );
    assert_eq!(
        ttl(&tcp(addr, "node1.node.consul.", RecordType::A).await),
        HashSet::from([30])
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn order_is_shuffled_on_every_query() {
    let server = start(fixture(), config());
    let addr = server.tcp_addr().unwrap();
    let mut orders = HashSet::new();
    for _ in 0..10 {
        let msg = tcp(addr, "big.service.consul.", RecordType::A).await;
        assert_eq!(msg.answers.len(), 100);
        orders.insert(ipv4s(&msg.answers));
    }
    // Ten identical orders of 100 records would be a 1 in (100!)^9 event.
    assert!(orders.len() > 1, "order never changed");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_record_limit_caps_address_answers_but_not_srv() {
    let cfg = DnsConfig {
        a_record_limit: 4,
        ..config()
    };
    let server = start(fixture(), cfg);
    let addr = server.tcp_addr().unwrap();
    assert_eq!(
        tcp(addr, "big.service.consul.", RecordType::A)
            .await
            .answers
            .len(),
        4
    );
    assert_eq!(
        tcp(addr, "big.service.consul.", RecordType::SRV)
            .await
            .answers
            .len(),
        100
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostname_addresses_become_cnames() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "extsvc.service.consul.", RecordType::A).await;
    assert_eq!(types(&msg.answers), vec![RecordType::CNAME]);
    let RData::CNAME(target) = &msg.answers[0].data else {
        panic!()
    };
    assert_eq!(target.0.to_ascii(), "ext.example.test.");
    let msg = udp(addr, "extsvc.service.consul.", RecordType::SRV).await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 9000, "ext.example.test.".to_string())]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn wan_translation_for_remote_datacenters() {
    let mut backend = fixture();
    let mut remote = node("dc2", "far", "10.9.0.2");
    remote
        .tagged_addresses
        .insert("wan".into(), "203.0.113.9".into());
    backend.add_node(remote.clone());
    backend.add_service(
        "dc2",
        "api",
        vec![instance(
            &remote,
            "api",
            443,
            cairn_types::CheckStatus::Passing,
        )],
    );
    let cfg = DnsConfig {
        translate_wan_addrs: true,
        ..config()
    };
    let server = start(backend, cfg);
    let addr = server.udp_addr().unwrap();
    let msg = udp(addr, "api.service.dc2.consul.", RecordType::A).await;
    assert_eq!(ipv4s(&msg.answers), vec!["203.0.113.9"]);
    let msg = udp(addr, "api.service.dc2.consul.", RecordType::SRV).await;
    assert_eq!(
        srv_targets(&msg.answers),
        vec![(1, 443, "cb007109.addr.dc2.consul.".to_string())]
    );
    server.shutdown().await.unwrap();
}
