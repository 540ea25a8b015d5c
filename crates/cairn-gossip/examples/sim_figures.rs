//! Failure-detector figures from the deterministic simulator (see
//! `cairn_gossip::sim::scenario`): join convergence, failure detection time and false
//! positives for a converged cluster of N plain memberlist nodes (LAN profile) under loss.
//!
//! ```text
//! cargo run --release -p cairn-gossip --example sim_figures -- \
//!     <nodes> <loss,loss,...> [seed,seed,...] [fp_window_s] [wall_limit_s]
//! cargo run --release -p cairn-gossip --example sim_figures -- 1000 0,0.05,0.2 1,2,3 60 900
//! ```
//! Prints one markdown table row per (loss, seed). The process stops itself if its RSS passes
//! `SIM_RSS_LIMIT_MB` (default 14,000) and reports what it measured up to then. `benches/gossip/sim.sh` runs the set
//! reported in `docs/benchmarks.md`.

use std::time::Duration;

use cairn_gossip::sim::scenario::{run, Report, Scenario};

fn status_kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64()))
        .unwrap_or_else(|| "–".into())
}

fn row(r: &Report) -> String {
    let join_all = if r.join_complete() {
        secs(r.join_quantile(1.0))
    } else {
        format!("> limit ({} of {})", r.join_times.len(), r.nodes)
    };
    let det_all = if r.detect_complete() {
        secs(r.detect_quantile(1.0))
    } else {
        format!(
            "> limit ({} of {})",
            r.detect_times.len(),
            r.detect_observers
        )
    };
    format!(
        "| {} | {:.0} % | {} | {} / {} / {} | {} / {} / {} | {} ({}) in {:.0} s | {:.3} | {:.0} s, {:.0} MB{} |",
        r.nodes,
        r.loss * 100.0,
        r.seed,
        secs(r.join_quantile(0.5)),
        secs(r.join_quantile(0.99)),
        join_all,
        secs(r.detect_quantile(0.0)),
        secs(r.detect_quantile(0.5)),
        det_all,
        r.fp_members,
        r.fp_observations,
        r.fp_window.as_secs_f64(),
        r.fp_per_node_hour(),
        r.wall.as_secs_f64(),
        status_kb("VmHWM:") / 1024.0,
        if r.aborted {
            format!(
                ", stopped at the wall/memory limit at virtual {:.1} s ({:.0} s into the FP window), {:.0} broadcasts queued per node",
                r.virtual_total.as_secs_f64(),
                r.virtual_elapsed.as_secs_f64(),
                r.mean_broadcast_queue
            )
        } else {
            String::new()
        },
    )
}

fn list<T: std::str::FromStr>(s: Option<&String>, default: Vec<T>) -> Vec<T> {
    s.map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or(default)
}

/// Ends the process if its RSS passes `limit_mb` (a backstop: the scenario itself stops at
/// `SIM_RSS_LIMIT_MB`, checked between virtual half-seconds).
fn memory_watchdog(limit_mb: f64) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let rss = status_kb("VmRSS:") / 1024.0;
        if rss > limit_mb {
            println!("| stopped: RSS {rss:.0} MB passed the {limit_mb:.0} MB limit |");
            std::process::exit(3);
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let limit_mb: u64 = std::env::var("SIM_RSS_LIMIT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(14_000);
    memory_watchdog(limit_mb as f64 + 3_000.0);
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let losses: Vec<f64> = list(args.get(2), vec![0.0, 0.05, 0.2]);
    let seeds: Vec<u64> = list(args.get(3), vec![1]);
    let fp_window = Duration::from_secs(args.get(4).and_then(|s| s.parse().ok()).unwrap_or(60));
    let wall = args
        .get(5)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    println!("| nodes | loss | seed | join p50 / p99 / all (s) | detect first / p50 / all (s) | false-positive members (observations) | FP per node-hour | wall, peak RSS |");
    println!("|---|---|---|---|---|---|---|---|");
    for &loss in &losses {
        for &seed in &seeds {
            let mut sc = Scenario::new(n, loss, seed);
            sc.fp_window = fp_window;
            sc.wall_limit = wall;
            sc.rss_limit_mb = Some(limit_mb);
            match run(&sc) {
                Ok(r) => println!("{}", row(&r)),
                Err(e) => eprintln!("run failed: {e}"),
            }
        }
    }
}
