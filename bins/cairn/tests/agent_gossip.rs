//! A server and client agents in one LAN gossip pool: joins (retry-join, `cairn join`),
//! `members`, user events crossing gossip, and the leader reconciling members into the catalog
//! (alive → serfHealth passing, killed → critical, left → deregistered).

mod support;

use serde_json::Value;
use std::time::Duration;
use support::{AgentProcess, Ports};

/// The `Status` code of `name` in this agent's `/v1/agent/members`.
fn member_status(a: &AgentProcess, name: &str) -> Option<u64> {
    let r = a.http("GET", "/v1/agent/members", b"");
    r.json()
        .as_array()?
        .iter()
        .find(|m| m["Name"] == name)
        .and_then(|m| m["Status"].as_u64())
}

/// The status of `node`'s serfHealth check in the server's catalog.
fn serf_health(a: &AgentProcess, node: &str) -> Option<String> {
    let r = a.http("GET", &format!("/v1/health/node/{node}"), b"");
    r.json()
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == "serfHealth")
        .and_then(|c| c["Status"].as_str().map(str::to_string))
}

#[test]
fn server_and_clients_share_membership_events_and_catalog_health() {
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2, d3) = (
        dir.path().join("s1"),
        dir.path().join("c1"),
        dir.path().join("c2"),
    );
    for d in [&d1, &d2, &d3] {
        std::fs::create_dir_all(d).unwrap();
    }
    let sp = Ports::free();
    let s1 = AgentProcess::start(
        &d1,
        sp,
        &[
            "-server",
            "-bootstrap-expect=1",
            "-node=s1",
            "-bind=127.0.0.1",
            &format!("-data-dir={}", d1.display()),
        ],
    );
    let join = format!("-retry-join=127.0.0.1:{}", sp.serf_lan);
    let mut c1 = AgentProcess::start_unled(
        &d2,
        Ports::free(),
        &[
            "-node=c1",
            "-bind=127.0.0.1",
            "-retry-interval=1s",
            &join,
            &format!("-data-dir={}", d2.display()),
        ],
    );

    // Both sides see each other alive; the leader marks the client alive in the catalog.
    s1.eventually("c1 alive on s1", Duration::from_secs(20), |a| {
        (member_status(a, "c1") == Some(1)).then_some(())
    });
    c1.eventually("s1 alive on c1", Duration::from_secs(20), |a| {
        (member_status(a, "s1") == Some(1)).then_some(())
    });
    s1.eventually("c1 serfHealth passing", Duration::from_secs(20), |a| {
        (serf_health(a, "c1").as_deref() == Some("passing")).then_some(())
    });
    let nodes = s1.http("GET", "/v1/catalog/nodes", b"").json();
    let c1_node = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["Node"] == "c1")
        .cloned()
        .unwrap();
    assert_eq!(c1_node["Address"], "127.0.0.1");

    // `cairn members` on the client: Consul's columns, server first.
    let out = c1.cli(&["members"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Node") && lines[0].contains("Address") && lines[0].contains("Status"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].starts_with("s1 ") && lines[1].contains("alive") && lines[1].contains("server"),
        "{}",
        out.stdout
    );
    assert!(
        lines[2].starts_with("c1 ") && lines[2].contains("client"),
        "{}",
        out.stdout
    );

    // A user event fired on the server reaches the client over gossip.
    let fired = s1.http("PUT", "/v1/event/fire/deploy?node=c.*", b"v42");
    assert_eq!(fired.status, 200, "{}", fired.text());
    let id = fired.json()["ID"].as_str().unwrap().to_string();
    let ev: Value = c1.eventually("event on c1", Duration::from_secs(10), |a| {
        let list = a.http("GET", "/v1/event/list?name=deploy", b"").json();
        list.as_array()?
            .iter()
            .find(|e| e["ID"] == id.as_str())
            .cloned()
    });
    assert_eq!(ev["Payload"], "djQy"); // base64("v42")
    assert_eq!(ev["NodeFilter"], "c.*");
    assert!(ev["LTime"].as_u64().unwrap() >= 1);

    // A second client joins with `cairn join`, then leaves gracefully: deregistered.
    let c2 = AgentProcess::start_unled(
        &d3,
        Ports::free(),
        &[
            "-node=c2",
            "-bind=127.0.0.1",
            &format!("-data-dir={}", d3.display()),
        ],
    );
    let out = c2.cli(&["join", &format!("127.0.0.1:{}", sp.serf_lan)]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "Successfully joined cluster by contacting 1 nodes.\n"
    );
    s1.eventually("c2 serfHealth passing", Duration::from_secs(20), |a| {
        (serf_health(a, "c2").as_deref() == Some("passing")).then_some(())
    });
    let out = c2.cli(&["leave"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    s1.eventually("c2 left", Duration::from_secs(20), |a| {
        (member_status(a, "c2") == Some(3)).then_some(())
    });
    s1.eventually("c2 deregistered", Duration::from_secs(20), |a| {
        let r = a.http("GET", "/v1/catalog/node/c2", b"");
        (r.status == 200 && r.json().is_null()).then_some(())
    });

    // A service on c1 (registered through its agent, synced over RPC) is passing; once c1 is
    // killed it leaves `?passing` when gossip detects the failure.
    let r = c1.http(
        "PUT",
        "/v1/agent/service/register",
        br#"{"Name":"api","Port":9000}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let passing = |a: &AgentProcess| {
        let r = a.http("GET", "/v1/health/service/api?passing", b"");
        r.json().as_array().map(Vec::len)
    };
    s1.eventually("api passing", Duration::from_secs(20), |a| {
        (passing(a) == Some(1)).then_some(())
    });

    // kill -9 the first client: failed in gossip, serfHealth critical in the catalog.
    let killed = std::time::Instant::now();
    c1.kill9();
    s1.eventually("c1 failed", Duration::from_secs(30), |a| {
        (member_status(a, "c1") == Some(4)).then_some(())
    });
    s1.eventually("c1 serfHealth critical", Duration::from_secs(20), |a| {
        (serf_health(a, "c1").as_deref() == Some("critical")).then_some(())
    });
    let checks = s1.http("GET", "/v1/health/node/c1", b"").json();
    assert_eq!(checks[0]["Output"], "Agent not live or unreachable");
    assert_eq!(passing(&s1), Some(0));
    eprintln!(
        "c1's service left ?passing {:?} after kill -9",
        killed.elapsed()
    );

    // force-leave turns the failed member into a left one; the leader deregisters it.
    let out = s1.cli(&["force-leave", "c1"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    s1.eventually("c1 left after force-leave", Duration::from_secs(20), |a| {
        (member_status(a, "c1") == Some(3)).then_some(())
    });
    s1.eventually("c1 deregistered", Duration::from_secs(20), |a| {
        let r = a.http("GET", "/v1/catalog/node/c1", b"");
        (r.status == 200 && r.json().is_null()).then_some(())
    });
    let out = s1.cli(&["force-leave", "nobody"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("No node found with name 'nobody'"),
        "{}",
        out.stderr
    );
}
