//! Answers for the DNS interface, straight from the server's in-memory catalog: no RPC per
//! query, and per-service answers cached until the catalog changes.

use cairn_catalog::{CatalogReader, HealthFilter};
use cairn_config::RuntimeConfig;
use cairn_dns::{
    BackendError, DnsBackend, DnsConfig, PtrTarget, ServiceInstance, ServiceInstances, ServiceKind,
    SoaConfig,
};
use cairn_types::Node;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// [`DnsBackend`] over a catalog reader.
pub(crate) struct CatalogDns {
    reader: Option<CatalogReader>,
    datacenter: String,
    /// Service name → (catalog index it was built at, instances).
    cache: Mutex<HashMap<String, (u64, ServiceInstances)>>,
}

impl CatalogDns {
    pub(crate) fn new(reader: Option<CatalogReader>, datacenter: String) -> CatalogDns {
        CatalogDns {
            reader,
            datacenter,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn reader(&self, dc: &str) -> Result<&CatalogReader, BackendError> {
        if !dc.is_empty() && !dc.eq_ignore_ascii_case(&self.datacenter) {
            return Err(BackendError::UnknownDatacenter);
        }
        self.reader
            .as_ref()
            .ok_or_else(|| BackendError::Unavailable("No known Consul servers".into()))
    }
}

impl DnsBackend for CatalogDns {
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError> {
        let reader = self.reader(dc)?;
        if kind != ServiceKind::Service {
            return Ok(Arc::from(Vec::new()));
        }
        let view = reader.view();
        let at = view.last_index();
        if let Some((idx, cached)) = self.cache.lock().get(service) {
            if *idx == at {
                return Ok(cached.clone());
            }
        }
        let (entries, _) = view.service_health(service, &[], HealthFilter::All);
        let instances: ServiceInstances = entries
            .into_iter()
            .map(ServiceInstance::from_entry)
            .collect::<Vec<_>>()
            .into();
        let mut cache = self.cache.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(service.to_string(), (at, instances.clone()));
        Ok(instances)
    }

    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError> {
        Ok(self.reader(dc)?.view().node(node).0)
    }

    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        let reader = self.reader("")?;
        let text = addr.to_string();
        Ok(reader
            .view()
            .nodes()
            .0
            .into_iter()
            .find(|n| n.address == text)
            .map(|n| PtrTarget {
                name: n.node,
                datacenter: self.datacenter.clone(),
            }))
    }
}

/// The agent's DNS answers: from memory on a server, over RPC on a client.
pub(crate) enum AgentDns {
    Local(CatalogDns),
    Remote(super::dns_remote::RemoteDns),
}

impl DnsBackend for AgentDns {
    fn service_instances(
        &self,
        dc: &str,
        service: &str,
        kind: ServiceKind,
    ) -> Result<ServiceInstances, BackendError> {
        match self {
            AgentDns::Local(b) => b.service_instances(dc, service, kind),
            AgentDns::Remote(b) => b.service_instances(dc, service, kind),
        }
    }

    fn node(&self, dc: &str, node: &str) -> Result<Option<Node>, BackendError> {
        match self {
            AgentDns::Local(b) => b.node(dc, node),
            AgentDns::Remote(b) => b.node(dc, node),
        }
    }

    fn node_by_address(&self, addr: IpAddr) -> Result<Option<PtrTarget>, BackendError> {
        match self {
            AgentDns::Local(b) => b.node_by_address(addr),
            AgentDns::Remote(b) => b.node_by_address(addr),
        }
    }
}

/// The DNS server's settings from the agent's configuration.
pub(crate) fn dns_config(cfg: &RuntimeConfig) -> DnsConfig {
    let d = &cfg.dns;
    DnsConfig {
        datacenter: cfg.datacenter.clone(),
        translate_wan_addrs: false,
        domain: d.domain.clone(),
        alt_domain: d.alt_domain.clone(),
        recursors: d.recursors.clone(),
        recursor_random: d.recursor_random,
        recursor_timeout: d.recursor_timeout,
        allow_stale: d.allow_stale,
        max_stale: d.max_stale,
        node_ttl: d.node_ttl,
        service_ttl: d.service_ttl.clone(),
        udp_answer_limit: d.udp_answer_limit,
        a_record_limit: d.a_record_limit,
        only_passing: d.only_passing,
        enable_truncate: d.enable_truncate,
        disable_compression: d.disable_compression,
        node_meta_txt: d.node_meta_txt,
        soa: SoaConfig {
            refresh: d.soa.refresh,
            retry: d.soa.retry,
            expire: d.soa.expire,
            min_ttl: d.soa.min_ttl,
        },
        use_cache: d.use_cache,
        cache_max_age: d.cache_max_age,
    }
}
