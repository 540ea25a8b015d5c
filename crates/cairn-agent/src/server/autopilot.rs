//! Autopilot's dead-server cleanup, as Consul's leader does it: a server that gossip reports
//! failed, or that is in the raft configuration but unknown to gossip, is removed from the raft
//! configuration once it has been so for the stabilisation time, provided that removing every
//! such voter still leaves a majority of the voters (and at least `min_quorum` of them).

use crate::membership::{server_tags, MemberInfo};
use crate::node_id::raft_id;
use cairn_types::MemberStatus;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Consul's `autopilot {}` settings that the open-source server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutopilotConfig {
    /// Remove dead servers automatically (`cleanup_dead_servers`, default true).
    pub cleanup_dead_servers: bool,
    /// Longest time since the leader last heard from a healthy server (default 200 ms).
    pub last_contact_threshold: Duration,
    /// Most log entries a healthy server may trail the leader by (default 250).
    pub max_trailing_logs: u64,
    /// Fewest voters that dead-server cleanup leaves (default 0: no floor).
    pub min_quorum: u64,
    /// How long a server must stay dead before it is removed (default 10 s).
    pub server_stabilization_time: Duration,
}

impl Default for AutopilotConfig {
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: Duration::from_secs(10),
        }
    }
}

/// Why a server is a candidate for removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dead {
    /// Gossip reports it failed.
    Failed,
    /// In the raft configuration, but no server of this datacenter with its ID is in gossip.
    Stale,
}

/// The servers to remove now, and the voters that could not be removed without risking quorum.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Removals {
    /// Raft IDs to remove, with the reason.
    pub remove: Vec<(u64, Dead)>,
    /// Dead voters kept because removing them all would leave a minority (or fewer than
    /// `min_quorum`).
    pub kept: Vec<u64>,
}

/// The raft configuration as the leader sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RaftMembers<'a> {
    /// This server, never removed.
    pub me: u64,
    /// Voters.
    pub voters: &'a [u64],
    /// Learners.
    pub learners: &'a [u64],
}

/// Remembers since when each raft member has looked dead to this leader.
#[derive(Debug, Default)]
pub(crate) struct DeadServers {
    since: HashMap<u64, (Dead, Instant)>,
}

impl DeadServers {
    /// Compare the raft configuration with gossip and decide what to remove at `now`.
    /// `me` is never removed; learners are removed without quorum arithmetic.
    pub(crate) fn plan(
        &mut self,
        cfg: &AutopilotConfig,
        raft: RaftMembers<'_>,
        members: &[MemberInfo],
        dc: &str,
        now: Instant,
    ) -> Removals {
        let RaftMembers {
            me,
            voters,
            learners,
        } = raft;
        let status = server_statuses(members, dc);
        let in_config: BTreeSet<u64> = voters.iter().chain(learners).copied().collect();
        self.since.retain(|id, _| in_config.contains(id));
        for &id in &in_config {
            let dead = match status.get(&id) {
                _ if id == me => None,
                Some(MemberStatus::Failed) => Some(Dead::Failed),
                Some(_) => None,
                None => Some(Dead::Stale),
            };
            match dead {
                Some(reason) => {
                    let entry = self.since.entry(id).or_insert((reason, now));
                    if entry.0 != reason {
                        *entry = (reason, now);
                    }
                }
                None => {
                    self.since.remove(&id);
                }
            }
        }
        if !cfg.cleanup_dead_servers {
            return Removals::default();
        }
        let due = |id: &u64| {
            self.since
                .get(id)
                .filter(|(_, t)| now.saturating_duration_since(*t) >= cfg.server_stabilization_time)
                .map(|(reason, _)| (*id, *reason))
        };
        let mut out = Removals {
            remove: learners.iter().filter_map(due).collect(),
            kept: Vec::new(),
        };
        let dead_voters: Vec<(u64, Dead)> = voters.iter().filter_map(due).collect();
        if dead_voters.is_empty() {
            return out;
        }
        // Removing up to (n-1)/2 voters keeps a majority of the current configuration alive.
        let n = voters.len() as u64;
        let count = dead_voters.len() as u64;
        let remaining = n - count;
        if count <= (n - 1) / 2 && remaining >= cfg.min_quorum {
            out.remove.extend(dead_voters);
        } else {
            out.kept = dead_voters.into_iter().map(|(id, _)| id).collect();
        }
        out
    }
}

