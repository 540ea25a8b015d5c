//! Wire interop with Debian's real `serf` agent (serf 0.9.4, memberlist 5 / serf protocol 5):
//! joins in both directions, tags, failure detection, user events both ways, encryption.
//! Requires the `serf` binary (`apt-get install serf`; `.ci/run` installs it).
#![cfg(feature = "tokio")]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_gossip::{Config, Event, Events, Gossip, Keyring, MemberStatus};

const KEY: &str = "cg8StVXbQJ0gPvMd9o7yrg==";
const WAIT: Duration = Duration::from_secs(20);

/// A free port on 127.0.0.1 for both TCP and UDP.
fn free_port() -> u16 {
    for _ in 0..50 {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port");
}

/// A `serf agent` child process, killed on drop.
struct SerfAgent {
    child: Child,
    rpc: String,
    addr: SocketAddr,
    dir: PathBuf,
}

impl SerfAgent {
    fn start(
        name: &str,
        encrypt: Option<&str>,
        tags: &[(&str, &str)],
        join: Option<SocketAddr>,
    ) -> Self {
        let port = free_port();
        let rpc = format!("127.0.0.1:{}", free_port());
        let dir = std::env::temp_dir().join(format!("cairn-serf-{name}-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let events = dir.join("events.txt");
        let mut cmd = Command::new("serf");
        cmd.arg("agent")
            .arg(format!("-node={name}"))
            .arg(format!("-bind=127.0.0.1:{port}"))
            .arg(format!("-rpc-addr={rpc}"))
            .arg("-profile=local")
            .arg(format!(
                "-event-handler=user=echo \"$SERF_USER_EVENT $(cat)\" >> {}",
                events.display()
            ));
        if let Some(k) = encrypt {
            cmd.arg(format!("-encrypt={k}"));
        }
        for (k, v) in tags {
            cmd.arg("-tag").arg(format!("{k}={v}"));
        }
        if let Some(j) = join {
            cmd.arg(format!("-join={j}"));
        }
        let log = std::fs::File::create(dir.join("serf.log")).unwrap();
        let child = cmd
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("serf binary is installed (apt-get install serf)");
        let agent = SerfAgent {
            child,
            rpc,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dir,
        };
        // Wait for its RPC to answer.
        wait_for("serf agent to start", || !agent.members().is_empty());
        agent
    }

    /// `serf members -format=json`: (name, status, tags).
    fn members(&self) -> Vec<(String, String, BTreeMap<String, String>)> {
        let out = Command::new("serf")
            .args(["members", "-format=json"])
            .arg(format!("-rpc-addr={}", self.rpc))
            .output();
        let Ok(out) = out else { return Vec::new() };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return Vec::new();
        };
        v["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let tags = m["tags"]
                            .as_object()
                            .map(|t| {
                                t.iter()
                                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (
                            m["name"].as_str().unwrap_or("").to_string(),
                            m["status"].as_str().unwrap_or("").to_string(),
                            tags,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn status_of(&self, name: &str) -> Option<String> {
        self.members()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, _)| s)
    }

    fn fire(&self, name: &str, payload: &str) {
        let st = Command::new("serf")
            .args(["event", "-coalesce=false"])
            .arg(format!("-rpc-addr={}", self.rpc))
            .args([name, payload])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn received_events(&self) -> String {
        std::fs::read_to_string(self.dir.join("events.txt")).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SerfAgent {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_for_at_most(WAIT, what, f)
}

/// Failure detection without confirmations takes the maximum suspicion timeout
/// (`suspicion_max_timeout_mult × suspicion_mult × probe interval`, 18 s in the local profile).
const DETECT: Duration = Duration::from_secs(45);

fn wait_for_at_most(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

async fn wait_async<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < DETECT {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn cairn(name: &str, key: Option<&[u8]>, tags: &[(&str, &str)]) -> (Gossip, Events) {
    let mut c = Config::local().with_name(name);
    c.bind_addr = "127.0.0.1".parse().unwrap();
    c.bind_port = 0;
    for (k, v) in tags {
        c.tags.insert(k.to_string(), v.to_string());
    }
    if let Some(k) = key {
        c.keyring = Some(Keyring::new(k, &[]).unwrap());
    }
    Gossip::start(c).await.unwrap()
}

async fn cairn_status(g: &Gossip, name: &str) -> Option<MemberStatus> {
    g.members()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .map(|m| m.status)
}

fn key_bytes() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap()
}

async fn in_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_both_ways_with_tags_and_failure_detection() {
    let s1 = std::sync::Arc::new(SerfAgent::start("s1", None, &[("role", "anchor")], None));
    let (c1, _ev) = cairn("c1", None, &[("role", "cairn"), ("dc", "dc1")]).await;

    // cairn joins serf.
    assert_eq!(c1.join(&[s1.addr]).await.unwrap(), 1);
    wait_async("cairn to see s1 alive with its tags", || async {
        c1.members().await.unwrap().iter().any(|m| {
            m.name == "s1"
                && m.status == MemberStatus::Alive
                && m.tags.get("role").map(String::as_str) == Some("anchor")
        })
    })
    .await;
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf to see c1 alive with tags", || {
            s.members().iter().any(|(n, st, t)| {
                n == "c1"
                    && st == "alive"
                    && t.get("role").map(String::as_str) == Some("cairn")
                    && t.get("dc").map(String::as_str) == Some("dc1")
            })
        })
    })
    .await;

    // serf joins cairn.
    let c1_addr = c1.local_addr();
    let s2 =
        in_blocking(move || SerfAgent::start("s2", None, &[("role", "second")], Some(c1_addr)))
            .await;
    let s2 = std::sync::Arc::new(s2);
    wait_async("cairn to see s2", || async {
        cairn_status(&c1, "s2").await == Some(MemberStatus::Alive)
    })
    .await;
    let s = s2.clone();
    in_blocking(move || {
        wait_for("s2 to list c1 and s1 alive", || {
            let m = s.members();
            ["c1", "s1"]
                .iter()
                .all(|want| m.iter().any(|(n, st, _)| n == want && st == "alive"))
        })
    })
    .await;

    // kill -9 a serf agent: cairn marks it failed (not left).
    let mut s2 = std::sync::Arc::try_unwrap(s2).ok().expect("sole owner");
    s2.kill();
    wait_async("cairn to mark s2 failed", || async {
        cairn_status(&c1, "s2").await == Some(MemberStatus::Failed)
    })
    .await;

    // Stop cairn abruptly: serf marks it failed.
    c1.shutdown().await.unwrap();
    let s = s1.clone();
    in_blocking(move || {
        wait_for_at_most(DETECT, "serf to mark c1 failed", || {
            s.status_of("c1").as_deref() == Some("failed")
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_events_cross_both_ways_and_leave_is_seen() {
    let s1 = std::sync::Arc::new(in_blocking(|| SerfAgent::start("s1", None, &[], None)).await);
    let (c1, mut ev) = cairn("c1", None, &[]).await;
    assert_eq!(c1.join(&[s1.addr]).await.unwrap(), 1);
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf to see c1", || {
            s.status_of("c1").as_deref() == Some("alive")
        })
    })
    .await;

    // serf → cairn
    let s = s1.clone();
    in_blocking(move || s.fire("deploy", "v1")).await;
    let got = tokio::time::timeout(WAIT, async {
        loop {
            match ev.recv().await {
                Some(Event::User(u)) => return u,
                Some(_) => continue,
                None => panic!("event stream closed"),
            }
        }
    })
    .await
    .expect("user event from serf");
    assert_eq!(
        (got.name.as_str(), got.payload.as_slice()),
        ("deploy", &b"v1"[..])
    );

    // cairn → serf
    c1.user_event("rollout", b"v2", false).await.unwrap();
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf's handler to get the event", || {
            s.received_events().contains("rollout v2")
        })
    })
    .await;

    // A graceful leave shows as left, not failed.
    c1.leave().await.unwrap();
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf to see c1 left", || {
            s.status_of("c1").as_deref() == Some("left")
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_interoperates_and_wrong_key_is_refused() {
    let s1 =
        std::sync::Arc::new(in_blocking(|| SerfAgent::start("e1", Some(KEY), &[], None)).await);
    let key = key_bytes();
    let (good, _e1) = cairn("good", Some(&key), &[]).await;
    assert_eq!(good.join(&[s1.addr]).await.unwrap(), 1);
    wait_async("cairn to see e1", || async {
        cairn_status(&good, "e1").await == Some(MemberStatus::Alive)
    })
    .await;
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf to see good", || {
            s.status_of("good").as_deref() == Some("alive")
        })
    })
    .await;

    let (bad, _e2) = cairn("bad", Some(&[7u8; 16]), &[]).await;
    assert!(
        bad.join(&[s1.addr]).await.is_err(),
        "join with the wrong key must fail"
    );
    let (plain, _e3) = cairn("plain", None, &[]).await;
    assert!(
        plain.join(&[s1.addr]).await.is_err(),
        "unencrypted join must fail"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = s1.clone();
    let names: Vec<String> =
        in_blocking(move || s.members().into_iter().map(|m| m.0).collect()).await;
    assert!(
        !names.contains(&"bad".to_string()) && !names.contains(&"plain".to_string()),
        "{names:?}"
    );
    assert_eq!(cairn_status(&bad, "e1").await, None);
}

