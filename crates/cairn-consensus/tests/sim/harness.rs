//! A deterministic discrete-event simulator for raft cores.
//!
//! Nodes are [`RaftCore`]s on [`MemLogStore`]s; the network is a priority queue of messages
//! with seeded latency, loss and partitions; time is virtual milliseconds. After every step
//! the harness checks raft's safety properties:
//! - at most one leader per term;
//! - every applied entry equals the entry any other node applied at that index (no committed
//!   entry is lost, changed or reordered);
//! - applied indexes only grow on a running node;
//! - a proposal acknowledged as applied is in the log at the index it was acknowledged at;
//! - a linearizable read sees every write acknowledged before it was issued.

use cairn_consensus::{
    CoreEvent, LogStore, MemLogStore, MembershipChange, Peers, RaftConfig, RaftCore, RaftError,
    RaftLogLevel, RaftMessage, Role, StateMachine, StateMachineError,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

/// SplitMix64: tiny, fast, seedable.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A state machine that records every applied `(index, payload)`; its response is the index.
#[derive(Default)]
pub struct RecordingSm {
    pub log: Vec<(u64, Vec<u8>)>,
}

impl StateMachine for RecordingSm {
    type Response = u64;

    fn apply(&mut self, index: u64, data: &[u8]) -> u64 {
        self.log.push((index, data.to_vec()));
        index
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        let mut out = Vec::new();
        for (i, d) in &self.log {
            out.extend_from_slice(&i.to_be_bytes());
            out.extend_from_slice(&(d.len() as u32).to_be_bytes());
            out.extend_from_slice(d);
        }
        Ok(out)
    }

    fn restore(&mut self, _index: u64, mut data: &[u8]) -> Result<(), StateMachineError> {
        let mut log = Vec::new();
        while !data.is_empty() {
            if data.len() < 12 {
                return Err(StateMachineError("truncated".into()));
            }
            let i = u64::from_be_bytes(data[..8].try_into().unwrap());
            let n = u32::from_be_bytes(data[8..12].try_into().unwrap()) as usize;
            if data.len() < 12 + n {
                return Err(StateMachineError("truncated".into()));
            }
            log.push((i, data[12..12 + n].to_vec()));
            data = &data[12 + n..];
        }
        self.log = log;
        Ok(())
    }
}

/// A log store the simulator can create and, after a crash, reopen.
pub trait SimStore: LogStore + Sized {
    /// What survives a crash: a handle (memory) or a directory (RocksDB).
    type Slot;
    /// A fresh, empty slot for node `id`.
    fn new_slot(id: u64) -> Self::Slot;
    /// Open the store in `slot` (again, after a crash).
    fn open(slot: &Self::Slot) -> Self;
}

impl SimStore for MemLogStore {
    type Slot = MemLogStore;
    fn new_slot(_id: u64) -> MemLogStore {
        MemLogStore::new()
    }
    fn open(slot: &MemLogStore) -> MemLogStore {
        slot.clone()
    }
}

#[cfg(feature = "rocksdb")]
impl SimStore for cairn_consensus::RocksLogStore {
    type Slot = tempfile::TempDir;
    fn new_slot(_id: u64) -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }
    fn open(slot: &tempfile::TempDir) -> Self {
        cairn_consensus::RocksLogStore::open(slot.path()).expect("open rocksdb store")
    }
}

type Core<L> = RaftCore<RecordingSm, L>;

/// The simulator on in-memory stores.
pub type MemSim = Sim<MemLogStore>;

/// Simulation knobs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub tick_ms: u64,
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
    pub drop_rate: f64,
    pub snapshot_threshold: u64,
    pub trailing_logs: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tick_ms: 10,
            min_latency_ms: 1,
            max_latency_ms: 8,
            drop_rate: 0.0,
            snapshot_threshold: 1_000_000,
            trailing_logs: 0,
        }
    }
}

struct InFlight {
    msg: RaftMessage,
}

#[derive(Default)]
pub struct Stats {
    pub proposals: u64,
    pub acked: u64,
    pub dropped: u64,
    pub unknown: u64,
    pub reads_ok: u64,
    pub snapshots_installed: u64,
    pub snapshots_taken: u64,
    pub elections: u64,
    pub messages: u64,
}

