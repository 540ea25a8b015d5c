//! Local checks: list, register, deregister, TTL updates.

use super::{exact, prefix, AppState, GET, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use cairn_types::{AgentCheckRegistration, CheckStatus};
use serde::Deserialize;

/// Longest TTL-check output kept (Consul's `CheckBufSize`).
const CHECK_BUF_SIZE: usize = 4 * 1024;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/agent/checks", GET, checks);
    let r = exact(r, "/v1/agent/check/register", PUT, register);
    let r = prefix(r, "/v1/agent/check/deregister/", PUT, deregister);
    let r = prefix(r, "/v1/agent/check/pass/", PUT, pass);
    let r = prefix(r, "/v1/agent/check/warn/", PUT, warn);
    let r = prefix(r, "/v1/agent/check/fail/", PUT, fail);
    prefix(r, "/v1/agent/check/update/", PUT, update)
}

async fn checks(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let mut checks = st.agent.checks().await?;
    if let Some(f) = filter {
        f.retain_values(&mut checks);
    }
    respond::json(&checks, call.pretty)
}

async fn register(st: AppState, call: Call) -> Result<Response, ApiError> {
    let check: AgentCheckRegistration = call.decode()?;
    if check.name.is_empty() {
        return Err(ApiError::bad_request("Missing check name"));
    }
    if !check.status.is_empty() && check.initial_status().is_err() {
        return Err(ApiError::bad_request("Bad check status"));
    }
    check
        .validate()
        .map_err(|e| ApiError::bad_request(format!("Invalid check: {e}")))?;
    if !check.service_id.is_empty() {
        let services = st.agent.services().await?;
        if !services.contains_key(&check.service_id) {
            return Err(ApiError::not_found(format!(
                "ServiceID {:?} does not exist",
                check.service_id
            )));
        }
    }
    st.agent.register_check(check, call.token()).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn deregister(st: AppState, call: Call) -> Result<Response, ApiError> {
    st.agent.deregister_check(call.rest.clone()).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn set_status(
    st: &AppState,
    call: &Call,
    status: CheckStatus,
    output: String,
) -> Result<Response, ApiError> {
    st.agent
        .update_ttl_check(call.rest.clone(), status, output)
        .await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn pass(st: AppState, call: Call) -> Result<Response, ApiError> {
    let note = call.params.get("note").to_string();
    set_status(&st, &call, CheckStatus::Passing, note).await
}

async fn warn(st: AppState, call: Call) -> Result<Response, ApiError> {
    let note = call.params.get("note").to_string();
    set_status(&st, &call, CheckStatus::Warning, note).await
}

async fn fail(st: AppState, call: Call) -> Result<Response, ApiError> {
    let note = call.params.get("note").to_string();
    set_status(&st, &call, CheckStatus::Critical, note).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CheckUpdate {
    status: String,
    output: String,
}

/// Cut output longer than Consul keeps, saying how much was captured.
fn truncate_output(output: String) -> String {
    if output.len() <= CHECK_BUF_SIZE {
        return output;
    }
    let mut cut = CHECK_BUF_SIZE;
    while !output.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} ... (captured {CHECK_BUF_SIZE} of {} bytes)",
        &output[..cut],
        output.len()
    )
}

async fn update(st: AppState, call: Call) -> Result<Response, ApiError> {
    let body: CheckUpdate = call.decode()?;
    let status = match body.status.as_str() {
        "passing" => CheckStatus::Passing,
        "warning" => CheckStatus::Warning,
        "critical" => CheckStatus::Critical,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid check status: '{other}'"
            )))
        }
    };
    set_status(&st, &call, status, truncate_output(body.output)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_cut_like_consul() {
        let out = truncate_output("x".repeat(5000));
        assert!(out.ends_with(" ... (captured 4096 of 5000 bytes)"));
        assert_eq!(out.len(), 4096 + " ... (captured 4096 of 5000 bytes)".len());
        assert_eq!(truncate_output("ok".into()), "ok");
        // Never splits a character.
        let out = truncate_output("é".repeat(3000));
        assert!(out.starts_with('é'));
    }
}
