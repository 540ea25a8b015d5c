//! Shared helpers: raft nodes wired together over real loopback gRPC.

#![allow(dead_code)]

use cairn_consensus::{
    MemLogStore, Peers, RaftConfig, RaftCore, RaftHandle, RaftLogLevel, RaftMessage, RaftTransport,
    ReportSink, Role, StateMachine, StateMachineError,
};
use cairn_rpc::{GrpcRaftTransport, RaftService, RpcServer, ServeError, TransportConfig};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Appends payloads to a shared list; answers the list length after the apply.
#[derive(Clone, Default)]
pub struct ListSm {
    pub items: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl StateMachine for ListSm {
    type Response = usize;

    fn apply(&mut self, _index: u64, data: &[u8]) -> usize {
        let mut items = self.items.lock();
        items.push(data.to_vec());
        items.len()
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        let items = self.items.lock();
        let mut out = Vec::new();
        for i in items.iter() {
            out.extend_from_slice(&(i.len() as u32).to_be_bytes());
            out.extend_from_slice(i);
        }
        Ok(out)
    }

    fn restore(&mut self, _index: u64, mut data: &[u8]) -> Result<(), StateMachineError> {
        let mut items = Vec::new();
        while data.len() >= 4 {
            let n = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            if data.len() < 4 + n {
                return Err(StateMachineError("truncated".into()));
            }
            items.push(data[4..4 + n].to_vec());
            data = &data[4 + n..];
        }
        *self.items.lock() = items;
        Ok(())
    }
}

/// Wraps the gRPC transport and records the slowest `send`, to prove it never blocks.
#[derive(Clone)]
pub struct TimedTransport {
    pub inner: GrpcRaftTransport,
    pub max_send_nanos: Arc<AtomicU64>,
}

impl RaftTransport for TimedTransport {
    fn send(&self, msg: RaftMessage, reports: &ReportSink) {
        let start = Instant::now();
        self.inner.send(msg, reports);
        let took = start.elapsed().as_nanos() as u64;
        self.max_send_nanos.fetch_max(took, Ordering::Relaxed);
    }

    fn set_peers(&self, peers: &Peers) {
        self.inner.set_peers(peers);
    }
}

pub struct Node {
    pub id: u64,
    pub addr: String,
    pub handle: RaftHandle<usize>,
    pub sm: ListSm,
    pub store: MemLogStore,
    pub transport: GrpcRaftTransport,
    pub service: RaftService,
    pub max_send_nanos: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), ServeError>>>,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,raft=off".into()),
        )
        .with_test_writer()
        .try_init();
}

pub fn config(id: u64) -> RaftConfig {
    let mut c = RaftConfig::new(id);
    c.tick_interval = Duration::from_millis(20);
    c.raft_log_level = RaftLogLevel::Off;
    c
}

pub async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("local addr").to_string();
    (l, addr)
}

/// Serve raft for `service` on `listener` until the returned sender fires or is dropped.
pub fn serve(
    listener: TcpListener,
    service: RaftService,
) -> (oneshot::Sender<()>, JoinHandle<Result<(), ServeError>>) {
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(
        RpcServer::builder()
            .raft(service)
            .serve(listener, async move {
                let _ = rx.await;
            }),
    );
    (tx, server)
}

/// Start node `id` with its own RPC server on `listener`.
pub fn start_node(
    id: u64,
    cluster_id: u64,
    listener: TcpListener,
    addr: &str,
    store: MemLogStore,
    cfg: RaftConfig,
) -> Node {
    let sm = ListSm::default();
    let transport = GrpcRaftTransport::new(
        TransportConfig::new(cluster_id, addr),
        tokio::runtime::Handle::current(),
    );
    let max_send_nanos = Arc::new(AtomicU64::new(0));
    let timed = TimedTransport {
        inner: transport.clone(),
        max_send_nanos: max_send_nanos.clone(),
    };
    let handle = RaftHandle::start(cfg, store.clone(), sm.clone(), timed).expect("start raft");
    let h = handle.clone();
    let service = RaftService::new(cluster_id, move |m| h.step(m)).learn_addresses(&transport);
    let (stop, server) = serve(listener, service.clone());
    Node {
        id,
        addr: addr.to_string(),
        handle,
        sm,
        store,
        transport,
        service,
        max_send_nanos,
        stop: Some(stop),
        server: Some(server),
    }
}

impl Node {
    /// Stop the RPC server (the raft node keeps running, cut off from its peers).
    pub async fn stop_server(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let r = tokio::time::timeout(Duration::from_secs(10), s)
                .await
                .expect("server stops within 10 s");
            r.expect("server task").expect("server result");
        }
    }

    /// Serve again on `listener` with the same service.
    pub fn restart_server(&mut self, listener: TcpListener) {
        let (stop, server) = serve(listener, self.service.clone());
        self.stop = Some(stop);
        self.server = Some(server);
    }

    pub fn items(&self) -> Vec<Vec<u8>> {
        self.sm.items.lock().clone()
    }

    pub fn item_count(&self) -> usize {
        self.sm.items.lock().len()
    }

    pub fn max_send(&self) -> Duration {
        Duration::from_nanos(self.max_send_nanos.load(Ordering::Relaxed))
    }
}

/// Bind `n` listeners, bootstrap every store with all of them as voters, start the nodes.
pub async fn cluster(n: u64, cluster_id: u64, cfg: impl Fn(u64) -> RaftConfig) -> Vec<Node> {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(bind().await);
    }
    let voters: Peers = listeners
        .iter()
        .enumerate()
        .map(|(i, (_, a))| (i as u64 + 1, a.clone()))
        .collect();
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, (l, addr))| {
            let id = i as u64 + 1;
            let mut store = MemLogStore::new();
            RaftCore::bootstrap(&mut store, &ListSm::default(), &voters).expect("bootstrap");
            start_node(id, cluster_id, l, &addr, store, cfg(id))
        })
        .collect()
}

/// Index of the leader among `nodes` (skipping ids in `skip`), within 10 s.
pub async fn wait_leader(nodes: &[Node], skip: &[u64]) -> usize {
    for _ in 0..1000 {
        for (i, n) in nodes.iter().enumerate() {
            if !skip.contains(&n.id) && n.handle.state().role == Role::Leader {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no leader elected within 10 s");
}

/// Wait (at most `limit`) until `cond` holds.
pub async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Propose `payloads` on `leader`, up to `concurrency` at a time, in order of submission.
pub async fn propose_all(leader: &RaftHandle<usize>, payloads: Vec<Vec<u8>>, concurrency: usize) {
    for chunk in payloads.chunks(concurrency) {
        let calls = chunk.iter().map(|p| leader.propose(p.clone()));
        for r in futures::future::join_all(calls).await {
            r.expect("propose");
        }
    }
}