pub struct Sim<L: SimStore = MemLogStore> {
    pub seed: u64,
    pub rng: Rng,
    pub cfg: SimConfig,
    pub now: u64,
    nodes: BTreeMap<u64, Core<L>>,
    stores: BTreeMap<u64, L::Slot>,
    checked: BTreeMap<u64, usize>,
    net: BinaryHeap<Reverse<(u64, u64, u64)>>,
    in_flight: HashMap<u64, InFlight>,
    seq: u64,
    /// Groups of node ids; messages cross groups only when `None`.
    partition: Option<Vec<BTreeSet<u64>>>,
    /// Nodes whose processing is slowed (extra latency on their messages).
    slow: BTreeSet<u64>,
    /// Index → payload of every entry any node applied.
    pub history: BTreeMap<u64, Vec<u8>>,
    leaders_by_term: BTreeMap<u64, u64>,
    pending: HashMap<u64, Vec<u8>>,
    /// Payloads acknowledged to clients, with their index.
    pub acked: BTreeMap<Vec<u8>, u64>,
    reads: HashMap<(u64, u64), Vec<Vec<u8>>>,
    pub membership_results: HashMap<u64, Result<(), String>>,
    next_token: u64,
    next_payload: u64,
    pub stats: Stats,
    trace: u64,
}

impl<L: SimStore> Sim<L> {
    /// Nodes `1..=n`, all bootstrapped with the same voter set.
    pub fn new(seed: u64, n: u64, cfg: SimConfig) -> Self {
        let mut sim = Sim::empty(seed, cfg);
        let voters: Peers = (1..=n).map(|id| (id, format!("node{id}"))).collect();
        for id in 1..=n {
            let slot = L::new_slot(id);
            let mut store = L::open(&slot);
            Core::<L>::bootstrap(&mut store, &RecordingSm::default(), &voters).expect("bootstrap");
            drop(store);
            sim.stores.insert(id, slot);
            sim.start(id);
        }
        sim
    }

    /// No nodes yet.
    pub fn empty(seed: u64, cfg: SimConfig) -> Self {
        Sim {
            seed,
            rng: Rng::new(seed),
            cfg,
            now: 0,
            nodes: BTreeMap::new(),
            stores: BTreeMap::new(),
            checked: BTreeMap::new(),
            net: BinaryHeap::new(),
            in_flight: HashMap::new(),
            seq: 0,
            partition: None,
            slow: BTreeSet::new(),
            history: BTreeMap::new(),
            leaders_by_term: BTreeMap::new(),
            pending: HashMap::new(),
            acked: BTreeMap::new(),
            reads: HashMap::new(),
            membership_results: HashMap::new(),
            next_token: 1,
            next_payload: 1,
            stats: Stats::default(),
            trace: 0,
        }
    }

    /// A brand-new empty node (to be added with a membership change).
    pub fn add_empty_node(&mut self, id: u64) {
        self.stores.insert(id, L::new_slot(id));
        self.start(id);
    }

    fn node_config(&mut self, id: u64) -> RaftConfig {
        let mut c = RaftConfig::new(id);
        c.raft_log_level = if std::env::var("CAIRN_SIM_LOG").is_ok() {
            RaftLogLevel::Debug
        } else {
            RaftLogLevel::Off
        };
        c.snapshot_threshold = self.cfg.snapshot_threshold;
        c.trailing_logs = self.cfg.trailing_logs;
        // Per-node fixed election timeout drawn from the seed (raft-rs would use thread_rng).
        c.fixed_election_offset = Some(self.rng.range(0, c.election_tick as u64 - 1) as usize);
        c
    }

    /// (Re)start node `id` on its store.
    pub fn start(&mut self, id: u64) {
        let store = L::open(&self.stores[&id]);
        let cfg = self.node_config(id);
        let core = Core::new(cfg, store, RecordingSm::default()).expect("open core");
        self.nodes.insert(id, core);
        self.checked.insert(id, 0);
        self.drive(id);
    }

    /// Kill node `id`: it loses everything not in its store.
    pub fn crash(&mut self, id: u64) {
        self.nodes.remove(&id);
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn partition(&mut self, groups: Vec<Vec<u64>>) {
        self.partition = Some(
            groups
                .into_iter()
                .map(|g| g.into_iter().collect())
                .collect(),
        );
    }

    pub fn heal(&mut self) {
        self.partition = None;
    }

    pub fn set_slow(&mut self, id: u64, slow: bool) {
        if slow {
            self.slow.insert(id);
        } else {
            self.slow.remove(&id);
        }
    }

    fn connected(&self, a: u64, b: u64) -> bool {
        match &self.partition {
            None => true,
            Some(groups) => groups.iter().any(|g| g.contains(&a) && g.contains(&b)),
        }
    }

    /// The node that currently believes it leads in the highest term.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|(_, c)| c.role() == Role::Leader)
            .max_by_key(|(_, c)| c.term())
            .map(|(id, _)| *id)
    }

