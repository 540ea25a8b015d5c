//! Shared fixture for the DNS tests: an in-memory backend with several nodes, services,
//! tags, health states and two datacenters, a server on loopback, and a small DNS client
//! built on hickory-proto messages.
#![allow(dead_code)]

use cairn_dns::{
    BackendError, DnsBackend, DnsConfig, DnsListeners, DnsServer, DnsServerHandle,
    PreparedQueryAnswer, PtrTarget, ServiceInstance, ServiceInstances, ServiceKind,
};
use cairn_types::{AgentService, CheckStatus, Node, ServiceAddress, Weights};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A catalog in memory, keyed by lower-case names.
#[derive(Default)]
pub struct TestBackend {
    pub services: HashMap<(String, String, &'static str), ServiceInstances>,
    pub nodes: HashMap<(String, String), Node>,
    pub datacenters: Vec<String>,
    pub ptr_services: HashMap<IpAddr, PtrTarget>,
    pub queries: HashMap<String, PreparedQueryAnswer>,
    /// The client address of the last prepared query.
    pub last_query_source: std::sync::Mutex<Option<IpAddr>>,
}

fn kind_key(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Service => "service",
        ServiceKind::Connect => "connect",
        ServiceKind::Ingress => "ingress",
    }
}

impl DnsBackend for TestBackend {
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError> {
        if !self.datacenters.iter().any(|d| d == dc) {
            return Err(BackendError::UnknownDatacenter);
        }
        if service == "broken" {
            return Err(BackendError::Unavailable("test".into()));
        }
        let key = (dc.to_string(), service.to_ascii_lowercase(), kind_key(kind));
        Ok(self
            .services
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError> {
        if !self.datacenters.iter().any(|d| d == dc) {
            return Err(BackendError::UnknownDatacenter);
        }
        Ok(self
            .nodes
            .get(&(dc.to_string(), node.to_ascii_lowercase()))
            .cloned())
    }

    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        Ok(self
            .nodes
            .values()
            .find(|n| n.datacenter == "dc1" && n.address.parse::<IpAddr>().ok() == Some(addr))
            .map(|n| PtrTarget {
                name: n.node.clone(),
                datacenter: n.datacenter.clone(),
            }))
    }

    fn service_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        Ok(self.ptr_services.get(&addr).cloned())
    }

    fn prepared_query(
        &self,
        _dc: &str,
        name: &str,
        source: IpAddr,
    ) -> Result<Option<PreparedQueryAnswer>, BackendError> {
        if let Ok(mut last) = self.last_query_source.lock() {
            *last = Some(source);
        }
        Ok(self.queries.get(name).cloned())
    }
}

pub fn node(dc: &str, name: &str, addr: &str) -> Node {
    Node {
        node: name.into(),
        address: addr.into(),
        datacenter: dc.into(),
        ..Node::default()
    }
}

pub fn instance(node: &Node, service: &str, port: u16, status: CheckStatus) -> ServiceInstance {
    ServiceInstance {
        node: node.clone(),
        service: AgentService {
            id: service.into(),
            service: service.into(),
            port,
            ..AgentService::default()
        },
        status,
    }
}

impl TestBackend {
    pub fn add_node(&mut self, n: Node) {
        if !self.datacenters.contains(&n.datacenter) {
            self.datacenters.push(n.datacenter.clone());
        }
        self.nodes
            .insert((n.datacenter.clone(), n.node.to_ascii_lowercase()), n);
    }

    pub fn add_service(&mut self, dc: &str, name: &str, instances: Vec<ServiceInstance>) {
        self.add_kind(dc, name, ServiceKind::Service, instances);
    }

    pub fn add_kind(
        &mut self,
        dc: &str,
        name: &str,
        kind: ServiceKind,
        list: Vec<ServiceInstance>,
    ) {
        self.services.insert(
            (dc.into(), name.to_ascii_lowercase(), kind_key(kind)),
            Arc::from(list),
        );
    }
}

