//! The client against a fake agent: request paths, query parameters, headers, bodies, error
//! mapping and query metadata.

use cairn_client::fake_server::{CannedResponse, FakeServer};
use cairn_client::{
    BlockingQuery, Client, Config, Error, EventFire, KvDeleteOptions, KvPutOptions,
};
use cairn_types::{
    AgentServiceRegistration, CheckStatus, Consistency, QueryOptions, SessionRequest,
};
use std::collections::BTreeMap;
use std::time::Duration;

fn client_for(server: &FakeServer) -> Client {
    Client::new(Config {
        address: server.addr().to_string(),
        ..Config::default()
    })
    .unwrap()
}

const ENTRY: &str = r#"[{"LockIndex":1,"Key":"app/config","Flags":42,"Value":"aGVsbG8=","Session":"s1","CreateIndex":5,"ModifyIndex":9}]"#;

#[tokio::test]
async fn kv_get_decodes_entry_and_meta() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/app/config",
        vec![CannedResponse::json(200, ENTRY)
            .with_index(9)
            .with_header("X-Consul-KnownLeader", "true")
            .with_header("X-Consul-LastContact", "25")],
    );
    let client = client_for(&server);
    let (entry, meta) = client
        .kv()
        .get("app/config", &QueryOptions::default())
        .await
        .unwrap();
    let entry = entry.unwrap();
    assert_eq!(entry.value, b"hello");
    assert_eq!(entry.flags, 42);
    assert_eq!(entry.session, "s1");
    assert_eq!(meta.index, 9);
    assert!(meta.known_leader);
    assert_eq!(meta.last_contact, Duration::from_millis(25));
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert!(req.query.is_empty(), "{:?}", req.query);
    assert_eq!(req.header("X-Consul-Token"), None);
}

#[tokio::test]
async fn kv_get_missing_key_is_none_not_error() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/nope",
        vec![CannedResponse::text(404, "").with_index(3)],
    );
    let client = client_for(&server);
    let (entry, meta) = client
        .kv()
        .get("/nope", &QueryOptions::default())
        .await
        .unwrap();
    assert!(entry.is_none());
    assert_eq!(meta.index, 3);
    // The leading slash was stripped as Consul's client does.
    assert_eq!(server.requests()[0].raw_path, "/v1/kv/nope");
}

#[tokio::test]
async fn token_datacenter_and_blocking_params_are_sent() {
    let server = FakeServer::start().unwrap();
    server.route("GET", "/v1/kv/a b", vec![CannedResponse::json(200, "[]")]);
    let client = Client::new(Config {
        address: server.url(),
        token: "secret".into(),
        datacenter: "dc2".into(),
        ..Config::default()
    })
    .unwrap();
    let opts = QueryOptions {
        min_query_index: 77,
        max_query_time: Some(Duration::from_secs(10)),
        consistency: Consistency::Stale,
        filter: "Key == \"x\"".into(),
        ..QueryOptions::default()
    };
    client.kv().list("a b", &opts).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.raw_path, "/v1/kv/a%20b");
    assert_eq!(req.header("x-consul-token"), Some("secret"));
    assert_eq!(req.param("dc"), Some("dc2"));
    assert_eq!(req.param("recurse"), Some(""));
    assert_eq!(req.param("index"), Some("77"));
    assert_eq!(req.param("wait"), Some("10000ms"));
    assert_eq!(req.param("stale"), Some(""));
    assert_eq!(req.param("filter"), Some("Key == \"x\""));

    // Per-request token and datacenter override the client's.
    let opts = QueryOptions {
        token: "other".into(),
        datacenter: "dc3".into(),
        ..QueryOptions::default()
    };
    client.kv().list("a b", &opts).await.unwrap();
    let req = &server.requests()[1];
    assert_eq!(req.header("x-consul-token"), Some("other"));
    assert_eq!(req.param("dc"), Some("dc3"));
}

