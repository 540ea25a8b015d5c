//! Errors returned when a history is malformed or cannot be saved or loaded.

/// Why a history could not be checked, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LincheckError {
    /// An operation's response time is earlier than its invocation time.
    #[error("operation {op}: response time {ret} ns is before invocation time {call} ns")]
    ReturnBeforeCall {
        /// Index of the operation in the history.
        op: usize,
        /// Invocation time, in nanoseconds.
        call: u64,
        /// Response time, in nanoseconds.
        ret: u64,
    },
    /// An operation's output is of a different kind than its input (e.g. a read answered by a
    /// CAS result).
    #[error("operation {op}: output {output} does not answer input {input}")]
    OutputMismatch {
        /// Index of the operation in the history.
        op: usize,
        /// The input, rendered.
        input: String,
        /// The output, rendered.
        output: String,
    },
    /// The same value was written twice to a key that has CAS operations. CAS is modelled by
    /// value, which is only exact when every written value is unique per key.
    #[error("key {key:?}: value {value:?} is written more than once (operations {first} and {second}); CAS checking needs unique values")]
    DuplicateValue {
        /// The key.
        key: String,
        /// The value written twice.
        value: String,
        /// Index of the first operation writing it.
        first: usize,
        /// Index of the second operation writing it.
        second: usize,
    },
    /// A history could not be encoded to or decoded from JSON.
    #[error("history JSON: {0}")]
    Json(String),
    /// A history file could not be read or written.
    #[error("history file: {0}")]
    Io(#[from] std::io::Error),
}
