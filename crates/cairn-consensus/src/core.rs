//! The sans-IO raft core: ticks, messages and proposals in; messages and outcomes out.
//!
//! [`RaftCore`] wraps raft-rs's `RawNode` with a log store and a state machine. It never sleeps,
//! spawns or touches the network: the tokio driver and the simulation harness both drive it.

use crate::config::RaftConfig;
use crate::error::{CoreError, RaftError};
use crate::logger::raft_logger;
use crate::membership::{decode_envelope, encode_envelope, MembershipChange, Peers};
use crate::message::RaftMessage;
use crate::state_machine::StateMachine;
use crate::store::{LogStore, PersistBatch, Snapshot, StorageAdapter};
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, SnapshotMetadata,
};
use raft::{RawNode, StateRole};
use std::collections::BTreeMap;

/// A node's role in its raft group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Following a leader (or waiting for one).
    Follower,
    /// Checking whether an election could succeed (pre-vote).
    PreCandidate,
    /// Campaigning.
    Candidate,
    /// Leading.
    Leader,
}

impl From<StateRole> for Role {
    fn from(r: StateRole) -> Self {
        match r {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        }
    }
}

/// Something the core asks its driver to do or report.
#[derive(Debug)]
pub enum CoreEvent<R> {
    /// Deliver this message to `msg.to()`.
    Send(RaftMessage),
    /// A proposal made on this node committed and was applied.
    Applied {
        /// The caller's token.
        token: u64,
        /// Log index it was applied at.
        index: u64,
        /// What the state machine returned.
        response: R,
    },
    /// A membership change made on this node committed (`Ok`) or was refused by raft (`Err`).
    MembershipApplied {
        /// The caller's token.
        token: u64,
        /// Log index.
        index: u64,
        /// Outcome.
        result: Result<(), String>,
    },
    /// The proposal's log slot was taken by another leader's entry: it was not applied.
    Dropped {
        /// The caller's token.
        token: u64,
    },
    /// A snapshot replaced the log under the proposal; whether it applied is unknown.
    Unknown {
        /// The caller's token.
        token: u64,
    },
    /// A linearizable read may proceed: the state machine has applied `index`.
    ReadReady {
        /// The caller's token.
        token: u64,
        /// The read index.
        index: u64,
    },
    /// Leadership or role changed.
    LeaderChanged {
        /// The leader, if known.
        leader: Option<u64>,
        /// This node's role now.
        role: Role,
        /// Current term.
        term: u64,
    },
    /// The cluster configuration changed (voters, learners or addresses).
    MembershipChanged,
    /// This node was removed from the cluster configuration.
    Removed,
    /// A snapshot was taken locally and the log compacted.
    SnapshotTaken {
        /// Snapshot index.
        index: u64,
    },
    /// A snapshot from the leader was installed.
    SnapshotInstalled {
        /// Snapshot index.
        index: u64,
    },
}

/// A point-in-time view of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftStatus {
    /// This node's id.
    pub id: u64,
    /// This node's role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// Known leader.
    pub leader: Option<u64>,
    /// Highest committed index.
    pub commit: u64,
    /// Highest applied index.
    pub applied: u64,
    /// First index still in the log.
    pub first_index: u64,
    /// Last index in the log.
    pub last_index: u64,
    /// Index of the latest snapshot.
    pub snapshot_index: u64,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members.
    pub learners: Vec<u64>,
    /// Known member addresses.
    pub peers: Peers,
    /// On a leader: highest index known replicated on each member.
    pub matched: BTreeMap<u64, u64>,
    /// Ticks since the last message from the leader (0 on the leader).
    pub ticks_since_leader_contact: u64,
}

const KIND_COMMAND: u8 = 1;
const KIND_MEMBERSHIP: u8 = 2;
const KIND_READ: u8 = 3;

