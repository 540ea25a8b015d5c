//! Catalog write bodies (`PUT /v1/catalog/register`, `PUT /v1/catalog/deregister`).

use crate::catalog::AgentService;
use crate::health::HealthCheck;
use crate::wire::is_false;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A catalog registration: a node, optionally with one service and checks
/// (Consul's `RegisterRequest` / api `CatalogRegistration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogRegistration {
    /// Node UUID (optional).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Node name (required).
    pub node: String,
    /// Node address (required).
    pub address: String,
    /// Node tagged addresses, keys kept verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata, keys kept verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_meta: BTreeMap<String, String>,
    /// Datacenter; empty means the agent's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// A service on the node (`Service` is its name, `ID` defaults to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<AgentService>,
    /// A single check (folded into `Checks` by Consul).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<HealthCheck>,
    /// Checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
    /// Leave the node's own fields (address, metadata) as they are.
    #[serde(skip_serializing_if = "is_false")]
    pub skip_node_update: bool,
}

impl CatalogRegistration {
    /// `Check` and `Checks` as one list, each check's `Node` defaulted to the registration's
    /// node, as Consul's `Catalog.Register` does.
    pub fn all_checks(&self) -> Vec<HealthCheck> {
        self.check
            .iter()
            .chain(self.checks.iter())
            .cloned()
            .map(|mut check| {
                if check.node.is_empty() {
                    check.node.clone_from(&self.node);
                }
                check
            })
            .collect()
    }
}

/// A catalog deregistration: the whole node, one service, or one check
/// (api `CatalogDeregistration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogDeregistration {
    /// Node name (required).
    pub node: String,
    /// Obsolete; ignored.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Datacenter; empty means the agent's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Service instance to remove (with its checks).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// Check to remove.
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
}
