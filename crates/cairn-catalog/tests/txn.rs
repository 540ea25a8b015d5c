//! Transactions: verbs, results, errors, rollback.
// The cairn-types transaction ops may gain fields (namespaces); keep `..Default::default()`.
#![allow(clippy::needless_update)]

mod common;

use cairn_catalog::{ApplyResult, CatalogError, Command, TxnOutcome, MAX_TXN_OPS};
use cairn_types::txn::{CheckTxnOp, KvTxnOp, NodeTxnOp, ServiceTxnOp};
use cairn_types::{CheckStatus, SessionBehavior, TxnError, TxnOp, TxnResult};
use common::*;
use std::time::Duration;

fn kv(verb: &str, key: &str, value: &str, index: u64, session: &str) -> TxnOp {
    TxnOp {
        kv: Some(KvTxnOp {
            verb: verb.into(),
            key: key.into(),
            value: value.as_bytes().to_vec(),
            index,
            session: session.into(),
            ..KvTxnOp::default()
        }),
        ..TxnOp::default()
    }
}

fn txn(ops: Vec<TxnOp>) -> Command {
    Command::Txn { ops, now_ms: 0 }
}

fn committed(r: ApplyResult) -> Vec<TxnResult> {
    match r {
        ApplyResult::Txn(TxnOutcome::Committed(results)) => results,
        other => panic!("expected a committed transaction, got {other:?}"),
    }
}

fn rolled_back(r: ApplyResult) -> Vec<TxnError> {
    match r {
        ApplyResult::Txn(TxnOutcome::RolledBack(errors)) => errors,
        other => panic!("expected a rolled back transaction, got {other:?}"),
    }
}

fn kv_result(r: &TxnResult) -> &cairn_types::KvEntry {
    match r {
        TxnResult::Kv(e) => e,
        other => panic!("expected a KV result, got {other:?}"),
    }
}

#[test]
fn writes_and_reads_in_one_transaction() {
    let mut h = Harness::new();
    let (i, r) = h.apply_at(txn(vec![
        kv("set", "a", "1", 0, ""),
        kv("set", "b", "2", 0, ""),
        kv("get", "a", "", 0, ""),
        kv("get-tree", "", "", 0, ""),
        kv("delete", "b", "", 0, ""),
    ]));
    // get-tree with an empty key is refused like every keyless verb but delete-tree.
    let errors = rolled_back(r);
    assert_eq!(
        errors,
        vec![TxnError {
            op_index: 3,
            what: "Must provide key".into()
        }]
    );
    assert!(h.view().kv_get("a").0.is_none(), "rolled back");
    assert!(h.view().last_index() >= i);

    let results = committed(h.apply(txn(vec![
        kv("set", "a", "1", 0, ""),
        kv("set", "b", "2", 0, ""),
        kv("get", "a", "", 0, ""),
        kv("get-tree", "b", "", 0, ""),
        kv("delete", "b", "", 0, ""),
        kv("get-or-empty", "b", "", 0, ""),
    ])));
    assert_eq!(results.len(), 5, "delete has no result");
    assert!(
        kv_result(&results[0]).value.is_empty(),
        "set results carry no value"
    );
    assert_eq!(kv_result(&results[2]).value, b"1", "get carries the value");
    assert_eq!(
        kv_result(&results[3]).value,
        b"2",
        "get-tree carries values"
    );
    let empty = kv_result(&results[4]);
    assert_eq!((empty.key.as_str(), empty.value.len()), ("b", 0));
    let v = h.view();
    assert!(v.kv_get("a").0.is_some());
    assert!(v.kv_get("b").0.is_none());
}

