//! Catalog shapes: nodes, services and their registrations.

use crate::wire::is_zero_u64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A node in the catalog (`GET /v1/catalog/nodes` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    /// Node UUID (may be empty for nodes registered without one).
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name, unique in the datacenter.
    pub node: String,
    /// The node's address.
    pub address: String,
    /// Datacenter the node belongs to.
    pub datacenter: String,
    /// Extra addresses (`lan`, `wan`, `lan_ipv4`, …).
    pub tagged_addresses: BTreeMap<String, String>,
    /// Free-form node metadata.
    pub meta: BTreeMap<String, String>,
    /// Raft index of the node's creation.
    pub create_index: u64,
    /// Raft index of the node's last change.
    pub modify_index: u64,
}

/// An address and port pair in `TaggedAddresses` of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAddress {
    /// Address (Consul emits lower-case `Address` here as `Address`).
    #[serde(rename = "Address")]
    pub address: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
}

/// DNS SRV weights of a service, by health state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Weights {
    /// Weight while all checks pass.
    pub passing: u32,
    /// Weight while some check warns.
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// A service instance as the agent and `NodeServices` present it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentService {
    /// Service kind (`""` for a typical service, `connect-proxy`, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Instance ID, unique on its node; defaults to the name.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Tagged addresses (`lan`, `wan`, …); omitted when empty, as Consul does.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Free-form metadata.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// Address; empty means the node's address.
    pub address: String,
    /// Whether anti-entropy leaves catalog-side tag changes alone.
    pub enable_tag_override: bool,
    /// SRV weights.
    pub weights: Weights,
    /// Datacenter (filled on agent endpoints).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Raft index of creation (omitted when zero, as on agent endpoints).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// Raft index of last change (omitted when zero, as on agent endpoints).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
}

/// A service instance joined with its node (`GET /v1/catalog/service/:name` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogService {
    /// Node UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub node: String,
    /// Node address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node tagged addresses.
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// Service kind.
    pub service_kind: String,
    /// Service instance ID.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    pub service_name: String,
    /// Service tags.
    pub service_tags: Vec<String>,
    /// Service address (may be empty).
    pub service_address: String,
    /// Service tagged addresses (omitted when empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Service weights.
    pub service_weights: Weights,
    /// Service metadata.
    pub service_meta: BTreeMap<String, String>,
    /// Service port.
    pub service_port: u16,
    /// Tag-override flag.
    pub service_enable_tag_override: bool,
    /// Raft index of creation of the service registration.
    pub create_index: u64,
    /// Raft index of last change of the service registration.
    pub modify_index: u64,
}

/// A node with all its services (`GET /v1/catalog/node/:node`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeServices {
    /// The node, absent if unknown.
    pub node: Option<Node>,
    /// Services by instance ID.
    pub services: BTreeMap<String, AgentService>,
}
