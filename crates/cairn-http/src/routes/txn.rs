//! `PUT /v1/txn`: atomic multi-operation transactions (Consul's `txn_endpoint.go`).

use super::{exact, now_ms, unexpected, AppState, PUT};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use cairn_catalog::{is_read_only_op, ApplyResult, Command, TxnOutcome, MAX_TXN_OPS};
use cairn_types::{TxnOp, TxnResponse};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    exact(r, "/v1/txn", PUT, txn)
}

fn too_large(limit: u64) -> ApiError {
    ApiError::with_status(
        413,
        format!("Request body too large, max size: {limit} bytes"),
    )
}

/// Decode and check the operations as Consul's `convertOps` does.
fn convert_ops(st: &AppState, call: &Call) -> Result<Vec<TxnOp>, ApiError> {
    let limit = st.config.txn_limit();
    if call.oversized
        || call.content_length.is_some_and(|n| n > limit)
        || call.body.len() as u64 > limit
    {
        return Err(too_large(limit));
    }
    let mut ops: Vec<TxnOp> = if call.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Failed to parse body: EOF"));
    } else {
        cairn_types::lenient::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("Failed to parse body: {e}")))?
    };
    if ops.len() > MAX_TXN_OPS {
        return Err(ApiError::with_status(
            413,
            format!(
                "Transaction contains too many operations ({} > {MAX_TXN_OPS})",
                ops.len()
            ),
        ));
    }
    let max_value = st.config.kv_max_value_size;
    for op in &mut ops {
        if let Some(kv) = &op.kv {
            if kv.value.len() as u64 > max_value {
                return Err(ApiError::with_status(
                    413,
                    format!(
                        "Value for key {:?} is too large ({} > {max_value} bytes)",
                        kv.key,
                        kv.value.len()
                    ),
                ));
            }
        }
        if let Some(node) = &mut op.node {
            if node.node.datacenter.is_empty() {
                node.node.datacenter.clone_from(&st.config.datacenter);
            }
        }
    }
    Ok(ops)
}

fn answer(call: &Call, outcome: TxnOutcome) -> Result<Response, ApiError> {
    match outcome {
        TxnOutcome::Committed(results) => respond::json(
            &TxnResponse {
                results,
                errors: Vec::new(),
            },
            call.pretty,
        ),
        TxnOutcome::RolledBack(errors) => respond::json_status(
            StatusCode::CONFLICT,
            &TxnResponse {
                results: Vec::new(),
                errors,
            },
            call.pretty,
        ),
    }
}

async fn txn(st: AppState, call: Call) -> Result<Response, ApiError> {
    let ops = convert_ops(&st, &call)?;
    if ops.iter().all(is_read_only_op) {
        // Read-only transactions skip raft and honour the consistency mode, without blocking.
        let opts = call.query_options(&st.config, false)?;
        let (outcome, meta) = st.consensus.read_txn(ops, opts).await?;
        let mut resp = answer(&call, outcome)?;
        let ms = u64::try_from(meta.last_contact.as_millis()).unwrap_or(u64::MAX);
        let h = resp.headers_mut();
        h.insert("X-Consul-LastContact", HeaderValue::from(ms));
        h.insert(
            "X-Consul-KnownLeader",
            HeaderValue::from_static(if meta.known_leader { "true" } else { "false" }),
        );
        return Ok(resp);
    }
    match st
        .apply(
            Command::Txn {
                ops,
                now_ms: now_ms(),
            },
            call.write_options(&st.config),
        )
        .await?
    {
        ApplyResult::Txn(outcome) => answer(&call, outcome),
        other => Err(unexpected(&other)),
    }
}
