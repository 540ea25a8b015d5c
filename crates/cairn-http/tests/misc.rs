//! Status, operator, coordinates, events, and serving over a real socket.

mod support;

use cairn_catalog::{Command, Coord, NodeCoordinate};
use support::{index, json, TestApi};

#[tokio::test]
async fn status_leader_and_peers() {
    let api = TestApi::new();
    let r = api.get("/v1/status/leader").await;
    assert_eq!((r.status, r.text()), (200, "\"127.0.0.1:8300\"".into()));
    let r = api.get("/v1/status/peers").await;
    assert_eq!(r.text(), "[\"127.0.0.1:8300\"]");
    let r = api.get("/v1/status/leader?dc=nowhere").await;
    assert_eq!((r.status, r.text()), (500, "No path to datacenter".into()));
}

#[tokio::test]
async fn operator_raft() {
    let api = TestApi::new();
    let r = api.get("/v1/operator/raft/configuration").await;
    let v = json(&r);
    assert_eq!(v["Servers"][0]["Leader"], true);
    assert_eq!(v["Servers"][0]["ProtocolVersion"], "3");
    assert_eq!(v["Index"], 1);
    let r = api.delete("/v1/operator/raft/peer").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
    );
    assert_eq!(
        api.delete("/v1/operator/raft/peer?id=abc").await.status,
        200
    );
    let r = api
        .delete("/v1/operator/raft/peer?address=127.0.0.1:8300")
        .await;
    assert_eq!(
        (r.status, r.text()),
        (500, "cannot remove the leader".into())
    );
    let r = api
        .req("POST", "/v1/operator/raft/transfer-leader", "")
        .await;
    assert_eq!(r.text(), "{\"Success\":true}");
    let r = api.put("/v1/operator/raft/transfer-leader", "").await;
    assert_eq!(r.header("allow"), Some("OPTIONS,POST"));
}

#[tokio::test]
async fn coordinates() {
    let api = TestApi::new();
    let r = api.get("/v1/coordinate/nodes").await;
    assert_eq!((r.status, r.text()), (200, "[]".into()));
    let r = api.get("/v1/coordinate/node/node1").await;
    assert_eq!((r.status, r.body.len()), (404, 0));
    let body = r#"{"Node": "node1", "Coord": {"Vec": [0.1, 0.2], "Error": 1.5, "Adjustment": 0, "Height": 0.0001}}"#;
    let r = api.put("/v1/coordinate/update", body).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = api.get("/v1/coordinate/node/node1").await;
    let v = json(&r);
    assert_eq!(v[0]["Node"], "node1");
    assert_eq!(v[0]["Coord"]["Vec"], serde_json::json!([0.1, 0.2]));
    assert!(index(&r) > 1);
    api.consensus.apply_now(Command::CoordinateBatchUpdate {
        updates: vec![NodeCoordinate {
            node: "node1".into(),
            segment: "alpha".into(),
            coord: Coord::default(),
        }],
    });
    let r = api
        .get("/v1/coordinate/nodes?filter=Segment%20%3D%3D%20alpha")
        .await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    assert_eq!(api.get("/v1/coordinate/datacenters").await.text(), "[]");
}

#[tokio::test]
async fn events_fire_and_list() {
    let api = TestApi::new();
    let r = api
        .put("/v1/event/fire/deploy?service=web&tag=v1", "payload")
        .await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["Name"], "deploy");
    assert_eq!(v["Payload"], "cGF5bG9hZA==");
    assert_eq!(v["ServiceFilter"], "web");
    assert_eq!(v["TagFilter"], "v1");
    assert_eq!(v["Version"], 1);
    assert_eq!(v["LTime"], 1);
    assert_eq!(v["ID"].as_str().unwrap().len(), 36);
    api.put("/v1/event/fire/other", "").await;

    let r = api.get("/v1/event/list").await;
    let list = json(&r);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[1]["Payload"].is_null());
    let r = api.get("/v1/event/list?name=deploy").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    assert!(index(&r) >= 1);

    let r = api.put("/v1/event/fire/x?tag=v1", "").await;
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            "Cannot provide tag filter without service filter".into()
        )
    );
    let r = api.put("/v1/event/fire/x?node=(", "").await;
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("Invalid node filter"));
    let r = api.put("/v1/event/fire/", "").await;
    assert_eq!((r.status, r.text()), (400, "Missing name".into()));
    assert_eq!(api.get("/v1/event/fire/x").await.status, 405);
}

#[tokio::test(start_paused = true)]
async fn event_list_blocks_until_a_new_event() {
    let api = std::sync::Arc::new(TestApi::new());
    api.put("/v1/event/fire/a", "").await;
    let idx = index(&api.get("/v1/event/list").await);
    let waiter = {
        let api = api.clone();
        tokio::spawn(async move {
            api.get(&format!("/v1/event/list?index={idx}&wait=60s"))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!waiter.is_finished());
    api.put("/v1/event/fire/b", "").await;
    let r = waiter.await.unwrap();
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    assert_ne!(index(&r), idx);
}

#[tokio::test]
async fn response_headers_from_config() {
    let mut cfg = support::config();
    cfg.response_headers
        .insert("Access-Control-Allow-Origin".into(), "*".into());
    cfg.acl_default_policy = "deny".into();
    let api = TestApi::with_config(cfg);
    let r = api.get("/v1/status/leader").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-consul-default-acl-policy"), Some("deny"));
}

/// Send raw HTTP/1.1 and read the whole answer.
async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn serves_on_a_real_listener_and_shuts_down() {
    let api = TestApi::new();
    api.put("/v1/kv/app/config", "v").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(api.server.clone().serve(listener, async {
        let _ = stopped.await;
    }));

    let answer = raw_http(
        addr,
        "GET /v1/kv//app/config?raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-consul-index: "));
    assert!(answer.ends_with("\r\n\r\nv"), "{answer}");

    let answer = raw_http(
        addr,
        "PUT /v1/kv/posted HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    assert!(answer.ends_with("\r\n\r\ntrue"), "{answer}");

    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_answers_blocking_queries_at_once() {
    let api = TestApi::new();
    api.put("/v1/kv/k", "v").await;
    let idx = index(&api.get("/v1/kv/k").await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(api.server.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let request = format!(
        "GET /v1/kv/k?index={idx}&wait=10m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let blocked = tokio::spawn(async move { raw_http(addr, &request).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!blocked.is_finished(), "the query blocks");
    let _ = stop.send(());
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), blocked)
        .await
        .expect("blocking query answered at shutdown")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(&format!("{idx}")));
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn blocked_endpoints_are_403() {
    let mut cfg = support::config();
    cfg.block_endpoints = vec!["/v1/agent/self".into(), "/v1/kv/secret".into()];
    let api = TestApi::with_config(cfg);
    let r = api.get("/v1/agent/self").await;
    assert_eq!(
        (r.status, r.text()),
        (403, "Endpoint is blocked by agent configuration".into())
    );
    assert_eq!(api.get("/v1/kv/secret/x").await.status, 403);
    assert_eq!(api.get("/v1/kv/public").await.status, 404);
}

#[cfg(unix)]
#[tokio::test]
async fn serves_on_a_unix_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = TestApi::new();
    let dir = std::env::temp_dir().join(format!("cairn-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(api.server.clone().serve_unix(listener, async {
        let _ = stopped.await;
    }));
    let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
    s.write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.ends_with("\"127.0.0.1:8300\""), "{text}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
