//! A thread-safe recorder that concurrent clients feed while they run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::{History, Operation, Outcome};

static NEXT_RECORDER: AtomicU64 = AtomicU64::new(1);

/// A handle to one invoked operation, consumed by [`HistoryRecorder::complete`],
/// [`HistoryRecorder::fail_unknown`] or [`HistoryRecorder::discard`].
#[derive(Debug)]
#[must_use = "an operation that is never completed is recorded as having an unknown outcome"]
pub struct OpToken {
    recorder: u64,
    index: usize,
}

#[derive(Debug)]
enum Slot<O> {
    Pending,
    Done(Outcome<O>),
    Discarded,
}

#[derive(Debug)]
struct Entry<I, O> {
    client: u64,
    call: u64,
    input: I,
    slot: Slot<O>,
}

/// Records a history from many threads or tasks. Times are nanoseconds since the recorder was
/// created, on the monotonic clock.
///
/// Call [`HistoryRecorder::invoke`] just before sending a request and
/// [`HistoryRecorder::complete`] as soon as its response arrives; on a timeout or a broken
/// connection (the request may or may not have been applied), call
/// [`HistoryRecorder::fail_unknown`]. An operation known not to have been applied (e.g. the
/// connection was refused) may be [`HistoryRecorder::discard`]ed.
#[derive(Debug)]
pub struct HistoryRecorder<I, O> {
    id: u64,
    origin: Instant,
    entries: Mutex<Vec<Entry<I, O>>>,
}

impl<I, O> Default for HistoryRecorder<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, O> HistoryRecorder<I, O> {
    /// An empty recorder whose clock starts now.
    pub fn new() -> Self {
        HistoryRecorder {
            id: NEXT_RECORDER.fetch_add(1, Ordering::Relaxed),
            origin: Instant::now(),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Nanoseconds since the recorder was created.
    pub fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry<I, O>>> {
        // A panicking client thread cannot leave the vector half-updated.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `client` is about to issue `input`.
    pub fn invoke(&self, client: u64, input: I) -> OpToken {
        let mut entries = self.lock();
        // Taken under the lock so that invocation order in the vector matches time order.
        let call = self.now();
        entries.push(Entry {
            client,
            call,
            input,
            slot: Slot::Pending,
        });
        OpToken {
            recorder: self.id,
            index: entries.len() - 1,
        }
    }

    fn finish(&self, token: OpToken, slot: impl FnOnce(u64) -> Slot<O>) {
        let time = self.now();
        if token.recorder != self.id {
            return;
        }
        if let Some(entry) = self.lock().get_mut(token.index) {
            if matches!(entry.slot, Slot::Pending) {
                entry.slot = slot(time.max(entry.call));
            }
        }
    }

    /// Records the response to an operation. A token from another recorder is ignored.
    pub fn complete(&self, token: OpToken, output: O) {
        self.finish(token, |time| Slot::Done(Outcome::Returned { time, output }));
    }

    /// Records that the operation's outcome is unknown: it may take effect at any time after
    /// its invocation, or never.
    pub fn fail_unknown(&self, token: OpToken) {
        self.finish(token, |_| Slot::Done(Outcome::Unknown));
    }

    /// Forgets an operation that certainly had no effect.
    pub fn discard(&self, token: OpToken) {
        self.finish(token, |_| Slot::Discarded);
    }

    /// The number of operations invoked and not discarded so far.
    pub fn len(&self) -> usize {
        self.lock()
            .iter()
            .filter(|e| !matches!(e.slot, Slot::Discarded))
            .count()
    }

    /// Whether no operation has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The history so far; operations still pending are reported with an unknown outcome.
    pub fn history(&self) -> History<I, O>
    where
        I: Clone,
        O: Clone,
    {
        let entries = self.lock();
        let ops = entries
            .iter()
            .filter_map(|e| {
                let outcome = match &e.slot {
                    Slot::Pending => Outcome::Unknown,
                    Slot::Done(o) => o.clone(),
                    Slot::Discarded => return None,
                };
                Some(Operation {
                    client: e.client,
                    call: e.call,
                    input: e.input.clone(),
                    outcome,
                })
            })
            .collect();
        History::new(ops)
    }

    /// The final history; operations still pending are reported with an unknown outcome.
    pub fn into_history(self) -> History<I, O> {
        let entries = self.entries.into_inner().unwrap_or_else(|e| e.into_inner());
        let ops = entries
            .into_iter()
            .filter_map(|e| {
                let outcome = match e.slot {
                    Slot::Pending => Outcome::Unknown,
                    Slot::Done(o) => o,
                    Slot::Discarded => return None,
                };
                Some(Operation {
                    client: e.client,
                    call: e.call,
                    input: e.input,
                    outcome,
                })
            })
            .collect();
        History::new(ops)
    }
}
