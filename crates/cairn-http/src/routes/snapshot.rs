//! `/v1/snapshot`: save the whole state (GET) and restore it (PUT), as Consul's endpoint does,
//! in Cairn's own snapshot file format.

use super::{exact, AppState};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;

const GET_PUT: &[Method] = &[Method::GET, Method::PUT];

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    exact(r, "/v1/snapshot", GET_PUT, snapshot)
}

async fn snapshot(st: AppState, call: Call) -> Result<Response, ApiError> {
    if call.method == Method::PUT {
        restore(st, call).await
    } else {
        save(st, call).await
    }
}

async fn save(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let (file, meta) = st.consensus.snapshot_save(opts).await?;
    let mut resp = Response::new(Body::from(file));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    respond::set_meta(&mut resp, &meta);
    Ok(resp)
}

async fn restore(st: AppState, call: Call) -> Result<Response, ApiError> {
    if call.body.is_empty() {
        return Err(ApiError::bad_request("Missing snapshot body"));
    }
    st.consensus
        .snapshot_restore(call.body.to_vec(), call.write_options(&st.config))
        .await?;
    Ok(respond::empty(StatusCode::OK))
}
