//! The tokio driver: one thread per raft node owns its [`RaftCore`]; callers hold a
//! [`RaftHandle`].
//!
//! The node runs on a dedicated OS thread with a current-thread runtime, so synchronous fsyncs
//! never stall the caller's runtime. Commands are drained in batches: many proposals share one
//! `Ready` and therefore one synced write.

use crate::config::RaftConfig;
use crate::core::{CoreEvent, RaftCore, RaftStatus, Role};
use crate::error::{CoreError, RaftError};
use crate::membership::{MembershipChange, Peers};
use crate::message::RaftMessage;
use crate::state_machine::StateMachine;
use crate::store::LogStore;
use crate::transport::{DeliveryReport, RaftTransport, ReportSink};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Leadership as last observed, cheap to read from any thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// This node's role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// Known leader.
    pub leader: Option<u64>,
    /// Known leader's address.
    pub leader_addr: Option<String>,
    /// Highest applied index.
    pub applied: u64,
    /// A leader that has committed an entry of its own term and applied everything committed:
    /// its local state holds every write any earlier leader acknowledged, so it may serve
    /// reads from it.
    pub leader_ready: bool,
    /// Set once the node has stopped, with the reason.
    pub stopped: Option<String>,
}

type Reply<T> = oneshot::Sender<Result<T, RaftError>>;

enum Command<R> {
    Propose(Vec<u8>, Reply<R>),
    Read(Reply<u64>),
    Membership(MembershipChange, Reply<()>),
    Transfer(u64, Reply<()>),
    Status(oneshot::Sender<RaftStatus>),
    Campaign,
    Snapshot,
    Bootstrap(Peers, oneshot::Sender<Result<bool, RaftError>>),
    Shutdown,
}

/// A handle to a running raft node. Cheap to clone.
pub struct RaftHandle<R> {
    id: u64,
    commands: mpsc::Sender<Command<R>>,
    inbound: mpsc::Sender<RaftMessage>,
    state: watch::Receiver<NodeState>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    tick: Duration,
}

impl<R> Clone for RaftHandle<R> {
    fn clone(&self) -> Self {
        RaftHandle {
            id: self.id,
            commands: self.commands.clone(),
            inbound: self.inbound.clone(),
            state: self.state.clone(),
            thread: self.thread.clone(),
            tick: self.tick,
        }
    }
}

/// Notifies of leadership changes of one node.
pub struct StateWatcher {
    rx: watch::Receiver<NodeState>,
}

impl StateWatcher {
    /// The latest state.
    pub fn get(&self) -> NodeState {
        self.rx.borrow().clone()
    }

    /// Wait for the next change; `None` once the node is gone.
    pub async fn changed(&mut self) -> Option<NodeState> {
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().clone())
    }
}

fn stopped<T>(state: &watch::Receiver<NodeState>) -> Result<T, RaftError> {
    let reason = state
        .borrow()
        .stopped
        .clone()
        .unwrap_or_else(|| "shut down".to_string());
    Err(RaftError::Stopped(reason))
}

