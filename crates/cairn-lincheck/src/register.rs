//! The per-key register model behind [`crate::check_kv`], over interned values.
//!
//! State: the current value (absent or one interned value), the `ModifyIndex` of the current
//! version if some read has observed it, and a floor below which the index of any later version
//! cannot be (the largest index observed for an earlier version).
//!
//! * `Read` must return the current value. When it also reports a `ModifyIndex`, that index
//!   must equal the one already observed for this version, or, if none was, exceed the floor
//!   (Raft indices grow along the log, so each new version of a key has a larger index).
//! * `Write` and `Delete` always succeed and start a new version whose index is not yet known.
//! * `Cas` succeeds exactly when the current value equals its expected value (`None`: absent,
//!   Consul's `cas=0`), and then acts as a write. See the crate docs for why CAS is modelled by
//!   value.

use crate::Model;

/// An operation on one key, values interned to `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegInput {
    Read,
    Write(u32),
    Cas {
        expected: Option<u32>,
        new: u32,
    },
    Delete,
    /// An unknown-outcome write or delete whose result nobody observed; the `rank`-th in
    /// invocation order (see `prune`).
    Anon {
        rank: u32,
    },
}

/// The interned id standing for "some value nobody observed".
pub(crate) const ANON_VALUE: u32 = u32::MAX;

/// A response on one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegOutput {
    Read {
        value: Option<u32>,
        index: Option<u64>,
    },
    Done,
    Cas(bool),
}

/// The register's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RegState {
    value: Option<u32>,
    index: Option<u64>,
    floor: u64,
    /// How many anonymous operations have been linearized.
    anon_used: u32,
}

impl RegState {
    fn new_version(self, value: Option<u32>) -> RegState {
        RegState {
            value,
            index: None,
            floor: self.floor.max(self.index.unwrap_or(0)),
            anon_used: self.anon_used,
        }
    }
}

/// The model; `names` maps interned ids back to values for counterexamples.
pub(crate) struct RegisterModel {
    pub(crate) names: Vec<String>,
}

impl Model for RegisterModel {
    type State = RegState;
    type Input = RegInput;
    type Output = RegOutput;

    fn init(&self) -> RegState {
        RegState {
            value: None,
            index: None,
            floor: 0,
            anon_used: 0,
        }
    }

    fn step(&self, s: &RegState, input: &RegInput, output: Option<&RegOutput>) -> Option<RegState> {
        match (input, output) {
            (RegInput::Read, None) => Some(*s),
            (RegInput::Read, Some(RegOutput::Read { value, index })) => {
                if *value != s.value {
                    return None;
                }
                match (value, index, s.index) {
                    (Some(_), Some(i), Some(known)) => (*i == known).then_some(*s),
                    (Some(_), Some(i), None) => (*i > s.floor).then_some(RegState {
                        index: Some(*i),
                        ..*s
                    }),
                    _ => Some(*s),
                }
            }
            (RegInput::Write(v), None | Some(RegOutput::Done)) => Some(s.new_version(Some(*v))),
            (RegInput::Delete, None | Some(RegOutput::Done)) => Some(s.new_version(None)),
            (RegInput::Anon { rank }, None) => (*rank == s.anon_used).then(|| RegState {
                anon_used: s.anon_used + 1,
                ..s.new_version(Some(ANON_VALUE))
            }),
            (RegInput::Cas { expected, new }, out) => {
                let swapped = s.value == *expected;
                match out {
                    None => {}
                    Some(RegOutput::Cas(b)) if *b == swapped => {}
                    Some(_) => return None,
                }
                Some(if swapped {
                    s.new_version(Some(*new))
                } else {
                    *s
                })
            }
            _ => None,
        }
    }

    fn describe_state(&self, s: &RegState) -> String {
        match s.value {
            None => "absent".to_string(),
            Some(ANON_VALUE) => "a value written by an operation with unknown outcome".to_string(),
            Some(v) => {
                let name = self.names.get(v as usize).map_or("?", String::as_str);
                match s.index {
                    Some(i) => format!("value {name:?} (ModifyIndex {i})"),
                    None => format!(
                        "value {name:?} (ModifyIndex not yet observed, > {})",
                        s.floor
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> RegisterModel {
        RegisterModel {
            names: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn read_index_must_be_stable_and_grow() {
        let m = m();
        let s = m.step(&m.init(), &RegInput::Write(0), None).unwrap();
        let read = |v, i| RegOutput::Read {
            value: Some(v),
            index: Some(i),
        };
        let s = m.step(&s, &RegInput::Read, Some(&read(0, 7))).unwrap();
        assert!(m.step(&s, &RegInput::Read, Some(&read(0, 8))).is_none());
        let s = m
            .step(&s, &RegInput::Write(1), Some(&RegOutput::Done))
            .unwrap();
        assert!(m.step(&s, &RegInput::Read, Some(&read(1, 7))).is_none());
        assert!(m.step(&s, &RegInput::Read, Some(&read(1, 9))).is_some());
    }

    #[test]
    fn cas_zero_creates_only_when_absent() {
        let m = m();
        let cas0 = RegInput::Cas {
            expected: None,
            new: 0,
        };
        let s = m
            .step(&m.init(), &cas0, Some(&RegOutput::Cas(true)))
            .unwrap();
        assert_eq!(s.value, Some(0));
        assert!(m.step(&s, &cas0, Some(&RegOutput::Cas(true))).is_none());
        assert_eq!(m.step(&s, &cas0, Some(&RegOutput::Cas(false))), Some(s));
    }
}
