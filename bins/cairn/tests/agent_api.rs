//! A real `cairn agent -dev` process: the HTTP API and the CLI end to end, good and bad input.

mod support;

use std::time::{Duration, Instant};
use support::{AgentProcess, Ports};

fn dev_agent(dir: &std::path::Path) -> AgentProcess {
    AgentProcess::start(
        dir,
        Ports::free(),
        &["-dev", "-node=proc1", "-log-level=info"],
    )
}

#[test]
fn api_answers_like_consul() {
    let dir = tempfile::tempdir().unwrap();
    let a = dev_agent(dir.path());

    // Status and self.
    let leader = a.http("GET", "/v1/status/leader", b"").json();
    let peers = a.http("GET", "/v1/status/peers", b"").json();
    assert_eq!(peers, serde_json::json!([leader.clone()]));
    let me = a.http("GET", "/v1/agent/self", b"").json();
    assert_eq!(me["Config"]["NodeName"], "proc1");
    assert_eq!(me["Config"]["Server"], true);
    assert_eq!(me["Stats"]["consul"]["leader_addr"], leader);
    assert_eq!(me["Config"]["SessionTTLMin"], 10_000_000_000u64);

    // KV round trip, flags, CAS, raw, keys, recurse.
    assert_eq!(
        a.http("PUT", "/v1/kv/app/config?flags=42", b"v1")
            .text()
            .trim(),
        "true"
    );
    let got = a.http("GET", "/v1/kv/app/config", b"");
    assert_eq!(got.status, 200);
    let idx: u64 = got.header("X-Consul-Index").unwrap().parse().unwrap();
    let entry = &got.json()[0];
    assert_eq!(entry["Flags"], 42);
    assert_eq!(entry["Value"], "djE=");
    let modify = entry["ModifyIndex"].as_u64().unwrap();
    assert!(idx >= modify && idx > 0);
    assert_eq!(
        a.http("PUT", "/v1/kv/app/config?cas=1", b"x").text().trim(),
        "false"
    );
    assert_eq!(
        a.http("PUT", &format!("/v1/kv/app/config?cas={modify}"), b"v2")
            .text()
            .trim(),
        "true"
    );
    let raw = a.http("GET", "/v1/kv/app/config?raw", b"");
    assert_eq!(raw.body, b"v2");
    assert_eq!(
        a.http("GET", "/v1/kv//app/config?raw", b"").body,
        b"v2",
        "double slash cleaned"
    );
    assert_eq!(
        a.http("GET", "/v1/kv/?keys", b"").json(),
        serde_json::json!(["app/config"])
    );

    // Bad input: Consul's status codes and plain-text reasons.
    let missing = a.http("GET", "/v1/kv/nope", b"");
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
    assert!(missing.header("X-Consul-Index").is_some());
    let bad_index = a.http("GET", "/v1/kv/app/config?index=abc", b"");
    assert_eq!(
        (bad_index.status, bad_index.text().as_str()),
        (400, "Invalid index")
    );
    let bad_wait = a.http("GET", "/v1/kv/app/config?index=1&wait=forever", b"");
    assert_eq!(
        (bad_wait.status, bad_wait.text().as_str()),
        (400, "Invalid wait time")
    );
    let conflict = a.http("PUT", "/v1/kv/x?cas=1&acquire=abc", b"v");
    assert_eq!(conflict.status, 400);
    let big = vec![b'x'; 512 * 1024 + 1];
    assert_eq!(a.http("PUT", "/v1/kv/big", &big).status, 413);
    let wrong = a.http("POST", "/v1/status/leader", b"");
    assert_eq!(wrong.status, 405);
    assert!(wrong.header("Allow").is_some());
    let acquire = a.http(
        "PUT",
        "/v1/kv/lock?acquire=00000000-0000-0000-0000-000000000000",
        b"v",
    );
    assert_eq!(acquire.status, 500);
    assert!(
        acquire.text().contains("invalid session"),
        "{}",
        acquire.text()
    );
    let bad_json = a.http("PUT", "/v1/session/create", b"{not json");
    assert_eq!(bad_json.status, 400);
    let stale_consistent = a.http("GET", "/v1/catalog/nodes?stale&consistent", b"");
    assert_eq!(stale_consistent.status, 400);
    let bad_ttl = a.http("PUT", "/v1/session/create", br#"{"TTL":"1s"}"#);
    assert_eq!(bad_ttl.status, 500);
    assert!(
        bad_ttl.text().starts_with("Invalid Session TTL"),
        "{}",
        bad_ttl.text()
    );
    let dc = a.http("GET", "/v1/catalog/nodes?dc=mars", b"");
    assert_eq!(
        (dc.status, dc.text().as_str()),
        (500, "No path to datacenter")
    );

    // Sessions and locks, patroni style.
    let sess = a.http(
        "PUT",
        "/v1/session/create",
        br#"{"name": "batman-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}"#,
    );
    assert_eq!(sess.status, 200, "{}", sess.text());
    let id = sess.json()["ID"].as_str().unwrap().to_string();
    assert_eq!(
        a.http(
            "PUT",
            &format!("/v1/kv/service/batman/leader?acquire={id}"),
            b"pg1"
        )
        .text()
        .trim(),
        "true"
    );
    let renewed = a.http("PUT", &format!("/v1/session/renew/{id}"), b"");
    assert_eq!(renewed.status, 200);
    assert_eq!(
        a.http(
            "PUT",
            "/v1/session/renew/00000000-0000-0000-0000-000000000001",
            b""
        )
        .status,
        404
    );
    assert_eq!(
        a.http("PUT", &format!("/v1/session/destroy/{id}"), b"")
            .text()
            .trim(),
        "true"
    );
    // behavior=delete: the locked key went with the session.
    assert_eq!(
        a.http("GET", "/v1/kv/service/batman/leader", b"").status,
        404
    );

    // Transactions.
    let txn = a.http(
        "PUT",
        "/v1/txn",
        br#"[{"KV":{"Verb":"set","Key":"t/1","Value":"YQ=="}},{"KV":{"Verb":"get","Key":"t/1"}}]"#,
    );
    assert_eq!(txn.status, 200, "{}", txn.text());
    assert_eq!(txn.json()["Results"][1]["KV"]["Value"], "YQ==");
    let rolled = a.http(
        "PUT",
        "/v1/txn",
        br#"[{"KV":{"Verb":"cas","Key":"t/1","Value":"Yg==","Index":1}}]"#,
    );
    assert_eq!(rolled.status, 409);

    // Agent services become catalog entries (anti-entropy).
    let reg = a.http(
        "PUT",
        "/v1/agent/service/register",
        br#"{"name": "batman", "enabletagoverride": true, "id": "batman/pg1", "address": "127.0.0.1", "port": 5432, "tags": ["master","primary"], "check": {"ttl": "30s", "DeregisterCriticalServiceAfter": "150.0s"}}"#,
    );
    assert_eq!(reg.status, 200, "{}", reg.text());
    support::eventually("service in catalog", Duration::from_secs(5), || {
        a.http("GET", "/v1/catalog/service/batman", b"")
            .json()
            .as_array()
            .is_some_and(|v| v.len() == 1)
    });
    assert_eq!(
        a.http("GET", "/v1/health/service/batman?passing", b"")
            .json(),
        serde_json::json!([])
    );
    assert_eq!(
        a.http("PUT", "/v1/agent/check/pass/service:batman%2Fpg1", b"")
            .status,
        200
    );
    support::eventually("passing", Duration::from_secs(5), || {
        a.http("GET", "/v1/health/service/batman?passing", b"")
            .json()
            .as_array()
            .is_some_and(|v| v.len() == 1)
    });
    assert_eq!(a.http("PUT", "/v1/agent/check/pass/nope", b"").status, 404);
}

#[test]
fn blocking_query_wakes_on_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = dev_agent(dir.path());
    a.http("PUT", "/v1/kv/watched", b"1");
    let idx = a
        .http("GET", "/v1/kv/watched", b"")
        .header("X-Consul-Index")
        .unwrap()
        .to_string();
    let addr = a.http_addr();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || {
        let r = support::http(
            &addr,
            "GET",
            &format!("/v1/kv/watched?index={idx}&wait=20s"),
            b"",
        );
        (Instant::now(), r)
    });
    std::thread::sleep(Duration::from_millis(300));
    a.http("PUT", "/v1/kv/other", b"x");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiter.is_finished(), "an unrelated write woke the query");
    a.http("PUT", "/v1/kv/watched", b"2");
    let wrote = Instant::now();
    let (returned, r) = waiter.join().unwrap();
    assert_eq!(r.json()[0]["Value"], "Mg==");
    let latency = returned.saturating_duration_since(wrote);
    eprintln!("blocking query returned {latency:?} after the matching write was acknowledged");
    assert!(latency < Duration::from_millis(500), "took {latency:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait out the full timeout"
    );
}

