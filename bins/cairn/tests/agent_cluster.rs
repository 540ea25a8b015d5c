//! Three servers and two client agents, each on its own loopback address with Consul's default
//! ports: the servers form one raft cluster through gossip and `-bootstrap-expect=3`;
//! followers and clients forward writes; a service registered on one client is in the catalog
//! seen from the other; killing the leader under write load loses no acknowledged write.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{agreed_leader, cluster_server, try_http, AgentProcess, Ports};

/// Client `n` (1..) of that cluster, on 127.0.0.`base+3+n`.
fn client(dir: &std::path::Path, base: u8, n: u8) -> AgentProcess {
    let ip = format!("127.0.0.{}", base + 3 + n);
    let d = dir.join(format!("c{n}"));
    std::fs::create_dir_all(&d).unwrap();
    AgentProcess::start_unled(
        &d,
        Ports::defaults(),
        &[
            &format!("-node=c{n}"),
            &format!("-bind={ip}"),
            &format!("-client={ip}"),
            &format!("-data-dir={}", d.display()),
            "-retry-interval=1s",
            &format!("-retry-join=127.0.0.{}", base + 1),
        ],
    )
}

/// `dig +short SRV` against an agent's DNS port (8600).
fn dig_srv(host: &str, name: &str) -> String {
    let out = std::process::Command::new("dig")
        .args([
            &format!("@{host}"),
            "-p",
            "8600",
            "+short",
            "+time=2",
            "+tries=1",
            name,
            "SRV",
        ])
        .output()
        .expect("dig (Debian package dnsutils)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn three_servers_bootstrap_forward_and_survive_leader_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<AgentProcess> = (1..=3)
        .map(|n| cluster_server(dir.path(), 40, n, "s"))
        .collect();
    let clients: Vec<AgentProcess> = (1..=2).map(|n| client(dir.path(), 40, n)).collect();

    // One leader, agreed by all, and three voters.
    let leader = servers[0].eventually("a leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = servers.iter().map(|s| s.leader()).collect();
        (ls[0].is_some() && ls.iter().all(|l| *l == ls[0])).then(|| ls[0].clone().unwrap())
    });
    for s in &servers {
        let peers = s.http("GET", "/v1/status/peers", b"").json();
        assert_eq!(peers.as_array().map(Vec::len), Some(3), "{peers}");
    }
    let out = servers[1].cli(&["operator", "raft", "list-peers"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
    assert_eq!(out.stdout.matches("leader").count(), 1, "{}", out.stdout);

    // Writes through every server (followers forward), reads from every server.
    for (i, s) in servers.iter().enumerate() {
        let r = s.http(
            "PUT",
            &format!("/v1/kv/via/{i}"),
            format!("v{i}").as_bytes(),
        );
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "true"),
            "{}",
            s.log_text()
        );
    }
    for s in &servers {
        for i in 0..3 {
            let r = s.http("GET", &format!("/v1/kv/via/{i}?raw"), b"");
            assert_eq!(r.text(), format!("v{i}"));
        }
    }
    // Snapshot saved through a client agent, restored into the running cluster through a
    // follower: every server goes back to the saved state.
    let snap = dir.path().join("backup.snap");
    let snap_arg = snap.display().to_string();
    let saved = clients[0].eventually("snapshot save", Duration::from_secs(20), |c| {
        let out = c.cli(&["snapshot", "save", &snap_arg]);
        (out.code == 0).then_some(out.stdout)
    });
    assert!(
        saved.starts_with("Saved and verified snapshot to index "),
        "{saved}"
    );
    let out = clients[0].cli(&["snapshot", "inspect", &snap_arg]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(" KV entries   3\n"), "{}", out.stdout);
    servers[0].http("PUT", "/v1/kv/via/0", b"changed");
    servers[0].http("PUT", "/v1/kv/after-snapshot", b"x");
    let out = servers[1].cli(&["snapshot", "restore", &snap_arg]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Restored snapshot\n"),
        "{}",
        out.stderr
    );
    for s in &servers {
        assert_eq!(s.http("GET", "/v1/kv/via/0?raw", b"").text(), "v0");
        assert_eq!(s.http("GET", "/v1/kv/after-snapshot", b"").status, 404);
    }
    let r = servers[0].http("PUT", "/v1/snapshot", b"not a snapshot");
    assert_eq!(r.status, 400, "{}", r.text());

    // Every server is in the catalog with the consul service.
    servers[0].eventually("three consul instances", Duration::from_secs(20), |s| {
        let svc = s.http("GET", "/v1/catalog/service/consul", b"").json();
        (svc.as_array().map(Vec::len) == Some(3)).then_some(())
    });

    // Clients: writes and reads go to the servers over RPC; a service registered on one
    // client reaches the catalog through anti-entropy and is seen from the other.
    for (i, c) in clients.iter().enumerate() {
        c.eventually("client finds the leader", Duration::from_secs(20), |c| {
            let r = try_http(&c.http_addr(), "PUT", &format!("/v1/kv/client/{i}"), b"hi").ok()?;
            (r.status == 200 && r.body == b"true").then_some(())
        });
    }
    let r = clients[1].http("GET", "/v1/kv/client/0?raw", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "hi"));
    let r = clients[1].http("GET", "/v1/kv/client/0?stale", b"");
    assert_eq!(r.status, 200);
    assert!(r.header("X-Consul-Index").is_some());
    // DNS on c2 first knows no `web`; after c1 registers it, c2 answers it (Consul's target:
    // within a second; the assertion leaves room for a loaded CI machine).
    assert_eq!(dig_srv(&clients[1].host, "web.service.consul"), "");
    let reg = br#"{"Name":"web","Port":8080,"Tags":["v1"]}"#;
    let registered = Instant::now();
    let r = clients[0].http("PUT", "/v1/agent/service/register", reg);
    assert_eq!(r.status, 200, "{}", r.text());
    let srv = clients[1].eventually("web in DNS on c2", Duration::from_secs(10), |c| {
        let a = dig_srv(&c.host, "web.service.consul");
        (!a.is_empty()).then_some(a)
    });
    let took = registered.elapsed();
    eprintln!("service registered on c1 answered by DNS on c2 after {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "took {took:?}; c1 log:\n{}",
        clients[0].log_text()
    );
    assert!(srv.contains(" 8080 c1.node.dc1.consul."), "{srv}");
    clients[1].eventually("web from c1 in the catalog", Duration::from_secs(20), |c| {
        let svc = c.http("GET", "/v1/catalog/service/web", b"").json();
        let first = svc.as_array()?.first()?.clone();
        (first["Node"] == "c1" && first["ServicePort"] == 8080).then_some(())
    });
    let out = clients[1].cli(&["members"]);
    assert_eq!(out.stdout.lines().count(), 6, "{}", out.stdout);

    // Write load through the followers and the clients while the leader is killed.
    let li = servers
        .iter()
        .position(|s| leader.starts_with(&format!("{}:", s.host)))
        .expect("leader is one of ours");
    let targets: Vec<String> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, s)| s.http_addr())
        .chain(clients.iter().map(AgentProcess::http_addr))
        .collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, targets) = (acked.clone(), stop.clone(), targets.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut i = 0u32;
                while !stop.load(Ordering::SeqCst)
                    && i < 5_000
                    && started.elapsed() < Duration::from_secs(60)
                {
                    let key = format!("load/{w}/{i}");
                    let addr = &targets[i as usize % targets.len()];
                    if let Ok(r) = try_http(addr, "PUT", &format!("/v1/kv/{key}"), key.as_bytes()) {
                        if r.status == 200 && r.body == b"true" {
                            acked.lock().unwrap().push(key);
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let before_kill = acked.lock().unwrap().len();
    servers[li].kill9();
    // A new leader among the two left, and writes are acknowledged again.
    let survivors: Vec<&AgentProcess> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, s)| s)
        .collect();
    survivors[0].eventually("a new leader", Duration::from_secs(30), |_| {
        let ls: Vec<Option<String>> = survivors.iter().map(|s| s.leader()).collect();
        (ls[0].is_some() && ls[0] != Some(leader.clone()) && ls.iter().all(|l| *l == ls[0]))
            .then_some(())
    });
    let after_election = acked.lock().unwrap().len();
    survivors[0].eventually("writes after failover", Duration::from_secs(30), |_| {
        (acked.lock().unwrap().len() > after_election + 50).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(before_kill > 0, "no write acknowledged before the kill");

    // Every acknowledged write is on both survivors, exactly once, with its value.
    for s in &survivors {
        let r = s.http("GET", "/v1/kv/load/?recurse", b"");
        let entries = r.json();
        let keys: Vec<String> = entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Key"].as_str().unwrap().to_string())
            .collect();
        let unique: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "duplicate keys on {}", s.host);
        for k in &acked {
            assert!(unique.contains(k), "acknowledged {k} missing on {}", s.host);
        }
        eprintln!(
            "{}: {} keys, {} acknowledged ({} before the kill)",
            s.host,
            keys.len(),
            acked.len(),
            before_kill
        );
    }
}

#[test]
fn rolling_restart_of_every_server_keeps_clients_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<AgentProcess> = (1..=3)
        .map(|n| cluster_server(dir.path(), 50, n, "s"))
        .collect();
    let c = client(dir.path(), 50, 1);
    agreed_leader(&servers.iter().collect::<Vec<_>>(), Duration::from_secs(30));

    // A client writing through its agent, retrying each write for up to 15 s as a Consul
    // client library would; every write must eventually be acknowledged.
    let addr = c.http_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut acked, mut failed, mut retries) = (Vec::new(), Vec::new(), 0u32);
            let started = Instant::now();
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst)
                && i < 3_000
                && started.elapsed() < Duration::from_secs(120)
            {
                let key = format!("roll/{i}");
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    match try_http(&addr, "PUT", &format!("/v1/kv/{key}"), key.as_bytes()) {
                        Ok(r) if r.status == 200 && r.body == b"true" => {
                            acked.push(key);
                            break;
                        }
                        _ if Instant::now() < deadline => {
                            retries += 1;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        _ => {
                            failed.push(key);
                            break;
                        }
                    }
                }
                i += 1;
            }
            (acked, failed, retries)
        })
    };

    for n in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        servers[n].kill9();
        let restarted = cluster_server(dir.path(), 50, n as u8 + 1, "s");
        servers[n] = restarted;
        agreed_leader(&servers.iter().collect::<Vec<_>>(), Duration::from_secs(30));
        servers[n].eventually(
            "restarted server back in the peers",
            Duration::from_secs(30),
            |s| {
                let p = s.http("GET", "/v1/status/peers", b"").json();
                (p.as_array().map(Vec::len) == Some(3)).then_some(())
            },
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let (acked, failed, retries) = writer.join().unwrap();
    eprintln!(
        "rolling restart: {} writes acknowledged, {} retries, {} failed",
        acked.len(),
        retries,
        failed.len()
    );
    assert!(failed.is_empty(), "writes never acknowledged: {failed:?}");
    assert!(acked.len() > 20, "too little traffic: {}", acked.len());
    for s in &servers {
        let r = s.http("GET", "/v1/kv/roll/?keys", b"");
        let keys: BTreeSet<String> = serde_json::from_slice(&r.body).unwrap();
        for k in &acked {
            assert!(keys.contains(k), "acknowledged {k} missing on {}", s.host);
        }
    }
}
