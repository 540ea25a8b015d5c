//! Shared helpers: operation builders and a random history generator driven by a real
//! sequential KV execution.
#![allow(dead_code)]

use std::collections::HashMap;

use cairn_lincheck::{KvHistory, KvInput, KvOperation, KvOutput, Operation, Outcome};

/// A completed read.
pub fn read(client: u64, call: u64, ret: u64, key: &str, value: Option<&str>) -> KvOperation {
    read_at(client, call, ret, key, value, None)
}

/// A completed read that also reports the `ModifyIndex`.
pub fn read_at(
    client: u64,
    call: u64,
    ret: u64,
    key: &str,
    value: Option<&str>,
    index: Option<u64>,
) -> KvOperation {
    Operation::returned(
        client,
        call,
        ret,
        KvInput::Read { key: key.into() },
        KvOutput::Read {
            value: value.map(String::from),
            index,
        },
    )
}

fn write_input(key: &str, value: &str) -> KvInput {
    KvInput::Write {
        key: key.into(),
        value: value.into(),
    }
}

/// A completed write.
pub fn write(client: u64, call: u64, ret: u64, key: &str, value: &str) -> KvOperation {
    Operation::returned(client, call, ret, write_input(key, value), KvOutput::Done)
}

/// A write whose outcome is unknown.
pub fn write_unknown(client: u64, call: u64, key: &str, value: &str) -> KvOperation {
    Operation::unknown(client, call, write_input(key, value))
}

fn cas_input(key: &str, expected: Option<&str>, value: &str) -> KvInput {
    KvInput::Cas {
        key: key.into(),
        expected: expected.map(String::from),
        value: value.into(),
    }
}

/// A completed CAS.
#[allow(clippy::too_many_arguments)]
pub fn cas(
    client: u64,
    call: u64,
    ret: u64,
    key: &str,
    expected: Option<&str>,
    value: &str,
    swapped: bool,
) -> KvOperation {
    Operation::returned(
        client,
        call,
        ret,
        cas_input(key, expected, value),
        KvOutput::Cas { swapped },
    )
}

/// A CAS whose outcome is unknown.
pub fn cas_unknown(
    client: u64,
    call: u64,
    key: &str,
    expected: Option<&str>,
    value: &str,
) -> KvOperation {
    Operation::unknown(client, call, cas_input(key, expected, value))
}

/// A completed delete.
pub fn delete(client: u64, call: u64, ret: u64, key: &str) -> KvOperation {
    Operation::returned(
        client,
        call,
        ret,
        KvInput::Delete { key: key.into() },
        KvOutput::Done,
    )
}

/// SplitMix64: a tiny deterministic PRNG, so tests need no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Parameters of [`generate`].
#[derive(Clone, Copy, Debug)]
pub struct GenConfig {
    pub clients: u64,
    pub ops_per_client: usize,
    pub keys: usize,
    /// Percentage of operations whose outcome is lost (timeout).
    pub unknown_percent: u64,
    /// Whether reads report the `ModifyIndex`.
    pub with_index: bool,
}

/// What the generator knows about each operation besides the history.
pub struct Generated {
    pub history: KvHistory,
    /// For each mutation that took effect: the `ModifyIndex` it created.
    pub created_index: HashMap<usize, u64>,
}

/// Runs random client programs against a real sequential KV store: each operation takes
/// effect at a random instant within its interval (unknown-outcome ones at a random later
/// instant, or never), in order of those instants; the history records what clients saw.
pub fn generate(seed: u64, cfg: GenConfig) -> Generated {
    let mut rng = Rng::new(seed);
    let mut ops: Vec<KvOperation> = Vec::new();
    // (time, 0, op) when an operation takes effect; (time, 1, op) when a CAS is invoked.
    let mut events: Vec<(u64, u8, usize)> = Vec::new();
    // Each client's last completed read of each key.
    let mut last_read: HashMap<(u64, String), Option<String>> = HashMap::new();
    for client in 0..cfg.clients {
        let mut t = rng.below(50);
        for n in 0..cfg.ops_per_client {
            let key = format!("k{}", rng.below(cfg.keys as u64));
            let value = format!("c{client}-{n}");
            let call = t + rng.below(30);
            let duration = 1 + rng.below(200);
            let ret = call + duration;
            t = ret;
            let input = match rng.below(100) {
                0..=49 => KvInput::Read { key: key.clone() },
                50..=74 => KvInput::Write {
                    key: key.clone(),
                    value,
                },
                75..=94 => {
                    // `expected` is chosen when the call happens, below.
                    events.push((call, 1, ops.len()));
                    KvInput::Cas {
                        key: key.clone(),
                        expected: None,
                        value,
                    }
                }
                _ => KvInput::Delete { key: key.clone() },
            };
            let index = ops.len();
            if rng.chance(cfg.unknown_percent) {
                if rng.chance(50) {
                    events.push((call + 1 + rng.below(2_000), 0, index));
                }
                ops.push(Operation::unknown(client, call, input));
                continue;
            }
            // Strictly after the call, so that a CAS's expectation is chosen first.
            events.push((call + 1 + rng.below(duration), 0, index));
            // Outputs are filled in by the execution below.
            ops.push(Operation::returned(
                client,
                call,
                ret,
                input,
                KvOutput::Done,
            ));
        }
    }
    events.sort_unstable();
    let mut store: HashMap<String, (String, u64)> = HashMap::new();
    let mut raft_index = 0u64;
    let mut created_index = HashMap::new();
    for &(_, kind, i) in &events {
        let op = &mut ops[i];
        if kind == 1 {
            let seen = last_read.get(&(op.client, op.input.key().to_string()));
            // Mostly the value last read; sometimes a guess, so some CASes fail.
            let guess = if rng.chance(80) {
                seen.cloned().flatten()
            } else {
                None
            };
            if let KvInput::Cas { expected, .. } = &mut op.input {
                *expected = guess;
            }
            continue;
        }
        let known = op.ret().is_some();
        let output = match op.input.clone() {
            KvInput::Read { key } => {
                let cur = store.get(&key).cloned();
                if known {
                    last_read.insert((op.client, key), cur.clone().map(|c| c.0));
                }
                KvOutput::Read {
                    value: cur.as_ref().map(|c| c.0.clone()),
                    index: cur.filter(|_| cfg.with_index).map(|c| c.1),
                }
            }
            KvInput::Write { key, value } => {
                raft_index += 1;
                store.insert(key, (value, raft_index));
                created_index.insert(i, raft_index);
                KvOutput::Done
            }
            KvInput::Cas {
                key,
                expected,
                value,
            } => {
                let swapped = store.get(&key).map(|c| &c.0) == expected.as_ref();
                if swapped {
                    raft_index += 1;
                    store.insert(key, (value, raft_index));
                    created_index.insert(i, raft_index);
                }
                KvOutput::Cas { swapped }
            }
            KvInput::Delete { key } => {
                raft_index += 1;
                store.remove(&key);
                KvOutput::Done
            }
        };
        if let Outcome::Returned { output: o, .. } = &mut op.outcome {
            *o = output;
        }
    }
    Generated {
        history: KvHistory::new(ops),
        created_index,
    }
}
