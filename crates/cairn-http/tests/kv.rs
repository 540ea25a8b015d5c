//! `/v1/kv/` handler tests: good and bad input, exact codes, headers and bodies.

mod support;

use cairn_http::{ApiError, ApiRequest};
use support::{index, json, TestApi};

#[tokio::test]
async fn put_get_and_the_entry_shape() {
    let api = TestApi::new();
    let r = api.put("/v1/kv/app/config?flags=42", "hello").await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let r = api.get("/v1/kv/app/config").await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let e = &v[0];
    assert_eq!(e["Key"], "app/config");
    assert_eq!(e["Value"], "aGVsbG8=");
    assert_eq!(e["Flags"], 42);
    assert_eq!(e["LockIndex"], 0);
    assert!(e.get("Session").is_none(), "Session omitted when empty");
    let modify = e["ModifyIndex"].as_u64().unwrap();
    assert_eq!(index(&r), modify);
    assert_eq!(r.header("X-Consul-KnownLeader"), Some("true"));
    assert_eq!(r.header("X-Consul-LastContact"), Some("0"));
    assert_eq!(r.header("X-Consul-Effective-Consistency"), Some("leader"));
    assert_eq!(r.header("X-Consul-Default-ACL-Policy"), Some("allow"));
    // Field order is Consul's.
    let text = r.text();
    let order: Vec<usize> = [
        "LockIndex",
        "Key",
        "Flags",
        "Value",
        "CreateIndex",
        "ModifyIndex",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\"")).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn empty_value_is_null() {
    let api = TestApi::new();
    api.put("/v1/kv/empty", "").await;
    let v = json(&api.get("/v1/kv/empty").await);
    assert!(v[0]["Value"].is_null());
}

#[tokio::test]
async fn missing_key_is_404_with_empty_body_and_headers() {
    let api = TestApi::new();
    let r = api.get("/v1/kv/nope").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(index(&r) >= 1);
    assert_eq!(r.header("X-Consul-KnownLeader"), Some("true"));
    let r = api.get("/v1/kv/nope?recurse").await;
    assert_eq!((r.status, r.body.len()), (404, 0));
}

#[tokio::test]
async fn recurse_and_flags_true_by_presence() {
    let api = TestApi::new();
    for k in ["app/a", "app/b/c", "other"] {
        api.put(&format!("/v1/kv/{k}"), k).await;
    }
    for q in ["recurse", "recurse=", "recurse=None", "recurse=false"] {
        let r = api.get(&format!("/v1/kv/app?{q}")).await;
        assert_eq!(r.status, 200, "{q}");
        let keys: Vec<String> = json(&r)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, vec!["app/a", "app/b/c"], "{q}");
    }
    // Root recurse lists everything.
    let r = api.get("/v1/kv/?recurse").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn keys_with_separator_and_root() {
    let api = TestApi::new();
    let r = api.get("/v1/kv/?keys").await;
    assert_eq!((r.status, r.text()), (200, "[]".into()));
    let r = api.get("/v1/kv/missing/?keys").await;
    assert_eq!((r.status, r.body.len()), (404, 0));

    for k in ["app/a", "app/b/c", "app/b/d", "other"] {
        api.put(&format!("/v1/kv/{k}"), "x").await;
    }
    let r = api.get("/v1/kv/app/?keys&separator=/").await;
    assert_eq!(json(&r), serde_json::json!(["app/a", "app/b/"]));
    // The historic misspelling works too.
    let r = api.get("/v1/kv/app/?keys&seperator=/").await;
    assert_eq!(json(&r), serde_json::json!(["app/a", "app/b/"]));
    let r = api.get("/v1/kv/?keys").await;
    assert_eq!(
        json(&r),
        serde_json::json!(["app/a", "app/b/c", "app/b/d", "other"])
    );
}

