//! `PUT /v1/txn` handler tests.

mod support;

use support::{json, TestApi};

#[tokio::test]
async fn committed_writes_and_reads() {
    let api = TestApi::new();
    let body = r#"[
        {"KV": {"Verb": "set", "Key": "a", "Value": "MQ==", "Flags": 3}},
        {"KV": {"Verb": "get", "Key": "a"}},
        {"kv": {"verb": "set", "key": "b", "value": "Mg=="}}
    ]"#;
    let r = api.put("/v1/txn", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    assert!(v["Errors"].is_null());
    let results = v["Results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["KV"]["Key"], "a");
    assert!(
        results[0]["KV"]["Value"].is_null(),
        "set results carry no value"
    );
    assert_eq!(results[1]["KV"]["Value"], "MQ==");
    assert_eq!(results[1]["KV"]["Flags"], 3);
    assert_eq!(json(&api.get("/v1/kv/b").await)[0]["Value"], "Mg==");
}

#[tokio::test]
async fn rolled_back_is_409_with_errors() {
    let api = TestApi::new();
    let body = r#"[
        {"KV": {"Verb": "set", "Key": "x", "Value": "MQ=="}},
        {"KV": {"Verb": "cas", "Key": "y", "Value": "MQ==", "Index": 99}}
    ]"#;
    let r = api.put("/v1/txn", body).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json(&r);
    assert!(v["Results"].is_null());
    assert_eq!(v["Errors"][0]["OpIndex"], 1);
    assert!(v["Errors"][0]["What"].as_str().unwrap().len() > 3);
    assert_eq!(api.get("/v1/kv/x").await.status, 404, "nothing applied");
}

#[tokio::test]
async fn read_only_transactions_skip_raft() {
    let api = TestApi::new();
    api.put("/v1/kv/r", "v").await;
    let before = api.consensus.applied.lock().unwrap().len();
    let r = api
        .put("/v1/txn?stale", r#"[{"KV": {"Verb": "get", "Key": "r"}}]"#)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["Results"][0]["KV"]["Value"], "dg==");
    assert_eq!(r.header("X-Consul-KnownLeader"), Some("true"));
    assert_eq!(r.header("X-Consul-LastContact"), Some("7"));
    assert_eq!(api.consensus.applied.lock().unwrap().len(), before);
    let r = api
        .put("/v1/txn", r#"[{"KV": {"Verb": "get", "Key": "missing"}}]"#)
        .await;
    assert_eq!(r.status, 409);
    let r = api
        .put(
            "/v1/txn?stale&consistent",
            r#"[{"KV": {"Verb": "get", "Key": "r"}}]"#,
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn limits_and_bad_bodies() {
    let api = TestApi::new();
    let op = r#"{"KV": {"Verb": "set", "Key": "k", "Value": "MQ=="}}"#;
    let ops = vec![op; 129].join(",");
    let r = api.put("/v1/txn", &format!("[{ops}]")).await;
    assert_eq!(
        (r.status, r.text()),
        (
            413,
            "Transaction contains too many operations (129 > 128)".into()
        )
    );
    let ops = vec![op; 128].join(",");
    assert_eq!(api.put("/v1/txn", &format!("[{ops}]")).await.status, 200);

    let r = api.put("/v1/txn", "[{").await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("Failed to parse body: "),
        "{}",
        r.text()
    );
    let r = api.put("/v1/txn", "").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Failed to parse body: EOF".into())
    );
    let r = api
        .put(
            "/v1/txn",
            r#"[{"KV": {"Verb": "set", "Key": "k", "Value": "!!"}}]"#,
        )
        .await;
    assert_eq!(r.status, 400);

    let cfg = cairn_http::HttpConfig {
        kv_max_value_size: 4,
        txn_max_req_len: 2000,
        ..support::config()
    };
    let small = TestApi::with_config(cfg);
    let r = small
        .put(
            "/v1/txn",
            r#"[{"KV": {"Verb": "set", "Key": "k", "Value": "MTIzNDU="}}]"#,
        )
        .await;
    assert_eq!(
        (r.status, r.text()),
        (413, "Value for key \"k\" is too large (5 > 4 bytes)".into())
    );
    let r = small
        .put("/v1/txn", &format!("[{}]", " ".repeat(2100)))
        .await;
    assert_eq!(
        (r.status, r.text()),
        (413, "Request body too large, max size: 2000 bytes".into())
    );
}

#[tokio::test]
async fn catalog_ops_in_transactions() {
    let api = TestApi::new();
    let body = r#"[
        {"Node": {"Verb": "set", "Node": {"Node": "n2", "Address": "10.0.0.2"}}},
        {"Service": {"Verb": "set", "Node": "n2", "Service": {"ID": "web1", "Service": "web", "Port": 80}}}
    ]"#;
    let r = api.put("/v1/txn", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json(&r);
    assert_eq!(
        v["Results"][0]["Node"]["Datacenter"], "dc1",
        "datacenter defaulted"
    );
    let r = api.get("/v1/catalog/service/web").await;
    assert_eq!(json(&r)[0]["Node"], "n2");
}
