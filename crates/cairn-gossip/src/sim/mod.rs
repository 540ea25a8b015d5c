//! A deterministic network simulator for the sans-IO core: virtual time, seeded randomness,
//! packet loss, latency, partitions, slow and killed nodes. Thousands of nodes run in one thread.

pub mod scenario;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::memberlist::{Delegate, Memberlist};
use crate::output::{Output, StreamId};
use crate::rng::Rng;
use crate::time::Time;

/// What the simulator needs from a node.
pub trait SimNode {
    /// A datagram arrived.
    fn handle_packet(&mut self, from: SocketAddr, data: &[u8], now: Time);
    /// A stream request arrived; returns the reply.
    fn handle_stream(&mut self, from: SocketAddr, data: &[u8], now: Time) -> Option<Vec<u8>>;
    /// An outgoing exchange finished.
    fn handle_stream_reply(&mut self, id: StreamId, reply: Result<Vec<u8>, String>, now: Time);
    /// Timers due.
    fn handle_timeout(&mut self, now: Time);
    /// Next timer.
    fn next_timeout(&self) -> Option<Time>;
    /// Moves pending effects into `out`.
    fn drain_outputs(&mut self, out: &mut Vec<Output>);
}

impl<D: Delegate> SimNode for Memberlist<D> {
    fn handle_packet(&mut self, from: SocketAddr, data: &[u8], now: Time) {
        Memberlist::handle_packet(self, from, data, now)
    }
    fn handle_stream(&mut self, from: SocketAddr, data: &[u8], now: Time) -> Option<Vec<u8>> {
        Memberlist::handle_stream(self, from, data, now)
    }
    fn handle_stream_reply(&mut self, id: StreamId, reply: Result<Vec<u8>, String>, now: Time) {
        Memberlist::handle_stream_reply(self, id, reply, now)
    }
    fn handle_timeout(&mut self, now: Time) {
        Memberlist::handle_timeout(self, now)
    }
    fn next_timeout(&self) -> Option<Time> {
        Memberlist::next_timeout(self)
    }
    fn drain_outputs(&mut self, out: &mut Vec<Output>) {
        self.drain_outputs_into(out)
    }
}

/// Network conditions.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// Probability each datagram is lost.
    pub loss: f64,
    /// One-way latency.
    pub latency: Duration,
    /// Extra random latency, uniform in `0..jitter`.
    pub jitter: Duration,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            loss: 0.0,
            latency: Duration::from_millis(1),
            jitter: Duration::from_micros(500),
        }
    }
}

enum Ev {
    Packet {
        from: SocketAddr,
        data: Vec<u8>,
    },
    StreamReq {
        from: usize,
        id: StreamId,
        data: Vec<u8>,
        expect_reply: bool,
    },
    StreamReply {
        id: StreamId,
        result: Result<Vec<u8>, String>,
    },
    Timer,
}

struct Item {
    at: Time,
    seq: u64,
    node: usize,
    ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Traffic counters of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimStats {
    /// Datagrams delivered.
    pub delivered: u64,
    /// Datagrams lost or blocked.
    pub dropped: u64,
    /// Datagram bytes sent.
    pub packet_bytes: u64,
    /// Stream exchanges.
    pub streams: u64,
    /// Stream bytes (both directions).
    pub stream_bytes: u64,
}

/// The simulated network of nodes.
pub struct Sim<N: SimNode> {
    /// Current virtual time.
    pub now: Time,
    /// Network conditions (may be changed between steps).
    pub net: Network,
    nodes: Vec<Option<N>>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    group: Vec<u32>,
    slow: Vec<Duration>,
    wake: Vec<Option<Time>>,
    queue: BinaryHeap<Reverse<Item>>,
    seq: u64,
    rng: Rng,
    scratch: Vec<Output>,
    /// Effects other than packets and streams (events, join/leave completions), if recording.
    pub records: Vec<(Time, usize, Output)>,
    /// Whether to keep `records`.
    pub record: bool,
    /// Counters.
    pub stats: SimStats,
}

/// The address the simulator gives node `i`.
pub fn sim_addr(i: usize) -> SocketAddr {
    let n = i as u32 + 1;
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8)),
        7946,
    )
}

