//! Watch wake rules, restore, cleanup and the absence of lost wake-ups.

mod common;

use cairn_catalog::{Catalog, Command, Table, WatchScope};
use cairn_consensus::StateMachine;
use cairn_types::CheckStatus;
use common::*;
use std::time::Duration;

fn key(k: &str) -> WatchScope {
    WatchScope::KvKey(k.into())
}

fn prefix(p: &str) -> WatchScope {
    WatchScope::KvPrefix(p.into())
}

#[test]
fn key_write_wakes_key_and_its_prefixes_only() {
    let mut h = Harness::new();
    let woken = [
        key("a/b"),
        prefix("a/"),
        prefix("a"),
        prefix(""),
        WatchScope::Table(Table::Kv),
    ]
    .map(|s| h.reader.watch(s));
    let quiet = [
        key("c"),
        key("a"),
        key("a/b/c"),
        prefix("a/b/"),
        prefix("b"),
        WatchScope::Table(Table::Nodes),
        WatchScope::Service("a".into()),
    ]
    .map(|s| h.reader.watch(s));
    h.ok(kv_set("a/b", "1"));
    for w in &woken {
        assert!(w.has_changed(), "{w:?} should wake");
    }
    for w in &quiet {
        assert!(!w.has_changed(), "{w:?} should stay asleep");
    }
}

#[test]
fn identical_write_wakes_nobody() {
    let mut h = Harness::new();
    h.ok(kv_set("k", "v"));
    let w = h.reader.watch(key("k"));
    let t = h.reader.watch(WatchScope::Table(Table::Kv));
    h.ok(kv_set("k", "v"));
    assert!(!w.has_changed());
    assert!(!t.has_changed());
}

#[test]
fn tree_delete_wakes_keys_and_prefixes_under_and_above() {
    let mut h = Harness::new();
    for k in ["a/1", "a/x/2", "b/1"] {
        h.ok(kv_set(k, "v"));
    }
    let woken = [
        key("a/1"),
        key("a/x/2"),
        prefix("a/x/"),
        prefix("a/"),
        prefix(""),
    ]
    .map(|s| h.reader.watch(s));
    let quiet = [key("b/1"), prefix("b/")].map(|s| h.reader.watch(s));
    h.ok(Command::KvDeleteTree {
        prefix: "a/".into(),
    });
    assert!(woken.iter().all(|w| w.has_changed()));
    assert!(quiet.iter().all(|w| !w.has_changed()));
}

