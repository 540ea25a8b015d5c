//! Response types serialize to Consul's exact JSON (consul-surface.md §2.9–§3).

use cairn_types::lenient;
use cairn_types::{
    AgentService, CatalogService, CheckDefinition, CheckStatus, GoDuration, HealthCheck, KvEntry,
    Member, MemberStatus, Node, NodeServices, ServiceAddress, ServiceCheckRef, ServiceEntry,
    Session, SessionBehavior, TxnError, TxnResponse, TxnResult, Weights,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn kv_entry_matches_consul_example() {
    let entry = KvEntry {
        lock_index: 200,
        key: "zip".into(),
        flags: 0,
        value: b"test".to_vec(),
        session: "adf4238a-882b-9ddc-4a9d-5b6758e4159e".into(),
        create_index: 100,
        modify_index: 200,
    };
    assert_eq!(
        to_json(&entry),
        r#"{"LockIndex":200,"Key":"zip","Flags":0,"Value":"dGVzdA==","Session":"adf4238a-882b-9ddc-4a9d-5b6758e4159e","CreateIndex":100,"ModifyIndex":200}"#
    );
    let back: KvEntry = serde_json::from_str(&to_json(&entry)).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn empty_kv_value_is_null_and_unheld_session_omitted() {
    let entry = KvEntry {
        key: "empty".into(),
        create_index: 5,
        modify_index: 5,
        ..KvEntry::default()
    };
    assert_eq!(
        to_json(&entry),
        r#"{"LockIndex":0,"Key":"empty","Flags":0,"Value":null,"CreateIndex":5,"ModifyIndex":5}"#
    );
    let back: KvEntry = serde_json::from_str(&to_json(&entry)).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn session_shape_has_integer_lock_delay_and_text_ttl() {
    let session = Session {
        id: "adf4238a-882b-9ddc-4a9d-5b6758e4159e".into(),
        name: "test".into(),
        node: "raja-laptop-02".into(),
        ttl: "30s".into(),
        node_checks: vec!["serfHealth".into()],
        create_index: 1086449,
        modify_index: 1086449,
        ..Session::default()
    };
    assert_eq!(
        to_json(&session),
        r#"{"ID":"adf4238a-882b-9ddc-4a9d-5b6758e4159e","Name":"test","Node":"raja-laptop-02","LockDelay":15000000000,"Behavior":"release","TTL":"30s","NodeChecks":["serfHealth"],"ServiceChecks":null,"CreateIndex":1086449,"ModifyIndex":1086449}"#
    );
    let with_service = Session {
        behavior: SessionBehavior::Delete,
        lock_delay: GoDuration(Duration::from_millis(1)),
        service_checks: Some(vec![ServiceCheckRef {
            id: "web-check".into(),
            namespace: String::new(),
        }]),
        ..session.clone()
    };
    let v: serde_json::Value = serde_json::from_str(&to_json(&with_service)).unwrap();
    assert_eq!(v["LockDelay"], json!(1_000_000));
    assert_eq!(v["Behavior"], json!("delete"));
    assert_eq!(v["ServiceChecks"], json!([{"ID": "web-check"}]));
    assert!(v.get("Checks").is_none());
    let back: Session = serde_json::from_str(&to_json(&with_service)).unwrap();
    assert_eq!(back, with_service);
}

#[test]
fn member_status_is_an_integer() {
    let member = Member {
        name: "node1".into(),
        addr: "127.0.0.1".into(),
        port: 8301,
        tags: map(&[("role", "consul"), ("dc", "dc1"), ("port", "8300")]),
        status: MemberStatus::Alive,
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 2,
        delegate_max: 5,
        delegate_cur: 4,
    };
    assert_eq!(
        to_json(&member),
        r#"{"Name":"node1","Addr":"127.0.0.1","Port":8301,"Tags":{"dc":"dc1","port":"8300","role":"consul"},"Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}"#
    );
    for (status, code) in [
        (MemberStatus::None, 0),
        (MemberStatus::Alive, 1),
        (MemberStatus::Leaving, 2),
        (MemberStatus::Left, 3),
        (MemberStatus::Failed, 4),
    ] {
        assert_eq!(to_json(&status), code.to_string());
        assert_eq!(
            serde_json::from_str::<MemberStatus>(&code.to_string()).unwrap(),
            status
        );
    }
}

fn sample_node() -> Node {
    Node {
        id: "40e4a748-2192-161a-0510-9bf59fe950b5".into(),
        node: "foobar".into(),
        address: "10.1.10.12".into(),
        datacenter: "dc1".into(),
        tagged_addresses: map(&[("lan", "10.1.10.12"), ("wan", "10.1.10.12")]),
        meta: map(&[("instance_type", "t2.medium")]),
        create_index: 5,
        modify_index: 6,
    }
}

#[test]
fn catalog_node_and_node_services_shapes() {
    assert_eq!(
        to_json(&sample_node()),
        r#"{"ID":"40e4a748-2192-161a-0510-9bf59fe950b5","Node":"foobar","Address":"10.1.10.12","Datacenter":"dc1","TaggedAddresses":{"lan":"10.1.10.12","wan":"10.1.10.12"},"Meta":{"instance_type":"t2.medium"},"CreateIndex":5,"ModifyIndex":6}"#
    );
    let mut services = BTreeMap::new();
    services.insert(
        "redis".to_string(),
        AgentService {
            id: "redis".into(),
            service: "redis".into(),
            port: 8000,
            create_index: 7,
            modify_index: 7,
            ..AgentService::default()
        },
    );
    let ns = NodeServices {
        node: Some(sample_node()),
        services,
    };
    let v: serde_json::Value = serde_json::from_str(&to_json(&ns)).unwrap();
    assert_eq!(v["Node"]["Node"], json!("foobar"));
    assert_eq!(
        v["Services"]["redis"],
        json!({"ID":"redis","Service":"redis","Tags":[],"Meta":{},"Port":8000,"Address":"",
               "EnableTagOverride":false,"Weights":{"Passing":1,"Warning":1},
               "CreateIndex":7,"ModifyIndex":7})
    );
    let unknown = NodeServices::default();
    assert_eq!(to_json(&unknown), r#"{"Node":null,"Services":{}}"#);
}

#[test]
fn agent_service_omits_kind_indexes_and_empty_tagged_addresses() {
    let mut tagged = BTreeMap::new();
    tagged.insert(
        "lan".to_string(),
        ServiceAddress {
            address: "10.0.0.1".into(),
            port: 80,
        },
    );
    let svc = AgentService {
        id: "web-1".into(),
        service: "web".into(),
        tags: vec!["v1".into()],
        meta: map(&[("Env", "prod")]),
        port: 80,
        address: "10.0.0.1".into(),
        tagged_addresses: tagged,
        weights: Weights {
            passing: 10,
            warning: 1,
        },
        datacenter: "dc1".into(),
        ..AgentService::default()
    };
    assert_eq!(
        to_json(&svc),
        r#"{"ID":"web-1","Service":"web","Tags":["v1"],"TaggedAddresses":{"lan":{"Address":"10.0.0.1","Port":80}},"Meta":{"Env":"prod"},"Port":80,"Address":"10.0.0.1","EnableTagOverride":false,"Weights":{"Passing":10,"Warning":1},"Datacenter":"dc1"}"#
    );
    let proxy = AgentService {
        kind: "connect-proxy".into(),
        ..AgentService::default()
    };
    let v: serde_json::Value = serde_json::from_str(&to_json(&proxy)).unwrap();
    assert_eq!(v["Kind"], json!("connect-proxy"));
    assert!(v.get("TaggedAddresses").is_none());
    assert!(v.get("CreateIndex").is_none());
}

#[test]
fn catalog_service_shape() {
    let cs = CatalogService {
        id: "40e4a748-2192-161a-0510-9bf59fe950b5".into(),
        node: "foobar".into(),
        address: "192.168.10.10".into(),
        datacenter: "dc1".into(),
        tagged_addresses: map(&[("lan", "192.168.10.10")]),
        node_meta: map(&[("somekey", "somevalue")]),
        service_id: "32a2a47f7992:nodea:5000".into(),
        service_name: "foobar".into(),
        service_tags: vec!["tag1".into()],
        service_address: "172.17.0.3".into(),
        service_meta: map(&[("foobar_meta_value", "baz")]),
        service_port: 5000,
        create_index: 10,
        modify_index: 10,
        ..CatalogService::default()
    };
    assert_eq!(
        to_json(&cs),
        r#"{"ID":"40e4a748-2192-161a-0510-9bf59fe950b5","Node":"foobar","Address":"192.168.10.10","Datacenter":"dc1","TaggedAddresses":{"lan":"192.168.10.10"},"NodeMeta":{"somekey":"somevalue"},"ServiceKind":"","ServiceID":"32a2a47f7992:nodea:5000","ServiceName":"foobar","ServiceTags":["tag1"],"ServiceAddress":"172.17.0.3","ServiceWeights":{"Passing":1,"Warning":1},"ServiceMeta":{"foobar_meta_value":"baz"},"ServicePort":5000,"ServiceEnableTagOverride":false,"CreateIndex":10,"ModifyIndex":10}"#
    );
}

fn serf_health() -> HealthCheck {
    HealthCheck {
        node: "foobar".into(),
        check_id: "serfHealth".into(),
        name: "Serf Health Status".into(),
        status: CheckStatus::Passing,
        output: "Agent alive and reachable".into(),
        service_tags: vec![],
        create_index: 3,
        modify_index: 3,
        ..HealthCheck::default()
    }
}

#[test]
fn health_check_shape_with_empty_and_full_definition() {
    assert_eq!(
        to_json(&serf_health()),
        r#"{"Node":"foobar","CheckID":"serfHealth","Name":"Serf Health Status","Status":"passing","Notes":"","Output":"Agent alive and reachable","ServiceID":"","ServiceName":"","ServiceTags":[],"Type":"","Interval":"","Timeout":"","ExposedPort":0,"Definition":{},"CreateIndex":3,"ModifyIndex":3}"#
    );
    let http = HealthCheck {
        check_id: "service:web".into(),
        service_id: "web".into(),
        service_name: "web".into(),
        check_type: "http".into(),
        interval: "10s".into(),
        timeout: "1s".into(),
        status: CheckStatus::Critical,
        definition: CheckDefinition {
            http: "http://127.0.0.1:8080/health".into(),
            interval: GoDuration(Duration::from_secs(10)),
            timeout: GoDuration(Duration::from_secs(1)),
            deregister_critical_service_after: GoDuration(Duration::from_secs(90)),
            ttl: GoDuration(Duration::from_secs(30)),
            ..CheckDefinition::default()
        },
        ..serf_health()
    };
    let v: serde_json::Value = serde_json::from_str(&to_json(&http)).unwrap();
    assert_eq!(v["Status"], json!("critical"));
    assert_eq!(v["Type"], json!("http"));
    assert_eq!(
        v["Definition"],
        json!({"HTTP":"http://127.0.0.1:8080/health","Interval":"10s","Timeout":"1s",
               "DeregisterCriticalServiceAfter":"1m30s","TTL":30000000000u64})
    );
    let back: HealthCheck = serde_json::from_str(&to_json(&http)).unwrap();
    assert_eq!(back, http);
}

#[test]
fn health_service_entry_shape() {
    let entry = ServiceEntry {
        node: sample_node(),
        service: AgentService {
            id: "redis".into(),
            service: "redis".into(),
            port: 8000,
            create_index: 9,
            modify_index: 9,
            ..AgentService::default()
        },
        checks: vec![serf_health()],
    };
    let v: serde_json::Value = serde_json::from_str(&to_json(&entry)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["Checks", "Node", "Service"]);
    assert_eq!(v["Checks"][0]["CheckID"], json!("serfHealth"));
    assert_eq!(v["Service"]["Weights"], json!({"Passing":1,"Warning":1}));
    let back: ServiceEntry = serde_json::from_str(&to_json(&entry)).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn check_status_words() {
    for (status, word) in [
        (CheckStatus::Passing, "passing"),
        (CheckStatus::Warning, "warning"),
        (CheckStatus::Critical, "critical"),
        (CheckStatus::Maintenance, "maintenance"),
    ] {
        assert_eq!(to_json(&status), format!("\"{word}\""));
        assert_eq!(
            serde_json::from_str::<CheckStatus>(&format!("\"{word}\"")).unwrap(),
            status
        );
    }
    assert_eq!(
        serde_json::from_str::<CheckStatus>("\"\"").unwrap(),
        CheckStatus::Critical
    );
    assert!(serde_json::from_str::<CheckStatus>("\"Passing\"").is_err());
}

#[test]
fn txn_response_success_and_rollback() {
    let ok = TxnResponse {
        results: vec![TxnResult::Kv(KvEntry {
            key: "a".into(),
            create_index: 7,
            modify_index: 7,
            ..KvEntry::default()
        })],
        errors: vec![],
    };
    assert_eq!(
        to_json(&ok),
        r#"{"Results":[{"KV":{"LockIndex":0,"Key":"a","Flags":0,"Value":null,"CreateIndex":7,"ModifyIndex":7}}],"Errors":null}"#
    );
    assert!(!ok.is_rolled_back());
    let failed = TxnResponse {
        results: vec![],
        errors: vec![TxnError {
            op_index: 1,
            what: "failed to lock key \"b\": lock is already held".into(),
        }],
    };
    assert_eq!(
        to_json(&failed),
        r#"{"Results":null,"Errors":[{"OpIndex":1,"What":"failed to lock key \"b\": lock is already held"}]}"#
    );
    assert!(failed.is_rolled_back());
    assert_eq!(
        to_json(&TxnResponse::default()),
        r#"{"Results":null,"Errors":null}"#
    );
    let back: TxnResponse = serde_json::from_str(&to_json(&failed)).unwrap();
    assert_eq!(back, failed);
    let back: TxnResponse = lenient::from_str(&to_json(&ok)).unwrap();
    assert_eq!(back, ok);
}
