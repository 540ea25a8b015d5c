//! Checking time for KV histories generated from a real sequential execution: 10 clients ×
//! 1,000 operations on 5 keys (~2,000 operations per key; 50 % reads, 25 % writes, 20 % CAS,
//! 5 % deletes), reads reporting `ModifyIndex`, with 0 %, 1 % and 5 % of operations having an
//! unknown outcome.
//!
//! Run: `cargo bench -p cairn-lincheck --bench check -- --warm-up-time 1 --measurement-time 5`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use cairn_lincheck::{check_kv, Budget, Verdict};
use common::{generate, GenConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_kv");
    for (name, unknown_percent) in [
        ("10x1000_5keys", 0),
        ("10x1000_5keys_1pct_unknown", 1),
        ("10x1000_5keys_5pct_unknown", 5),
    ] {
        let g = generate(
            42,
            GenConfig {
                clients: 10,
                ops_per_client: 1_000,
                keys: 5,
                unknown_percent,
                with_index: true,
            },
        );
        let budget = Budget::UNLIMITED;
        assert_eq!(
            check_kv(&g.history, &budget).map(|r| r.verdict()).ok(),
            Some(Verdict::Linearizable)
        );
        group.throughput(Throughput::Elements(g.history.ops.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| check_kv(black_box(&g.history), &budget).map(|r| r.verdict()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
