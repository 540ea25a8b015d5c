//! Autopilot's dead-server cleanup: three servers on 127.0.0.91–93 with a 1 s stabilisation
//! time; a follower killed with SIGKILL is removed from the raft configuration once gossip
//! reports it failed, the two survivors keep accepting writes, and the server started again
//! on its data directory is added back and catches up.

mod support;

use std::time::{Duration, Instant};
use support::{agreed_leader, cluster_server_with, AgentProcess};

const AUTOPILOT: &str = r#"-hcl=autopilot { server_stabilization_time = "1s" }"#;

fn raft_addresses(agent: &AgentProcess) -> Option<Vec<(String, bool)>> {
    let r = support::try_http(
        &agent.http_addr(),
        "GET",
        "/v1/operator/raft/configuration",
        b"",
    )
    .ok()?;
    if r.status != 200 {
        return None;
    }
    let conf: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let servers = conf["Servers"].as_array()?;
    Some(
        servers
            .iter()
            .map(|s| {
                let addr = s["Address"].as_str().unwrap_or_default().to_string();
                (addr, s["Voter"].as_bool().unwrap_or(false))
            })
            .collect(),
    )
}

#[test]
fn a_failed_server_is_removed_and_comes_back_as_a_voter() {
    let dir = tempfile::tempdir().unwrap();
    let start = |n: u8| cluster_server_with(dir.path(), 90, n, "ap", &[AUTOPILOT]);
    let mut servers: Vec<AgentProcess> = (1..=3).map(start).collect();
    let leader = agreed_leader(&servers.iter().collect::<Vec<_>>(), Duration::from_secs(30));
    let leader_ix = servers
        .iter()
        .position(|s| leader == s.http_addr().replace(":8500", ":8300"))
        .expect("the leader is one of the three");
    let victim_ix = (leader_ix + 1) % 3;
    let victim_rpc = format!("127.0.0.{}:8300", 91 + victim_ix);
    servers[leader_ix].eventually("three voters", Duration::from_secs(30), |s| {
        let conf = raft_addresses(s)?;
        (conf.len() == 3 && conf.iter().all(|(_, voter)| *voter)).then_some(())
    });

    servers[victim_ix].kill9();
    let killed = Instant::now();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != victim_ix).collect();
    servers[leader_ix].eventually("the dead server removed", Duration::from_secs(60), |s| {
        let conf = raft_addresses(s)?;
        (conf.len() == 2 && conf.iter().all(|(a, _)| *a != victim_rpc)).then_some(())
    });
    let removed_after = killed.elapsed();
    eprintln!("dead server removed {removed_after:?} after kill -9");
    let log = servers[leader_ix].log_text();
    assert!(
        log.contains("Attempting removal of failed server node"),
        "{log}"
    );
    // Failure detection plus the stabilisation time: not before gossip declared it dead.
    assert!(removed_after >= Duration::from_secs(1), "{removed_after:?}");
    for (i, &ix) in survivors.iter().cycle().take(10).enumerate() {
        let r = servers[ix].http("PUT", &format!("/v1/kv/ap/{i}"), b"v");
        assert_eq!(r.text(), "true", "write {i} via survivor {ix}");
    }

    servers[victim_ix] = start(victim_ix as u8 + 1);
    servers[leader_ix].eventually(
        "the restarted server is a voter again",
        Duration::from_secs(60),
        |s| {
            let conf = raft_addresses(s)?;
            (conf.len() == 3 && conf.iter().all(|(_, voter)| *voter)).then_some(())
        },
    );
    servers[victim_ix].eventually("it caught up", Duration::from_secs(30), |s| {
        let r = support::try_http(&s.http_addr(), "GET", "/v1/kv/ap/9?raw&stale", b"").ok()?;
        (r.status == 200 && r.body == b"v").then_some(())
    });
}