/// serf's name conflict resolution across implementations: a serf pool answers cairn's
/// `_serf_conflict` query, and cairn answers serf's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_conflict_resolved_by_majority_with_serf() {
    let s1 = std::sync::Arc::new(SerfAgent::start("s1", None, &[], None));
    let s1_addr = s1.addr;
    let s2 = in_blocking(move || SerfAgent::start("s2", None, &[], Some(s1_addr))).await;
    let (dup, _ev) = cairn("dup", None, &[]).await;
    assert_eq!(dup.join(&[s1.addr]).await.unwrap(), 1);
    let s2 = std::sync::Arc::new(s2);
    let (a1, a2) = (s1.clone(), s2.clone());
    in_blocking(move || {
        wait_for("both serf agents to see the first dup", || {
            a1.status_of("dup").as_deref() == Some("alive")
                && a2.status_of("dup").as_deref() == Some("alive")
        })
    })
    .await;

    // A second cairn node claims "dup" from another port: the serf agents answer its
    // conflict query with the first dup's address, so it loses the vote and stops.
    let (impostor, _ev2) = cairn("dup", None, &[]).await;
    let _ = impostor.join(&[s2.addr]).await;
    wait_async("the second dup to lose the vote", || async {
        impostor.conflict_lost().await.unwrap_or(false)
    })
    .await;
    assert!(!dup.conflict_lost().await.unwrap());
    let first = dup.local_addr();
    let s = s1.clone();
    in_blocking(move || {
        wait_for("serf to keep the first dup", || {
            s.status_of("dup").as_deref() == Some("alive")
        });
        let out = Command::new("serf")
            .args(["members", "-format=json", "-status=alive"])
            .arg(format!("-rpc-addr={}", s.rpc))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let addr = v["members"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["name"] == "dup"))
            .and_then(|m| m["addr"].as_str())
            .map(str::to_string);
        assert_eq!(
            addr,
            Some(first.to_string()),
            "serf lost the first dup: {v}"
        );
    })
    .await;
    drop(s2);
}

