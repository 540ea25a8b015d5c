//! One API call as handlers see it: method, decoded path remainder, Go-style query
//! parameters, headers and the whole body.

use crate::backend::WriteOptions;
use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::filter::Filter;
use crate::params::{self, Params};
use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use cairn_types::QueryOptions;
use serde::de::DeserializeOwned;

/// A request after routing.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    /// The percent-decoded part of the path after the route's prefix (`/v1/kv/` → the key).
    pub rest: String,
    pub params: Params,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `Content-Length` as sent, if any.
    pub content_length: Option<u64>,
    /// The body was over the server's read limit and was not read (`body` is empty).
    pub oversized: bool,
    /// Indent JSON answers (`?pretty`, or a dev agent).
    pub pretty: bool,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ACL token of the call.
    pub fn token(&self) -> String {
        params::token(
            &self.params,
            self.header("X-Consul-Token"),
            self.header("Authorization"),
        )
    }

    /// Options of a read (Consul's `parse`): 400s for bad `wait`, `index`, `max_stale`, or
    /// `?stale&consistent`.
    pub fn query_options(
        &self,
        cfg: &HttpConfig,
        discovery: bool,
    ) -> Result<QueryOptions, ApiError> {
        params::query_options(&self.params, self.token(), cfg, discovery)
    }

    /// Options of a write: datacenter and token.
    pub fn write_options(&self, cfg: &HttpConfig) -> WriteOptions {
        WriteOptions {
            datacenter: params::datacenter(&self.params, cfg),
            token: self.token(),
        }
    }

    /// The compiled `?filter`, if any.
    pub fn filter(&self) -> Result<Option<Filter>, ApiError> {
        params::filter(&self.params)
    }

    /// Decode the JSON body leniently (case-insensitive keys, Go durations); 400
    /// `Request decode failed: …` otherwise. An empty body is Go's `EOF`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("Request decode failed: EOF"));
        }
        cairn_types::lenient::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))
    }

    /// The path remainder, or 400 with `missing` when it is empty.
    pub fn required_rest(&self, missing: &str) -> Result<String, ApiError> {
        if self.rest.is_empty() {
            Err(ApiError::bad_request(missing))
        } else {
            Ok(self.rest.clone())
        }
    }
}
