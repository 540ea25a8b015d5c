//! Recovering a cluster that lost quorum (documented in docs/operations.md): three servers,
//! two lost for good; the survivor is stopped, given `data_dir/raft/peers.json` naming only
//! itself, and started again: it leads, keeps every write, and deletes the file.

mod support;

use std::time::Duration;
use support::{cluster_server, AgentProcess};

#[test]
fn peers_json_brings_back_a_survivor_of_a_lost_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<AgentProcess> = (1..=3)
        .map(|n| cluster_server(dir.path(), 20, n, "r"))
        .collect();
    servers[0].eventually("a leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = servers.iter().map(|s| s.leader()).collect();
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
    let r1 = cluster_server(dir.path(), 20, 1, "r");
    r1.eventually("the survivor leads alone", Duration::from_secs(30), |s| {
        (s.leader().as_deref() == Some("127.0.0.21:8300")).then_some(())
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