#[test]
fn failure_rolls_back_everything_and_reports_every_error() {
    let mut h = Harness::new();
    let i = h.ok(kv_set("existing", "x"));
    let errors = rolled_back(h.apply(txn(vec![
        kv("set", "new", "1", 0, ""),
        kv("cas", "existing", "y", i + 5, ""),
        kv("check-not-exists", "existing", "", 0, ""),
        kv("get", "missing", "", 0, ""),
        kv("frobnicate", "k", "", 0, ""),
        TxnOp::default(),
    ])));
    let whats: Vec<(usize, &str)> = errors
        .iter()
        .map(|e| (e.op_index, e.what.as_str()))
        .collect();
    assert_eq!(
        whats,
        vec![
            (1, "failed to set key \"existing\", index is stale"),
            (2, "key \"existing\" exists"),
            (3, "key \"missing\" doesn't exist"),
            (4, "unknown KV verb \"frobnicate\""),
            (5, "no operation specified"),
        ]
    );
    let v = h.view();
    assert!(v.kv_get("new").0.is_none());
    assert_eq!(v.kv_get("existing").0.map(|e| e.value), Some(b"x".to_vec()));
    assert_eq!(v.kv_get("existing").1, i, "no index moved");
}

#[test]
fn check_verbs_and_cas_verbs() {
    let mut h = with_session();
    let i = h.ok(kv_set("k", "v"));
    committed(h.apply(txn(vec![
        kv("check-index", "k", "", i, ""),
        kv("cas", "k", "v2", i, ""),
        kv("lock", "k", "locked", 0, "s1"),
        kv("check-session", "k", "", 0, "s1"),
    ])));
    let errors = rolled_back(h.apply(txn(vec![
        kv("check-index", "k", "", i, ""),
        kv("check-session", "k", "", 0, "other"),
        kv("unlock", "k", "", 0, "other"),
        kv("delete-cas", "k", "", 1, ""),
        kv("check-index", "nope", "", 1, ""),
    ])));
    let e = h.view().kv_get("k").0.expect("key");
    let whats: Vec<String> = errors.into_iter().map(|e| e.what).collect();
    assert_eq!(
        whats,
        vec![
            format!(
                "failed index check for key \"k\", current modify index {} != {i}",
                e.modify_index
            ),
            "failed session check for key \"k\", current session \"s1\" != \"other\"".to_string(),
            "failed to unlock key \"k\", lock isn't held, or is held by another session"
                .to_string(),
            "failed to delete key \"k\", index is stale".to_string(),
            "failed to check index, key \"nope\" doesn't exist".to_string(),
        ]
    );
}

fn with_session() -> Harness {
    let mut h = Harness::new();
    h.ok(register_node("n1"));
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        Duration::from_secs(5),
    ));
    h
}

#[test]
fn lock_in_txn_honours_lock_delay_and_holders() {
    let mut h = with_session();
    h.ok(create_session(
        "s2",
        "n1",
        SessionBehavior::Release,
        Duration::ZERO,
    ));
    committed(h.apply(txn(vec![kv("lock", "k", "", 0, "s1")])));
    let errors = rolled_back(h.apply(txn(vec![kv("lock", "k", "", 0, "s2")])));
    assert_eq!(
        errors[0].what,
        "failed to lock key \"k\", lock is already held"
    );
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: 1_000,
    });
    let errors = rolled_back(h.apply(Command::Txn {
        ops: vec![
            kv("get", "missing", "", 0, ""),
            kv("lock", "k", "", 0, "s2"),
        ],
        now_ms: 2_000,
    }));
    // Pre-checks fail first, so the failing get is not even reported (Consul's preCheck).
    assert_eq!(
        errors,
        vec![TxnError {
            op_index: 1,
            what: "failed to lock key \"k\" due to lock delay".into()
        }]
    );
    committed(h.apply(Command::Txn {
        ops: vec![kv("lock", "k", "", 0, "s2")],
        now_ms: 6_000,
    }));
    let errors = rolled_back(h.apply(txn(vec![kv("lock", "j", "", 0, "ghost")])));
    assert_eq!(errors[0].what, "invalid session \"ghost\"");
}

