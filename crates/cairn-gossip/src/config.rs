//! Configuration: memberlist timings (with serf's LAN/WAN/local profiles) and serf settings.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::security::Keyring;

/// Everything a gossip node needs. Start from [`Config::lan`], [`Config::wan`] or
/// [`Config::local`] (memberlist's `DefaultLANConfig`, `DefaultWANConfig`, `DefaultLocalConfig`
/// with serf's defaults on top) and set the name, addresses and tags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unique node name.
    pub name: String,
    /// Address the driver binds (UDP and TCP on one port).
    pub bind_addr: IpAddr,
    /// Port the driver binds; 0 picks a free port.
    pub bind_port: u16,
    /// Address other nodes reach us at (defaults to the bound address).
    pub advertise_addr: Option<IpAddr>,
    /// Port other nodes reach us at (defaults to the bound port).
    pub advertise_port: Option<u16>,

    /// memberlist protocol version spoken (serf pins 2; we understand 1..=5).
    pub protocol_version: u8,
    /// Timeout for a TCP exchange (push/pull, reliable sends).
    pub tcp_timeout: Duration,
    /// Members asked to probe on our behalf after a missed ack.
    pub indirect_checks: usize,
    /// Broadcasts are retransmitted `retransmit_mult * ceil(log10(n + 1))` times.
    pub retransmit_mult: usize,
    /// Suspicion lasts `suspicion_mult * max(1, log10(n)) * probe_interval` at least.
    pub suspicion_mult: usize,
    /// Without confirmations suspicion lasts this many times the minimum.
    pub suspicion_max_timeout_mult: usize,
    /// Full state sync interval (scaled up above 32 nodes); zero disables it.
    pub push_pull_interval: Duration,
    /// Interval between failure-detection probes.
    pub probe_interval: Duration,
    /// How long to wait for a direct ack before probing indirectly.
    pub probe_timeout: Duration,
    /// Do not fall back to a TCP ping when UDP probes fail.
    pub disable_tcp_pings: bool,
    /// Lifeguard: the probe interval backs off up to this multiple when we are unhealthy.
    pub awareness_max_multiplier: usize,
    /// Interval between gossip rounds.
    pub gossip_interval: Duration,
    /// Members gossiped to each round.
    pub gossip_nodes: usize,
    /// Keep gossiping to dead members this long (so they can refute).
    pub gossip_to_the_dead_time: Duration,
    /// Drop unencrypted incoming traffic when a keyring is set.
    pub gossip_verify_incoming: bool,
    /// Encrypt outgoing traffic when a keyring is set.
    pub gossip_verify_outgoing: bool,
    /// LZW-compress outgoing messages.
    pub enable_compression: bool,
    /// Encryption keys; `None` disables encryption.
    pub keyring: Option<Keyring>,
    /// Largest UDP payload we build.
    pub udp_buffer_size: usize,
    /// A dead node's name may be taken by a new address after this long (zero: never).
    pub dead_node_reclaim_time: Duration,
    /// When another address claims our name, ask the pool (`_serf_conflict` query) which of
    /// the two it knows, and shut down if the majority answers with the other address
    /// (serf's `EnableNameConflictResolution`, on by default).
    pub enable_name_conflict_resolution: bool,

    /// serf tags, carried in memberlist meta.
    pub tags: BTreeMap<String, String>,
    /// serf protocol version spoken (2..=5).
    pub serf_protocol_version: u8,
    /// How long `leave` waits for its broadcast to go out.
    pub broadcast_timeout: Duration,
    /// Extra wait after a leave so the news spreads before we stop answering.
    pub leave_propagate_delay: Duration,
    /// Interval of the reaper of failed/left members and stale intents.
    pub reap_interval: Duration,
    /// Interval between reconnect attempts to failed members.
    pub reconnect_interval: Duration,
    /// Failed members are reaped after this long.
    pub reconnect_timeout: Duration,
    /// Left members are reaped after this long.
    pub tombstone_timeout: Duration,
    /// Intents for unknown members are kept this long.
    pub recent_intent_timeout: Duration,
    /// User events remembered for de-duplication (Lamport slots).
    pub event_buffer: usize,
    /// Queries remembered for de-duplication (Lamport slots).
    pub query_buffer: usize,
    /// Default query timeout is `gossip_interval * query_timeout_mult * ceil(log10(n + 1))`.
    pub query_timeout_mult: u32,
    /// Largest query response.
    pub query_response_size_limit: usize,
    /// Largest query.
    pub query_size_limit: usize,
    /// Largest user event (name + payload, and encoded).
    pub user_event_size_limit: usize,
    /// Coalesce member events over this period (zero: off).
    pub coalesce_period: Duration,
    /// Flush coalesced member events after this quiet time.
    pub quiescent_period: Duration,
    /// Coalesce user events marked coalescable over this period (zero: off).
    pub user_coalesce_period: Duration,
    /// Flush coalesced user events after this quiet time.
    pub user_quiescent_period: Duration,
    /// Broadcast queues are pruned above this depth.
    pub max_queue_depth: usize,
    /// When non-zero, the queue limit is `max(2 * members, min_queue_depth)` instead.
    pub min_queue_depth: usize,
    /// Where to keep the membership snapshot (`-rejoin`); `None` disables it.
    pub snapshot_path: Option<PathBuf>,
    /// Rejoin after a previous leave recorded in the snapshot.
    pub rejoin_after_leave: bool,
    /// Do not compute Vivaldi coordinates.
    pub disable_coordinates: bool,
}

