//! Encoding, snapshot/restore, garbage input, and a randomized replica-equivalence check.

mod common;

use cairn_catalog::{
    ApplyResult, Catalog, CatalogError, Command, RegisterRequest, COMMAND_FORMAT_VERSION,
};
use cairn_consensus::StateMachine;
use cairn_types::txn::KvTxnOp;
use cairn_types::{CheckStatus, SessionBehavior, TxnOp};
use common::*;
use std::time::Duration;

const NODES: [&str; 4] = ["n0", "n1", "N1", "n2"];
const SERVICES: [(&str, &str); 4] = [
    ("web-1", "web"),
    ("web-2", "web"),
    ("db-1", "db"),
    ("cache", "Cache"),
];
const KEYS: [&str; 7] = ["a", "a/b", "a/b/c", "a/d", "b", "b/x", "c/long/key"];
const SESSIONS: [&str; 3] = ["s0", "s1", "s2"];
const STATUSES: [CheckStatus; 3] = [
    CheckStatus::Passing,
    CheckStatus::Warning,
    CheckStatus::Critical,
];

/// A random command over a small universe, so commands interact (locks on shared keys,
/// sessions tied to checks that flip, deletes of registered things).
fn random_command(rng: &mut Rng, now_ms: u64) -> Command {
    let node_name = *rng.pick(&NODES);
    let key = rng.pick(&KEYS).to_string();
    let sid = rng.pick(&SESSIONS).to_string();
    let value = format!("v{}", rng.below(4)).into_bytes();
    match rng.below(18) {
        0 => register_node(node_name),
        1 => {
            let (id, name) = *rng.pick(&SERVICES);
            let tags: &[&str] = if rng.below(2) == 0 {
                &["a"]
            } else {
                &["b", "a"]
            };
            register_service(node_name, service(id, name, tags, rng.below(3) as u16))
        }
        2 | 3 => {
            let (svc, _) = *rng.pick(&SERVICES);
            let service_id = if rng.below(2) == 0 { "" } else { svc };
            let id = if service_id.is_empty() {
                "serfHealth"
            } else {
                "svc-check"
            };
            register_checks(
                node_name,
                vec![check(node_name, id, service_id, *rng.pick(&STATUSES))],
                now_ms,
            )
        }
        4 => Command::DeregisterNode {
            node: node_name.into(),
            now_ms,
        },
        5 => Command::DeregisterService {
            node: node_name.into(),
            service_id: rng.pick(&SERVICES).0.into(),
            now_ms,
        },
        6 => Command::UpdateCheck {
            node: node_name.into(),
            check_id: "serfHealth".into(),
            status: *rng.pick(&STATUSES),
            output: String::new(),
            now_ms,
        },
        7 => Command::KvSet {
            key,
            value,
            flags: rng.below(2),
        },
        8 => Command::KvCas {
            key,
            value,
            flags: 0,
            index: rng.below(40),
        },
        9 => Command::KvDelete { key },
        10 => Command::KvDeleteTree {
            prefix: rng.pick(&["a/", "b", "", "c/"]).to_string(),
        },
        11 => Command::KvDeleteCas {
            key,
            index: rng.below(40),
        },
        12 => Command::KvAcquire {
            key,
            value,
            flags: 0,
            session: sid,
            now_ms,
        },
        13 => Command::KvRelease {
            key,
            value,
            flags: 0,
            session: sid,
        },
        14 => {
            let behavior = if rng.below(2) == 0 {
                SessionBehavior::Release
            } else {
                SessionBehavior::Delete
            };
            let mut s = session(
                &sid,
                node_name,
                behavior,
                Duration::from_millis(rng.below(3) * 500),
            );
            if rng.below(2) == 0 {
                s.node_checks = vec!["serfHealth".into()];
            }
            Command::SessionCreate { session: s }
        }
        15 => Command::SessionDestroy { id: sid, now_ms },
        16 => Command::CoordinateBatchUpdate {
            updates: vec![cairn_catalog::NodeCoordinate {
                node: node_name.into(),
                segment: rng.pick(&["", "alpha"]).to_string(),
                coord: cairn_catalog::Coord {
                    vec: vec![rng.below(100) as f64 / 1000.0; 8],
                    error: 1.5,
                    adjustment: 0.0,
                    height: 1e-5,
                },
            }],
        },
        _ => {
            if rng.below(4) == 0 {
                Command::TombstoneReap {
                    up_to_index: rng.below(60),
                }
            } else {
                let ops = (0..1 + rng.below(4))
                    .map(|_| TxnOp {
                        kv: Some(KvTxnOp {
                            verb: rng
                                .pick(&["set", "delete", "cas", "lock", "get", "check-not-exists"])
                                .to_string(),
                            key: rng.pick(&KEYS).to_string(),
                            value: b"t".to_vec(),
                            index: rng.below(40),
                            session: rng.pick(&SESSIONS).to_string(),
                            ..KvTxnOp::default()
                        }),
                        ..TxnOp::default()
                    })
                    .collect();
                Command::Txn { ops, now_ms }
            }
        }
    }
}