#[tokio::test]
async fn kv_keys_with_separator_and_missing_prefix() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/app/",
        vec![CannedResponse::json(200, r#"["app/a","app/b/"]"#)],
    );
    let client = client_for(&server);
    let (keys, _) = client
        .kv()
        .keys("app/", Some("/"), &QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(keys, vec!["app/a", "app/b/"]);
    let req = &server.requests()[0];
    assert_eq!(req.param("keys"), Some(""));
    assert_eq!(req.param("separator"), Some("/"));
    let (keys, _) = client
        .kv()
        .keys("none/", None, &QueryOptions::default())
        .await
        .unwrap();
    assert!(keys.is_empty());
    assert_eq!(server.requests()[1].param("separator"), None);
}

#[tokio::test]
async fn kv_put_variants() {
    let server = FakeServer::start().unwrap();
    server.route_fn("PUT", "/v1/kv/k", |req| {
        // CAS on index 5 fails, everything else succeeds.
        let ok = req.param("cas") != Some("5");
        CannedResponse::json(200, if ok { "true" } else { "false" })
    });
    let client = client_for(&server);
    let kv = client.kv();
    assert!(kv
        .put("k", b"raw\x00bytes", &KvPutOptions::default())
        .await
        .unwrap());
    let opts = KvPutOptions {
        flags: 7,
        cas: Some(5),
        ..KvPutOptions::default()
    };
    assert!(!kv.put("k", b"v", &opts).await.unwrap());
    let opts = KvPutOptions {
        acquire: Some("sess".into()),
        ..KvPutOptions::default()
    };
    assert!(kv.put("k", b"", &opts).await.unwrap());
    let opts = KvPutOptions {
        release: Some("sess".into()),
        ..KvPutOptions::default()
    };
    assert!(kv.put("k", b"", &opts).await.unwrap());

    let err = kv
        .put("/k", b"", &KvPutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
    assert_eq!(
        err.to_string(),
        "Invalid key. Key must not begin with a '/': /k"
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 4, "the invalid key was not sent");
    assert_eq!(reqs[0].body, b"raw\x00bytes");
    assert!(reqs[0].query.is_empty(), "flags 0 is not sent");
    assert_eq!(reqs[1].param("flags"), Some("7"));
    assert_eq!(reqs[1].param("cas"), Some("5"));
    assert_eq!(reqs[2].param("acquire"), Some("sess"));
    assert_eq!(reqs[3].param("release"), Some("sess"));
}

#[tokio::test]
async fn kv_delete_variants() {
    let server = FakeServer::start().unwrap();
    server.route(
        "DELETE",
        "/v1/kv/p",
        vec![CannedResponse::json(200, "true")],
    );
    server.route("DELETE", "/v1/kv/old", vec![CannedResponse::text(200, "")]);
    let client = client_for(&server);
    let kv = client.kv();
    let recurse = KvDeleteOptions {
        recurse: true,
        cas: None,
    };
    assert!(kv.delete("p", &recurse).await.unwrap());
    let cas = KvDeleteOptions {
        recurse: false,
        cas: Some(12),
    };
    assert!(kv.delete("p", &cas).await.unwrap());
    assert!(kv.delete("old", &KvDeleteOptions::default()).await.unwrap());
    let reqs = server.requests();
    assert_eq!(reqs[0].param("recurse"), Some(""));
    assert_eq!(reqs[1].param("cas"), Some("12"));
    assert_eq!(reqs[1].param("recurse"), None);
}

#[tokio::test]
async fn errors_carry_status_and_plain_text_body() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/x",
        vec![CannedResponse::text(500, "No cluster leader\n")],
    );
    server.route(
        "PUT",
        "/v1/kv/x",
        vec![CannedResponse::text(
            403,
            "Permission denied: token lacks permission 'key:write' on \"x\"",
        )],
    );
    let client = client_for(&server);
    let err = client
        .kv()
        .get("x", &QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.is_server_error());
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 500 (No cluster leader)"
    );
    let err = client
        .kv()
        .put("x", b"", &KvPutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(!err.is_server_error());
    assert!(matches!(err, Error::Status { ref body, .. } if body.starts_with("Permission denied")));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind and drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(Config {
        address: format!("127.0.0.1:{port}"),
        ..Config::default()
    })
    .unwrap();
    let err = client.agent().members(false).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Transport { .. }), "{text}");
    assert_eq!(
        text,
        format!(
            "Get \"http://127.0.0.1:{port}/v1/agent/members\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        )
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/catalog/datacenters",
        vec![CannedResponse::json(200, "[1,")],
    );
    let err = client_for(&server)
        .catalog()
        .datacenters()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
}

