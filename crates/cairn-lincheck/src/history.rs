//! The history model: timed operations from concurrent clients.

use std::path::Path;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::LincheckError;

/// How an operation ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<O> {
    /// The client received a definite response.
    Returned {
        /// Response time, in nanoseconds on the same clock as the invocation time.
        time: u64,
        /// The response.
        output: O,
    },
    /// The client does not know whether the operation took effect (timeout, connection reset,
    /// crash). As in Knossos and Porcupine, such an operation may take effect at any point
    /// after its invocation, or never: its response time is +infinity and any output is
    /// accepted.
    Unknown,
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation<I, O> {
    /// The client (process) that issued the operation.
    pub client: u64,
    /// Invocation time, in nanoseconds on a monotonic clock shared by all clients.
    pub call: u64,
    /// What was asked.
    pub input: I,
    /// How it ended.
    pub outcome: Outcome<O>,
}

impl<I, O> Operation<I, O> {
    /// An operation that returned `output` at `ret`.
    pub fn returned(client: u64, call: u64, ret: u64, input: I, output: O) -> Self {
        Operation {
            client,
            call,
            input,
            outcome: Outcome::Returned { time: ret, output },
        }
    }

    /// An operation whose outcome is unknown (it may or may not have taken effect).
    pub fn unknown(client: u64, call: u64, input: I) -> Self {
        Operation {
            client,
            call,
            input,
            outcome: Outcome::Unknown,
        }
    }

    /// The response time; `None` (+infinity) when the outcome is unknown.
    pub fn ret(&self) -> Option<u64> {
        match &self.outcome {
            Outcome::Returned { time, .. } => Some(*time),
            Outcome::Unknown => None,
        }
    }

    /// The output; `None` when the outcome is unknown.
    pub fn output(&self) -> Option<&O> {
        match &self.outcome {
            Outcome::Returned { output, .. } => Some(output),
            Outcome::Unknown => None,
        }
    }
}

/// A history: every operation issued by every client, in any order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History<I, O> {
    /// The operations. Reports refer to operations by their index in this vector.
    pub ops: Vec<Operation<I, O>>,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

impl<I, O> History<I, O> {
    /// A history of the given operations.
    pub fn new(ops: Vec<Operation<I, O>>) -> Self {
        History { ops }
    }

    /// Checks that no operation returns before it was invoked.
    pub fn validate_times(&self) -> Result<(), LincheckError> {
        for (op, o) in self.ops.iter().enumerate() {
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
        Ok(())
    }
}

impl<I: Serialize, O: Serialize> History<I, O> {
    /// The history as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, LincheckError> {
        serde_json::to_string_pretty(self).map_err(|e| LincheckError::Json(e.to_string()))
    }

    /// Writes the history as JSON to `path`, e.g. to keep a failing run for inspection.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<(), LincheckError> {
        std::fs::write(path, self.to_json()?)?;
        Ok(())
    }
}

impl<I: DeserializeOwned, O: DeserializeOwned> History<I, O> {
    /// Parses a history from JSON produced by [`History::to_json`].
    pub fn from_json(json: &str) -> Result<Self, LincheckError> {
        serde_json::from_str(json).map_err(|e| LincheckError::Json(e.to_string()))
    }

    /// Reads a history saved by [`History::save_json`].
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self, LincheckError> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }
}
