//! The serf layer over the simulated network: tags, intents, user events, queries, leave vs
//! failure, reaping, coordinates and key rotation.

use std::collections::HashMap;
use std::time::Duration;

use cairn_gossip::core::decode_key_response;
use cairn_gossip::sim::{Network, Sim};
use cairn_gossip::{Config, Core, Event, KeyOp, Keyring, MemberStatus, Output, QueryParams};

fn cfg(i: usize) -> Config {
    let mut c = Config::lan()
        .with_name(format!("s{i}"))
        .with_tag("role", if i.is_multiple_of(2) { "web" } else { "db" })
        .with_tag("id", i.to_string());
    c.enable_compression = i.is_multiple_of(3); // mixed: compressed and plain peers interoperate
    c.reconnect_timeout = Duration::from_secs(20);
    c.reap_interval = Duration::from_secs(5);
    c
}

fn cluster_with(n: usize, seed: u64, make: impl Fn(usize) -> Config) -> Sim<Core> {
    let mut sim: Sim<Core> = Sim::new(seed, Network::default());
    for i in 0..n {
        let c = make(i);
        sim.add_node(|addr, now| Core::new(c, addr, seed * 100 + i as u64, None, now).unwrap());
    }
    let first = sim.addr(0);
    for i in 1..n {
        sim.run_for(Duration::from_millis(30));
        let now = sim.now;
        sim.node_mut(i).unwrap().join(&[first], false, now).unwrap();
        sim.poke(i);
    }
    let ok = sim.run_until_pred(Duration::from_millis(100), Duration::from_secs(60), |s| {
        (0..n).all(|i| {
            let m = s.node(i).unwrap().members();
            m.len() == n && m.iter().all(|m| m.status == MemberStatus::Alive)
        })
    });
    assert!(ok.is_some(), "serf cluster did not converge");
    sim
}

fn cluster(n: usize, seed: u64) -> Sim<Core> {
    cluster_with(n, seed, cfg)
}

