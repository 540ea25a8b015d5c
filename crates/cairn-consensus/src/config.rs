//! Raft node configuration.

use std::time::Duration;

/// How a raft node is tuned. Defaults suit a LAN cluster; `-dev` agents tick faster.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This node's raft id (non-zero, unique in the cluster).
    pub id: u64,
    /// Wall-clock length of one logical tick (driver only; the core counts ticks).
    pub tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns.
    pub election_tick: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: usize,
    /// Largest append message in bytes.
    pub max_size_per_msg: u64,
    /// Append messages in flight per follower.
    pub max_inflight_msgs: usize,
    /// Bytes of uncommitted entries a leader accepts before refusing proposals.
    pub max_uncommitted_size: u64,
    /// Bytes of committed entries handed to the state machine per round.
    pub max_committed_size_per_ready: u64,
    /// Take a snapshot after this many entries have been applied since the last one.
    pub snapshot_threshold: u64,
    /// Entries kept in the log behind a snapshot, so slightly lagging followers avoid a snapshot.
    pub trailing_logs: u64,
    /// Proposals drained from the queue per round (batching into one fsync).
    pub max_batch: usize,
    /// Fix the randomized election timeout to `election_tick + offset` ticks instead of drawing
    /// it from the OS RNG. Simulations set it per node from their seed for determinism.
    pub fixed_election_offset: Option<usize>,
    /// Log level of raft-rs's own messages forwarded to `tracing` (raft is chatty at debug).
    pub raft_log_level: RaftLogLevel,
}

/// Verbosity of raft-rs's internal log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftLogLevel {
    /// Nothing from raft-rs.
    Off,
    /// Warnings and errors.
    Warn,
    /// Informational messages (elections, conf changes).
    Info,
    /// Everything.
    Debug,
}

impl RaftConfig {
    /// Defaults for node `id`: 100 ms ticks, 1 s election timeout, 200 ms heartbeats.
    pub fn new(id: u64) -> Self {
        RaftConfig {
            id,
            tick_interval: Duration::from_millis(100),
            election_tick: 10,
            heartbeat_tick: 2,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            max_uncommitted_size: 128 * 1024 * 1024,
            max_committed_size_per_ready: 16 * 1024 * 1024,
            snapshot_threshold: 16_384,
            trailing_logs: 10_240,
            max_batch: 4096,
            fixed_election_offset: None,
            raft_log_level: RaftLogLevel::Info,
        }
    }

    /// Timings for a single-node development server: leader within a few ticks of 20 ms.
    pub fn dev(id: u64) -> Self {
        RaftConfig {
            tick_interval: Duration::from_millis(20),
            ..RaftConfig::new(id)
        }
    }

    pub(crate) fn to_raft(&self, applied: u64) -> raft::Config {
        let mut c = raft::Config {
            id: self.id,
            election_tick: self.election_tick,
            heartbeat_tick: self.heartbeat_tick,
            applied,
            max_size_per_msg: self.max_size_per_msg,
            max_inflight_msgs: self.max_inflight_msgs,
            check_quorum: true,
            pre_vote: true,
            max_uncommitted_size: self.max_uncommitted_size,
            max_committed_size_per_ready: self.max_committed_size_per_ready,
            read_only_option: raft::ReadOnlyOption::Safe,
            ..Default::default()
        };
        if let Some(offset) = self.fixed_election_offset {
            // [min, min+1) is a single value: raft-rs's thread_rng draw becomes deterministic.
            c.min_election_tick = self.election_tick + offset;
            c.max_election_tick = c.min_election_tick + 1;
        }
        c
    }
}
