//! The sequential specification a history is checked against.

use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: a deterministic state machine over inputs and outputs.
///
/// The checker clones and hashes states (it caches every `(set of linearized operations,
/// state)` pair it has explored), so states should be small.
pub trait Model {
    /// The state of the sequential object.
    type State: Clone + Eq + Hash + Debug;
    /// An operation's input.
    type Input;
    /// An operation's output.
    type Output;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`. Returns the new state if the operation may return `output`
    /// in `state`, or `None` if it may not. `output` is `None` for operations whose outcome is
    /// unknown: any output is then acceptable.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// A human-readable rendering of `state`, used in counterexamples.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}
