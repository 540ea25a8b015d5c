//! A minimal gossip agent on the cairn-gossip driver, for benchmarks against `serf agent`.
//!
//! ```text
//! cargo run --release -p cairn-gossip --example agent -- \
//!     -node=a1 -bind=127.0.0.1:7946 [-join=127.0.0.1:7947]... [-tag k=v]... \
//!     [-profile=lan|wan|local] [-encrypt=BASE64KEY]
//! ```
//! Prints one line per membership event to stdout: `<unix µs> <event> <member>`.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use cairn_gossip::{Config, Event, Gossip, Keyring};

fn usage(msg: &str) -> ! {
    eprintln!("agent: {msg}");
    std::process::exit(2)
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn main() {
    let mut name = None;
    let mut bind: SocketAddr = "127.0.0.1:7946"
        .parse()
        .unwrap_or_else(|_| usage("bad default"));
    let mut joins: Vec<SocketAddr> = Vec::new();
    let mut tags = Vec::new();
    let mut profile = "lan".to_string();
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), v.to_string()),
            None => (
                a.clone(),
                args.next()
                    .unwrap_or_else(|| usage(&format!("{a} needs a value"))),
            ),
        };
        match flag.trim_start_matches('-') {
            "node" => name = Some(value),
            "bind" => bind = value.parse().unwrap_or_else(|_| usage("bad -bind")),
            "join" => joins.push(value.parse().unwrap_or_else(|_| usage("bad -join"))),
            "tag" => match value.split_once('=') {
                Some((k, v)) => tags.push((k.to_string(), v.to_string())),
                None => usage("-tag wants key=value"),
            },
            "profile" => profile = value,
            "encrypt" => {
                let k = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .unwrap_or_else(|_| usage("bad -encrypt"));
                key = Some(k);
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let mut cfg = match profile.as_str() {
        "lan" => Config::lan(),
        "wan" => Config::wan(),
        "local" => Config::local(),
        _ => usage("unknown profile"),
    };
    cfg.name = name.unwrap_or_else(|| usage("-node is required"));
    cfg.bind_addr = bind.ip();
    cfg.bind_port = bind.port();
    for (k, v) in tags {
        cfg.tags.insert(k, v);
    }
    if let Some(k) = key {
        cfg.keyring = Some(Keyring::new(&k, &[]).unwrap_or_else(|e| usage(&e.to_string())));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| usage(&e.to_string()));
    rt.block_on(async move {
        let (g, mut events) = Gossip::start(cfg)
            .await
            .unwrap_or_else(|e| usage(&e.to_string()));
        println!("{} ready {}", now_us(), g.local_addr());
        if !joins.is_empty() {
            match g.join(&joins).await {
                Ok(n) => println!("{} joined {n}", now_us()),
                Err(e) => eprintln!("join failed: {e}"),
            }
        }
        let mut out = std::io::stdout();
        while let Some(e) = events.recv().await {
            let (kind, who) = match &e {
                Event::MemberJoin(m) => ("join", m.name.as_str()),
                Event::MemberLeave(m) => ("leave", m.name.as_str()),
                Event::MemberFailed(m) => ("failed", m.name.as_str()),
                Event::MemberUpdate(m) => ("update", m.name.as_str()),
                Event::MemberReap(m) => ("reap", m.name.as_str()),
                Event::User(u) => ("user", u.name.as_str()),
                _ => continue,
            };
            let _ = writeln!(out, "{} {kind} {who}", now_us());
            let _ = out.flush();
        }
    });
}
