//! The tokio driver: UDP and TCP on one port, a task that owns the [`Core`], and an async
//! handle with an event stream.

mod net;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::Config;
use crate::core::{Core, KeyOp};
use crate::error::{Error, Result};
use crate::event::{Event, Member, MemberStatus};
use crate::memberlist::Stats;
use crate::output::Output;
use crate::rng::Rng;
use crate::serf::coordinate::Coordinate;
use crate::serf::QueryParams;
use crate::snapshot::{alive_line, not_alive_line, SnapshotState, SNAPSHOT_SIZE_LIMIT};
use crate::time::Time;
use net::Inbound;

/// The application's stream of events.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once the node has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// An event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

/// What a query brings back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryReply {
    /// A node acked.
    Ack(String),
    /// A node answered.
    Response {
        /// Who.
        from: String,
        /// What.
        payload: Vec<u8>,
    },
}

/// Acks and responses of one query, until its deadline.
pub struct QueryReplies {
    rx: mpsc::UnboundedReceiver<QueryReply>,
}

impl QueryReplies {
    /// The next ack or response; `None` at the deadline.
    pub async fn recv(&mut self) -> Option<QueryReply> {
        self.rx.recv().await
    }
}

enum Command {
    Join(Vec<SocketAddr>, bool, oneshot::Sender<Result<usize>>),
    Leave(oneshot::Sender<Result<()>>),
    ForceLeave(String, bool, oneshot::Sender<Result<()>>),
    Members(oneshot::Sender<Vec<Member>>),
    UserEvent(String, Vec<u8>, bool, oneshot::Sender<Result<()>>),
    Query(
        String,
        Vec<u8>,
        QueryParams,
        oneshot::Sender<Result<QueryReplies>>,
    ),
    Respond(u64, Vec<u8>, oneshot::Sender<Result<()>>),
    SetTags(BTreeMap<String, String>, oneshot::Sender<Result<()>>),
    KeyLocal(KeyOp, Vec<u8>, oneshot::Sender<Result<Vec<Vec<u8>>>>),
    Coordinate(oneshot::Sender<(Option<Coordinate>, HashMap<String, Coordinate>)>),
    Stats(oneshot::Sender<(Stats, usize)>),
    ConflictLost(oneshot::Sender<bool>),
    Shutdown(oneshot::Sender<()>),
}

/// A running gossip node. Cloning gives another handle to the same node.
#[derive(Clone)]
pub struct Gossip {
    tx: mpsc::UnboundedSender<Command>,
    addr: SocketAddr,
}

/// Picks the address to advertise when bound to an unspecified address.
fn default_advertise(bind: IpAddr) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    // Ask the routing table which source address it would use; sends nothing.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

