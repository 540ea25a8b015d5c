//! A network partition between real processes: three servers on 127.0.0.31–33, and iptables
//! rules dropping every packet between the leader's address and the other two. The isolated
//! old leader refuses writes, the majority elects a leader and goes on, and after healing
//! the old leader catches up and holds the majority's writes (and not its own refused one).
//! Needs root and iptables (`.ci/run` installs it).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::{cluster_server, try_http, AgentProcess};

const CHAIN: &str = "CAIRN_TEST_PARTITION";

fn iptables(args: &[&str]) -> bool {
    Command::new("iptables")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Drops packets between `isolated` and each of `others` while alive; heals on drop.
struct Partition;

impl Partition {
    fn cut(isolated: &str, others: &[&str]) -> Partition {
        Partition::heal();
        assert!(
            iptables(&["-N", CHAIN]),
            "iptables: cannot create a chain (root needed)"
        );
        assert!(iptables(&["-I", "INPUT", "-j", CHAIN]));
        for o in others {
            assert!(iptables(&[
                "-A", CHAIN, "-s", isolated, "-d", o, "-j", "DROP"
            ]));
            assert!(iptables(&[
                "-A", CHAIN, "-s", o, "-d", isolated, "-j", "DROP"
            ]));
        }
        Partition
    }

    fn heal() {
        while iptables(&["-D", "INPUT", "-j", CHAIN]) {}
        iptables(&["-F", CHAIN]);
        iptables(&["-X", CHAIN]);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        Partition::heal();
    }
}

#[test]
fn minority_refuses_writes_majority_goes_on_and_healing_converges() {
    let dir = tempfile::tempdir().unwrap();
    let servers: Vec<AgentProcess> = (1..=3)
        .map(|n| cluster_server(dir.path(), 30, n, "p"))
        .collect();
    let leader = servers[0].eventually("an agreed leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = servers.iter().map(|s| s.leader()).collect();
        (ls[0].is_some() && ls.iter().all(|l| *l == ls[0])).then(|| ls[0].clone().unwrap())
    });
    let r = servers[0].http("PUT", "/v1/kv/before", b"1");
    assert_eq!(r.text(), "true");

    let li = servers
        .iter()
        .position(|s| leader.starts_with(&format!("{}:", s.host)))
        .unwrap();
    let others: Vec<&AgentProcess> = (0..3).filter(|i| *i != li).map(|i| &servers[i]).collect();
    let other_hosts: Vec<&str> = others.iter().map(|s| s.host.as_str()).collect();
    let cut = Partition::cut(&servers[li].host, &other_hosts);

    // The isolated old leader cannot commit: the write fails (after rpc_hold_timeout).
    let started = Instant::now();
    let r = servers[li].http("PUT", "/v1/kv/minority", b"lost");
    assert_eq!(r.status, 500, "minority accepted a write: {}", r.text());
    eprintln!(
        "minority refused the write after {:?}: {}",
        started.elapsed(),
        r.text().trim()
    );

    // The majority elects a new leader and takes writes.
    let new_leader = others[0].eventually("a majority leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = others.iter().map(|s| s.leader()).collect();
        (ls[0].is_some() && ls[0] != Some(leader.clone()) && ls.iter().all(|l| *l == ls[0]))
            .then(|| ls[0].clone().unwrap())
    });
    for i in 0..20 {
        let r = others[i % 2].http("PUT", &format!("/v1/kv/majority/{i}"), b"ok");
        assert_eq!((r.status, r.text().as_str()), (200, "true"));
    }

    // Heal: the old leader follows the new one, catches up, and never applied its own write.
    drop(cut);
    servers[li].eventually(
        "old leader follows the new one",
        Duration::from_secs(30),
        |s| (s.leader() == Some(new_leader.clone())).then_some(()),
    );
    servers[li].eventually("old leader caught up", Duration::from_secs(30), |s| {
        let r = try_http(&s.http_addr(), "GET", "/v1/kv/majority/?keys", b"").ok()?;
        let keys: Vec<String> = serde_json::from_slice(&r.body).ok()?;
        (keys.len() == 20).then_some(())
    });
    for s in &servers {
        let r = s.http("GET", "/v1/kv/minority", b"");
        assert_eq!(r.status, 404, "{} has the refused write", s.host);
        let r = s.http("GET", "/v1/kv/before?raw", b"");
        assert_eq!(r.text(), "1");
    }
}
