//! Linearizability of the KV store across a 3-server raft cluster under leader crashes.
//!
//! Three servers (127.0.0.61–63, Consul's default ports, `-bootstrap-expect=3`) serve six
//! concurrent clients that read (default and `?consistent`), write unique values and
//! compare-and-swap (read, then `PUT ?cas=<ModifyIndex>`) a few keys through random servers,
//! while the test kills the leader with SIGKILL, waits for a new one, and restarts the killed
//! server on its data dir, several times. Every request is recorded with its invocation and
//! response times ([`HistoryRecorder`]), and the history must be linearizable ([`check_kv`]).
//! `?stale` reads are left out: they are not linearizable by design.
//!
//! On failure the history (JSON), a per-request log naming the server each request went to,
//! the fault timeline and the agents' logs are saved under the system temp dir.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cairn_lincheck::{check_kv, Budget, HistoryRecorder, KvInput, KvOutput, Verdict};
use support::{leader_at, try_http, try_http_within, AgentProcess, HttpFailure, Ports, Response};

/// Servers live on 127.0.0.`BASE+n`, n = 1..=3 (reserved for this test).
const BASE: u8 = 60;
const SERVERS: usize = 3;
const CLIENTS: u64 = 6;
const KEYS: usize = 3;
/// Per-client bounds: the clients stop at whichever comes first (or when the faults are done).
const MAX_OPS_PER_CLIENT: u64 = 2_500;
const MAX_CLIENT_TIME: Duration = Duration::from_secs(30);
/// A request without an answer within this is recorded with an unknown outcome.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Leader kills (each followed by a restart of the killed server); later ones are skipped if
/// the run is already long.
const KILLS: usize = 3;
const NO_NEW_KILL_AFTER: Duration = Duration::from_secs(15);

type Recorder = HistoryRecorder<KvInput, KvOutput>;

fn ip(n: usize) -> String {
    format!("127.0.0.{}", BASE as usize + n)
}