impl Gossip {
    /// Binds UDP and TCP on `cfg.bind_addr:cfg.bind_port` and starts the node. With a snapshot
    /// path, clocks are restored and previously known members are rejoined.
    pub async fn start(mut cfg: Config) -> Result<(Gossip, Events)> {
        cfg.validate()?;
        let io = |e: std::io::Error| Error::Io(e.to_string());
        let listener = TcpListener::bind((cfg.bind_addr, cfg.bind_port))
            .await
            .map_err(io)?;
        let port = listener.local_addr().map_err(io)?.port();
        let udp = UdpSocket::bind((cfg.bind_addr, port)).await.map_err(io)?;
        cfg.bind_port = port;
        let advertise = SocketAddr::new(
            cfg.advertise_addr
                .unwrap_or_else(|| default_advertise(cfg.bind_addr)),
            cfg.advertise_port.unwrap_or(port),
        );
        let snapshot = cfg.snapshot_path.clone().map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p, SnapshotState::parse(&text, cfg.rejoin_after_leave))
        });
        let clocks = snapshot
            .as_ref()
            .map(|(_, s)| [s.clock, s.event_clock, s.query_clock]);
        let start = Instant::now();
        let seed = Rng::from_entropy().next_u64();
        let core = Core::new(cfg.clone(), advertise, seed, clocks, Time::ZERO)?;
        let (tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let mut rejoin = Vec::new();
        let snap = match snapshot {
            Some((path, state)) => {
                rejoin = state
                    .alive
                    .iter()
                    .filter(|(n, _)| **n != cfg.name)
                    .map(|(_, a)| *a)
                    .collect();
                Some(SnapshotWriter::open(path, state)?)
            }
            None => None,
        };
        let node = NodeTask {
            core,
            cfg,
            start,
            udp,
            listener,
            ev_tx,
            joins: HashMap::new(),
            leaves: Vec::new(),
            queries: HashMap::new(),
            snap,
        };
        tokio::spawn(node.run(cmd_rx));
        let g = Gossip {
            tx,
            addr: advertise,
        };
        if !rejoin.is_empty() {
            // serf tries previously known members one at a time until one answers.
            let g2 = g.clone();
            tokio::spawn(async move {
                for a in rejoin {
                    if matches!(g2.join(&[a]).await, Ok(n) if n > 0) {
                        break;
                    }
                }
            });
        }
        Ok((g, Events { rx: ev_rx }))
    }

    /// The address other nodes reach us at.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    async fn call<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(f(tx)).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Joins through these addresses; returns how many answered.
    pub async fn join(&self, addrs: &[SocketAddr]) -> Result<usize> {
        self.call(|t| Command::Join(addrs.to_vec(), false, t))
            .await?
    }

    /// Joins without replaying user events from before the join.
    pub async fn join_ignore_old(&self, addrs: &[SocketAddr]) -> Result<usize> {
        self.call(|t| Command::Join(addrs.to_vec(), true, t))
            .await?
    }

    /// Leaves gracefully (returns once the leave has been gossiped).
    pub async fn leave(&self) -> Result<()> {
        self.call(Command::Leave).await?
    }

    /// Forces `node` out of the pool (serf `force-leave`; `prune` erases it at once).
    pub async fn force_leave(&self, node: &str, prune: bool) -> Result<()> {
        self.call(|t| Command::ForceLeave(node.to_string(), prune, t))
            .await?
    }

    /// Every member we know.
    pub async fn members(&self) -> Result<Vec<Member>> {
        self.call(Command::Members).await
    }

    /// Fires a user event.
    pub async fn user_event(&self, name: &str, payload: &[u8], coalesce: bool) -> Result<()> {
        self.call(|t| Command::UserEvent(name.into(), payload.to_vec(), coalesce, t))
            .await?
    }

    /// Sends a query.
    pub async fn query(
        &self,
        name: &str,
        payload: &[u8],
        params: QueryParams,
    ) -> Result<QueryReplies> {
        self.call(|t| Command::Query(name.into(), payload.to_vec(), params, t))
            .await?
    }

    /// Answers a received query.
    pub async fn respond(&self, query: u64, payload: &[u8]) -> Result<()> {
        self.call(|t| Command::Respond(query, payload.to_vec(), t))
            .await?
    }

    /// Replaces our tags.
    pub async fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<()> {
        self.call(|t| Command::SetTags(tags, t)).await?
    }

    /// Changes the local keyring; returns the keys afterwards (primary first).
    pub async fn keyring(&self, op: KeyOp, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.call(|t| Command::KeyLocal(op, key.to_vec(), t))
            .await?
    }

    /// Our coordinate and the last-known coordinates of others.
    pub async fn coordinates(&self) -> Result<(Option<Coordinate>, HashMap<String, Coordinate>)> {
        self.call(Command::Coordinate).await
    }

    /// Traffic counters and the health score.
    pub async fn stats(&self) -> Result<(Stats, usize)> {
        self.call(Command::Stats).await
    }

    /// Whether gossip stopped because another node at another address holds our name for
    /// the majority of the pool (serf's name conflict resolution). Such a node sends and
    /// answers nothing more; restart it under a unique name.
    pub async fn conflict_lost(&self) -> Result<bool> {
        self.call(Command::ConflictLost).await
    }

    /// Stops the node without leaving.
    pub async fn shutdown(&self) -> Result<()> {
        self.call(Command::Shutdown).await
    }
}

struct SnapshotWriter {
    path: PathBuf,
    file: std::fs::File,
    state: SnapshotState,
    written: usize,
}

