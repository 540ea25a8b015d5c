//! Locks and semaphores against a fake agent that keeps real KV and session state (acquire,
//! release, check-and-set, session invalidation). Blocking reads answer at once; the lock
//! code's own pacing keeps the loops slow.

use cairn_client::fake_kv::FakeKv;
use cairn_client::fake_server::FakeServer;
use cairn_client::{
    Client, Config, Error, Lock, Semaphore, SessionOptions, LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE,
};
use cairn_types::KvEntry;
use std::time::Duration;

fn fake_agent() -> (FakeServer, FakeKv) {
    let server = FakeServer::start().unwrap();
    let kv = FakeKv::default();
    kv.install(&server);
    (server, kv)
}

fn client(server: &FakeServer) -> Client {
    Client::new(Config {
        address: server.url(),
        ..Config::default()
    })
    .unwrap()
}

fn quick(name: &str, try_for: Option<Duration>) -> SessionOptions {
    SessionOptions {
        session_name: name.into(),
        session_ttl: Duration::from_secs(15),
        monitor_retries: 0,
        monitor_retry_time: Duration::from_millis(50),
        try_for,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_excludes_releases_and_cleans_up() {
    let (server, store) = fake_agent();
    let mut a = Lock::new(client(&server), "svc/leader/.lock").with_options(quick("a", None));
    let lost = a.acquire(std::future::pending()).await.unwrap();
    assert!(lost.is_some());
    let e = store.get("svc/leader/.lock").unwrap();
    assert_eq!(e.flags, LOCK_FLAG_VALUE);
    assert!(!e.session.is_empty());
    let body: serde_json::Value =
        serde_json::from_slice(&server.requests_to("/v1/session/create")[0].body).unwrap();
    assert_eq!(body["Name"], "a");
    assert_eq!(body["TTL"], "15s");

    // A second contender times out while the lock is held.
    let mut b = Lock::new(client(&server), "svc/leader/.lock")
        .with_options(quick("b", Some(Duration::from_millis(400))));
    assert!(b.acquire(std::future::pending()).await.unwrap().is_none());
    // Its session was cleaned up.
    assert_eq!(store.sessions().len(), 1);

    // Destroy refuses while held.
    let c = Lock::new(client(&server), "svc/leader/.lock");
    assert!(matches!(c.destroy().await, Err(Error::InUse(_))));

    a.release().await.unwrap();
    assert!(store.sessions().is_empty(), "session destroyed");
    let mut b = Lock::new(client(&server), "svc/leader/.lock")
        .with_options(quick("b", Some(Duration::from_secs(5))));
    assert!(b.acquire(std::future::pending()).await.unwrap().is_some());
    b.release().await.unwrap();
    c.destroy().await.unwrap();
    assert!(store.entries().is_empty(), "lock key removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_reports_loss_when_session_is_invalidated() {
    let (server, store) = fake_agent();
    let mut a = Lock::new(client(&server), "job/.lock").with_options(quick("a", None));
    let mut lost = a.acquire(std::future::pending()).await.unwrap().unwrap();
    assert!(!lost.is_lost());
    let session = store.sessions().keys().next().unwrap().clone();
    store.invalidate_session(&session);
    tokio::time::timeout(Duration::from_secs(5), lost.wait())
        .await
        .expect("loss reported");
    assert!(lost.is_lost());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_conflicts_with_foreign_key_and_stops_on_request() {
    let (server, store) = fake_agent();
    store.insert(KvEntry {
        key: "x/.lock".into(),
        flags: 1,
        modify_index: 1,
        ..KvEntry::default()
    });
    let mut a = Lock::new(client(&server), "x/.lock");
    let err = a.acquire(std::future::pending()).await.unwrap_err();
    assert_eq!(err.to_string(), "Existing key does not match lock use");

    // Held by someone else: a stop signal ends the wait.
    let (server, store) = fake_agent();
    store.add_session("other", "release");
    store.insert(KvEntry {
        key: "y/.lock".into(),
        flags: LOCK_FLAG_VALUE,
        session: "other".into(),
        modify_index: 1,
        ..KvEntry::default()
    });
    let mut a = Lock::new(client(&server), "y/.lock");
    let got = a
        .acquire(tokio::time::sleep(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(got.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semaphore_admits_up_to_limit_with_consul_layout() {
    let (server, store) = fake_agent();
    let opts = |n| quick(n, Some(Duration::from_millis(400)));
    let mut s1 = Semaphore::new(client(&server), "jobs", 2)
        .unwrap()
        .with_options(opts("one"));
    let mut s2 = Semaphore::new(client(&server), "jobs", 2)
        .unwrap()
        .with_options(opts("two"));
    let mut s3 = Semaphore::new(client(&server), "jobs", 2)
        .unwrap()
        .with_options(opts("three"));
    assert!(s1.acquire(std::future::pending()).await.unwrap().is_some());
    assert!(s2.acquire(std::future::pending()).await.unwrap().is_some());
    {
        let entries = store.entries();
        let record = &entries["jobs/.lock"];
        assert_eq!(record.flags, SEMAPHORE_FLAG_VALUE);
        let doc: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(doc["Limit"], 2);
        assert_eq!(doc["Holders"].as_object().unwrap().len(), 2);
        // One contender key per holder, named by its session and locked by it.
        let contenders: Vec<&KvEntry> = entries
            .iter()
            .filter(|(k, _)| *k != "jobs/.lock")
            .map(|(_, e)| e)
            .collect();
        assert_eq!(contenders.len(), 2);
        assert!(contenders
            .iter()
            .all(|e| e.flags == SEMAPHORE_FLAG_VALUE && !e.session.is_empty()));
        assert!(store.sessions().values().all(|b| b == "delete"));
    }
    // Full: the third contender gives up and leaves nothing behind.
    assert!(s3.acquire(std::future::pending()).await.unwrap().is_none());
    assert_eq!(store.entries().len(), 3);

    // A different limit is refused.
    let mut odd = Semaphore::new(client(&server), "jobs", 3)
        .unwrap()
        .with_options(opts("odd"));
    let err = odd.acquire(std::future::pending()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "semaphore limit conflict (lock: 2, local: 3)"
    );

    s1.release().await.unwrap();
    let mut s3 = Semaphore::new(client(&server), "jobs", 2)
        .unwrap()
        .with_options(quick("three", Some(Duration::from_secs(5))));
    assert!(s3.acquire(std::future::pending()).await.unwrap().is_some());
    assert!(matches!(s1.destroy().await, Err(Error::InUse(_))));
    s2.release().await.unwrap();
    s3.release().await.unwrap();
    s1.destroy().await.unwrap();
    assert!(store.entries().is_empty());
}
