//! Every request-side example of `shared/reference/client-compat.md` decodes into the right
//! values through the lenient decoder.

use cairn_types::lenient;
use cairn_types::{
    AgentCheckRegistration, AgentServiceRegistration, CatalogRegistration, CheckStatus, CheckType,
    GoDuration, SessionBehavior, SessionRequest, TxnOp,
};
use std::time::Duration;

fn secs(s: u64) -> GoDuration {
    GoDuration(Duration::from_secs(s))
}

/// `PUT /v1/session/create` body patroni sends, verbatim.
const PATRONI_SESSION: &str = r#"{"name": "batman-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}"#;

/// `PUT /v1/agent/service/register` body patroni sends, verbatim.
const PATRONI_SERVICE: &str = r#"{"name": "batman", "enabletagoverride": true, "id": "batman/pg1",
          "address": "127.0.0.1", "port": 5432, "tags": ["master","primary"],
          "check": {"http": "http://127.0.0.1:8008/master", "interval": "5s", "DeregisterCriticalServiceAfter": "150.0s"}}"#;

#[test]
fn patroni_session_create() {
    let req: SessionRequest = lenient::from_str(PATRONI_SESSION).unwrap();
    assert_eq!(req.name, "batman-pg1");
    assert_eq!(req.checks, Some(vec![]));
    // 0.001s is 1 ms: at or above Consul's 1000 ns threshold, so not rescaled to seconds.
    assert_eq!(req.lock_delay, Some(GoDuration(Duration::from_millis(1))));
    assert_eq!(req.behavior().unwrap(), SessionBehavior::Delete);
    assert_eq!(req.ttl, "15.0s");
    assert_eq!(req.ttl().unwrap(), Some(Duration::from_secs(15)));
    // `"checks": []` removes the default serfHealth check.
    assert!(req.resolved_node_checks().is_empty());

    let session = req.to_session("pg1").unwrap();
    assert_eq!(session.node, "pg1");
    assert_eq!(session.name, "batman-pg1");
    assert_eq!(session.ttl, "15.0s", "TTL is stored as sent, like Consul");
    assert_eq!(session.lock_delay, GoDuration(Duration::from_millis(1)));
    assert_eq!(session.behavior, SessionBehavior::Delete);
    assert!(session.node_checks.is_empty());
    assert_eq!(
        req.validated_ttl(Duration::from_secs(10)).unwrap(),
        Some(Duration::from_secs(15))
    );
}

#[test]
fn patroni_service_register() {
    let reg: AgentServiceRegistration = lenient::from_str(PATRONI_SERVICE).unwrap();
    assert_eq!(reg.name, "batman");
    assert_eq!(reg.id, "batman/pg1");
    assert!(reg.enable_tag_override);
    assert_eq!(reg.address, "127.0.0.1");
    assert_eq!(reg.port, 5432);
    assert_eq!(reg.tags, ["master", "primary"]);
    let check = reg.check.as_ref().unwrap();
    assert_eq!(check.http, "http://127.0.0.1:8008/master");
    assert_eq!(check.interval, secs(5));
    assert_eq!(check.deregister_critical_service_after, secs(150));
    assert_eq!(check.kind(), "http");

    let checks = reg.check_types().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].check_id, "service:batman/pg1");
    assert_eq!(checks[0].name, "Service 'batman' check");
    assert_eq!(checks[0].service_id, "batman/pg1");

    let service = reg.to_agent_service();
    assert_eq!(service.id, "batman/pg1");
    assert_eq!(service.service, "batman");
    assert_eq!(service.weights.passing, 1);
    assert_eq!(service.weights.warning, 1);

    let hc = checks[0].to_health_check("pg1", Some(&service)).unwrap();
    assert_eq!(hc.check_id, "service:batman/pg1");
    assert_eq!(hc.status, CheckStatus::Critical);
    assert_eq!(hc.service_name, "batman");
    assert_eq!(hc.service_tags, ["master", "primary"]);
    assert_eq!(hc.check_type, "http");
    assert_eq!(hc.interval, "5s");
    assert_eq!(hc.definition.deregister_critical_service_after, secs(150));
}

