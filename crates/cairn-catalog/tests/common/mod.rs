//! Shared helpers for the catalog tests: a catalog that numbers raft indexes itself, and
//! builders for registrations.
#![allow(dead_code)]

use cairn_catalog::{ApplyResult, Catalog, CatalogReader, CatalogView, Command, RegisterRequest};
use cairn_consensus::StateMachine;
use cairn_types::{AgentService, CheckStatus, HealthCheck, Node, Session, SessionBehavior};
use std::sync::Arc;
use std::time::Duration;

/// A catalog plus the next raft index to use.
pub struct Harness {
    pub catalog: Catalog,
    pub reader: CatalogReader,
    pub next: u64,
}

impl Harness {
    pub fn new() -> Harness {
        let catalog = Catalog::new();
        let reader = catalog.reader();
        Harness {
            catalog,
            reader,
            next: 1,
        }
    }

    /// Apply through the encoded path (as raft does) at the next index.
    pub fn apply(&mut self, cmd: Command) -> ApplyResult {
        let index = self.next;
        self.next += 1;
        self.catalog.apply(index, &cmd.encode())
    }

    /// Apply and return the index it was applied at.
    pub fn apply_at(&mut self, cmd: Command) -> (u64, ApplyResult) {
        let index = self.next;
        (index, self.apply(cmd))
    }

    /// Apply and insist it was accepted.
    pub fn ok(&mut self, cmd: Command) -> u64 {
        let (index, r) = self.apply_at(cmd.clone());
        assert!(
            !matches!(r, ApplyResult::Error(_) | ApplyResult::Bool(false)),
            "command {cmd:?} failed: {r:?}"
        );
        index
    }

    pub fn view(&self) -> Arc<CatalogView> {
        self.reader.view()
    }
}

pub fn node(name: &str, address: &str) -> Node {
    Node {
        node: name.into(),
        address: address.into(),
        datacenter: "dc1".into(),
        ..Node::default()
    }
}

pub fn service(id: &str, name: &str, tags: &[&str], port: u16) -> AgentService {
    AgentService {
        id: id.into(),
        service: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        port,
        ..AgentService::default()
    }
}

pub fn check(node: &str, id: &str, service_id: &str, status: CheckStatus) -> HealthCheck {
    HealthCheck {
        node: node.into(),
        check_id: id.into(),
        name: id.into(),
        status,
        service_id: service_id.into(),
        ..HealthCheck::default()
    }
}

pub fn register_node(name: &str) -> Command {
    Command::Register(Box::new(RegisterRequest {
        node: node(name, "10.0.0.1"),
        ..RegisterRequest::default()
    }))
}

pub fn register_service(node_name: &str, svc: AgentService) -> Command {
    Command::Register(Box::new(RegisterRequest {
        node: node(node_name, "10.0.0.1"),
        service: Some(svc),
        ..RegisterRequest::default()
    }))
}

pub fn register_checks(node_name: &str, checks: Vec<HealthCheck>, now_ms: u64) -> Command {
    Command::Register(Box::new(RegisterRequest {
        node: node(node_name, "10.0.0.1"),
        checks,
        now_ms,
        ..RegisterRequest::default()
    }))
}

pub fn kv_set(key: &str, value: &str) -> Command {
    Command::KvSet {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
    }
}

pub fn session(id: &str, node: &str, behavior: SessionBehavior, lock_delay: Duration) -> Session {
    Session {
        id: id.into(),
        node: node.into(),
        behavior,
        lock_delay: lock_delay.into(),
        ..Session::default()
    }
}

pub fn create_session(
    id: &str,
    node: &str,
    behavior: SessionBehavior,
    lock_delay: Duration,
) -> Command {
    Command::SessionCreate {
        session: session(id, node, behavior, lock_delay),
    }
}

pub fn acquire(key: &str, session: &str, now_ms: u64) -> Command {
    Command::KvAcquire {
        key: key.into(),
        value: b"locked".to_vec(),
        flags: 0,
        session: session.into(),
        now_ms,
    }
}

pub fn release(key: &str, session: &str) -> Command {
    Command::KvRelease {
        key: key.into(),
        value: b"released".to_vec(),
        flags: 0,
        session: session.into(),
    }
}

/// A small deterministic PRNG (splitmix64) for randomized tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
