//! Health (`/v1/health`).

use crate::client::{escape_segment, Client, Method, Request};
use crate::error::Result;
use cairn_types::{HealthCheck, QueryMeta, QueryOptions, ServiceEntry};

/// Health endpoints; get one with [`Client::health`].
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    client: &'a Client,
}

impl Client {
    /// Health endpoints.
    pub fn health(&self) -> Health<'_> {
        Health { client: self }
    }
}

impl Health<'_> {
    /// Checks of one node.
    pub async fn node(
        &self,
        node: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/health/node/{}", escape_segment(node)),
        )
        .query(opts);
        self.client.get_json(req).await
    }

    /// Checks of one service.
    pub async fn checks(
        &self,
        service: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/health/checks/{}", escape_segment(service)),
        )
        .query(opts);
        self.client.get_json(req).await
    }

    /// Instances of a service with node and checks; `passing` keeps only instances whose checks
    /// all pass; every tag in `tags` must be present.
    pub async fn service(
        &self,
        service: &str,
        tags: &[String],
        passing: bool,
        opts: &QueryOptions,
    ) -> Result<(Vec<ServiceEntry>, QueryMeta)> {
        let mut req = Request::new(
            Method::Get,
            format!("/v1/health/service/{}", escape_segment(service)),
        );
        for tag in tags {
            req = req.param("tag", tag);
        }
        let req = req.flag_if("passing", passing).query(opts);
        self.client.get_json(req).await
    }

    /// Checks in a state: `any`, `passing`, `warning` or `critical`.
    pub async fn state(
        &self,
        state: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/health/state/{}", escape_segment(state)),
        )
        .query(opts);
        self.client.get_json(req).await
    }
}
