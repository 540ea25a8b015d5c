//! `cairn operator raft list-peers|remove-peer|transfer-leader`.

use super::block_on;
use crate::cli::format::columnize;
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use cairn_client::{Client, RaftConfiguration};
use clap::Parser;

/// Help of `cairn operator`.
pub const PARENT_HELP: &str = r#"
Usage: cairn operator <subcommand> [options]

  Tools for operators working on the cluster as a whole, such as its Raft
  peer set. These can disrupt a cluster; read each subcommand's help first.
"#;

/// Help of `cairn operator raft`.
pub const RAFT_HELP: &str = r#"
Usage: cairn operator raft <subcommand> [options]

  Inspects and changes the servers' Raft peer set.

  List the current peers:

      $ cairn operator raft list-peers

  Remove a peer that is gone for good:

      $ cairn operator raft remove-peer -address="10.0.1.8:8300"
"#;

/// Help of `cairn operator raft list-peers`.
pub const LIST_PEERS_HELP: &str = r#"
Usage: cairn operator raft list-peers [options]

  Prints the current Raft peer set.
"#;

/// Arguments of `cairn operator raft list-peers`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ListPeersArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

fn client(http: &HttpFlags, server: &ServerFlags, ui: &Ui) -> Option<Client> {
    match http.client(Some(server)) {
        Ok(c) => Some(c),
        Err(e) => {
            ui.error(&format!("Error initializing client: {e}"));
            None
        }
    }
}

/// `cairn operator raft list-peers`.
pub fn list_peers(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ListPeersArgs>("operator raft list-peers", LIST_PEERS_HELP, args, ui)
    else {
        return 1;
    };
    let Some(client) = client(&a.http, &a.server, ui) else {
        return 1;
    };
    let opts = a.server.query_options();
    block_on(async move {
        match client.raft_configuration(&opts).await {
            Ok(conf) => {
                ui.output(&peers_table(&conf));
                0
            }
            Err(e) => {
                ui.error(&format!(
                    "Error getting peers: Failed to retrieve raft configuration: {e}"
                ));
                1
            }
        }
    })
}

/// The `list-peers` table.
pub fn peers_table(conf: &RaftConfiguration) -> String {
    let leader_index = conf
        .servers
        .iter()
        .find(|s| s.leader)
        .map(|s| s.last_index)
        .unwrap_or(0);
    let mut rows = vec![[
        "Node",
        "ID",
        "Address",
        "State",
        "Voter",
        "RaftProtocol",
        "Commit Index",
        "Trails Leader By",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for s in &conf.servers {
        let protocol = if s.protocol_version.is_empty() {
            "<=1".to_string()
        } else {
            s.protocol_version.clone()
        };
        let trails = if s.leader {
            "-".to_string()
        } else {
            match leader_index.saturating_sub(s.last_index) {
                1 => "1 commit".to_string(),
                n => format!("{n} commits"),
            }
        };
        rows.push(vec![
            s.node.clone(),
            s.id.clone(),
            s.address.clone(),
            if s.leader { "leader" } else { "follower" }.to_string(),
            s.voter.to_string(),
            protocol,
            s.last_index.to_string(),
            trails,
        ]);
    }
    columnize(&rows)
}

/// Help of `cairn operator raft remove-peer`.
pub const REMOVE_PEER_HELP: &str = r#"
Usage: cairn operator raft remove-peer [options]

  Removes the server with the given -address or -id from the Raft peer set.

  Rarely, a server that is gone stays in the peer set; this removes it so it
  no longer counts for quorum. If the server still shows in "cairn members",
  "cairn force-leave" is the better cleanup.
"#;

/// Arguments of `cairn operator raft remove-peer`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct RemovePeerArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// The address to remove from the Raft configuration.
    #[arg(long, value_name = "string", default_value = "")]
    address: String,
    /// The ID to remove from the Raft configuration.
    #[arg(long, value_name = "string", default_value = "")]
    id: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn operator raft remove-peer`.
pub fn remove_peer(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<RemovePeerArgs>("operator raft remove-peer", REMOVE_PEER_HELP, args, ui)
    else {
        return 1;
    };
    let Some(client) = client(&a.http, &a.server, ui) else {
        return 1;
    };
    if a.address.is_empty() && a.id.is_empty() {
        ui.error("Error removing peer: an address or id is required for the peer to remove");
        return 1;
    }
    if !a.address.is_empty() && !a.id.is_empty() {
        ui.error("Error removing peer: cannot give both an address and id");
        return 1;
    }
    block_on(async move {
        let result = if !a.address.is_empty() {
            client.raft_remove_peer_by_address(&a.address).await
        } else {
            client.raft_remove_peer_by_id(&a.id).await
        };
        match result {
            Err(e) => {
                ui.error(&format!("Error removing peer: {e}"));
                1
            }
            Ok(()) => {
                if !a.address.is_empty() {
                    ui.output(&format!("Removed peer with address {:?}", a.address));
                } else {
                    ui.output(&format!("Removed peer with id {:?}", a.id));
                }
                0
            }
        }
    })
}

/// Help of `cairn operator raft transfer-leader`.
pub const TRANSFER_LEADER_HELP: &str = r#"
Usage: cairn operator raft transfer-leader [options]

  Asks the leader to hand Raft leadership to another server (the one given
  with -id, or any).
"#;

/// Arguments of `cairn operator raft transfer-leader`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct TransferLeaderArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// The ID of the node to transfer leadership to.
    #[arg(long, value_name = "string", default_value = "")]
    id: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn operator raft transfer-leader`.
pub fn transfer_leader(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<TransferLeaderArgs>(
        "operator raft transfer-leader",
        TRANSFER_LEADER_HELP,
        args,
        ui,
    ) else {
        return 1;
    };
    let Some(client) = client(&a.http, &a.server, ui) else {
        return 1;
    };
    block_on(async move {
        match client.raft_transfer_leader(&a.id).await {
            Err(e) => {
                ui.error(&format!(
                    "Error transfering leadership: Failed to transfer leadership {e}"
                ));
                1
            }
            Ok(r) if !r.success => {
                ui.error("Error transfering leadership: Failed to transfer leadership");
                1
            }
            Ok(_) => {
                ui.output("Success");
                0
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_client::RaftServer;

    #[test]
    fn list_peers_columns() {
        let server = |node: &str, id: &str, leader: bool, last: u64| RaftServer {
            id: id.into(),
            node: node.into(),
            address: format!("10.0.0.{}:8300", &id[..1]),
            leader,
            protocol_version: "3".into(),
            voter: true,
            last_index: last,
        };
        let conf = RaftConfiguration {
            servers: vec![
                server("s1", "1aaa", true, 100),
                server("s2", "2bbb", false, 99),
                server("s3", "3ccc", false, 90),
            ],
            index: 1,
        };
        assert_eq!(
            peers_table(&conf),
            "Node  ID    Address        State     Voter  RaftProtocol  Commit Index  Trails Leader By\n\
             s1    1aaa  10.0.0.1:8300  leader    true   3             100           -\n\
             s2    2bbb  10.0.0.2:8300  follower  true   3             99            1 commit\n\
             s3    3ccc  10.0.0.3:8300  follower  true   3             90            10 commits"
        );
    }
}