#[test]
fn replica_restored_mid_way_ends_identical() {
    for seed in 0..24u64 {
        let mut rng = Rng(seed);
        let total = 250u64;
        let cut = 1 + rng.below(total - 1);
        let commands: Vec<Command> = (1..=total)
            .map(|i| random_command(&mut rng, i * 300))
            .collect();
        let mut a = Catalog::new();
        let mut b = Catalog::new();
        let mut results_a = Vec::new();
        let mut results_b = Vec::new();
        for (i, cmd) in (1..=total).zip(&commands) {
            let bytes = cmd.encode();
            results_a.push(a.apply(i, &bytes));
            if i == cut {
                let snap = a.snapshot().expect("snapshot");
                b.restore(i, &snap).expect("restore");
            } else if i > cut {
                results_b.push(b.apply(i, &bytes));
            }
        }
        assert_eq!(
            &results_a[cut as usize..],
            &results_b[..],
            "seed {seed}: replicas answered differently"
        );
        let (sa, sb) = (a.snapshot().expect("a"), b.snapshot().expect("b"));
        assert!(sa == sb, "seed {seed}: replicas diverged (cut at {cut})");
        let (va, vb) = (a.reader().view(), b.reader().view());
        assert_eq!(va.kv_list(""), vb.kv_list(""));
        assert_eq!(va.sessions(), vb.sessions());
        assert_eq!(va.coordinates(), vb.coordinates());
        assert_eq!(
            va.service_health("web", &[], Default::default()),
            vb.service_health("web", &[], Default::default())
        );
    }
}

#[test]
fn random_sequences_exercise_real_state() {
    // Guard against the randomized test above passing vacuously: the universe must actually
    // produce entries, sessions, locks and rejections.
    let mut rng = Rng(7);
    let mut c = Catalog::new();
    let (mut errors, mut locks, mut most_keys, mut most_sessions) = (0, 0, 0, 0);
    for i in 1..=400u64 {
        let cmd = random_command(&mut rng, i * 300);
        let is_acquire = matches!(cmd, Command::KvAcquire { .. });
        match c.apply(i, &cmd.encode()) {
            ApplyResult::Error(_) => errors += 1,
            ApplyResult::Bool(true) if is_acquire => locks += 1,
            _ => {}
        }
        let v = c.reader().view();
        most_keys = most_keys.max(v.kv_list("").0.len());
        most_sessions = most_sessions.max(v.sessions().0.len());
    }
    assert!(errors > 0 && locks > 0, "errors {errors}, locks {locks}");
    assert!(
        most_keys >= 3 && most_sessions >= 2,
        "keys {most_keys}, sessions {most_sessions}"
    );
}