#[tokio::test]
async fn sessions() {
    let server = FakeServer::start().unwrap();
    server.route(
        "PUT",
        "/v1/session/create",
        vec![CannedResponse::json(
            200,
            r#"{"ID":"adf4238a-882b-9ddc-4a9d-5b6758e4159e"}"#,
        )],
    );
    server.route(
        "PUT",
        "/v1/session/renew/gone",
        vec![CannedResponse::text(404, "Session id 'gone' not found")],
    );
    server.route(
        "PUT",
        "/v1/session/renew/live",
        vec![CannedResponse::json(
            200,
            r#"[{"ID":"live","Name":"n","Node":"n1","LockDelay":15000000000,"Behavior":"release","TTL":"30s","NodeChecks":["serfHealth"],"ServiceChecks":null,"CreateIndex":1,"ModifyIndex":1}]"#,
        )],
    );
    server.route(
        "GET",
        "/v1/session/info/none",
        vec![CannedResponse::json(200, "[]")],
    );
    server.route(
        "PUT",
        "/v1/session/destroy/live",
        vec![CannedResponse::json(200, "true")],
    );
    let client = client_for(&server);
    let request = SessionRequest {
        name: "lock".into(),
        ttl: "15s".into(),
        behavior: "delete".into(),
        ..SessionRequest::default()
    };
    let id = client.session().create(&request).await.unwrap();
    assert_eq!(id, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
    let body: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["Name"], "lock");
    assert_eq!(body["TTL"], "15s");
    assert_eq!(body["Behavior"], "delete");

    assert!(client.session().renew("gone").await.unwrap().is_none());
    let live = client.session().renew("live").await.unwrap().unwrap();
    assert_eq!(live.ttl, "30s");
    let (none, _) = client
        .session()
        .info("none", &QueryOptions::default())
        .await
        .unwrap();
    assert!(none.is_none());
    client.session().destroy("live").await.unwrap();
}

