//! Node and service maintenance mode: the critical checks Consul registers for them.
//!
//! These are plain data. The agent registers them like any check without a runner, removes
//! them to leave maintenance, and persists them (Consul persists them as checks with source
//! `local`, so maintenance survives a restart).

use cairn_types::{AgentService, CheckStatus, HealthCheck};

/// Check ID of node maintenance (`structs.NodeMaint`).
pub const NODE_MAINTENANCE_CHECK_ID: &str = "_node_maintenance";

/// Prefix of a service maintenance check ID (`structs.ServiceMaintPrefix`).
pub const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";

/// Name of the node maintenance check.
pub const NODE_MAINTENANCE_NAME: &str = "Node Maintenance Mode";

/// Name of a service maintenance check.
pub const SERVICE_MAINTENANCE_NAME: &str = "Service Maintenance Mode";

/// Notes of node maintenance when no reason was given.
pub const DEFAULT_NODE_MAINTENANCE_REASON: &str =
    "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";

/// Notes of service maintenance when no reason was given.
pub const DEFAULT_SERVICE_MAINTENANCE_REASON: &str =
    "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

/// `HealthCheck.Type` of maintenance checks.
pub const MAINTENANCE_CHECK_TYPE: &str = "maintenance";

/// The check ID that puts `service_id` in maintenance.
pub fn service_maintenance_check_id(service_id: &str) -> String {
    format!("{SERVICE_MAINTENANCE_PREFIX}{service_id}")
}

/// Whether `check_id` is a node or service maintenance check.
pub fn is_maintenance_check_id(check_id: &str) -> bool {
    check_id == NODE_MAINTENANCE_CHECK_ID || check_id.starts_with(SERVICE_MAINTENANCE_PREFIX)
}

/// The critical check that puts node `node` in maintenance (`reason` empty: the default).
pub fn node_maintenance_check(node: &str, reason: &str) -> HealthCheck {
    HealthCheck {
        node: node.to_owned(),
        check_id: NODE_MAINTENANCE_CHECK_ID.to_owned(),
        name: NODE_MAINTENANCE_NAME.to_owned(),
        notes: if reason.is_empty() {
            DEFAULT_NODE_MAINTENANCE_REASON.to_owned()
        } else {
            reason.to_owned()
        },
        status: CheckStatus::Critical,
        check_type: MAINTENANCE_CHECK_TYPE.to_owned(),
        ..HealthCheck::default()
    }
}

/// The critical check that puts `service` on node `node` in maintenance (`reason` empty: the
/// default).
pub fn service_maintenance_check(node: &str, service: &AgentService, reason: &str) -> HealthCheck {
    HealthCheck {
        node: node.to_owned(),
        check_id: service_maintenance_check_id(&service.id),
        name: SERVICE_MAINTENANCE_NAME.to_owned(),
        notes: if reason.is_empty() {
            DEFAULT_SERVICE_MAINTENANCE_REASON.to_owned()
        } else {
            reason.to_owned()
        },
        service_id: service.id.clone(),
        service_name: service.service.clone(),
        status: CheckStatus::Critical,
        check_type: MAINTENANCE_CHECK_TYPE.to_owned(),
        ..HealthCheck::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_checks_look_like_consuls() {
        let n = node_maintenance_check("node1", "");
        assert_eq!(n.check_id, "_node_maintenance");
        assert_eq!(n.name, "Node Maintenance Mode");
        assert_eq!(n.notes, DEFAULT_NODE_MAINTENANCE_REASON);
        assert_eq!(n.status, CheckStatus::Critical);
        assert_eq!(n.check_type, "maintenance");
        assert!(n.service_id.is_empty());

        let svc = AgentService {
            id: "redis-1".into(),
            service: "redis".into(),
            ..AgentService::default()
        };
        let s = service_maintenance_check("node1", &svc, "broken");
        assert_eq!(s.check_id, "_service_maintenance:redis-1");
        assert_eq!(s.name, "Service Maintenance Mode");
        assert_eq!(s.notes, "broken");
        assert_eq!(s.service_id, "redis-1");
        assert_eq!(s.service_name, "redis");
        assert_eq!(s.status, CheckStatus::Critical);
        assert!(is_maintenance_check_id(&s.check_id));
        assert!(is_maintenance_check_id("_node_maintenance"));
        assert!(!is_maintenance_check_id("service:redis-1"));
        assert_eq!(
            service_maintenance_check("n", &svc, "").notes,
            DEFAULT_SERVICE_MAINTENANCE_REASON
        );
    }
}
