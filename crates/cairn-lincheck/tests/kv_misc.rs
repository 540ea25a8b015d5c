//! Multi-key histories, budgets, validation errors and JSON round trips.

mod common;

use std::time::Duration;

use cairn_lincheck::{
    check_kv, Budget, CheckOutcome, KvHistory, KvInput, KvOutput, LincheckError, Operation,
    UnknownReason, Verdict,
};
use common::*;

#[test]
fn only_the_bad_key_is_reported() {
    let history = KvHistory::new(vec![
        write(0, 0, 10, "good1", "a"),
        write(1, 0, 10, "bad", "x"),
        read(2, 20, 30, "good1", Some("a")),
        write(0, 40, 50, "bad", "y"),
        write(1, 40, 50, "good2", "b"),
        read(2, 60, 70, "bad", Some("x")),
        read(3, 60, 70, "good2", Some("b")),
    ]);
    let report = check_kv(&history, &Budget::UNLIMITED).expect("well-formed");
    assert_eq!(report.verdict(), Verdict::NotLinearizable);
    let keys: Vec<_> = report.keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["bad", "good1", "good2"]);
    let bad: Vec<_> = report.violations().collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].key, "bad");
    assert_eq!(bad[0].checked, 3);
    match &bad[0].outcome {
        // Indices refer to the whole history, not the key's sub-history.
        CheckOutcome::NotLinearizable(c) => {
            assert_eq!(c.linearized, vec![1, 3]);
            assert_eq!(c.blocked, 5);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(report.keys[1].outcome.is_linearizable());
    assert!(report.keys[2].outcome.is_linearizable());
    let text = report.explain(&history);
    assert!(text.contains("key \"bad\": NOT linearizable"), "{text}");
    assert!(
        text.contains(
            "cannot be linearized next: #5 client 2 [60, 70] read \"bad\" -> Some(\"x\")"
        ),
        "{text}"
    );
    assert!(!text.contains("good"), "{text}");
}

/// Twenty concurrent writes, then a read of a value nobody wrote: the search must try every
/// subset of the writes before giving up.
fn exponential_history() -> KvHistory {
    let mut ops: Vec<_> = (0..20)
        .map(|i| write(i, 0, 100, "k", &format!("v{i}")))
        .collect();
    ops.push(read(99, 200, 210, "k", Some("nobody")));
    ops.push(read(99, 0, 300, "k", Some("v3")));
    KvHistory::new(ops)
}

#[test]
fn step_budget_yields_unknown() {
    let report = check_kv(&exponential_history(), &Budget::with_max_steps(10_000)).expect("ok");
    assert_eq!(report.verdict(), Verdict::Unknown);
    assert_eq!(
        report.keys[0].outcome,
        CheckOutcome::Unknown(UnknownReason::StepLimit { steps: 10_001 })
    );
    assert!(report.explain(&exponential_history()).contains("undecided"));
}

#[test]
fn time_budget_yields_unknown() {
    let report = check_kv(
        &exponential_history(),
        &Budget::with_timeout(Duration::from_millis(20)),
    )
    .expect("ok");
    assert!(matches!(
        report.keys[0].outcome,
        CheckOutcome::Unknown(UnknownReason::Timeout { .. })
    ));
}

#[test]
fn violation_beats_unknown_in_the_overall_verdict() {
    let mut history = exponential_history();
    history.ops.push(write(0, 0, 10, "other", "a"));
    history.ops.push(read(1, 20, 30, "other", None));
    let report = check_kv(&history, &Budget::with_max_steps(1_000)).expect("ok");
    assert_eq!(report.verdict(), Verdict::NotLinearizable);
}

#[test]
fn malformed_histories_are_rejected() {
    let backwards = KvHistory::new(vec![write(0, 10, 5, "k", "a")]);
    assert!(matches!(
        check_kv(&backwards, &Budget::UNLIMITED),
        Err(LincheckError::ReturnBeforeCall {
            op: 0,
            call: 10,
            ret: 5
        })
    ));
    let mismatched = KvHistory::new(vec![Operation::returned(
        0,
        0,
        1,
        KvInput::Read { key: "k".into() },
        KvOutput::Cas { swapped: true },
    )]);
    assert!(matches!(
        check_kv(&mismatched, &Budget::UNLIMITED),
        Err(LincheckError::OutputMismatch { op: 0, .. })
    ));
}

#[test]
fn duplicate_values_are_rejected_only_with_cas() {
    let plain = vec![write(0, 0, 10, "k", "a"), write(0, 20, 30, "k", "a")];
    let report = check_kv(&KvHistory::new(plain.clone()), &Budget::UNLIMITED).expect("ok");
    assert_eq!(report.verdict(), Verdict::Linearizable);
    let mut with_cas = plain;
    with_cas.push(cas(1, 40, 50, "k", Some("a"), "b", true));
    let err = check_kv(&KvHistory::new(with_cas), &Budget::UNLIMITED).unwrap_err();
    assert!(matches!(
        err,
        LincheckError::DuplicateValue {
            first: 0,
            second: 1,
            ..
        }
    ));
    assert!(err.to_string().contains("unique"));
}

#[test]
fn history_round_trips_through_json_files() {
    let history = KvHistory::new(vec![
        write(0, 0, 10, "k", "a"),
        write_unknown(1, 5, "k", "b"),
        cas(2, 20, 30, "k", None, "c", false),
        read_at(2, 40, 50, "k", Some("a"), Some(7)),
        delete(0, 60, 70, "k"),
    ]);
    let json = history.to_json().expect("encode");
    assert!(json.contains("\"op\": \"cas\""), "{json}");
    assert!(json.contains("\"unknown\""), "{json}");
    assert_eq!(KvHistory::from_json(&json).expect("decode"), history);
    let path = std::env::temp_dir().join(format!("lincheck-{}.json", std::process::id()));
    history.save_json(&path).expect("save");
    let loaded = KvHistory::load_json(&path).expect("load");
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded, history);
    assert!(matches!(
        KvHistory::from_json("{\"ops\": 3}"),
        Err(LincheckError::Json(_))
    ));
    let report = check_kv(&loaded, &Budget::default()).expect("ok");
    let report_json = serde_json::to_string(&report).expect("report encodes");
    assert!(report_json.contains("linearizable"));
}
