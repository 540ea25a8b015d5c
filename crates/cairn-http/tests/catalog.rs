//! `/v1/catalog/*` and `/v1/health/*` handler tests.

mod support;

use support::{index, json, TestApi};

async fn seed(api: &TestApi) {
    let regs = [
        r#"{"Node": "web1", "Address": "10.0.0.1", "NodeMeta": {"env": "prod", "rack": "r1"},
            "Service": {"ID": "web-a", "Service": "web", "Tags": ["v1", "primary"], "Port": 80, "Meta": {"ver": "1"}},
            "Checks": [{"CheckID": "web-a-http", "Name": "http", "Status": "passing", "ServiceID": "web-a"}]}"#,
        r#"{"Node": "web2", "Address": "10.0.0.2", "NodeMeta": {"env": "dev"},
            "Service": {"ID": "web-b", "Service": "web", "Tags": ["v2"], "Port": 8080},
            "Checks": [{"CheckID": "web-b-http", "Name": "http", "Status": "critical", "ServiceID": "web-b"},
                       {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"}]}"#,
        r#"{"node": "db1", "address": "10.0.0.3", "service": {"service": "db", "port": 5432},
            "check": {"checkid": "db-ttl", "name": "ttl", "status": "warning", "serviceid": "db"}}"#,
    ];
    for body in regs {
        let r = api.put("/v1/catalog/register", body).await;
        assert_eq!((r.status, r.text()), (200, "true".into()));
    }
}

#[tokio::test]
async fn register_and_list_nodes() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api.get("/v1/catalog/nodes").await;
    assert_eq!(r.status, 200);
    let nodes = json(&r);
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Node"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["db1", "node1", "web1", "web2"]);
    assert_eq!(nodes[2]["Datacenter"], "dc1", "datacenter defaulted");
    assert_eq!(nodes[2]["Meta"]["env"], "prod");
    assert!(index(&r) >= 1);

    let r = api.get("/v1/catalog/nodes?node-meta=env:prod").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    let r = api
        .get("/v1/catalog/nodes?node-meta=env:prod&node-meta=rack:r2")
        .await;
    assert_eq!(json(&r), serde_json::json!([]));
    let r = api
        .get("/v1/catalog/nodes?filter=Meta.env%20%3D%3D%20dev")
        .await;
    assert_eq!(json(&r)[0]["Node"], "web2");
}

#[tokio::test]
async fn register_errors() {
    let api = TestApi::new();
    let r = api.put("/v1/catalog/register", "{").await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("Request decode failed: "));
    let r = api
        .put("/v1/catalog/register", r#"{"Address": "1.2.3.4"}"#)
        .await;
    assert_eq!((r.status, r.text()), (500, "Must provide node".into()));
    let r = api.put("/v1/catalog/register", r#"{"Node": "x"}"#).await;
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            "Must provide address if SkipNodeUpdate is not set".into()
        )
    );
    let r = api.put("/v1/catalog/deregister", r#"{}"#).await;
    assert_eq!((r.status, r.text()), (500, "Must provide node".into()));
    let r = api.get("/v1/catalog/register").await;
    assert_eq!((r.status, r.text()), (405, "method GET not allowed".into()));
}

#[tokio::test]
async fn services_and_service_instances() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api.get("/v1/catalog/services").await;
    assert_eq!(
        json(&r),
        serde_json::json!({"db": [], "web": ["primary", "v1", "v2"]})
    );
    let r = api.get("/v1/catalog/services?node-meta=env:dev").await;
    assert_eq!(json(&r), serde_json::json!({"web": ["v2"]}));

    let r = api.get("/v1/catalog/service/web").await;
    let list = json(&r);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let e = &list[0];
    assert_eq!(e["ServiceID"], "web-a");
    assert_eq!(e["ServiceName"], "web");
    assert_eq!(e["Node"], "web1");
    assert_eq!(e["Address"], "10.0.0.1");
    assert_eq!(e["ServicePort"], 80);
    assert_eq!(e["NodeMeta"]["env"], "prod");
    assert_eq!(
        e["ServiceWeights"],
        serde_json::json!({"Passing": 1, "Warning": 1})
    );

    let r = api.get("/v1/catalog/service/web?tag=v1&tag=primary").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    let r = api.get("/v1/catalog/service/web?tag=v1&tag=v2").await;
    assert_eq!(json(&r), serde_json::json!([]));
    let r = api.get("/v1/catalog/service/web?node-meta=env:dev").await;
    assert_eq!(json(&r)[0]["ServiceID"], "web-b");
    let r = api
        .get("/v1/catalog/service/web?filter=ServicePort%20%3D%3D%208080")
        .await;
    assert_eq!(json(&r)[0]["ServiceID"], "web-b");
    let r = api.get("/v1/catalog/service/").await;
    assert_eq!((r.status, r.text()), (400, "Missing service name".into()));
    let r = api.get("/v1/catalog/service/nope").await;
    assert_eq!((r.status, r.text()), (200, "[]".into()));
}

#[tokio::test]
async fn node_and_node_services() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api.get("/v1/catalog/node/web1").await;
    let v = json(&r);
    assert_eq!(v["Node"]["Node"], "web1");
    assert_eq!(v["Services"]["web-a"]["Service"], "web");
    assert_eq!(
        v["Services"]["web-a"]["Tags"],
        serde_json::json!(["v1", "primary"])
    );
    let r = api.get("/v1/catalog/node/ghost").await;
    assert_eq!((r.status, r.text()), (200, "null".into()));
    assert!(index(&r) >= 1);
    let r = api
        .get("/v1/catalog/node/web1?filter=Port%20%3D%3D%2081")
        .await;
    assert_eq!(json(&r)["Services"], serde_json::json!({}));

    let r = api.get("/v1/catalog/node-services/web1").await;
    let v = json(&r);
    assert_eq!(v["Node"]["Node"], "web1");
    assert_eq!(v["Services"][0]["ID"], "web-a");
    let r = api.get("/v1/catalog/node-services/ghost").await;
    assert_eq!(r.text(), r#"{"Node":null,"Services":null}"#);
    let r = api.get("/v1/catalog/node/").await;
    assert_eq!((r.status, r.text()), (400, "Missing node name".into()));
}

