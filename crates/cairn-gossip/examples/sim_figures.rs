//! Failure-detector figures from the deterministic simulator: join convergence, failure
//! detection time and false positives for a converged cluster of N plain memberlist nodes
//! (LAN profile) under packet loss.
//!
//! ```text
//! cargo run --release -p cairn-gossip --example sim_figures -- 1000 0,0.05,0.2 [seed] [fp_window_s]
//! ```
//! Prints one markdown table row per loss rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_gossip::memberlist::{Delegate, Memberlist, NodeInfo, NodeStatus};
use cairn_gossip::sim::{sim_addr, Network, Sim};
use cairn_gossip::{Config, Rng, Time};

/// Records every "member died" notification a node makes.
#[derive(Default)]
struct Tracker {
    deaths: Vec<(Time, Arc<str>)>,
}

impl Delegate for Tracker {
    fn notify_leave(&mut self, node: &NodeInfo, now: Time) {
        self.deaths.push((now, Arc::from(node.name.as_str())));
    }
}

type Node = Memberlist<Tracker>;

fn cfg(i: usize) -> Config {
    let mut c = Config::lan().with_name(format!("n{i}"));
    c.enable_compression = false; // irrelevant to timing, and the simulator's bottleneck
    c
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .map(|v| v.parse::<f64>().unwrap_or(0.0))
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn quantile_time(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn run(n: usize, loss: f64, seed: u64, fp_window: Duration) -> String {
    let wall = Instant::now();
    let net = Network {
        loss,
        ..Network::default()
    };
    let mut sim: Sim<Node> = Sim::new(seed, net);
    sim.record = false;
    let names: Vec<(Arc<str>, SocketAddr)> = (0..n)
        .map(|i| (Arc::from(format!("n{i}").as_str()), sim_addr(i)))
        .collect();
    for i in 0..n {
        sim.add_node(|addr, now| {
            let mut m = Memberlist::new(
                cfg(i),
                Tracker::default(),
                addr,
                Rng::new(seed * 1_000_003 + i as u64),
                now,
            )
            .unwrap();
            m.seed_members(&names, now);
            m
        });
    }
    // Warm up: probes and gossip reach steady state.
    sim.run_for(Duration::from_secs(20));
    for i in 0..n {
        sim.node_mut(i).unwrap().delegate_mut().deaths.clear();
    }

    // False positives: nobody is down, so every death notification is false.
    let fp_start = sim.now;
    sim.run_for(fp_window);
    let mut fp_subjects = std::collections::HashSet::new();
    let mut fp_observations = 0usize;
    for i in 0..n {
        let d = &mut sim.node_mut(i).unwrap().delegate_mut().deaths;
        fp_observations += d.len();
        for (_, name) in d.drain(..) {
            fp_subjects.insert(name);
        }
    }
    let fp_window_s = sim.now.since(fp_start).as_secs_f64();
    let fp_per_node_hour = fp_subjects.len() as f64 / (n as f64 * fp_window_s / 3600.0);

    // Join convergence: a new node joins through node 0.
    let newcomer = sim.add_node(|addr, now| {
        Memberlist::new(
            cfg(n),
            Tracker::default(),
            addr,
            Rng::new(seed ^ 0xabcdef),
            now,
        )
        .unwrap()
    });
    let t0 = sim.now;
    let via = sim.addr(0);
    sim.node_mut(newcomer).unwrap().join(&[via], t0);
    sim.poke(newcomer);
    let name = format!("n{n}");
    let mut seen: Vec<Option<Time>> = vec![None; n];
    let limit = t0 + Duration::from_secs(120);
    while sim.now < limit && seen.iter().any(|s| s.is_none()) {
        sim.run_for(Duration::from_millis(50));
        for (i, s) in seen.iter_mut().enumerate() {
            if s.is_none()
                && sim.node(i).and_then(|m| m.status_of(&name)) == Some(NodeStatus::Alive)
            {
                *s = Some(sim.now);
            }
        }
    }
    let join_times: Vec<Duration> = seen.iter().flatten().map(|t| t.since(t0)).collect();
    let join_all = if join_times.len() == n {
        format!(
            "{:.2}",
            quantile_time(join_times.clone(), 1.0).as_secs_f64()
        )
    } else {
        format!(">120 ({}/{})", join_times.len(), n)
    };

    // Failure detection: kill one node.
    sim.run_for(Duration::from_secs(5));
    for i in 0..=n {
        if let Some(m) = sim.node_mut(i) {
            m.delegate_mut().deaths.clear();
        }
    }
    let victim = n / 2 + 1;
    let vname = format!("n{victim}");
    let t1 = sim.now;
    sim.kill(victim);
    let mut detected: Vec<Option<Time>> = vec![None; n + 1];
    let limit = t1 + Duration::from_secs(180);
    let observers = || (0..=n).filter(|&i| i != victim);
    while sim.now < limit && observers().any(|i| detected[i].is_none()) {
        sim.run_for(Duration::from_millis(100));
        for i in observers() {
            if detected[i].is_none() {
                let st = sim.node(i).and_then(|m| m.status_of(&vname));
                if matches!(st, Some(NodeStatus::Dead) | None) {
                    detected[i] = Some(sim.now);
                }
            }
        }
    }
    let det: Vec<Duration> = observers()
        .filter_map(|i| detected[i])
        .map(|t| t.since(t1))
        .collect();
    let det_all = if det.len() == n {
        format!("{:.1}", quantile_time(det.clone(), 1.0).as_secs_f64())
    } else {
        format!(">180 ({}/{})", det.len(), n)
    };
    format!(
        "| {n} | {:.0}% | {:.2} | {:.2} | {join_all} | {:.1} | {:.1} | {det_all} | {} ({fp_observations}) in {:.0} s | {:.3} | {:.0} s, {:.0} MB |",
        loss * 100.0,
        quantile_time(join_times.clone(), 0.5).as_secs_f64(),
        quantile_time(join_times, 0.99).as_secs_f64(),
        quantile_time(det.clone(), 0.0).as_secs_f64(),
        quantile_time(det, 0.5).as_secs_f64(),
        fp_subjects.len(),
        fp_window_s,
        fp_per_node_hour,
        wall.elapsed().as_secs_f64(),
        rss_mb(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let losses: Vec<f64> = args
        .get(2)
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![0.0, 0.05, 0.2]);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let fp_window = Duration::from_secs(args.get(4).and_then(|s| s.parse().ok()).unwrap_or(60));
    println!("| nodes | loss | join p50 (s) | join p99 (s) | join all (s) | detect first (s) | detect p50 (s) | detect all (s) | false-positive members (observations) | FP per node-hour | wall, RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for loss in losses {
        println!("{}", run(n, loss, seed, fp_window));
    }
}
