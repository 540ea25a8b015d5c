//! Catalog queries: nodes, services, service instances, node services.
//!
//! Index rules (Consul's `catalog.go`): node lists and single nodes report the `nodes` table
//! index; the service list reports `services`; the instances of a service report
//! `service.<name>`, or the service extinction index if none exist; a node's services report
//! `node.<name>`, or the node extinction index if the node does not exist.

use super::{at_least_one, CatalogView};
use crate::state::{fold, Name};
use cairn_types::{AgentService, CatalogService, Node, NodeServices};
use std::collections::BTreeMap;

/// Whether `svc` carries every tag in `tags` (case-insensitive, as Consul's tag filter).
pub(crate) fn has_tags(svc: &AgentService, tags: &[String]) -> bool {
    tags.iter().all(|want| {
        let want = want.to_lowercase();
        svc.tags.iter().any(|t| t.to_lowercase() == want)
    })
}

/// Whether `meta` has every key/value pair of `filters` (Consul's `SatisfiesMetaFilters`).
pub(crate) fn meta_matches(
    meta: &BTreeMap<String, String>,
    filters: &BTreeMap<String, String>,
) -> bool {
    filters.iter().all(|(k, v)| meta.get(k) == Some(v))
}

// Struct updates stay in case cairn-types grows fields.
#[allow(clippy::needless_update)]
fn catalog_service(node: &Node, svc: &AgentService) -> CatalogService {
    CatalogService {
        id: node.id.clone(),
        node: node.node.clone(),
        address: node.address.clone(),
        datacenter: node.datacenter.clone(),
        tagged_addresses: node.tagged_addresses.clone(),
        node_meta: node.meta.clone(),
        service_kind: svc.kind.clone(),
        service_id: svc.id.clone(),
        service_name: svc.service.clone(),
        service_tags: svc.tags.clone(),
        service_address: svc.address.clone(),
        service_tagged_addresses: svc.tagged_addresses.clone(),
        service_weights: svc.weights,
        service_meta: svc.meta.clone(),
        service_port: svc.port,
        service_enable_tag_override: svc.enable_tag_override,
        create_index: svc.create_index,
        modify_index: svc.modify_index,
        ..CatalogService::default()
    }
}

impl CatalogView {
    /// `GET /v1/catalog/nodes`: every node, by name.
    pub fn nodes(&self) -> (Vec<Node>, u64) {
        let nodes = self.s.nodes.values().map(|n| Node::clone(n)).collect();
        (nodes, at_least_one(self.s.idx.nodes))
    }

    /// One node by name (case-insensitive); index of the `nodes` table.
    pub fn node(&self, name: &str) -> (Option<Node>, u64) {
        let node = self
            .s
            .nodes
            .get(fold(name).as_ref())
            .map(|n| Node::clone(n));
        (node, at_least_one(self.s.idx.nodes))
    }

    /// One node by node ID (case-insensitive); index of the `nodes` table.
    pub fn node_by_id(&self, id: &str) -> (Option<Node>, u64) {
        let node = self
            .s
            .node_ids
            .get(fold(id).as_ref())
            .and_then(|name| self.s.nodes.get(name))
            .map(|n| Node::clone(n));
        (node, at_least_one(self.s.idx.nodes))
    }

    /// `GET /v1/catalog/nodes?node-meta=k:v`: nodes carrying every given meta pair.
    pub fn nodes_by_meta(&self, filters: &BTreeMap<String, String>) -> (Vec<Node>, u64) {
        let nodes = self
            .s
            .nodes
            .values()
            .filter(|n| meta_matches(&n.meta, filters))
            .map(|n| Node::clone(n))
            .collect();
        (nodes, at_least_one(self.s.idx.nodes))
    }

    /// `GET /v1/catalog/services`: service name → sorted union of its instances' tags.
    pub fn services(&self) -> (BTreeMap<String, Vec<String>>, u64) {
        (self.tag_union(|_| true), at_least_one(self.s.idx.services))
    }

