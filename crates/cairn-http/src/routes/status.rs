//! `/v1/status/leader` and `/v1/status/peers`.

use super::{exact, AppState, GET};
use crate::call::Call;
use crate::error::ApiError;
use crate::params;
use crate::respond;
use axum::response::Response;
use axum::Router;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/status/leader", GET, leader);
    exact(r, "/v1/status/peers", GET, peers)
}

async fn leader(st: AppState, call: Call) -> Result<Response, ApiError> {
    let dc = params::datacenter(&call.params, &st.config);
    let leader = st.consensus.leader(dc).await?;
    respond::json(&leader, call.pretty)
}

async fn peers(st: AppState, call: Call) -> Result<Response, ApiError> {
    let dc = params::datacenter(&call.params, &st.config);
    let peers = st.consensus.peers(dc).await?;
    respond::json(&peers, call.pretty)
}