/// Server `n` (1..=3): same arguments, data dir and config on every (re)start.
fn start_server(dir: &Path, n: usize) -> AgentProcess {
    let d = dir.join(format!("s{n}"));
    std::fs::create_dir_all(&d).unwrap();
    // Consul's dev timing (1 s election timeout) keeps failovers short.
    let perf = d.join("perf.hcl");
    std::fs::write(&perf, "performance {\n  raft_multiplier = 1\n}\n").unwrap();
    let mut args = vec![
        "-server".to_string(),
        "-bootstrap-expect=3".to_string(),
        format!("-node=s{n}"),
        format!("-bind={}", ip(n)),
        format!("-client={}", ip(n)),
        format!("-data-dir={}", d.display()),
        format!("-config-file={}", perf.display()),
        "-retry-interval=1s".to_string(),
    ];
    args.extend(
        (1..=SERVERS)
            .filter(|&m| m != n)
            .map(|m| format!("-retry-join={}", ip(m))),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    AgentProcess::start_unled(&d, Ports::defaults(), &args)
}

/// Index (0-based) of the server whose RPC address is `leader`.
fn server_index(leader: &str) -> Option<usize> {
    (1..=SERVERS).position(|n| leader.starts_with(&format!("{}:", ip(n))))
}

/// Wait until every server in `live` reports the same leader (and it is one of `live`).
fn agreed_leader(addrs: &[String], live: &[usize], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let ls: Vec<Option<String>> = live.iter().map(|&i| leader_at(&addrs[i])).collect();
        if let Some(Some(l)) = ls.first() {
            if ls.iter().all(|x| x.as_deref() == Some(l.as_str())) {
                if let Some(i) = server_index(l).filter(|i| live.contains(i)) {
                    return i;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agreed leader among {live:?} within {within:?}: {ls:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// xorshift64*: enough randomness for choosing operations; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Stats {
    reads: AtomicU64,
    absent_reads: AtomicU64,
    failed_reads: AtomicU64,
    writes: AtomicU64,
    cas_true: AtomicU64,
    cas_false: AtomicU64,
    unknown: AtomicU64,
    not_sent: AtomicU64,
    /// Per key: acknowledged writes and successful CASes.
    per_key: Mutex<Vec<(u64, u64)>>,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Ctx {
    rec: Recorder,
    stats: Stats,
    addrs: Vec<String>,
    stop: AtomicBool,
    /// One line per request: time, client, server, request, answer (saved on failure).
    log: Mutex<Vec<String>>,
}

impl Ctx {
    fn note(&self, client: u64, t0: u64, addr: &str, what: &str, answer: &str) {
        let t1 = self.rec.now();
        self.log.lock().unwrap().push(format!(
            "[{t0:>12}, {t1:>12}] client {client} @{addr} {what} -> {answer}"
        ));
    }
}

/// Value and ModifyIndex of a `GET /v1/kv/<key>` answer (`None` for 404).
fn parse_read(r: &Response) -> Option<Option<(String, u64)>> {
    match r.status {
        404 => Some(None),
        200 => {
            let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
            let e = v.as_array()?.first()?;
            let value = e["Value"].as_str()?;
            let value = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()?;
            Some(Some((
                String::from_utf8(value).ok()?,
                e["ModifyIndex"].as_u64()?,
            )))
        }
        _ => None,
    }
}

/// A recorded read; `None` if it got no definite answer (then it is discarded).
fn read(
    ctx: &Ctx,
    client: u64,
    addr: &str,
    key: &str,
    consistent: bool,
) -> Option<Option<(String, u64)>> {
    let path = format!(
        "/v1/kv/{key}{}",
        if consistent { "?consistent" } else { "" }
    );
    let what = format!("GET {path}");
    let t0 = ctx.rec.now();
    let tok = ctx.rec.invoke(client, KvInput::Read { key: key.into() });
    let got = try_http_within(addr, "GET", &path, b"", REQUEST_TIMEOUT);
    match got.as_ref().ok().and_then(parse_read) {
        Some(found) => {
            let (value, index) = match &found {
                Some((v, i)) => (Some(v.clone()), Some(*i)),
                None => (None, None),
            };
            ctx.rec.complete(tok, KvOutput::Read { value, index });
            ctx.note(client, t0, addr, &what, &format!("{found:?}"));
            bump(if found.is_some() {
                &ctx.stats.reads
            } else {
                &ctx.stats.absent_reads
            });
            Some(found)
        }
        None => {
            ctx.rec.discard(tok);
            ctx.note(client, t0, addr, &what, &describe(&got));
            bump(&ctx.stats.failed_reads);
            None
        }
    }
}

fn describe(got: &Result<Response, HttpFailure>) -> String {
    match got {
        Ok(r) => format!("{} {}", r.status, r.text().trim()),
        Err(e) => format!("{e:?}"),
    }
}

/// A write or CAS: `Some(answer body)` for a definite `true`/`false`, `None` otherwise
/// (recorded as unknown, or discarded if the request was never sent).
fn put(
    ctx: &Ctx,
    client: u64,
    addr: &str,
    path: &str,
    value: &str,
    input: KvInput,
) -> Option<bool> {
    let t0 = ctx.rec.now();
    let what = format!("PUT {path} {value:?}");
    let is_cas = matches!(input, KvInput::Cas { .. });
    let tok = ctx.rec.invoke(client, input);
    let got = try_http_within(addr, "PUT", path, value.as_bytes(), REQUEST_TIMEOUT);
    ctx.note(client, t0, addr, &what, &describe(&got));
    let answer = match &got {
        Ok(r) if r.status == 200 && r.body.trim_ascii() == b"true" => Some(true),
        Ok(r) if r.status == 200 && r.body.trim_ascii() == b"false" && is_cas => Some(false),
        _ => None,
    };
    match (answer, &got) {
        (Some(swapped), _) => {
            ctx.rec.complete(
                tok,
                if is_cas {
                    KvOutput::Cas { swapped }
                } else {
                    KvOutput::Done
                },
            );
        }
        (None, Err(HttpFailure::NotSent(_))) => {
            ctx.rec.discard(tok);
            bump(&ctx.stats.not_sent);
        }
        (None, _) => {
            ctx.rec.fail_unknown(tok);
            bump(&ctx.stats.unknown);
        }
    }
    answer
}

fn client_loop(ctx: &Ctx, client: u64, seed: u64) {
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut seq = 0u64;
    let mut unique = || {
        seq += 1;
        format!("c{client}-{seq}")
    };
    let mut ops = 0u64;
    while !ctx.stop.load(Ordering::SeqCst)
        && ops < MAX_OPS_PER_CLIENT
        && started.elapsed() < MAX_CLIENT_TIME
    {
        ops += 1;
        let addr = ctx.addrs[rng.below(SERVERS as u64) as usize].clone();
        let k = rng.below(KEYS as u64) as usize;
        let key = format!("lin/k{k}");
        match rng.below(100) {
            0..=24 => {
                read(ctx, client, &addr, &key, false);
            }
            25..=44 => {
                read(ctx, client, &addr, &key, true);
            }
            45..=69 => {
                let value = unique();
                let input = KvInput::Write {
                    key: key.clone(),
                    value: value.clone(),
                };
                let done = put(ctx, client, &addr, &format!("/v1/kv/{key}"), &value, input);
                if done == Some(true) {
                    bump(&ctx.stats.writes);
                    ctx.stats.per_key.lock().unwrap()[k].0 += 1;
                }
            }
            _ => {
                // Read (recorded as its own operation), then swap on what was read.
                let consistent = rng.below(2) == 0;
                let Some(found) = read(ctx, client, &addr, &key, consistent) else {
                    continue;
                };
                let (expected, index) = match found {
                    Some((v, i)) => (Some(v), i),
                    None => (None, 0),
                };
                let value = unique();
                let input = KvInput::Cas {
                    key: key.clone(),
                    expected,
                    value: value.clone(),
                };
                // The swap may go to another server than the read.
                let addr = ctx.addrs[rng.below(SERVERS as u64) as usize].clone();
                let path = format!("/v1/kv/{key}?cas={index}");
                match put(ctx, client, &addr, &path, &value, input) {
                    Some(true) => {
                        bump(&ctx.stats.cas_true);
                        ctx.stats.per_key.lock().unwrap()[k].1 += 1;
                    }
                    Some(false) => bump(&ctx.stats.cas_false),
                    None => {}
                }
            }
        }
        if ctx.stop.load(Ordering::SeqCst) {
            break;
        }
    }
}

/// Keep the evidence of a failed run; returns where it went.
fn save_evidence(ctx: &Ctx, history_json: &str, timeline: &[String], dirs: &[PathBuf]) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let out =
        std::env::temp_dir().join(format!("cairn-linearizable-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("history.json"), history_json).unwrap();
    std::fs::write(out.join("requests.log"), ctx.log.lock().unwrap().join("\n")).unwrap();
    std::fs::write(out.join("timeline.log"), timeline.join("\n")).unwrap();
    for d in dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let name = format!(
                    "{}-{}",
                    d.file_name().unwrap().to_string_lossy(),
                    p.file_name().unwrap().to_string_lossy()
                );
                let _ = std::fs::copy(&p, out.join(name));
            }
        }
    }
    out
}

#[test]
fn kv_is_linearizable_across_leader_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<Option<AgentProcess>> = (1..=SERVERS)
        .map(|n| Some(start_server(dir.path(), n)))
        .collect();
    let addrs: Vec<String> = (1..=SERVERS).map(|n| format!("{}:8500", ip(n))).collect();
    let all: Vec<usize> = (0..SERVERS).collect();
    let first_leader = agreed_leader(&addrs, &all, Duration::from_secs(40));
    // Every server answers a consistent read before the clients start.
    for a in &addrs {
        support::eventually(
            "consistent reads served",
            Duration::from_secs(20),
            || matches!(try_http(a, "GET", "/v1/kv/lin/none?consistent", b""), Ok(r) if r.status == 404),
        );
    }

    let ctx = Arc::new(Ctx {
        rec: Recorder::new(),
        stats: Stats {
            per_key: Mutex::new(vec![(0, 0); KEYS]),
            ..Stats::default()
        },
        addrs: addrs.clone(),
        stop: AtomicBool::new(false),
        log: Mutex::new(Vec::new()),
    });
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    eprintln!("seed {seed}, first leader s{}", first_leader + 1);
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ctx = ctx.clone();
            let s = seed.wrapping_add(c.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            std::thread::spawn(move || client_loop(&ctx, c, s))
        })
        .collect();

    // Faults: kill -9 the leader, wait for a new one, restart the killed server on its data
    // dir, wait until all three agree again.
    let mut timeline = Vec::new();
    let mut event = |what: String| {
        let line = format!("[{:>12}] {what}", ctx.rec.now());
        eprintln!("{line}");
        timeline.push(line);
    };
    let mut leader_changes = 0usize;
    std::thread::sleep(Duration::from_secs(3));
    for round in 0..KILLS {
        if round > 0 && started.elapsed() > NO_NEW_KILL_AFTER {
            break;
        }
        let leader = agreed_leader(&addrs, &all, Duration::from_secs(30));
        event(format!("kill -9 leader s{}", leader + 1));
        servers[leader].as_mut().unwrap().kill9();
        let live: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
        let new_leader = agreed_leader(&addrs, &live, Duration::from_secs(30));
        assert_ne!(new_leader, leader);
        leader_changes += 1;
        event(format!("new leader s{}", new_leader + 1));
        std::thread::sleep(Duration::from_millis(1000));
        let old = servers[leader].take();
        drop(old);
        servers[leader] = Some(start_server(dir.path(), leader + 1));
        event(format!("restarted s{}", leader + 1));
        let now_leader = agreed_leader(&addrs, &all, Duration::from_secs(30));
        support::eventually(
            "restarted server back in the peers",
            Duration::from_secs(30),
            || {
                let Ok(r) = try_http(&addrs[leader], "GET", "/v1/status/peers", b"") else {
                    return false;
                };
                serde_json::from_slice::<Vec<String>>(&r.body).is_ok_and(|p| p.len() == 3)
            },
        );
        event(format!("all three agree on leader s{}", now_leader + 1));
        std::thread::sleep(Duration::from_millis(1500));
    }
    std::thread::sleep(Duration::from_millis(1500));
    ctx.stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let run = started.elapsed();
    event(format!("clients stopped after {run:?}"));

    let history = ctx.rec.history();
    let s = &ctx.stats;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let per_key = s.per_key.lock().unwrap().clone();
    let completed = get(&s.reads)
        + get(&s.absent_reads)
        + get(&s.writes)
        + get(&s.cas_true)
        + get(&s.cas_false);
    eprintln!(
        "{} ops recorded in {run:?}: {completed} completed ({} reads with a value, {} absent, \
         {} writes, {} CAS true, {} CAS false), {} unknown, {} not sent, {} failed reads \
         discarded; per key (writes, CAS true): {per_key:?}; leader changes: {leader_changes}",
        history.ops.len(),
        get(&s.reads),
        get(&s.absent_reads),
        get(&s.writes),
        get(&s.cas_true),
        get(&s.cas_false),
        get(&s.unknown),
        get(&s.not_sent),
        get(&s.failed_reads),
    );

    let checking = Instant::now();
    let report = check_kv(&history, &Budget::with_timeout(Duration::from_secs(40)))
        .expect("well-formed history");
    let took = checking.elapsed();
    for k in &report.keys {
        eprintln!(
            "key {}: {} ops checked, {} unknown dropped",
            k.key, k.checked, k.dropped
        );
    }
    eprintln!("check took {took:?}: {:?}", report.verdict());
    if report.verdict() != Verdict::Linearizable {
        let json = history.to_json().unwrap();
        let dirs: Vec<PathBuf> = (1..=SERVERS)
            .map(|n| dir.path().join(format!("s{n}")))
            .collect();
        let out = save_evidence(&ctx, &json, &timeline, &dirs);
        panic!(
            "history is {:?}; evidence saved in {}:\n{}",
            report.verdict(),
            out.display(),
            report.explain(&history)
        );
    }

    assert!(leader_changes >= 1);
    assert!(completed >= 300, "only {completed} completed operations");
    for (k, (writes, cas)) in per_key.iter().enumerate() {
        assert!(*writes >= 5, "key {k}: only {writes} acknowledged writes");
        assert!(*cas >= 2, "key {k}: only {cas} successful CASes");
    }
    drop(servers);
}
