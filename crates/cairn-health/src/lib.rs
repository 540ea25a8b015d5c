//! Cairn's agent health checks, run the way a Consul agent runs them.
//!
//! The agent hands check definitions ([`cairn_types::requests::CheckType`]) to a
//! [`CheckManager`] and reads [`CheckEvent`]s back: a [`CheckUpdate`] whenever a check's status
//! or output changes, and a [`ReapService`] when a service's check has been critical longer
//! than its `DeregisterCriticalServiceAfter`. The crate knows nothing of the catalog.
//!
//! Check kinds: HTTP (2xx passing, 429 warning, else critical), TCP (optionally TLS), UDP, TTL
//! (`TTL expired` when not fed), script `Args` (exit 0/1/other; own process group, killed as a
//! group on timeout), gRPC (`grpc.health.v1`), H2PING, alias (through [`AliasSource`], which
//! the agent implements) and Docker (Engine API exec over the Unix socket).
//!
//! Consul behaviour kept: interval floor of one second, random first-run stagger within the
//! interval, default timeouts (10 s; 30 s for scripts), `success_before_passing` /
//! `failures_before_warning` / `failures_before_critical` ([`Thresholds`]), output limits and
//! truncation markers, Go-style error texts in outputs, and Consul's error messages
//! ([`CheckError`]).
//!
//! Maintenance mode checks are plain data from [`maintenance`].
//!
//! # Wiring into the agent
//!
//! 1. At start, inside the tokio runtime: `CheckManager::new(ManagerConfig { .. })` from the
//!    runtime config (`enable_script_checks`, `enable_local_script_checks`,
//!    `check_output_max_size`, `discard_check_output`, `check_deregister_interval_min`,
//!    `check_reap_interval`, `DOCKER_HOST`), then `set_alias_source` with the agent's
//!    [`AliasSource`] (local state for `AliasNode == ""`, a blocking `Health.NodeChecks`
//!    query and a `Catalog.NodeServices` lookup otherwise).
//! 2. For every check with a definition (config files: [`CheckOptions::config`]; HTTP API:
//!    [`CheckOptions::api`]; `.for_service(id)` for service checks), register the
//!    `HealthCheck` in local state (`CheckType::to_health_check`) and call
//!    [`CheckManager::add`]; its error text is the HTTP 400 body. Pass a restored status and
//!    output (persisted TTL state, the pre-reload snapshot) in `CheckOptions::initial_*`.
//! 3. Drain [`CheckEvents`] in a task: apply each [`CheckUpdate`] to local state (sync status
//!    changes at once, output-only changes after `check_update_interval`), then call
//!    [`CheckManager::notify_local_checks_changed`]; on [`ReapService`] deregister the
//!    service and its checks (removing them from the manager too).
//! 4. `/v1/agent/check/{pass,warn,fail,update}`: [`CheckManager::ttl_update`], then persist the
//!    returned output for TTL checks as Consul does (`checks/state`).
//! 5. On deregistration call [`CheckManager::remove`]; on reload `add` every check again
//!    (unchanged ones keep running) and `remove` the ones gone.
//! 6. Maintenance: register [`maintenance::node_maintenance_check`] /
//!    [`maintenance::service_maintenance_check`] as runner-less checks and persist them;
//!    remove them to leave maintenance. Call `notify_local_checks_changed` after both.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_health::CheckError> {
//! use cairn_health::{CheckEvent, CheckManager, CheckOptions, ManagerConfig};
//! use cairn_types::requests::CheckType;
//! use std::time::Duration;
//!
//! let (manager, mut events) = CheckManager::new(ManagerConfig::default())?;
//! let def = CheckType {
//!     ttl: Duration::from_secs(30).into(),
//!     ..CheckType::default()
//! };
//! manager.add("web-ttl", def, CheckOptions::api().for_service("web"))?;
//! manager.ttl_update("web-ttl", cairn_types::CheckStatus::Passing, "ok")?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         CheckEvent::Update(u) => println!("{} is {}", u.check_id, u.status),
//!         CheckEvent::Reap(r) => println!("deregister {}", r.service_id),
//!     }
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod alias;
mod config;
mod error;
mod events;
mod goerr;
pub mod maintenance;
mod manager;
mod output;
mod registry;
mod runners;
mod spawn;
mod thresholds;
mod tls;

pub use alias::{AliasChecks, AliasQuery, AliasSource, BoxFuture, ServiceQuery};
pub use config::{
    CheckOptions, CheckSource, CheckState, ManagerConfig, DEFAULT_DOCKER_HOST,
    DEFAULT_SCRIPT_TIMEOUT, DEFAULT_TIMEOUT, MIN_INTERVAL,
};
pub use error::CheckError;
pub use events::{CheckEvent, CheckEvents, CheckUpdate, ReapService};
pub use manager::CheckManager;
pub use output::DEFAULT_OUTPUT_MAX_SIZE;
pub use runners::http::{ACCEPT as HTTP_ACCEPT, USER_AGENT as HTTP_USER_AGENT};
pub use thresholds::Thresholds;