/// The gossip status of every server of `dc`, by raft ID. When gossip knows a node ID twice
/// (a renamed server), the liveliest status wins.
fn server_statuses(members: &[MemberInfo], dc: &str) -> BTreeMap<u64, MemberStatus> {
    let rank = |s: MemberStatus| match s {
        MemberStatus::Alive => 4,
        MemberStatus::Leaving => 3,
        MemberStatus::Failed => 2,
        MemberStatus::Left => 1,
        MemberStatus::None => 0,
    };
    let mut out: BTreeMap<u64, MemberStatus> = BTreeMap::new();
    for m in members {
        let Some(t) = server_tags(m.addr, &m.tags) else {
            continue;
        };
        if t.datacenter != dc {
            continue;
        }
        let id = raft_id(&t.node_id);
        match out.get(&id) {
            Some(s) if rank(*s) >= rank(m.status) => {}
            _ => {
                out.insert(id, m.status);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn member(n: u8, status: MemberStatus) -> MemberInfo {
        let mut tags = BTreeMap::new();
        tags.insert("role".to_string(), "consul".to_string());
        tags.insert("dc".to_string(), "dc1".to_string());
        tags.insert("port".to_string(), "8300".to_string());
        tags.insert("id".to_string(), node_id(n));
        MemberInfo {
            name: format!("s{n}"),
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)),
            status,
            tags,
        }
    }

    fn node_id(n: u8) -> String {
        format!("00000000-0000-0000-0000-0000000000{n:02x}")
    }

    fn id(n: u8) -> u64 {
        raft_id(&node_id(n))
    }

    fn rm<'a>(voters: &'a [u64], learners: &'a [u64]) -> RaftMembers<'a> {
        RaftMembers {
            me: id(1),
            voters,
            learners,
        }
    }

    fn cfg() -> AutopilotConfig {
        AutopilotConfig::default()
    }

    #[test]
    fn a_failed_voter_is_removed_only_after_the_stabilisation_time() {
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3)];
        let members = [
            member(1, MemberStatus::Alive),
            member(2, MemberStatus::Alive),
            member(3, MemberStatus::Failed),
        ];
        let t0 = Instant::now();
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t0);
        assert_eq!(plan, Removals::default());
        let later = t0 + Duration::from_secs(9);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", later);
        assert!(plan.remove.is_empty());
        let due = t0 + Duration::from_secs(10);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", due);
        assert_eq!(plan.remove, vec![(id(3), Dead::Failed)]);
    }

    #[test]
    fn a_server_that_recovers_starts_the_clock_again() {
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3)];
        let mut members = vec![
            member(1, MemberStatus::Alive),
            member(2, MemberStatus::Alive),
            member(3, MemberStatus::Failed),
        ];
        let t0 = Instant::now();
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t0);
        members[2].status = MemberStatus::Alive;
        let t1 = t0 + Duration::from_secs(5);
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t1);
        members[2].status = MemberStatus::Failed;
        let t2 = t0 + Duration::from_secs(6);
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t2);
        let t3 = t0 + Duration::from_secs(12);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t3);
        assert!(plan.remove.is_empty(), "clock restarted at t2: {plan:?}");
        let t4 = t0 + Duration::from_secs(16);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t4);
        assert_eq!(plan.remove, vec![(id(3), Dead::Failed)]);
    }

    #[test]
    fn never_removes_a_majority_of_voters() {
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3)];
        let members = [
            member(1, MemberStatus::Alive),
            member(2, MemberStatus::Failed),
            member(3, MemberStatus::Failed),
        ];
        let t0 = Instant::now();
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t0);
        let due = t0 + Duration::from_secs(10);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", due);
        assert!(plan.remove.is_empty());
        assert_eq!(plan.kept.len(), 2);
        // Five voters, two dead: both go.
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3), id(4), id(5)];
        let members: Vec<MemberInfo> = (1..=5)
            .map(|n| {
                let s = if n > 3 {
                    MemberStatus::Failed
                } else {
                    MemberStatus::Alive
                };
                member(n, s)
            })
            .collect();
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t0);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", due);
        assert_eq!(plan.remove.len(), 2);
    }

    #[test]
    fn min_quorum_and_the_switch_are_respected() {
        let voters = [id(1), id(2), id(3)];
        let members = [
            member(1, MemberStatus::Alive),
            member(2, MemberStatus::Alive),
            member(3, MemberStatus::Failed),
        ];
        let t0 = Instant::now();
        let due = t0 + Duration::from_secs(10);
        let floor = AutopilotConfig {
            min_quorum: 3,
            ..cfg()
        };
        let mut dead = DeadServers::default();
        dead.plan(&floor, rm(&voters, &[]), &members, "dc1", t0);
        let plan = dead.plan(&floor, rm(&voters, &[]), &members, "dc1", due);
        assert!(plan.remove.is_empty());
        assert_eq!(plan.kept, vec![id(3)]);
        let off = AutopilotConfig {
            cleanup_dead_servers: false,
            ..cfg()
        };
        let mut dead = DeadServers::default();
        dead.plan(&off, rm(&voters, &[]), &members, "dc1", t0);
        let plan = dead.plan(&off, rm(&voters, &[]), &members, "dc1", due);
        assert_eq!(plan, Removals::default());
    }

    #[test]
    fn stale_members_and_dead_learners_go_but_never_the_leader_itself() {
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3)];
        let learners = [id(4)];
        // s3 is unknown to gossip; the learner s4 failed; s1 (us) is not even listed.
        let members = [
            member(2, MemberStatus::Alive),
            member(4, MemberStatus::Failed),
        ];
        let t0 = Instant::now();
        dead.plan(&cfg(), rm(&voters, &learners), &members, "dc1", t0);
        let due = t0 + Duration::from_secs(10);
        let plan = dead.plan(&cfg(), rm(&voters, &learners), &members, "dc1", due);
        assert_eq!(
            plan.remove,
            vec![(id(4), Dead::Failed), (id(3), Dead::Stale)]
        );
    }

    #[test]
    fn servers_of_other_datacenters_do_not_count() {
        let mut dead = DeadServers::default();
        let voters = [id(1), id(2), id(3)];
        let mut other = member(3, MemberStatus::Alive);
        other.tags.insert("dc".into(), "dc2".into());
        let members = [
            member(1, MemberStatus::Alive),
            member(2, MemberStatus::Alive),
            other,
        ];
        let t0 = Instant::now();
        dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", t0);
        let due = t0 + Duration::from_secs(10);
        let plan = dead.plan(&cfg(), rm(&voters, &[]), &members, "dc1", due);
        assert_eq!(plan.remove, vec![(id(3), Dead::Stale)]);
    }
}
