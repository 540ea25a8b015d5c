//! Agent control: self, members, join, leave, force-leave, reload, node maintenance.

use super::{exact, prefix, AppState, GET, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::filter;
use crate::params::parse_go_bool;
use crate::respond;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/agent/self", GET, self_info);
    let r = exact(r, "/v1/agent/members", GET, members);
    let r = prefix(r, "/v1/agent/join/", PUT, join);
    let r = exact(r, "/v1/agent/leave", PUT, leave);
    let r = prefix(r, "/v1/agent/force-leave/", PUT, force_leave);
    let r = exact(r, "/v1/agent/reload", PUT, reload);
    exact(r, "/v1/agent/maintenance", PUT, maintenance)
}

async fn self_info(st: AppState, call: Call) -> Result<Response, ApiError> {
    let info = st.agent.self_info().await?;
    respond::json(&info, call.pretty)
}

async fn members(st: AppState, call: Call) -> Result<Response, ApiError> {
    let wan = !call.params.get("wan").is_empty();
    let segment = call.params.get("segment").to_string();
    if wan && !segment.is_empty() && segment != "_all" {
        return Err(ApiError::bad_request(
            "Cannot provide a segment with wan=true",
        ));
    }
    let filter = call.filter()?;
    let segment = if segment == "_all" {
        String::new()
    } else {
        segment
    };
    let mut members = st.agent.members(wan, segment).await?;
    filter::apply(filter.as_ref(), &mut members);
    respond::json(&members, call.pretty)
}

async fn join(st: AppState, call: Call) -> Result<Response, ApiError> {
    let wan = !call.params.get("wan").is_empty();
    st.agent.join(call.rest.clone(), wan).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn leave(st: AppState, _call: Call) -> Result<Response, ApiError> {
    st.agent.leave().await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn force_leave(st: AppState, call: Call) -> Result<Response, ApiError> {
    let prune = call.params.has("prune");
    let wan = call.params.has("wan");
    st.agent.force_leave(call.rest.clone(), prune, wan).await?;
    Ok(respond::empty(StatusCode::OK))
}

async fn reload(st: AppState, _call: Call) -> Result<Response, ApiError> {
    st.agent.reload().await?;
    Ok(respond::empty(StatusCode::OK))
}

/// `?enable` (required, Go `ParseBool`) and `?reason`.
pub(crate) fn enable_param(call: &Call) -> Result<bool, ApiError> {
    if !call.params.has("enable") {
        return Err(ApiError::bad_request("Missing value for enable"));
    }
    let raw = call.params.get("enable");
    parse_go_bool(raw)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid value for enable: {raw:?}")))
}

async fn maintenance(st: AppState, call: Call) -> Result<Response, ApiError> {
    let enable = enable_param(&call)?;
    let reason = call.params.get("reason").to_string();
    st.agent
        .node_maintenance(enable, reason, call.token())
        .await?;
    Ok(respond::empty(StatusCode::OK))
}
