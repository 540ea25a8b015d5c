//! The tokio driver over an in-memory network: real threads, real timers.

use cairn_consensus::{
    InMemoryNetwork, MemLogStore, Peers, RaftConfig, RaftCore, RaftError, RaftHandle, RaftLogLevel,
    Role, StateMachine, StateMachineError,
};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// Appends payloads to a shared list; answers the list length after the apply.
#[derive(Clone, Default)]
struct ListSm {
    items: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl StateMachine for ListSm {
    type Response = usize;

    fn apply(&mut self, _index: u64, data: &[u8]) -> usize {
        let mut items = self.items.lock();
        items.push(data.to_vec());
        items.len()
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateMachineError> {
        let items = self.items.lock();
        let mut out = Vec::new();
        for i in items.iter() {
            out.extend_from_slice(&(i.len() as u32).to_be_bytes());
            out.extend_from_slice(i);
        }
        Ok(out)
    }

    fn restore(&mut self, _index: u64, mut data: &[u8]) -> Result<(), StateMachineError> {
        let mut items = Vec::new();
        while data.len() >= 4 {
            let n = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
            if data.len() < 4 + n {
                return Err(StateMachineError("truncated".into()));
            }
            items.push(data[4..4 + n].to_vec());
            data = &data[4 + n..];
        }
        *self.items.lock() = items;
        Ok(())
    }
}

struct Node {
    handle: RaftHandle<usize>,
    sm: ListSm,
    store: MemLogStore,
}

fn config(id: u64) -> RaftConfig {
    let mut c = RaftConfig::new(id);
    c.tick_interval = Duration::from_millis(10);
    c.raft_log_level = RaftLogLevel::Warn;
    c
}

fn start(net: &InMemoryNetwork, id: u64, store: MemLogStore) -> Node {
    let sm = ListSm::default();
    let handle = RaftHandle::start(config(id), store.clone(), sm.clone(), net.transport(id))
        .expect("start node");
    let h = handle.clone();
    net.register(id, move |m| h.step(m));
    Node { handle, sm, store }
}

fn cluster(net: &InMemoryNetwork, n: u64) -> Vec<Node> {
    let voters: Peers = (1..=n).map(|i| (i, format!("n{i}"))).collect();
    (1..=n)
        .map(|id| {
            let mut store = MemLogStore::new();
            RaftCore::bootstrap(&mut store, &ListSm::default(), &voters).expect("bootstrap");
            start(net, id, store)
        })
        .collect()
}

async fn wait_leader(nodes: &[Node], skip: Option<u64>) -> usize {
    for _ in 0..500 {
        for (i, n) in nodes.iter().enumerate() {
            if Some(n.handle.id()) != skip && n.handle.state().role == Role::Leader {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no leader elected within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_and_survives_leader_loss() {
    let net = InMemoryNetwork::new();
    let nodes = cluster(&net, 3);
    let l = wait_leader(&nodes, None).await;
    for i in 0..50u32 {
        let n = nodes[l]
            .handle
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose");
        assert_eq!(n, i as usize + 1);
    }
    // A follower refuses and names the leader.
    let f = (l + 1) % 3;
    match nodes[f].handle.propose(b"x".to_vec()).await {
        Err(RaftError::NotLeader {
            leader,
            leader_addr,
        }) => {
            assert_eq!(leader, Some(nodes[l].handle.id()));
            assert_eq!(leader_addr, Some(format!("n{}", nodes[l].handle.id())));
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    // Linearizable read on a follower sees all 50 writes.
    nodes[f].handle.read_index().await.expect("read index");
    assert_eq!(nodes[f].sm.items.lock().len(), 50);

    // Stop the leader; the others elect a new one and keep every acknowledged write.
    let old = nodes[l].handle.id();
    net.unregister(old);
    nodes[l].handle.shutdown().await;
    assert!(matches!(
        nodes[l].handle.propose(b"late".to_vec()).await,
        Err(RaftError::Stopped(_))
    ));
    let l2 = wait_leader(&nodes, Some(old)).await;
    assert_ne!(nodes[l2].handle.id(), old);
    let n = nodes[l2]
        .handle
        .propose(b"after".to_vec())
        .await
        .expect("propose");
    assert_eq!(n, 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_server_transfer_and_remove() {
    let net = InMemoryNetwork::new();
    let mut store = MemLogStore::new();
    let voters: Peers = [(1, "n1".to_string())].into_iter().collect();
    RaftCore::bootstrap(&mut store, &ListSm::default(), &voters).unwrap();
    let n1 = start(&net, 1, store);
    n1.handle.campaign().await;
    let nodes = vec![n1];
    wait_leader(&nodes, None).await;
    for i in 0..20u32 {
        nodes[0]
            .handle
            .propose(i.to_be_bytes().to_vec())
            .await
            .unwrap();
    }
    let n2 = start(&net, 2, MemLogStore::new());
    let n3 = start(&net, 3, MemLogStore::new());
    nodes[0]
        .handle
        .add_server(2, "n2".into())
        .await
        .expect("add 2");
    nodes[0]
        .handle
        .add_server(3, "n3".into())
        .await
        .expect("add 3");
    let st = nodes[0].handle.status().await.unwrap();
    assert_eq!(st.voters, vec![1, 2, 3]);
    assert_eq!(st.peers.get(&3).map(String::as_str), Some("n3"));

    nodes[0].handle.transfer_leader(3).await.expect("transfer");
    assert_eq!(n3.handle.state().role, Role::Leader);
    let n = n3.handle.propose(b"on-3".to_vec()).await.unwrap();
    assert_eq!(n, 21);
    n3.handle.read_index().await.unwrap();
    n2.handle.read_index().await.unwrap();
    assert_eq!(n2.sm.items.lock().len(), 21);

    n3.handle.remove_server(1).await.expect("remove 1");
    let st = n3.handle.status().await.unwrap();
    assert_eq!(st.voters, vec![2, 3]);
    assert!(!st.peers.contains_key(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_failure_stops_the_node() {
    let net = InMemoryNetwork::new();
    let mut store = MemLogStore::new();
    let voters: Peers = [(1, "n1".to_string())].into_iter().collect();
    RaftCore::bootstrap(&mut store, &ListSm::default(), &voters).unwrap();
    let node = start(&net, 1, store);
    node.handle.campaign().await;
    wait_leader(std::slice::from_ref(&node), None).await;
    node.handle.propose(b"ok".to_vec()).await.unwrap();
    node.store.set_fail_writes(true);
    let r = node.handle.propose(b"lost".to_vec()).await;
    assert!(matches!(r, Err(RaftError::Stopped(_))), "got {r:?}");
    assert!(node.handle.state().stopped.is_some());
    // Nothing unpersisted was applied.
    assert_eq!(node.sm.items.lock().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_store_keeps_acknowledged_writes() {
    let net = InMemoryNetwork::new();
    let nodes = cluster(&net, 3);
    let l = wait_leader(&nodes, None).await;
    for i in 0..30u32 {
        nodes[l]
            .handle
            .propose(i.to_be_bytes().to_vec())
            .await
            .unwrap();
    }
    // Crash every node, then restart all three from their stores.
    let stores: Vec<MemLogStore> = nodes.iter().map(|n| n.store.clone()).collect();
    for n in &nodes {
        net.unregister(n.handle.id());
        n.handle.shutdown().await;
    }
    let nodes: Vec<Node> = stores
        .into_iter()
        .enumerate()
        .map(|(i, s)| start(&net, i as u64 + 1, s))
        .collect();
    let l = wait_leader(&nodes, None).await;
    let n = nodes[l]
        .handle
        .propose(b"after-restart".to_vec())
        .await
        .unwrap();
    assert_eq!(n, 31, "all 30 acknowledged writes were replayed");
}

/// `-bootstrap-expect`: servers start empty and bootstrap once they have found each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_nodes_bootstrap_late_all_or_one() {
    for bootstrapping in [vec![1u64, 2, 3], vec![2]] {
        let net = InMemoryNetwork::new();
        let nodes: Vec<Node> = (1..=3)
            .map(|id| start(&net, id, MemLogStore::new()))
            .collect();
        // Empty nodes never elect anyone.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(nodes.iter().all(|n| n.handle.state().role != Role::Leader));
        let voters: Peers = (1..=3).map(|i| (i, format!("n{i}"))).collect();
        for id in &bootstrapping {
            let n = &nodes[*id as usize - 1];
            assert!(n.handle.bootstrap(voters.clone()).await.expect("bootstrap"));
            // A second bootstrap of the same node changes nothing.
            assert!(!n.handle.bootstrap(voters.clone()).await.expect("again"));
        }
        let l = wait_leader(&nodes, None).await;
        for i in 0..20u32 {
            nodes[l]
                .handle
                .propose(i.to_be_bytes().to_vec())
                .await
                .expect("propose");
        }
        for n in &nodes {
            n.handle.read_index().await.expect("read index");
            assert_eq!(
                n.sm.items.lock().len(),
                20,
                "bootstrapped {bootstrapping:?}"
            );
        }
        // Once in a cluster, a node refuses to bootstrap again.
        let other: Peers = [(1, "n1".to_string())].into_iter().collect();
        assert!(!nodes[0].handle.bootstrap(other).await.expect("refused"));
        let bad: Peers = [(9, "n9".to_string())].into_iter().collect();
        assert!(nodes[0].handle.bootstrap(bad).await.is_err());
        for n in &nodes {
            n.handle.shutdown().await;
        }
    }
}

/// Lost quorum: two of three servers are gone for good. The survivor's store is rewritten
/// with itself as the only voter (Consul's `peers.json`) and it serves again with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_a_survivor_after_losing_quorum() {
    let net = InMemoryNetwork::new();
    let nodes = cluster(&net, 3);
    let l = wait_leader(&nodes, None).await;
    for i in 0..30u32 {
        nodes[l]
            .handle
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose");
    }
    let survivor = (l + 1) % 3;
    nodes[survivor]
        .handle
        .read_index()
        .await
        .expect("caught up");
    for n in &nodes {
        n.handle.shutdown().await;
    }
    let mut store = nodes[survivor].store.clone();
    let id = nodes[survivor].handle.id();
    let only_me: Peers = [(id, format!("n{id}"))].into_iter().collect();
    let index = RaftCore::recover(&mut store, ListSm::default(), &only_me).expect("recover");
    assert!(index >= 30, "recovered at {index}");

    let net2 = InMemoryNetwork::new();
    let node = start(&net2, id, store);
    assert_eq!(
        node.sm.items.lock().len(),
        30,
        "state rebuilt from the recovered snapshot"
    );
    node.handle.campaign().await;
    let alone = [node];
    wait_leader(&alone, None).await;
    let n = alone[0]
        .handle
        .propose(b"after".to_vec())
        .await
        .expect("propose");
    assert_eq!(n, 31);
    let st = alone[0].handle.status().await.expect("status");
    assert_eq!(st.voters, vec![id]);
    // Recovering needs at least one voter.
    let mut empty = MemLogStore::new();
    assert!(RaftCore::recover(&mut empty, ListSm::default(), &Peers::new()).is_err());
    alone[0].handle.shutdown().await;
}
