//! Raft proposals applied per second with three nodes talking gRPC over loopback.
//!
//! `cargo bench -p cairn-rpc --bench grpc_propose`

use cairn_consensus::{
    MemLogStore, Peers, RaftConfig, RaftCore, RaftHandle, RaftLogLevel, Role, StateMachine,
    StateMachineError,
};
use cairn_rpc::{GrpcRaftTransport, RaftService, RpcServer, TransportConfig};
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
    c.raft_log_level = RaftLogLevel::Off;
    c
}

fn start_cluster(rt: &tokio::runtime::Runtime, n: u64) -> RaftHandle<u64> {
    rt.block_on(async {
        let mut listeners = Vec::new();
        for _ in 0..n {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = l.local_addr().expect("addr").to_string();
            listeners.push((l, addr));
        }
        let voters: Peers = listeners
            .iter()
            .enumerate()
            .map(|(i, (_, a))| (i as u64 + 1, a.clone()))
            .collect();
        let mut handles = Vec::new();
        for (i, (listener, addr)) in listeners.into_iter().enumerate() {
            let id = i as u64 + 1;
            let mut store = MemLogStore::new();
            RaftCore::bootstrap(&mut store, &CountSm::default(), &voters).expect("bootstrap");
            let transport = GrpcRaftTransport::new(
                TransportConfig::new(1, addr),
                tokio::runtime::Handle::current(),
            );
            let h = RaftHandle::start(config(id), store, CountSm::default(), transport.clone())
                .expect("start");
            let hc = h.clone();
            let svc = RaftService::new(1, move |m| hc.step(m)).learn_addresses(&transport);
            tokio::spawn(
                RpcServer::builder()
                    .raft(svc)
                    .serve(listener, std::future::pending()),
            );
            handles.push(h);
        }
        handles[0].campaign().await;
        for _ in 0..1000 {
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

fn bench_grpc(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let leader = start_cluster(&rt, 3);
    let mut g = c.benchmark_group("raft_propose_grpc");
    g.throughput(Throughput::Elements(1));
    for clients in [1u64, 256] {
        g.bench_function(format!("3_node_{clients}_clients"), |b| {
            b.iter_custom(|iters| run(&rt, &leader, iters, clients))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_grpc);
criterion_main!(benches);