impl<R: Send + 'static> RaftHandle<R> {
    /// Start a node on its own thread. The store must hold a cluster (see
    /// [`RaftCore::bootstrap`]) or be empty for a node that will be added by a leader.
    pub fn start<S, L, T>(cfg: RaftConfig, store: L, sm: S, transport: T) -> Result<Self, CoreError>
    where
        S: StateMachine<Response = R>,
        L: LogStore,
        T: RaftTransport,
    {
        let id = cfg.id;
        let tick = cfg.tick_interval;
        let core = RaftCore::new(cfg.clone(), store, sm)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(16 * 1024);
        let (in_tx, in_rx) = mpsc::channel(16 * 1024);
        let (state_tx, state_rx) = watch::channel(NodeState {
            role: Role::Follower,
            term: core.term(),
            leader: None,
            leader_addr: None,
            applied: core.applied(),
            leader_ready: false,
            stopped: None,
        });
        let thread = std::thread::Builder::new()
            .name(format!("raft-{id}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        state_tx.send_modify(|s| s.stopped = Some(format!("runtime: {e}")));
                        return;
                    }
                };
                let panic_state = state_tx.clone();
                let node = NodeLoop {
                    core,
                    cfg,
                    transport,
                    state: state_tx,
                    proposals: HashMap::new(),
                    reads: HashMap::new(),
                    memberships: HashMap::new(),
                    next_token: 1,
                };
                // raft-rs panics on invariant violations (e.g. unreadable storage): turn that
                // into a stopped node rather than a silently dead thread.
                let run = std::panic::AssertUnwindSafe(|| rt.block_on(node.run(cmd_rx, in_rx)));
                if let Err(panic) = std::panic::catch_unwind(run) {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".to_string());
                    tracing::error!(id, reason = %what, "raft node crashed");
                    panic_state
                        .send_modify(|s| s.stopped = Some(format!("raft node crashed: {what}")));
                }
            })
            .map_err(|e| CoreError::Raft(format!("spawn raft thread: {e}")))?;
        Ok(RaftHandle {
            id,
            commands: cmd_tx,
            inbound: in_tx,
            state: state_rx,
            thread: Arc::new(Mutex::new(Some(thread))),
            tick,
        })
    }

    /// Bootstrap this running node with `voters` if it has no cluster yet (see
    /// [`RaftCore::bootstrap_running`]). `Ok(false)` when it already had one.
    pub async fn bootstrap(&self, voters: Peers) -> Result<bool, RaftError> {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Bootstrap(voters, tx))
            .await
            .is_err()
        {
            return stopped(&self.state);
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => stopped(&self.state),
        }
    }

    /// This node's raft id.
    pub fn id(&self) -> u64 {
        self.id
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command<R>) -> Result<T, RaftError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(make(tx)).await.is_err() {
            return stopped(&self.state);
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => stopped(&self.state),
        }
    }

    /// Replicate `data` and return what the state machine answered once it is applied.
    /// Only the leader accepts proposals ([`RaftError::NotLeader`] names the leader).
    pub async fn propose(&self, data: Vec<u8>) -> Result<R, RaftError> {
        self.call(|tx| Command::Propose(data, tx)).await
    }

    /// A linearizable read point: once this returns, the local state machine reflects every
    /// write acknowledged before the call. Fails with `Timeout` if no leader confirms in time.
    pub async fn read_index(&self) -> Result<u64, RaftError> {
        self.read_index_within(self.tick * 50).await
    }

    /// [`RaftHandle::read_index`] waiting at most `wait`. A follower's request can be lost
    /// (the leader drops read requests until it has committed an entry of its term), so
    /// callers retry with a short `wait` rather than wait long once.
    pub async fn read_index_within(&self, wait: Duration) -> Result<u64, RaftError> {
        match tokio::time::timeout(wait, self.call(Command::Read)).await {
            Ok(r) => r,
            Err(_) => Err(RaftError::Timeout),
        }
    }

    /// Apply one membership change (leader only) and wait until it is committed.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<(), RaftError> {
        self.call(|tx| Command::Membership(change, tx)).await
    }

    /// Add a server: first as a learner, then, once it has caught up, as a voter.
    pub async fn add_server(&self, id: u64, addr: String) -> Result<(), RaftError> {
        let status = self.status().await?;
        if status.voters.contains(&id) {
            return Ok(());
        }
        if !status.learners.contains(&id) {
            self.change_membership(MembershipChange::AddLearner { id, addr })
                .await?;
        }
        let deadline = tokio::time::Instant::now() + self.tick * 600;
        loop {
            let st = self.status().await?;
            if st.role != Role::Leader {
                return Err(RaftError::NotLeader {
                    leader: st.leader,
                    leader_addr: st.leader.and_then(|l| st.peers.get(&l).cloned()),
                });
            }
            let matched = st.matched.get(&id).copied().unwrap_or(0);
            if matched + 16 >= st.commit {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(RaftError::Timeout);
            }
            tokio::time::sleep(self.tick).await;
        }
        self.change_membership(MembershipChange::Promote { id })
            .await
    }

    /// Remove a server (voter or learner).
    pub async fn remove_server(&self, id: u64) -> Result<(), RaftError> {
        self.change_membership(MembershipChange::Remove { id })
            .await
    }

    /// Hand leadership to `to` and wait (bounded) until it has taken over.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), RaftError> {
        self.call(|tx| Command::Transfer(to, tx)).await?;
        let mut w = self.watch();
        // Room for the target to catch up first on a loaded machine (30 ticks proved tight).
        let wait = self.tick * 60;
        let done = tokio::time::timeout(wait, async {
            loop {
                if w.get().leader == Some(to) {
                    return true;
                }
                if w.changed().await.is_none() {
                    return false;
                }
            }
        })
        .await;
        match done {
            Ok(true) => Ok(()),
            Ok(false) => stopped(&self.state),
            Err(_) => Err(RaftError::Timeout),
        }
    }

    /// A full status snapshot of the node.
    pub async fn status(&self) -> Result<RaftStatus, RaftError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Status(tx)).await.is_err() {
            return stopped(&self.state);
        }
        rx.await.or_else(|_| stopped(&self.state))
    }

    /// The leader as last observed (no round trip).
    pub fn state(&self) -> NodeState {
        self.state.borrow().clone()
    }

    /// Follow leadership changes.
    pub fn watch(&self) -> StateWatcher {
        StateWatcher {
            rx: self.state.clone(),
        }
    }

    /// Start an election now (used to elect a single bootstrapped server at once).
    pub async fn campaign(&self) {
        let _ = self.commands.send(Command::Campaign).await;
    }

    /// Ask for a snapshot and log compaction at the next opportunity.
    pub async fn request_snapshot(&self) {
        let _ = self.commands.send(Command::Snapshot).await;
    }

    /// Hand a message from a peer to this node. Dropped (raft retries) if the node is busy.
    pub fn step(&self, msg: RaftMessage) {
        let _ = self.inbound.try_send(msg);
    }

    /// Stop the node and wait for its thread to finish.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let thread = self.thread.lock().take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

