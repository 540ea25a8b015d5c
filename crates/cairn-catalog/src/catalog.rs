//! The state machine raft drives, and the reader handle everything else uses.

use crate::command::{ApplyResult, Command, TxnOutcome};
use crate::error::CatalogError;
use crate::state::{State, Tx};
use crate::txn::MAX_TXN_OPS;
use crate::view::CatalogView;
use crate::watch::{WatchHub, WatchScope, Watcher};
use arc_swap::ArcSwap;
use cairn_consensus::{StateMachine, StateMachineError};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

struct Shared {
    current: ArcSwap<CatalogView>,
    hub: Arc<WatchHub>,
}

/// The catalog state machine. Owned by the raft task; hand out [`CatalogReader`]s for reads.
pub struct Catalog {
    /// The writer's own copy; structurally shared with the published view.
    state: State,
    shared: Arc<Shared>,
}

/// A cheap-to-clone read handle: immutable snapshots and watches. Readers never wait for the
/// writer.
#[derive(Clone)]
pub struct CatalogReader {
    shared: Arc<Shared>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("last_applied", &self.state.last_applied)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CatalogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogReader")
            .field("last_applied", &self.shared.current.load().last_index())
            .finish_non_exhaustive()
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog {
            state: State::default(),
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(CatalogView::default()),
                hub: Arc::new(WatchHub::new()),
            }),
        }
    }

    /// A read handle sharing this catalog's published state and watches.
    pub fn reader(&self) -> CatalogReader {
        CatalogReader {
            shared: self.shared.clone(),
        }
    }

    /// Apply a decoded command at raft `index` (what [`StateMachine::apply`] does after
    /// decoding). Rejected commands change nothing but the applied index.
    pub fn apply_command(&mut self, index: u64, cmd: Command) -> ApplyResult {
        if let Command::RestoreSnapshot { data } = &cmd {
            return match self.restore_state(index, data) {
                Ok(()) => ApplyResult::Ok,
                Err(e) => {
                    tracing::warn!(index, error = %e, "snapshot restore refused");
                    self.mark_applied(index);
                    ApplyResult::Error(e)
                }
            };
        }
        let kind = cmd.kind();
        let mut tx = Tx::new(self.state.clone(), index, 0);
        let result = run(&mut tx, cmd);
        match &result {
            ApplyResult::Error(e) => {
                tracing::debug!(index, kind, error = %e, "command rejected");
                self.mark_applied(index);
            }
            ApplyResult::Txn(TxnOutcome::RolledBack(errors)) => {
                tracing::debug!(
                    index,
                    kind,
                    errors = errors.len(),
                    "transaction rolled back"
                );
                self.mark_applied(index);
            }
            _ => {
                let Tx { mut s, touched, .. } = tx;
                s.last_applied = index;
                self.state = s;
                self.publish();
                if !touched.is_empty() {
                    self.shared.hub.fire(&touched);
                }
            }
        }
        result
    }

    /// Replace everything with a snapshot at `index` and wake every watcher; on error nothing
    /// changes.
    fn restore_state(&mut self, index: u64, data: &[u8]) -> Result<(), CatalogError> {
        let mut state = crate::snapshot::decode(data)?;
        state.last_applied = index;
        self.state = state;
        self.publish();
        self.shared.hub.fire_all();
        tracing::info!(index, "catalog restored from snapshot");
        Ok(())
    }

    fn mark_applied(&mut self, index: u64) {
        self.state.last_applied = index;
        self.publish();
    }

    fn publish(&self) {
        self.shared
            .current
            .store(Arc::new(CatalogView::new(self.state.clone())));
    }
}