    pub fn core(&self, id: u64) -> &Core<L> {
        &self.nodes[&id]
    }

    pub fn core_mut(&mut self, id: u64) -> &mut Core<L> {
        self.nodes.get_mut(&id).expect("node up")
    }

    /// Propose a fresh unique payload on `node`. Returns whether the node accepted it.
    pub fn propose_on(&mut self, node: u64) -> bool {
        let payload = format!("s{}-p{}", self.seed, self.next_payload).into_bytes();
        self.next_payload += 1;
        let token = self.next_token;
        self.next_token += 1;
        let Some(core) = self.nodes.get_mut(&node) else {
            return false;
        };
        match core.propose(token, payload.clone()) {
            Ok(_) => {
                self.stats.proposals += 1;
                self.pending.insert(token, payload);
                self.drive(node);
                true
            }
            Err(RaftError::NotLeader { .. }) | Err(RaftError::Rejected(_)) => false,
            Err(e) => panic!("seed {}: unexpected propose error {e}", self.seed),
        }
    }

    /// Propose on whoever leads now.
    pub fn propose(&mut self) -> bool {
        match self.leader() {
            Some(l) => self.propose_on(l),
            None => false,
        }
    }

    /// Start a linearizable read on `node`.
    pub fn read_on(&mut self, node: u64) {
        let token = self.next_token;
        self.next_token += 1;
        let seen: Vec<Vec<u8>> = self.acked.keys().cloned().collect();
        if let Some(core) = self.nodes.get_mut(&node) {
            if core.read_index(token).is_ok() {
                self.reads.insert((node, token), seen);
                self.drive(node);
            }
        }
    }

    pub fn propose_membership(&mut self, change: MembershipChange) -> Result<u64, RaftError> {
        let leader = self.leader().ok_or(RaftError::NotLeader {
            leader: None,
            leader_addr: None,
        })?;
        let token = self.next_token;
        self.next_token += 1;
        self.nodes
            .get_mut(&leader)
            .expect("leader up")
            .propose_membership(token, &change)?;
        self.drive(leader);
        Ok(token)
    }

    pub fn transfer_leader(&mut self, to: u64) -> Result<(), RaftError> {
        let leader = self.leader().ok_or(RaftError::NotLeader {
            leader: None,
            leader_addr: None,
        })?;
        self.nodes
            .get_mut(&leader)
            .expect("up")
            .transfer_leader(to)?;
        self.drive(leader);
        Ok(())
    }

    fn mix(&mut self, v: u64) {
        self.trace = self.trace.rotate_left(5) ^ v.wrapping_mul(0x100_0000_01B3);
    }

    /// A hash of everything observable that happened: equal for equal seeds.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    /// Run processing rounds on `id` until raft has nothing ready.
    fn drive(&mut self, id: u64) {
        for _ in 0..64 {
            let Some(core) = self.nodes.get_mut(&id) else {
                return;
            };
            if !core.has_ready() {
                break;
            }
            let mut events = Vec::new();
            if let Err(e) = core.process_ready(&mut events) {
                panic!("seed {}: node {id} fatal error: {e}", self.seed);
            }
            self.check_applied(id);
            for ev in events {
                self.handle_event(id, ev);
            }
        }
        self.check_applied(id);
    }

    fn handle_event(&mut self, id: u64, ev: CoreEvent<u64>) {
        match ev {
            CoreEvent::Send(msg) => self.send(msg),
            CoreEvent::Applied {
                token,
                index,
                response,
            } => {
                self.mix(index);
                assert_eq!(response, index, "seed {}: response mismatch", self.seed);
                if let Some(payload) = self.pending.remove(&token) {
                    let h = self.history.get(&index);
                    assert_eq!(
                        h,
                        Some(&payload),
                        "seed {}: acked payload not at its index {index}",
                        self.seed
                    );
                    assert!(
                        self.acked.insert(payload, index).is_none(),
                        "seed {}: payload acked twice",
                        self.seed
                    );
                    self.stats.acked += 1;
                }
            }
            CoreEvent::Dropped { token } => {
                self.pending.remove(&token);
                self.stats.dropped += 1;
            }
            CoreEvent::Unknown { token } => {
                self.pending.remove(&token);
                self.stats.unknown += 1;
            }
            CoreEvent::MembershipApplied { token, result, .. } => {
                self.membership_results.insert(token, result);
            }
            CoreEvent::ReadReady { token, index } => {
                if let Some(seen) = self.reads.remove(&(id, token)) {
                    let core = &self.nodes[&id];
                    let applied: BTreeSet<&Vec<u8>> =
                        core.state_machine().log.iter().map(|(_, d)| d).collect();
                    for p in &seen {
                        assert!(
                            applied.contains(p),
                            "seed {}: read at index {index} on node {id} misses an acknowledged write",
                            self.seed
                        );
                    }
                    self.stats.reads_ok += 1;
                }
            }
            CoreEvent::LeaderChanged { role, term, .. } => {
                if role == Role::Leader {
                    self.stats.elections += 1;
                    self.mix(term ^ (id << 32));
                    let prev = self.leaders_by_term.insert(term, id);
                    if let Some(p) = prev {
                        assert_eq!(p, id, "seed {}: two leaders in term {term}", self.seed);
                    }
                }
            }
            CoreEvent::SnapshotInstalled { .. } => {
                self.stats.snapshots_installed += 1;
                self.checked.insert(id, 0);
            }
            CoreEvent::SnapshotTaken { .. } => self.stats.snapshots_taken += 1,
            CoreEvent::MembershipChanged | CoreEvent::Removed => {}
        }
    }

