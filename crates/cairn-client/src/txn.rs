//! Transactions (`PUT /v1/txn`).

use crate::client::{Client, Method, Request};
use crate::error::Result;
use cairn_types::{QueryMeta, TxnOp, TxnResponse};

/// The outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOutcome {
    /// Whether it committed (HTTP 200) or was rolled back (HTTP 409, `response.errors` says why).
    pub committed: bool,
    /// Results or errors.
    pub response: TxnResponse,
    /// Query metadata (meaningful for read-only transactions).
    pub meta: QueryMeta,
}

impl Client {
    /// Run a transaction. A rollback is not an error: see [`TxnOutcome::committed`].
    pub async fn txn(&self, ops: &[TxnOp]) -> Result<TxnOutcome> {
        let req = Request::new(Method::Put, "/v1/txn").json(ops)?;
        let resp = self.send(req).await?;
        let committed = match resp.status {
            200 => true,
            409 => false,
            _ => return Err(resp.into_error()),
        };
        let response: TxnResponse = resp.decode()?;
        Ok(TxnOutcome {
            committed,
            response,
            meta: resp.meta,
        })
    }
}
