//! Opening the raft log store, bootstrapping, and starting the raft node.

use crate::error::AgentError;
use cairn_catalog::{ApplyResult, Catalog, CatalogReader};
use cairn_consensus::{
    LogStore, MemLogStore, Peers, RaftConfig, RaftCore, RaftHandle, RaftMessage, RaftTransport,
    ReportSink,
};
use std::path::PathBuf;
use std::time::Duration;

/// Where the raft log lives.
#[derive(Debug, Clone)]
pub enum StoreKind {
    /// In memory (`-dev`): gone when the process exits.
    Memory,
    /// RocksDB in this directory.
    RocksDb(PathBuf),
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Raft tuning, including this server's raft id.
    pub raft: RaftConfig,
    /// This server's RPC address as peers reach it.
    pub rpc_addr: String,
    /// The log store.
    pub store: StoreKind,
    /// Bootstrap a new single-server cluster if the store is empty.
    pub bootstrap: bool,
    /// How long a request waits for a leader.
    pub rpc_hold_timeout: Duration,
}

/// How raft messages leave this server.
#[derive(Clone)]
pub(crate) enum ServerTransport {
    /// No network (a `-dev` or embedded single server): messages have nowhere to go.
    None,
    /// gRPC to the other servers.
    Grpc(cairn_rpc::GrpcRaftTransport),
}

impl RaftTransport for ServerTransport {
    fn send(&self, msg: RaftMessage, reports: &ReportSink) {
        match self {
            ServerTransport::None => {
                reports.report(cairn_consensus::DeliveryReport::Unreachable(msg.to()))
            }
            ServerTransport::Grpc(t) => t.send(msg, reports),
        }
    }

    fn set_peers(&self, peers: &Peers) {
        if let ServerTransport::Grpc(t) = self {
            t.set_peers(peers);
        }
    }
}

fn start_on<L: LogStore>(
    opts: &ServerOptions,
    mut store: L,
    transport: ServerTransport,
) -> Result<(RaftHandle<ApplyResult>, CatalogReader), AgentError> {
    let catalog = Catalog::new();
    let reader = catalog.reader();
    if opts.bootstrap {
        let voters: Peers = [(opts.raft.id, opts.rpc_addr.clone())]
            .into_iter()
            .collect();
        let fresh = RaftCore::bootstrap(&mut store, &catalog, &voters)
            .map_err(|e| AgentError::Raft(format!("bootstrap: {e}")))?;
        if fresh {
            tracing::info!(
                id = opts.raft.id,
                "bootstrapped a new raft cluster with this server"
            );
        }
    }
    let handle = RaftHandle::start(opts.raft.clone(), store, catalog, transport)
        .map_err(|e| AgentError::Raft(e.to_string()))?;
    Ok((handle, reader))
}

/// Open the store and start the raft node.
pub(crate) fn start_raft(
    opts: &ServerOptions,
    transport: ServerTransport,
) -> Result<(RaftHandle<ApplyResult>, CatalogReader), AgentError> {
    match &opts.store {
        StoreKind::Memory => start_on(opts, MemLogStore::new(), transport),
        StoreKind::RocksDb(dir) => open_rocks(opts, dir, transport),
    }
}

#[cfg(feature = "rocksdb")]
fn open_rocks(
    opts: &ServerOptions,
    dir: &std::path::Path,
    transport: ServerTransport,
) -> Result<(RaftHandle<ApplyResult>, CatalogReader), AgentError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AgentError::DataDir(format!("creating {}: {e}", dir.display())))?;
    let mut store = cairn_consensus::RocksLogStore::open(dir)
        .map_err(|e| AgentError::DataDir(format!("{}: {e}", dir.display())))?;
    super::recovery::apply_peers_json(dir, &mut store)?;
    start_on(opts, store, transport)
}

#[cfg(not(feature = "rocksdb"))]
fn open_rocks(
    _opts: &ServerOptions,
    dir: &std::path::Path,
    _transport: ServerTransport,
) -> Result<(RaftHandle<ApplyResult>, CatalogReader), AgentError> {
    Err(AgentError::DataDir(format!(
        "{}: this build has no RocksDB support (feature `rocksdb`)",
        dir.display()
    )))
}
