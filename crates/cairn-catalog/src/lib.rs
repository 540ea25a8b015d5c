//! Cairn's replicated state machine: nodes, services, health checks, KV (with tombstones),
//! sessions and transactions, with Consul's index semantics and fine-grained watches for
//! blocking queries.
//!
//! # Shape
//!
//! - [`Command`]: what is proposed through raft. `encode()` writes a format version byte and
//!   named MessagePack; `decode()` never panics. Commands are deterministic: session IDs and a
//!   `now_ms` wall-clock stamp (lock-delays) are chosen by the proposer.
//! - [`Catalog`]: implements [`cairn_consensus::StateMachine`]; `apply` returns an
//!   [`ApplyResult`]. It keeps its state in persistent maps (`imbl`) and publishes an immutable
//!   [`CatalogView`] behind an `ArcSwap` after every entry, **then** wakes watchers.
//! - [`CatalogReader`]: cheap to clone; [`CatalogReader::view`] returns the latest
//!   [`CatalogView`] (no locks shared with the writer) and [`CatalogReader::watch`] returns a
//!   [`Watcher`].
//! - [`SessionTtlTracker`]: leader-side TTL bookkeeping producing `SessionDestroy` commands.
//!
//! # Index rules (what a query reports as `X-Consul-Index`)
//!
//! Every query returns `(result, index)`, the index never below 1. Following Consul's state
//! store (`agent/consul/state/*.go`):
//!
//! | Query | Index |
//! |---|---|
//! | `nodes`, `node`, `node_by_id` | `nodes` table (moved by node writes **and** service writes) |
//! | `services` | `services` table |
//! | `node_service` | `services` table |
//! | `service_nodes`, `service_health` | `service.<name>`: last change to an instance of that name, its node, or its checks; if the service has no instance, the service-extinction index (last time any service lost its last instance); else max of the tables |
//! | `node_services` | `node.<name>` (node record and its services); unknown node: node-extinction index |
//! | `node_checks`, `node_check`, `service_checks`, `checks_in_state` | `checks` table |
//! | `kv_get` | the key's `ModifyIndex`; missing key: KV table index (writes and tombstones) |
//! | `kv_list`, `kv_keys` | highest `ModifyIndex` under the prefix, tombstones included; nothing under it: KV table index; root prefix: KV table index |
//! | `session`, `sessions`, `node_sessions` | `sessions` table |
//! | `coordinates`, `node_coordinates` | `coordinates` table |
//!
//! Writes that change nothing (re-registering an identical service, setting an identical KV
//! entry) move no index and wake no watcher. Deleting a key leaves a tombstone at the delete's
//! index so a prefix index never goes backwards; `TombstoneReap` drops old ones (after which
//! an index may go backwards, as in Consul — clients reset). A snapshot restore may also move
//! indexes backwards.
//!
//! # Watch semantics
//!
//! A [`Watcher`] for a [`WatchScope`] wakes when a write may change that query's result:
//!
//! - `KvKey(k)`: a write, delete or lock change of `k`, or a tree delete of a prefix of `k`.
//! - `KvPrefix(p)`: any of those for a key under `p` (`p = ""` is everything). A write to `a/b`
//!   wakes `KvKey("a/b")`, `KvPrefix("a/")`, `KvPrefix("a")` and `KvPrefix("")`, never
//!   `KvKey("c")`.
//! - `Service(name)`: whenever `service.<name>` moves or the last instance goes away.
//! - `Node(name)`: a change to the node record, its services or its checks.
//! - `Table(t)`: whenever that table's index moves.
//! - A snapshot restore wakes every watcher.
//!
//! The blocking-query loop is: create the watcher, read the view and compute the index, return
//! if it exceeds the client's index, otherwise await `changed()` (or the timeout) and repeat.
//! [`CatalogReader::blocking_query`] implements exactly that:
//!
//! ```no_run
//! # async fn handler(reader: cairn_catalog::CatalogReader, client_index: u64) {
//! use cairn_catalog::{HealthFilter, WatchScope};
//! use std::time::Duration;
//! let (entries, index) = reader
//!     .blocking_query(WatchScope::Service("web".into()), client_index, Duration::from_secs(300), |v| {
//!         v.service_health("web", &[], HealthFilter::PassingOnly)
//!     })
//!     .await;
//! # let _ = (entries, index);
//! # }
//! ```
//! Because the writer publishes before it wakes, a write that the read missed always wakes the
//! watcher created before that read. Watchers of one scope share a slot that is freed with the
//! last of them; an idle watcher costs a few hundred bytes.
//!
//! # Sessions and time
//!
//! Lock-delay expiry (`KvAcquire` refused until `now_ms` passes it) uses the `now_ms` carried by
//! the command, so every replica decides the same. TTL expiry is the leader's job
//! ([`SessionTtlTracker`]); renewals stay on the leader, as in Consul: `PUT /v1/session/renew`
//! checks [`CatalogView::session`] and calls [`SessionTtlTracker::renew`], no raft write.
//! Tombstone GC is also the leader's: it samples [`CatalogView::tombstone_index`] and, once
//! the tombstone TTL has passed, proposes `TombstoneReap { up_to_index }` with the sample.

#![warn(missing_docs)]

mod archive;
mod bytes;
mod catalog;
mod command;
mod coordinate;
mod error;
mod query;
mod snapshot;
mod state;
mod touched;
mod ttl;
mod txn;
mod view;
mod watch;

pub use archive::{inspect_archive, read_archive, write_archive, SnapshotSummary};
pub use catalog::{Catalog, CatalogReader};
pub use command::{ApplyResult, Command, RegisterRequest, TxnOutcome, COMMAND_FORMAT_VERSION};
pub use coordinate::{Coord, NodeCoordinate};
pub use error::{CatalogError, NameClash};
pub use query::{NodeServiceList, Query, QueryResult};
pub use snapshot::SNAPSHOT_FORMAT_VERSION;
pub use state::session_write::MAX_LOCK_DELAY;
pub use touched::Table;
pub use ttl::{
    validate_session_ttl, SessionTtlTracker, DEFAULT_LOCK_DELAY, SESSION_TTL_MAX, SESSION_TTL_MIN,
    SESSION_TTL_MULTIPLIER,
};
pub use txn::{is_read_only_op, MAX_TXN_OPS};
pub use view::{CatalogView, HealthFilter};
pub use watch::{WatchScope, Watcher};
