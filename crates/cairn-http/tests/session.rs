//! `/v1/session/*` handler tests.

mod support;

use support::{index, json, TestApi};

async fn create(api: &TestApi, body: &str) -> String {
    let r = api.put("/v1/session/create", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r)["ID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_defaults_and_info_shape() {
    let api = TestApi::new();
    let id = create(&api, "").await;
    assert_eq!(id.len(), 36);
    assert_eq!(id.matches('-').count(), 4);
    let r = api.get(&format!("/v1/session/info/{id}")).await;
    assert_eq!(r.status, 200);
    let s = &json(&r)[0];
    assert_eq!(s["ID"], id.as_str());
    assert_eq!(s["Node"], "node1");
    assert_eq!(s["LockDelay"], 15_000_000_000u64);
    assert_eq!(s["Behavior"], "release");
    assert_eq!(s["NodeChecks"], serde_json::json!(["serfHealth"]));
    assert_eq!(s["TTL"], "");
    assert!(index(&r) >= 1);
}

#[tokio::test]
async fn lenient_body_keys_and_durations() {
    let api = TestApi::new();
    let id = create(
        &api,
        r#"{"name": "batman-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}"#,
    )
    .await;
    let s = &json(&api.get(&format!("/v1/session/info/{id}")).await)[0];
    assert_eq!(s["Name"], "batman-pg1");
    assert_eq!(s["Behavior"], "delete");
    assert_eq!(s["TTL"], "15.0s");
    // 0.001s is 1 ms = 1_000_000 ns, above Consul's seconds threshold.
    assert_eq!(s["LockDelay"], 1_000_000u64);
    assert_eq!(s["NodeChecks"], serde_json::json!([]));
    // A bare small number means seconds.
    let id = create(&api, r#"{"LockDelay": 5}"#).await;
    let s = &json(&api.get(&format!("/v1/session/info/{id}")).await)[0];
    assert_eq!(s["LockDelay"], 5_000_000_000u64);
}

#[tokio::test]
async fn invalid_ttl_and_behavior_are_500s_with_consul_text() {
    let api = TestApi::new();
    let r = api.put("/v1/session/create", r#"{"TTL": "5s"}"#).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"
    );
    let r = api.put("/v1/session/create", r#"{"TTL": "soon"}"#).await;
    assert_eq!(r.status, 500);
    assert!(
        r.text().starts_with("Session TTL 'soon' invalid:"),
        "{}",
        r.text()
    );
    let r = api
        .put("/v1/session/create", r#"{"Behavior": "explode"}"#)
        .await;
    assert_eq!(
        (r.status, r.text()),
        (500, "Invalid Behavior setting 'explode'".into())
    );
    let r = api.put("/v1/session/create", r#"{"Node": "ghost"}"#).await;
    assert_eq!(
        (r.status, r.text()),
        (500, "Missing node registration".into())
    );
    let r = api.put("/v1/session/create", "{not json").await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("Request decode failed: "),
        "{}",
        r.text()
    );
    assert!(!r.text().contains('\n'));
    let r = api.put("/v1/session/create", r#"{"TTL": 15}"#).await;
    assert_eq!(r.status, 500, "15 ns is below the minimum");
}

#[tokio::test]
async fn renew_known_and_unknown() {
    let api = TestApi::new();
    let id = create(&api, r#"{"TTL": "30s"}"#).await;
    let r = api.put(&format!("/v1/session/renew/{id}"), "").await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)[0]["ID"], id.as_str());
    assert_eq!(json(&r)[0]["TTL"], "30s");
    let r = api.put("/v1/session/renew/nope", "").await;
    assert_eq!(
        (r.status, r.text()),
        (404, "Session id 'nope' not found".into())
    );
    let r = api.put("/v1/session/renew/", "").await;
    assert_eq!((r.status, r.text()), (400, "Missing session".into()));
    let r = api.get(&format!("/v1/session/renew/{id}")).await;
    assert_eq!((r.status, r.text()), (405, "method GET not allowed".into()));
    assert_eq!(r.header("allow"), Some("OPTIONS,PUT"));
}

#[tokio::test]
async fn destroy_list_and_node() {
    let api = TestApi::new();
    let a = create(&api, "").await;
    let b = create(&api, "").await;
    let r = api.get("/v1/session/list").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    let r = api.get("/v1/session/node/node1").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    let r = api.get("/v1/session/node/").await;
    assert_eq!((r.status, r.text()), (400, "Missing node name".into()));
    let r = api.put(&format!("/v1/session/destroy/{a}"), "").await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    // Destroy is idempotent.
    assert_eq!(
        api.put(&format!("/v1/session/destroy/{a}"), "")
            .await
            .text(),
        "true"
    );
    let r = api.get(&format!("/v1/session/info/{a}")).await;
    assert_eq!((r.status, r.text()), (200, "[]".into()));
    let list = json(&api.get("/v1/session/list").await);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["ID"], b.as_str());
    assert_eq!(api.get("/v1/session/node/ghost").await.text(), "[]");
    let r = api.put("/v1/session/destroy/", "").await;
    assert_eq!((r.status, r.text()), (400, "Missing session".into()));
}

#[tokio::test]
async fn destroying_a_session_releases_its_locks() {
    let api = TestApi::new();
    let id = create(&api, r#"{"LockDelay": "0s"}"#).await;
    assert_eq!(
        api.put(&format!("/v1/kv/l?acquire={id}"), "x").await.text(),
        "true"
    );
    api.put(&format!("/v1/session/destroy/{id}"), "").await;
    assert!(json(&api.get("/v1/kv/l").await)[0].get("Session").is_none());
}