struct NodeLoop<S: StateMachine, L: LogStore, T> {
    core: RaftCore<S, L>,
    cfg: RaftConfig,
    transport: T,
    state: watch::Sender<NodeState>,
    proposals: HashMap<u64, Reply<S::Response>>,
    reads: HashMap<u64, Reply<u64>>,
    memberships: HashMap<u64, Reply<()>>,
    next_token: u64,
}

impl<S: StateMachine, L: LogStore, T: RaftTransport> NodeLoop<S, L, T> {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command<S::Response>>,
        mut inbound: mpsc::Receiver<RaftMessage>,
    ) {
        let (report_tx, mut report_rx) = mpsc::unbounded_channel();
        let reports = ReportSink { tx: report_tx };
        let mut ticker = tokio::time::interval(self.cfg.tick_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.transport.set_peers(&self.core.status().peers);
        let mut events = Vec::new();
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    if !self.handle_command(cmd) {
                        break;
                    }
                    for _ in 0..self.cfg.max_batch {
                        match commands.try_recv() {
                            Ok(cmd) => if !self.handle_command(cmd) { return self.stop("shut down".into()) },
                            Err(_) => break,
                        }
                    }
                }
                Some(msg) = inbound.recv() => {
                    self.core.step(msg);
                    for _ in 0..self.cfg.max_batch {
                        match inbound.try_recv() {
                            Ok(msg) => self.core.step(msg),
                            Err(_) => break,
                        }
                    }
                }
                Some(report) = report_rx.recv() => self.handle_report(report),
                _ = ticker.tick() => {
                    self.core.tick();
                    self.forget_abandoned();
                }
            }
            while self.core.has_ready() {
                if let Err(e) = self.core.process_ready(&mut events) {
                    tracing::error!(id = self.cfg.id, error = %e, "raft node stopping after a fatal error");
                    return self.stop(e.to_string());
                }
                for ev in events.drain(..) {
                    self.handle_event(ev, &reports);
                }
            }
        }
        self.stop("shut down".into());
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Returns `false` on shutdown.
    fn handle_command(&mut self, cmd: Command<S::Response>) -> bool {
        match cmd {
            Command::Propose(data, tx) => {
                let token = self.token();
                match self.core.propose(token, data) {
                    Ok(_) => {
                        self.proposals.insert(token, tx);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            }
            Command::Read(tx) => {
                let token = self.token();
                match self.core.read_index(token) {
                    Ok(()) => {
                        self.reads.insert(token, tx);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            }
            Command::Membership(change, tx) => {
                let token = self.token();
                match self.core.propose_membership(token, &change) {
                    Ok(_) => {
                        self.memberships.insert(token, tx);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            }
            Command::Transfer(to, tx) => {
                let _ = tx.send(self.core.transfer_leader(to));
            }
            Command::Status(tx) => {
                let _ = tx.send(self.core.status());
            }
            Command::Campaign => {
                if let Err(e) = self.core.campaign() {
                    tracing::debug!(error = %e, "campaign refused");
                }
            }
            Command::Snapshot => self.core.request_snapshot(),
            Command::Bootstrap(voters, tx) => {
                let r = self
                    .core
                    .bootstrap_running(&voters)
                    .map_err(|e| RaftError::Rejected(e.to_string()));
                let _ = tx.send(r);
            }
            Command::Shutdown => return false,
        }
        true
    }

    fn handle_report(&mut self, report: DeliveryReport) {
        match report {
            DeliveryReport::Unreachable(id) => self.core.report_unreachable(id),
            DeliveryReport::Snapshot(id, ok) => self.core.report_snapshot(id, ok),
        }
    }

    fn handle_event(&mut self, ev: CoreEvent<S::Response>, reports: &ReportSink) {
        match ev {
            CoreEvent::Send(msg) => self.transport.send(msg, reports),
            CoreEvent::Applied {
                token, response, ..
            } => {
                if let Some(tx) = self.proposals.remove(&token) {
                    let _ = tx.send(Ok(response));
                }
            }
            CoreEvent::Dropped { token } => {
                if let Some(tx) = self.proposals.remove(&token) {
                    let _ = tx.send(Err(RaftError::ProposalDropped));
                }
                if let Some(tx) = self.memberships.remove(&token) {
                    let _ = tx.send(Err(RaftError::ProposalDropped));
                }
            }
            CoreEvent::Unknown { token } => {
                if let Some(tx) = self.proposals.remove(&token) {
                    let _ = tx.send(Err(RaftError::Timeout));
                }
                if let Some(tx) = self.memberships.remove(&token) {
                    let _ = tx.send(Err(RaftError::Timeout));
                }
            }
            CoreEvent::MembershipApplied { token, result, .. } => {
                if let Some(tx) = self.memberships.remove(&token) {
                    let _ = tx.send(result.map_err(RaftError::Rejected));
                }
            }
            CoreEvent::ReadReady { token, index } => {
                if let Some(tx) = self.reads.remove(&token) {
                    let _ = tx.send(Ok(index));
                }
            }
            CoreEvent::LeaderChanged { leader, role, term } => {
                let leader_addr = leader.and_then(|l| self.core.status().peers.get(&l).cloned());
                if role == Role::Leader {
                    tracing::info!(id = self.cfg.id, term, "raft leadership acquired");
                } else if let Some(l) = leader {
                    tracing::info!(id = self.cfg.id, leader = l, term, "raft leader elected");
                }
                self.state.send_modify(|s| {
                    s.role = role;
                    s.term = term;
                    s.leader = leader;
                    s.leader_addr = leader_addr;
                });
            }
            CoreEvent::MembershipChanged => {
                let st = self.core.status();
                self.transport.set_peers(&st.peers);
                let leader_addr = st.leader.and_then(|l| st.peers.get(&l).cloned());
                self.state.send_if_modified(|s| {
                    let changed = s.leader_addr != leader_addr;
                    s.leader_addr = leader_addr;
                    changed
                });
            }
            CoreEvent::Removed => {
                tracing::warn!(
                    id = self.cfg.id,
                    "this node was removed from the raft configuration"
                );
            }
            CoreEvent::SnapshotTaken { index } | CoreEvent::SnapshotInstalled { index } => {
                tracing::debug!(id = self.cfg.id, index, "raft snapshot");
            }
        }
        let applied = self.core.applied();
        let ready = self.core.leader_ready();
        self.state.send_if_modified(|s| {
            let changed = s.applied != applied || s.leader_ready != ready;
            s.applied = applied;
            s.leader_ready = ready;
            changed
        });
    }

    /// Drop bookkeeping for callers that stopped waiting.
    fn forget_abandoned(&mut self) {
        self.reads.retain(|_, tx| !tx.is_closed());
    }

    fn stop(mut self, reason: String) {
        self.state.send_modify(|s| s.stopped = Some(reason.clone()));
        for (_, tx) in self.proposals.drain() {
            let _ = tx.send(Err(RaftError::Stopped(reason.clone())));
        }
        for (_, tx) in self.reads.drain() {
            let _ = tx.send(Err(RaftError::Stopped(reason.clone())));
        }
        for (_, tx) in self.memberships.drain() {
            let _ = tx.send(Err(RaftError::Stopped(reason.clone())));
        }
    }
}
