//! Wing & Gong / Lowe's linearizability search with Porcupine's optimisations.
//!
//! Every operation becomes a call entry and a return entry in a doubly linked list sorted by
//! time (calls before returns at equal times, so touching operations count as concurrent;
//! unknown outcomes return at +infinity). The search walks the list from its head: a call
//! entry whose operation the model accepts from the current state is *lifted* (its call and
//! return entries are unlinked, dancing-links style) and the walk restarts from the head; on
//! reaching a return entry, the operation it belongs to was not linearized in time, so the last
//! lifted operation is put back and the walk continues after it. A cache of
//! `(linearized set, state)` pairs prunes configurations already explored. Operations with
//! unknown outcome never have to be linearized: the search succeeds as soon as every operation
//! with a known outcome is.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bitset::{Bitset, FastBuild};
use crate::{LincheckError, Model, Operation};

/// Limits on the search, which is exponential in the worst case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Maximum number of search steps per checked history (per key for KV histories).
    pub max_steps: Option<u64>,
    /// Maximum wall-clock time for the whole check.
    pub timeout: Option<Duration>,
}

impl Budget {
    /// No limits at all.
    pub const UNLIMITED: Budget = Budget {
        max_steps: None,
        timeout: None,
    };

    /// A budget of at most `timeout` wall-clock time.
    pub fn with_timeout(timeout: Duration) -> Self {
        Budget {
            max_steps: None,
            timeout: Some(timeout),
        }
    }

    /// A budget of at most `max_steps` search steps.
    pub fn with_max_steps(max_steps: u64) -> Self {
        Budget {
            max_steps: Some(max_steps),
            timeout: None,
        }
    }
}

impl Default for Budget {
    /// 60 seconds, no step limit.
    fn default() -> Self {
        Budget::with_timeout(Duration::from_secs(60))
    }
}

/// Why the checker gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    /// [`Budget::max_steps`] search steps were taken without an answer.
    StepLimit {
        /// Steps taken.
        steps: u64,
    },
    /// [`Budget::timeout`] elapsed without an answer.
    Timeout {
        /// Steps taken before the deadline.
        steps: u64,
    },
}

/// Evidence that a history is not linearizable: the deepest point the search reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The longest linearizable prefix found, as operation indices in linearization order.
    pub linearized: Vec<usize>,
    /// The model state after that prefix, rendered by [`Model::describe_state`].
    pub state: String,
    /// The operation that returned before it could be linearized after that prefix.
    pub blocked: usize,
    /// The other operations that were pending (invoked, not yet linearized) when `blocked`
    /// returned: none of them, nor `blocked`, could be placed next without leading to a dead
    /// end.
    pub candidates: Vec<usize>,
}

/// The verdict on one history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// A linearization exists.
    Linearizable,
    /// No linearization exists.
    NotLinearizable(Counterexample),
    /// The budget ran out first.
    Unknown(UnknownReason),
}

impl CheckOutcome {
    /// Whether the verdict is [`CheckOutcome::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckOutcome::Linearizable)
    }
}

