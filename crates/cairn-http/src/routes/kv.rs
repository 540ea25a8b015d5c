//! `/v1/kv/`: read, list, write, lock and delete keys (Consul's `kvs_endpoint.go`).

use super::{now_ms, prefix, unexpected, AppState, GET_PUT_DELETE};
use crate::call::Call;
use crate::error::ApiError;
use crate::params::parse_go_uint;
use crate::respond;
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use cairn_catalog::{Command, Query, QueryResult};
use cairn_types::KvEntry;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    prefix(r, "/v1/kv/", GET_PUT_DELETE, kv)
}

async fn kv(st: AppState, call: Call) -> Result<Response, ApiError> {
    // Consul parses the shared read options for every method, so their 400s come first.
    let opts = call.query_options(&st.config, false)?;
    match call.method {
        Method::GET if call.params.has("keys") => get_keys(st, call, opts).await,
        Method::GET => get(st, call, opts).await,
        Method::PUT => put(st, call).await,
        _ => delete(st, call).await,
    }
}

/// 400 `Conflicting flags: <sorted query>` when more than one of `flags` is present. The
/// trailing newline is Consul's.
fn conflicting(call: &Call, flags: &[&str]) -> Result<(), ApiError> {
    if flags.iter().filter(|f| call.params.has(f)).count() > 1 {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}\n",
            call.params.encode()
        )));
    }
    Ok(())
}

async fn get(
    st: AppState,
    call: Call,
    opts: cairn_types::QueryOptions,
) -> Result<Response, ApiError> {
    let recurse = call.params.has("recurse");
    if !recurse && call.rest.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let query = if recurse {
        Query::KvList {
            prefix: call.rest.clone(),
        }
    } else {
        Query::KvGet {
            key: call.rest.clone(),
        }
    };
    let (result, meta) = st.read(query, opts).await?;
    let entries: Vec<KvEntry> = match result {
        QueryResult::KvEntry(e) => e.into_iter().collect(),
        QueryResult::KvEntries(e) => e,
        other => return Err(unexpected(&other)),
    };
    let mut resp = if entries.is_empty() {
        respond::empty(StatusCode::NOT_FOUND)
    } else if !recurse && call.params.has("raw") {
        raw(entries
            .into_iter()
            .next()
            .map(|e| e.value)
            .unwrap_or_default())
    } else {
        respond::json(&entries, call.pretty)?
    };
    respond::set_meta(&mut resp, &meta);
    Ok(resp)
}

/// The raw value with the headers that stop browsers from running it (CVE-2020-25864).
fn raw(value: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(value));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    resp
}

async fn get_keys(
    st: AppState,
    call: Call,
    opts: cairn_types::QueryOptions,
) -> Result<Response, ApiError> {
    // Both spellings, the correct one winning (Consul kept the historic misspelling).
    let mut separator = String::new();
    if call.params.has("seperator") {
        separator = call.params.get("seperator").to_string();
    }
    if call.params.has("separator") {
        separator = call.params.get("separator").to_string();
    }
    let query = Query::KvKeys {
        prefix: call.rest.clone(),
        separator,
    };
    let (result, meta) = st.read(query, opts).await?;
    let QueryResult::Keys(keys) = result else {
        return Err(unexpected(&result));
    };
    // An empty non-root prefix is "not found"; the root answers `[]`.
    let mut resp = if keys.is_empty() && !call.rest.is_empty() {
        respond::empty(StatusCode::NOT_FOUND)
    } else {
        respond::json(&keys, call.pretty)?
    };
    respond::set_meta(&mut resp, &meta);
    Ok(resp)
}

/// Go returns `strconv.ParseUint` errors as plain errors: HTTP 500 with their text.
fn uint_param(call: &Call, name: &str) -> Result<Option<u64>, ApiError> {
    if !call.params.has(name) {
        return Ok(None);
    }
    parse_go_uint(call.params.get(name))
        .map(Some)
        .map_err(ApiError::internal)
}

async fn put(st: AppState, call: Call) -> Result<Response, ApiError> {
    if call.rest.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    conflicting(&call, &["cas", "acquire", "release"])?;
    let flags = uint_param(&call, "flags")?.unwrap_or(0);
    let cas = uint_param(&call, "cas")?;
    let limit = st.config.kv_max_value_size;
    let read = if call.oversized {
        st.config.body_limit() as u64 + 1
    } else {
        call.body.len() as u64
    };
    let size = call.content_length.unwrap_or(read);
    if call.oversized || size > limit || read > limit {
        return Err(ApiError::with_status(
            413,
            format!(
                "Request body({size} bytes) too large, max size: {limit} bytes. See \
                 https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
            ),
        ));
    }
    let key = call.rest.clone();
    let value = call.body.to_vec();
    let (cmd, always_true) = if let Some(index) = cas {
        (
            Command::KvCas {
                key,
                value,
                flags,
                index,
            },
            false,
        )
    } else if call.params.has("acquire") {
        (
            Command::KvAcquire {
                key,
                value,
                flags,
                session: call.params.get("acquire").to_string(),
                now_ms: now_ms(),
            },
            false,
        )
    } else if call.params.has("release") {
        (
            Command::KvRelease {
                key,
                value,
                flags,
                session: call.params.get("release").to_string(),
            },
            false,
        )
    } else {
        (Command::KvSet { key, value, flags }, true)
    };
    let ok = st.apply_bool(cmd, call.write_options(&st.config)).await?;
    // A plain set always answers `true`, as Consul does.
    respond::json(&(ok || always_true), call.pretty)
}

async fn delete(st: AppState, call: Call) -> Result<Response, ApiError> {
    conflicting(&call, &["recurse", "cas"])?;
    let recurse = call.params.has("recurse");
    if !recurse && call.rest.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let key = call.rest.clone();
    let (cmd, cas) = match uint_param(&call, "cas")? {
        Some(index) => (Command::KvDeleteCas { key, index }, true),
        None if recurse => (Command::KvDeleteTree { prefix: key }, false),
        None => (Command::KvDelete { key }, false),
    };
    let ok = st.apply_bool(cmd, call.write_options(&st.config)).await?;
    respond::json(&(ok || !cas), call.pretty)
}
