//! SWIM + Lifeguard behaviour of the plain memberlist layer in the deterministic simulator.

use std::time::Duration;

use cairn_gossip::memberlist::{Memberlist, NoDelegate, NodeStatus};
use cairn_gossip::sim::{Network, Sim};
use cairn_gossip::{Config, Rng, Time};

type Node = Memberlist<NoDelegate>;

fn cfg(i: usize) -> Config {
    let mut c = Config::lan().with_name(format!("n{i}"));
    c.enable_compression = false;
    c
}

/// `n` nodes, node i joining node 0 at i × 20 ms, run until all see everyone alive.
fn cluster(n: usize, seed: u64, net: Network) -> Sim<Node> {
    let mut sim: Sim<Node> = Sim::new(seed, net);
    for i in 0..n {
        sim.add_node(|addr, now| {
            Memberlist::new(
                cfg(i),
                NoDelegate,
                addr,
                Rng::new(seed * 1000 + i as u64),
                now,
            )
            .unwrap()
        });
    }
    let seed_addr = sim.addr(0);
    for i in 1..n {
        sim.run_for(Duration::from_millis(20));
        let now = sim.now;
        sim.node_mut(i).unwrap().join(&[seed_addr], now);
        sim.poke(i);
    }
    let converged = sim.run_until_pred(Duration::from_millis(100), Duration::from_secs(60), |s| {
        (0..n).all(|i| s.node(i).unwrap().num_alive() == n)
    });
    assert!(converged.is_some(), "cluster of {n} did not converge");
    sim
}

fn status(sim: &Sim<Node>, observer: usize, of: &str) -> Option<NodeStatus> {
    sim.node(observer).and_then(|n| n.status_of(of))
}

#[test]
fn fifty_nodes_join_and_converge() {
    let sim = cluster(50, 1, Network::default());
    for i in 0..50 {
        assert_eq!(sim.node(i).unwrap().num_alive(), 50);
    }
}

#[test]
fn killed_node_is_detected_by_all_without_false_positives() {
    let mut sim = cluster(40, 2, Network::default());
    sim.run_for(Duration::from_secs(5));
    let killed_at = sim.now;
    sim.kill(7);
    let detected = sim.run_until_pred(Duration::from_millis(100), Duration::from_secs(60), |s| {
        (0..40)
            .filter(|&i| i != 7)
            .all(|i| status(s, i, "n7") == Some(NodeStatus::Dead))
    });
    let t = detected.expect("failure detected everywhere");
    // Probe interval 1 s, suspicion min 4 × log10(40) ≈ 6.4 s: everyone knows well within 30 s.
    assert!(
        t.since(killed_at) < Duration::from_secs(30),
        "took {:?}",
        t.since(killed_at)
    );
    for i in (0..40).filter(|&i| i != 7) {
        let n = sim.node(i).unwrap();
        let dead: Vec<_> = n
            .nodes()
            .filter(|m| m.status != NodeStatus::Alive && m.name != "n7")
            .map(|m| m.name)
            .collect();
        assert!(dead.is_empty(), "node {i} wrongly suspects {dead:?}");
    }
}

#[test]
fn leave_is_distinguished_from_failure() {
    let mut sim = cluster(20, 3, Network::default());
    let now = sim.now;
    sim.node_mut(5).unwrap().leave_now(now);
    sim.poke(5);
    sim.run_for(Duration::from_secs(3));
    for i in (0..20).filter(|&i| i != 5) {
        assert_eq!(
            status(&sim, i, "n5"),
            Some(NodeStatus::Left),
            "observer {i}"
        );
    }
}

#[test]
fn suspected_live_node_refutes_with_higher_incarnation() {
    let mut sim = cluster(10, 4, Network::default());
    let before = sim.node(3).unwrap().node("n3").unwrap().incarnation;
    // Partition n3 long enough to be suspected, but shorter than the suspicion timeout.
    sim.set_partition(3, 1);
    let seen_suspect =
        sim.run_until_pred(Duration::from_millis(50), Duration::from_secs(10), |s| {
            (0..10).any(|i| i != 3 && status(s, i, "n3") == Some(NodeStatus::Suspect))
        });
    assert!(seen_suspect.is_some());
    sim.heal();
    sim.run_for(Duration::from_secs(10));
    for i in 0..10 {
        assert_eq!(
            status(&sim, i, "n3"),
            Some(NodeStatus::Alive),
            "observer {i}"
        );
    }
    let after = sim.node(0).unwrap().node("n3").unwrap().incarnation;
    assert!(
        after > before,
        "refuted with incarnation {after} > {before}"
    );
}

