//! DNS answers on a client agent: the servers are asked over RPC (stale reads, as Consul's
//! `dns.allow_stale` default), and each service asked for is then kept up to date by a
//! background blocking query, so later answers come from memory and follow changes within
//! milliseconds.

use super::remote::RemoteServers;
use cairn_catalog::{HealthFilter, Query, QueryResult};
use cairn_dns::{
    BackendError, DnsBackend, PtrTarget, ServiceInstance, ServiceInstances, ServiceKind,
};
use cairn_types::{Consistency, Node, QueryMeta, QueryOptions};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A watched service is dropped after this long without a DNS question about it.
const IDLE: Duration = Duration::from_secs(600);

struct Watched {
    instances: ServiceInstances,
    last_used: Instant,
}

/// [`DnsBackend`] for agents without a server role.
pub(crate) struct RemoteDns {
    remote: Arc<RemoteServers>,
    datacenter: String,
    services: Arc<Mutex<HashMap<String, Watched>>>,
    runtime: tokio::runtime::Handle,
    stop: CancellationToken,
}

fn stale(min_index: u64) -> QueryOptions {
    QueryOptions {
        consistency: Consistency::Stale,
        min_query_index: min_index,
        max_query_time: Some(Duration::from_secs(300)),
        ..QueryOptions::default()
    }
}

fn health_query(service: &str) -> Query {
    Query::HealthService {
        name: service.to_string(),
        tags: Vec::new(),
        filter: HealthFilter::All,
        node_meta: Default::default(),
    }
}

fn instances_of(result: QueryResult) -> ServiceInstances {
    match result {
        QueryResult::ServiceEntries(entries) => entries
            .into_iter()
            .map(ServiceInstance::from_entry)
            .collect::<Vec<_>>()
            .into(),
        _ => Arc::from(Vec::new()),
    }
}

impl RemoteDns {
    pub(crate) fn new(
        remote: Arc<RemoteServers>,
        datacenter: String,
        stop: CancellationToken,
    ) -> RemoteDns {
        RemoteDns {
            remote,
            datacenter,
            services: Arc::new(Mutex::new(HashMap::new())),
            runtime: tokio::runtime::Handle::current(),
            stop,
        }
    }

    fn check_dc(&self, dc: &str) -> Result<(), BackendError> {
        if !dc.is_empty() && !dc.eq_ignore_ascii_case(&self.datacenter) {
            return Err(BackendError::UnknownDatacenter);
        }
        Ok(())
    }

    /// Run one RPC query from the (synchronous) DNS handler: the worker thread hands its other
    /// tasks off while it waits (multi-threaded runtime only).
    fn ask_meta(&self, q: Query) -> Result<(QueryResult, QueryMeta), BackendError> {
        if self.runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(BackendError::Unavailable(
                "DNS on a client agent needs the multi-threaded runtime".into(),
            ));
        }
        let remote = self.remote.clone();
        let fut = async move { remote.query(q, &stale(0)).await };
        tokio::task::block_in_place(|| self.runtime.block_on(fut))
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }

    fn ask(&self, q: Query) -> Result<QueryResult, BackendError> {
        self.ask_meta(q).map(|(result, _)| result)
    }

    /// Keep `service` fresh with blocking queries until it goes unused.
    fn watch(&self, service: String, mut index: u64) {
        let (remote, services, stop) = (
            self.remote.clone(),
            self.services.clone(),
            self.stop.clone(),
        );
        self.runtime.spawn(async move {
            loop {
                let opts = stale(index);
                let q = remote.query(health_query(&service), &opts);
                let r = tokio::select! {
                    r = q => r,
                    _ = stop.cancelled() => return,
                };
                match r {
                    Ok((result, meta)) => {
                        index = meta.index;
                        let mut map = services.lock();
                        let Some(w) = map.get_mut(&service) else { return };
                        if w.last_used.elapsed() > IDLE {
                            map.remove(&service);
                            return;
                        }
                        w.instances = instances_of(result);
                    }
                    Err(e) => {
                        tracing::debug!(target: "agent.dns", service = %service, error = %e, "service watch failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

impl DnsBackend for RemoteDns {
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError> {
        self.check_dc(dc)?;
        if kind != ServiceKind::Service {
            return Ok(Arc::from(Vec::new()));
        }
        if let Some(w) = self.services.lock().get_mut(service) {
            w.last_used = Instant::now();
            return Ok(w.instances.clone());
        }
        let (result, meta) = self.ask_meta(health_query(service))?;
        let instances = instances_of(result);
        let fresh = {
            let mut map = self.services.lock();
            let fresh = !map.contains_key(service);
            map.insert(
                service.to_string(),
                Watched {
                    instances: instances.clone(),
                    last_used: Instant::now(),
                },
            );
            fresh
        };
        if fresh {
            self.watch(service.to_string(), meta.index);
        }
        Ok(instances)
    }

    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError> {
        self.check_dc(dc)?;
        match self.ask(Query::CatalogNode {
            node: node.to_string(),
        })? {
            QueryResult::Node(n) => Ok(n),
            _ => Ok(None),
        }
    }

    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        let text = addr.to_string();
        let nodes = match self.ask(Query::CatalogNodes {
            node_meta: Default::default(),
        })? {
            QueryResult::Nodes(n) => n,
            _ => Vec::new(),
        };
        Ok(nodes
            .into_iter()
            .find(|n| n.address == text)
            .map(|n| PtrTarget {
                name: n.node,
                datacenter: self.datacenter.clone(),
            }))
    }
}