impl Config {
    /// memberlist's `DefaultLANConfig` with serf's defaults.
    pub fn lan() -> Self {
        Config {
            name: String::new(),
            bind_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            bind_port: 7946,
            advertise_addr: None,
            advertise_port: None,
            protocol_version: 2,
            tcp_timeout: Duration::from_secs(10),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Duration::from_secs(30),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            disable_tcp_pings: false,
            awareness_max_multiplier: 8,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            enable_compression: true,
            keyring: None,
            udp_buffer_size: 1400,
            dead_node_reclaim_time: Duration::ZERO,
            enable_name_conflict_resolution: true,
            tags: BTreeMap::new(),
            serf_protocol_version: 5,
            broadcast_timeout: Duration::from_secs(5),
            leave_propagate_delay: Duration::from_secs(1),
            reap_interval: Duration::from_secs(15),
            reconnect_interval: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(24 * 3600),
            tombstone_timeout: Duration::from_secs(24 * 3600),
            recent_intent_timeout: Duration::from_secs(300),
            event_buffer: 512,
            query_buffer: 512,
            query_timeout_mult: 16,
            query_response_size_limit: 1024,
            query_size_limit: 1024,
            user_event_size_limit: 512,
            coalesce_period: Duration::ZERO,
            quiescent_period: Duration::ZERO,
            user_coalesce_period: Duration::ZERO,
            user_quiescent_period: Duration::ZERO,
            max_queue_depth: 4096,
            min_queue_depth: 0,
            snapshot_path: None,
            rejoin_after_leave: false,
            disable_coordinates: false,
        }
    }