fn make_ctx(node: u64, token: u64, kind: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    v.extend_from_slice(&node.to_be_bytes());
    v.extend_from_slice(&token.to_be_bytes());
    v.push(kind);
    v
}

fn parse_ctx(ctx: &[u8]) -> Option<(u64, u64, u8)> {
    if ctx.len() != 17 {
        return None;
    }
    let node = u64::from_be_bytes(ctx[0..8].try_into().ok()?);
    let token = u64::from_be_bytes(ctx[8..16].try_into().ok()?);
    Some((node, token, ctx[16]))
}

/// A snapshot at `index`/`term` holding `sm_data` whose configuration is exactly `voters`
/// (bootstrap, late bootstrap, and `peers.json` recovery).
pub(crate) fn config_snapshot(voters: &Peers, sm_data: &[u8], index: u64, term: u64) -> Snapshot {
    let mut meta = SnapshotMetadata {
        index,
        term,
        ..Default::default()
    };
    meta.mut_conf_state().voters = voters.keys().copied().collect();
    let mut snap = Snapshot::default();
    snap.set_metadata(meta);
    snap.data = encode_envelope(voters, sm_data).into();
    snap
}

struct Pending {
    token: u64,
    ctx: Vec<u8>,
}

/// The raft state machine driver, free of I/O.
pub struct RaftCore<S: StateMachine, L: LogStore> {
    node: RawNode<StorageAdapter<L>>,
    sm: S,
    cfg: RaftConfig,
    peers: Peers,
    applied: u64,
    snapshot_index: u64,
    snapshot_wanted: bool,
    pending: BTreeMap<u64, Pending>,
    reads: Vec<(u64, u64)>,
    /// Read requests made on a leader before it committed an entry of its term (raft-rs drops
    /// those silently); issued once it has.
    deferred_reads: Vec<u64>,
    leader: Option<u64>,
    role: Role,
    ticks_since_leader: u64,
    removed: bool,
}

impl<S: StateMachine, L: LogStore> RaftCore<S, L> {
    /// Write the first configuration into an empty store: a snapshot at index 1 holding
    /// `voters` and the state machine's initial state. Returns `false` (and changes nothing)
    /// when the store already holds a cluster.
    pub fn bootstrap(store: &mut L, sm: &S, voters: &Peers) -> Result<bool, CoreError> {
        let st = store.initial_state()?;
        if st.snapshot.is_some()
            || !st.conf_state.voters.is_empty()
            || !st.conf_state.learners.is_empty()
            || store.last_index() > 0
        {
            return Ok(false);
        }
        if voters.is_empty() {
            return Err(CoreError::Raft("bootstrap needs at least one voter".into()));
        }
        let snap = config_snapshot(voters, &sm.snapshot()?, 1, 1);
        let hs = raft::eraftpb::HardState {
            term: 1,
            commit: 1,
            ..Default::default()
        };
        store.write(PersistBatch {
            snapshot: Some(snap),
            entries: Vec::new(),
            hard_state: Some(hs),
            sync: true,
        })?;
        Ok(true)
    }

    /// Bootstrap a running node that has no cluster yet (Consul's `-bootstrap-expect`, decided
    /// after start): install the same first configuration [`RaftCore::bootstrap`] writes,
    /// through raft's snapshot path so it is persisted by the next ready round. Every server
    /// given the identical `voters` may do this; the resulting logs are identical. Returns
    /// `false` (and changes nothing) when the node already has a configuration or a log.
    pub fn bootstrap_running(&mut self, voters: &Peers) -> Result<bool, CoreError> {
        if voters.is_empty() || !voters.contains_key(&self.cfg.id) {
            return Err(CoreError::Raft(
                "bootstrap needs a voter set that includes this node".into(),
            ));
        }
        let raft = &self.node.raft;
        let cs = raft.prs().conf().to_conf_state();
        let has_conf = !cs.voters.is_empty() || !cs.learners.is_empty();
        if has_conf || raft.raft_log.last_index() > 0 || self.applied > 0 {
            return Ok(false);
        }
        let snap = config_snapshot(voters, &self.sm.snapshot()?, 1, 1);
        if self.node.raft.term < 1 {
            self.node.raft.become_follower(1, raft::INVALID_ID);
        }
        if !self.node.raft.restore(snap) {
            return Err(CoreError::Raft(
                "raft refused the bootstrap snapshot".into(),
            ));
        }
        Ok(true)
    }

