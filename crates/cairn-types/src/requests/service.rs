//! Service registration bodies (`PUT /v1/agent/service/register`).

use super::check::CheckType;
use crate::catalog::{AgentService, ServiceAddress, Weights};
use crate::wire::is_false;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A service registration (Consul's `ServiceDefinition` / api `AgentServiceRegistration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentServiceRegistration {
    /// Service kind (`""`, `connect-proxy`, `mesh-gateway`, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Instance ID; empty means the name.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service name (required).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Port.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// Address; empty means the node's address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Tagged addresses (`lan`, `wan`, `lan_ipv4`, …), keys kept verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Leave catalog-side tag edits alone during anti-entropy.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
    /// Free-form metadata, keys kept verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// SRV weights; absent means `{Passing: 1, Warning: 1}`. When present, a missing member
    /// is 0, as Go decodes it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "weights_zero_default"
    )]
    pub weights: Option<Weights>,
    /// A single check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckType>,
    /// More checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckType>,
}

/// Weights as Go decodes them: members default to zero, not to [`Weights::default`].
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WeightsWire {
    passing: u32,
    warning: u32,
}

fn weights_zero_default<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Weights>, D::Error> {
    Ok(Option::<WeightsWire>::deserialize(d)?.map(|w| Weights {
        passing: w.passing,
        warning: w.warning,
    }))
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

impl AgentServiceRegistration {
    /// The instance ID: `ID`, or the name when `ID` is empty.
    pub fn service_id(&self) -> &str {
        if self.id.is_empty() {
            &self.name
        } else {
            &self.id
        }
    }

    /// The service as the agent stores it (ID defaulted, weights defaulted, no indexes).
    pub fn to_agent_service(&self) -> AgentService {
        AgentService {
            kind: self.kind.clone(),
            id: self.service_id().to_owned(),
            service: self.name.clone(),
            tags: self.tags.clone(),
            tagged_addresses: self.tagged_addresses.clone(),
            meta: self.meta.clone(),
            port: self.port,
            address: self.address.clone(),
            enable_tag_override: self.enable_tag_override,
            weights: self.weights.unwrap_or_default(),
            ..AgentService::default()
        }
    }

    /// The service's checks, validated, with Consul's defaults filled in: an empty `Check`
    /// object is skipped; a missing `CheckID` becomes `service:<id>` (`service:<id>:<n>`,
    /// counting from 1, when there are several); a missing name becomes
    /// `Service '<name>' check`; `ServiceID` is set to the instance ID.
    pub fn check_types(&self) -> Result<Vec<CheckType>, String> {
        let mut checks: Vec<CheckType> = Vec::new();
        if let Some(check) = self.check.as_ref().filter(|c| !c.is_empty()) {
            check.validate()?;
            checks.push(check.clone());
        }
        for check in &self.checks {
            check.validate()?;
            checks.push(check.clone());
        }
        let total = checks.len();
        let service_id = self.service_id().to_owned();
        for (i, check) in checks.iter_mut().enumerate() {
            if check.check_id.is_empty() {
                check.check_id = if total > 1 {
                    format!("service:{service_id}:{}", i + 1)
                } else {
                    format!("service:{service_id}")
                };
            }
            if check.name.is_empty() {
                check.name = format!("Service '{}' check", self.name);
            }
            check.service_id.clone_from(&service_id);
        }
        Ok(checks)
    }
}