/// The key spellings the reference lists, each reaching its field.
#[test]
fn listed_key_spellings_reach_their_fields() {
    let reg: AgentServiceRegistration = lenient::from_str(
        r#"{"name":"web","id":"web-1","address":"10.0.0.1","port":80,"tags":["a"],
            "meta":{"Env":"prod","snake_key":"v"},"enabletagoverride":true,
            "weights":{"passing":3,"warning":2},
            "tagged_addresses":{"lan_ipv4":{"address":"10.0.0.1","port":80}},
            "check":{"ttl":"30s","notes":"n"},
            "checks":[{"grpc":"127.0.0.1:9000","grpc_use_tls":true,"interval":"10s"},
                      {"http":"https://x","tls_skip_verify":true,"interval":"1m30s",
                       "header":{"X-Token":["t"]}},
                      {"args":["/bin/true"],"docker_container_id":"c1","interval":"10s"}]}"#,
    )
    .unwrap();
    assert_eq!(
        (
            reg.name.as_str(),
            reg.id.as_str(),
            reg.address.as_str(),
            reg.port
        ),
        ("web", "web-1", "10.0.0.1", 80)
    );
    assert_eq!(reg.tags, ["a"]);
    // Map keys stay verbatim.
    assert_eq!(reg.meta.get("Env").map(String::as_str), Some("prod"));
    assert_eq!(reg.meta.get("snake_key").map(String::as_str), Some("v"));
    assert!(reg.enable_tag_override);
    let w = reg.weights.unwrap();
    assert_eq!((w.passing, w.warning), (3, 2));
    let lan = &reg.tagged_addresses["lan_ipv4"];
    assert_eq!((lan.address.as_str(), lan.port), ("10.0.0.1", 80));
    let check = reg.check.as_ref().unwrap();
    assert_eq!(check.ttl, secs(30));
    assert_eq!(check.notes, "n");
    assert_eq!(check.kind(), "ttl");
    assert!(reg.checks[0].grpc_use_tls);
    assert_eq!(reg.checks[0].kind(), "grpc");
    assert!(reg.checks[1].tls_skip_verify);
    assert_eq!(reg.checks[1].interval, secs(90));
    assert_eq!(reg.checks[1].header["X-Token"], ["t"]);
    assert_eq!(reg.checks[2].script_args, ["/bin/true"]);
    assert_eq!(reg.checks[2].docker_container_id, "c1");
    assert_eq!(reg.checks[2].kind(), "docker");

    let ids: Vec<String> = reg
        .check_types()
        .unwrap()
        .into_iter()
        .map(|c| c.check_id)
        .collect();
    assert_eq!(
        ids,
        [
            "service:web-1:1",
            "service:web-1:2",
            "service:web-1:3",
            "service:web-1:4"
        ]
    );

    let check: AgentCheckRegistration = lenient::from_str(
        r#"{"name":"mem","serviceid":"web-1","notes":"low memory","ttl":"15.0s","status":"passing"}"#,
    )
    .unwrap();
    assert_eq!(check.service_id, "web-1");
    assert_eq!(check.notes, "low memory");
    assert_eq!(check.ttl, secs(15));
    let hc = check.to_health_check("n1", None).unwrap();
    assert_eq!(hc.check_id, "mem", "check ID defaults to the name");
    assert_eq!(hc.status, CheckStatus::Passing);
    assert_eq!(hc.service_id, "web-1");

    let session: SessionRequest =
        lenient::from_str(r#"{"LOCKDELAY":"15s","Behavior":"release","TTL":"30s","Name":"x"}"#)
            .unwrap();
    assert_eq!(session.lock_delay, Some(secs(15)));
    assert_eq!(session.behavior().unwrap(), SessionBehavior::Release);
    assert_eq!(session.resolved_node_checks(), ["serfHealth"]);
}

