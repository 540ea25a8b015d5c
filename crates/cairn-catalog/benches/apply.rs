//! Apply throughput of the catalog state machine: KV sets and service registrations, through
//! the encoded path raft uses (decode + apply + publish + watch fan-out).
//!
//! Run: `cargo bench -p cairn-catalog --bench apply -- --warm-up-time 1 --measurement-time 3`

use cairn_catalog::{Catalog, Command, RegisterRequest, WatchScope};
use cairn_consensus::StateMachine;
use cairn_types::{AgentService, Node};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const KEYS: usize = 10_000;
const NODES: usize = 100;

fn kv_commands() -> Vec<Vec<u8>> {
    // Two values per key so consecutive rounds always change the entry.
    (0..2 * KEYS)
        .map(|i| {
            Command::KvSet {
                key: format!("app/config/{:05}", i % KEYS),
                value: format!("value-{}-{}", i, "x".repeat(64)).into_bytes(),
                flags: 0,
            }
            .encode()
        })
        .collect()
}

fn registration(i: usize) -> Command {
    let node = i % NODES;
    Command::Register(Box::new(RegisterRequest {
        node: Node {
            node: format!("node-{node:03}"),
            address: format!("10.0.{}.{}", node / 250, node % 250),
            datacenter: "dc1".into(),
            ..Node::default()
        },
        service: Some(AgentService {
            id: format!("web-{}", i % 1_000),
            service: "web".into(),
            tags: vec!["v1".into(), "primary".into()],
            // The port alternates per round so every registration is a real change.
            port: 8000 + (i / 1_000 % 2) as u16,
            ..AgentService::default()
        }),
        ..RegisterRequest::default()
    }))
}

fn bench_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog_apply");
    group.throughput(Throughput::Elements(1));

    let kv = kv_commands();
    let mut catalog = Catalog::new();
    let mut index = 0u64;
    for cmd in &kv[..KEYS] {
        index += 1;
        catalog.apply(index, cmd);
    }
    let mut next = 0usize;
    group.bench_function("kv_set_10k_keys", |b| {
        b.iter(|| {
            index += 1;
            next = (next + 1) % kv.len();
            black_box(catalog.apply(index, &kv[next]));
        })
    });

    // The same with 1,000 watchers on other keys and a root prefix watcher, as an agent under
    // blocking-query load would have.
    let reader = catalog.reader();
    let _watchers: Vec<_> = (0..1_000)
        .map(|i| reader.watch(WatchScope::KvKey(format!("other/{i}"))))
        .chain(std::iter::once(
            reader.watch(WatchScope::KvPrefix(String::new())),
        ))
        .collect();
    group.bench_function("kv_set_10k_keys_with_1k_watchers", |b| {
        b.iter(|| {
            index += 1;
            next = (next + 1) % kv.len();
            black_box(catalog.apply(index, &kv[next]));
        })
    });

    let regs: Vec<Vec<u8>> = (0..2_000).map(|i| registration(i).encode()).collect();
    let mut catalog = Catalog::new();
    let mut index = 0u64;
    for cmd in &regs[..1_000] {
        index += 1;
        catalog.apply(index, cmd);
    }
    let mut next = 0usize;
    group.bench_function("service_register_1k_instances", |b| {
        b.iter(|| {
            index += 1;
            next = (next + 1) % regs.len();
            black_box(catalog.apply(index, &regs[next]));
        })
    });

    group.bench_function("command_decode_kv_set", |b| {
        b.iter_batched(
            || kv[7].clone(),
            |bytes| black_box(Command::decode(&bytes)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_apply);
criterion_main!(benches);
