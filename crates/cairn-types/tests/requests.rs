//! Request types: defaults, helpers, and their own serialization (used by clients such as the
//! CLI).

use cairn_types::lenient;
use cairn_types::{
    AgentServiceRegistration, CatalogDeregistration, CheckType, GoDuration, SessionRequest,
};
use serde_json::json;
use std::time::Duration;

fn check(json: &str) -> CheckType {
    lenient::from_str(json).unwrap()
}

#[test]
fn check_kind_follows_consuls_order() {
    let cases = [
        (
            r#"{"grpc":"a:1","http":"http://a","interval":"5s"}"#,
            "grpc",
        ),
        (r#"{"http":"http://a","interval":"5s"}"#, "http"),
        (r#"{"http":"http://a"}"#, ""),
        (r#"{"ttl":"5s"}"#, "ttl"),
        (r#"{"tcp":"a:1","interval":"5s"}"#, "tcp"),
        (r#"{"udp":"a:1","interval":"5s"}"#, "udp"),
        (r#"{"alias_service":"web"}"#, "alias"),
        (
            r#"{"args":["x"],"docker_container_id":"c","interval":"5s"}"#,
            "docker",
        ),
        (r#"{"args":["x"],"interval":"5s"}"#, "script"),
        (r#"{"h2ping":"a:1","interval":"5s"}"#, "h2ping"),
        (r#"{"os_service":"sshd","interval":"5s"}"#, "os_service"),
        ("{}", ""),
    ];
    for (json, kind) in cases {
        assert_eq!(check(json).kind(), kind, "{json}");
    }
}

#[test]
fn check_validation_messages() {
    assert!(check(r#"{"ttl":"5s"}"#).validate().is_ok());
    assert!(check(r#"{"alias_node":"n"}"#).validate().is_ok());
    assert_eq!(
        check("{}").validate().unwrap_err(),
        "TTL must be > 0 for TTL checks"
    );
    assert_eq!(
        check(r#"{"alias_node":"n","ttl":"5s"}"#)
            .validate()
            .unwrap_err(),
        "TTL must be not be set for Alias checks"
    );
    assert_eq!(
        check(r#"{"alias_node":"n","tcp":"a:1","interval":"5s"}"#)
            .validate()
            .unwrap_err(),
        "Interval cannot be set for Alias checks"
    );
    assert_eq!(
        check(r#"{"ttl":"5s","failures_before_warning":3,"failures_before_critical":1}"#)
            .validate()
            .unwrap_err(),
        "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
    );
}

#[test]
fn check_serializes_with_consul_names_and_omits_empty() {
    let c = check(
        r#"{"id":"c1","http":"http://a","interval":"10s","tls_skip_verify":true,
            "header":{"X-A":["1"]},"deregister_critical_service_after":"1m30s"}"#,
    );
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"CheckID":"c1","HTTP":"http://a","Header":{"X-A":["1"]},"TLSSkipVerify":true,
               "Interval":"10s","DeregisterCriticalServiceAfter":"1m30s"})
    );
    assert_eq!(
        serde_json::to_value(CheckType::default()).unwrap(),
        json!({})
    );
    let back: CheckType = lenient::from_value(&serde_json::to_value(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn partial_weights_leave_the_rest_zero_like_go() {
    let reg: AgentServiceRegistration =
        lenient::from_str(r#"{"name":"w","weights":{"passing":5}}"#).unwrap();
    let w = reg.weights.unwrap();
    assert_eq!((w.passing, w.warning), (5, 0));
    let reg: AgentServiceRegistration = lenient::from_str(r#"{"name":"w"}"#).unwrap();
    assert!(reg.weights.is_none());
    let svc = reg.to_agent_service();
    assert_eq!((svc.weights.passing, svc.weights.warning), (1, 1));
    assert_eq!(svc.id, "w", "ID defaults to the name");
}

#[test]
fn service_registration_serializes_minimal_body() {
    let reg = AgentServiceRegistration {
        name: "web".into(),
        port: 80,
        check: Some(CheckType {
            ttl: GoDuration(Duration::from_secs(30)),
            ..CheckType::default()
        }),
        ..AgentServiceRegistration::default()
    };
    assert_eq!(
        serde_json::to_string(&reg).unwrap(),
        r#"{"Name":"web","Port":80,"Check":{"TTL":"30s"}}"#
    );
}

#[test]
fn session_request_serializes_lock_delay_as_nanos() {
    let req = SessionRequest {
        name: "lock".into(),
        lock_delay: Some(GoDuration(Duration::from_secs(1))),
        ttl: "10s".into(),
        node_checks: Some(vec![]),
        ..SessionRequest::default()
    };
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"Name":"lock","LockDelay":1000000000,"TTL":"10s","NodeChecks":[]}"#
    );
    let back: SessionRequest = lenient::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
    assert_eq!(back, req);
}

#[test]
fn catalog_deregistration_reads_any_spelling() {
    let d: CatalogDeregistration =
        lenient::from_str(r#"{"node":"n1","service_id":"web","checkid":"c"}"#).unwrap();
    assert_eq!(
        (d.node.as_str(), d.service_id.as_str(), d.check_id.as_str()),
        ("n1", "web", "c")
    );
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"Node":"n1","ServiceID":"web","CheckID":"c"}"#
    );
}