    /// Compare what `id` applied since the last check with the global history.
    fn check_applied(&mut self, id: u64) {
        let Some(core) = self.nodes.get(&id) else {
            return;
        };
        let log = &core.state_machine().log;
        let from = self.checked.get(&id).copied().unwrap_or(0).min(log.len());
        let from = if from > log.len() { 0 } else { from };
        let mut prev = if from == 0 { 0 } else { log[from - 1].0 };
        for (index, data) in &log[from..] {
            assert!(
                *index > prev,
                "seed {}: node {id} applied {index} after {prev}",
                self.seed
            );
            prev = *index;
            match self.history.get(index) {
                Some(h) => assert_eq!(
                    h, data,
                    "seed {}: node {id} applied a different entry at {index}",
                    self.seed
                ),
                None => {
                    self.history.insert(*index, data.clone());
                }
            }
        }
        self.checked.insert(id, log.len());
    }

    fn send(&mut self, msg: RaftMessage) {
        self.stats.messages += 1;
        let (from, to) = (msg.from(), msg.to());
        let delivered = self.nodes.contains_key(&to)
            && self.connected(from, to)
            && !self.rng.chance(self.cfg.drop_rate);
        if !delivered {
            let connected = self.connected(from, to);
            if let Some(sender) = self.nodes.get_mut(&from) {
                if msg.is_snapshot() {
                    sender.report_snapshot(to, false);
                } else if !connected {
                    sender.report_unreachable(to);
                }
            }
            return;
        }
        let mut latency = self
            .rng
            .range(self.cfg.min_latency_ms, self.cfg.max_latency_ms);
        if self.slow.contains(&from) || self.slow.contains(&to) {
            latency += self.rng.range(20, 80);
        }
        self.seq += 1;
        self.net.push(Reverse((self.now + latency, self.seq, to)));
        self.in_flight.insert(self.seq, InFlight { msg });
    }

    /// Advance virtual time by one tick, delivering messages due before it.
    pub fn tick(&mut self) {
        let end = self.now + self.cfg.tick_ms;
        while let Some(Reverse((at, seq, to))) = self.net.peek().copied() {
            if at > end {
                break;
            }
            self.net.pop();
            self.now = at;
            let Some(InFlight { msg }) = self.in_flight.remove(&seq) else {
                continue;
            };
            let from = msg.from();
            let is_snap = msg.is_snapshot();
            // A partition that started while the message was in flight cuts it too.
            if !self.connected(from, to) || !self.nodes.contains_key(&to) {
                if is_snap {
                    if let Some(s) = self.nodes.get_mut(&from) {
                        s.report_snapshot(to, false);
                    }
                }
                continue;
            }
            self.mix(seq ^ to);
            self.nodes.get_mut(&to).expect("up").step(msg);
            self.drive(to);
            if is_snap {
                if let Some(s) = self.nodes.get_mut(&from) {
                    s.report_snapshot(to, true);
                }
                self.drive(from);
            }
        }
        self.now = end;
        for id in self.ids() {
            self.core_mut(id).tick();
            self.drive(id);
        }
    }

