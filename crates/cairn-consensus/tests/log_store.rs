//! Log store behaviour through a real raft node: what was acknowledged is there after reopening,
//! for both stores.

use cairn_consensus::{
    CoreEvent, LogStore, MemLogStore, Peers, RaftConfig, RaftCore, RaftLogLevel, StateMachine,
    StateMachineError,
};

#[derive(Default)]
struct Sum(u64, Vec<u64>);

impl StateMachine for Sum {
    type Response = u64;
    fn apply(&mut self, index: u64, data: &[u8]) -> u64 {
        self.1.push(index);
        self.0 += data.len() as u64;
        self.0
    }
    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        Ok(self.0.to_be_bytes().to_vec())
    }
    fn restore(&mut self, _index: u64, data: &[u8]) -> Result<(), StateMachineError> {
        let b: [u8; 8] = data
            .try_into()
            .map_err(|_| StateMachineError("bad snapshot".into()))?;
        self.0 = u64::from_be_bytes(b);
        self.1.clear();
        Ok(())
    }
}

fn cfg(snapshot_threshold: u64) -> RaftConfig {
    let mut c = RaftConfig::new(1);
    c.raft_log_level = RaftLogLevel::Off;
    c.snapshot_threshold = snapshot_threshold;
    c.trailing_logs = 5;
    c
}

/// Elect a single node and apply `n` proposals of `i` bytes each; returns the final sum.
fn run_single<L: LogStore>(core: &mut RaftCore<Sum, L>, n: u64) -> u64 {
    let mut events = Vec::new();
    core.campaign().expect("campaign");
    core.process_ready(&mut events).expect("ready");
    let mut last = 0;
    for i in 1..=n {
        core.propose(i, vec![0u8; i as usize]).expect("propose");
        while core.has_ready() {
            core.process_ready(&mut events).expect("ready");
        }
        for ev in events.drain(..) {
            if let CoreEvent::Applied { response, .. } = ev {
                last = response;
            }
        }
    }
    last
}

fn check_store<L: LogStore>(mut open: impl FnMut() -> L) {
    let voters: Peers = [(1, "a".to_string())].into_iter().collect();
    let mut store = open();
    assert!(RaftCore::bootstrap(&mut store, &Sum::default(), &voters).unwrap());
    assert!(
        !RaftCore::bootstrap(&mut store, &Sum::default(), &voters).unwrap(),
        "second bootstrap is a no-op"
    );
    let mut core = RaftCore::new(cfg(1_000_000), store, Sum::default()).unwrap();
    let sum = run_single(&mut core, 40);
    assert_eq!(sum, (1..=40).sum::<u64>());
    let last = core.status().last_index;
    drop(core);

    // Reopen: the whole log is replayed into a fresh state machine.
    let mut core = RaftCore::new(cfg(1_000_000), open(), Sum::default()).unwrap();
    assert_eq!(core.status().last_index, last);
    let mut events = Vec::new();
    core.campaign().unwrap();
    while core.has_ready() {
        core.process_ready(&mut events).unwrap();
    }
    assert_eq!(core.state_machine().0, (1..=40).sum::<u64>());

    // Snapshot and compaction, then reopen from snapshot + tail.
    core.request_snapshot();
    core.process_ready(&mut events).unwrap();
    let st = core.status();
    assert_eq!(st.snapshot_index, st.applied);
    assert_eq!(st.first_index, st.applied - 5 + 1, "trailing logs kept");
    core.propose(99, vec![1u8; 7]).unwrap();
    while core.has_ready() {
        core.process_ready(&mut events).unwrap();
    }
    drop(core);
    let core = RaftCore::new(cfg(1_000_000), open(), Sum::default()).unwrap();
    assert_eq!(
        core.state_machine().0,
        (1..=40).sum::<u64>(),
        "restored from snapshot"
    );
    let mut core = core;
    core.campaign().unwrap();
    while core.has_ready() {
        core.process_ready(&mut events).unwrap();
    }
    assert_eq!(
        core.state_machine().0,
        (1..=40).sum::<u64>() + 7,
        "tail replayed after snapshot"
    );
}

#[test]
fn mem_store_survives_reopen_with_snapshots() {
    let store = MemLogStore::new();
    check_store(|| store.clone());
}

#[cfg(feature = "rocksdb")]
#[test]
fn rocksdb_store_survives_reopen_with_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    check_store(|| cairn_consensus::RocksLogStore::open(dir.path()).expect("open"));
}

#[cfg(feature = "rocksdb")]
#[test]
fn rocksdb_store_reports_corruption_instead_of_resetting() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = cairn_consensus::RocksLogStore::open(dir.path()).unwrap();
        let voters: Peers = [(1, "a".to_string())].into_iter().collect();
        RaftCore::bootstrap(&mut store, &Sum::default(), &voters).unwrap();
    }
    // A damaged manifest pointer must fail the open loudly, never start an empty store.
    std::fs::write(dir.path().join("CURRENT"), b"MANIFEST-999999\n").unwrap();
    let err = cairn_consensus::RocksLogStore::open(dir.path())
        .err()
        .expect("opening a corrupt store must fail");
    assert!(err.to_string().contains("log store"), "{err}");
}
