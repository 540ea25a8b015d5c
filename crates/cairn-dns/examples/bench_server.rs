//! A DNS server over a static in-memory catalog, for benchmarks (`benches/dns/run.sh`).
//!
//! `cargo run --release -p cairn-dns --example bench_server -- --listen 127.0.0.1:18600
//! --instances 100 --max-seconds 300`
//!
//! Serves service `web` with N passing instances on nodes `node-0 … node-{N-1}`
//! (10.1.x.y, port 8080), answering from memory as a server agent does. Exits after
//! `--max-seconds` so a forgotten run stops by itself.

use cairn_dns::{
    BackendError, DnsBackend, DnsConfig, DnsListeners, DnsServer, PtrTarget, ServiceInstance,
    ServiceInstances, ServiceKind,
};
use cairn_types::{AgentService, CheckStatus, Node};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

struct StaticCatalog {
    web: ServiceInstances,
    nodes: HashMap<String, Node>,
}

impl DnsBackend for StaticCatalog {
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        _kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError> {
        if dc != "dc1" {
            return Err(BackendError::UnknownDatacenter);
        }
        Ok(if service == "web" {
            self.web.clone()
        } else {
            Arc::from(Vec::new())
        })
    }

    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError> {
        if dc != "dc1" {
            return Err(BackendError::UnknownDatacenter);
        }
        Ok(self.nodes.get(node).cloned())
    }

    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        let text = addr.to_string();
        Ok(self
            .nodes
            .values()
            .find(|n| n.address == text)
            .map(|n| PtrTarget {
                name: n.node.clone(),
                datacenter: "dc1".into(),
            }))
    }
}

fn catalog(instances: usize) -> StaticCatalog {
    let mut nodes = HashMap::new();
    let mut web = Vec::with_capacity(instances);
    for i in 0..instances {
        let node = Node {
            node: format!("node-{i}"),
            address: format!("10.1.{}.{}", i / 250, i % 250 + 1),
            datacenter: "dc1".into(),
            ..Node::default()
        };
        web.push(ServiceInstance {
            node: node.clone(),
            service: AgentService {
                id: "web".into(),
                service: "web".into(),
                port: 8080,
                ..AgentService::default()
            },
            status: CheckStatus::Passing,
        });
        nodes.insert(node.node.clone(), node);
    }
    StaticCatalog {
        web: Arc::from(web),
        nodes,
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg(&args, "--listen", "127.0.0.1:18600").parse()?;
    let instances: usize = arg(&args, "--instances", "100").parse()?;
    let max_seconds: u64 = arg(&args, "--max-seconds", "300").parse()?;
    let threads: usize = arg(&args, "--threads", "2").parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listeners = DnsListeners::bind(listen)?;
        let backend = Arc::new(catalog(instances));
        println!("serving {instances} instances of web.service.consul on {listen}");
        DnsServer::serve(
            listeners,
            backend,
            DnsConfig::default(),
            tokio::time::sleep(Duration::from_secs(max_seconds)),
        )
        .await?;
        Ok(())
    })
}