#[tokio::test]
async fn catalog_and_health_parameters() {
    let server = FakeServer::start().unwrap();
    server.route("GET", "/v1/catalog/nodes", vec![CannedResponse::json(200, r#"[{"ID":"1e2f","Node":"n1","Address":"10.0.0.1","Datacenter":"dc1","TaggedAddresses":{},"Meta":{"rack":"a"},"CreateIndex":1,"ModifyIndex":2}]"#)]);
    server.route(
        "GET",
        "/v1/catalog/service/web",
        vec![CannedResponse::json(200, "[]")],
    );
    server.route(
        "GET",
        "/v1/catalog/node/ghost",
        vec![CannedResponse::json(200, "null")],
    );
    server.route(
        "GET",
        "/v1/health/service/web",
        vec![CannedResponse::json(200, "[]")],
    );
    server.route(
        "GET",
        "/v1/health/state/critical",
        vec![CannedResponse::json(200, "[]")],
    );
    let client = client_for(&server);
    let mut meta = BTreeMap::new();
    meta.insert("rack".to_string(), "a".to_string());
    meta.insert("zone".to_string(), "z1".to_string());
    let (nodes, _) = client
        .catalog()
        .nodes(&meta, &QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(nodes[0].node, "n1");
    assert_eq!(
        server.requests()[0].params("node-meta"),
        vec!["rack:a", "zone:z1"]
    );

    let tags = vec!["primary".to_string(), "v2".to_string()];
    client
        .catalog()
        .service("web", &tags, &BTreeMap::new(), &QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(server.requests()[1].params("tag"), vec!["primary", "v2"]);

    let (node, _) = client
        .catalog()
        .node("ghost", &QueryOptions::default())
        .await
        .unwrap();
    assert!(node.is_none(), "Consul answers an unknown node with null");

    client
        .health()
        .service("web", &tags[..1], true, &QueryOptions::default())
        .await
        .unwrap();
    let req = &server.requests()[3];
    assert_eq!(req.param("passing"), Some(""));
    assert_eq!(req.params("tag"), vec!["primary"]);
    client
        .health()
        .state("critical", &QueryOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn agent_endpoints() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/agent/self",
        vec![CannedResponse::json(
            200,
            r#"{"Config":{"NodeName":"node-1","Datacenter":"dc1"},"Stats":{}}"#,
        )],
    );
    server.route("GET", "/v1/agent/members", vec![CannedResponse::json(200, r#"[{"Name":"s1","Addr":"10.0.0.1","Port":8301,"Tags":{"role":"consul"},"Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}]"#)]);
    for path in [
        "/v1/agent/service/register",
        "/v1/agent/service/deregister/web 1",
        "/v1/agent/check/pass/ttl-check",
        "/v1/agent/check/update/ttl-check",
        "/v1/agent/maintenance",
        "/v1/agent/service/maintenance/web",
        "/v1/agent/force-leave/old-node",
        "/v1/agent/join/10.0.0.9:8301",
        "/v1/agent/reload",
        "/v1/agent/leave",
    ] {
        server.route("PUT", path, vec![CannedResponse::text(200, "")]);
    }
    let client = client_for(&server);
    let agent = client.agent();
    assert_eq!(agent.node_name().await.unwrap(), "node-1");
    let members = agent.members(true).await.unwrap();
    assert_eq!(members[0].name, "s1");
    assert_eq!(members[0].status.as_str(), "alive");

    let reg = AgentServiceRegistration {
        name: "web".into(),
        port: 80,
        tags: vec!["a".into()],
        ..AgentServiceRegistration::default()
    };
    agent.service_register(&reg).await.unwrap();
    agent.service_deregister("web 1").await.unwrap();
    agent.check_pass("ttl-check", "all good").await.unwrap();
    agent
        .check_update("ttl-check", CheckStatus::Warning, "slow")
        .await
        .unwrap();
    agent.enable_node_maintenance("patching").await.unwrap();
    agent.disable_node_maintenance().await.unwrap();
    agent.enable_service_maintenance("web", "").await.unwrap();
    agent.force_leave("old-node", true, false).await.unwrap();
    agent.join("10.0.0.9:8301", true).await.unwrap();
    agent.reload().await.unwrap();
    agent.leave().await.unwrap();

    let reqs = server.requests();
    assert_eq!(reqs[1].param("wan"), Some(""));
    let body: serde_json::Value = serde_json::from_slice(&reqs[2].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"Name":"web","Tags":["a"],"Port":80})
    );
    assert_eq!(reqs[3].raw_path, "/v1/agent/service/deregister/web%201");
    assert_eq!(reqs[4].param("note"), Some("all good"));
    let body: serde_json::Value = serde_json::from_slice(&reqs[5].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"Status":"warning","Output":"slow"})
    );
    assert_eq!(reqs[6].param("enable"), Some("true"));
    assert_eq!(reqs[6].param("reason"), Some("patching"));
    assert_eq!(reqs[7].param("enable"), Some("false"));
    assert_eq!(reqs[8].param("reason"), None);
    assert_eq!(reqs[9].param("prune"), Some(""));
    assert_eq!(reqs[9].param("wan"), None);
    assert_eq!(reqs[10].param("wan"), Some(""));
    assert!(reqs.iter().skip(2).all(|r| r.method == "PUT"));
}

#[tokio::test]
async fn status_event_operator_txn() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/status/leader",
        vec![CannedResponse::json(200, r#""10.0.0.1:8300""#)],
    );
    server.route(
        "GET",
        "/v1/status/peers",
        vec![CannedResponse::json(200, r#"["10.0.0.1:8300"]"#)],
    );
    server.route("PUT", "/v1/event/fire/deploy", vec![CannedResponse::json(200, r#"{"ID":"b54fe110-7af5-cafc-d1fb-afc8ba432b1c","Name":"deploy","Payload":"djI=","NodeFilter":"web.*","ServiceFilter":"","TagFilter":"","Version":1,"LTime":0}"#)]);
    server.route("GET", "/v1/operator/raft/configuration", vec![CannedResponse::json(200, r#"{"Servers":[{"ID":"a","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true,"LastIndex":20}],"Index":4}"#)]);
    server.route(
        "DELETE",
        "/v1/operator/raft/peer",
        vec![CannedResponse::text(200, "")],
    );
    server.route(
        "POST",
        "/v1/operator/raft/transfer-leader",
        vec![CannedResponse::json(200, r#"{"Success":true}"#)],
    );
    server.route("PUT", "/v1/txn", vec![
        CannedResponse::json(200, r#"{"Results":[{"KV":{"LockIndex":0,"Key":"a","Flags":0,"Value":null,"CreateIndex":3,"ModifyIndex":3}}],"Errors":null}"#),
        CannedResponse::json(409, r#"{"Results":null,"Errors":[{"OpIndex":0,"What":"failed to lock key \"a\""}]}"#),
    ]);
    let client = client_for(&server);
    assert_eq!(client.status_leader().await.unwrap(), "10.0.0.1:8300");
    assert_eq!(client.status_peers().await.unwrap(), vec!["10.0.0.1:8300"]);
    let event = client
        .event_fire(&EventFire {
            name: "deploy".into(),
            payload: b"v2".to_vec(),
            node_filter: "web.*".into(),
            ..EventFire::default()
        })
        .await
        .unwrap();
    assert_eq!(event.payload, b"v2");
    let reqs = server.requests();
    assert_eq!(reqs[2].body, b"v2");
    assert_eq!(reqs[2].param("node"), Some("web.*"));
    assert_eq!(reqs[2].param("service"), None);

    let conf = client
        .raft_configuration(&QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(conf.servers[0].last_index, 20);
    client
        .raft_remove_peer_by_address("10.0.0.2:8300")
        .await
        .unwrap();
    client.raft_remove_peer_by_id("b").await.unwrap();
    assert!(client.raft_transfer_leader("c").await.unwrap().success);
    let reqs = server.requests();
    assert_eq!(reqs[4].param("address"), Some("10.0.0.2:8300"));
    assert_eq!(reqs[5].param("id"), Some("b"));
    assert_eq!(reqs[6].param("id"), Some("c"));

    let ok = client.txn(&[]).await.unwrap();
    assert!(ok.committed);
    assert_eq!(ok.response.results.len(), 1);
    let rolled_back = client.txn(&[]).await.unwrap();
    assert!(!rolled_back.committed);
    assert_eq!(
        rolled_back.response.errors[0].what,
        "failed to lock key \"a\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_query_follows_index_against_server() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/w",
        vec![
            CannedResponse::json(200, ENTRY).with_index(10),
            CannedResponse::json(200, ENTRY).with_index(10),
            CannedResponse::json(200, ENTRY).with_index(12),
            // A snapshot restore moved the index backwards.
            CannedResponse::json(200, ENTRY).with_index(4),
            CannedResponse::json(200, ENTRY).with_index(5),
        ],
    );
    let client = client_for(&server);
    let mut watch = BlockingQuery::new(Some(Duration::from_secs(3)))
        .with_min_interval(Duration::from_millis(1));
    let base = QueryOptions::default();
    let mut changes = Vec::new();
    for _ in 0..5 {
        let update = watch
            .next(&base, |o| {
                let client = client.clone();
                async move { client.kv().get("w", &o).await }
            })
            .await
            .unwrap();
        changes.push(update.changed);
    }
    assert_eq!(changes, vec![true, false, true, true, true]);
    let sent: Vec<(Option<String>, Option<String>)> = server
        .requests()
        .iter()
        .map(|r| {
            (
                r.param("index").map(String::from),
                r.param("wait").map(String::from),
            )
        })
        .collect();
    let w = Some("3000ms".to_string());
    assert_eq!(
        sent,
        vec![
            (None, None),
            (Some("10".into()), w.clone()),
            (Some("10".into()), w.clone()),
            (Some("12".into()), w.clone()),
            (None, None),
        ]
    );
}