/// Dispatch one command inside `tx`.
fn run(tx: &mut Tx, cmd: Command) -> ApplyResult {
    use ApplyResult::{Bool, Error, Ok as Done};
    let done = |r: Result<(), CatalogError>| r.map_or_else(Error, |_| Done);
    match cmd {
        Command::Register(req) => {
            tx.now_ms = req.now_ms;
            done(tx.register(*req))
        }
        Command::DeregisterNode { node, now_ms } => {
            tx.now_ms = now_ms;
            done(tx.delete_node(&node))
        }
        Command::DeregisterService {
            node,
            service_id,
            now_ms,
        } => {
            tx.now_ms = now_ms;
            done(tx.delete_service(&node, &service_id))
        }
        Command::DeregisterCheck {
            node,
            check_id,
            now_ms,
        } => {
            tx.now_ms = now_ms;
            done(tx.delete_check(&node, &check_id))
        }
        Command::UpdateCheck {
            node,
            check_id,
            status,
            output,
            now_ms,
        } => {
            tx.now_ms = now_ms;
            done(tx.update_check(&node, &check_id, status, output))
        }
        Command::KvSet { key, value, flags } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            tx.kv_set(key, value, flags);
            Bool(true)
        }
        Command::KvCas {
            key,
            value,
            flags,
            index,
        } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            Bool(tx.kv_cas(key, value, flags, index).is_some())
        }
        Command::KvDelete { key } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            tx.kv_delete(&key);
            Bool(true)
        }
        Command::KvDeleteTree { prefix } => {
            tx.kv_delete_tree(&prefix);
            Bool(true)
        }
        Command::KvDeleteCas { key, index } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            Bool(tx.kv_delete_cas(&key, index))
        }
        Command::KvAcquire {
            key,
            value,
            flags,
            session,
            now_ms,
        } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            tx.now_ms = now_ms;
            if tx.kv_lock_delayed(&key) {
                return Bool(false);
            }
            match tx.kv_lock(key, value, flags, session) {
                Ok(held) => Bool(held.is_some()),
                Err(e) => Error(e),
            }
        }
        Command::KvRelease {
            key,
            value,
            flags,
            session,
        } => {
            if key.is_empty() {
                return Error(CatalogError::MissingKey);
            }
            match tx.kv_unlock(key, value, flags, session) {
                Ok(released) => Bool(released.is_some()),
                Err(e) => Error(e),
            }
        }
        Command::SessionCreate { session } => match tx.create_session(session) {
            Ok(id) => ApplyResult::SessionId(id),
            Err(e) => Error(e),
        },
        Command::SessionDestroy { id, now_ms } => {
            tx.now_ms = now_ms;
            done(tx.destroy_session(&id))
        }
        Command::Txn { ops, now_ms } => {
            if ops.len() > MAX_TXN_OPS {
                return Error(CatalogError::TooManyTxnOps(ops.len()));
            }
            tx.now_ms = now_ms;
            ApplyResult::Txn(match tx.txn(ops) {
                Ok(results) => TxnOutcome::Committed(results),
                Err(errors) => TxnOutcome::RolledBack(errors),
            })
        }
        Command::CoordinateBatchUpdate { updates } => {
            tx.update_coordinates(updates);
            Done
        }
        Command::TombstoneReap { up_to_index } => {
            tx.reap_tombstones(up_to_index);
            Done
        }
        // Handled before a transaction is opened (it replaces the whole state).
        Command::RestoreSnapshot { .. } => Error(CatalogError::Snapshot(
            "restore cannot run inside a transaction".into(),
        )),
    }
}

impl StateMachine for Catalog {
    type Response = ApplyResult;

    /// Decode and apply. An empty entry is a raft no-op: only the applied index moves.
    fn apply(&mut self, index: u64, data: &[u8]) -> ApplyResult {
        if data.is_empty() {
            self.mark_applied(index);
            return ApplyResult::Ok;
        }
        match Command::decode(data) {
            Ok(cmd) => self.apply_command(index, cmd),
            Err(e) => {
                tracing::warn!(index, error = %e, "undecodable command");
                self.mark_applied(index);
                ApplyResult::Error(e)
            }
        }
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        crate::snapshot::encode(&self.state).map_err(|e| StateMachineError(e.to_string()))
    }

    /// Replace everything with the snapshot and wake every watcher. On error nothing changes.
    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), StateMachineError> {
        self.restore_state(index, data)
            .map_err(|e| StateMachineError(e.to_string()))
    }
}

impl CatalogReader {
    /// The current state as snapshot bytes (the format restore and
    /// [`Command::RestoreSnapshot`] read), with the index it was taken at.
    pub fn save_snapshot(&self) -> Result<(Vec<u8>, u64), CatalogError> {
        let view = self.view();
        Ok((crate::snapshot::encode(&view.s)?, view.last_index()))
    }

    /// The latest published state. Hold it as long as needed; it never changes.
    pub fn view(&self) -> Arc<CatalogView> {
        self.shared.current.load_full()
    }

    /// Subscribe to changes of `scope`. Subscribe first, then read [`CatalogReader::view`],
    /// then await [`Watcher::changed`]: no write can slip between the read and the wait.
    pub fn watch(&self, scope: WatchScope) -> Watcher {
        self.shared.hub.watch(scope)
    }

    /// Run a Consul blocking query: subscribe to `scope`, run `query` on the latest view, and
    /// return as soon as its index exceeds `min_index` (immediately if `min_index` is 0),
    /// re-running it whenever the scope changes. After `max_wait` the current result is
    /// returned whatever its index. The HTTP layer adds Consul's jitter to `max_wait`.
    pub async fn blocking_query<T, F>(
        &self,
        scope: WatchScope,
        min_index: u64,
        max_wait: Duration,
        mut query: F,
    ) -> (T, u64)
    where
        F: FnMut(&CatalogView) -> (T, u64),
    {
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut watcher = self.watch(scope);
        loop {
            let (result, index) = query(&self.view());
            if min_index == 0 || index > min_index {
                return (result, index);
            }
            tokio::select! {
                _ = watcher.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return (result, index),
            }
        }
    }

    /// Number of distinct watched scopes (excluding tables); for diagnostics and tests.
    pub fn watched_scopes(&self) -> usize {
        self.shared.hub.slot_count()
    }
}
