//! Local services: list, read (hash-blocking), register, deregister, maintenance.

use super::agent::enable_param;
use super::{exact, prefix, AppState, GET, PUT};
use crate::backend::ServiceRegisterOptions;
use crate::call::Call;
use crate::error::ApiError;
use crate::params;
use crate::respond;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use cairn_types::{AgentService, AgentServiceRegistration};
use serde::Serialize;
use std::time::Duration;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/agent/services", GET, services);
    let r = exact(r, "/v1/agent/service/register", PUT, register);
    let r = prefix(r, "/v1/agent/service/deregister/", PUT, deregister);
    let r = prefix(r, "/v1/agent/service/maintenance/", PUT, maintenance);
    prefix(r, "/v1/agent/service/", GET, service)
}

async fn services(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let mut services = st.agent.services().await?;
    if let Some(f) = filter {
        f.retain_values(&mut services);
    }
    respond::json(&services, call.pretty)
}

/// A service with its `ContentHash`, as `/v1/agent/service/:id` answers.
#[derive(Serialize)]
struct WithHash<'a> {
    #[serde(flatten)]
    service: &'a AgentService,
    #[serde(rename = "ContentHash")]
    content_hash: String,
}

/// 64-bit FNV-1a over the service's JSON, in hex: stable for equal services.
fn content_hash(svc: &AgentService) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(svc).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{h:x}"))
}

async fn service(st: AppState, call: Call) -> Result<Response, ApiError> {
    // Only `wait` and `index` are parsed here, as Consul's parseWait.
    let wait = match call.params.get("wait") {
        "" => None,
        w => Some(
            cairn_types::GoDuration::parse(w)
                .map_err(|_| ApiError::bad_request("Invalid wait time"))?
                .0,
        ),
    };
    if !call.params.get("index").is_empty() {
        params::parse_go_uint(call.params.get("index"))
            .map_err(|_| ApiError::bad_request("Invalid index"))?;
    }
    let id = call.rest.clone();
    let hash = call.params.get("hash").to_string();
    let timeout = match wait {
        Some(w) if !w.is_zero() => w.min(st.config.max_query_time),
        _ => st.config.default_query_time,
    };
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        let services = st.agent.services().await?;
        let Some(svc) = services.get(&id) else {
            return Err(ApiError::not_found(format!("unknown service ID: {id}")));
        };
        let current = content_hash(svc)?;
        let now = tokio::time::Instant::now();
        if hash.is_empty() || current != hash || now >= deadline {
            let mut resp = respond::json(
                &WithHash {
                    service: svc,
                    content_hash: current.clone(),
                },
                call.pretty,
            )?;
            if let Ok(v) = HeaderValue::from_str(&current) {
                resp.headers_mut().insert("X-Consul-ContentHash", v);
            }
            return Ok(resp);
        }
        let left = deadline.saturating_duration_since(now);
        tokio::select! {
            changed = st.agent.local_change(left.max(Duration::from_millis(1))) => changed?,
            // Shutting down: answer with the current service now.
            _ = st.stopping() => deadline = now,
        }
    }
}

fn is_any_address(addr: &str) -> bool {
    matches!(addr, "0.0.0.0" | "::" | "[::]")
}

async fn register(st: AppState, call: Call) -> Result<Response, ApiError> {
    let reg: AgentServiceRegistration = call.decode()?;
    if reg.name.is_empty() {
        return Err(ApiError::bad_request("Missing service name"));
    }
    if is_any_address(&reg.address) {
        return Err(ApiError::bad_request("Invalid service address"));
    }
    let checks = reg
        .check_types()
        .map_err(|e| ApiError::bad_request(format!("Invalid check: {e}")))?;
    if checks.iter().any(|c| c.initial_status().is_err()) {
        return Err(ApiError::bad_request(
            "Status for checks must 'passing', 'warning', 'critical'",
        ));
    }
    let replace = call.params.has("replace-existing-checks")
        && matches!(call.params.get("replace-existing-checks"), "" | "true");
    let opts = ServiceRegisterOptions {
        replace_existing_checks: replace,
        token: call.token(),
    };
    st.agent.register_service(reg, opts).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn deregister(st: AppState, call: Call) -> Result<Response, ApiError> {
    st.agent.deregister_service(call.rest.clone()).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn maintenance(st: AppState, call: Call) -> Result<Response, ApiError> {
    let id = call.required_rest("Missing service ID")?;
    let enable = enable_param(&call)?;
    let reason = call.params.get("reason").to_string();
    // Consul answers every failure here with 404 and the error's text.
    st.agent
        .service_maintenance(id, enable, reason, call.token())
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    Ok(respond::empty(StatusCode::OK))
}