    /// Open a node on `store`, restoring `sm` from the stored snapshot. The log after the
    /// snapshot is replayed into `sm` by the first rounds of [`RaftCore::process_ready`].
    pub fn new(cfg: RaftConfig, store: L, mut sm: S) -> Result<Self, CoreError> {
        let st = store.initial_state()?;
        let mut peers = Peers::new();
        let mut applied = 0;
        if let Some(snap) = &st.snapshot {
            let (p, data) =
                decode_envelope(&snap.data).map_err(crate::error::StoreError::Corrupt)?;
            let index = snap.get_metadata().index;
            sm.restore(index, data)?;
            peers = p;
            applied = index;
        }
        let logger = raft_logger(cfg.id, cfg.raft_log_level);
        let raft_cfg = cfg.to_raft(applied);
        raft_cfg
            .validate()
            .map_err(|e| CoreError::Raft(format!("invalid raft config: {e}")))?;
        let node = RawNode::new(&raft_cfg, StorageAdapter::new(store), &logger)
            .map_err(|e| CoreError::Raft(e.to_string()))?;
        Ok(RaftCore {
            node,
            sm,
            cfg,
            peers,
            applied,
            snapshot_index: applied,
            snapshot_wanted: false,
            pending: BTreeMap::new(),
            reads: Vec::new(),
            deferred_reads: Vec::new(),
            leader: None,
            role: Role::Follower,
            ticks_since_leader: 0,
            removed: false,
        })
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.cfg.id
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.node.raft.term
    }

    /// The known leader.
    pub fn leader(&self) -> Option<u64> {
        self.leader
    }

    /// Whether this node leads, has committed an entry of its term, and has applied everything
    /// committed (see [`crate::NodeState::leader_ready`]).
    pub fn leader_ready(&self) -> bool {
        self.role == Role::Leader
            && self.node.raft.commit_to_current_term()
            && self.applied >= self.node.raft.raft_log.committed
    }

    /// Highest applied index.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The state machine (for reads in tests and for snapshots of the applied state).
    pub fn state_machine(&self) -> &S {
        &self.sm
    }

    /// The log store.
    pub fn store(&self) -> &L {
        &self.node.store().inner
    }

    /// Advance logical time by one tick.
    pub fn tick(&mut self) {
        self.node.tick();
        if self.role != Role::Leader {
            self.ticks_since_leader = self.ticks_since_leader.saturating_add(1);
        }
    }

    /// Start an election now (a single-voter cluster elects itself at once).
    pub fn campaign(&mut self) -> Result<(), RaftError> {
        self.node
            .campaign()
            .map_err(|e| RaftError::Rejected(e.to_string()))
    }

    /// Feed a message from a peer. Messages for another node or from an unknown peer are ignored.
    pub fn step(&mut self, msg: RaftMessage) {
        if msg.to() != self.cfg.id {
            tracing::debug!(to = msg.to(), "dropping raft message for another node");
            return;
        }
        if Some(msg.from()) == self.leader {
            self.ticks_since_leader = 0;
        }
        if let Err(e) = self.node.step(msg.0) {
            tracing::debug!(error = %e, "raft step refused a message");
        }
    }

    fn not_leader(&self) -> RaftError {
        RaftError::NotLeader {
            leader: self.leader,
            leader_addr: self.leader.and_then(|l| self.peers.get(&l).cloned()),
        }
    }