/// The other direction: cairn members answer a serf agent's `_serf_conflict` query in serf's
/// format, so a serf agent that claims a taken name loses the vote and shuts down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_agent_claiming_a_taken_name_loses_to_cairn_majority() {
    let (c1, _e1) = cairn("c1", None, &[]).await;
    let (c2, _e2) = cairn("c2", None, &[]).await;
    let (dup, _e3) = cairn("dup", None, &[]).await;
    assert_eq!(c2.join(&[c1.local_addr()]).await.unwrap(), 1);
    assert_eq!(dup.join(&[c1.local_addr()]).await.unwrap(), 1);
    wait_async("c2 to see dup", || async {
        cairn_status(&c2, "dup").await == Some(MemberStatus::Alive)
    })
    .await;
    let via = c1.local_addr();
    let impostor = in_blocking(move || SerfAgent::start("dup", None, &[], Some(via))).await;
    let log = impostor.dir.join("serf.log");
    let text = in_blocking(move || {
        wait_for("the serf impostor to lose the vote", || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("minority in name conflict resolution")
        });
        std::fs::read_to_string(&log).unwrap_or_default()
    })
    .await;
    // serf logs "[matching / responses]": cairn's answers were decoded and counted.
    let tally = text
        .split("minority in name conflict resolution, quitting [")
        .nth(1)
        .and_then(|t| t.split(']').next())
        .unwrap_or_default()
        .to_string();
    let responses: usize = tally
        .split('/')
        .nth(1)
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(0);
    assert!(responses >= 1, "serf counted no cairn answer: [{tally}]");
    assert!(!dup.conflict_lost().await.unwrap());
    let first = dup.local_addr();
    let m = c2
        .members()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == "dup")
        .unwrap();
    assert_eq!(SocketAddr::new(m.addr, m.port), first);
    drop(impostor);
}
