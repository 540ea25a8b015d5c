//! `/v1/session/*`: create, destroy, renew and read sessions.

use super::{exact, new_uuid, now_ms, prefix, unexpected, AppState, GET, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::response::Response;
use axum::Router;
use cairn_catalog::{ApplyResult, Command, Query, QueryResult};
use cairn_types::{QueryOptions, SessionRequest};
use serde::Serialize;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/session/create", PUT, create);
    let r = prefix(r, "/v1/session/destroy/", PUT, destroy);
    let r = prefix(r, "/v1/session/renew/", PUT, renew);
    let r = prefix(r, "/v1/session/info/", GET, info);
    let r = prefix(r, "/v1/session/node/", GET, node);
    exact(r, "/v1/session/list", GET, list)
}

#[derive(Serialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

async fn create(st: AppState, call: Call) -> Result<Response, ApiError> {
    // The body is optional; everything defaults to the agent's node, serfHealth, release.
    let req: SessionRequest = if call.body.iter().all(u8::is_ascii_whitespace) {
        SessionRequest::default()
    } else {
        call.decode()?
    };
    // Consul validates these in the Session.Apply RPC, so they are 500s; clients match the
    // `Invalid Session TTL` prefix.
    let mut session = req
        .to_session(&st.config.node_name)
        .map_err(ApiError::internal)?;
    req.validated_ttl(st.config.session_ttl_min)
        .map_err(ApiError::internal)?;
    session.id = new_uuid();
    match st
        .apply(
            Command::SessionCreate { session },
            call.write_options(&st.config),
        )
        .await?
    {
        ApplyResult::SessionId(id) => respond::json(&Created { id }, call.pretty),
        other => Err(unexpected(&other)),
    }
}

async fn destroy(st: AppState, call: Call) -> Result<Response, ApiError> {
    let id = call.required_rest("Missing session")?;
    st.apply(
        Command::SessionDestroy {
            id,
            now_ms: now_ms(),
        },
        call.write_options(&st.config),
    )
    .await?;
    respond::json(&true, call.pretty)
}

async fn renew(st: AppState, call: Call) -> Result<Response, ApiError> {
    call.query_options(&st.config, false)?;
    let id = call.required_rest("Missing session")?;
    match st
        .consensus
        .renew_session(id.clone(), call.write_options(&st.config))
        .await?
    {
        Some(session) => respond::json(&[session], call.pretty),
        None => Err(ApiError::not_found(format!("Session id '{id}' not found"))),
    }
}

async fn sessions(
    st: &AppState,
    call: &Call,
    query: Query,
    opts: QueryOptions,
) -> Result<Response, ApiError> {
    let (result, meta) = st.read(query, opts).await?;
    let list = match result {
        QueryResult::Session(s) => s.into_iter().collect(),
        QueryResult::Sessions(s) => s,
        other => return Err(unexpected(&other)),
    };
    let mut resp = respond::json(&list, call.pretty)?;
    respond::set_meta(&mut resp, &meta);
    Ok(resp)
}

async fn info(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let id = call.required_rest("Missing session")?;
    sessions(&st, &call, Query::SessionInfo { id }, opts).await
}

async fn node(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    let node = call.required_rest("Missing node name")?;
    sessions(&st, &call, Query::SessionNode { node }, opts).await
}

async fn list(st: AppState, call: Call) -> Result<Response, ApiError> {
    let opts = call.query_options(&st.config, false)?;
    sessions(&st, &call, Query::SessionList, opts).await
}
