//! `cairn reload` / SIGHUP re-read the config dir: new services appear, removed ones go,
//! changed ones update, and unchanged checks keep their state. API registrations and node
//! maintenance survive a restart of a persistent agent.

mod support;

use std::time::Duration;
use support::{AgentProcess, Ports};

fn service_json(name: &str, port: u16, tags: &str) -> String {
    format!(
        r#"{{"service":{{"name":"{name}","port":{port},"tags":[{tags}],"check":{{"ttl":"60s","status":"passing"}}}}}}"#
    )
}

fn catalog_services(a: &AgentProcess) -> serde_json::Value {
    a.http("GET", "/v1/catalog/services", b"").json()
}

#[test]
fn reload_applies_config_changes_and_keeps_unchanged_checks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("a.json"), service_json("alpha", 1001, r#""v1""#)).unwrap();
    std::fs::write(conf.join("b.json"), service_json("beta", 1002, "")).unwrap();
    let a = AgentProcess::start(
        dir.path(),
        Ports::free(),
        &[
            "-dev",
            "-node=r1",
            &format!("-config-dir={}", conf.display()),
        ],
    );
    support::eventually("alpha and beta", Duration::from_secs(10), || {
        let s = catalog_services(&a);
        s.get("alpha").is_some() && s.get("beta").is_some()
    });
    // Beta's TTL check is moved to warning through the API: a reload must not reset it.
    assert_eq!(
        a.http("PUT", "/v1/agent/check/warn/service:beta?note=slow", b"")
            .status,
        200
    );

    std::fs::write(conf.join("a.json"), service_json("alpha", 1001, r#""v2""#)).unwrap();
    std::fs::remove_file(conf.join("b.json")).unwrap();
    std::fs::write(conf.join("c.json"), service_json("gamma", 1003, "")).unwrap();
    let reload = a.cli(&["reload"]);
    assert_eq!(
        (reload.code, reload.stdout.as_str()),
        (0, "Configuration reload triggered\n"),
        "{}",
        reload.stderr
    );
    support::eventually("reloaded catalog", Duration::from_secs(10), || {
        let s = catalog_services(&a);
        s.get("gamma").is_some()
            && s.get("beta").is_none()
            && s["alpha"] == serde_json::json!(["v2"])
    });

    // A SIGHUP reload with alpha's definition unchanged keeps its check's state.
    assert_eq!(
        a.http("PUT", "/v1/agent/check/warn/service:alpha", b"")
            .status,
        200
    );
    std::fs::write(conf.join("a.json"), service_json("alpha", 1001, r#""v2""#)).unwrap();
    let pid = a.child.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_millis(500));
    let checks = a.http("GET", "/v1/agent/checks", b"").json();
    assert_eq!(checks["service:alpha"]["Status"], "warning", "{checks}");
    assert!(a.log_text().contains("Caught signal: hangup"));
}

#[test]
fn api_registrations_and_maintenance_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "-server".to_string(),
        "-bootstrap-expect=1".to_string(),
        format!("-data-dir={}", data.display()),
        "-node=p1".to_string(),
        "-bind=127.0.0.1".to_string(),
        "-client=127.0.0.1".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ports = Ports::free();
    let mut a = AgentProcess::start(dir.path(), ports, &args);
    let reg = a.http(
        "PUT",
        "/v1/agent/service/register",
        br#"{"Name":"api","ID":"api-1","Port":9000,"Check":{"TTL":"60s"}}"#,
    );
    assert_eq!(reg.status, 200, "{}", reg.text());
    assert_eq!(
        a.http("PUT", "/v1/agent/check/pass/service:api-1", b"")
            .status,
        200
    );
    assert_eq!(
        a.http(
            "PUT",
            "/v1/agent/maintenance?enable=true&reason=upgrade",
            b""
        )
        .status,
        200
    );
    support::eventually("maintenance in catalog", Duration::from_secs(10), || {
        a.http("GET", "/v1/health/node/p1", b"")
            .text()
            .contains("_node_maintenance")
    });
    a.kill9();
    drop(a);

    let a = AgentProcess::start(dir.path(), ports, &args);
    let services = a.http("GET", "/v1/agent/services", b"").json();
    assert_eq!(services["api-1"]["Port"], 9000, "{services}");
    let checks = a.http("GET", "/v1/agent/checks", b"").json();
    assert_eq!(checks["service:api-1"]["Status"], "passing", "{checks}");
    assert_eq!(checks["_node_maintenance"]["Notes"], "upgrade", "{checks}");
    // While in maintenance the node's services are not passing.
    support::eventually("synced after restart", Duration::from_secs(10), || {
        a.http("GET", "/v1/catalog/service/api", b"")
            .json()
            .as_array()
            .is_some_and(|v| v.len() == 1)
    });
    assert_eq!(
        a.http("GET", "/v1/health/service/api?passing", b"").json(),
        serde_json::json!([])
    );
    assert_eq!(
        a.http("PUT", "/v1/agent/maintenance?enable=false", b"")
            .status,
        200
    );
    support::eventually("passing after maintenance", Duration::from_secs(10), || {
        a.http("GET", "/v1/health/service/api?passing", b"")
            .json()
            .as_array()
            .is_some_and(|v| v.len() == 1)
    });
}