#[test]
fn service_watch_wakes_for_its_service_only() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_service("n2", service("db-1", "db", &[], 1)));
    let web = h.reader.watch(WatchScope::Service("WEB".into()));
    let db = h.reader.watch(WatchScope::Service("db".into()));
    let n2 = h.reader.watch(WatchScope::Node("n2".into()));
    h.ok(register_service("n1", service("web-2", "web", &[], 81)));
    assert!(web.has_changed());
    assert!(!db.has_changed());
    assert!(!n2.has_changed());
    // A node check on n2 changes db's health results and n2's node results.
    h.ok(register_checks(
        "n2",
        vec![check("n2", "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    assert!(db.has_changed());
    assert!(n2.has_changed());
}

#[test]
fn last_instance_removal_wakes_the_service_watcher() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    let w = h.reader.watch(WatchScope::Service("web".into()));
    h.ok(Command::DeregisterNode {
        node: "n1".into(),
        now_ms: 0,
    });
    assert!(w.has_changed());
}

#[test]
fn session_invalidation_wakes_released_keys() {
    let mut h = Harness::new();
    h.ok(register_node("n1"));
    h.ok(create_session(
        "s",
        "n1",
        cairn_types::SessionBehavior::Release,
        Duration::ZERO,
    ));
    h.ok(acquire("lock", "s", 0));
    let w = h.reader.watch(key("lock"));
    let sessions = h.reader.watch(WatchScope::Table(Table::Sessions));
    h.ok(Command::SessionDestroy {
        id: "s".into(),
        now_ms: 0,
    });
    assert!(w.has_changed());
    assert!(sessions.has_changed());
}

#[test]
fn restore_wakes_everything() {
    let mut h = Harness::new();
    h.ok(kv_set("a", "1"));
    let snap = h.catalog.snapshot().expect("snapshot");
    let watchers = [
        key("zzz"),
        prefix("q/"),
        WatchScope::Service("nothing".into()),
        WatchScope::Node("nobody".into()),
        WatchScope::Table(Table::Sessions),
    ]
    .map(|s| h.reader.watch(s));
    h.catalog.restore(10, &snap).expect("restore");
    assert!(watchers.iter().all(|w| w.has_changed()));
    assert_eq!(h.view().last_index(), 10);
}

#[test]
fn registry_entries_go_with_the_last_watcher() {
    let h = Harness::new();
    let a = h.reader.watch(key("k"));
    let b = h.reader.watch(key("k"));
    let p = h.reader.watch(prefix("k"));
    let t = h.reader.watch(WatchScope::Table(Table::Kv));
    assert_eq!(
        h.reader.watched_scopes(),
        2,
        "two watchers of one key share a slot"
    );
    drop(a);
    assert_eq!(h.reader.watched_scopes(), 2);
    drop(b);
    drop(t);
    assert_eq!(h.reader.watched_scopes(), 1);
    drop(p);
    assert_eq!(h.reader.watched_scopes(), 0);
}

#[test]
fn shared_slot_watchers_each_see_the_change() {
    let mut h = Harness::new();
    let mut a = h.reader.watch(key("k"));
    let b = h.reader.watch(key("k"));
    h.ok(kv_set("k", "1"));
    assert!(a.has_changed() && b.has_changed());
    a.mark_seen();
    assert!(!a.has_changed());
    assert!(b.has_changed());
}

#[tokio::test]
async fn changed_returns_for_a_write_made_before_awaiting() {
    let mut h = Harness::new();
    let mut w = h.reader.watch(key("k"));
    h.ok(kv_set("k", "1"));
    tokio::time::timeout(Duration::from_secs(5), w.changed())
        .await
        .expect("a write between subscribe and await is not lost");
    assert!(!w.has_changed());
    // Nothing new: changed() now waits.
    assert!(tokio::time::timeout(Duration::from_millis(50), w.changed())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lost_wakeups_when_writes_race_blocking_queries() {
    const WRITES: u64 = 300;
    let mut catalog = Catalog::new();
    let reader = catalog.reader();
    // The blocking-query loop of an HTTP handler: subscribe, read, wait if not newer.
    let waiter = tokio::spawn({
        let reader = reader.clone();
        async move {
            let mut seen_index = 0;
            let mut wakeups = 0u64;
            loop {
                let mut w = reader.watch(WatchScope::KvKey("race".into()));
                let (entry, index) = reader.view().kv_get("race");
                if entry.as_ref().map(|e| e.value.clone()) == Some(WRITES.to_string().into_bytes())
                {
                    return wakeups;
                }
                if index > seen_index {
                    seen_index = index;
                    continue;
                }
                w.changed().await;
                wakeups += 1;
            }
        }
    });
    let writer = std::thread::spawn(move || {
        for i in 1..=WRITES {
            catalog.apply(i, &kv_set("race", &i.to_string()).encode());
            if i % 16 == 0 {
                std::thread::yield_now();
            }
        }
        catalog
    });
    let wakeups = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("the waiter saw the last write (no lost wake-up)")
        .expect("waiter task");
    assert!(wakeups <= WRITES);
    let catalog = writer.join().expect("writer thread");
    assert_eq!(catalog.reader().view().last_index(), WRITES);
}

#[tokio::test]
async fn many_waiters_on_distinct_keys_one_write_wakes_one() {
    let mut h = Harness::new();
    let mut tasks = Vec::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..200 {
        let mut w = h.reader.watch(key(&format!("k{i}")));
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            w.changed().await;
            let _ = tx.send(i);
        }));
    }
    tokio::task::yield_now().await;
    h.ok(kv_set("k42", "x"));
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("woken");
    assert_eq!(first, Some(42));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rx.try_recv().is_err(), "nobody else woke");
    for t in tasks {
        t.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn blocking_query_returns_on_newer_index_or_timeout() {
    let mut h = Harness::new();
    let i1 = h.ok(kv_set("k", "1"));
    let reader = h.reader.clone();
    let get = |v: &cairn_catalog::CatalogView| v.kv_get("k");
    // Index 0: no blocking.
    let (_, idx) = reader
        .blocking_query(key("k"), 0, Duration::from_secs(300), get)
        .await;
    assert_eq!(idx, i1);
    // An older client index returns at once.
    let (_, idx) = reader
        .blocking_query(key("k"), i1 - 1, Duration::from_secs(300), get)
        .await;
    assert_eq!(idx, i1);
    // Up to date: blocks until a write to the key; a write elsewhere does not end it.
    let mut catalog = h.catalog;
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        catalog.apply(i1 + 1, &kv_set("other", "x").encode());
        tokio::time::sleep(Duration::from_secs(5)).await;
        catalog.apply(i1 + 2, &kv_set("k", "2").encode());
        catalog
    });
    let started = tokio::time::Instant::now();
    let (entry, idx) = reader
        .blocking_query(key("k"), i1, Duration::from_secs(300), get)
        .await;
    assert_eq!((entry.map(|e| e.value), idx), (Some(b"2".to_vec()), i1 + 2));
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    let _catalog = writer.await.expect("writer");
    // Nothing changes: the current result comes back after the wait.
    let started = tokio::time::Instant::now();
    let (_, idx) = reader
        .blocking_query(key("k"), i1 + 2, Duration::from_secs(60), get)
        .await;
    assert_eq!(idx, i1 + 2);
    assert_eq!(started.elapsed(), Duration::from_secs(60));
}
