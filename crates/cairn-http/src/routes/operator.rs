//! `/v1/operator/raft/*`: raft configuration, peer removal, leadership transfer.

use super::{exact, AppState, DELETE, GET, POST};
use crate::backend::RaftPeer;
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use serde::Serialize;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/operator/raft/configuration", GET, configuration);
    let r = exact(r, "/v1/operator/raft/peer", DELETE, remove_peer);
    exact(
        r,
        "/v1/operator/raft/transfer-leader",
        POST,
        transfer_leader,
    )
}

async fn configuration(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let conf = st.consensus.raft_configuration(opts).await?;
    respond::json(&conf, call.pretty)
}

async fn remove_peer(st: AppState, call: Call) -> Result<Response, ApiError> {
    let peer = if call.params.has("id") {
        RaftPeer::Id(call.params.get("id").to_string())
    } else if call.params.has("address") {
        RaftPeer::Address(call.params.get("address").to_string())
    } else {
        return Err(ApiError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        ));
    };
    st.consensus
        .remove_raft_peer(peer, call.write_options(&st.config))
        .await?;
    Ok(respond::empty(StatusCode::OK))
}

#[derive(Serialize)]
struct TransferResult {
    #[serde(rename = "Success")]
    success: bool,
}

async fn transfer_leader(st: AppState, call: Call) -> Result<Response, ApiError> {
    let id = Some(call.params.get("id").to_string()).filter(|s| !s.is_empty());
    let success = st
        .consensus
        .transfer_leader(id, call.write_options(&st.config))
        .await?;
    respond::json(&TransferResult { success }, call.pretty)
}
