//! The replicated state machine a raft group drives.

/// An error from a state machine's snapshot or restore.
#[derive(Debug, thiserror::Error)]
#[error("state machine: {0}")]
pub struct StateMachineError(pub String);

/// A deterministic state machine fed with committed log entries.
///
/// Every replica applies the same entries in the same order and must reach the same state:
/// `apply` may not read clocks, randomness or anything outside `data`.
pub trait StateMachine: Send + 'static {
    /// What `apply` hands back to the proposer of an entry.
    type Response: Send + 'static;

    /// Apply the committed entry at `index`. Bad `data` must yield an error response, never a panic.
    fn apply(&mut self, index: u64, data: &[u8]) -> Self::Response;

    /// Serialize the whole state, as of the last applied entry.
    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError>;

    /// Replace the whole state with `data`, a snapshot taken at `index`.
    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), StateMachineError>;
}