#[test]
fn cli_prints_what_consul_prints() {
    let dir = tempfile::tempdir().unwrap();
    let a = dev_agent(dir.path());
    let put = a.cli(&["kv", "put", "greeting", "hello"]);
    assert_eq!(
        (put.code, put.stdout.as_str()),
        (0, "Success! Data written to: greeting\n")
    );
    let get = a.cli(&["kv", "get", "greeting"]);
    assert_eq!((get.code, get.stdout.as_str()), (0, "hello\n"));
    let missing = a.cli(&["kv", "get", "nothing"]);
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr, "Error! No key exists at: nothing\n");
    let del = a.cli(&["kv", "delete", "greeting"]);
    assert_eq!(
        (del.code, del.stdout.as_str()),
        (0, "Success! Deleted key: greeting\n")
    );
    let members = a.cli(&["members"]);
    assert_eq!(members.code, 0, "{}", members.stderr);
    let mut lines = members.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "Node",
            "Address",
            "Status",
            "Type",
            "Build",
            "Protocol",
            "DC",
            "Partition",
            "Segment"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..4],
        &[
            "proc1",
            &format!("127.0.0.1:{}", a.ports.serf_lan),
            "alive",
            "server"
        ]
    );
    let peers = a.cli(&["operator", "raft", "list-peers"]);
    assert_eq!(peers.code, 0, "{}", peers.stderr);
    assert!(
        peers.stdout.contains("proc1") && peers.stdout.contains("leader"),
        "{}",
        peers.stdout
    );
    let nodes = a.cli(&["catalog", "nodes"]);
    assert!(
        nodes
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("proc1")),
        "{}",
        nodes.stdout
    );
    let services = a.cli(&["catalog", "services"]);
    assert_eq!(services.stdout, "consul\n");
    let info = a.cli(&["info"]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    // Leave through the CLI: the agent exits cleanly.
    let leave = a.cli(&["leave"]);
    assert_eq!(leave.code, 0, "{}", leave.stderr);
    let mut a = a;
    assert_eq!(
        a.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        a.log_text()
    );
}

