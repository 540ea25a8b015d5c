//! The failure-detector experiment behind the simulator figures in `docs/benchmarks.md`: a
//! converged cluster of plain memberlist nodes (LAN profile) under packet loss, measured for
//! false positives, join dissemination and failure detection.
//!
//! Phases, all in virtual time:
//! 1. `nodes` nodes start converged ([`Memberlist::seed_members`]) and warm up;
//! 2. false-positive window: nobody is down, so every "member died" notification is false;
//! 3. a new node joins through node 0: time until each of the `nodes` observers sees it alive;
//! 4. one node is killed: time until each other node has it dead (or forgot it).
//!
//! Every phase is bounded in virtual time, and the whole run optionally in wall time (a run
//! that hits the wall limit stops early and says so in [`Report::aborted`]).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{sim_addr, Network, Sim};
use crate::config::Config;
use crate::error::Result;
use crate::memberlist::{Delegate, Memberlist, NodeInfo, NodeStatus};
use crate::rng::Rng;
use crate::time::Time;

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Cluster size before the join.
    pub nodes: usize,
    /// UDP loss probability (TCP pays it as retransmission delays).
    pub loss: f64,
    /// Seed of the network and of every node.
    pub seed: u64,
    /// Virtual time run before measuring.
    pub warmup: Duration,
    /// Virtual length of the false-positive window.
    pub fp_window: Duration,
    /// Longest virtual wait for the join to reach everyone.
    pub join_limit: Duration,
    /// Virtual time between the join phase and the kill.
    pub settle: Duration,
    /// Longest virtual wait for everyone to detect the killed node.
    pub detect_limit: Duration,
    /// Stop early when the run takes longer than this on the wall clock.
    pub wall_limit: Option<Duration>,
    /// Stop early when the process's resident memory passes this many MiB (read from
    /// `/proc/self/status`; ignored where that is unavailable).
    pub rss_limit_mb: Option<u64>,
}

impl Scenario {
    /// The defaults used for the documented figures.
    pub fn new(nodes: usize, loss: f64, seed: u64) -> Self {
        Scenario {
            nodes,
            loss,
            seed,
            warmup: Duration::from_secs(20),
            fp_window: Duration::from_secs(60),
            join_limit: Duration::from_secs(60),
            settle: Duration::from_secs(5),
            detect_limit: Duration::from_secs(120),
            wall_limit: None,
            rss_limit_mb: None,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Cluster size before the join.
    pub nodes: usize,
    /// UDP loss probability.
    pub loss: f64,
    /// Seed.
    pub seed: u64,
    /// Virtual length of the false-positive window actually run.
    pub fp_window: Duration,
    /// Distinct healthy members declared dead by someone during the window.
    pub fp_members: usize,
    /// "Member died" notifications during the window (one per observer and member).
    pub fp_observations: usize,
    /// Probes sent during the false-positive window (cluster-wide).
    pub fp_window_packets: u64,
    /// Per observer that saw the newcomer alive: time since the join started.
    pub join_times: Vec<Duration>,
    /// Per observer that detected the killed node: time since the kill.
    pub detect_times: Vec<Duration>,
    /// Observers of the killed node (everyone but the victim, newcomer included).
    pub detect_observers: usize,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// The run hit its wall-clock or memory limit; later phases are missing or partial.
    pub aborted: bool,
    /// Virtual time from the start of the false-positive window to the end of the run.
    pub virtual_elapsed: Duration,
    /// Virtual time from the start (warm-up included) to the end of the run.
    pub virtual_total: Duration,
    /// Mean number of queued memberlist broadcasts per running node at the end of the run
    /// (the backlog of alive/suspect/dead news waiting to be gossiped).
    pub mean_broadcast_queue: f64,
}

fn quantile(v: &[Duration], q: f64) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort();
    Some(s[((s.len() - 1) as f64 * q).round() as usize])
}

impl Report {
    /// Time until a fraction `q` of the `nodes` observers saw the newcomer alive (`None` if
    /// fewer than that did within the limit).
    pub fn join_quantile(&self, q: f64) -> Option<Duration> {
        let needed = ((self.nodes as f64) * q).ceil() as usize;
        if self.join_times.len() < needed.max(1) {
            return None;
        }
        let mut s = self.join_times.clone();
        s.sort();
        s.get(needed.max(1) - 1).copied()
    }

