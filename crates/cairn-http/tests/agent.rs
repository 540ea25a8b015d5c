//! Agent endpoint tests against the fake agent.

mod support;

use cairn_http::ApiRequest;
use cairn_types::{CheckStatus, HealthCheck};
use support::{json, TestApi};

#[tokio::test]
async fn self_carries_what_clients_read() {
    let api = TestApi::new();
    let r = api.get("/v1/agent/self").await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["Config"]["Datacenter"], "dc1");
    assert_eq!(v["Config"]["NodeName"], "node1");
    assert_eq!(
        v["Config"]["NodeID"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(v["Config"]["Server"], true);
    assert_eq!(v["Config"]["Version"], "1.17.0");
    assert_eq!(v["Config"]["SessionTTLMin"], 10_000_000_000u64);
    assert_eq!(v["Member"]["Name"], "node1");
    assert_eq!(v["Member"]["Status"], 1);
    let leader = json(&api.get("/v1/status/leader").await);
    assert_eq!(v["Stats"]["consul"]["leader_addr"], leader);
    let r = api.put("/v1/agent/self", "").await;
    assert_eq!((r.status, r.header("allow")), (405, Some("OPTIONS,GET")));
}

#[tokio::test]
async fn members_lan_wan_segments_and_filter() {
    let api = TestApi::new();
    let r = api.get("/v1/agent/members").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    let r = api.get("/v1/agent/members?wan=1").await;
    assert_eq!(json(&r)[0]["Name"], "node1.dc1");
    let r = api.get("/v1/agent/members?wan=1&segment=alpha").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Cannot provide a segment with wan=true".into())
    );
    let r = api.get("/v1/agent/members?segment=_all").await;
    assert_eq!(r.status, 200);
    let r = api
        .get("/v1/agent/members?filter=Tags.role%20%3D%3D%20node")
        .await;
    assert_eq!(json(&r)[0]["Name"], "client1");
    assert!(api
        .agent
        .calls
        .lock()
        .unwrap()
        .contains(&"members wan=true segment=".to_string()));
}

#[tokio::test]
async fn control_endpoints() {
    let api = TestApi::new();
    assert_eq!(api.put("/v1/agent/join/10.0.0.2", "").await.status, 200);
    assert_eq!(
        api.put("/v1/agent/join/10.0.0.3?wan=1", "").await.status,
        200
    );
    let r = api.put("/v1/agent/join/bad", "").await;
    assert_eq!(r.status, 500);
    assert_eq!(
        api.put("/v1/agent/force-leave/n2?prune", "").await.status,
        200
    );
    assert_eq!(api.put("/v1/agent/reload", "").await.status, 200);
    assert_eq!(api.put("/v1/agent/leave", "").await.status, 200);
    assert_eq!(api.get("/v1/agent/leave").await.status, 405);
    let calls = api.agent.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            "join 10.0.0.2 wan=false",
            "join 10.0.0.3 wan=true",
            "join bad wan=false",
            "force-leave n2 prune=true wan=false",
            "reload",
            "leave"
        ]
    );
}

#[tokio::test]
async fn node_maintenance_params() {
    let api = TestApi::new();
    let r = api.put("/v1/agent/maintenance", "").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Missing value for enable".into())
    );
    let r = api.put("/v1/agent/maintenance?enable=maybe", "").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Invalid value for enable: \"maybe\"".into())
    );
    let r = api
        .put("/v1/agent/maintenance?enable=true&reason=upgrade", "")
        .await;
    assert_eq!(r.status, 200);
    assert!(api
        .agent
        .checks
        .lock()
        .unwrap()
        .contains_key("_node_maintenance"));
    api.put("/v1/agent/maintenance?enable=false", "").await;
    assert!(!api
        .agent
        .checks
        .lock()
        .unwrap()
        .contains_key("_node_maintenance"));
}