#[test]
fn node_service_check_verbs() {
    let mut h = Harness::new();
    let node_op = |verb: &str, index: u64| TxnOp {
        node: Some(NodeTxnOp {
            verb: verb.into(),
            node: cairn_types::Node {
                modify_index: index,
                ..node("n1", "10.0.0.1")
            },
            ..NodeTxnOp::default()
        }),
        ..TxnOp::default()
    };
    let svc_op = |verb: &str| TxnOp {
        service: Some(ServiceTxnOp {
            verb: verb.into(),
            node: "n1".into(),
            service: service("web-1", "web", &[], 80),
            ..ServiceTxnOp::default()
        }),
        ..TxnOp::default()
    };
    let check_op = |verb: &str| TxnOp {
        check: Some(CheckTxnOp {
            verb: verb.into(),
            check: check("n1", "c1", "web-1", CheckStatus::Passing),
            ..CheckTxnOp::default()
        }),
        ..TxnOp::default()
    };
    let (i, r) = h.apply_at(txn(vec![node_op("set", 0), svc_op("set"), check_op("set")]));
    let results = committed(r);
    assert!(matches!(&results[0], TxnResult::Node(n) if n.modify_index == i));
    assert!(matches!(&results[1], TxnResult::Service(s) if s.id == "web-1"));
    assert!(matches!(&results[2], TxnResult::Check(c) if c.service_name == "web"));
    // cas with a stale index fails; with the right one succeeds.
    let errors = rolled_back(h.apply(txn(vec![node_op("cas", i + 10)])));
    assert_eq!(errors[0].what, "failed to set node \"n1\", index is stale");
    let errors = rolled_back(h.apply(txn(vec![node_op("delete-cas", i + 10)])));
    assert_eq!(
        errors[0].what,
        "failed to delete node \"n1\", index is stale"
    );
    committed(h.apply(txn(vec![svc_op("get"), check_op("get"), node_op("get", 0)])));
    committed(h.apply(txn(vec![check_op("delete"), svc_op("delete")])));
    let errors = rolled_back(h.apply(txn(vec![svc_op("get"), check_op("get")])));
    assert_eq!(
        errors[0].what,
        "service \"web-1\" on node \"n1\" doesn't exist"
    );
    assert_eq!(errors[1].what, "check \"c1\" on node \"n1\" doesn't exist");
    committed(h.apply(txn(vec![node_op("delete-cas", i)])));
    assert!(h.view().nodes().0.is_empty());
    let errors = rolled_back(h.apply(txn(vec![svc_op("set")])));
    assert_eq!(errors[0].what, "Missing node registration");
}

#[test]
fn too_many_operations_are_refused() {
    let mut h = Harness::new();
    let ops: Vec<TxnOp> = (0..=MAX_TXN_OPS)
        .map(|i| kv("set", &format!("k{i}"), "v", 0, ""))
        .collect();
    assert_eq!(
        h.apply(txn(ops)),
        ApplyResult::Error(CatalogError::TooManyTxnOps(MAX_TXN_OPS + 1))
    );
    assert_eq!(
        CatalogError::TooManyTxnOps(129).to_string(),
        "Transaction contains too many operations (129 > 128)"
    );
    let ops: Vec<TxnOp> = (0..MAX_TXN_OPS)
        .map(|i| kv("set", &format!("k{i}"), "v", 0, ""))
        .collect();
    assert_eq!(committed(h.apply(txn(ops))).len(), MAX_TXN_OPS);
}

#[test]
fn read_only_transactions_run_on_a_view() {
    let mut h = Harness::new();
    h.ok(kv_set("a", "1"));
    let v = h.view();
    let out = v.read_txn(vec![
        kv("get", "a", "", 0, ""),
        kv("check-not-exists", "b", "", 0, ""),
    ]);
    match out {
        Ok(TxnOutcome::Committed(r)) => assert_eq!(kv_result(&r[0]).value, b"1"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        v.read_txn(vec![kv("get", "a", "", 0, ""), kv("set", "a", "2", 0, "")]),
        Err(CatalogError::WriteInReadOnlyTxn(1))
    );
    assert!(matches!(
        v.read_txn(vec![kv("get", "zz", "", 0, "")]),
        Ok(TxnOutcome::RolledBack(_))
    ));
    assert_eq!(h.view().kv_get("a").0.map(|e| e.value), Some(b"1".to_vec()));
}
