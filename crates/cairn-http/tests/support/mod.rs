//! An in-process backend for handler tests: a real `Catalog` that applies every command at
//! once with an incrementing raft index, and a fake agent with in-memory local state.
#![allow(dead_code)]

pub mod agent;

use cairn_catalog::{
    ApplyResult, Catalog, CatalogReader, Command, Query, QueryResult, SessionTtlTracker, TxnOutcome,
};
use cairn_http::{
    ApiError, ApiFuture, ApiRequest, ApiResponse, ConsensusApi, HttpConfig, HttpServer,
    RaftConfiguration, RaftPeer, RaftServer, WriteOptions,
};
use cairn_types::{QueryMeta, QueryOptions, Session, TxnOp};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use agent::FakeAgent;

/// Raft-backed state for tests: commands apply immediately.
pub struct TestConsensus {
    inner: Mutex<Inner>,
    reader: CatalogReader,
    /// Every command applied, in order.
    pub applied: Mutex<Vec<Command>>,
    /// When set, every raft call fails with it (e.g. `ApiError::NoLeader`).
    pub fail: Mutex<Option<ApiError>>,
    /// Known datacenters.
    pub datacenters: Vec<String>,
    /// Options of the last query, for assertions.
    pub last_query: Mutex<Option<(Query, QueryOptions)>>,
}

struct Inner {
    catalog: Catalog,
    next: u64,
    ttl: SessionTtlTracker,
}

impl TestConsensus {
    pub fn new() -> TestConsensus {
        let catalog = Catalog::new();
        let reader = catalog.reader();
        TestConsensus {
            inner: Mutex::new(Inner {
                catalog,
                next: 1,
                ttl: SessionTtlTracker::new(),
            }),
            reader,
            applied: Mutex::new(Vec::new()),
            fail: Mutex::new(None),
            datacenters: vec!["dc1".into(), "dc2".into()],
            last_query: Mutex::new(None),
        }
    }

    /// Apply directly (setup), returning the index it got.
    pub fn apply_now(&self, cmd: Command) -> (u64, ApplyResult) {
        let mut inner = self.inner.lock().unwrap();
        let index = inner.next;
        inner.next += 1;
        if let Command::SessionCreate { session } = &cmd {
            if let Ok(ttl) = cairn_types::GoDuration::parse(&session.ttl) {
                inner.ttl.track(session.id.clone(), ttl.0, Instant::now());
            }
        }
        let r = inner.catalog.apply_command(index, cmd.clone());
        self.applied.lock().unwrap().push(cmd);
        (index, r)
    }

    /// The index the next command will get.
    pub fn next_index(&self) -> u64 {
        self.inner.lock().unwrap().next
    }

    pub fn reader(&self) -> CatalogReader {
        self.reader.clone()
    }

    fn check(&self, dc: &str) -> Result<(), ApiError> {
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        if !dc.is_empty() && !self.datacenters.iter().any(|d| d == dc) {
            return Err(ApiError::NoPathToDatacenter);
        }
        Ok(())
    }

    fn meta(index: u64, opts: &QueryOptions) -> QueryMeta {
        QueryMeta {
            index,
            last_contact: if opts.consistency == cairn_types::Consistency::Stale {
                Duration::from_millis(7)
            } else {
                Duration::ZERO
            },
            known_leader: true,
            consistency: opts.consistency,
        }
    }
}