#[tokio::test]
async fn raw_answers_bytes_with_safety_headers() {
    let api = TestApi::new();
    api.put("/v1/kv/page", "<script>alert(1)</script>").await;
    let r = api.get("/v1/kv/page?raw").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<script>alert(1)</script>");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    assert!(r.header("X-Consul-Index").is_some());
    // `raw` with recurse is ignored: a JSON list.
    let r = api.get("/v1/kv/page?raw&recurse").await;
    assert!(json(&r).is_array());
}

#[tokio::test]
async fn double_slashes_are_normalised() {
    let api = TestApi::new();
    api.put("/v1/kv/app/config", "v").await;
    let r = api.get("/v1/kv//app/config").await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)[0]["Key"], "app/config");
    let r = api.get("/v1/kv//app?recurse=").await;
    assert_eq!(json(&r)[0]["Key"], "app/config");
}

#[tokio::test]
async fn percent_encoded_keys_decode() {
    let api = TestApi::new();
    let r = api.put("/v1/kv/a%20b%2Fc", "v").await;
    assert_eq!(r.status, 200);
    let r = api.get("/v1/kv/a%20b/c").await;
    assert_eq!(json(&r)[0]["Key"], "a b/c");
    let r = api.get("/v1/kv/?keys").await;
    assert_eq!(json(&r), serde_json::json!(["a b/c"]));
}

#[tokio::test]
async fn cas_semantics() {
    let api = TestApi::new();
    let r = api.put("/v1/kv/k?cas=0", "1").await;
    assert_eq!(r.text(), "true");
    let r = api.put("/v1/kv/k?cas=0", "2").await;
    assert_eq!(r.text(), "false");
    let idx = json(&api.get("/v1/kv/k").await)[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    let r = api.put(&format!("/v1/kv/k?cas={}", idx + 100), "3").await;
    assert_eq!(r.text(), "false");
    let r = api.put(&format!("/v1/kv/k?cas={idx}"), "3").await;
    assert_eq!(r.text(), "true");
    // Delete with a stale index fails, with the right one succeeds.
    let r = api.delete(&format!("/v1/kv/k?cas={idx}")).await;
    assert_eq!(r.text(), "false");
    let idx = json(&api.get("/v1/kv/k").await)[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    let r = api.delete(&format!("/v1/kv/k?cas={idx}")).await;
    assert_eq!(r.text(), "true");
    assert_eq!(api.get("/v1/kv/k").await.status, 404);
}

#[tokio::test]
async fn delete_and_delete_tree() {
    let api = TestApi::new();
    for k in ["t/a", "t/b", "u"] {
        api.put(&format!("/v1/kv/{k}"), "x").await;
    }
    let r = api.delete("/v1/kv/t/a").await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    let r = api.delete("/v1/kv/t?recurse").await;
    assert_eq!(r.text(), "true");
    assert_eq!(
        json(&api.get("/v1/kv/?keys").await),
        serde_json::json!(["u"])
    );
    // Deleting a missing key is still true.
    assert_eq!(api.delete("/v1/kv/ghost").await.text(), "true");
    let r = api.delete("/v1/kv/").await;
    assert_eq!((r.status, r.text()), (400, "Missing key name".into()));
    // Root recurse deletes everything.
    assert_eq!(api.delete("/v1/kv/?recurse").await.text(), "true");
    assert_eq!(api.get("/v1/kv/?keys").await.text(), "[]");
}

#[tokio::test]
async fn conflicting_flags_use_consuls_text() {
    let api = TestApi::new();
    let r = api.put("/v1/kv/k?cas=0&acquire=abc", "x").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Conflicting flags: acquire=abc&cas=0\n");
    let r = api.put("/v1/kv/k?release=a&acquire=b", "x").await;
    assert_eq!(r.text(), "Conflicting flags: acquire=b&release=a\n");
    let r = api.delete("/v1/kv/k?recurse&cas=1").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Conflicting flags: cas=1&recurse=\n".into())
    );
}

#[tokio::test]
async fn bad_numbers_and_missing_names() {
    let api = TestApi::new();
    let r = api.put("/v1/kv/k?flags=abc", "x").await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "strconv.ParseUint: parsing \"abc\": invalid syntax"
    );
    let r = api.put("/v1/kv/k?cas=-1", "x").await;
    assert_eq!(r.status, 500);
    let r = api.put("/v1/kv/", "x").await;
    assert_eq!((r.status, r.text()), (400, "Missing key name".into()));
    let r = api.get("/v1/kv/").await;
    assert_eq!((r.status, r.text()), (400, "Missing key name".into()));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[tokio::test]
async fn read_option_errors() {
    let api = TestApi::new();
    let r = api.get("/v1/kv/k?index=abc").await;
    assert_eq!((r.status, r.text()), (400, "Invalid index".into()));
    let r = api.get("/v1/kv/k?wait=forever").await;
    assert_eq!((r.status, r.text()), (400, "Invalid wait time".into()));
    let r = api.get("/v1/kv/k?stale&consistent").await;
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            "Cannot specify ?stale with ?consistent, conflicting semantics.".into()
        )
    );
    let r = api.get("/v1/kv/k?max_stale=soon").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Invalid max_stale value \"soon\"".into())
    );
}

