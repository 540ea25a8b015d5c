//! Recovering a cluster that lost quorum (documented in docs/operations.md): three servers,
//! two lost for good; the survivor is stopped, given `data_dir/raft/peers.json` naming only
//! itself, and started again: it leads, keeps every write, and deletes the file.

mod support;

use std::time::Duration;
use support::{try_http, AgentProcess, Ports};

fn args(dir: &std::path::Path, n: u8) -> Vec<String> {
    let ip = format!("127.0.0.{}", 20 + n);
    vec![
        "-server".into(),
        "-bootstrap-expect=3".into(),
        format!("-node=r{n}"),
        format!("-bind={ip}"),
        format!("-client={ip}"),
        format!("-data-dir={}", dir.display()),
        "-retry-interval=1s".into(),
        format!("-retry-join=127.0.0.{}", 20 + if n == 1 { 2 } else { 1 }),
    ]
}

fn start(dir: &std::path::Path, n: u8) -> AgentProcess {
    let d = dir.join(format!("r{n}"));
    std::fs::create_dir_all(&d).unwrap();
    let a = args(&d, n);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    AgentProcess::start_unled(&d, Ports::defaults(), &refs)
}

fn leader_of(a: &AgentProcess) -> Option<String> {
    let r = try_http(&a.http_addr(), "GET", "/v1/status/leader", b"").ok()?;
    let l: String = serde_json::from_slice(&r.body).ok()?;
    (!l.is_empty()).then_some(l)
}

#[test]
fn peers_json_brings_back_a_survivor_of_a_lost_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<AgentProcess> = (1..=3).map(|n| start(dir.path(), n)).collect();
    servers[0].eventually("a leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = servers.iter().map(leader_of).collect();
        (ls[0].is_some() && ls.iter().all(|l| *l == ls[0])).then_some(())
    });
    for i in 0..10 {
        let r = servers[i % 3].http("PUT", &format!("/v1/kv/keep/{i}"), b"v");
        assert_eq!(r.text(), "true");
    }
    // Make sure r1 has applied everything, then lose the whole cluster.
    assert_eq!(servers[0].http("GET", "/v1/kv/keep/9?raw", b"").text(), "v");
    for s in &mut servers {
        s.kill9();
    }

    // Without recovery, a lone survivor has no quorum.
    let d1 = dir.path().join("r1");
    let node_id = std::fs::read_to_string(d1.join("node-id")).unwrap();
    let peers = format!(
        r#"[{{"id": "{}", "address": "127.0.0.21:8300", "non_voter": false}}]"#,
        node_id.trim()
    );
    std::fs::write(d1.join("raft").join("peers.json"), peers).unwrap();
    let r1 = start(dir.path(), 1);
    r1.eventually("the survivor leads alone", Duration::from_secs(30), |s| {
        (leader_of(s).as_deref() == Some("127.0.0.21:8300")).then_some(())
    });
    let peers = r1.http("GET", "/v1/status/peers", b"").json();
    assert_eq!(peers, serde_json::json!(["127.0.0.21:8300"]));
    let keys = r1.http("GET", "/v1/kv/keep/?keys", b"").json();
    assert_eq!(keys.as_array().map(Vec::len), Some(10), "{keys}");
    let r = r1.http("PUT", "/v1/kv/after", b"x");
    assert_eq!(r.text(), "true");
    assert!(
        !d1.join("raft").join("peers.json").exists(),
        "peers.json is deleted once applied"
    );
    let log = r1.log_text();
    assert!(
        log.contains("found peers.json file, recovering Raft configuration..."),
        "{log}"
    );
}