impl<N: SimNode> Sim<N> {
    /// An empty network.
    pub fn new(seed: u64, net: Network) -> Self {
        Sim {
            now: Time::ZERO,
            net,
            nodes: Vec::new(),
            addrs: Vec::new(),
            by_addr: HashMap::new(),
            group: Vec::new(),
            slow: Vec::new(),
            wake: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng: Rng::new(seed ^ 0x5151_5151),
            scratch: Vec::new(),
            records: Vec::new(),
            record: true,
            stats: SimStats::default(),
        }
    }

    /// Adds a node at [`sim_addr`]`(index)`; `make` builds it given its address and the time.
    pub fn add_node(&mut self, make: impl FnOnce(SocketAddr, Time) -> N) -> usize {
        let i = self.nodes.len();
        let addr = sim_addr(i);
        let node = make(addr, self.now);
        self.nodes.push(Some(node));
        self.addrs.push(addr);
        self.by_addr.insert(addr, i);
        self.group.push(0);
        self.slow.push(Duration::ZERO);
        self.wake.push(None);
        self.after(i);
        i
    }

    /// Number of nodes ever added.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node was added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`, if running.
    pub fn node(&self, i: usize) -> Option<&N> {
        self.nodes.get(i).and_then(|n| n.as_ref())
    }

    /// Node `i`, mutably. Call [`Sim::poke`] after driving it directly.
    pub fn node_mut(&mut self, i: usize) -> Option<&mut N> {
        self.nodes.get_mut(i).and_then(|n| n.as_mut())
    }

    /// Collects node `i`'s effects after it was driven directly.
    pub fn poke(&mut self, i: usize) {
        self.after(i);
    }

    /// Address of node `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }

    /// Stops node `i` abruptly (like `kill -9`).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
        self.wake[i] = None;
    }

    /// Replaces node `i` with a fresh instance (a restart).
    pub fn restart(&mut self, i: usize, make: impl FnOnce(SocketAddr, Time) -> N) {
        let node = make(self.addrs[i], self.now);
        self.nodes[i] = Some(node);
        self.wake[i] = None;
        self.after(i);
    }

    /// Puts node `i` into partition `g`; nodes in different partitions cannot talk.
    pub fn set_partition(&mut self, i: usize, g: u32) {
        self.group[i] = g;
    }

    /// Heals all partitions.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
    }

    /// Delays everything node `i` receives by `d` (a slow, overloaded node).
    pub fn set_slow(&mut self, i: usize, d: Duration) {
        self.slow[i] = d;
    }

    fn push(&mut self, at: Time, node: usize, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Item {
            at,
            seq: self.seq,
            node,
            ev,
        }));
    }

    fn link_delay(&mut self) -> Duration {
        let j = self.net.jitter.as_micros() as u64;
        let extra = if j > 0 { self.rng.next_u64() % j } else { 0 };
        self.net.latency + Duration::from_micros(extra)
    }

    /// Retransmission delay for `segments` TCP segments that each may be lost (and resent
    /// once after `rto`, doubling per further loss).
    fn tcp_loss_delay(&mut self, segments: usize, rto: Duration) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..segments {
            let mut wait = rto;
            while self.rng.chance(self.net.loss) && wait < Duration::from_secs(60) {
                total += wait;
                wait *= 2;
            }
        }
        total
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.group[a] == self.group[b]
    }

    /// Collects node `i`'s outputs and re-arms its timer.
    fn after(&mut self, i: usize) {
        let mut out = std::mem::take(&mut self.scratch);
        let next = match self.nodes[i].as_mut() {
            Some(n) => {
                n.drain_outputs(&mut out);
                n.next_timeout()
            }
            None => None,
        };
        for o in out.drain(..) {
            self.route(i, o);
        }
        self.scratch = out;
        if let Some(t) = next {
            if self.wake[i].is_none_or(|w| t < w) {
                self.wake[i] = Some(t);
                self.push(t.max(self.now), i, Ev::Timer);
            }
        }
    }

    fn route(&mut self, from: usize, o: Output) {
        match o {
            Output::Packet { to, data } => {
                self.stats.packet_bytes += data.len() as u64;
                let Some(&dst) = self.by_addr.get(&to) else {
                    self.stats.dropped += 1;
                    return;
                };
                if !self.connected(from, dst) || self.rng.chance(self.net.loss) {
                    self.stats.dropped += 1;
                    return;
                }
                let at = self.now + self.link_delay() + self.slow[dst];
                let src = self.addrs[from];
                self.push(at, dst, Ev::Packet { from: src, data });
            }
            Output::Stream(req) => {
                self.stats.streams += 1;
                self.stats.stream_bytes += req.data.len() as u64;
                let dst = self.by_addr.get(&req.to).copied();
                match dst {
                    Some(d) if self.nodes[d].is_some() && self.connected(from, d) => {
                        // TCP under loss: a lost SYN or SYN-ACK costs the 1 s initial
                        // retransmission timeout, a lost data segment the 200 ms minimum RTO.
                        let extra = self.tcp_loss_delay(2, Duration::from_secs(1))
                            + self.tcp_loss_delay(1, Duration::from_millis(200));
                        let at = self.now + self.link_delay() * 2 + extra + self.slow[d];
                        if at > req.deadline {
                            let result = Err("i/o timeout".to_string());
                            let t = req.deadline.max(self.now);
                            self.push(t, from, Ev::StreamReply { id: req.id, result });
                            return;
                        }
                        self.push(
                            at,
                            d,
                            Ev::StreamReq {
                                from,
                                id: req.id,
                                data: req.data,
                                expect_reply: req.expect_reply,
                            },
                        );
                    }
                    Some(d) if self.nodes[d].is_none() && self.connected(from, d) => {
                        // The host is up but the process is gone: connection refused.
                        let at = self.now + self.link_delay() * 2;
                        let result = Err("connection refused".to_string());
                        self.push(at, from, Ev::StreamReply { id: req.id, result });
                    }
                    _ => {
                        let at = req.deadline.max(self.now);
                        let result = Err("i/o timeout".to_string());
                        self.push(at, from, Ev::StreamReply { id: req.id, result });
                    }
                }
            }
            other => {
                if self.record {
                    self.records.push((self.now, from, other));
                }
            }
        }
    }

    /// Processes the next event; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(item)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(item.at);
        let i = item.node;
        let now = self.now;
        match item.ev {
            Ev::Timer => {
                if self.wake[i] != Some(item.at) {
                    return true; // superseded
                }
                self.wake[i] = None;
                if let Some(n) = self.nodes[i].as_mut() {
                    n.handle_timeout(now);
                }
            }
            Ev::Packet { from, data } => {
                self.stats.delivered += 1;
                match self.nodes[i].as_mut() {
                    Some(n) => n.handle_packet(from, &data, now),
                    None => return true,
                }
            }
            Ev::StreamReq {
                from,
                id,
                data,
                expect_reply,
            } => {
                let src = self.addrs[from];
                let reply = match self.nodes[i].as_mut() {
                    Some(n) => n.handle_stream(src, &data, now),
                    None => None,
                };
                if expect_reply {
                    let result = reply.ok_or_else(|| "connection closed".to_string());
                    if let Ok(r) = &result {
                        self.stats.stream_bytes += r.len() as u64;
                    }
                    let extra = self.tcp_loss_delay(1, Duration::from_millis(200));
                    let at = now + self.link_delay() + extra + self.slow[from];
                    self.push(at, from, Ev::StreamReply { id, result });
                }
            }
            Ev::StreamReply { id, result } => match self.nodes[i].as_mut() {
                Some(n) => n.handle_stream_reply(id, result, now),
                None => return true,
            },
        }
        self.after(i);
        true
    }

    /// Runs until virtual time `t` (events at exactly `t` included).
    pub fn run_until(&mut self, t: Time) {
        while let Some(Reverse(item)) = self.queue.peek() {
            if item.at > t {
                break;
            }
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Runs in steps of `tick` until `pred` holds or `limit` passes; returns the time it held.
    pub fn run_until_pred(
        &mut self,
        tick: Duration,
        limit: Duration,
        mut pred: impl FnMut(&Self) -> bool,
    ) -> Option<Time> {
        let end = self.now + limit;
        while self.now < end {
            if pred(self) {
                return Some(self.now);
            }
            self.run_for(tick);
        }
        pred(self).then_some(self.now)
    }
}