    /// `GET /v1/catalog/services?node-meta=k:v`: as [`CatalogView::services`], counting only
    /// instances on nodes carrying every given meta pair; index of the services and nodes
    /// tables (Consul's `ServicesByNodeMeta`).
    pub fn services_by_node_meta(
        &self,
        filters: &BTreeMap<String, String>,
    ) -> (BTreeMap<String, Vec<String>>, u64) {
        let out = self.tag_union(|node_key| {
            self.s
                .nodes
                .get(node_key)
                .is_some_and(|n| meta_matches(&n.meta, filters))
        });
        (out, at_least_one(self.s.idx.services.max(self.s.idx.nodes)))
    }

    fn tag_union(&self, node_ok: impl Fn(&str) -> bool) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for instances in self.s.service_instances.values() {
            let mut display = None;
            let mut tags: Vec<String> = Vec::new();
            for (node, id) in instances.iter().filter(|(node, _)| node_ok(node)) {
                if let Some(svc) = self.s.service(node, id) {
                    display.get_or_insert_with(|| svc.service.clone());
                    tags.extend(svc.tags.iter().cloned());
                }
            }
            // Names with no instance passing the node filter are left out.
            if let Some(name) = display {
                tags.sort();
                tags.dedup();
                out.insert(name, tags);
            }
        }
        out
    }

    /// The index Consul reports for queries on one service name.
    pub(crate) fn service_index(&self, name_key: &str, with_checks: bool) -> u64 {
        let exists = self.s.service_instances.contains_key(name_key);
        let i = &self.s.idx;
        if !exists && i.service_extinction > 0 {
            return i.service_extinction;
        }
        if let Some(&idx) = i.per_service.get(name_key) {
            return idx;
        }
        let base = i.nodes.max(i.services);
        if with_checks {
            base.max(i.checks)
        } else {
            base
        }
    }

    /// Instances of a service name as `(node, service)` pairs in (node, ID) order.
    pub(crate) fn instances<'a>(
        &'a self,
        name_key: &str,
    ) -> impl Iterator<Item = (&'a Name, &'a Node, &'a AgentService)> + 'a {
        self.s
            .service_instances
            .get(name_key)
            .into_iter()
            .flat_map(|set| set.iter())
            .filter_map(move |(node_key, id)| {
                let node = self.s.nodes.get(node_key)?;
                let svc = self.s.service(node_key, id)?;
                Some((node_key, &**node, &**svc))
            })
    }

    /// `GET /v1/catalog/service/:name[?tag=…]`: instances with their node, filtered to those
    /// carrying every tag in `tags`.
    pub fn service_nodes(&self, name: &str, tags: &[String]) -> (Vec<CatalogService>, u64) {
        let key = fold(name);
        let out = self
            .instances(&key)
            .filter(|(_, _, svc)| has_tags(svc, tags))
            .map(|(_, node, svc)| catalog_service(node, svc))
            .collect();
        (out, at_least_one(self.service_index(&key, false)))
    }

    /// `GET /v1/catalog/node/:node`: the node (by name, else by node ID) and its services by
    /// ID. `None` for an unknown node, with the node extinction index.
    #[allow(clippy::needless_update)]
    pub fn node_services(&self, node: &str) -> (Option<NodeServices>, u64) {
        let mut key = fold(node).into_owned();
        if !self.s.nodes.contains_key(key.as_str()) {
            match self.s.node_ids.get(key.as_str()) {
                Some(name) => key = name.to_string(),
                None => return (None, at_least_one(self.s.idx.node_extinction)),
            }
        }
        let Some(n) = self.s.nodes.get(key.as_str()) else {
            return (None, at_least_one(self.s.idx.node_extinction));
        };
        let services = self
            .s
            .services
            .get(key.as_str())
            .map(|svcs| {
                svcs.values()
                    .map(|s| (s.id.clone(), AgentService::clone(s)))
                    .collect()
            })
            .unwrap_or_default();
        let index = self.s.idx.per_node.get(key.as_str()).copied().unwrap_or(0);
        let out = NodeServices {
            node: Some(Node::clone(n)),
            services,
            ..NodeServices::default()
        };
        (Some(out), at_least_one(index))
    }

    /// One service instance on a node; index of the `services` table.
    pub fn node_service(&self, node: &str, service_id: &str) -> (Option<AgentService>, u64) {
        let svc = self
            .s
            .service(&fold(node), &fold(service_id))
            .map(|s| AgentService::clone(s));
        (svc, at_least_one(self.s.idx.services))
    }
}