#[tokio::test]
async fn consistency_modes_reach_the_backend_and_headers() {
    let api = TestApi::new();
    api.put("/v1/kv/k", "v").await;
    let r = api.get("/v1/kv/k?stale").await;
    assert_eq!(r.header("X-Consul-Effective-Consistency"), Some("stale"));
    assert_eq!(r.header("X-Consul-LastContact"), Some("7"));
    let r = api.get("/v1/kv/k?consistent").await;
    assert_eq!(
        r.header("X-Consul-Effective-Consistency"),
        Some("consistent")
    );
    let r = api.get("/v1/kv/k?max_stale=3s").await;
    assert_eq!(r.header("X-Consul-Effective-Consistency"), Some("stale"));
    let (_, opts) = api.consensus.last_query.lock().unwrap().clone().unwrap();
    assert_eq!(opts.max_stale, Some(std::time::Duration::from_secs(3)));
}

#[tokio::test]
async fn body_limit_is_413_with_consul_text() {
    let cfg = cairn_http::HttpConfig {
        kv_max_value_size: 8,
        ..support::config()
    };
    let api = TestApi::with_config(cfg);
    let r = api.put("/v1/kv/big", "123456789").await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.text(),
        "Request body(9 bytes) too large, max size: 8 bytes. See \
         https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
    );
    assert_eq!(api.put("/v1/kv/big", "12345678").await.status, 200);
}

#[tokio::test]
async fn default_limit_is_512k() {
    let api = TestApi::new();
    let ok = "x".repeat(524_288);
    assert_eq!(api.put("/v1/kv/big", &ok).await.status, 200);
    let big = "x".repeat(524_289);
    let r = api.put("/v1/kv/big", &big).await;
    assert_eq!(r.status, 413);
    assert!(r
        .text()
        .starts_with("Request body(524289 bytes) too large, max size: 524288 bytes."));
}

