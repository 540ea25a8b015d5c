//! `/v1/catalog/*`: register, deregister and read nodes and services.

use super::{exact, now_ms, prefix, unexpected, AppState, GET, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::filter;
use crate::respond;
use axum::response::Response;
use axum::Router;
use cairn_catalog::{Command, Query, QueryResult, RegisterRequest};
use cairn_types::{CatalogDeregistration, CatalogRegistration, QueryMeta};
use serde::Serialize;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/catalog/register", PUT, register);
    let r = exact(r, "/v1/catalog/deregister", PUT, deregister);
    let r = exact(r, "/v1/catalog/datacenters", GET, datacenters);
    let r = exact(r, "/v1/catalog/nodes", GET, nodes);
    let r = exact(r, "/v1/catalog/services", GET, services);
    let r = prefix(r, "/v1/catalog/service/", GET, service);
    let r = prefix(r, "/v1/catalog/node/", GET, node);
    prefix(r, "/v1/catalog/node-services/", GET, node_services)
}

/// A JSON answer with the query headers.
pub(crate) fn with_meta<T: Serialize + ?Sized>(
    call: &Call,
    value: &T,
    meta: &QueryMeta,
) -> Result<Response, ApiError> {
    let mut resp = respond::json(value, call.pretty)?;
    respond::set_meta(&mut resp, meta);
    Ok(resp)
}

/// `?tag=` values (repeat = AND), or none.
pub(crate) fn tags(call: &Call) -> Vec<String> {
    call.params.all("tag")
}

async fn register(st: AppState, call: Call) -> Result<Response, ApiError> {
    let mut reg: CatalogRegistration = call.decode()?;
    if reg.datacenter.is_empty() {
        reg.datacenter.clone_from(&st.config.datacenter);
    }
    let cmd = Command::Register(Box::new(RegisterRequest::from_registration(reg, now_ms())));
    st.apply(cmd, call.write_options(&st.config)).await?;
    respond::json(&true, call.pretty)
}

async fn deregister(st: AppState, call: Call) -> Result<Response, ApiError> {
    let d: CatalogDeregistration = call.decode()?;
    if d.node.is_empty() {
        return Err(ApiError::internal("Must provide node"));
    }
    st.apply(
        Command::deregister(&d, now_ms()),
        call.write_options(&st.config),
    )
    .await?;
    respond::json(&true, call.pretty)
}

async fn datacenters(st: AppState, call: Call) -> Result<Response, ApiError> {
    let dcs = st.consensus.datacenters().await?;
    respond::json(&dcs, call.pretty)
}

async fn nodes(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let (result, meta) = st.read(Query::CatalogNodes { node_meta }, opts).await?;
    let QueryResult::Nodes(mut nodes) = result else {
        return Err(unexpected(&result));
    };
    filter::apply(filter.as_ref(), &mut nodes);
    with_meta(&call, &nodes, &meta)
}

async fn services(st: AppState, call: Call) -> Result<Response, ApiError> {
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let (result, meta) = st.read(Query::CatalogServices { node_meta }, opts).await?;
    let QueryResult::Services(services) = result else {
        return Err(unexpected(&result));
    };
    with_meta(&call, &services, &meta)
}

async fn service(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let node_meta = call.params.node_meta();
    let opts = call.query_options(&st.config, true)?;
    let name = call.required_rest("Missing service name")?;
    let query = Query::CatalogService {
        name,
        tags: tags(&call),
        node_meta,
    };
    let (result, meta) = st.read(query, opts).await?;
    let QueryResult::ServiceNodes(mut nodes) = result else {
        return Err(unexpected(&result));
    };
    filter::apply(filter.as_ref(), &mut nodes);
    with_meta(&call, &nodes, &meta)
}

async fn node(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let opts = call.query_options(&st.config, true)?;
    let node = call.required_rest("Missing node name")?;
    let (result, meta) = st.read(Query::NodeServices { node }, opts).await?;
    let QueryResult::NodeServices(mut found) = result else {
        return Err(unexpected(&result));
    };
    // The filter applies to the services, the map's values.
    if let (Some(f), Some(ns)) = (filter.as_ref(), found.as_mut()) {
        f.retain_values(&mut ns.services);
    }
    // An unknown node answers `null`, as Consul's nil pointer marshals.
    with_meta(&call, &found, &meta)
}

async fn node_services(st: AppState, call: Call) -> Result<Response, ApiError> {
    let filter = call.filter()?;
    let opts = call.query_options(&st.config, true)?;
    let node = call.required_rest("Missing node name")?;
    let (result, meta) = st.read(Query::NodeServiceList { node }, opts).await?;
    let QueryResult::NodeServiceList(mut list) = result else {
        return Err(unexpected(&result));
    };
    if let (Some(f), Some(services)) = (filter.as_ref(), list.services.as_mut()) {
        f.retain(services);
    }
    with_meta(&call, &list, &meta)
}