#[test]
fn lock_and_watch_work_against_a_real_agent() {
    let dir = tempfile::tempdir().unwrap();
    let a = dev_agent(dir.path());
    // `cairn lock` holds the lock while the child runs, with CONSUL_LOCK_HELD set.
    let out = dir.path().join("held");
    let script = format!("echo $CONSUL_LOCK_HELD > {}", out.display());
    // Like Consul, the child arguments are joined and run by `sh -c`.
    let run = a.cli(&["lock", "locks/job", &script]);
    assert_eq!(run.code, 0, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "true");
    // The lock was released and its session destroyed afterwards.
    let key = a.http("GET", "/v1/kv/locks/job/.lock", b"");
    if key.status == 200 {
        assert!(
            key.json()[0].get("Session").is_none(),
            "lock still held: {}",
            key.text()
        );
    }
    assert_eq!(
        a.http("GET", "/v1/session/list", b"").json(),
        serde_json::json!([])
    );

    // `cairn watch` without a handler prints the current value once, as JSON.
    a.http("PUT", "/v1/kv/watched/key", b"hi");
    let w = a.cli(&["watch", "-type=key", "-key=watched/key"]);
    assert_eq!(w.code, 0, "{}", w.stderr);
    let v: serde_json::Value = serde_json::from_str(&w.stdout).unwrap();
    assert_eq!(v["Key"], "watched/key");
    assert_eq!(v["Value"], "aGk=");
}