    /// Propose a command. Only the leader accepts proposals; the outcome arrives later as
    /// [`CoreEvent::Applied`] or [`CoreEvent::Dropped`] with `token`.
    pub fn propose(&mut self, token: u64, data: Vec<u8>) -> Result<u64, RaftError> {
        if self.role != Role::Leader {
            return Err(self.not_leader());
        }
        let ctx = make_ctx(self.cfg.id, token, KIND_COMMAND);
        self.node
            .propose(ctx.clone(), data)
            .map_err(|e| RaftError::Rejected(e.to_string()))?;
        let index = self.node.raft.raft_log.last_index();
        self.pending.insert(index, Pending { token, ctx });
        Ok(index)
    }

    /// Propose a membership change (leader only, one at a time).
    pub fn propose_membership(
        &mut self,
        token: u64,
        change: &MembershipChange,
    ) -> Result<u64, RaftError> {
        if self.role != Role::Leader {
            return Err(self.not_leader());
        }
        if self.node.raft.has_pending_conf() {
            return Err(RaftError::Rejected(
                "a membership change is already in progress".into(),
            ));
        }
        let conf = self.node.raft.prs().conf().to_conf_state();
        let is_voter = |id: &u64| conf.voters.contains(id);
        let is_learner = |id: &u64| conf.learners.contains(id);
        let (id, ty, context) = match change {
            MembershipChange::AddLearner { id, addr } => {
                if is_voter(id) {
                    return Err(RaftError::Rejected(format!("{id} is already a voter")));
                }
                (
                    *id,
                    ConfChangeType::AddLearnerNode,
                    addr.clone().into_bytes(),
                )
            }
            MembershipChange::Promote { id } => {
                if !is_learner(id) {
                    return Err(RaftError::Rejected(format!("{id} is not a learner")));
                }
                (*id, ConfChangeType::AddNode, Vec::new())
            }
            MembershipChange::Demote { id } => {
                if !is_voter(id) {
                    return Err(RaftError::Rejected(format!("{id} is not a voter")));
                }
                (*id, ConfChangeType::AddLearnerNode, Vec::new())
            }
            MembershipChange::Remove { id } => {
                if !is_voter(id) && !is_learner(id) {
                    return Err(RaftError::Rejected(format!("{id} is not a member")));
                }
                if is_voter(id) && conf.voters.len() == 1 {
                    return Err(RaftError::Rejected("cannot remove the last voter".into()));
                }
                (*id, ConfChangeType::RemoveNode, Vec::new())
            }
        };
        if id == 0 {
            return Err(RaftError::Rejected("raft id 0 is reserved".into()));
        }
        let mut single = ConfChangeSingle {
            node_id: id,
            ..Default::default()
        };
        single.set_change_type(ty);
        let mut cc = ConfChangeV2::default();
        cc.set_transition(ConfChangeTransition::Auto);
        cc.changes = vec![single].into();
        cc.context = context.into();
        let ctx = make_ctx(self.cfg.id, token, KIND_MEMBERSHIP);
        self.node
            .propose_conf_change(ctx.clone(), cc)
            .map_err(|e| RaftError::Rejected(e.to_string()))?;
        let index = self.node.raft.raft_log.last_index();
        self.pending.insert(index, Pending { token, ctx });
        Ok(index)
    }

    /// Ask for a linearizable read point; [`CoreEvent::ReadReady`] follows once it is safe.
    /// If no leader is reachable the request is silently lost: drivers time out.
    pub fn read_index(&mut self, token: u64) -> Result<(), RaftError> {
        if self.leader.is_none() {
            return Err(self.not_leader());
        }
        if self.role == Role::Leader && !self.node.raft.commit_to_current_term() {
            self.deferred_reads.push(token);
            return Ok(());
        }
        self.node
            .read_index(make_ctx(self.cfg.id, token, KIND_READ));
        Ok(())
    }