impl SnapshotWriter {
    fn open(path: PathBuf, state: SnapshotState) -> Result<Self> {
        let text = state.render();
        std::fs::write(&path, &text).map_err(|e| Error::Io(e.to_string()))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::Io(e.to_string()))?;
        Ok(SnapshotWriter {
            path,
            file,
            written: text.len(),
            state,
        })
    }

    fn append(&mut self, line: &str) {
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            tracing::error!(error = %e, "snapshot write failed");
        }
        self.written += line.len();
        if self.written > SNAPSHOT_SIZE_LIMIT {
            let text = self.state.render();
            let tmp = self.path.with_extension("compact");
            let ok = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &self.path));
            match ok.and_then(|_| std::fs::OpenOptions::new().append(true).open(&self.path)) {
                Ok(f) => {
                    self.file = f;
                    self.written = text.len();
                }
                Err(e) => tracing::error!(error = %e, "snapshot compaction failed"),
            }
        }
    }

    fn record(&mut self, e: &Event, clocks: [u64; 3]) {
        match e {
            Event::MemberJoin(m) => {
                let a = SocketAddr::new(m.addr, m.port);
                self.state.alive.insert(m.name.clone(), a);
                self.append(&alive_line(&m.name, a));
            }
            Event::MemberLeave(m) | Event::MemberFailed(m) => {
                self.state.alive.remove(&m.name);
                self.append(&not_alive_line(&m.name));
            }
            _ => {}
        }
        let [c, ev, q] = clocks;
        if c != self.state.clock {
            self.state.clock = c;
            self.append(&format!("clock: {c}\n"));
        }
        if ev != self.state.event_clock {
            self.state.event_clock = ev;
            self.append(&format!("event-clock: {ev}\n"));
        }
        if q != self.state.query_clock {
            self.state.query_clock = q;
            self.append(&format!("query-clock: {q}\n"));
        }
    }

    fn leave(&mut self) {
        self.append("leave\n");
        let _ = self.file.sync_all();
    }
}

struct NodeTask {
    core: Core,
    cfg: Config,
    start: Instant,
    udp: UdpSocket,
    listener: TcpListener,
    ev_tx: mpsc::UnboundedSender<Event>,
    joins: HashMap<u64, oneshot::Sender<Result<usize>>>,
    leaves: Vec<oneshot::Sender<Result<()>>>,
    queries: HashMap<u64, mpsc::UnboundedSender<QueryReply>>,
    snap: Option<SnapshotWriter>,
}

impl NodeTask {
    fn now(&self) -> Time {
        Time::from_micros(self.start.elapsed().as_micros() as u64)
    }

