//! Consul-style KV histories, checked one key at a time (P-compositionality: a history of
//! independent registers is linearizable iff each key's sub-history is).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::checker::check_with_deadline;
use crate::register::{RegInput, RegOutput, RegisterModel};
use crate::{Budget, CheckOutcome, History, LincheckError, Operation, Outcome};

/// A KV request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum KvInput {
    /// `GET /v1/kv/<key>` (default or `?consistent` mode).
    Read {
        /// The key.
        key: String,
    },
    /// `PUT /v1/kv/<key>` without `cas`.
    Write {
        /// The key.
        key: String,
        /// The value written; must be unique per key when the key also sees CAS operations.
        value: String,
    },
    /// `PUT /v1/kv/<key>?cas=<index>`.
    Cas {
        /// The key.
        key: String,
        /// The value the client read together with the `ModifyIndex` it sends as `cas`, or
        /// `None` for `cas=0` (create only if absent).
        expected: Option<String>,
        /// The value written if the CAS succeeds.
        value: String,
    },
    /// `DELETE /v1/kv/<key>`.
    Delete {
        /// The key.
        key: String,
    },
}

impl KvInput {
    /// The key the request addresses.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Read { key }
            | KvInput::Write { key, .. }
            | KvInput::Cas { key, .. }
            | KvInput::Delete { key } => key,
        }
    }
}

/// A KV response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum KvOutput {
    /// The answer to a read: `None` for 404.
    Read {
        /// The value read, or `None` if the key was absent.
        value: Option<String>,
        /// The entry's `ModifyIndex`, if recorded (checked for consistency; may be `None`).
        index: Option<u64>,
    },
    /// A write or delete returned `true`.
    Done,
    /// A CAS returned `true` (swapped) or `false`.
    Cas {
        /// Whether the value was replaced.
        swapped: bool,
    },
}

/// A KV history.
pub type KvHistory = History<KvInput, KvOutput>;
/// One KV operation.
pub type KvOperation = Operation<KvInput, KvOutput>;

/// The verdict on one key; operation indices refer to the whole [`KvHistory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Operations on the key that were checked.
    pub checked: usize,
    /// Operations with unknown outcome left out because they cannot matter (reads, and
    /// writes whose value nobody observed; see [`check_kv`]).
    pub dropped: usize,
    /// The verdict, with history-wide operation indices.
    pub outcome: CheckOutcome,
}

/// The overall verdict on a KV history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every key is linearizable.
    Linearizable,
    /// At least one key is not linearizable.
    NotLinearizable,
    /// No key is known to be bad, but at least one could not be decided within the budget.
    Unknown,
}

/// The verdicts on every key of a KV history, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvReport {
    /// One report per key.
    pub keys: Vec<KeyReport>,
}

impl KvReport {
    /// The overall verdict.
    pub fn verdict(&self) -> Verdict {
        let outcomes = || self.keys.iter().map(|k| &k.outcome);
        if outcomes().any(|o| matches!(o, CheckOutcome::NotLinearizable(_))) {
            Verdict::NotLinearizable
        } else if outcomes().any(|o| matches!(o, CheckOutcome::Unknown(_))) {
            Verdict::Unknown
        } else {
            Verdict::Linearizable
        }
    }

    /// The keys found not linearizable.
    pub fn violations(&self) -> impl Iterator<Item = &KeyReport> {
        self.keys
            .iter()
            .filter(|k| matches!(k.outcome, CheckOutcome::NotLinearizable(_)))
    }

    /// A human-readable explanation of every non-linearizable or undecided key.
    pub fn explain(&self, history: &KvHistory) -> String {
        let mut out = String::new();
        let op = |i: usize| {
            history
                .ops
                .get(i)
                .map_or(format!("#{i} ?"), |o| describe_op(i, o))
        };
        for k in &self.keys {
            match &k.outcome {
                CheckOutcome::Linearizable => {}
                CheckOutcome::Unknown(reason) => {
                    let _ = writeln!(out, "key {:?}: undecided ({reason:?})", k.key);
                }
                CheckOutcome::NotLinearizable(c) => {
                    let _ = writeln!(
                        out,
                        "key {:?}: NOT linearizable ({} operations checked)",
                        k.key, k.checked
                    );
                    let _ = writeln!(
                        out,
                        "  longest linearizable prefix: {} operations, ending in state {}",
                        c.linearized.len(),
                        c.state
                    );
                    let shown = c.linearized.len().saturating_sub(8);
                    if shown > 0 {
                        let _ = writeln!(out, "    ... {shown} earlier operations");
                    }
                    for &i in &c.linearized[shown..] {
                        let _ = writeln!(out, "    {}", op(i));
                    }
                    let _ = writeln!(out, "  cannot be linearized next: {}", op(c.blocked));
                    for &i in &c.candidates {
                        let _ = writeln!(out, "    concurrent, also pending: {}", op(i));
                    }
                }
            }
        }
        out
    }
}

/// One operation on one line, e.g. `#12 client 3 [100, 250] write "k" "v" -> done`.
pub fn describe_op(index: usize, op: &KvOperation) -> String {
    let input = match &op.input {
        KvInput::Read { key } => format!("read {key:?}"),
        KvInput::Write { key, value } => format!("write {key:?} {value:?}"),
        KvInput::Cas {
            key,
            expected,
            value,
        } => format!("cas {key:?} {expected:?} -> {value:?}"),
        KvInput::Delete { key } => format!("delete {key:?}"),
    };
    match &op.outcome {
        Outcome::Unknown => format!(
            "#{index} client {} [{}, ?] {input} -> unknown",
            op.client, op.call
        ),
        Outcome::Returned { time, output } => {
            let output = match output {
                KvOutput::Read {
                    value,
                    index: Some(i),
                } => format!("{value:?} @{i}"),
                KvOutput::Read { value, index: None } => format!("{value:?}"),
                KvOutput::Done => "done".to_string(),
                KvOutput::Cas { swapped } => format!("{swapped}"),
            };
            format!(
                "#{index} client {} [{}, {time}] {input} -> {output}",
                op.client, op.call
            )
        }
    }
}

