//! Response shapes that only the client needs (the rest live in `cairn-types`).

pub use cairn_types::{event_id_to_index, RaftConfiguration, RaftServer, UserEvent};
use serde::{Deserialize, Serialize};

/// A user event to fire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFire {
    /// Event name (required; must not start with `_`).
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Regular expression on node names.
    pub node_filter: String,
    /// Regular expression on service names.
    pub service_filter: String,
    /// Regular expression on tags (needs a service filter).
    pub tag_filter: String,
}

/// The answer of `POST /v1/operator/raft/transfer-leader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TransferLeaderResponse {
    /// Whether leadership moved.
    pub success: bool,
}

/// A Vivaldi network coordinate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Coordinate {
    /// Euclidean part (8 dimensions in Consul).
    pub vec: Vec<f64>,
    /// Confidence.
    pub error: f64,
    /// Adjustment term.
    pub adjustment: f64,
    /// Height term.
    pub height: f64,
}

/// A node's coordinate (`GET /v1/coordinate/nodes` element).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CoordinateEntry {
    /// Node name.
    pub node: String,
    /// Network segment (enterprise; empty here).
    pub segment: String,
    /// The coordinate.
    pub coord: Coordinate,
}

/// The WAN coordinates of one datacenter's servers (`GET /v1/coordinate/datacenters` element).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CoordinateDatacenterMap {
    /// Datacenter name.
    pub datacenter: String,
    /// Network area (enterprise; empty here).
    #[serde(rename = "AreaID")]
    pub area_id: String,
    /// Server coordinates.
    pub coordinates: Vec<CoordinateEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_event_payload_round_trip() {
        let json = r#"{"ID":"x","Name":"deploy","Payload":"aGk=","NodeFilter":"","ServiceFilter":"","TagFilter":"","Version":1,"LTime":7}"#;
        let ev: UserEvent = serde_json::from_str(json).unwrap();
        assert_eq!(ev.payload, b"hi");
        assert_eq!(ev.ltime, 7);
        assert_eq!(serde_json::to_string(&ev).unwrap(), json);
        let ev: UserEvent = serde_json::from_str(r#"{"ID":"y","Payload":null}"#).unwrap();
        assert!(ev.payload.is_empty());
    }
}
