//! `/v1/health/*`: checks of nodes and services, service instances with their health, checks
//! by state.

use super::catalog::{tags, with_meta};
use super::{prefix, unexpected, AppState, GET};
use crate::call::Call;
use crate::error::ApiError;
use crate::filter;
use crate::respond;
use axum::response::Response;
use axum::Router;
use cairn_catalog::{HealthFilter, Query, QueryResult};
use cairn_types::{HealthCheck, QueryOptions};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = prefix(r, "/v1/health/node/", GET, node);
    let r = prefix(r, "/v1/health/checks/", GET, checks);
    let r = prefix(r, "/v1/health/state/", GET, state);
    prefix(r, "/v1/health/service/", GET, service)
}

async fn check_list(
    st: &AppState,
    call: &Call,
    query: Query,
    opts: QueryOptions,
) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let (result, meta) = st.read(query, opts).await?;
    let QueryResult::Checks(mut checks) = result else {
        return Err(unexpected(&result));
    };
    filter::apply::<HealthCheck>(filter.as_ref(), &mut checks);
    with_meta(call, &checks, &meta)
}

async fn node(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, true)?;
    let node = call.required_rest("Missing node name")?;
    check_list(&st, &call, Query::HealthNode { node }, opts).await
}

async fn checks(st: AppState, call: Call) -> Result<Response, ApiError> {
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let service = call.required_rest("Missing service name")?;
    check_list(&st, &call, Query::HealthChecks { service, node_meta }, opts).await
}

async fn state(st: AppState, call: Call) -> Result<Response, ApiError> {
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let state = call.required_rest("Missing check state")?;
    let state = (state != "any").then_some(state);
    check_list(&st, &call, Query::HealthState { state, node_meta }, opts).await
}

async fn service(st: AppState, call: Call) -> Result<Response, ApiError> {
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let name = call.required_rest("Missing service name")?;
    let passing = call
        .params
        .bool_flag("passing")
        .map_err(|_| ApiError::bad_request("Invalid value for ?passing"))?;
    let filter = call.filter()?;
    let query = Query::HealthService {
        name,
        tags: tags(&call),
        filter: if passing {
            HealthFilter::PassingOnly
        } else {
            HealthFilter::All
        },
        node_meta,
    };
    let (result, meta) = st.read(query, opts).await?;
    let QueryResult::ServiceEntries(mut entries) = result else {
        return Err(unexpected(&result));
    };
    filter::apply(filter.as_ref(), &mut entries);
    let mut resp = respond::json(&entries, call.pretty)?;
    respond::set_meta(&mut resp, &meta);
    Ok(resp)
}