/// Checks a KV history key by key.
///
/// The budget's step limit applies to each key, its timeout to the whole check. Before the
/// search, operations with unknown outcome that cannot affect the verdict are dropped: reads,
/// and writes, deletes or CASes whose resulting value (absent, for a delete) no read returned
/// and no CAS expected, provided no CAS that returned `false` finished after they were invoked
/// (such a failed CAS could be explained by the unobserved write). Any linearization that
/// includes such an operation stays valid with the operation removed, so this is exact; it
/// keeps the many "timed out, never happened" writes of a faulty run from blowing up the search.
pub fn check_kv(history: &KvHistory, budget: &Budget) -> Result<KvReport, LincheckError> {
    history.validate_times()?;
    let deadline = budget.timeout.map(|t| Instant::now() + t);
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        check_output_kind(i, op)?;
        by_key.entry(op.input.key()).or_default().push(i);
    }
    let mut keys = Vec::with_capacity(by_key.len());
    for (key, indices) in by_key {
        let part = KeyPartition::build(key, &history.ops, &indices)?;
        let dropped = indices.len() - part.global.len();
        let outcome = check_with_deadline(&part.model, &part.ops, budget.max_steps, deadline)?;
        keys.push(KeyReport {
            key: key.to_string(),
            checked: part.global.len(),
            dropped,
            outcome: remap(outcome, &part.global),
        });
    }
    Ok(KvReport { keys })
}

fn check_output_kind(i: usize, op: &KvOperation) -> Result<(), LincheckError> {
    let ok = matches!(
        (&op.input, op.output()),
        (_, None)
            | (KvInput::Read { .. }, Some(KvOutput::Read { .. }))
            | (
                KvInput::Write { .. } | KvInput::Delete { .. },
                Some(KvOutput::Done)
            )
            | (KvInput::Cas { .. }, Some(KvOutput::Cas { .. }))
    );
    if ok {
        Ok(())
    } else {
        Err(LincheckError::OutputMismatch {
            op: i,
            input: format!("{:?}", op.input),
            output: format!("{:?}", op.output()),
        })
    }
}

fn remap(outcome: CheckOutcome, global: &[usize]) -> CheckOutcome {
    let g = |i: usize| global.get(i).copied().unwrap_or(i);
    match outcome {
        CheckOutcome::NotLinearizable(mut c) => {
            c.linearized.iter_mut().for_each(|i| *i = g(*i));
            c.candidates.iter_mut().for_each(|i| *i = g(*i));
            c.blocked = g(c.blocked);
            CheckOutcome::NotLinearizable(c)
        }
        other => other,
    }
}

/// One key's operations translated to the register model.
struct KeyPartition {
    model: RegisterModel,
    ops: Vec<Operation<RegInput, RegOutput>>,
    /// History index of each entry of `ops`.
    global: Vec<usize>,
}

impl KeyPartition {
    fn build<'a>(
        key: &str,
        all: &'a [KvOperation],
        indices: &[usize],
    ) -> Result<Self, LincheckError> {
        let mut ids: HashMap<&'a str, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut intern = |v: &'a str| -> u32 {
            *ids.entry(v).or_insert_with(|| {
                names.push(v.to_string());
                (names.len() - 1) as u32
            })
        };
        let has_cas = indices
            .iter()
            .any(|&i| matches!(all[i].input, KvInput::Cas { .. }));
        let mut writer_of: HashMap<u32, usize> = HashMap::new();
        let mut ops = Vec::with_capacity(indices.len());
        let mut global = Vec::with_capacity(indices.len());
        for &i in indices {
            let op = &all[i];
            let input = match &op.input {
                KvInput::Read { .. } => RegInput::Read,
                KvInput::Write { value, .. } => RegInput::Write(intern(value)),
                KvInput::Cas {
                    expected, value, ..
                } => RegInput::Cas {
                    expected: expected.as_deref().map(&mut intern),
                    new: intern(value),
                },
                KvInput::Delete { .. } => RegInput::Delete,
            };
            if let (true, RegInput::Write(v) | RegInput::Cas { new: v, .. }) = (has_cas, input) {
                if let Some(first) = writer_of.insert(v, i) {
                    return Err(LincheckError::DuplicateValue {
                        key: key.to_string(),
                        value: names.get(v as usize).cloned().unwrap_or_default(),
                        first,
                        second: i,
                    });
                }
            }
            let outcome = match &op.outcome {
                Outcome::Unknown if input == RegInput::Read => continue,
                Outcome::Unknown => Outcome::Unknown,
                Outcome::Returned { time, output } => Outcome::Returned {
                    time: *time,
                    output: match output {
                        KvOutput::Read { value, index } => RegOutput::Read {
                            value: value.as_deref().map(&mut intern),
                            index: *index,
                        },
                        KvOutput::Done => RegOutput::Done,
                        KvOutput::Cas { swapped } => RegOutput::Cas(*swapped),
                    },
                },
            };
            ops.push(Operation {
                client: op.client,
                call: op.call,
                input,
                outcome,
            });
            global.push(i);
        }
        crate::prune::simplify_unknown(&mut ops, &mut global);
        Ok(KeyPartition {
            model: RegisterModel { names },
            ops,
            global,
        })
    }
}
