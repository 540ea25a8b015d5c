//! What the DNS server asks of the agent: a synchronous, in-memory view of the catalog.

use crate::error::BackendError;
use cairn_types::{AgentService, CheckStatus, Node, ServiceEntry};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// One service instance with its node and the aggregated state of its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    /// The node the instance runs on (name, datacenter, address, tagged addresses, meta).
    pub node: Node,
    /// The instance (tags, address, port, tagged addresses, weights).
    pub service: AgentService,
    /// Worst state among the node's checks and the instance's own checks (`Passing` when
    /// there are none). Maintenance counts as critical.
    pub status: CheckStatus,
}

impl ServiceInstance {
    /// Builds an instance from a health entry, aggregating its node and service checks.
    pub fn from_entry(entry: ServiceEntry) -> ServiceInstance {
        let status = aggregate_status(entry.checks.iter().map(|c| c.status));
        ServiceInstance {
            node: entry.node,
            service: entry.service,
            status,
        }
    }
}

/// The worst of several check states, `Passing` for none; maintenance is critical.
pub fn aggregate_status(states: impl IntoIterator<Item = CheckStatus>) -> CheckStatus {
    states
        .into_iter()
        .map(|s| match s {
            CheckStatus::Maintenance => CheckStatus::Critical,
            other => other,
        })
        .max()
        .unwrap_or(CheckStatus::Passing)
}

/// Instances of one service, shared so a backend can cache them between queries.
pub type ServiceInstances = Arc<[ServiceInstance]>;

/// Which endpoints of a service a lookup wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `NAME.service…`: the service's own instances.
    Service,
    /// `NAME.connect…`: mesh-capable endpoints (proxies and native services).
    Connect,
    /// `NAME.ingress…`: ingress gateways exposing the service.
    Ingress,
}

/// A PTR answer: the name of a node or a service and its datacenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtrTarget {
    /// Node or service name.
    pub name: String,
    /// Its datacenter.
    pub datacenter: String,
}

/// The result of executing a prepared query for DNS.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedQueryAnswer {
    /// The service the query resolved to (used for `service_ttl`).
    pub service: String,
    /// The datacenter that answered (failover may pick a remote one).
    pub datacenter: String,
    /// Instances, already filtered by the query's own health rules.
    pub instances: ServiceInstances,
    /// The query's `DNS.TTL`, overriding `service_ttl`.
    pub ttl: Option<Duration>,
}

/// The catalog view the DNS server answers from.
///
/// Every method is synchronous and called on the request path: a server agent answers from
/// its local store (stale reads, no RPC); a client agent answers from a locally cached view.
/// Names arrive in lower case; look them up case-insensitively, as Consul's catalog does.
/// Health filtering, shuffling, tags and answer limits are the DNS server's job: return all
/// instances of the service whatever their state.
pub trait DnsBackend: Send + Sync + 'static {
    /// All instances of `service` (`kind` selects connect or ingress endpoints) in
    /// datacenter `dc`. An unknown service yields an empty list; an unknown datacenter
    /// `BackendError::UnknownDatacenter`.
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError>;

    /// The node named `node` in datacenter `dc`, if any.
    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError>;

    /// A node of the local datacenter whose address is `addr` (PTR lookups).
    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError>;

    /// A service of the local datacenter with a service address of `addr` (PTR lookups,
    /// tried when no node matched).
    fn service_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        let _ = addr;
        Ok(None)
    }

    /// Executes prepared query `name_or_id` in `dc` for a client at `source`.
    /// `Ok(None)` means no such query (NXDOMAIN).
    fn prepared_query(
        &self,
        dc: &str,
        name_or_id: &str,
        source: IpAddr,
    ) -> Result<Option<PreparedQueryAnswer>, BackendError> {
        let _ = (dc, name_or_id, source);
        Ok(None)
    }

    /// The virtual IP of `service` in the local datacenter (`NAME.virtual.consul`).
    fn virtual_ip(&self, service: &str) -> Result<Option<IpAddr>, BackendError> {
        let _ = service;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::HealthCheck;

    #[test]
    fn aggregate_takes_the_worst_and_maintenance_is_critical() {
        use CheckStatus::*;
        assert_eq!(aggregate_status([]), Passing);
        assert_eq!(aggregate_status([Passing, Warning]), Warning);
        assert_eq!(aggregate_status([Critical, Warning]), Critical);
        assert_eq!(aggregate_status([Maintenance]), Critical);
    }

    #[test]
    fn from_entry_aggregates_node_and_service_checks() {
        let entry = ServiceEntry {
            checks: vec![
                HealthCheck {
                    status: CheckStatus::Passing,
                    ..HealthCheck::default()
                },
                HealthCheck {
                    status: CheckStatus::Warning,
                    service_id: "web".into(),
                    ..HealthCheck::default()
                },
            ],
            ..ServiceEntry::default()
        };
        assert_eq!(
            ServiceInstance::from_entry(entry).status,
            CheckStatus::Warning
        );
    }
}