/// The standard fixture.
///
/// dc1: node1 10.0.0.1 (meta), node2 10.0.0.2, node3 10.0.0.3, node4 fd00::4, sick 10.0.0.5,
/// server1 10.0.0.10, ext (hostname address).
/// web: node1 passing tags [v1, primary] weights 10/1; node2 warning tag v2 weights 10/1;
///      node3 critical; sick (node critical); node4 passing (IPv6).
/// db: node1 with service address 10.1.0.1:5432. consul: server1:8300.
/// big: 100 passing instances big-0..big-99 at 10.2.i/256.i%256.
/// dc2: web on dc2-node 10.9.0.1.
pub fn fixture() -> TestBackend {
    let mut b = TestBackend::default();
    let mut n1 = node("dc1", "node1", "10.0.0.1");
    n1.meta.insert("rack".into(), "r1".into());
    n1.meta.insert("rfc1035-raw".into(), "plain".into());
    let n2 = node("dc1", "node2", "10.0.0.2");
    let n3 = node("dc1", "node3", "10.0.0.3");
    let n4 = node("dc1", "node4", "fd00::4");
    let sick = node("dc1", "sick", "10.0.0.5");
    let server = node("dc1", "server1", "10.0.0.10");
    let ext = node("dc1", "ext", "ext.example.test");
    for n in [&n1, &n2, &n3, &n4, &sick, &server, &ext] {
        b.add_node(n.clone());
    }
    let weights = Weights {
        passing: 10,
        warning: 1,
    };
    let mut w1 = instance(&n1, "web", 80, CheckStatus::Passing);
    w1.service.tags = vec!["v1".into(), "Primary".into()];
    w1.service.weights = weights;
    let mut w2 = instance(&n2, "web", 81, CheckStatus::Warning);
    w2.service.tags = vec!["v2".into()];
    w2.service.weights = weights;
    let w3 = instance(&n3, "web", 82, CheckStatus::Critical);
    let w5 = instance(&sick, "web", 85, CheckStatus::Critical);
    let w4 = instance(&n4, "web", 84, CheckStatus::Passing);
    b.add_service("dc1", "web", vec![w1, w2, w3, w5, w4]);

    let mut db = instance(&n1, "db", 5432, CheckStatus::Passing);
    db.service.address = "10.1.0.1".into();
    db.service.tagged_addresses.insert(
        "wan".into(),
        ServiceAddress {
            address: "198.51.100.1".into(),
            port: 15432,
        },
    );
    b.add_service("dc1", "db", vec![db]);
    b.ptr_services.insert(
        "10.1.0.1".parse().unwrap(),
        PtrTarget {
            name: "db".into(),
            datacenter: "dc1".into(),
        },
    );
    b.add_service(
        "dc1",
        "consul",
        vec![instance(&server, "consul", 8300, CheckStatus::Passing)],
    );
    b.add_service(
        "dc1",
        "extsvc",
        vec![instance(&ext, "extsvc", 9000, CheckStatus::Passing)],
    );
    let big: Vec<ServiceInstance> = (0..100)
        .map(|i| {
            let n = node(
                "dc1",
                &format!("big-{i}"),
                &format!("10.2.{}.{}", i / 256, i % 256),
            );
            instance(&n, "big", 8000, CheckStatus::Passing)
        })
        .collect();
    b.add_service("dc1", "big", big);

    let remote = node("dc2", "dc2-node", "10.9.0.1");
    b.add_node(remote.clone());
    b.add_service(
        "dc2",
        "web",
        vec![instance(&remote, "web", 80, CheckStatus::Passing)],
    );
    b
}

/// Starts a server on 127.0.0.1 with `config` over `backend`.
pub fn start(backend: TestBackend, config: DnsConfig) -> DnsServerHandle {
    start_shared(Arc::new(backend), config)
}

/// Starts a server over a backend the test keeps a handle on.
pub fn start_shared(backend: Arc<TestBackend>, config: DnsConfig) -> DnsServerHandle {
    let listeners = DnsListeners::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    DnsServer::start(listeners, backend, config).expect("start")
}

pub fn config() -> DnsConfig {
    DnsConfig {
        alt_domain: Some("alt.test.".into()),
        ..DnsConfig::default()
    }
}

/// A query message with a fixed ID, optionally with EDNS.
pub fn query_bytes(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut msg = Message::new(0x1234, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg.to_vec().unwrap()
}

/// Sends raw bytes over UDP; the raw reply.
pub async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

pub async fn udp_edns(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    edns: Option<u16>,
) -> (Message, usize) {
    let raw = udp_raw(addr, &query_bytes(name, qtype, edns))
        .await
        .expect("UDP reply");
    (Message::from_vec(&raw).expect("decodable reply"), raw.len())
}

pub async fn udp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    udp_edns(addr, name, qtype, None).await.0
}

pub async fn tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let bytes = query_bytes(name, qtype, None);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    s.write_all(&framed).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

pub fn ipv4s(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

pub fn srv_targets(records: &[Record]) -> Vec<(u16, u16, String)> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.weight, s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect()
}

pub fn types(records: &[Record]) -> Vec<RecordType> {
    records.iter().map(Record::record_type).collect()
}

pub fn txts(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).to_string())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

pub fn meta_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
