//! Blocking queries through the HTTP layer, on tokio's paused clock: exact, deterministic
//! timing without sleeping for real.

mod support;

use std::time::Duration;
use support::{index, json, TestApi};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn kv_blocking_returns_on_a_matching_write_only() {
    let api = std::sync::Arc::new(TestApi::new());
    api.put("/v1/kv/watched", "1").await;
    let first = index(&api.get("/v1/kv/watched").await);

    let waiter = {
        let api = api.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let r = api
                .get(&format!("/v1/kv/watched?index={first}&wait=30s"))
                .await;
            (r, start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // An unrelated write does not wake the query.
    api.put("/v1/kv/other", "x").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "woken by an unrelated write");

    let write_at = Instant::now();
    api.put("/v1/kv/watched", "2").await;
    let (r, _) = waiter.await.unwrap();
    assert!(
        write_at.elapsed() < Duration::from_millis(50),
        "returned within 50 ms of the write"
    );
    assert_eq!(r.status, 200);
    assert!(index(&r) > first);
    assert_eq!(json(&r)[0]["Value"], "Mg==");
}

#[tokio::test(start_paused = true)]
async fn blocking_times_out_with_the_current_index_plus_jitter_bound() {
    let api = TestApi::new();
    api.put("/v1/kv/k", "1").await;
    let idx = index(&api.get("/v1/kv/k").await);
    let start = Instant::now();
    let r = api.get(&format!("/v1/kv/k?index={idx}&wait=16s")).await;
    let took = start.elapsed();
    assert_eq!(index(&r), idx);
    assert!(
        took >= Duration::from_secs(16) && took <= Duration::from_secs(17),
        "{took:?}"
    );
    // A wait above the cap is capped at 10 minutes (+ jitter ≤ 1/16).
    let start = Instant::now();
    api.get(&format!("/v1/kv/k?index={idx}&wait=1h")).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(600) && took <= Duration::from_millis(637_500),
        "{took:?}"
    );
    // No wait given: the 5 minute default.
    let start = Instant::now();
    api.get(&format!("/v1/kv/k?index={idx}")).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(300) && took <= Duration::from_millis(318_750),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn health_blocking_wakes_on_its_service_not_others() {
    let api = std::sync::Arc::new(TestApi::new());
    let reg = |svc: &str, port: u16| {
        format!(
            r#"{{"Node": "n1", "Address": "10.0.0.1", "Service": {{"Service": "{svc}", "Port": {port}}}}}"#
        )
    };
    api.put("/v1/catalog/register", &reg("web", 80)).await;
    api.put("/v1/catalog/register", &reg("db", 5432)).await;
    let r = api.get("/v1/health/service/web").await;
    let first = index(&r);
    let waiter = {
        let api = api.clone();
        tokio::spawn(async move {
            api.get(&format!("/v1/health/service/web?index={first}&wait=60s"))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    api.put("/v1/catalog/register", &reg("db", 5433)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiter.is_finished(),
        "db change must not wake a web watcher"
    );
    api.put("/v1/catalog/register", &reg("web", 81)).await;
    let r = waiter.await.unwrap();
    assert!(index(&r) > first);
    assert_eq!(json(&r)[0]["Service"]["Port"], 81);
}

#[tokio::test]
async fn index_header_is_never_zero() {
    let api = TestApi::new();
    for path in [
        "/v1/kv/missing",
        "/v1/session/list",
        "/v1/coordinate/nodes",
        "/v1/catalog/services",
        "/v1/health/state/any",
        "/v1/event/list",
    ] {
        let r = api.get(path).await;
        assert!(index(&r) >= 1, "{path}");
    }
}