    pub fn run_ms(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.tick();
        }
    }

    /// Run with a client issuing a proposal every `every_ms` to the leader.
    pub fn run_with_load(&mut self, ms: u64, every_ms: u64) {
        let end = self.now + ms;
        let mut next = self.now;
        while self.now < end {
            if self.now >= next {
                self.propose();
                if self.rng.chance(0.2) {
                    let ids = self.ids();
                    if !ids.is_empty() {
                        let n = ids[self.rng.range(0, ids.len() as u64 - 1) as usize];
                        self.read_on(n);
                    }
                }
                next = self.now + every_ms;
            }
            self.tick();
        }
    }

    /// Run until `pred` holds, at most `max_ms`. Returns whether it held.
    pub fn run_until(&mut self, max_ms: u64, mut pred: impl FnMut(&Sim<L>) -> bool) -> bool {
        let end = self.now + max_ms;
        while self.now < end {
            if pred(self) {
                return true;
            }
            self.tick();
        }
        pred(self)
    }

    pub fn wait_leader(&mut self, max_ms: u64) -> u64 {
        let ok = self.run_until(max_ms, |s| s.leader().is_some());
        assert!(ok, "seed {}: no leader within {max_ms} ms", self.seed);
        self.leader().expect("leader")
    }

    /// Heal everything, let the cluster settle, and check every up node converged on the same
    /// log containing every acknowledged write exactly once.
    pub fn check_converged(&mut self, max_ms: u64) {
        self.heal();
        self.slow.clear();
        self.wait_leader(max_ms);
        // A final write commits everything of the current term and moves all nodes forward.
        let mut marker_acked = false;
        for _ in 0..50 {
            let before = self.stats.acked;
            self.propose();
            self.run_ms(200);
            if self.stats.acked > before {
                marker_acked = true;
                break;
            }
        }
        assert!(
            marker_acked,
            "seed {}: cluster never accepted a write after heal",
            self.seed
        );
        let ok = self.run_until(max_ms, |s| {
            let applied: BTreeSet<u64> = s.nodes.values().map(|c| c.status().applied).collect();
            let commit: BTreeSet<u64> = s.nodes.values().map(|c| c.status().commit).collect();
            applied.len() == 1 && commit.len() == 1 && applied == commit
        });
        let summary: Vec<(u64, u64, u64)> = self
            .nodes
            .iter()
            .map(|(id, c)| (*id, c.status().applied, c.status().commit))
            .collect();
        assert!(
            ok,
            "seed {}: nodes did not converge: {summary:?}",
            self.seed
        );
        let logs: Vec<&Vec<(u64, Vec<u8>)>> = self
            .nodes
            .values()
            .map(|c| &c.state_machine().log)
            .collect();
        for l in &logs[1..] {
            assert_eq!(
                l.last(),
                logs[0].last(),
                "seed {}: final logs differ",
                self.seed
            );
        }
        // Every acknowledged write is in the final log exactly once, at its index.
        let full: BTreeMap<u64, &Vec<u8>> = self.history.iter().map(|(i, d)| (*i, d)).collect();
        let mut seen = BTreeSet::new();
        for d in full.values() {
            assert!(
                seen.insert(*d),
                "seed {}: a payload was applied twice",
                self.seed
            );
        }
        for (payload, index) in &self.acked {
            assert_eq!(
                full.get(index).copied(),
                Some(payload),
                "seed {}: acknowledged write lost",
                self.seed
            );
        }
        if std::env::var("CAIRN_SIM_STATS").is_ok() {
            let st = &self.stats;
            eprintln!(
                "seed {}: proposals {} acked {} dropped {} unknown {} reads {} elections {} snapshots taken {} installed {} messages {} history {}",
                self.seed, st.proposals, st.acked, st.dropped, st.unknown, st.reads_ok, st.elections,
                st.snapshots_taken, st.snapshots_installed, st.messages, self.history.len()
            );
        }
        // Every node's log matches the history (snapshot restores carry the full record).
        for (id, c) in &self.nodes {
            let log = &c.state_machine().log;
            for (i, d) in log {
                assert_eq!(
                    full.get(i).copied(),
                    Some(d),
                    "seed {}: node {id} diverged",
                    self.seed
                );
            }
        }
    }
}

/// Run `f` for each seed, printing the seed when one fails.
pub fn for_seeds(
    name: &str,
    seeds: std::ops::Range<u64>,
    f: impl Fn(u64) + std::panic::RefUnwindSafe,
) {
    let override_seed = std::env::var("CAIRN_SIM_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let seeds: Vec<u64> = match override_seed {
        Some(s) => vec![s],
        None => {
            let scale = std::env::var("CAIRN_SIM_SEEDS_SCALE")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(1);
            (seeds.start..seeds.start + (seeds.end - seeds.start) * scale).collect()
        }
    };
    if std::env::var("CAIRN_SIM_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .try_init();
    }
    for seed in seeds {
        let result = std::panic::catch_unwind(|| f(seed));
        if let Err(e) = result {
            eprintln!("simulation {name} failed for seed {seed}; rerun with CAIRN_SIM_SEED={seed}");
            std::panic::resume_unwind(e);
        }
    }
}
