//! Manual recovery of a cluster that lost quorum (Consul's `peers.json`): rewrite one stopped
//! node's store so that its whole log, committed or not, becomes a snapshot whose
//! configuration is the given voters. Unsafe by nature (entries a majority never saw become
//! durable on this node); it is the operator's last resort when the other servers are gone.

use crate::core::{config_snapshot, RaftCore};
use crate::error::CoreError;
use crate::membership::{decode_envelope, Peers};
use crate::state_machine::StateMachine;
use crate::store::{HardState, LogStore, PersistBatch};
use raft::eraftpb::EntryType;

impl<S: StateMachine, L: LogStore> RaftCore<S, L> {
    /// Replace the stored configuration of a stopped node with `voters`: replay the latest
    /// snapshot and every stored log entry into `sm`, then write a snapshot at the last log
    /// index holding that state and the new voters (the log is replaced by it). Returns the
    /// index of the new snapshot. Start the node afterwards as usual.
    pub fn recover(store: &mut L, mut sm: S, voters: &Peers) -> Result<u64, CoreError> {
        if voters.is_empty() {
            return Err(CoreError::Raft("recovery needs at least one voter".into()));
        }
        let st = store.initial_state()?;
        let mut applied = 0;
        if let Some(snap) = &st.snapshot {
            let (_, data) =
                decode_envelope(&snap.data).map_err(crate::error::StoreError::Corrupt)?;
            applied = snap.get_metadata().index;
            sm.restore(applied, data)?;
        }
        let last = store.last_index();
        let mut next = applied + 1;
        while next <= last {
            let batch = store
                .entries(next, last + 1, u64::MAX)
                .map_err(|e| CoreError::Raft(format!("reading the log at {next}: {e}")))?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                    sm.apply(e.index, &e.data);
                }
                next = e.index + 1;
            }
        }
        let index = last.max(applied);
        let term = if index == 0 {
            0
        } else {
            store
                .term(index)
                .map_err(|e| CoreError::Raft(format!("term of {index}: {e}")))?
        }
        .max(1);
        let snap = config_snapshot(voters, &sm.snapshot()?, index.max(1), term);
        let hard_state = HardState {
            term: st.hard_state.term.max(term),
            vote: 0,
            commit: index.max(1),
            ..Default::default()
        };
        store.write(PersistBatch {
            snapshot: Some(snap),
            entries: Vec::new(),
            hard_state: Some(hard_state),
            sync: true,
        })?;
        tracing::warn!(index, voters = ?voters.keys().collect::<Vec<_>>(), "raft configuration recovered by hand");
        Ok(index.max(1))
    }
}
