//! `/v1/event/fire/:name` and `/v1/event/list` (agent-local until gossip carries events).

use super::{exact, new_uuid, prefix, AppState, GET, PUT};
use crate::backend::UserEvent;
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::response::Response;
use axum::Router;
use regex::Regex;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = prefix(r, "/v1/event/fire/", PUT, fire);
    exact(r, "/v1/event/list", GET, list)
}

/// The filters must be valid regular expressions, and a tag filter needs a service filter
/// (Consul's `validateUserEventParams`).
fn validate(e: &UserEvent) -> Result<(), ApiError> {
    if e.name.is_empty() {
        return Err(ApiError::internal("User event missing name"));
    }
    if !e.tag_filter.is_empty() && e.service_filter.is_empty() {
        return Err(ApiError::internal(
            "Cannot provide tag filter without service filter",
        ));
    }
    for (what, re) in [
        ("node", &e.node_filter),
        ("service", &e.service_filter),
        ("tag", &e.tag_filter),
    ] {
        if !re.is_empty() {
            Regex::new(re)
                .map_err(|err| ApiError::internal(format!("Invalid {what} filter: {err}")))?;
        }
    }
    Ok(())
}

async fn fire(st: AppState, call: Call) -> Result<Response, ApiError> {
    let name = call.required_rest("Missing name")?;
    let event = UserEvent {
        id: new_uuid(),
        name,
        payload: call.body.to_vec(),
        node_filter: call.params.get("node").to_string(),
        service_filter: call.params.get("service").to_string(),
        tag_filter: call.params.get("tag").to_string(),
        version: 1,
        ltime: 0,
    };
    validate(&event)?;
    let fired = st.agent.fire_event(event).await?;
    respond::json(&fired, call.pretty)
}

async fn list(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let wait = opts.max_query_time.unwrap_or(st.config.default_query_time);
    let mut events = tokio::select! {
        events = st.agent.events(opts.min_query_index, wait) => events?,
        _ = st.stopping(), if opts.min_query_index > 0 => {
            st.agent.events(0, std::time::Duration::ZERO).await?
        }
    };
    let name = call.params.get("name");
    if !name.is_empty() {
        events.retain(|e| e.name == name);
    }
    let index = events.last().map_or(0, UserEvent::index);
    let mut resp = respond::json(&events, call.pretty)?;
    respond::set_index(&mut resp, index);
    Ok(resp)
}
