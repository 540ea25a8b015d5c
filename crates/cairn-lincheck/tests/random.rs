//! Histories generated from real sequential executions must pass; corrupting one read must be
//! caught.

mod common;

use std::time::{Duration, Instant};

use cairn_lincheck::{check_kv, Budget, CheckOutcome, KvInput, KvOutput, Outcome, Verdict};
use common::*;

/// How a read is corrupted so that the history is certainly not linearizable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corruption {
    /// A value nobody wrote.
    NeverWritten,
    /// A value overwritten by a later write that completed before the read began.
    Stale,
    /// A value whose write began only after the read returned.
    Future,
}

fn mutation_value(input: &KvInput) -> Option<&str> {
    match input {
        KvInput::Write { value, .. } | KvInput::Cas { value, .. } => Some(value),
        _ => None,
    }
}

/// Corrupts one completed read; returns its index, key and the kind of corruption.
fn corrupt(
    g: &mut Generated,
    rng: &mut Rng,
    with_index: bool,
) -> Option<(usize, String, Corruption)> {
    let ops = &g.history.ops;
    let reads: Vec<usize> = (0..ops.len())
        .filter(|&i| matches!(ops[i].input, KvInput::Read { .. }) && ops[i].ret().is_some())
        .collect();
    if reads.is_empty() {
        return None;
    }
    let r = reads[rng.below(reads.len() as u64) as usize];
    let key = ops[r].input.key().to_string();
    let (r_call, r_ret) = (ops[r].call, ops[r].ret()?);
    // A known mutation that certainly changed the key's value.
    let effective = |i: usize| {
        ops[i].input.key() == key
            && match (&ops[i].input, ops[i].output()) {
                (KvInput::Write { .. } | KvInput::Delete { .. }, Some(_)) => true,
                (KvInput::Cas { .. }, Some(KvOutput::Cas { swapped })) => *swapped,
                _ => false,
            }
    };
    let mut stale = Vec::new();
    for m1 in (0..ops.len()).filter(|&i| effective(i) && mutation_value(&ops[i].input).is_some()) {
        let m1_ret = ops[m1].ret()?;
        let overwritten = (0..ops.len()).any(|m2| {
            effective(m2) && ops[m2].call > m1_ret && ops[m2].ret().is_some_and(|t| t < r_call)
        });
        if overwritten {
            stale.push(m1);
        }
    }
    let future: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            ops[i].input.key() == key
                && ops[i].call > r_ret
                && mutation_value(&ops[i].input).is_some()
        })
        .collect();
    let choice = rng.below(3);
    let (value, index, kind) = if choice == 0 && !stale.is_empty() {
        let m = stale[rng.below(stale.len() as u64) as usize];
        let v = mutation_value(&ops[m].input).map(String::from);
        (v, g.created_index.get(&m).copied(), Corruption::Stale)
    } else if choice == 1 && !future.is_empty() {
        let m = future[rng.below(future.len() as u64) as usize];
        (
            mutation_value(&ops[m].input).map(String::from),
            None,
            Corruption::Future,
        )
    } else {
        (
            Some("never-written".to_string()),
            None,
            Corruption::NeverWritten,
        )
    };
    if let Outcome::Returned { output, .. } = &mut g.history.ops[r].outcome {
        *output = KvOutput::Read {
            value,
            index: index.filter(|_| with_index),
        };
    }
    Some((r, key, kind))
}

#[test]
fn generated_histories_pass_and_corrupted_reads_are_caught() {
    let mut kinds = [0usize; 3];
    let started = Instant::now();
    for seed in 0..150u64 {
        let mut rng = Rng::new(seed ^ 0xabcdef);
        let cfg = GenConfig {
            clients: 2 + rng.below(5),
            ops_per_client: 20 + rng.below(100) as usize,
            keys: 1 + rng.below(3) as usize,
            unknown_percent: [0, 2, 10][rng.below(3) as usize],
            with_index: rng.chance(50),
        };
        let mut g = generate(seed, cfg);
        let report = check_kv(&g.history, &Budget::with_timeout(Duration::from_secs(20)))
            .expect("generated histories are well-formed");
        assert_eq!(
            report.verdict(),
            Verdict::Linearizable,
            "seed {seed} {cfg:?}: {}",
            report.explain(&g.history)
        );
        let Some((r, key, kind)) = corrupt(&mut g, &mut rng, cfg.with_index) else {
            continue;
        };
        kinds[kind as usize] += 1;
        let report = check_kv(&g.history, &Budget::with_timeout(Duration::from_secs(20)))
            .expect("still well-formed");
        assert_eq!(
            report.verdict(),
            Verdict::NotLinearizable,
            "seed {seed} {cfg:?}: corrupted read #{r} ({kind:?}) not detected"
        );
        let bad: Vec<_> = report.violations().map(|k| k.key.clone()).collect();
        assert_eq!(bad, vec![key], "seed {seed}: only the corrupted key is bad");
        let CheckOutcome::NotLinearizable(c) = &report.violations().next().expect("one").outcome
        else {
            unreachable!()
        };
        assert!(
            !c.linearized.contains(&r),
            "seed {seed}: the corrupted read cannot be in a linearizable prefix"
        );
    }
    assert!(
        kinds.iter().all(|&n| n > 5),
        "corruption kinds exercised: {kinds:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn large_generated_history_checks_quickly() {
    let g = generate(
        7,
        GenConfig {
            clients: 10,
            ops_per_client: 1_000,
            keys: 5,
            unknown_percent: 1,
            with_index: true,
        },
    );
    let started = Instant::now();
    let report = check_kv(&g.history, &Budget::default()).expect("ok");
    let elapsed = started.elapsed();
    assert_eq!(report.verdict(), Verdict::Linearizable);
    // Generous for a debug build on a loaded machine; the bench measures the release figure.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}
