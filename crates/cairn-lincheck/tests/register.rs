//! Classic single-key register histories.

mod common;

use cairn_lincheck::{check_kv, Budget, CheckOutcome, KvHistory, KvOperation, Verdict};
use common::*;

fn verdict(ops: Vec<KvOperation>) -> Verdict {
    check_kv(&KvHistory::new(ops), &Budget::UNLIMITED)
        .expect("well-formed history")
        .verdict()
}

fn counterexample(ops: Vec<KvOperation>) -> cairn_lincheck::Counterexample {
    let report = check_kv(&KvHistory::new(ops), &Budget::UNLIMITED).expect("well-formed");
    match &report.keys[0].outcome {
        CheckOutcome::NotLinearizable(c) => c.clone(),
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn empty_and_sequential_histories_are_linearizable() {
    assert_eq!(verdict(vec![]), Verdict::Linearizable);
    assert_eq!(
        verdict(vec![
            read(0, 0, 5, "k", None),
            write(0, 10, 20, "k", "a"),
            read(1, 30, 40, "k", Some("a")),
            write(1, 50, 60, "k", "b"),
            read(0, 70, 80, "k", Some("b")),
            delete(0, 90, 95, "k"),
            read(1, 100, 110, "k", None),
        ]),
        Verdict::Linearizable
    );
}

#[test]
fn stale_read_after_completed_write_is_detected() {
    let ops = vec![
        write(0, 0, 10, "k", "a"),
        write(0, 20, 30, "k", "b"),
        read(1, 40, 50, "k", Some("a")),
    ];
    let c = counterexample(ops);
    assert_eq!(c.linearized, vec![0, 1]);
    assert_eq!(c.blocked, 2);
    assert!(c.state.contains("\"b\""), "state: {}", c.state);
}

#[test]
fn read_concurrent_with_write_may_see_old_or_new_value() {
    for seen in [None, Some("a")] {
        assert_eq!(
            verdict(vec![write(0, 0, 100, "k", "a"), read(1, 10, 20, "k", seen)]),
            Verdict::Linearizable
        );
    }
}

#[test]
fn absent_read_after_completed_write_is_detected() {
    assert_eq!(
        verdict(vec![write(0, 0, 10, "k", "a"), read(1, 20, 30, "k", None)]),
        Verdict::NotLinearizable
    );
}

#[test]
fn reads_seeing_writes_in_contradictory_orders_are_detected() {
    let ops = vec![
        write(0, 0, 100, "k", "a"),
        write(1, 0, 100, "k", "b"),
        read(2, 10, 20, "k", Some("a")),
        read(2, 30, 40, "k", Some("b")),
        read(3, 10, 20, "k", Some("b")),
        read(3, 30, 40, "k", Some("a")),
    ];
    assert_eq!(verdict(ops.clone()), Verdict::NotLinearizable);
    // Either order alone is fine.
    assert_eq!(verdict(ops[..4].to_vec()), Verdict::Linearizable);
    let mut other = ops[..2].to_vec();
    other.extend_from_slice(&ops[4..]);
    assert_eq!(verdict(other), Verdict::Linearizable);
}

#[test]
fn read_of_a_value_never_written_is_detected() {
    let c = counterexample(vec![
        write(0, 0, 10, "k", "a"),
        read(1, 5, 30, "k", Some("zzz")),
    ]);
    assert_eq!(c.blocked, 1);
}

#[test]
fn concurrent_writes_may_land_in_either_order() {
    for last in ["a", "b"] {
        assert_eq!(
            verdict(vec![
                write(0, 0, 100, "k", "a"),
                write(1, 0, 100, "k", "b"),
                read(2, 200, 210, "k", Some(last)),
                read(3, 220, 230, "k", Some(last)),
            ]),
            Verdict::Linearizable
        );
    }
}

#[test]
fn two_successful_cas_from_the_same_value_are_detected() {
    let ops = vec![
        write(0, 0, 10, "k", "a"),
        cas(1, 20, 40, "k", Some("a"), "b", true),
        cas(2, 20, 40, "k", Some("a"), "c", true),
    ];
    assert_eq!(verdict(ops.clone()), Verdict::NotLinearizable);
    let mut ok = ops;
    ok[2] = cas(2, 20, 40, "k", Some("a"), "c", false);
    assert_eq!(verdict(ok), Verdict::Linearizable);
}

#[test]
fn lost_cas_is_detected() {
    // The CAS said it swapped, but a later read still sees the old value.
    assert_eq!(
        verdict(vec![
            write(0, 0, 10, "k", "a"),
            cas(1, 20, 30, "k", Some("a"), "b", true),
            read(2, 40, 50, "k", Some("a")),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn failed_cas_that_should_have_swapped_is_detected() {
    assert_eq!(
        verdict(vec![
            write(0, 0, 10, "k", "a"),
            cas(1, 20, 30, "k", Some("a"), "b", false),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn cas_zero_creates_only_absent_keys() {
    assert_eq!(
        verdict(vec![
            cas(0, 0, 10, "k", None, "a", true),
            cas(1, 20, 30, "k", None, "b", false),
            read(1, 40, 50, "k", Some("a")),
            delete(0, 60, 70, "k"),
            cas(1, 80, 90, "k", None, "c", true),
        ]),
        Verdict::Linearizable
    );
    assert_eq!(
        verdict(vec![
            cas(0, 0, 10, "k", None, "a", true),
            cas(1, 20, 30, "k", None, "b", true),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn read_after_completed_delete_cannot_see_old_value() {
    assert_eq!(
        verdict(vec![
            write(0, 0, 10, "k", "a"),
            delete(0, 20, 30, "k"),
            read(1, 40, 50, "k", Some("a")),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn modify_index_must_be_stable_per_version_and_grow() {
    let base = || {
        vec![
            write(0, 0, 10, "k", "a"),
            read_at(1, 20, 30, "k", Some("a"), Some(5)),
        ]
    };
    let mut same = base();
    same.push(read_at(2, 40, 50, "k", Some("a"), Some(5)));
    assert_eq!(verdict(same), Verdict::Linearizable);

    let mut changed = base();
    changed.push(read_at(2, 40, 50, "k", Some("a"), Some(6)));
    assert_eq!(verdict(changed), Verdict::NotLinearizable);

    let mut went_back = base();
    went_back.push(write(0, 40, 50, "k", "b"));
    went_back.push(read_at(2, 60, 70, "k", Some("b"), Some(4)));
    assert_eq!(verdict(went_back.clone()), Verdict::NotLinearizable);
    went_back[3] = read_at(2, 60, 70, "k", Some("b"), Some(9));
    assert_eq!(verdict(went_back), Verdict::Linearizable);
}

#[test]
fn touching_intervals_count_as_concurrent() {
    // The read is invoked at the instant the write returns: either order is allowed.
    assert_eq!(
        verdict(vec![write(0, 0, 10, "k", "a"), read(1, 10, 20, "k", None)]),
        Verdict::Linearizable
    );
}