/// Checks `ops` against `model`. Counterexamples refer to operations by index in `ops`.
pub fn check_operations<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    budget: &Budget,
) -> Result<CheckOutcome, LincheckError> {
    let deadline = budget.timeout.map(|t| Instant::now() + t);
    check_with_deadline(model, ops, budget.max_steps, deadline)
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

/// The entry list: node 0 is the head sentinel; other nodes are call or return entries.
struct Entries {
    prev: Vec<usize>,
    next: Vec<usize>,
    op: Vec<usize>,
    is_call: Vec<bool>,
    /// For each operation, its return node.
    ret_node: Vec<usize>,
}

impl Entries {
    fn build<I, O>(ops: &[Operation<I, O>]) -> Self {
        // (time, kind: 0 call / 1 return, op); unknown outcomes return at +infinity.
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, o) in ops.iter().enumerate() {
            order.push((o.call, 0, i));
            order.push((o.ret().unwrap_or(u64::MAX), 1, i));
        }
        order.sort_unstable();
        let n = order.len() + 1;
        let mut e = Entries {
            prev: Vec::with_capacity(n),
            next: Vec::with_capacity(n),
            op: Vec::with_capacity(n),
            is_call: Vec::with_capacity(n),
            ret_node: vec![NIL; ops.len()],
        };
        e.prev.push(NIL);
        e.next.push(if order.is_empty() { NIL } else { 1 });
        e.op.push(NIL);
        e.is_call.push(false);
        for (pos, &(_, kind, op)) in order.iter().enumerate() {
            let node = pos + 1;
            e.prev.push(node - 1);
            e.next.push(if node + 1 < n { node + 1 } else { NIL });
            e.op.push(op);
            e.is_call.push(kind == 0);
            if kind == 1 {
                e.ret_node[op] = node;
            }
        }
        e
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    /// Removes a call entry and its return entry.
    fn lift(&mut self, call: usize) {
        let ret = self.ret_node[self.op[call]];
        self.unlink(call);
        self.unlink(ret);
    }

    /// Undoes the matching [`Entries::lift`] (which must be the latest one not yet undone).
    fn unlift(&mut self, call: usize) {
        let ret = self.ret_node[self.op[call]];
        self.relink(ret);
        self.relink(call);
    }
}

pub(crate) fn check_with_deadline<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    max_steps: Option<u64>,
    deadline: Option<Instant>,
) -> Result<CheckOutcome, LincheckError> {
    for (op, o) in ops.iter().enumerate() {
        if let Some(ret) = o.ret() {
            if ret < o.call {
                return Err(LincheckError::ReturnBeforeCall {
                    op,
                    call: o.call,
                    ret,
                });
            }
        }
    }
    let mut remaining = ops.iter().filter(|o| o.ret().is_some()).count();
    if remaining == 0 {
        return Ok(CheckOutcome::Linearizable);
    }
    let mut entries = Entries::build(ops);
    let mut state = model.init();
    let mut linearized = Bitset::new(ops.len());
    let mut cache: HashSet<(Bitset, M::State), FastBuild> = HashSet::default();
    // Lifted call nodes with the state before each.
    let mut calls: Vec<(usize, M::State)> = Vec::new();
    let mut deepest: Option<Counterexample> = None;
    let mut steps: u64 = 0;
    let mut entry = entries.next[HEAD];
    loop {
        steps += 1;
        if max_steps.is_some_and(|m| steps > m) {
            return Ok(CheckOutcome::Unknown(UnknownReason::StepLimit { steps }));
        }
        if steps.is_multiple_of(1024) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(CheckOutcome::Unknown(UnknownReason::Timeout { steps }));
        }
        if entry != NIL && entries.is_call[entry] {
            let op = entries.op[entry];
            let o = &ops[op];
            if let Some(next_state) = model.step(&state, &o.input, o.output()) {
                let mut next_lin = linearized.clone();
                next_lin.set(op);
                if cache.insert((next_lin, next_state.clone())) {
                    calls.push((entry, std::mem::replace(&mut state, next_state)));
                    linearized.set(op);
                    entries.lift(entry);
                    if o.ret().is_some() {
                        remaining -= 1;
                        if remaining == 0 {
                            return Ok(CheckOutcome::Linearizable);
                        }
                    }
                    entry = entries.next[HEAD];
                    continue;
                }
            }
            entry = entries.next[entry];
            continue;
        }
        // A return entry (the list cannot end while known operations remain, but treat
        // the end like a return to be safe): backtrack.
        if deepest
            .as_ref()
            .is_none_or(|d| calls.len() > d.linearized.len())
        {
            deepest = Some(counterexample(model, ops, &entries, &calls, &state, entry));
        }
        let Some((call, prev_state)) = calls.pop() else {
            return Ok(CheckOutcome::NotLinearizable(deepest.unwrap_or_else(
                || counterexample(model, ops, &entries, &calls, &state, entry),
            )));
        };
        let op = entries.op[call];
        state = prev_state;
        linearized.clear(op);
        entries.unlift(call);
        if ops[op].ret().is_some() {
            remaining += 1;
        }
        entry = entries.next[call];
    }
}

fn counterexample<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    entries: &Entries,
    calls: &[(usize, M::State)],
    state: &M::State,
    ret_entry: usize,
) -> Counterexample {
    let blocked = if ret_entry == NIL {
        // Defensive: should not happen; report the first still-unlinearized known op.
        (0..ops.len())
            .find(|&i| ops[i].ret().is_some() && !calls.iter().any(|c| entries.op[c.0] == i))
            .unwrap_or(0)
    } else {
        entries.op[ret_entry]
    };
    let mut candidates = Vec::new();
    let mut node = entries.next[HEAD];
    while node != NIL && node != ret_entry {
        if entries.is_call[node] && entries.op[node] != blocked {
            candidates.push(entries.op[node]);
        }
        node = entries.next[node];
    }
    Counterexample {
        linearized: calls.iter().map(|c| entries.op[c.0]).collect(),
        state: model.describe_state(state),
        blocked,
        candidates,
    }
}