impl ConsensusApi for TestConsensus {
    fn apply(&self, command: Command, opts: WriteOptions) -> ApiFuture<'_, ApplyResult> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            Ok(self.apply_now(command).1)
        })
    }

    fn query(&self, query: Query, opts: QueryOptions) -> ApiFuture<'_, (QueryResult, QueryMeta)> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            *self.last_query.lock().unwrap() = Some((query.clone(), opts.clone()));
            let wait = opts.max_query_time.unwrap_or(Duration::from_secs(300));
            let (result, index) = self.reader.query(&query, opts.min_query_index, wait).await;
            Ok((result, Self::meta(index, &opts)))
        })
    }

    fn read_txn(
        &self,
        ops: Vec<TxnOp>,
        opts: QueryOptions,
    ) -> ApiFuture<'_, (TxnOutcome, QueryMeta)> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            let view = self.reader.view();
            let outcome = view.read_txn(ops)?;
            Ok((outcome, Self::meta(view.last_index(), &opts)))
        })
    }

    fn renew_session(&self, id: String, opts: WriteOptions) -> ApiFuture<'_, Option<Session>> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            let (session, _) = self.reader.view().session(&id);
            if session.is_some() {
                self.inner.lock().unwrap().ttl.renew(&id, Instant::now());
            }
            Ok(session)
        })
    }

    fn leader(&self, datacenter: String) -> ApiFuture<'_, String> {
        Box::pin(async move {
            self.check(&datacenter)?;
            Ok("127.0.0.1:8300".to_string())
        })
    }

    fn peers(&self, datacenter: String) -> ApiFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check(&datacenter)?;
            Ok(vec!["127.0.0.1:8300".to_string()])
        })
    }

    fn datacenters(&self) -> ApiFuture<'_, Vec<String>> {
        Box::pin(async move { Ok(self.datacenters.clone()) })
    }

    fn raft_configuration(&self, opts: QueryOptions) -> ApiFuture<'_, RaftConfiguration> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            Ok(RaftConfiguration {
                servers: vec![RaftServer {
                    id: "11111111-2222-3333-4444-555555555555".into(),
                    node: "node1".into(),
                    address: "127.0.0.1:8300".into(),
                    leader: true,
                    voter: true,
                    protocol_version: "3".into(),
                    last_index: 1,
                }],
                index: 1,
            })
        })
    }

    fn remove_raft_peer(&self, peer: RaftPeer, opts: WriteOptions) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            match peer {
                RaftPeer::Address(a) if a == "127.0.0.1:8300" => {
                    Err(ApiError::internal("cannot remove the leader"))
                }
                _ => Ok(()),
            }
        })
    }

    fn transfer_leader(&self, _id: Option<String>, opts: WriteOptions) -> ApiFuture<'_, bool> {
        Box::pin(async move {
            self.check(&opts.datacenter)?;
            Ok(true)
        })
    }
}

/// A server over the test backends, plus handles to both.
pub struct TestApi {
    pub server: HttpServer,
    pub consensus: Arc<TestConsensus>,
    pub agent: Arc<FakeAgent>,
}

pub fn config() -> HttpConfig {
    HttpConfig {
        node_name: "node1".into(),
        ..HttpConfig::default()
    }
}

impl TestApi {
    pub fn new() -> TestApi {
        TestApi::with_config(config())
    }

    pub fn with_config(cfg: HttpConfig) -> TestApi {
        let consensus = Arc::new(TestConsensus::new());
        let agent = Arc::new(FakeAgent::new());
        let server = HttpServer::new(cfg, consensus.clone(), agent.clone());
        // The agent's own node, so sessions default to an existing node.
        consensus.apply_now(Command::Register(Box::new(
            cairn_catalog::RegisterRequest {
                node: cairn_types::Node {
                    node: "node1".into(),
                    address: "127.0.0.1".into(),
                    ..cairn_types::Node::default()
                },
                checks: vec![cairn_types::HealthCheck {
                    node: "node1".into(),
                    check_id: "serfHealth".into(),
                    name: "Serf Health Status".into(),
                    status: cairn_types::CheckStatus::Passing,
                    ..cairn_types::HealthCheck::default()
                }],
                ..cairn_catalog::RegisterRequest::default()
            },
        )));
        TestApi {
            server,
            consensus,
            agent,
        }
    }

    pub async fn req(&self, method: &str, uri: &str, body: &str) -> ApiResponse {
        self.server.send(ApiRequest::new(method, uri, body)).await
    }

    pub async fn get(&self, uri: &str) -> ApiResponse {
        self.req("GET", uri, "").await
    }

    pub async fn put(&self, uri: &str, body: &str) -> ApiResponse {
        self.req("PUT", uri, body).await
    }

    pub async fn delete(&self, uri: &str) -> ApiResponse {
        self.req("DELETE", uri, "").await
    }
}

/// Parse a JSON body, failing the test with the body text otherwise.
pub fn json(resp: &ApiResponse) -> serde_json::Value {
    serde_json::from_slice(&resp.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", resp.text()))
}

/// The `X-Consul-Index` header as a number.
pub fn index(resp: &ApiResponse) -> u64 {
    resp.header("X-Consul-Index")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no X-Consul-Index in {:?}", resp.headers))
}