#[tokio::test]
async fn deregister_service_check_and_node() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api
        .put(
            "/v1/catalog/deregister",
            r#"{"Node": "web1", "ServiceID": "web-a"}"#,
        )
        .await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    assert_eq!(
        json(&api.get("/v1/catalog/service/web").await)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = api
        .put(
            "/v1/catalog/deregister",
            r#"{"Node": "web2", "CheckID": "web-b-http"}"#,
        )
        .await;
    assert_eq!(r.text(), "true");
    assert_eq!(
        json(&api.get("/v1/health/checks/web").await),
        serde_json::json!([])
    );
    api.put("/v1/catalog/deregister", r#"{"node": "db1"}"#)
        .await;
    assert_eq!(api.get("/v1/catalog/node/db1").await.text(), "null");
}

#[tokio::test]
async fn datacenters() {
    let api = TestApi::new();
    let r = api.get("/v1/catalog/datacenters").await;
    assert_eq!(json(&r), serde_json::json!(["dc1", "dc2"]));
}

#[tokio::test]
async fn health_service_with_passing_tag_and_filter() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api.get("/v1/health/service/web").await;
    let list = json(&r);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["Node"]["Node"], "web1");
    assert_eq!(list[0]["Service"]["ID"], "web-a");
    assert_eq!(list[0]["Checks"][0]["CheckID"], "web-a-http");
    // Node checks come with the instance.
    let checks_b: Vec<&str> = list[1]["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap())
        .collect();
    assert_eq!(checks_b, vec!["serfHealth", "web-b-http"]);

    for q in ["passing", "passing=", "passing=1", "passing=true"] {
        let r = api.get(&format!("/v1/health/service/web?{q}")).await;
        let list = json(&r);
        assert_eq!(list.as_array().unwrap().len(), 1, "{q}");
        assert_eq!(list[0]["Service"]["ID"], "web-a");
    }
    let r = api.get("/v1/health/service/web?passing=false").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    let r = api.get("/v1/health/service/web?passing=None").await;
    assert_eq!(
        (r.status, r.text()),
        (400, "Invalid value for ?passing".into())
    );

    let r = api.get("/v1/health/service/web?tag=v2").await;
    assert_eq!(json(&r)[0]["Service"]["ID"], "web-b");
    let r = api.get("/v1/health/service/web?node-meta=env:prod").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    let r = api
        .get("/v1/health/service/web?filter=Checks.Status%20%3D%3D%20critical")
        .await;
    assert_eq!(json(&r)[0]["Service"]["ID"], "web-b");
    let r = api
        .get("/v1/health/service/web?filter=Service.Port%20%3D%3D")
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with(
            "Failed to create boolean expression evaluator: 1:16 (15): no match found"
        ),
        "{}",
        r.text()
    );
    let r = api.get("/v1/health/service/").await;
    assert_eq!((r.status, r.text()), (400, "Missing service name".into()));
    let r = api.get("/v1/health/service/nope").await;
    assert_eq!(r.text(), "[]");
}

#[tokio::test]
async fn health_node_checks_and_state() {
    let api = TestApi::new();
    seed(&api).await;
    let r = api.get("/v1/health/node/web2").await;
    let ids: Vec<String> = json(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["serfHealth", "web-b-http"]);
    assert_eq!(json(&r)[0]["ServiceTags"], serde_json::json!([]));

    let r = api.get("/v1/health/checks/db").await;
    let v = json(&r);
    assert_eq!(v[0]["CheckID"], "db-ttl");
    assert_eq!(v[0]["Status"], "warning");
    assert_eq!(v[0]["ServiceName"], "db");

    let r = api.get("/v1/health/state/critical").await;
    assert_eq!(json(&r)[0]["CheckID"], "web-b-http");
    let r = api.get("/v1/health/state/any").await;
    assert_eq!(json(&r).as_array().unwrap().len(), 5);
    let r = api.get("/v1/health/state/passing?node-meta=env:prod").await;
    assert_eq!(json(&r)[0]["CheckID"], "web-a-http");
    let r = api.get("/v1/health/state/bogus").await;
    assert_eq!((r.status, r.text()), (200, "[]".into()));
    let r = api
        .get("/v1/health/state/any?filter=Node%20%3D%3D%20db1")
        .await;
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    let r = api.get("/v1/health/state/").await;
    assert_eq!((r.status, r.text()), (400, "Missing check state".into()));
    let r = api.get("/v1/health/node/").await;
    assert_eq!((r.status, r.text()), (400, "Missing node name".into()));
    let r = api.get("/v1/health/checks/").await;
    assert_eq!((r.status, r.text()), (400, "Missing service name".into()));
}

#[tokio::test]
async fn discovery_reads_default_to_stale_when_configured() {
    let cfg = cairn_http::HttpConfig {
        discovery_max_stale: std::time::Duration::from_secs(5),
        ..support::config()
    };
    let api = TestApi::with_config(cfg);
    let r = api.get("/v1/catalog/nodes").await;
    assert_eq!(r.header("X-Consul-Effective-Consistency"), Some("stale"));
    let r = api.get("/v1/kv/x").await;
    assert_eq!(r.header("X-Consul-Effective-Consistency"), Some("leader"));
}