    /// memberlist's `DefaultWANConfig` with serf's defaults.
    pub fn wan() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(30),
            suspicion_mult: 6,
            push_pull_interval: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(3),
            probe_interval: Duration::from_secs(5),
            gossip_nodes: 4,
            gossip_interval: Duration::from_millis(500),
            gossip_to_the_dead_time: Duration::from_secs(60),
            ..Config::lan()
        }
    }

    /// memberlist's `DefaultLocalConfig` with serf's defaults.
    pub fn local() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(1),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Duration::from_secs(15),
            probe_timeout: Duration::from_millis(200),
            probe_interval: Duration::from_secs(1),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            ..Config::lan()
        }
    }

    /// Sets the node name (builder style).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a tag (builder style).
    pub fn with_tag(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.tags.insert(k.into(), v.into());
        self
    }

    /// The version vector we advertise: pmin, pmax, pcur, dmin, dmax, dcur.
    pub fn vsn(&self) -> [u8; 6] {
        [
            1,
            5,
            self.protocol_version,
            2,
            5,
            self.serf_protocol_version,
        ]
    }

    /// Encryption version for our protocol version (0 only for protocol 1).
    pub fn encryption_version(&self) -> u8 {
        if self.protocol_version <= 1 {
            0
        } else {
            1
        }
    }

    /// Whether outgoing traffic gets encrypted.
    pub fn encrypt_outgoing(&self) -> bool {
        self.gossip_verify_outgoing && self.keyring.as_ref().is_some_and(|k| !k.keys().is_empty())
    }

    /// Checks the settings are usable.
    pub fn validate(&self) -> crate::Result<()> {
        use crate::Error;
        if self.name.is_empty() {
            return Err(Error::Config("node name must not be empty".into()));
        }
        if !(1..=5).contains(&self.protocol_version) {
            return Err(Error::Config("protocol version must be in 1..=5".into()));
        }
        if !(2..=5).contains(&self.serf_protocol_version) {
            return Err(Error::Config(
                "serf protocol version must be in 2..=5".into(),
            ));
        }
        if self.probe_interval.is_zero() || self.gossip_interval.is_zero() {
            return Err(Error::Config(
                "probe and gossip intervals must be non-zero".into(),
            ));
        }
        if self.udp_buffer_size < 64 {
            return Err(Error::Config("udp_buffer_size too small".into()));
        }
        if self.event_buffer == 0 || self.query_buffer == 0 {
            return Err(Error::Config(
                "event and query buffers must be non-zero".into(),
            ));
        }
        Ok(())
    }
}

/// `ceil(log10(n + 1))`, memberlist's retransmit scale.
pub(crate) fn retransmit_limit(mult: usize, n: usize) -> usize {
    let scale = ((n + 1) as f64).log10().ceil() as usize;
    mult * scale
}

/// memberlist's `suspicionTimeout`: `mult * max(1, log10(max(1, n))) * interval`.
pub(crate) fn suspicion_timeout(mult: usize, n: usize, interval: Duration) -> Duration {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let millis = (scale * 1000.0) as u64;
    interval * mult as u32 * millis as u32 / 1000
}

/// memberlist's `pushPullScale`: the interval grows with `log2(n) - log2(32)` above 32 nodes.
pub(crate) fn push_pull_scale(interval: Duration, n: usize) -> Duration {
    const THRESHOLD: f64 = 32.0;
    if n <= 32 {
        return interval;
    }
    let mult = ((n as f64).log2() - THRESHOLD.log2()).ceil() + 1.0;
    interval * mult as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_functions_match_memberlist() {
        assert_eq!(retransmit_limit(4, 0), 0);
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 100), 12);
        let s = Duration::from_secs(1);
        assert_eq!(suspicion_timeout(4, 1, s), Duration::from_secs(4));
        assert_eq!(suspicion_timeout(4, 100, s), Duration::from_secs(8));
        assert_eq!(suspicion_timeout(4, 1000, s), Duration::from_secs(12));
        assert_eq!(push_pull_scale(s, 32), s);
        assert_eq!(push_pull_scale(s, 33), 2 * s);
        assert_eq!(push_pull_scale(s, 64), 2 * s);
        assert_eq!(push_pull_scale(s, 65), 3 * s);
    }

    #[test]
    fn profiles() {
        let l = Config::local();
        assert_eq!(l.probe_timeout, Duration::from_millis(200));
        assert_eq!(l.indirect_checks, 1);
        let w = Config::wan();
        assert_eq!(w.probe_interval, Duration::from_secs(5));
        assert_eq!(w.gossip_nodes, 4);
        assert_eq!(Config::lan().vsn(), [1, 5, 2, 2, 5, 5]);
        assert!(Config::lan().validate().is_err());
        assert!(Config::lan().with_name("a").validate().is_ok());
    }
}