#[tokio::test]
async fn locks_acquire_and_release() {
    let api = TestApi::new();
    let sid = json(
        &api.put("/v1/session/create", r#"{"Name":"s","LockDelay":"0s"}"#)
            .await,
    )["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api.put(&format!("/v1/kv/lock?acquire={sid}"), "me").await;
    assert_eq!(r.text(), "true");
    let e = &json(&api.get("/v1/kv/lock").await)[0];
    assert_eq!(e["Session"], sid.as_str());
    assert_eq!(e["LockIndex"], 1);
    // Unknown session: Consul's 500 text.
    let r = api
        .put(
            "/v1/kv/lock2?acquire=00000000-0000-0000-0000-000000000000",
            "x",
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "invalid session \"00000000-0000-0000-0000-000000000000\""
    );
    let r = api.put("/v1/kv/lock2?acquire", "x").await;
    assert_eq!((r.status, r.text()), (500, "missing session".into()));
    // Another session cannot release it.
    let other = json(&api.put("/v1/session/create", "").await)["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.put(&format!("/v1/kv/lock?release={other}"), "")
            .await
            .text(),
        "false"
    );
    assert_eq!(
        api.put(&format!("/v1/kv/lock?release={sid}"), "")
            .await
            .text(),
        "true"
    );
    assert!(json(&api.get("/v1/kv/lock").await)[0]
        .get("Session")
        .is_none());
}

#[tokio::test]
async fn methods_options_and_unknown_routes() {
    let api = TestApi::new();
    let r = api.req("POST", "/v1/kv/k", "x").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.text(), "method POST not allowed");
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,PUT,DELETE"));
    let r = api.req("OPTIONS", "/v1/kv/k", "").await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,PUT,DELETE"));
    let r = api.get("/v1/nope").await;
    assert_eq!((r.status, r.body.len()), (404, 0));
    let r = api.get("/v1/kv").await;
    assert_eq!(r.status, 404);
    let r = api.get("/").await;
    assert_eq!((r.status, r.text()), (200, "Consul Agent".into()));
}

#[tokio::test]
async fn pretty_and_gzip() {
    let api = TestApi::new();
    api.put("/v1/kv/k", "v").await;
    let r = api.get("/v1/kv/k?pretty").await;
    let text = r.text();
    assert!(
        text.starts_with("[\n    {\n        \"LockIndex\": 0,"),
        "{text}"
    );
    assert!(text.ends_with("}\n]\n"));
    let r = api
        .server
        .send(ApiRequest::new("GET", "/v1/kv/k", "").header("Accept-Encoding", "gzip"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(&r.body[..2], &[0x1f, 0x8b], "gzip magic");
    // Without Accept-Encoding: plain.
    let r = api.get("/v1/kv/k").await;
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test]
async fn datacenter_and_leader_errors() {
    let api = TestApi::new();
    let r = api.get("/v1/kv/k?dc=mars").await;
    assert_eq!((r.status, r.text()), (500, "No path to datacenter".into()));
    let r = api.put("/v1/kv/k?dc=mars", "x").await;
    assert_eq!((r.status, r.text()), (500, "No path to datacenter".into()));
    assert_eq!(api.get("/v1/kv/k?dc=dc2").await.status, 404);
    *api.consensus.fail.lock().unwrap() = Some(ApiError::NoLeader);
    let r = api.put("/v1/kv/k", "x").await;
    assert_eq!((r.status, r.text()), (500, "No cluster leader".into()));
}

#[tokio::test]
async fn tokens_are_read_from_all_three_places() {
    let api = TestApi::new();
    let send = |req: ApiRequest| async { api.server.send(req).await };
    send(ApiRequest::new("GET", "/v1/kv/k?token=q", "").header("X-Consul-Token", "h")).await;
    let tok = |api: &TestApi| {
        api.consensus
            .last_query
            .lock()
            .unwrap()
            .clone()
            .unwrap()
            .1
            .token
    };
    assert_eq!(tok(&api), "q");
    send(ApiRequest::new("GET", "/v1/kv/k", "").header("X-Consul-Token", "h")).await;
    assert_eq!(tok(&api), "h");
    send(ApiRequest::new("GET", "/v1/kv/k", "").header("Authorization", "Bearer b")).await;
    assert_eq!(tok(&api), "b");
}

#[tokio::test]
async fn huge_bodies_are_refused_before_reading_with_the_kv_text() {
    let api = TestApi::new();
    let huge = "x".repeat(3 << 20);
    let r = api.put("/v1/kv/huge", &huge).await;
    assert_eq!(r.status, 413);
    assert!(
        r.text()
            .starts_with("Request body(3145728 bytes) too large, max size: 524288 bytes."),
        "{}",
        r.text()
    );
    let r = api.put("/v1/txn", &huge).await;
    assert_eq!(
        (r.status, r.text()),
        (413, "Request body too large, max size: 524288 bytes".into())
    );
    let r = api.put("/v1/agent/service/register", &huge).await;
    assert_eq!(r.status, 413);
    assert!(r.text().starts_with("Request body too large, max size: "));
}