    async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Command>) {
        let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Inbound>();
        let mut buf = vec![0u8; 65536];
        let tcp_timeout = self.cfg.tcp_timeout;
        loop {
            self.flush(&in_tx).await;
            let deadline = self
                .core
                .next_timeout()
                .map(|t| self.start + Duration::from_micros(t.as_micros()))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                r = self.udp.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        let now = self.now();
                        self.core.handle_packet(from, &buf[..n], now);
                    }
                    Err(e) => tracing::debug!(error = %e, "udp receive failed"),
                },
                r = self.listener.accept() => match r {
                    Ok((conn, from)) => {
                        tokio::spawn(net::serve_conn(conn, from, tcp_timeout, in_tx.clone()));
                    }
                    Err(e) => tracing::debug!(error = %e, "accept failed"),
                },
                Some(m) = in_rx.recv() => {
                    let now = self.now();
                    match m {
                        Inbound::Stream { from, data, reply } => {
                            let r = self.core.handle_stream(from, &data, now);
                            let _ = reply.send(r);
                        }
                        Inbound::StreamDone { id, result } => {
                            self.core.handle_stream_reply(id, result, now);
                        }
                    }
                }
                c = cmd_rx.recv() => {
                    let Some(c) = c else { return };
                    if self.command(c) {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
            }
        }
    }

    /// Handles a command; true means stop.
    fn command(&mut self, c: Command) -> bool {
        let now = self.now();
        match c {
            Command::Join(addrs, ignore, reply) => match self.core.join(&addrs, ignore, now) {
                Ok(id) => {
                    self.joins.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Leave(reply) => {
                if let Some(s) = self.snap.as_mut() {
                    s.leave();
                }
                match self.core.leave(now) {
                    Ok(()) => self.leaves.push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::ForceLeave(node, prune, reply) => {
                let _ = reply.send(self.core.force_leave(&node, prune, now));
            }
            Command::Members(reply) => {
                let _ = reply.send(self.core.members());
            }
            Command::UserEvent(name, payload, coalesce, reply) => {
                let _ = reply.send(self.core.user_event(&name, &payload, coalesce, now));
            }
            Command::Query(name, payload, params, reply) => {
                let r = self.core.query(&name, &payload, &params, now).map(|id| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.queries.insert(id, tx);
                    QueryReplies { rx }
                });
                let _ = reply.send(r);
            }
            Command::Respond(id, payload, reply) => {
                let _ = reply.send(self.core.respond(id, &payload, now));
            }
            Command::SetTags(tags, reply) => {
                let _ = reply.send(self.core.set_tags(tags, now));
            }
            Command::KeyLocal(op, key, reply) => {
                let r = self.core.keyring_op(op, &key).map(|_| {
                    self.core
                        .keyring()
                        .map(|k| k.keys().to_vec())
                        .unwrap_or_default()
                });
                let _ = reply.send(r);
            }
            Command::Coordinate(reply) => {
                let mine = self.core.coordinate();
                let others = self
                    .core
                    .members()
                    .into_iter()
                    .filter_map(|m| self.core.coordinate_of(&m.name).map(|c| (m.name, c)))
                    .collect();
                let _ = reply.send((mine, others));
            }
            Command::Stats(reply) => {
                let _ = reply.send((self.core.stats(), self.core.health_score()));
            }
            Command::ConflictLost(reply) => {
                let _ = reply.send(self.core.is_shut_down());
            }
            Command::Shutdown(reply) => {
                let _ = reply.send(());
                return true;
            }
        }
        false
    }

    /// Performs the core's effects.
    async fn flush(&mut self, in_tx: &mpsc::UnboundedSender<Inbound>) {
        let tcp_timeout = self.cfg.tcp_timeout;
        for o in self.core.take_outputs() {
            match o {
                Output::Packet { to, data } => {
                    if let Err(e) = self.udp.send_to(&data, to).await {
                        tracing::debug!(%to, error = %e, "udp send failed");
                    }
                }
                Output::Stream(req) => {
                    let now = self.now();
                    let budget = req.deadline.since(now).max(Duration::from_millis(1));
                    let source =
                        (!self.cfg.bind_addr.is_unspecified()).then_some(self.cfg.bind_addr);
                    tokio::spawn(net::exchange(
                        req,
                        budget.min(tcp_timeout),
                        in_tx.clone(),
                        source,
                    ));
                }
                Output::Event(e) => self.event(e),
                Output::JoinDone { id, joined, errors } => {
                    if let Some(reply) = self.joins.remove(&id) {
                        let r = if joined > 0 || errors.is_empty() {
                            Ok(joined)
                        } else {
                            Err(Error::Io(errors.join("; ")))
                        };
                        let _ = reply.send(r);
                    }
                }
                Output::LeaveDone => {
                    for r in self.leaves.drain(..) {
                        let _ = r.send(Ok(()));
                    }
                }
            }
        }
    }

    fn event(&mut self, e: Event) {
        if let Some(s) = self.snap.as_mut() {
            s.record(&e, self.core.clocks());
        }
        match e {
            Event::QueryAck { query, from } => {
                if let Some(tx) = self.queries.get(&query) {
                    let _ = tx.send(QueryReply::Ack(from));
                }
            }
            Event::QueryResponse {
                query,
                from,
                payload,
            } => {
                if let Some(tx) = self.queries.get(&query) {
                    let _ = tx.send(QueryReply::Response { from, payload });
                }
            }
            Event::QueryDone { query } => {
                self.queries.remove(&query);
            }
            other => {
                let _ = self.ev_tx.send(other);
            }
        }
    }
}

/// Whether a member counts as present (alive or leaving), for callers filtering `members()`.
pub fn is_present(m: &Member) -> bool {
    matches!(m.status, MemberStatus::Alive | MemberStatus::Leaving)
}