#[test]
fn lossy_network_still_detects_failure() {
    let net = Network {
        loss: 0.2,
        ..Network::default()
    };
    let mut sim = cluster(30, 5, net);
    sim.run_for(Duration::from_secs(5));
    sim.kill(11);
    let detected = sim.run_until_pred(Duration::from_millis(200), Duration::from_secs(90), |s| {
        (0..30)
            .filter(|&i| i != 11)
            .all(|i| status(s, i, "n11") == Some(NodeStatus::Dead))
    });
    assert!(detected.is_some());
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut sim = cluster(
            15,
            seed,
            Network {
                loss: 0.05,
                ..Network::default()
            },
        );
        sim.kill(2);
        sim.run_for(Duration::from_secs(20));
        (sim.stats.delivered, sim.stats.packet_bytes, sim.now)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).0, run(10).0);
}

#[test]
fn dead_members_are_forgotten_after_gossip_to_the_dead_time() {
    let mut sim = cluster(8, 6, Network::default());
    sim.kill(4);
    sim.run_for(Duration::from_secs(90));
    let t = sim.now;
    assert!(t > Time::from_millis(90_000));
    for i in (0..8).filter(|&i| i != 4) {
        assert_eq!(status(&sim, i, "n4"), None, "observer {i} still tracks n4");
        assert_eq!(sim.node(i).unwrap().num_nodes(), 7);
    }
}

/// The documented scale experiment (`examples/sim_figures.rs`) at a size a test can afford:
/// 100 nodes, a few seeds. It must converge, detect, and raise no false alarm without loss.
#[test]
fn scale_scenario_small_holds_its_properties() {
    use cairn_gossip::sim::scenario::{run, Scenario};
    let cases = [(0.0, 1), (0.0, 2), (0.05, 3)];
    for (loss, seed) in cases {
        let mut sc = Scenario::new(100, loss, seed);
        sc.fp_window = Duration::from_secs(30);
        sc.wall_limit = Some(Duration::from_secs(300));
        let r = run(&sc).unwrap();
        let tag = format!("loss {loss}, seed {seed}");
        assert!(!r.aborted, "{tag}: hit the wall-clock limit");
        assert!(
            r.join_complete(),
            "{tag}: join reached {} of 100",
            r.join_times.len()
        );
        assert!(
            r.join_quantile(1.0).unwrap() < Duration::from_secs(5),
            "{tag}: {r:?}"
        );
        assert!(
            r.detect_complete(),
            "{tag}: {} of {} detected",
            r.detect_times.len(),
            r.detect_observers
        );
        // Suspicion shrinks from 6 × 4 × log10(100) s towards its 8 s minimum as other probers
        // confirm; with a probe round on top, everyone knows well within the maximum.
        let all = r.detect_quantile(1.0).unwrap();
        assert!(
            all > Duration::from_secs(8) && all < Duration::from_secs(50),
            "{tag}: {all:?}"
        );
        if loss == 0.0 {
            assert_eq!(r.fp_members, 0, "{tag}: false positives without loss");
            assert_eq!(r.fp_observations, 0, "{tag}");
        }
    }
}

/// memberlist waits a random stagger and then a full push/pull interval before its first
/// periodic push/pull; pushing at the stagger would add one exchange per node per start-up
/// (the bandwidth gap measured against serf).
#[test]
fn first_periodic_push_pull_waits_a_full_interval() {
    let n = 20;
    let mut sim: Sim<Node> = Sim::new(5, Network::default());
    for i in 0..n {
        sim.add_node(|addr, now| {
            Memberlist::new(cfg(i), NoDelegate, addr, Rng::new(i as u64), now).unwrap()
        });
    }
    // Everyone joins node 0 right away: one exchange each.
    let seed_addr = sim.addr(0);
    for i in 1..n {
        let now = sim.now;
        sim.node_mut(i).unwrap().join(&[seed_addr], now);
        sim.poke(i);
    }
    let streams = |sim: &Sim<Node>, i: usize| sim.node(i).unwrap().stats().streams_sent;
    let interval = Config::lan().push_pull_interval;
    sim.run_for(interval - Duration::from_millis(1));
    for i in 0..n {
        assert_eq!(
            streams(&sim, i),
            u64::from(i > 0),
            "node {i}: early push/pull"
        );
    }
    // The first periodic one comes at stagger (< interval) + interval, the second a full
    // interval later: exactly one more each by 2 × interval.
    sim.run_for(interval);
    for i in 0..n {
        assert_eq!(streams(&sim, i), 1 + u64::from(i > 0), "node {i}");
    }
}