    /// Whether every observer saw the newcomer alive.
    pub fn join_complete(&self) -> bool {
        self.join_times.len() == self.nodes
    }

    /// Time until a fraction `q` of the observers that detected the killed node did so.
    pub fn detect_quantile(&self, q: f64) -> Option<Duration> {
        quantile(&self.detect_times, q)
    }

    /// Whether every observer detected the killed node.
    pub fn detect_complete(&self) -> bool {
        self.detect_observers > 0 && self.detect_times.len() == self.detect_observers
    }

    /// False-positive members per node-hour of the window.
    pub fn fp_per_node_hour(&self) -> f64 {
        let hours = self.fp_window.as_secs_f64() / 3600.0;
        if hours == 0.0 || self.nodes == 0 {
            return 0.0;
        }
        self.fp_members as f64 / (self.nodes as f64 * hours)
    }
}

/// Records every "member died" notification a node makes.
#[derive(Debug, Default)]
pub struct DeathLog {
    /// (when, who) per notification.
    pub deaths: Vec<(Time, Arc<str>)>,
}

impl Delegate for DeathLog {
    fn notify_leave(&mut self, node: &NodeInfo, now: Time) {
        self.deaths.push((now, Arc::from(node.name.as_str())));
    }
}

type Node = Memberlist<DeathLog>;

fn node_config(i: usize) -> Config {
    let mut c = Config::lan().with_name(format!("n{i}"));
    // Timing-neutral, and the simulator's main CPU cost otherwise.
    c.enable_compression = false;
    c
}

struct Clock {
    start: Instant,
    limit: Option<Duration>,
    rss_limit_mb: Option<u64>,
}

/// The process's resident memory in MiB, if the platform says.
pub fn rss_mb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

impl Clock {
    fn over(&self) -> bool {
        if self.limit.is_some_and(|l| self.start.elapsed() > l) {
            return true;
        }
        match (self.rss_limit_mb, self.rss_limit_mb.and_then(|_| rss_mb())) {
            (Some(limit), Some(rss)) if rss > limit => {
                tracing::warn!(rss, limit, "simulation stopped at its memory limit");
                true
            }
            _ => false,
        }
    }
}

/// Runs `sim` for `d` in slices, stopping early past the wall limit; false if it stopped.
fn run_bounded(sim: &mut Sim<Node>, d: Duration, clock: &Clock) -> bool {
    let end = sim.now + d;
    while sim.now < end {
        if clock.over() {
            return false;
        }
        let step = Duration::from_millis(500).min(end.since(sim.now));
        sim.run_for(step);
    }
    true
}

/// Runs the experiment.
pub fn run(sc: &Scenario) -> Result<Report> {
    let clock = Clock {
        start: Instant::now(),
        limit: sc.wall_limit,
        rss_limit_mb: sc.rss_limit_mb,
    };
    let n = sc.nodes;
    let mut report = Report {
        nodes: n,
        loss: sc.loss,
        seed: sc.seed,
        ..Report::default()
    };
    let net = Network {
        loss: sc.loss,
        ..Network::default()
    };
    let mut sim: Sim<Node> = Sim::new(sc.seed, net);
    sim.record = false;
    let names: Vec<(Arc<str>, SocketAddr)> = (0..n)
        .map(|i| (Arc::from(format!("n{i}").as_str()), sim_addr(i)))
        .collect();
    for i in 0..n {
        let now = sim.now;
        let rng = Rng::new(sc.seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
        let mut m = Memberlist::new(node_config(i), DeathLog::default(), sim_addr(i), rng, now)?;
        m.seed_members(&names, now);
        sim.add_node(move |_, _| m);
    }
    let mut fp_start = None;
    let finish = |mut r: Report, aborted: bool, sim: &Sim<Node>, fp_start: Option<Time>| {
        r.aborted = aborted;
        r.virtual_elapsed = fp_start.map(|t| sim.now.since(t)).unwrap_or_default();
        r.virtual_total = sim.now.since(Time::ZERO);
        let (mut queued, mut running) = (0usize, 0usize);
        for i in 0..sim.len() {
            if let Some(m) = sim.node(i) {
                queued += m.broadcasts.len();
                running += 1;
            }
        }
        r.mean_broadcast_queue = queued as f64 / running.max(1) as f64;
        r.wall = clock.start.elapsed();
        Ok(r)
    };

    // 1. Warm-up.
    if !run_bounded(&mut sim, sc.warmup, &clock) {
        return finish(report, true, &sim, fp_start);
    }
    for i in 0..n {
        if let Some(m) = sim.node_mut(i) {
            m.delegate_mut().deaths.clear();
        }
    }

    // 2. False positives.
    let fp_t0 = sim.now;
    fp_start = Some(fp_t0);
    let packets_before = sim.stats.delivered + sim.stats.dropped;
    let completed = run_bounded(&mut sim, sc.fp_window, &clock);
    report.fp_window = sim.now.since(fp_t0);
    report.fp_window_packets = sim.stats.delivered + sim.stats.dropped - packets_before;
    let mut subjects = HashSet::new();
    for i in 0..n {
        if let Some(m) = sim.node_mut(i) {
            let d = &mut m.delegate_mut().deaths;
            report.fp_observations += d.len();
            subjects.extend(d.drain(..).map(|(_, who)| who));
        }
    }
    report.fp_members = subjects.len();
    if !completed {
        return finish(report, true, &sim, fp_start);
    }

    // 3. Join through node 0.
    let rng = Rng::new(sc.seed ^ 0xabcdef);
    let m = Memberlist::new(
        node_config(n),
        DeathLog::default(),
        sim_addr(n),
        rng,
        sim.now,
    )?;
    let newcomer = sim.add_node(move |_, _| m);
    let t0 = sim.now;
    let via = sim.addr(0);
    if let Some(m) = sim.node_mut(newcomer) {
        m.join(&[via], t0);
    }
    sim.poke(newcomer);
    let name = format!("n{n}");
    let mut seen: Vec<bool> = vec![false; n];
    let limit = t0 + sc.join_limit;
    while sim.now < limit && report.join_times.len() < n {
        if clock.over() {
            return finish(report, true, &sim, fp_start);
        }
        sim.run_for(Duration::from_millis(50));
        for (i, s) in seen.iter_mut().enumerate() {
            if !*s && sim.node(i).and_then(|m| m.status_of(&name)) == Some(NodeStatus::Alive) {
                *s = true;
                report.join_times.push(sim.now.since(t0));
            }
        }
    }

    // 4. Kill one node.
    if !run_bounded(&mut sim, sc.settle, &clock) {
        return finish(report, true, &sim, fp_start);
    }
    for i in 0..=n {
        if let Some(m) = sim.node_mut(i) {
            m.delegate_mut().deaths.clear();
        }
    }
    let victim = n / 2 + 1;
    let vname = format!("n{victim}");
    let t1 = sim.now;
    sim.kill(victim);
    let observers: Vec<usize> = (0..=n).filter(|&i| i != victim).collect();
    report.detect_observers = observers.len();
    let mut detected = vec![false; n + 1];
    let limit = t1 + sc.detect_limit;
    while sim.now < limit && report.detect_times.len() < observers.len() {
        if clock.over() {
            return finish(report, true, &sim, fp_start);
        }
        sim.run_for(Duration::from_millis(100));
        for &i in &observers {
            if detected[i] {
                continue;
            }
            let st = sim.node(i).map(|m| m.status_of(&vname));
            if matches!(st, Some(Some(NodeStatus::Dead) | None)) {
                detected[i] = true;
                report.detect_times.push(sim.now.since(t1));
            }
        }
    }
    finish(report, false, &sim, fp_start)
}
