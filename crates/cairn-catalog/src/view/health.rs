//! Health queries: checks by node, by service, by state; service entries.
//!
//! Index rules (Consul): check lists report the `checks` table index; service entries report
//! `service.<name>` (falling back to the max of the nodes, services and checks tables), or the
//! service extinction index when the service has no instance.

use super::catalog::has_tags;
use super::{at_least_one, CatalogView};
use crate::state::fold;
use cairn_types::{AgentService, CheckStatus, HealthCheck, Node, ServiceEntry};

/// Which service instances a health query keeps, by the status of their checks (node checks
/// included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthFilter {
    /// Every instance (`/v1/health/service/:name`).
    #[default]
    All,
    /// Instances with no critical check (what DNS answers).
    NotCritical,
    /// Instances whose checks all pass (`?passing`).
    PassingOnly,
}

impl HealthFilter {
    fn keeps(self, checks: &[HealthCheck]) -> bool {
        match self {
            HealthFilter::All => true,
            HealthFilter::NotCritical => checks.iter().all(|c| c.status != CheckStatus::Critical),
            HealthFilter::PassingOnly => checks.iter().all(|c| c.status == CheckStatus::Passing),
        }
    }
}

impl CatalogView {
    /// Checks on a node: node checks where `service_id` is `None`, else that instance's checks.
    fn checks_on<'a>(
        &'a self,
        node_key: &str,
        service_id: Option<&'a str>,
    ) -> impl Iterator<Item = &'a HealthCheck> + 'a {
        let service_key = service_id.map(|s| fold(s).into_owned());
        self.s
            .checks
            .get(node_key)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(move |c| match &service_key {
                None => c.service_id.is_empty(),
                Some(k) => !c.service_id.is_empty() && fold(&c.service_id) == k.as_str(),
            })
            .map(|c| &**c)
    }

    /// `GET /v1/health/node/:node`: every check on the node.
    pub fn node_checks(&self, node: &str) -> (Vec<HealthCheck>, u64) {
        let checks = self
            .s
            .checks
            .get(fold(node).as_ref())
            .map(|m| m.values().map(|c| HealthCheck::clone(c)).collect())
            .unwrap_or_default();
        (checks, at_least_one(self.s.idx.checks))
    }

    /// One check on a node; index of the `checks` table.
    pub fn node_check(&self, node: &str, check_id: &str) -> (Option<HealthCheck>, u64) {
        let check = self
            .s
            .check(&fold(node), &fold(check_id))
            .map(|c| HealthCheck::clone(c));
        (check, at_least_one(self.s.idx.checks))
    }

    /// `GET /v1/health/checks/:service`: the checks of every instance of a service name.
    pub fn service_checks(&self, service: &str) -> (Vec<HealthCheck>, u64) {
        let key = fold(service);
        let checks = self
            .instances(&key)
            .flat_map(|(node_key, _, svc)| self.checks_on(node_key, Some(&svc.id)))
            .cloned()
            .collect();
        (checks, at_least_one(self.s.idx.checks))
    }

    /// `GET /v1/health/state/:state`: every check in `status`, or every check for `None`
    /// (`any`).
    pub fn checks_in_state(&self, status: Option<CheckStatus>) -> (Vec<HealthCheck>, u64) {
        let checks = self
            .s
            .checks
            .values()
            .flat_map(|m| m.values())
            .filter(|c| status.is_none_or(|s| c.status == s))
            .map(|c| HealthCheck::clone(c))
            .collect();
        (checks, at_least_one(self.s.idx.checks))
    }

    /// `GET /v1/health/service/:name`: each instance carrying every tag in `tags`, with its
    /// node and its node and service checks, kept according to `filter`.
    #[allow(clippy::needless_update)]
    pub fn service_health(
        &self,
        service: &str,
        tags: &[String],
        filter: HealthFilter,
    ) -> (Vec<ServiceEntry>, u64) {
        let key = fold(service);
        let entries = self
            .instances(&key)
            .filter(|(_, _, svc)| has_tags(svc, tags))
            .filter_map(|(node_key, node, svc)| {
                let checks: Vec<HealthCheck> = self
                    .checks_on(node_key, None)
                    .chain(self.checks_on(node_key, Some(&svc.id)))
                    .cloned()
                    .collect();
                filter.keeps(&checks).then(|| ServiceEntry {
                    node: Node::clone(node),
                    service: AgentService::clone(svc),
                    checks,
                    ..ServiceEntry::default()
                })
            })
            .collect();
        (entries, at_least_one(self.service_index(&key, true)))
    }
}
