//! Operations whose outcome is unknown (timeouts, lost connections).

mod common;

use std::time::{Duration, Instant};

use cairn_lincheck::{check_kv, Budget, KvHistory, KvOperation, Verdict};
use common::*;

fn verdict(ops: Vec<KvOperation>) -> Verdict {
    check_kv(&KvHistory::new(ops), &Budget::UNLIMITED)
        .expect("well-formed history")
        .verdict()
}

#[test]
fn unknown_write_that_happened() {
    assert_eq!(
        verdict(vec![
            write_unknown(0, 0, "k", "a"),
            read(1, 100, 110, "k", Some("a")),
        ]),
        Verdict::Linearizable
    );
}

#[test]
fn unknown_write_that_did_not_happen() {
    let history = KvHistory::new(vec![
        write(1, 0, 5, "k", "x"),
        write_unknown(0, 10, "k", "a"),
        read(1, 100, 110, "k", Some("x")),
        read(1, 120, 130, "k", Some("x")),
    ]);
    let report = check_kv(&history, &Budget::UNLIMITED).expect("well-formed");
    assert_eq!(report.verdict(), Verdict::Linearizable);
    assert_eq!(report.keys[0].dropped, 1);
}

#[test]
fn unknown_write_may_take_effect_long_after_its_client_gave_up() {
    assert_eq!(
        verdict(vec![
            write_unknown(0, 0, "k", "a"),
            read(1, 100, 110, "k", None),
            read(1, 1_000, 1_010, "k", Some("a")),
        ]),
        Verdict::Linearizable
    );
}

#[test]
fn unknown_write_cannot_take_effect_before_its_invocation() {
    assert_eq!(
        verdict(vec![
            read(1, 0, 10, "k", Some("a")),
            write_unknown(0, 20, "k", "a"),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn unknown_write_once_observed_cannot_be_undone() {
    assert_eq!(
        verdict(vec![
            write_unknown(0, 0, "k", "a"),
            read(1, 100, 110, "k", Some("a")),
            read(1, 200, 210, "k", None),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn unknown_cas_that_happened_and_that_did_not() {
    let happened = vec![
        write(0, 0, 10, "k", "a"),
        cas_unknown(1, 20, "k", Some("a"), "b"),
        read(2, 100, 110, "k", Some("b")),
    ];
    assert_eq!(verdict(happened), Verdict::Linearizable);
    let did_not = vec![
        write(0, 0, 10, "k", "a"),
        cas_unknown(1, 20, "k", Some("a"), "b"),
        read(2, 100, 110, "k", Some("a")),
        read(2, 120, 130, "k", Some("a")),
    ];
    assert_eq!(verdict(did_not), Verdict::Linearizable);
    // An unknown CAS whose expectation never held cannot have swapped.
    let impossible = vec![
        write(0, 0, 10, "k", "a"),
        cas_unknown(1, 20, "k", Some("zzz"), "b"),
        read(2, 100, 110, "k", Some("b")),
    ];
    assert_eq!(verdict(impossible), Verdict::NotLinearizable);
}

#[test]
fn unobserved_unknown_write_can_explain_a_failed_cas() {
    let ops = vec![
        write(0, 0, 10, "k", "a"),
        write_unknown(1, 20, "k", "x"),
        cas(2, 30, 40, "k", Some("a"), "b", false),
    ];
    assert_eq!(verdict(ops.clone()), Verdict::Linearizable);
    // Without the unknown write, the failed CAS is a violation.
    assert_eq!(
        verdict(vec![ops[0].clone(), ops[2].clone()]),
        Verdict::NotLinearizable
    );
    // A failed CAS that returned before the unknown write was invoked cannot be explained.
    assert_eq!(
        verdict(vec![
            write(0, 0, 10, "k", "a"),
            cas(2, 15, 18, "k", Some("a"), "b", false),
            write_unknown(1, 20, "k", "x"),
        ]),
        Verdict::NotLinearizable
    );
}

#[test]
fn unknown_delete_that_happened() {
    assert_eq!(
        verdict(vec![
            write(0, 0, 10, "k", "a"),
            cas_unknown(1, 15, "k", Some("a"), "b"),
            read(2, 20, 30, "k", Some("a")),
            cairn_lincheck::Operation::unknown(
                1,
                40,
                cairn_lincheck::KvInput::Delete { key: "k".into() },
            ),
            read(2, 100, 110, "k", None),
        ]),
        Verdict::Linearizable
    );
}

#[test]
fn many_unobserved_unknown_writes_stay_cheap() {
    let mut ops = Vec::new();
    for i in 0..300u64 {
        ops.push(write(0, i * 100, i * 100 + 10, "k", &format!("w{i}")));
        ops.push(write_unknown(1, i * 100 + 20, "k", &format!("lost{i}")));
        ops.push(read(
            2,
            i * 100 + 50,
            i * 100 + 60,
            "k",
            Some(&format!("w{i}")),
        ));
    }
    let started = Instant::now();
    let report = check_kv(&KvHistory::new(ops), &Budget::UNLIMITED).expect("well-formed");
    assert_eq!(report.verdict(), Verdict::Linearizable);
    assert_eq!(report.keys[0].dropped, 300);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn interchangeable_unobserved_unknown_writes_do_not_explode_the_search() {
    // Thirty timed-out writes nobody observed, kept because a failed CAS follows them, then a
    // stale read: refuting it must not enumerate the 2^30 subsets of the lost writes.
    let mut ops = vec![write(0, 0, 10, "k", "a")];
    for i in 0..30u64 {
        ops.push(write_unknown(1 + i, 20 + i, "k", &format!("lost{i}")));
    }
    ops.push(cas(50, 100, 110, "k", Some("a"), "b", false));
    ops.push(write(0, 200, 210, "k", "c"));
    let started = Instant::now();
    assert_eq!(verdict(ops.clone()), Verdict::Linearizable);
    ops.push(read(51, 300, 310, "k", Some("a")));
    assert_eq!(verdict(ops), Verdict::NotLinearizable);
    assert!(started.elapsed() < Duration::from_secs(2));
}
