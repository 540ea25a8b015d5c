//! Raft proposals applied per second, through the real driver (threads, batching, fsync).
//!
//! `cargo bench -p cairn-consensus --bench propose [--features rocksdb]`

use cairn_consensus::{
    InMemoryNetwork, LogStore, MemLogStore, Peers, RaftConfig, RaftCore, RaftHandle, RaftLogLevel,
    Role, StateMachine, StateMachineError,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

/// Counts applied entries; the cheapest possible state machine.
#[derive(Default)]
struct CountSm(u64);

impl StateMachine for CountSm {
    type Response = u64;
    fn apply(&mut self, _index: u64, _data: &[u8]) -> u64 {
        self.0 += 1;
        self.0
    }
    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        Ok(self.0.to_be_bytes().to_vec())
    }
    fn restore(&mut self, _index: u64, data: &[u8]) -> Result<(), StateMachineError> {
        let b: [u8; 8] = data
            .try_into()
            .map_err(|_| StateMachineError("bad".into()))?;
        self.0 = u64::from_be_bytes(b);
        Ok(())
    }
}

fn config(id: u64) -> RaftConfig {
    let mut c = RaftConfig::new(id);
    c.tick_interval = Duration::from_millis(20);
    c.raft_log_level = RaftLogLevel::Warn;
    c
}

fn start_cluster<L: LogStore>(rt: &tokio::runtime::Runtime, mut stores: Vec<L>) -> RaftHandle<u64> {
    let n = stores.len() as u64;
    let net = InMemoryNetwork::new();
    let voters: Peers = (1..=n).map(|i| (i, format!("n{i}"))).collect();
    let mut handles = Vec::new();
    for (i, mut store) in stores.drain(..).enumerate() {
        let id = i as u64 + 1;
        RaftCore::bootstrap(&mut store, &CountSm::default(), &voters).expect("bootstrap");
        let h = RaftHandle::start(config(id), store, CountSm::default(), net.transport(id))
            .expect("start");
        let hc = h.clone();
        net.register(id, move |m| hc.step(m));
        handles.push(h);
    }
    rt.block_on(async {
        handles[0].campaign().await;
        for _ in 0..500 {
            if let Some(h) = handles.iter().find(|h| h.state().role == Role::Leader) {
                return h.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no leader");
    })
}

/// Run `iters` proposals of 64 bytes from `clients` concurrent tasks.
fn run(
    rt: &tokio::runtime::Runtime,
    leader: &RaftHandle<u64>,
    iters: u64,
    clients: u64,
) -> Duration {
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let h = leader.clone();
            let n = iters / clients + u64::from(c < iters % clients);
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    h.propose(vec![7u8; 64]).await.expect("propose");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    });
    start.elapsed()
}

fn bench_mem(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("raft_propose_mem");
    g.throughput(Throughput::Elements(1));
    for nodes in [1usize, 3] {
        let leader = start_cluster(&rt, (0..nodes).map(|_| MemLogStore::new()).collect());
        g.bench_function(format!("{nodes}_node_256_clients"), |b| {
            b.iter_custom(|iters| run(&rt, &leader, iters, 256))
        });
    }
    g.finish();
}

#[cfg(feature = "rocksdb")]
fn bench_rocks(c: &mut Criterion) {
    use cairn_consensus::RocksLogStore;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("raft_propose_rocksdb_fsync");
    g.throughput(Throughput::Elements(1));
    for nodes in [1usize, 3] {
        let dirs: Vec<tempfile::TempDir> = (0..nodes)
            .map(|_| tempfile::tempdir().expect("tmp"))
            .collect();
        let stores = dirs
            .iter()
            .map(|d| RocksLogStore::open(d.path()).expect("open"))
            .collect();
        let leader = start_cluster(&rt, stores);
        g.bench_function(format!("{nodes}_node_256_clients"), |b| {
            b.iter_custom(|iters| run(&rt, &leader, iters, 256))
        });
    }
    g.finish();
}

#[cfg(not(feature = "rocksdb"))]
fn bench_rocks(_c: &mut Criterion) {}

criterion_group!(benches, bench_mem, bench_rocks);
criterion_main!(benches);
