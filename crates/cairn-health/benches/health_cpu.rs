//! CPU cost of many checks on one agent: 10,000 TTL checks (fed by simulated clients) and
//! 1,000 HTTP checks at a 10 s interval against a local HTTP server in a child process.
//!
//! Measures the process's CPU time (getrusage, user + system) over a fixed window after a
//! warm-up and prints it as a percentage of one core. Bounded: runs `--seconds` (default 60)
//! plus one interval of warm-up.
//!
//! ```text
//! cargo bench -p cairn-health --bench health_cpu -- [--seconds 60] [--ttl 10000] [--http 1000]
//!     [--interval 10] [--ttl-feed 10]
//! ```
//! `--ttl-feed N` feeds every TTL check once per N seconds (0: never).

use cairn_health::{CheckEvent, CheckManager, CheckOptions, ManagerConfig};
use cairn_types::duration::GoDuration;
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    seconds: u64,
    ttl: usize,
    http: usize,
    interval: u64,
    ttl_feed: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        seconds: 60,
        ttl: 10_000,
        http: 1_000,
        interval: 10,
        ttl_feed: 10,
    };
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str| -> Option<u64> {
        argv.iter()
            .position(|x| x == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    if let Some(v) = value("--seconds") {
        a.seconds = v.clamp(1, 3600);
    }
    if let Some(v) = value("--ttl") {
        a.ttl = v as usize;
    }
    if let Some(v) = value("--http") {
        a.http = v as usize;
    }
    if let Some(v) = value("--interval") {
        a.interval = v.max(1);
    }
    if let Some(v) = value("--ttl-feed") {
        a.ttl_feed = v;
    }
    a
}

/// CPU time (user + system) of `who`.
fn rusage(who: i32) -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Peak resident memory of this process in KiB (`VmHWM`; `ru_maxrss` would include the
/// memory of the process that exec'd us, e.g. cargo).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Child role: a minimal HTTP/1.1 server on loopback. Prints its port, serves until stdin
/// closes, then prints the number of requests served.
fn serve_http() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        let _ = std::io::stdout().flush();
        let served = Arc::new(AtomicU64::new(0));
        let counter = served.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let mut seen = Vec::new();
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 16384 {
                            break;
                        }
                    }
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = conn.shutdown().await;
                    counter.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        // Wait for stdin EOF on a blocking thread.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
        println!("{}", served.load(Ordering::Relaxed));
    });
}

fn main() {
    if std::env::args().any(|a| a == "--serve-http") {
        serve_http();
        return;
    }
    let args = parse_args();
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .arg("--serve-http")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn HTTP server");
    let mut child_out = BufReader::new(child.stdout.take().expect("child stdout"));
    let mut line = String::new();
    child_out.read_line(&mut line).expect("port");
    let port: u16 = line.trim().parse().expect("port number");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(run(args, port));

    drop(child.stdin.take());
    let mut rest = String::new();
    let _ = child_out.read_to_string(&mut rest);
    let _ = child.wait();
    let served: u64 = rest.trim().parse().unwrap_or(0);
    let child_cpu = rusage(libc::RUSAGE_CHILDREN);
    println!("{report}");
    println!(
        "HTTP requests served by the child server: {served} (server CPU {:.2} s, not counted above)",
        child_cpu.as_secs_f64()
    );
}

async fn run(args: Args, port: u16) -> String {
    let (manager, mut events) = CheckManager::new(ManagerConfig::default()).expect("manager");
    let updates = Arc::new(AtomicU64::new(0));
    let counter = updates.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let CheckEvent::Update(_) = e {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let interval = Duration::from_secs(args.interval);
    for i in 0..args.http {
        let def = CheckType {
            http: format!("http://127.0.0.1:{port}/health/{i}"),
            interval: GoDuration(interval),
            ..CheckType::default()
        };
        manager
            .add(&format!("http-{i}"), def, CheckOptions::api())
            .expect("add http");
    }
    for i in 0..args.ttl {
        let def = CheckType {
            ttl: GoDuration(Duration::from_secs(30)),
            status: "passing".into(),
            ..CheckType::default()
        };
        manager
            .add(&format!("ttl-{i}"), def, CheckOptions::api())
            .expect("add ttl");
    }

    // Simulated clients: feed each TTL check once per `ttl_feed` seconds, spread evenly
    // (in 100 slices per second).
    let feeds = Arc::new(AtomicU64::new(0));
    if args.ttl_feed > 0 && args.ttl > 0 {
        let m = manager.clone();
        let feeds = feeds.clone();
        let per_tick = (args.ttl as u64).div_ceil(args.ttl_feed * 100) as usize;
        let total = args.ttl;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut next = 0usize;
            loop {
                tick.tick().await;
                for _ in 0..per_tick {
                    let id = format!("ttl-{}", next % total);
                    let _ = m.ttl_update(&id, CheckStatus::Passing, "ok");
                    next += 1;
                    feeds.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    // Warm-up: one interval, so every HTTP check has started and run once.
    tokio::time::sleep(interval + Duration::from_secs(1)).await;
    let cpu0 = rusage(libc::RUSAGE_SELF);
    let feeds0 = feeds.load(Ordering::Relaxed);
    let updates0 = updates.load(Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let wall = t0.elapsed();
    let cpu1 = rusage(libc::RUSAGE_SELF);
    let maxrss_kb = peak_rss_kib();
    let cpu = cpu1 - cpu0;
    let critical = manager
        .check_ids()
        .iter()
        .filter(|id| {
            manager
                .state(id)
                .is_some_and(|s| s.status != CheckStatus::Passing)
        })
        .count();
    format!(
        "cairn-health CPU: {} TTL checks (fed every {} s), {} HTTP checks every {} s, window {:.1} s\n\
         CPU used: {:.3} s = {:.2}% of one core\n\
         TTL updates in window: {}, status/output events in window: {}, checks not passing at end: {}\n\
         peak RSS: {:.1} MiB",
        args.ttl,
        args.ttl_feed,
        args.http,
        args.interval,
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        feeds.load(Ordering::Relaxed) - feeds0,
        updates.load(Ordering::Relaxed) - updates0,
        critical,
        maxrss_kb as f64 / 1024.0,
    )
}
