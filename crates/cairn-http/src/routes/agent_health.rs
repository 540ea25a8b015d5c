//! `/v1/agent/health/service/id/:id` and `/name/:name`: aggregated local health with
//! 200 (passing), 429 (warning), 503 (critical or maintenance), 404 (unknown).

use super::{prefix, AppState, GET};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use cairn_types::{AgentService, CheckStatus, HealthCheck};
use serde::Serialize;
use std::collections::BTreeMap;

/// Consul's node maintenance check ID.
const NODE_MAINT: &str = "_node_maintenance";
/// Prefix of Consul's service maintenance check IDs.
const SERVICE_MAINT_PREFIX: &str = "_service_maintenance:";

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = prefix(r, "/v1/agent/health/service/id/", GET, by_id);
    prefix(r, "/v1/agent/health/service/name/", GET, by_name)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceChecksInfo<'a> {
    aggregated_status: &'static str,
    service: Option<&'a AgentService>,
    checks: Option<Vec<HealthCheck>>,
}

/// Consul's `HealthChecks.AggregatedStatus`: maintenance beats critical beats warning beats
/// passing; no checks is passing.
fn aggregated(checks: &[HealthCheck]) -> &'static str {
    let mut maintenance = false;
    let mut worst = CheckStatus::Passing;
    for c in checks {
        if c.check_id == NODE_MAINT || c.check_id.starts_with(SERVICE_MAINT_PREFIX) {
            maintenance = true;
            continue;
        }
        worst = worst.max(c.status);
    }
    if maintenance {
        "maintenance"
    } else {
        worst.as_str()
    }
}

fn code(status: &str) -> StatusCode {
    match status {
        "passing" => StatusCode::OK,
        "warning" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The service's checks plus the node's checks, as Consul's `ChecksForService(id, true)`.
fn checks_for(all: &BTreeMap<String, HealthCheck>, service_id: &str) -> Vec<HealthCheck> {
    all.values()
        .filter(|c| c.service_id.is_empty() || c.service_id == service_id)
        .cloned()
        .collect()
}

/// `format=text` or `Accept: text/plain…` asks for the bare status word.
fn wants_text(call: &Call) -> bool {
    let accept = call
        .headers
        .get("Accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.starts_with("text/plain") {
        return true;
    }
    call.params.get("format") == "text"
}

async fn by_id(st: AppState, call: Call) -> Result<Response, ApiError> {
    let id = call.required_rest("Missing serviceID")?;
    let services = st.agent.services().await?;
    let Some(service) = services.get(&id) else {
        let reason = format!("ServiceId {id} not found");
        if wants_text(&call) {
            return Ok(respond::text(StatusCode::NOT_FOUND, reason));
        }
        let body = ServiceChecksInfo {
            aggregated_status: "critical",
            service: None,
            checks: None,
        };
        return respond::json_status(StatusCode::NOT_FOUND, &body, call.pretty);
    };
    let checks = checks_for(&st.agent.checks().await?, &id);
    let status = aggregated(&checks);
    if wants_text(&call) {
        return Ok(respond::text(code(status), status));
    }
    let body = ServiceChecksInfo {
        aggregated_status: status,
        service: Some(service),
        checks: Some(checks),
    };
    respond::json_status(code(status), &body, call.pretty)
}

async fn by_name(st: AppState, call: Call) -> Result<Response, ApiError> {
    let name = call.required_rest("Missing service Name")?;
    let services = st.agent.services().await?;
    let all_checks = st.agent.checks().await?;
    let mut code_now = StatusCode::NOT_FOUND;
    let mut status_now = format!("ServiceName {name} Not Found");
    let mut result = Vec::new();
    for svc in services.values().filter(|s| s.service == name) {
        let checks = checks_for(&all_checks, &svc.id);
        let status = aggregated(&checks);
        let c = code(status);
        // Worst wins: 200 < 429 < 503; the first instance replaces "not found".
        if code_now == StatusCode::NOT_FOUND || code_now.as_u16() < c.as_u16() {
            code_now = c;
            status_now = status.to_string();
        }
        result.push(ServiceChecksInfo {
            aggregated_status: status,
            service: Some(svc),
            checks: Some(checks),
        });
    }
    if wants_text(&call) {
        return Ok(respond::text(code_now, status_now));
    }
    respond::json_status(code_now, &result, call.pretty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, status: CheckStatus) -> HealthCheck {
        HealthCheck {
            check_id: id.into(),
            status,
            ..HealthCheck::default()
        }
    }

    #[test]
    fn aggregation_order() {
        assert_eq!(aggregated(&[]), "passing");
        assert_eq!(
            aggregated(&[
                check("a", CheckStatus::Passing),
                check("b", CheckStatus::Warning)
            ]),
            "warning"
        );
        assert_eq!(
            aggregated(&[
                check("a", CheckStatus::Critical),
                check("b", CheckStatus::Warning)
            ]),
            "critical"
        );
        assert_eq!(
            aggregated(&[
                check("_service_maintenance:web", CheckStatus::Critical),
                check("b", CheckStatus::Passing)
            ]),
            "maintenance"
        );
        assert_eq!(code("maintenance"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code("warning"), StatusCode::TOO_MANY_REQUESTS);
    }
}
