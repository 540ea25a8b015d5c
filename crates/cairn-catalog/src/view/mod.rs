//! Reads over one immutable state snapshot. Every query returns `(result, index)` where the
//! index follows Consul's rules (see the crate docs) and is never 0.

mod catalog;
mod health;
mod kv;
mod session;

pub use health::HealthFilter;

use crate::command::TxnOutcome;
use crate::error::CatalogError;
use crate::state::{State, Tx};
use crate::touched::Table;
use crate::txn::{is_read_only_op, MAX_TXN_OPS};
use cairn_types::TxnOp;

/// Clamp an index to at least 1, as Consul's endpoints do: 0 would make a blocking client
/// spin.
pub(crate) fn at_least_one(index: u64) -> u64 {
    index.max(1)
}

/// An immutable snapshot of the catalog, as of one applied raft index. Cheap to hold; never
/// blocks the writer.
#[derive(Clone, Default)]
pub struct CatalogView {
    pub(crate) s: State,
}

impl std::fmt::Debug for CatalogView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogView")
            .field("last_index", &self.s.last_applied)
            .field("nodes", &self.s.nodes.len())
            .field("kv", &self.s.kv.len())
            .field("sessions", &self.s.sessions.len())
            .finish_non_exhaustive()
    }
}

impl CatalogView {
    pub(crate) fn new(s: State) -> CatalogView {
        CatalogView { s }
    }

    /// Index of the last applied raft entry (or of the restored snapshot).
    pub fn last_index(&self) -> u64 {
        self.s.last_applied
    }

    /// The raw index of a table (0 if never written). The KV table includes tombstones.
    pub fn table_index(&self, table: Table) -> u64 {
        let i = &self.s.idx;
        match table {
            Table::Nodes => i.nodes,
            Table::Services => i.services,
            Table::Checks => i.checks,
            Table::Kv => i.kvs.max(i.tombstones),
            Table::Sessions => i.sessions,
            Table::Coordinates => i.coordinates,
        }
    }

    /// Run a transaction made only of read verbs (`get`, `get-tree`, `check-*`, …) against
    /// this snapshot, without raft, as Consul does for read-only transactions.
    pub fn read_txn(&self, ops: Vec<TxnOp>) -> Result<TxnOutcome, CatalogError> {
        if ops.len() > MAX_TXN_OPS {
            return Err(CatalogError::TooManyTxnOps(ops.len()));
        }
        if let Some(i) = ops.iter().position(|op| !is_read_only_op(op)) {
            return Err(CatalogError::WriteInReadOnlyTxn(i));
        }
        let mut tx = Tx::new(self.s.clone(), 0, 0);
        Ok(match tx.txn(ops) {
            Ok(results) => TxnOutcome::Committed(results),
            Err(errors) => TxnOutcome::RolledBack(errors),
        })
    }

    /// Serialize the whole state (the same bytes [`crate::Catalog`]'s raft snapshot holds), so
    /// a caller can do it off the raft task.
    pub fn encode_snapshot(&self) -> Result<Vec<u8>, CatalogError> {
        crate::snapshot::encode(&self.s)
    }
}