    /// Issue deferred reads once this leader has committed in its term; a node that lost
    /// leadership meanwhile issues them too, and raft forwards them to the new leader.
    fn issue_deferred_reads(&mut self) {
        if self.deferred_reads.is_empty()
            || (self.role == Role::Leader && !self.node.raft.commit_to_current_term())
        {
            return;
        }
        for token in std::mem::take(&mut self.deferred_reads) {
            self.node
                .read_index(make_ctx(self.cfg.id, token, KIND_READ));
        }
    }

    /// Hand leadership to `to` (leader only).
    pub fn transfer_leader(&mut self, to: u64) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(self.not_leader());
        }
        if !self.node.raft.prs().conf().voters().contains(to) {
            return Err(RaftError::Rejected(format!("{to} is not a voter")));
        }
        self.node.transfer_leader(to);
        Ok(())
    }

    /// Report that a message to `id` could not be delivered.
    pub fn report_unreachable(&mut self, id: u64) {
        self.node.report_unreachable(id);
    }

    /// Report the outcome of sending a snapshot to `id`.
    pub fn report_snapshot(&mut self, id: u64, delivered: bool) {
        let status = if delivered {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        self.node.report_snapshot(id, status);
    }

    /// Ask for a snapshot at the next opportunity (e.g. before an operator backup).
    pub fn request_snapshot(&mut self) {
        self.snapshot_wanted = true;
    }

    /// A snapshot of this node's status.
    pub fn status(&self) -> RaftStatus {
        let conf = self.node.raft.prs().conf().to_conf_state();
        let matched = if self.role == Role::Leader {
            self.node
                .raft
                .prs()
                .iter()
                .map(|(id, pr)| (*id, pr.matched))
                .collect()
        } else {
            BTreeMap::new()
        };
        RaftStatus {
            id: self.cfg.id,
            role: self.role,
            term: self.node.raft.term,
            leader: self.leader,
            commit: self.node.raft.raft_log.committed,
            applied: self.applied,
            first_index: self.store().first_index(),
            last_index: self.node.raft.raft_log.last_index(),
            snapshot_index: self.snapshot_index,
            voters: conf.voters.clone(),
            learners: conf.learners.clone(),
            peers: self.peers.clone(),
            matched,
            ticks_since_leader_contact: if self.role == Role::Leader {
                0
            } else {
                self.ticks_since_leader
            },
        }
    }

    /// Whether there is work for [`RaftCore::process_ready`].
    pub fn has_ready(&self) -> bool {
        self.node.has_ready()
            || self.snapshot_wanted
            || self
                .node
                .store()
                .snapshot_requested
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Persist, send and apply whatever raft has ready, in the safe order: leader appends go
    /// out first, then one atomic (synced) write of snapshot + entries + hard state, then
    /// messages that depend on that write, then committed entries are applied.
    ///
    /// An error means the node must stop: nothing after the failed write has been done.
    pub fn process_ready(
        &mut self,
        out: &mut Vec<CoreEvent<S::Response>>,
    ) -> Result<(), CoreError> {
        if self.node.has_ready() {
            self.process_raft_ready(out)?;
        }
        self.issue_deferred_reads();
        if self.node.has_ready() {
            self.process_raft_ready(out)?;
        }
        self.release_reads(out);
        self.maybe_snapshot(out)?;
        Ok(())
    }

    fn process_raft_ready(
        &mut self,
        out: &mut Vec<CoreEvent<S::Response>>,
    ) -> Result<(), CoreError> {
        let mut ready = self.node.ready();
        if let Some(ss) = ready.ss() {
            let leader = (ss.leader_id != 0).then_some(ss.leader_id);
            let role = Role::from(ss.raft_state);
            if leader != self.leader || role != self.role {
                if leader != self.leader {
                    self.ticks_since_leader = 0;
                }
                self.leader = leader;
                self.role = role;
                out.push(CoreEvent::LeaderChanged {
                    leader,
                    role,
                    term: self.node.raft.term,
                });
            }
        }
        for m in ready.take_messages() {
            out.push(CoreEvent::Send(RaftMessage(m)));
        }
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        let batch = PersistBatch {
            snapshot: snapshot.clone(),
            entries: ready.take_entries(),
            hard_state: ready.hs().cloned(),
            sync: ready.must_sync(),
        };
        if batch.snapshot.is_some() || !batch.entries.is_empty() || batch.hard_state.is_some() {
            self.node.mut_store().inner.write(batch)?;
        }
        if let Some(snap) = snapshot {
            self.install_snapshot(&snap, out)?;
        }
        for rs in ready.take_read_states() {
            if let Some((node, token, KIND_READ)) = parse_ctx(&rs.request_ctx) {
                if node == self.cfg.id {
                    self.reads.push((rs.index, token));
                }
            }
        }
        for m in ready.take_persisted_messages() {
            out.push(CoreEvent::Send(RaftMessage(m)));
        }
        let committed = ready.take_committed_entries();
        self.apply_entries(committed, out)?;
        let mut light = self.node.advance(ready);
        if let Some(commit) = light.commit_index() {
            // The commit index must be durable before entries it covers are applied.
            let mut hs = self.node.raft.hard_state();
            hs.commit = commit;
            self.node.mut_store().inner.write(PersistBatch {
                hard_state: Some(hs),
                sync: false,
                ..Default::default()
            })?;
        }
        for m in light.take_messages() {
            out.push(CoreEvent::Send(RaftMessage(m)));
        }
        let committed = light.take_committed_entries();
        self.apply_entries(committed, out)?;
        self.node.advance_apply();
        Ok(())
    }

    fn install_snapshot(
        &mut self,
        snap: &Snapshot,
        out: &mut Vec<CoreEvent<S::Response>>,
    ) -> Result<(), CoreError> {
        let index = snap.get_metadata().index;
        let (peers, data) =
            decode_envelope(&snap.data).map_err(crate::error::StoreError::Corrupt)?;
        self.sm.restore(index, data)?;
        self.peers = peers;
        self.applied = index;
        self.snapshot_index = index;
        let covered: Vec<u64> = self.pending.range(..=index).map(|(i, _)| *i).collect();
        for i in covered {
            if let Some(p) = self.pending.remove(&i) {
                out.push(CoreEvent::Unknown { token: p.token });
            }
        }
        out.push(CoreEvent::SnapshotInstalled { index });
        out.push(CoreEvent::MembershipChanged);
        Ok(())
    }

    fn apply_entries(
        &mut self,
        entries: Vec<Entry>,
        out: &mut Vec<CoreEvent<S::Response>>,
    ) -> Result<(), CoreError> {
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    let response = (!e.data.is_empty()).then(|| self.sm.apply(e.index, &e.data));
                    self.applied = e.index;
                    self.resolve(e.index, &e.context, out, |token, index| match response {
                        Some(response) => CoreEvent::Applied {
                            token,
                            index,
                            response,
                        },
                        None => CoreEvent::Dropped { token },
                    });
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    let result = self.apply_conf_change(&e);
                    self.applied = e.index;
                    self.resolve(e.index, &e.context, out, |token, index| {
                        CoreEvent::MembershipApplied {
                            token,
                            index,
                            result,
                        }
                    });
                    out.push(CoreEvent::MembershipChanged);
                    if self.removed {
                        out.push(CoreEvent::Removed);
                    }
                }
            }
        }
        Ok(())
    }

    fn resolve(
        &mut self,
        index: u64,
        ctx: &[u8],
        out: &mut Vec<CoreEvent<S::Response>>,
        matched: impl FnOnce(u64, u64) -> CoreEvent<S::Response>,
    ) {
        // Anything pending below this index lost its slot (should not happen; be safe).
        let stale: Vec<u64> = self.pending.range(..index).map(|(i, _)| *i).collect();
        for i in stale {
            if let Some(p) = self.pending.remove(&i) {
                out.push(CoreEvent::Dropped { token: p.token });
            }
        }
        if let Some(p) = self.pending.remove(&index) {
            if p.ctx == ctx {
                out.push(matched(p.token, index));
            } else {
                out.push(CoreEvent::Dropped { token: p.token });
            }
        }
    }

    fn apply_conf_change(&mut self, e: &Entry) -> Result<(), String> {
        let cc = match e.get_entry_type() {
            EntryType::EntryConfChangeV2 => ConfChangeV2::parse_from_bytes(&e.data)
                .map_err(|err| format!("undecodable conf change: {err}"))?,
            // Cairn only ever proposes V2 changes; a V1 entry means a foreign log.
            _ => return Err("legacy (v1) conf change entries are not supported".into()),
        };
        let cs: ConfState = match self.node.apply_conf_change(&cc) {
            Ok(cs) => cs,
            Err(err) => {
                tracing::warn!(index = e.index, error = %err, "raft refused a conf change");
                return Err(err.to_string());
            }
        };
        for ch in cc.changes.iter() {
            match ch.get_change_type() {
                ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                    if !cc.context.is_empty() {
                        if let Ok(addr) = std::str::from_utf8(&cc.context) {
                            self.peers.insert(ch.node_id, addr.to_string());
                        }
                    }
                }
                ConfChangeType::RemoveNode => {
                    self.peers.remove(&ch.node_id);
                }
            }
        }
        let me = self.cfg.id;
        self.removed = !cs.voters.contains(&me)
            && !cs.learners.contains(&me)
            && !cs.voters_outgoing.contains(&me)
            && !cs.learners_next.contains(&me);
        if !cs.voters_outgoing.is_empty() && self.role == Role::Leader {
            // Joint configuration: leave it explicitly with an empty V2 change.
            let leave = ConfChangeV2::default();
            if let Err(err) = self.node.propose_conf_change(Vec::new(), leave) {
                tracing::warn!(error = %err, "could not propose leaving joint configuration");
            }
        }
        tracing::info!(index = e.index, voters = ?cs.voters, learners = ?cs.learners, "raft configuration changed");
        Ok(())
    }

    fn release_reads(&mut self, out: &mut Vec<CoreEvent<S::Response>>) {
        let applied = self.applied;
        self.reads.retain(|&(index, token)| {
            if index <= applied {
                out.push(CoreEvent::ReadReady { token, index });
                false
            } else {
                true
            }
        });
    }

    fn maybe_snapshot(&mut self, out: &mut Vec<CoreEvent<S::Response>>) -> Result<(), CoreError> {
        if self.node.store().take_snapshot_request() {
            self.snapshot_wanted = true;
        }
        let due = self.applied.saturating_sub(self.snapshot_index) >= self.cfg.snapshot_threshold;
        if !(due || self.snapshot_wanted) || self.applied <= self.snapshot_index {
            self.snapshot_wanted = false;
            return Ok(());
        }
        self.snapshot_wanted = false;
        let index = self.applied;
        let term = self
            .node
            .raft
            .raft_log
            .term(index)
            .map_err(|e| CoreError::Raft(format!("term of applied index {index}: {e}")))?;
        let data = encode_envelope(&self.peers, &self.sm.snapshot()?);
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.node.raft.prs().conf().to_conf_state());
        let mut snap = Snapshot::default();
        snap.set_metadata(meta);
        snap.data = data.into();
        let store = &mut self.node.mut_store().inner;
        store.save_snapshot(snap)?;
        let compact_to = index.saturating_sub(self.cfg.trailing_logs);
        if compact_to >= store.first_index() {
            store.compact(compact_to)?;
        }
        self.snapshot_index = index;
        tracing::debug!(index, compact_to, "raft snapshot taken");
        out.push(CoreEvent::SnapshotTaken { index });
        Ok(())
    }
}