fn events_of(sim: &Sim<Core>, node: usize) -> Vec<&Event> {
    sim.records
        .iter()
        .filter(|(_, i, _)| *i == node)
        .filter_map(|(_, _, o)| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn tags_and_protocol_versions_propagate() {
    let sim = cluster(20, 1);
    let m = sim.node(13).unwrap().member("s4").unwrap();
    assert_eq!(m.tags["role"], "web");
    assert_eq!(m.tags["id"], "4");
    assert_eq!((m.protocol_min, m.protocol_max, m.protocol_cur), (1, 5, 2));
    assert_eq!((m.delegate_min, m.delegate_max, m.delegate_cur), (2, 5, 5));
    // Every node joined once per member in its own event stream.
    let joins = events_of(&sim, 13)
        .iter()
        .filter(|e| matches!(e, Event::MemberJoin(_)))
        .count();
    assert_eq!(joins, 20);
}

#[test]
fn set_tags_reaches_everyone_as_update() {
    let mut sim = cluster(10, 2);
    let now = sim.now;
    let mut tags = sim.node(3).unwrap().local_member().unwrap().tags;
    tags.insert("role".into(), "cache".into());
    sim.node_mut(3).unwrap().set_tags(tags, now).unwrap();
    sim.poke(3);
    sim.run_for(Duration::from_secs(3));
    for i in 0..10 {
        assert_eq!(
            sim.node(i).unwrap().member("s3").unwrap().tags["role"],
            "cache"
        );
    }
    assert!(events_of(&sim, 7)
        .iter()
        .any(|e| matches!(e, Event::MemberUpdate(m) if m.name == "s3")));
}

#[test]
fn user_event_reaches_every_node_exactly_once() {
    let mut sim = cluster(25, 3);
    let now = sim.now;
    sim.node_mut(5)
        .unwrap()
        .user_event("deploy", b"v42", false, now)
        .unwrap();
    sim.poke(5);
    sim.run_for(Duration::from_secs(5));
    for i in 0..25 {
        let got: Vec<_> = events_of(&sim, i)
            .into_iter()
            .filter_map(|e| match e {
                Event::User(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 1, "node {i} got {got:?}");
        assert_eq!(
            (got[0].name.as_str(), got[0].payload.as_slice()),
            ("deploy", &b"v42"[..])
        );
    }
    // Oversized events are refused before sending.
    let now = sim.now;
    assert!(sim
        .node_mut(1)
        .unwrap()
        .user_event("big", &[0; 600], false, now)
        .is_err());
}

#[test]
fn coalesced_user_events_keep_the_latest_per_name() {
    let mut sim = cluster_with(6, 4, |i| {
        let mut c = cfg(i);
        c.user_coalesce_period = Duration::from_secs(2);
        c.user_quiescent_period = Duration::from_millis(500);
        c
    });
    for v in 0..3 {
        let now = sim.now;
        let payload = format!("v{v}");
        sim.node_mut(0)
            .unwrap()
            .user_event("deploy", payload.as_bytes(), true, now)
            .unwrap();
        sim.poke(0);
        sim.run_for(Duration::from_millis(100));
    }
    sim.run_for(Duration::from_secs(5));
    for i in 0..6 {
        let got: Vec<_> = events_of(&sim, i)
            .into_iter()
            .filter_map(|e| match e {
                Event::User(u) => Some(u.payload.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(got, vec![b"v2".to_vec()], "node {i}");
    }
}

#[test]
fn query_with_tag_filter_gets_acks_and_responses() {
    let mut sim = cluster(12, 5);
    let now = sim.now;
    let params = QueryParams {
        filter_tags: vec![("role".into(), "^web$".into())],
        request_ack: true,
        timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let qid = sim
        .node_mut(1)
        .unwrap()
        .query("whoami", b"hi", &params, now)
        .unwrap();
    sim.poke(1);
    // Every matching node answers with its name.
    for _ in 0..40 {
        sim.run_for(Duration::from_millis(50));
        let pending: Vec<(usize, u64)> = (0..12)
            .flat_map(|i| {
                events_of(&sim, i).into_iter().filter_map(move |e| match e {
                    Event::Query(q) if q.name == "whoami" => Some((i, q.id)),
                    _ => None,
                })
            })
            .collect();
        for (i, id) in pending {
            let now = sim.now;
            let name = format!("s{i}");
            let _ = sim.node_mut(i).unwrap().respond(id, name.as_bytes(), now);
            sim.poke(i);
        }
    }
    sim.run_for(Duration::from_secs(3));
    let mine = events_of(&sim, 1);
    let mut acks: Vec<&str> = mine
        .iter()
        .filter_map(|e| match e {
            Event::QueryAck { query, from } if *query == qid => Some(from.as_str()),
            _ => None,
        })
        .collect();
    acks.sort();
    let mut responders: Vec<&str> = mine
        .iter()
        .filter_map(|e| match e {
            Event::QueryResponse {
                query,
                from,
                payload,
            } if *query == qid => {
                assert_eq!(payload, from.as_bytes());
                Some(from.as_str())
            }
            _ => None,
        })
        .collect();
    responders.sort();
    let expected = ["s0", "s10", "s2", "s4", "s6", "s8"];
    assert_eq!(acks, expected);
    assert_eq!(responders, expected);
    assert!(mine
        .iter()
        .any(|e| matches!(e, Event::QueryDone { query } if *query == qid)));
    // Only the web nodes saw the query as an event.
    assert!(events_of(&sim, 3)
        .iter()
        .all(|e| !matches!(e, Event::Query(_))));
}

#[test]
fn leave_versus_failure_and_reap() {
    let mut sim = cluster(10, 6);
    let now = sim.now;
    sim.node_mut(2).unwrap().leave(now).unwrap();
    sim.poke(2);
    sim.run_for(Duration::from_secs(4));
    assert!(sim
        .records
        .iter()
        .any(|(_, i, o)| *i == 2 && matches!(o, Output::LeaveDone)));
    sim.kill(2);
    sim.kill(7);
    sim.run_for(Duration::from_secs(15));
    for i in (0..10).filter(|&i| i != 2 && i != 7) {
        let c = sim.node(i).unwrap();
        assert_eq!(
            c.member("s2").unwrap().status,
            MemberStatus::Left,
            "observer {i}"
        );
        assert_eq!(
            c.member("s7").unwrap().status,
            MemberStatus::Failed,
            "observer {i}"
        );
    }
    // reconnect_timeout is 20 s: the failed member is reaped after it.
    sim.run_for(Duration::from_secs(30));
    for i in (0..10).filter(|&i| i != 2 && i != 7) {
        let c = sim.node(i).unwrap();
        assert!(c.member("s7").is_none(), "observer {i} still has s7");
        assert!(events_of(&sim, i)
            .iter()
            .any(|e| matches!(e, Event::MemberReap(m) if m.name == "s7")));
        assert_eq!(c.member("s2").unwrap().status, MemberStatus::Left);
    }
}

#[test]
fn coordinates_track_latency() {
    let mut sim = cluster(6, 7);
    sim.run_for(Duration::from_secs(60));
    let a = sim.node(0).unwrap().coordinate().unwrap();
    let b = sim.node(0).unwrap().coordinate_of("s3").unwrap();
    let est = a.distance_to(&b).as_secs_f64();
    // One-way latency 1–1.5 ms, so RTT about 2–3 ms.
    assert!(est > 0.0015 && est < 0.004, "estimated RTT {est}");
}

#[test]
fn key_rotation_across_an_encrypted_cluster() {
    let k1 = vec![1u8; 16];
    let k2 = vec![2u8; 32];
    let mut sim = cluster_with(5, 8, |i| {
        let mut c = cfg(i);
        c.keyring = Some(Keyring::new(&k1, &[]).unwrap());
        c
    });
    let run_query = |sim: &mut Sim<Core>, op: KeyOp, key: &[u8]| -> HashMap<String, bool> {
        let now = sim.now;
        let q = sim.node_mut(0).unwrap().key_query(op, key, now).unwrap();
        sim.poke(0);
        sim.run_for(Duration::from_secs(5));
        events_of(sim, 0)
            .into_iter()
            .filter_map(|e| match e {
                Event::QueryResponse {
                    query,
                    from,
                    payload,
                } if *query == q => {
                    Some((from.clone(), decode_key_response(payload).unwrap().result))
                }
                _ => None,
            })
            .collect()
    };
    let r = run_query(&mut sim, KeyOp::Install, &k2);
    assert_eq!(r.len(), 5);
    assert!(r.values().all(|&ok| ok));
    let r = run_query(&mut sim, KeyOp::Use, &k2);
    assert!(r.len() == 5 && r.values().all(|&ok| ok));
    let r = run_query(&mut sim, KeyOp::Remove, &k1);
    assert!(r.len() == 5 && r.values().all(|&ok| ok));
    for i in 0..5 {
        let ring = sim.node(i).unwrap().keyring().unwrap();
        assert_eq!(ring.keys(), std::slice::from_ref(&k2));
    }
    // The cluster still works on the new key alone.
    sim.kill(4);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(
        sim.node(1).unwrap().member("s4").unwrap().status,
        MemberStatus::Failed
    );
    assert_eq!(
        sim.node(1).unwrap().member("s3").unwrap().status,
        MemberStatus::Alive
    );
}

#[test]
fn node_with_wrong_key_cannot_join() {
    let mut sim: Sim<Core> = Sim::new(9, Network::default());
    for (i, key) in [[1u8; 16], [9u8; 16]].iter().enumerate() {
        let mut c = cfg(i);
        c.keyring = Some(Keyring::new(key, &[]).unwrap());
        sim.add_node(|addr, now| Core::new(c, addr, i as u64, None, now).unwrap());
    }
    let now = sim.now;
    let first = sim.addr(0);
    sim.node_mut(1).unwrap().join(&[first], false, now).unwrap();
    sim.poke(1);
    sim.run_for(Duration::from_secs(5));
    let done = sim.records.iter().find_map(|(_, i, o)| match o {
        Output::JoinDone { joined, errors, .. } if *i == 1 => Some((*joined, errors.clone())),
        _ => None,
    });
    let (joined, errors) = done.expect("join finished");
    assert_eq!(joined, 0);
    assert_eq!(errors.len(), 1);
    assert_eq!(sim.node(0).unwrap().members().len(), 1);
}

#[test]
fn name_conflict_is_resolved_by_majority() {
    let mut sim = cluster(6, 21);
    let original = sim.addr(2);
    // A second node claims "s2" from another address and joins through s0.
    let impostor = sim.add_node(|addr, now| Core::new(cfg(2), addr, 9_999, None, now).unwrap());
    assert_ne!(sim.addr(impostor), original);
    let now = sim.now;
    let via = sim.addr(0);
    sim.node_mut(impostor)
        .unwrap()
        .join(&[via], false, now)
        .unwrap();
    sim.poke(impostor);
    let lost = sim.run_until_pred(Duration::from_millis(100), Duration::from_secs(30), |s| {
        s.node(impostor).unwrap().is_shut_down()
    });
    assert!(
        lost.is_some(),
        "the newcomer did not lose the conflict vote"
    );
    // The vote takes one query timeout (200 ms × 16 × ceil(log10(n+1))) after the conflict.
    sim.run_for(Duration::from_secs(10));
    assert!(
        !sim.node(2).unwrap().is_shut_down(),
        "the original s2 stopped"
    );
    for i in 0..6 {
        let m = sim.node(i).unwrap().member("s2").unwrap();
        assert_eq!(
            (m.addr, m.port, m.status),
            (original.ip(), original.port(), MemberStatus::Alive),
            "node {i} lost the original s2"
        );
    }
    // The loser is inert: no more traffic, no API use.
    let stopped = sim.node_mut(impostor).unwrap();
    assert!(stopped.next_timeout().is_none());
    assert!(stopped.user_event("x", b"", false, now).is_err());
}

#[test]
fn conflict_vote_counts_answers_like_serf() {
    use cairn_gossip::serf::messages::{
        decode_conflict_response, encode_conflict_response, ConflictMember,
    };
    // serf's responder sends the conflict-response type byte and the member, or nil.
    let nil = encode_conflict_response(None);
    assert_eq!(nil, [6, 0xc0]);
    assert_eq!(decode_conflict_response(&nil).unwrap(), None);
    let m = ConflictMember {
        name: "s2".into(),
        addr: vec![127, 0, 0, 1],
        port: 7946,
        tags: [("role".to_string(), "web".to_string())].into(),
        status: 1,
        vsn: [1, 5, 2, 2, 5, 5],
    };
    let buf = encode_conflict_response(Some(&m));
    assert_eq!(buf[0], 6);
    assert_eq!(decode_conflict_response(&buf).unwrap(), Some(m));
    assert!(decode_conflict_response(&[5, 0xc0]).is_err());
}
