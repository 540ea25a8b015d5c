//! Exact simplifications of unknown-outcome operations before the search.
//!
//! Unknown outcomes are what makes the search blow up: such an operation stays pending
//! forever and may be linearized at any later point, so every subset of them is a distinct
//! configuration. Two rewrites keep that in check without changing the verdict:
//!
//! 1. **Drop** an unknown write, delete or CAS whose resulting value (absent, for a delete) is
//!    *unobserved* (no completed read returned it and no CAS expected it) when no CAS that
//!    returned `false` finished after the operation was invoked. In any linearization that
//!    includes it, the operations between it and the next mutation are then reads of other
//!    values (impossible), failed CASes (excluded) or unknown CASes (which can be moved to the
//!    end), and the next mutation is an unconditional write or delete; removing it leaves a
//!    valid linearization. Repeated until nothing changes, since dropping an unknown CAS can
//!    make another value unobserved.
//! 2. **Anonymise** the remaining unobserved unknown writes and deletes: each sets the register
//!    to a value nobody can tell apart from another, so they are interchangeable. They become
//!    [`RegInput::Anon`] with a rank in invocation order, and the model only lets the
//!    lowest-ranked unused one be linearized. If a linearization uses some of them at certain
//!    points, assigning them to those points in invocation order is also valid (each is invoked
//!    no later than the one it replaces), so only one of the many orders needs exploring.

use std::collections::HashMap;

use crate::register::{RegInput, RegOutput};
use crate::Operation;

type RegOp = Operation<RegInput, RegOutput>;

/// Applies both rewrites to one key's operations; `global` is kept aligned with `ops`.
pub(crate) fn simplify_unknown(ops: &mut Vec<RegOp>, global: &mut Vec<usize>) {
    // Failed CASes have known outputs and are never removed, so this bound is fixed.
    let last_failed_cas = ops
        .iter()
        .filter(|o| matches!(o.output(), Some(RegOutput::Cas(false))))
        .filter_map(|o| o.ret())
        .max();
    loop {
        let observed = observed_values(ops);
        let keep: Vec<bool> = ops
            .iter()
            .map(|o| {
                !(unobserved_unknown(o, &observed) && last_failed_cas.is_none_or(|t| t < o.call))
            })
            .collect();
        if keep.iter().all(|&k| k) {
            break;
        }
        let mut k = keep.iter();
        ops.retain(|_| k.next().copied().unwrap_or(true));
        let mut k = keep.iter();
        global.retain(|_| k.next().copied().unwrap_or(true));
    }
    let observed = observed_values(ops);
    let mut anon: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            matches!(ops[i].input, RegInput::Write(_) | RegInput::Delete)
                && unobserved_unknown(&ops[i], &observed)
        })
        .collect();
    anon.sort_by_key(|&i| (ops[i].call, i));
    for (rank, i) in anon.into_iter().enumerate() {
        ops[i].input = RegInput::Anon {
            rank: u32::try_from(rank).unwrap_or(u32::MAX),
        };
    }
}

/// How many operations observe each value (`None`: absent): completed reads returning it and
/// CASes expecting it.
fn observed_values(ops: &[RegOp]) -> HashMap<Option<u32>, usize> {
    let mut observed: HashMap<Option<u32>, usize> = HashMap::new();
    for o in ops {
        match (&o.input, o.output()) {
            (_, Some(RegOutput::Read { value, .. })) => *observed.entry(*value).or_default() += 1,
            (RegInput::Cas { expected, .. }, _) => *observed.entry(*expected).or_default() += 1,
            _ => {}
        }
    }
    observed
}

/// Whether `o` is an unknown-outcome mutation whose result no *other* operation observes.
fn unobserved_unknown(o: &RegOp, observed: &HashMap<Option<u32>, usize>) -> bool {
    let result = match (o.ret(), o.input) {
        (None, RegInput::Write(v) | RegInput::Cas { new: v, .. }) => Some(v),
        (None, RegInput::Delete) => None,
        _ => return false,
    };
    let mut seen = observed.get(&result).copied().unwrap_or(0);
    if let RegInput::Cas { expected, .. } = o.input {
        if expected == result {
            seen = seen.saturating_sub(1);
        }
    }
    seen == 0
}
