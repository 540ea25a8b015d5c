//! `/v1/coordinate/*`: network coordinates.

use super::catalog::with_meta;
use super::{exact, prefix, unexpected, AppState, GET, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::filter;
use crate::respond;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use cairn_catalog::{Command, NodeCoordinate, Query, QueryResult};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/coordinate/datacenters", GET, datacenters);
    let r = exact(r, "/v1/coordinate/nodes", GET, nodes);
    let r = prefix(r, "/v1/coordinate/node/", GET, node);
    exact(r, "/v1/coordinate/update", PUT, update)
}

async fn datacenters(st: AppState, call: Call) -> Result<Response, ApiError> {
    let dcs = st.consensus.datacenter_coordinates().await?;
    respond::json(&dcs, call.pretty)
}

async fn nodes(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let opts = call.query_options(&st.config, false)?;
    let (result, meta) = st.read(Query::Coordinates, opts).await?;
    let QueryResult::Coordinates(mut coords) = result else {
        return Err(unexpected(&result));
    };
    filter::apply(filter.as_ref(), &mut coords);
    with_meta(&call, &coords, &meta)
}

async fn node(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let node = call.required_rest("Missing node name")?;
    let (result, meta) = st.read(Query::NodeCoordinates { node }, opts).await?;
    let QueryResult::Coordinates(coords) = result else {
        return Err(unexpected(&result));
    };
    if coords.is_empty() {
        let mut resp = respond::empty(StatusCode::NOT_FOUND);
        respond::set_meta(&mut resp, &meta);
        return Ok(resp);
    }
    with_meta(&call, &coords, &meta)
}

async fn update(st: AppState, call: Call) -> Result<Response, ApiError> {
    let coord: NodeCoordinate = call.decode()?;
    st.apply(
        Command::CoordinateBatchUpdate {
            updates: vec![coord],
        },
        call.write_options(&st.config),
    )
    .await?;
    Ok(respond::empty(StatusCode::OK))
}
