//! Named, serializable reads: the boundary between the API layers (HTTP, DNS, client→server RPC
//! forwarding) and the catalog.
//!
//! A [`Query`] names one read the API needs, with its parameters. [`Query::run`] answers it from
//! a [`CatalogView`] as `(QueryResult, index)` with Consul's index rules, [`Query::scope`] names
//! the [`WatchScope`] whose changes can alter the answer, and [`CatalogReader::query`] runs it as
//! a Consul blocking query. Both enums are plain serde data, so a client agent can ship a query
//! to a server and the answer back (use a self-describing encoding such as JSON or named
//! MessagePack: several result shapes omit empty fields).

use crate::catalog::CatalogReader;
use crate::coordinate::NodeCoordinate;
use crate::touched::Table;
use crate::view::{CatalogView, HealthFilter};
use crate::watch::WatchScope;
use cairn_types::{
    AgentService, CatalogService, CheckStatus, HealthCheck, KvEntry, Node, NodeServices,
    ServiceEntry, Session,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which service instances a health query keeps (serde form of [`HealthFilter`]).
#[derive(Serialize, Deserialize)]
#[serde(remote = "HealthFilter")]
enum HealthFilterDef {
    All,
    NotCritical,
    PassingOnly,
}

/// A read the API layers need. Node-meta filters keep only results whose node carries every
/// given pair (Consul's `?node-meta=k:v`, repeated = AND).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Query {
    /// `GET /v1/kv/:key`: one entry.
    KvGet {
        /// The key.
        key: String,
    },
    /// `GET /v1/kv/:prefix?recurse`: every entry under a prefix.
    KvList {
        /// The prefix (empty: everything).
        prefix: String,
    },
    /// `GET /v1/kv/:prefix?keys[&separator=…]`: the keys under a prefix.
    KvKeys {
        /// The prefix (empty: everything).
        prefix: String,
        /// Cut keys after the first occurrence past the prefix (empty: no cut).
        separator: String,
    },
    /// `GET /v1/catalog/nodes`.
    CatalogNodes {
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// One node record by name (DNS node lookups).
    CatalogNode {
        /// Node name (case-insensitive).
        node: String,
    },
    /// `GET /v1/catalog/services`: service name → union of tags.
    CatalogServices {
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// `GET /v1/catalog/service/:name`.
    CatalogService {
        /// Service name.
        name: String,
        /// Tags every instance must carry.
        tags: Vec<String>,
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// `GET /v1/catalog/node/:node`: the node and its services by ID.
    NodeServices {
        /// Node name or ID.
        node: String,
    },
    /// `GET /v1/catalog/node-services/:node`: the node and its services as a list.
    NodeServiceList {
        /// Node name or ID.
        node: String,
    },
    /// `GET /v1/health/node/:node`: every check on a node.
    HealthNode {
        /// Node name.
        node: String,
    },
    /// `GET /v1/health/checks/:service`: the checks of every instance of a service.
    HealthChecks {
        /// Service name.
        service: String,
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// `GET /v1/health/service/:name` (and DNS service lookups).
    HealthService {
        /// Service name.
        name: String,
        /// Tags every instance must carry.
        tags: Vec<String>,
        /// Which instances to keep by check status.
        #[serde(with = "HealthFilterDef")]
        filter: HealthFilter,
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// `GET /v1/health/state/:state`: checks in a state; `None` is `any`. A state word Consul
    /// does not know matches nothing, as in Consul.
    HealthState {
        /// `passing`, `warning`, `critical` (or any other word, matching nothing); `None` for
        /// `any`.
        state: Option<String>,
        /// Node-meta filters.
        node_meta: BTreeMap<String, String>,
    },
    /// `GET /v1/session/info/:id`.
    SessionInfo {
        /// Session ID.
        id: String,
    },
    /// `GET /v1/session/list`.
    SessionList,
    /// `GET /v1/session/node/:node`.
    SessionNode {
        /// Node name.
        node: String,
    },
    /// `GET /v1/coordinate/nodes`.
    Coordinates,
    /// `GET /v1/coordinate/node/:node`.
    NodeCoordinates {
        /// Node name.
        node: String,
    },
}

/// A node with its services as a list (`GET /v1/catalog/node-services/:node`); both fields are
/// `null` in JSON for an unknown node, as Consul writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeServiceList {
    /// The node.
    pub node: Option<Node>,
    /// Its services, by ID.
    pub services: Option<Vec<AgentService>>,
}

/// The answer to a [`Query`]; each query has exactly one variant (see [`Query::run`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum QueryResult {
    /// [`Query::KvGet`].
    KvEntry(Option<KvEntry>),
    /// [`Query::KvList`].
    KvEntries(Vec<KvEntry>),
    /// [`Query::KvKeys`].
    Keys(Vec<String>),
    /// [`Query::CatalogNodes`].
    Nodes(Vec<Node>),
    /// [`Query::CatalogNode`].
    Node(Option<Node>),
    /// [`Query::CatalogServices`].
    Services(BTreeMap<String, Vec<String>>),
    /// [`Query::CatalogService`].
    ServiceNodes(Vec<CatalogService>),
    /// [`Query::NodeServices`].
    NodeServices(Option<NodeServices>),
    /// [`Query::NodeServiceList`].
    NodeServiceList(NodeServiceList),
    /// [`Query::HealthNode`], [`Query::HealthChecks`], [`Query::HealthState`].
    Checks(Vec<HealthCheck>),
    /// [`Query::HealthService`].
    ServiceEntries(Vec<ServiceEntry>),
    /// [`Query::SessionInfo`].
    Session(Option<Session>),
    /// [`Query::SessionList`], [`Query::SessionNode`].
    Sessions(Vec<Session>),
    /// [`Query::Coordinates`], [`Query::NodeCoordinates`].
    Coordinates(Vec<NodeCoordinate>),
}

fn meta_ok(meta: &BTreeMap<String, String>, filters: &BTreeMap<String, String>) -> bool {
    filters.iter().all(|(k, v)| meta.get(k) == Some(v))
}

/// Keep the checks whose node carries every filter pair.
fn checks_on_meta_nodes(
    view: &CatalogView,
    checks: Vec<HealthCheck>,
    filters: &BTreeMap<String, String>,
) -> Vec<HealthCheck> {
    if filters.is_empty() {
        return checks;
    }
    checks
        .into_iter()
        .filter(|c| {
            view.node(&c.node)
                .0
                .is_some_and(|n| meta_ok(&n.meta, filters))
        })
        .collect()
}

impl Query {
    /// The watch scope whose changes may alter this query's answer (what a blocking query
    /// waits on).
    pub fn scope(&self) -> WatchScope {
        match self {
            Query::KvGet { key } => WatchScope::KvKey(key.clone()),
            Query::KvList { prefix } | Query::KvKeys { prefix, .. } => {
                WatchScope::KvPrefix(prefix.clone())
            }
            // Service registrations move the nodes table too, so node-meta filtered service
            // lists (whose index includes the nodes table) watch it.
            Query::CatalogNodes { .. } | Query::CatalogNode { .. } => {
                WatchScope::Table(Table::Nodes)
            }
            Query::CatalogServices { node_meta } if !node_meta.is_empty() => {
                WatchScope::Table(Table::Nodes)
            }
            Query::CatalogServices { .. } => WatchScope::Table(Table::Services),
            Query::CatalogService { name, .. }
            | Query::HealthService { name, .. }
            | Query::HealthChecks { service: name, .. } => WatchScope::Service(name.clone()),
            Query::NodeServices { node }
            | Query::NodeServiceList { node }
            | Query::HealthNode { node } => WatchScope::Node(node.clone()),
            Query::HealthState { .. } => WatchScope::Table(Table::Checks),
            Query::SessionInfo { .. } | Query::SessionList | Query::SessionNode { .. } => {
                WatchScope::Table(Table::Sessions)
            }
            Query::Coordinates | Query::NodeCoordinates { .. } => {
                WatchScope::Table(Table::Coordinates)
            }
        }
    }

    /// Answer the query from `view`, with the index Consul reports for it (never 0).
    pub fn run(&self, view: &CatalogView) -> (QueryResult, u64) {
        match self {
            Query::KvGet { key } => {
                let (e, i) = view.kv_get(key);
                (QueryResult::KvEntry(e), i)
            }
            Query::KvList { prefix } => {
                let (e, i) = view.kv_list(prefix);
                (QueryResult::KvEntries(e), i)
            }
            Query::KvKeys { prefix, separator } => {
                let (k, i) = view.kv_keys(prefix, separator);
                (QueryResult::Keys(k), i)
            }
            Query::CatalogNodes { node_meta } => {
                let (n, i) = if node_meta.is_empty() {
                    view.nodes()
                } else {
                    view.nodes_by_meta(node_meta)
                };
                (QueryResult::Nodes(n), i)
            }
            Query::CatalogNode { node } => {
                let (n, i) = view.node(node);
                (QueryResult::Node(n), i)
            }
            Query::CatalogServices { node_meta } => {
                let (s, i) = if node_meta.is_empty() {
                    view.services()
                } else {
                    view.services_by_node_meta(node_meta)
                };
                (QueryResult::Services(s), i)
            }
            Query::CatalogService {
                name,
                tags,
                node_meta,
            } => {
                let (mut s, i) = view.service_nodes(name, tags);
                s.retain(|e| meta_ok(&e.node_meta, node_meta));
                (QueryResult::ServiceNodes(s), i)
            }
            Query::NodeServices { node } => {
                let (n, i) = view.node_services(node);
                (QueryResult::NodeServices(n), i)
            }
            Query::NodeServiceList { node } => {
                let (n, i) = view.node_services(node);
                let list = match n {
                    Some(ns) => NodeServiceList {
                        node: ns.node,
                        services: Some(ns.services.into_values().collect()),
                    },
                    None => NodeServiceList::default(),
                };
                (QueryResult::NodeServiceList(list), i)
            }
            Query::HealthNode { node } => {
                let (c, i) = view.node_checks(node);
                (QueryResult::Checks(c), i)
            }
            Query::HealthChecks { service, node_meta } => {
                let (c, i) = view.service_checks(service);
                (
                    QueryResult::Checks(checks_on_meta_nodes(view, c, node_meta)),
                    i,
                )
            }
            Query::HealthService {
                name,
                tags,
                filter,
                node_meta,
            } => {
                let (mut e, i) = view.service_health(name, tags, *filter);
                e.retain(|e| meta_ok(&e.node.meta, node_meta));
                (QueryResult::ServiceEntries(e), i)
            }
            Query::HealthState { state, node_meta } => {
                let (c, i) = match state.as_deref() {
                    None => view.checks_in_state(None),
                    Some(word) => match word.parse::<CheckStatus>() {
                        Ok(status) => view.checks_in_state(Some(status)),
                        // Unknown words match no check; the index stays the checks table's.
                        Err(_) => (Vec::new(), view.checks_in_state(None).1),
                    },
                };
                (
                    QueryResult::Checks(checks_on_meta_nodes(view, c, node_meta)),
                    i,
                )
            }
            Query::SessionInfo { id } => {
                let (s, i) = view.session(id);
                (QueryResult::Session(s), i)
            }
            Query::SessionList => {
                let (s, i) = view.sessions();
                (QueryResult::Sessions(s), i)
            }
            Query::SessionNode { node } => {
                let (s, i) = view.node_sessions(node);
                (QueryResult::Sessions(s), i)
            }
            Query::Coordinates => {
                let (c, i) = view.coordinates();
                (QueryResult::Coordinates(c), i)
            }
            Query::NodeCoordinates { node } => {
                let (c, i) = view.node_coordinates(node);
                (QueryResult::Coordinates(c), i)
            }
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Query::KvGet { .. } => "kv-get",
            Query::KvList { .. } => "kv-list",
            Query::KvKeys { .. } => "kv-keys",
            Query::CatalogNodes { .. } => "catalog-nodes",
            Query::CatalogNode { .. } => "catalog-node",
            Query::CatalogServices { .. } => "catalog-services",
            Query::CatalogService { .. } => "catalog-service",
            Query::NodeServices { .. } => "node-services",
            Query::NodeServiceList { .. } => "node-service-list",
            Query::HealthNode { .. } => "health-node",
            Query::HealthChecks { .. } => "health-checks",
            Query::HealthService { .. } => "health-service",
            Query::HealthState { .. } => "health-state",
            Query::SessionInfo { .. } => "session-info",
            Query::SessionList => "session-list",
            Query::SessionNode { .. } => "session-node",
            Query::Coordinates => "coordinates",
            Query::NodeCoordinates { .. } => "node-coordinates",
        }
    }
}

impl CatalogReader {
    /// Run `query` as a Consul blocking query: answer at once when `min_index` is 0, else
    /// wait (up to `max_wait`) until its index exceeds `min_index`, re-running it whenever its
    /// scope changes. The caller has already applied Consul's default, cap and jitter to
    /// `max_wait`.
    pub async fn query(
        &self,
        query: &Query,
        min_index: u64,
        max_wait: Duration,
    ) -> (QueryResult, u64) {
        self.blocking_query(query.scope(), min_index, max_wait, |view| query.run(view))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::command::{Command, RegisterRequest};
    use cairn_types::SessionBehavior;
    use std::time::Instant;

    struct Fixture {
        catalog: Catalog,
        next: u64,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                catalog: Catalog::new(),
                next: 1,
            }
        }

        fn apply(&mut self, cmd: Command) -> u64 {
            let index = self.next;
            self.next += 1;
            let r = self.catalog.apply_command(index, cmd);
            assert!(r.error().is_none(), "{r:?}");
            index
        }

        fn register(
            &mut self,
            node: &str,
            meta: &[(&str, &str)],
            svc: Option<(&str, &[&str])>,
        ) -> u64 {
            let service = svc.map(|(name, tags)| AgentService {
                id: name.to_string(),
                service: name.to_string(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                port: 80,
                ..AgentService::default()
            });
            let checks = service
                .as_ref()
                .map(|s| {
                    vec![HealthCheck {
                        node: node.to_string(),
                        check_id: format!("service:{}", s.id),
                        name: "svc".into(),
                        status: CheckStatus::Passing,
                        service_id: s.id.clone(),
                        ..HealthCheck::default()
                    }]
                })
                .unwrap_or_default();
            self.apply(Command::Register(Box::new(RegisterRequest {
                node: Node {
                    node: node.to_string(),
                    address: "10.0.0.1".into(),
                    meta: meta
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Node::default()
                },
                service,
                checks,
                ..RegisterRequest::default()
            })))
        }

        fn view(&self) -> std::sync::Arc<CatalogView> {
            self.catalog.reader().view()
        }
    }

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kv_queries_answer_like_the_view() {
        let mut f = Fixture::new();
        let i = f.apply(Command::KvSet {
            key: "app/a".into(),
            value: b"1".to_vec(),
            flags: 7,
        });
        f.apply(Command::KvSet {
            key: "app/dir/b".into(),
            value: b"2".to_vec(),
            flags: 0,
        });
        let v = f.view();
        let (r, idx) = Query::KvGet {
            key: "app/a".into(),
        }
        .run(&v);
        assert_eq!(idx, i);
        match r {
            QueryResult::KvEntry(Some(e)) => assert_eq!((e.flags, e.value), (7, b"1".to_vec())),
            other => panic!("{other:?}"),
        }
        let (r, _) = Query::KvGet { key: "nope".into() }.run(&v);
        assert_eq!(r, QueryResult::KvEntry(None));
        let (r, idx) = Query::KvList {
            prefix: "app/".into(),
        }
        .run(&v);
        assert_eq!(idx, 2);
        assert!(matches!(r, QueryResult::KvEntries(ref e) if e.len() == 2));
        let (r, _) = Query::KvKeys {
            prefix: "app/".into(),
            separator: "/".into(),
        }
        .run(&v);
        assert_eq!(
            r,
            QueryResult::Keys(vec!["app/a".into(), "app/dir/".into()])
        );
    }

    #[test]
    fn node_meta_filters_apply_to_every_list() {
        let mut f = Fixture::new();
        f.register("n1", &[("env", "prod")], Some(("web", &["v1"])));
        f.register("n2", &[("env", "dev")], Some(("web", &["v2"])));
        let v = f.view();
        let prod = meta(&[("env", "prod")]);

        let (r, _) = Query::CatalogNodes {
            node_meta: prod.clone(),
        }
        .run(&v);
        assert!(matches!(r, QueryResult::Nodes(ref n) if n.len() == 1 && n[0].node == "n1"));
        let (r, _) = Query::CatalogNodes {
            node_meta: BTreeMap::new(),
        }
        .run(&v);
        assert!(matches!(r, QueryResult::Nodes(ref n) if n.len() == 2));

        let (r, _) = Query::CatalogServices {
            node_meta: prod.clone(),
        }
        .run(&v);
        assert_eq!(
            r,
            QueryResult::Services(BTreeMap::from([(
                "web".to_string(),
                vec!["v1".to_string()]
            )]))
        );

        let (r, _) = Query::CatalogService {
            name: "web".into(),
            tags: vec![],
            node_meta: prod.clone(),
        }
        .run(&v);
        assert!(matches!(r, QueryResult::ServiceNodes(ref s) if s.len() == 1 && s[0].node == "n1"));

        let (r, _) = Query::HealthService {
            name: "web".into(),
            tags: vec!["v2".into()],
            filter: HealthFilter::PassingOnly,
            node_meta: BTreeMap::new(),
        }
        .run(&v);
        assert!(
            matches!(r, QueryResult::ServiceEntries(ref e) if e.len() == 1 && e[0].node.node == "n2")
        );

        let (r, _) = Query::HealthChecks {
            service: "web".into(),
            node_meta: meta(&[("env", "dev")]),
        }
        .run(&v);
        assert!(matches!(r, QueryResult::Checks(ref c) if c.len() == 1 && c[0].node == "n2"));

        let (r, _) = Query::HealthState {
            state: Some("passing".into()),
            node_meta: prod,
        }
        .run(&v);
        assert!(matches!(r, QueryResult::Checks(ref c) if c.len() == 1 && c[0].node == "n1"));
    }

    #[test]
    fn health_state_words() {
        let mut f = Fixture::new();
        f.register("n1", &[], Some(("web", &[])));
        let v = f.view();
        let any = Query::HealthState {
            state: None,
            node_meta: BTreeMap::new(),
        }
        .run(&v);
        assert!(matches!(any.0, QueryResult::Checks(ref c) if c.len() == 1));
        let crit = Query::HealthState {
            state: Some("critical".into()),
            node_meta: BTreeMap::new(),
        }
        .run(&v);
        assert_eq!(crit.0, QueryResult::Checks(vec![]));
        let bogus = Query::HealthState {
            state: Some("bogus".into()),
            node_meta: BTreeMap::new(),
        }
        .run(&v);
        assert_eq!(bogus.0, QueryResult::Checks(vec![]));
        assert_eq!(bogus.1, any.1, "unknown states keep the checks index");
    }

    #[test]
    fn node_service_list_and_unknown_node() {
        let mut f = Fixture::new();
        f.register("n1", &[], Some(("web", &[])));
        let v = f.view();
        let (r, _) = Query::NodeServiceList { node: "n1".into() }.run(&v);
        match r {
            QueryResult::NodeServiceList(l) => {
                assert_eq!(l.node.map(|n| n.node), Some("n1".to_string()));
                assert_eq!(l.services.map(|s| s.len()), Some(1));
            }
            other => panic!("{other:?}"),
        }
        let (r, idx) = Query::NodeServiceList {
            node: "ghost".into(),
        }
        .run(&v);
        assert_eq!(r, QueryResult::NodeServiceList(NodeServiceList::default()));
        assert!(idx >= 1);
        let json = serde_json::to_string(&NodeServiceList::default()).unwrap();
        assert_eq!(json, r#"{"Node":null,"Services":null}"#);
        let (r, _) = Query::NodeServices {
            node: "ghost".into(),
        }
        .run(&v);
        assert_eq!(r, QueryResult::NodeServices(None));
    }

    #[test]
    fn sessions_and_coordinates() {
        let mut f = Fixture::new();
        f.register("n1", &[], None);
        f.apply(Command::SessionCreate {
            session: Session {
                id: "s1".into(),
                node: "n1".into(),
                behavior: SessionBehavior::Release,
                node_checks: vec![],
                ..Session::default()
            },
        });
        let v = f.view();
        let (r, _) = Query::SessionInfo { id: "s1".into() }.run(&v);
        assert!(matches!(r, QueryResult::Session(Some(ref s)) if s.node == "n1"));
        let (r, _) = Query::SessionNode { node: "N1".into() }.run(&v);
        assert!(matches!(r, QueryResult::Sessions(ref s) if s.len() == 1));
        let (r, _) = Query::SessionList.run(&v);
        assert!(matches!(r, QueryResult::Sessions(ref s) if s.len() == 1));
        let (r, idx) = Query::Coordinates.run(&v);
        assert_eq!((r, idx), (QueryResult::Coordinates(vec![]), 1));
    }

    #[test]
    fn scopes_follow_the_index_rules() {
        assert_eq!(
            Query::KvGet { key: "a".into() }.scope(),
            WatchScope::KvKey("a".into())
        );
        assert_eq!(
            Query::KvKeys {
                prefix: "p/".into(),
                separator: "/".into()
            }
            .scope(),
            WatchScope::KvPrefix("p/".into())
        );
        assert_eq!(
            Query::CatalogServices {
                node_meta: BTreeMap::new()
            }
            .scope(),
            WatchScope::Table(Table::Services)
        );
        assert_eq!(
            Query::CatalogServices {
                node_meta: meta(&[("a", "b")])
            }
            .scope(),
            WatchScope::Table(Table::Nodes)
        );
        assert_eq!(
            Query::HealthChecks {
                service: "web".into(),
                node_meta: BTreeMap::new()
            }
            .scope(),
            WatchScope::Service("web".into())
        );
        assert_eq!(
            Query::HealthNode { node: "n".into() }.scope(),
            WatchScope::Node("n".into())
        );
        assert_eq!(
            Query::SessionList.scope(),
            WatchScope::Table(Table::Sessions)
        );
    }

    #[test]
    fn queries_and_results_round_trip_through_serde() {
        let mut f = Fixture::new();
        f.register("n1", &[("env", "prod")], Some(("web", &["v1"])));
        f.apply(Command::KvSet {
            key: "k".into(),
            value: b"v".to_vec(),
            flags: 3,
        });
        let v = f.view();
        let queries = vec![
            Query::KvGet { key: "k".into() },
            Query::KvList {
                prefix: String::new(),
            },
            Query::KvKeys {
                prefix: String::new(),
                separator: "/".into(),
            },
            Query::CatalogNodes {
                node_meta: meta(&[("env", "prod")]),
            },
            Query::CatalogNode { node: "n1".into() },
            Query::CatalogServices {
                node_meta: BTreeMap::new(),
            },
            Query::CatalogService {
                name: "web".into(),
                tags: vec!["v1".into()],
                node_meta: BTreeMap::new(),
            },
            Query::NodeServices { node: "n1".into() },
            Query::NodeServiceList { node: "n1".into() },
            Query::HealthNode { node: "n1".into() },
            Query::HealthChecks {
                service: "web".into(),
                node_meta: BTreeMap::new(),
            },
            Query::HealthService {
                name: "web".into(),
                tags: vec![],
                filter: HealthFilter::NotCritical,
                node_meta: BTreeMap::new(),
            },
            Query::HealthState {
                state: None,
                node_meta: BTreeMap::new(),
            },
            Query::SessionInfo { id: "x".into() },
            Query::SessionList,
            Query::SessionNode { node: "n1".into() },
            Query::Coordinates,
            Query::NodeCoordinates { node: "n1".into() },
        ];
        for q in queries {
            let json = serde_json::to_vec(&q).unwrap();
            assert_eq!(serde_json::from_slice::<Query>(&json).unwrap(), q);
            let packed = rmp_serde::to_vec_named(&q).unwrap();
            assert_eq!(rmp_serde::from_slice::<Query>(&packed).unwrap(), q);

            let (result, _) = q.run(&v);
            let json = serde_json::to_vec(&result).unwrap();
            assert_eq!(
                serde_json::from_slice::<QueryResult>(&json).unwrap(),
                result,
                "{q:?}"
            );
            let packed = rmp_serde::to_vec_named(&result).unwrap();
            assert_eq!(
                rmp_serde::from_slice::<QueryResult>(&packed).unwrap(),
                result,
                "{q:?}"
            );
            assert!(!q.kind().is_empty());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn blocking_query_wakes_on_matching_write_only() {
        let mut f = Fixture::new();
        let first = f.apply(Command::KvSet {
            key: "a".into(),
            value: b"1".to_vec(),
            flags: 0,
        });
        let reader = f.catalog.reader();
        let q = Query::KvGet { key: "a".into() };

        // Index 0 answers at once.
        let (_, idx) = reader.query(&q, 0, Duration::from_secs(60)).await;
        assert_eq!(idx, first);

        let task = {
            let reader = reader.clone();
            let q = q.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let out = reader.query(&q, first, Duration::from_secs(60)).await;
                (out, start.elapsed())
            })
        };
        tokio::task::yield_now().await;
        // An unrelated write does not answer the query.
        f.apply(Command::KvSet {
            key: "b".into(),
            value: b"x".to_vec(),
            flags: 0,
        });
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        let second = f.apply(Command::KvSet {
            key: "a".into(),
            value: b"2".to_vec(),
            flags: 0,
        });
        let ((result, idx), _) = task.await.unwrap();
        assert_eq!(idx, second);
        assert!(matches!(result, QueryResult::KvEntry(Some(ref e)) if e.value == b"2"));

        // Nothing changes: the current answer comes back after max_wait.
        let (_, idx) = reader.query(&q, second, Duration::from_secs(5)).await;
        assert_eq!(idx, second);
    }
}