#[tokio::test]
async fn service_register_read_and_deregister() {
    let api = TestApi::new();
    let r = api
        .server
        .send(
            ApiRequest::new(
                "PUT",
                "/v1/agent/service/register",
                r#"{"Name": "web", "ID": "web1", "Port": 80, "Tags": ["a"], "Meta": {"Env": "prod"},
                    "Checks": [{"TTL": "30s"}, {"tcp": "127.0.0.1:80", "interval": "10s"}]}"#,
            )
            .header("X-Consul-Token", "secret"),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    assert_eq!(api.agent.tokens.lock().unwrap().clone(), vec!["secret"]);
    let v = json(&api.get("/v1/agent/services").await);
    assert_eq!(v["web1"]["Service"], "web");
    assert_eq!(v["web1"]["Meta"]["Env"], "prod");
    assert_eq!(v["web1"]["Datacenter"], "dc1");
    let checks = json(&api.get("/v1/agent/checks").await);
    assert_eq!(checks["service:web1:1"]["Type"], "ttl");
    assert_eq!(checks["service:web1:2"]["Type"], "tcp");

    let r = api.get("/v1/agent/service/web1").await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["ID"], "web1");
    let hash = v["ContentHash"].as_str().unwrap().to_string();
    assert_eq!(r.header("X-Consul-ContentHash"), Some(hash.as_str()));
    let r = api.get("/v1/agent/service/ghost").await;
    assert_eq!(
        (r.status, r.text()),
        (404, "unknown service ID: ghost".into())
    );

    let r = api
        .get("/v1/agent/services?filter=Port%20%3D%3D%2081")
        .await;
    assert_eq!(r.text(), "{}");

    assert_eq!(
        api.put("/v1/agent/service/deregister/web1", "")
            .await
            .status,
        200
    );
    assert_eq!(api.get("/v1/agent/services").await.text(), "{}");
    assert_eq!(api.get("/v1/agent/checks").await.text(), "{}");
    // Deregistering again is fine.
    assert_eq!(
        api.put("/v1/agent/service/deregister/web1", "")
            .await
            .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn service_hash_blocking_returns_on_change() {
    let api = std::sync::Arc::new(TestApi::new());
    api.put(
        "/v1/agent/service/register",
        r#"{"Name": "web", "Port": 80}"#,
    )
    .await;
    let hash = json(&api.get("/v1/agent/service/web").await)["ContentHash"]
        .as_str()
        .unwrap()
        .to_string();
    // Unchanged: the wait runs out and the same hash comes back.
    let start = tokio::time::Instant::now();
    let r = api
        .get(&format!("/v1/agent/service/web?hash={hash}&wait=3s"))
        .await;
    assert_eq!(json(&r)["ContentHash"], hash.as_str());
    assert!(start.elapsed() >= std::time::Duration::from_secs(3));
    let waiter = {
        let api = api.clone();
        let hash = hash.clone();
        tokio::spawn(async move {
            api.get(&format!("/v1/agent/service/web?hash={hash}&wait=60s"))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    api.put(
        "/v1/agent/service/register",
        r#"{"Name": "web", "Port": 81}"#,
    )
    .await;
    let r = waiter.await.unwrap();
    let v = json(&r);
    assert_eq!(v["Port"], 81);
    assert_ne!(v["ContentHash"], hash.as_str());
    let r = api.get("/v1/agent/service/web?wait=x").await;
    assert_eq!((r.status, r.text()), (400, "Invalid wait time".into()));
}

#[tokio::test]
async fn service_register_validation() {
    let api = TestApi::new();
    let cases = [
        ("{", 400, "Request decode failed: "),
        ("", 400, "Request decode failed: EOF"),
        (r#"{"Port": 80}"#, 400, "Missing service name"),
        (r#"{"Name": "w", "Address": "0.0.0.0"}"#, 400, "Invalid service address"),
        (
            r#"{"Name": "w", "Check": {"HTTP": "http://x"}}"#,
            400,
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ),
        (
            r#"{"Name": "w", "Check": {"TTL": "10s", "Status": "bogus"}}"#,
            400,
            "Status for checks must 'passing', 'warning', 'critical'",
        ),
        (r#"{"Name": "w", "Port": "eighty"}"#, 400, "Request decode failed: Port"),
    ];
    for (body, status, prefix) in cases {
        let r = api.put("/v1/agent/service/register", body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.text().starts_with(prefix), "{body}: {}", r.text());
        assert!(!r.text().contains('\n'));
    }
    assert_eq!(api.get("/v1/agent/services").await.text(), "{}");
}

#[tokio::test]
async fn replace_existing_checks_flag() {
    let api = TestApi::new();
    api.put(
        "/v1/agent/service/register",
        r#"{"Name": "w", "Checks": [{"TTL": "10s"}, {"TTL": "20s"}]}"#,
    )
    .await;
    api.put(
        "/v1/agent/service/register?replace-existing-checks",
        r#"{"Name": "w", "Check": {"CheckID": "only", "TTL": "10s"}}"#,
    )
    .await;
    let checks = json(&api.get("/v1/agent/checks").await);
    assert_eq!(
        checks.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["only"]
    );
}

#[tokio::test]
async fn service_maintenance() {
    let api = TestApi::new();
    api.put("/v1/agent/service/register", r#"{"Name": "w"}"#)
        .await;
    let r = api.put("/v1/agent/service/maintenance/w", "").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Missing value for enable".into())
    );
    let r = api
        .put("/v1/agent/service/maintenance/?enable=true", "")
        .await;
    assert_eq!((r.status, r.text()), (400, "Missing service ID".into()));
    let r = api
        .put("/v1/agent/service/maintenance/ghost?enable=true", "")
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "No service registered with ID \"ghost\"");
    let r = api
        .put(
            "/v1/agent/service/maintenance/w?enable=true&reason=deploy",
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api.get("/v1/agent/health/service/id/w").await;
    assert_eq!(r.status, 503);
    assert_eq!(json(&r)["AggregatedStatus"], "maintenance");
}

#[tokio::test]
async fn check_register_update_and_deregister() {
    let api = TestApi::new();
    let r = api
        .put("/v1/agent/check/register", r#"{"ID": "mem", "TTL": "30s"}"#)
        .await;
    assert_eq!((r.status, r.text()), (400, "Missing check name".into()));
    let r = api
        .put(
            "/v1/agent/check/register",
            r#"{"Name": "mem", "TTL": "30s", "Status": "great"}"#,
        )
        .await;
    assert_eq!((r.status, r.text()), (400, "Bad check status".into()));
    let r = api
        .put("/v1/agent/check/register", r#"{"Name": "mem"}"#)
        .await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Invalid check: TTL must be > 0 for TTL checks".into())
    );
    let r = api
        .put(
            "/v1/agent/check/register",
            r#"{"Name": "mem", "TTL": "30s", "ServiceID": "ghost"}"#,
        )
        .await;
    assert_eq!(
        (r.status, r.text()),
        (404, "ServiceID \"ghost\" does not exist".into())
    );
    let r = api
        .put(
            "/v1/agent/check/register",
            r#"{"name": "mem", "ttl": "30s", "notes": "n"}"#,
        )
        .await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let c = &json(&api.get("/v1/agent/checks").await)["mem"];
    assert_eq!(c["Status"], "critical");
    assert_eq!(c["Notes"], "n");

    for (verb, status) in [
        ("pass", "passing"),
        ("warn", "warning"),
        ("fail", "critical"),
    ] {
        let r = api
            .put(&format!("/v1/agent/check/{verb}/mem?note=via%20{verb}"), "")
            .await;
        assert_eq!(r.status, 200);
        let c = &json(&api.get("/v1/agent/checks").await)["mem"];
        assert_eq!(c["Status"], status);
        assert_eq!(c["Output"], format!("via {verb}"));
    }
    let r = api
        .put(
            "/v1/agent/check/update/mem",
            r#"{"Status": "passing", "Output": "fine"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        json(&api.get("/v1/agent/checks").await)["mem"]["Output"],
        "fine"
    );
    let r = api
        .put("/v1/agent/check/update/mem", r#"{"Status": "meh"}"#)
        .await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Invalid check status: 'meh'".into())
    );
    let r = api.put("/v1/agent/check/pass/ghost", "").await;
    assert_eq!(r.status, 404);
    assert!(r.text().starts_with("Unknown check ID \"ghost\""));
    let r = api.get("/v1/agent/check/pass/mem").await;
    assert_eq!((r.status, r.header("allow")), (405, Some("OPTIONS,PUT")));

    let r = api
        .get("/v1/agent/checks?filter=Status%20%3D%3D%20critical")
        .await;
    assert_eq!(r.text(), "{}");
    assert_eq!(
        api.put("/v1/agent/check/deregister/mem", "").await.status,
        200
    );
    assert_eq!(api.get("/v1/agent/checks").await.text(), "{}");
}

fn check(id: &str, service: &str, status: CheckStatus) -> HealthCheck {
    HealthCheck {
        node: "node1".into(),
        check_id: id.into(),
        name: id.into(),
        status,
        service_id: service.into(),
        ..HealthCheck::default()
    }
}

#[tokio::test]
async fn aggregated_local_health() {
    let api = TestApi::new();
    api.put(
        "/v1/agent/service/register",
        r#"{"Name": "web", "ID": "web1"}"#,
    )
    .await;
    api.put(
        "/v1/agent/service/register",
        r#"{"Name": "web", "ID": "web2"}"#,
    )
    .await;
    api.agent
        .add_check(check("c1", "web1", CheckStatus::Passing));
    api.agent
        .add_check(check("c2", "web2", CheckStatus::Warning));

    let r = api.get("/v1/agent/health/service/id/web1").await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["AggregatedStatus"], "passing");
    assert_eq!(v["Service"]["ID"], "web1");
    assert_eq!(v["Checks"][0]["CheckID"], "c1");
    let r = api
        .get("/v1/agent/health/service/id/web2?format=text")
        .await;
    assert_eq!((r.status, r.text()), (429, "warning".into()));
    let r = api
        .server
        .send(
            ApiRequest::new("GET", "/v1/agent/health/service/id/web1", "")
                .header("Accept", "text/plain"),
        )
        .await;
    assert_eq!((r.status, r.text()), (200, "passing".into()));

    let r = api.get("/v1/agent/health/service/name/web").await;
    assert_eq!(r.status, 429, "worst of passing and warning");
    assert_eq!(json(&r).as_array().unwrap().len(), 2);

    // A failing node check makes every service critical.
    api.agent
        .add_check(check("serfHealth", "", CheckStatus::Critical));
    let r = api
        .get("/v1/agent/health/service/name/web?format=text")
        .await;
    assert_eq!((r.status, r.text()), (503, "critical".into()));

    let r = api.get("/v1/agent/health/service/id/ghost").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        json(&r),
        serde_json::json!({"AggregatedStatus": "critical", "Service": null, "Checks": null})
    );
    let r = api
        .get("/v1/agent/health/service/id/ghost?format=text")
        .await;
    assert_eq!(
        (r.status, r.text()),
        (404, "ServiceId ghost not found".into())
    );
    let r = api
        .get("/v1/agent/health/service/name/ghost?format=text")
        .await;
    assert_eq!(
        (r.status, r.text()),
        (404, "ServiceName ghost Not Found".into())
    );
    let r = api.get("/v1/agent/health/service/name/ghost").await;
    assert_eq!((r.status, r.text()), (404, "[]".into()));
    let r = api.get("/v1/agent/health/service/id/").await;
    assert_eq!((r.status, r.text()), (400, "Missing serviceID".into()));
}

#[tokio::test]
async fn metrics_json_and_prometheus() {
    let api = TestApi::new();
    let r = api.get("/v1/agent/metrics").await;
    let v = json(&r);
    assert_eq!(v["Gauges"][0]["Name"], "consul.runtime.num_goroutines");
    assert_eq!(v["Counters"][0]["Count"], 5);
    assert!(v["Samples"].is_array());
    let r = api.get("/v1/agent/metrics?format=prometheus").await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(r.text().contains("consul_runtime_num_goroutines 42\n"));
    let r = api
        .server
        .send(
            ApiRequest::new("GET", "/v1/agent/metrics", "")
                .header("Accept", "application/openmetrics-text; version=1.0.0"),
        )
        .await;
    assert!(r.text().contains("# TYPE consul_client_rpc counter"));
}

#[tokio::test]
async fn monitor_streams_lines_and_checks_the_level() {
    let api = TestApi::new();
    let r = api.get("/v1/agent/monitor?loglevel=debug").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "[DEBUG] agent: monitor started json=false\n[INFO] agent: second line\n"
    );
    let r = api.get("/v1/agent/monitor?logjson").await;
    assert!(r
        .text()
        .starts_with("[INFO] agent: monitor started json=true"));
    let r = api.get("/v1/agent/monitor?loglevel=shout").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Unknown log level: shout".into())
    );
    // Streams are never gzipped, so lines flush as they come.
    let r = api
        .server
        .send(ApiRequest::new("GET", "/v1/agent/monitor", "").header("Accept-Encoding", "gzip"))
        .await;
    assert_eq!(r.header("content-encoding"), None);
}