/// Durations: Go strings with fractions and compound units, or integer nanoseconds.
#[test]
fn durations_in_every_listed_form() {
    let cases: [(&str, Duration); 6] = [
        (r#""15.0s""#, Duration::from_secs(15)),
        (r#""150.0s""#, Duration::from_secs(150)),
        (r#""0.001s""#, Duration::from_millis(1)),
        (r#""1m30s""#, Duration::from_secs(90)),
        ("10000000000", Duration::from_secs(10)),
        ("1500000", Duration::from_micros(1500)),
    ];
    for (json, want) in cases {
        let body = format!(
            r#"{{"Interval":{json},"Timeout":{json},"TTL":{json},"DeregisterCriticalServiceAfter":{json}}}"#
        );
        let c: CheckType = lenient::from_str(&body).unwrap();
        for got in [
            c.interval,
            c.timeout,
            c.ttl,
            c.deregister_critical_service_after,
        ] {
            assert_eq!(got.0, want, "{json}");
        }
        let snake = format!(r#"{{"deregister_critical_service_after":{json}}}"#);
        let c: CheckType = lenient::from_str(&snake).unwrap();
        assert_eq!(c.deregister_critical_service_after.0, want, "{json}");
    }
    assert!(lenient::from_str::<CheckType>(r#"{"Interval":"10"}"#).is_err());
    assert!(lenient::from_str::<CheckType>(r#"{"Interval":-5}"#).is_err());
}

/// Consul's LockDelay rule: numbers (and strings) below 1000 ns are seconds.
#[test]
fn lock_delay_small_numbers_are_seconds() {
    let cases: [(&str, Duration); 7] = [
        ("15", Duration::from_secs(15)),
        ("20.0", Duration::from_secs(20)),
        (r#""20ns""#, Duration::from_secs(20)),
        (r#""15s""#, Duration::from_secs(15)),
        ("0", Duration::ZERO),
        ("1000", Duration::from_nanos(1000)),
        ("15000000000", Duration::from_secs(15)),
    ];
    for (json, want) in cases {
        let req: SessionRequest = lenient::from_str(&format!(r#"{{"LockDelay":{json}}}"#)).unwrap();
        assert_eq!(req.lock_delay, Some(GoDuration(want)), "{json}");
    }
    assert!(lenient::from_str::<SessionRequest>(r#"{"LockDelay":"20"}"#).is_err());
    assert!(lenient::from_str::<SessionRequest>(r#"{"LockDelay":-5}"#).is_err());
    let absent: SessionRequest = lenient::from_str("{}").unwrap();
    assert_eq!(absent.lock_delay_or_default(), secs(15));
}

#[test]
fn session_ttl_errors_use_consuls_words() {
    let short: SessionRequest = lenient::from_str(r#"{"ttl":"5s"}"#).unwrap();
    let err = short.validated_ttl(Duration::from_secs(10)).unwrap_err();
    assert_eq!(
        err,
        "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"
    );
    let bad: SessionRequest = lenient::from_str(r#"{"ttl":"soon"}"#).unwrap();
    assert!(bad
        .ttl()
        .unwrap_err()
        .starts_with("Session TTL 'soon' invalid: "));
    assert!(bad.to_session("n").is_err());
    let zero: SessionRequest = lenient::from_str(r#"{"ttl":"0s"}"#).unwrap();
    assert_eq!(zero.validated_ttl(Duration::from_secs(10)).unwrap(), None);
    let numeric: SessionRequest = lenient::from_str(r#"{"ttl":30000000000}"#).unwrap();
    assert_eq!(numeric.ttl, "30s");
    let behavior: SessionRequest = lenient::from_str(r#"{"behavior":"destroy"}"#).unwrap();
    assert_eq!(
        behavior.behavior().unwrap_err(),
        "Invalid Behavior setting 'destroy'"
    );
}

#[test]
fn session_check_lists_follow_consul_fixups() {
    let cases: [(&str, &[&str]); 6] = [
        ("{}", &["serfHealth"]),
        (r#"{"Checks":[]}"#, &[]),
        (r#"{"NodeChecks":[]}"#, &[]),
        (r#"{"NodeChecks":["a"]}"#, &["a"]),
        (r#"{"Checks":["a"]}"#, &["a", "serfHealth"]),
        (r#"{"Checks":["serfHealth"],"NodeChecks":["b"]}"#, &["b"]),
    ];
    for (json, want) in cases {
        let req: SessionRequest = lenient::from_str(json).unwrap();
        assert_eq!(req.resolved_node_checks(), want, "{json}");
    }
    let req: SessionRequest =
        lenient::from_str(r#"{"service_checks":[{"id":"svc-check"}]}"#).unwrap();
    let session = req.to_session("n").unwrap();
    assert_eq!(session.service_checks.unwrap()[0].id, "svc-check");
}

#[test]
fn catalog_register_and_txn_bodies() {
    let reg: CatalogRegistration = lenient::from_str(
        r#"{"node":"ext","address":"192.0.2.1","node_meta":{"Rack":"r1"},
            "service":{"service":"db","port":5432,"tags":["x"]},
            "check":{"checkid":"db-up","name":"db up","status":"passing","serviceid":"db"},
            "checks":[{"CheckID":"c2","Status":""}],"skipnodeupdate":true}"#,
    )
    .unwrap();
    assert_eq!(reg.node, "ext");
    assert_eq!(reg.node_meta["Rack"], "r1");
    let svc = reg.service.as_ref().unwrap();
    assert_eq!((svc.service.as_str(), svc.port), ("db", 5432));
    assert!(reg.skip_node_update);
    let checks = reg.all_checks();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].check_id, "db-up");
    assert_eq!(checks[0].status, CheckStatus::Passing);
    assert_eq!(checks[0].node, "ext");
    assert_eq!(
        checks[1].status,
        CheckStatus::Critical,
        "empty status is critical"
    );

    let ops: Vec<TxnOp> = lenient::from_str(
        r#"[{"kv":{"verb":"set","key":"a","value":"aGk="}},
            {"KV":{"Verb":"lock","Key":"b","Session":"s1"}},
            {"service":{"verb":"get","node":"n","service":{"id":"web"}}}]"#,
    )
    .unwrap();
    let kv = ops[0].kv.as_ref().unwrap();
    assert_eq!((kv.verb.as_str(), kv.key.as_str()), ("set", "a"));
    assert_eq!(kv.value, b"hi");
    assert_eq!(ops[1].kv.as_ref().unwrap().session, "s1");
    assert_eq!(ops[2].service.as_ref().unwrap().service.id, "web");
}

#[test]
fn invalid_check_definitions_get_consuls_messages() {
    let reg: AgentServiceRegistration =
        lenient::from_str(r#"{"name":"w","check":{"http":"http://x"}}"#).unwrap();
    assert_eq!(
        reg.check_types().unwrap_err(),
        "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
    );
    let reg: AgentServiceRegistration =
        lenient::from_str(r#"{"name":"w","check":{"ttl":"10s","interval":"10s"}}"#).unwrap();
    assert_eq!(
        reg.check_types().unwrap_err(),
        "Interval and TTL cannot both be specified"
    );
    // An empty Check object is ignored, as Consul ignores it.
    let reg: AgentServiceRegistration = lenient::from_str(r#"{"name":"w","check":{}}"#).unwrap();
    assert!(reg.check_types().unwrap().is_empty());
    let check: CheckType = lenient::from_str(r#"{"ttl":"10s","status":"bogus"}"#).unwrap();
    assert!(check.to_health_check("n", None).is_err());
    let h2: CheckType = lenient::from_str(r#"{"h2ping":"x:1","interval":"5s"}"#).unwrap();
    assert!(h2.h2ping_use_tls, "H2PingUseTLS defaults to true");
    let both: CheckType =
        lenient::from_str(r#"{"ID":"a","CheckID":"b","Args":["x"],"ScriptArgs":["y"]}"#).unwrap();
    assert_eq!(both.check_id, "b");
    assert_eq!(both.script_args, ["y"]);
}
