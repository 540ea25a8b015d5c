//! Linearizability checking for histories recorded against Cairn's KV store.
//!
//! A cluster test records, from several concurrent clients, every KV request with its
//! invocation and response times ([`HistoryRecorder`]), then asks [`check_kv`] whether some
//! total order of the operations (a *linearization*) respects real time (an operation that
//! returned before another was invoked comes first) and the sequential semantics of a KV store.
//! A failing history can be saved with [`History::save_json`] and explained with
//! [`KvReport::explain`].
//!
//! # Algorithm
//!
//! [`check_operations`] is Wing & Gong's search as improved by Lowe, with Porcupine's
//! optimisations: a linked list of call/return entries with dancing-links removal, and a cache
//! of `(linearized-operations bitset, state)` pairs that prunes configurations already explored.
//! It works for any deterministic sequential specification ([`Model`]) and gives up with
//! [`CheckOutcome::Unknown`] when its [`Budget`] runs out. KV histories are split per key first
//! (P-compositionality), so the search only ever sees one register at a time.
//!
//! # Unknown outcomes
//!
//! An operation whose client timed out or lost its connection is recorded with
//! [`Outcome::Unknown`]: as in Knossos and Porcupine, its response time is +infinity and any
//! output is accepted, so it may take effect at any point after its invocation; the search also
//! accepts as soon as every operation with a *known* outcome is linearized, so it may never take
//! effect at all.
//!
//! # How CAS is modelled
//!
//! Consul's `PUT ?cas=N` succeeds iff the key's `ModifyIndex` is `N` (`cas=0`: iff the key is
//! absent), but a plain `PUT` answers only `true`, so a client never learns the index its own
//! write created, and the index is a Raft log index shared by all keys, which a per-key model
//! cannot predict. The model therefore decides CAS **by value**: a client that read value `v`
//! at index `N` and then sends `cas=N` records `KvInput::Cas { expected: Some(v), .. }`
//! (`expected: None` for `cas=0`), and the CAS must succeed iff the current value is `v`. This
//! is exact when every value written to a key is unique, which [`check_kv`] enforces for keys
//! that see CAS operations ([`LincheckError::DuplicateValue`]). Indices are still checked where
//! they are observed: all reads of one version must report the same `ModifyIndex`, and each new
//! version's index must exceed every earlier version's observed index.

#![warn(missing_docs)]

mod bitset;
mod checker;
mod error;
mod history;
mod kv;
mod model;
mod prune;
mod recorder;
mod register;

pub use checker::{check_operations, Budget, CheckOutcome, Counterexample, UnknownReason};
pub use error::LincheckError;
pub use history::{History, Operation, Outcome};
pub use kv::{
    check_kv, describe_op, KeyReport, KvHistory, KvInput, KvOperation, KvOutput, KvReport, Verdict,
};
pub use model::Model;
pub use recorder::{HistoryRecorder, OpToken};
