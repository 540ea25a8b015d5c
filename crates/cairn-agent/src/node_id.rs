//! The node's identity: a UUID persisted in the data dir, and the raft id derived from it.

use crate::error::AgentError;
use std::path::Path;

const NODE_ID_FILE: &str = "node-id";

/// Return the configured node ID, else the one persisted in `data_dir`, else a new random one
/// (persisted when there is a data dir). A configured ID that differs from the persisted one
/// is refused, as Consul refuses to change a node's identity under it.
pub fn resolve_node_id(
    configured: Option<&str>,
    data_dir: Option<&Path>,
) -> Result<String, AgentError> {
    let path = data_dir.map(|d| d.join(NODE_ID_FILE));
    let stored = match &path {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| AgentError::DataDir(format!("reading {}: {e}", p.display())))?;
            let id = text.trim().to_ascii_lowercase();
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(AgentError::DataDir(format!(
                    "{}: invalid node ID {id:?}",
                    p.display()
                )));
            }
            Some(id)
        }
        _ => None,
    };
    let id = match (configured, stored) {
        (Some(c), Some(s)) if c.to_ascii_lowercase() != s => {
            return Err(AgentError::Config(format!(
                "node_id {c:?} differs from the ID {s:?} stored in the data dir"
            )))
        }
        (Some(c), _) => {
            let c = c.to_ascii_lowercase();
            uuid::Uuid::parse_str(&c)
                .map_err(|_| AgentError::Config(format!("node_id {c:?} is not a valid UUID")))?;
            c
        }
        (None, Some(s)) => s,
        (None, None) => uuid::Uuid::new_v4().to_string(),
    };
    if let Some(p) = path {
        if !p.exists() {
            std::fs::write(&p, &id)
                .map_err(|e| AgentError::DataDir(format!("writing {}: {e}", p.display())))?;
        }
    }
    Ok(id)
}

/// The raft id of a server: a stable, non-zero 64-bit hash of its node ID.
pub fn raft_id(node_id: &str) -> u64 {
    // FNV-1a: stable across versions and platforms (std's hashers are not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_id_is_persisted_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = resolve_node_id(None, Some(dir.path())).unwrap();
        let b = resolve_node_id(None, Some(dir.path())).unwrap();
        assert_eq!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok());
        let err = resolve_node_id(
            Some("6f1b1c52-9b9b-4a1e-8c7b-0a0d3e1f2a3b"),
            Some(dir.path()),
        );
        assert!(
            err.is_err(),
            "changing the node ID under a data dir is refused"
        );
    }

    #[test]
    fn raft_ids_are_stable_and_non_zero() {
        assert_eq!(raft_id("abc"), raft_id("abc"));
        assert_ne!(raft_id("abc"), raft_id("abd"));
        assert_ne!(raft_id(""), 0);
    }
}
