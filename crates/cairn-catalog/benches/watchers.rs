//! 100,000 blocking watchers on distinct keys: memory per watcher, "one write wakes exactly
//! one", and the latency from applying a write to the waiting task running.
//!
//! Run: `cargo bench -p cairn-catalog --bench watchers -- --warm-up-time 1 --measurement-time 3`
//!
//! Memory figures are printed (criterion measures time only); they come from a counting
//! global allocator: live heap bytes after creating the watchers minus before.

use cairn_catalog::{Catalog, Command, WatchScope, Watcher};
use cairn_consensus::StateMachine;
use criterion::{criterion_group, criterion_main, Criterion};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const WATCHERS: usize = 100_000;

fn key(i: usize) -> String {
    format!("service/config/instance-{i:06}")
}

fn set(i: usize, v: u64) -> Vec<u8> {
    Command::KvSet {
        key: key(i),
        value: v.to_le_bytes().to_vec(),
        flags: 0,
    }
    .encode()
}

fn bench_watchers(c: &mut Criterion) {
    let mut catalog = Catalog::new();
    let reader = catalog.reader();
    let mut index = 0u64;

    // Memory of idle watchers (the registry entry, the shared slot and the handle).
    let before = LIVE.load(Ordering::Relaxed);
    let watchers: Vec<Watcher> = (0..WATCHERS)
        .map(|i| reader.watch(WatchScope::KvKey(key(i))))
        .collect();
    let after = LIVE.load(Ordering::Relaxed);
    let per_watcher = (after - before) as f64 / WATCHERS as f64;
    println!("watchers: {WATCHERS} idle watchers on distinct keys: {per_watcher:.0} bytes each");

    // One write wakes exactly one of them.
    index += 1;
    catalog.apply(index, &set(42_424, 1));
    let woken: Vec<usize> = watchers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.has_changed())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        woken,
        vec![42_424],
        "one write must wake exactly its watcher"
    );
    println!("watchers: one write woke {} of {WATCHERS}", woken.len());

    // The same watchers each parked in a tokio task, as blocking HTTP handlers would be.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let before = LIVE.load(Ordering::Relaxed);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<usize>();
    let tasks: Vec<_> = watchers
        .into_iter()
        .enumerate()
        .map(|(i, mut w)| {
            let done = done_tx.clone();
            rt.spawn(async move {
                w.mark_seen();
                w.changed().await;
                let _ = done.send(i);
            })
        })
        .collect();
    // Let every task reach its await point.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    let after = LIVE.load(Ordering::Relaxed);
    println!(
        "watchers: with a parked task each: {:.0} bytes per watcher (task + future)",
        (after - before) as f64 / WATCHERS as f64
    );
    index += 1;
    catalog.apply(index, &set(7, 1));
    let first = done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("woken task");
    std::thread::sleep(Duration::from_millis(100));
    let extra = done_rx.try_iter().count();
    assert_eq!((first, extra), (7, 0), "exactly the one task woke");
    for t in tasks {
        t.abort();
    }

    // Wake latency: apply a write to one watched key among 100k; time until the waiting task
    // runs on the runtime thread.
    let _idle: Vec<Watcher> = (0..WATCHERS)
        .map(|i| reader.watch(WatchScope::KvKey(key(i))))
        .collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (woke_tx, woke_rx) = std::sync::mpsc::channel::<Instant>();
    let target = 31_337;
    let mut waiter = reader.watch(WatchScope::KvKey(key(target)));
    rt.spawn(async move {
        loop {
            let _ = ready_tx.send(());
            waiter.changed().await;
            if woke_tx.send(Instant::now()).is_err() {
                return;
            }
        }
    });
    let mut value = 1u64;
    c.bench_function("watch_wake_latency_100k_watchers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let _ = ready_rx.recv_timeout(Duration::from_secs(5));
                // Give the task time to park on the notification.
                std::thread::sleep(Duration::from_micros(50));
                value += 1;
                index += 1;
                let cmd = set(target, value);
                let start = Instant::now();
                catalog.apply(index, &cmd);
                let woke = woke_rx.recv_timeout(Duration::from_secs(5)).expect("wake");
                total += woke.saturating_duration_since(start);
            }
            total
        })
    });
    drop(rt);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_watchers
}
criterion_main!(benches);