#[test]
fn snapshot_round_trip_keeps_everything() {
    let mut h = Harness::new();
    h.ok(register_checks(
        "n1",
        vec![check("n1", "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    h.ok(register_service("n1", service("web-1", "web", &["x"], 80)));
    let mut s = session("s1", "n1", SessionBehavior::Release, Duration::from_secs(5));
    s.node_checks = vec!["serfHealth".into()];
    s.ttl = "30s".into();
    h.ok(Command::SessionCreate { session: s });
    h.ok(create_session(
        "s2",
        "n1",
        SessionBehavior::Delete,
        Duration::from_secs(5),
    ));
    h.ok(acquire("locked", "s1", 0));
    h.ok(acquire("other", "s2", 0));
    h.ok(kv_set("gone", "x"));
    h.ok(Command::KvDelete { key: "gone".into() });
    h.ok(Command::SessionDestroy {
        id: "s2".into(),
        now_ms: 1_000,
    });
    h.ok(Command::DeregisterService {
        node: "n1".into(),
        service_id: "web-1".into(),
        now_ms: 0,
    });
    let snap = h.catalog.snapshot().expect("snapshot");
    let mut restored = Catalog::new();
    restored.restore(h.next - 1, &snap).expect("restore");
    assert_eq!(
        restored.snapshot().expect("again"),
        snap,
        "re-encoding is byte-identical"
    );
    let (a, b) = (h.view(), restored.reader().view());
    assert_eq!(a.kv_list("gone"), b.kv_list("gone"), "tombstones survive");
    assert_eq!(b.kv_lock_delay("other"), Some(6_000), "lock-delays survive");
    assert_eq!(a.session("s1"), b.session("s1"));
    assert_eq!(
        a.service_nodes("web", &[]),
        b.service_nodes("web", &[]),
        "extinction index survives"
    );
    assert_eq!(a.node_services("n1"), b.node_services("n1"));
    // Secondary indexes are rebuilt: the session tie to serfHealth still invalidates.
    restored.apply(
        h.next,
        &Command::UpdateCheck {
            node: "n1".into(),
            check_id: "serfHealth".into(),
            status: CheckStatus::Critical,
            output: String::new(),
            now_ms: 2_000,
        }
        .encode(),
    );
    let b = restored.reader().view();
    assert!(b.session("s1").0.is_none());
    assert_eq!(b.kv_get("locked").0.map(|e| e.session), Some(String::new()));
}

#[test]
fn restore_of_garbage_fails_and_keeps_state() {
    let mut h = Harness::new();
    h.ok(kv_set("keep", "me"));
    let snap = h.catalog.snapshot().expect("snapshot");
    let mut rng = Rng(99);
    let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0xff], vec![1], vec![1, 0xc1]];
    for len in [1usize, 2, 7, 64, 300] {
        inputs.push((0..len).map(|_| rng.next_u64() as u8).collect());
    }
    for cut in [1usize, 5, snap.len() / 2, snap.len() - 1] {
        inputs.push(snap[..cut].to_vec());
    }
    for _ in 0..200 {
        let mut bad = snap.clone();
        let at = rng.below(bad.len() as u64) as usize;
        bad[at] ^= 1 << rng.below(8);
        inputs.push(bad);
    }
    for input in inputs {
        // Bit flips may still decode to a consistent state; either way no panic, and a
        // refused snapshot leaves the old state alone.
        if h.catalog.restore(50, &input).is_err() {
            assert_eq!(
                h.view().kv_get("keep").0.map(|e| e.value),
                Some(b"me".to_vec())
            );
        } else {
            h.catalog.restore(1, &snap).expect("good snapshot restores");
        }
    }
}

#[test]
fn command_encoding_round_trips() {
    let cmds = vec![
        Command::Register(Box::new(RegisterRequest {
            node: node("n1", "10.0.0.1"),
            service: Some(service("id", "name", &["t"], 1)),
            checks: vec![check("n1", "c", "id", CheckStatus::Warning)],
            skip_node_update: true,
            now_ms: 5,
        })),
        register_node("bare"),
        kv_set("k", ""),
        Command::KvSet {
            key: "bin".into(),
            value: vec![0, 255, 1],
            flags: 9,
        },
        acquire("k", "s", 3),
        create_session(
            "s",
            "n",
            SessionBehavior::Delete,
            Duration::from_millis(1500),
        ),
        Command::Txn {
            ops: vec![
                TxnOp::default(),
                TxnOp {
                    kv: Some(KvTxnOp {
                        verb: "set".into(),
                        key: "k".into(),
                        value: b"v".to_vec(),
                        ..KvTxnOp::default()
                    }),
                    ..TxnOp::default()
                },
            ],
            now_ms: 1,
        },
        Command::TombstoneReap { up_to_index: 77 },
    ];
    for cmd in cmds {
        let bytes = cmd.encode();
        assert_eq!(bytes[0], COMMAND_FORMAT_VERSION);
        assert_eq!(Command::decode(&bytes), Ok(cmd));
    }
}

#[test]
fn decoding_garbage_never_panics() {
    assert!(matches!(Command::decode(&[]), Err(CatalogError::Decode(_))));
    assert_eq!(
        Command::decode(&[9, 1, 2]),
        Err(CatalogError::UnsupportedVersion(9))
    );
    let valid = kv_set("some/key", "value").encode();
    let mut rng = Rng(3);
    let mut catalog = Catalog::new();
    let mut index = 1;
    for round in 0..2_000 {
        let input: Vec<u8> = match round % 3 {
            0 => std::iter::once(COMMAND_FORMAT_VERSION)
                .chain((0..rng.below(40)).map(|_| rng.next_u64() as u8))
                .collect(),
            1 => {
                let mut b = valid.clone();
                let at = 1 + rng.below(b.len() as u64 - 1) as usize;
                b[at] = rng.next_u64() as u8;
                b
            }
            _ => valid[..rng.below(valid.len() as u64) as usize].to_vec(),
        };
        let _ = Command::decode(&input);
        // Through the state machine too: an error result or a valid command, never a panic.
        let _ = catalog.apply(index, &input);
        index += 1;
    }
    assert_eq!(catalog.reader().view().last_index(), index - 1);
}

/// `PUT /v1/snapshot`: a saved snapshot replayed as a command replaces the state, wakes
/// watchers, and a damaged one is refused without changing anything.
#[test]
fn restore_command_replaces_state_and_refuses_garbage() {
    let mut h = Harness::new();
    h.ok(kv_set("keep", "v1"));
    let (saved, at) = h.catalog.reader().save_snapshot().expect("save");
    assert_eq!(at, h.next - 1);
    h.ok(kv_set("keep", "v2"));
    h.ok(kv_set("later", "x"));
    let reader = h.catalog.reader();
    let mut watcher = reader.watch(cairn_catalog::WatchScope::KvKey("later".into()));
    let r = h.catalog.apply_command(
        h.next,
        Command::RestoreSnapshot {
            data: saved.clone(),
        },
    );
    assert_eq!(r, ApplyResult::Ok);
    h.next += 1;
    let v = reader.view();
    assert_eq!(v.kv_get("keep").0.map(|e| e.value), Some(b"v1".to_vec()));
    assert!(v.kv_get("later").0.is_none());
    assert_eq!(v.last_index(), h.next - 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let woke = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(1), watcher.changed())
            .await
            .is_ok()
    });
    assert!(woke, "a restore wakes every watcher");

    let mut bad = saved.clone();
    bad.truncate(bad.len() / 2);
    let r = h
        .catalog
        .apply_command(h.next, Command::RestoreSnapshot { data: bad });
    assert!(matches!(r, ApplyResult::Error(_)), "{r:?}");
    assert_eq!(
        reader.view().kv_get("keep").0.map(|e| e.value),
        Some(b"v1".to_vec())
    );
    // Round trip through the encoded command too.
    let cmd = Command::RestoreSnapshot { data: saved };
    assert_eq!(Command::decode(&cmd.encode()).expect("decode"), cmd);
}
