//! Recovering a cluster that lost quorum, as Consul does: the operator stops the surviving
//! servers, writes `data_dir/raft/peers.json` on each (the servers that will form the new
//! configuration), and starts them. The file is applied once and deleted.
//!
//! ```json
//! [{"id": "<node-id of the server>", "address": "10.0.0.1:8300", "non_voter": false}]
//! ```

use crate::error::AgentError;
use crate::node_id::raft_id;
use cairn_catalog::Catalog;
use cairn_consensus::{LogStore, Peers, RaftCore};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct PeerEntry {
    id: String,
    address: String,
    #[serde(default)]
    non_voter: bool,
}

/// Parse a `peers.json` text into the voters it names.
pub(crate) fn parse_peers(text: &str) -> Result<Peers, String> {
    let entries: Vec<PeerEntry> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut voters = Peers::new();
    for e in entries {
        if e.id.trim().is_empty() {
            return Err("an entry has an empty id".into());
        }
        if e.address.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!("address {:?} is not ip:port", e.address));
        }
        if !e.non_voter {
            voters.insert(raft_id(&e.id), e.address);
        }
    }
    if voters.is_empty() {
        return Err("no voting server listed".into());
    }
    Ok(voters)
}

/// Apply `dir/peers.json` to the store if it exists, then delete it.
pub(crate) fn apply_peers_json<L: LogStore>(dir: &Path, store: &mut L) -> Result<(), AgentError> {
    let path = dir.join("peers.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AgentError::DataDir(format!("{}: {e}", path.display()))),
    };
    tracing::info!(target: "agent.server", file = %path.display(), "found peers.json file, recovering Raft configuration...");
    let voters =
        parse_peers(&text).map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))?;
    RaftCore::recover(store, Catalog::new(), &voters)
        .map_err(|e| AgentError::Raft(format!("recovery failed: {e}")))?;
    std::fs::remove_file(&path)
        .map_err(|e| AgentError::DataDir(format!("deleting {}: {e}", path.display())))?;
    tracing::info!(target: "agent.server", "deleted peers.json file after successful recovery");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_json_shapes() {
        let v = parse_peers(r#"[{"id":"a","address":"127.0.0.1:8300"},{"id":"b","address":"127.0.0.2:8300","non_voter":true}]"#).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v.get(&raft_id("a")).map(String::as_str),
            Some("127.0.0.1:8300")
        );
        assert!(parse_peers("[]").unwrap_err().contains("no voting"));
        assert!(parse_peers(r#"[{"id":"a","address":"nope"}]"#)
            .unwrap_err()
            .contains("ip:port"));
        assert!(parse_peers("{").is_err());
    }
}
