//! Catalog (`/v1/catalog`).

use crate::client::{escape_segment, Client, Method, Request};
use crate::error::Result;
use cairn_types::{CatalogDeregistration, CatalogRegistration, CatalogService, Node, NodeServices};
use cairn_types::{QueryMeta, QueryOptions};
use std::collections::BTreeMap;

/// Catalog endpoints; get one with [`Client::catalog`].
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    client: &'a Client,
}

/// Node metadata filter: `?node-meta=k:v` per pair, all must match.
pub type NodeMeta = BTreeMap<String, String>;

impl Client {
    /// Catalog endpoints.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog { client: self }
    }
}

impl Catalog<'_> {
    /// Known datacenters, nearest first.
    pub async fn datacenters(&self) -> Result<Vec<String>> {
        let req = Request::new(Method::Get, "/v1/catalog/datacenters");
        Ok(self.client.get_json(req).await?.0)
    }

    /// Nodes, optionally filtered by metadata.
    pub async fn nodes(
        &self,
        node_meta: &NodeMeta,
        opts: &QueryOptions,
    ) -> Result<(Vec<Node>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/catalog/nodes")
            .node_meta(node_meta)
            .query(opts);
        self.client.get_json(req).await
    }

    /// Service names with the union of their tags.
    pub async fn services(
        &self,
        node_meta: &NodeMeta,
        opts: &QueryOptions,
    ) -> Result<(BTreeMap<String, Vec<String>>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/catalog/services")
            .node_meta(node_meta)
            .query(opts);
        self.client.get_json(req).await
    }

    /// Instances of a service carrying every tag in `tags`.
    pub async fn service(
        &self,
        name: &str,
        tags: &[String],
        node_meta: &NodeMeta,
        opts: &QueryOptions,
    ) -> Result<(Vec<CatalogService>, QueryMeta)> {
        let mut req = Request::new(
            Method::Get,
            format!("/v1/catalog/service/{}", escape_segment(name)),
        );
        for tag in tags {
            req = req.param("tag", tag);
        }
        self.client
            .get_json(req.node_meta(node_meta).query(opts))
            .await
    }

    /// One node with its services; `None` when the node is unknown.
    pub async fn node(
        &self,
        node: &str,
        opts: &QueryOptions,
    ) -> Result<(Option<NodeServices>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/catalog/node/{}", escape_segment(node)),
        )
        .query(opts);
        let (found, meta) = self.client.get_json_opt::<NodeServices>(req).await?;
        // Consul answers an unknown node with `null`.
        Ok((found.filter(|n| n.node.is_some()), meta))
    }

    /// Register a node (and optionally a service and checks) directly in the catalog.
    pub async fn register(&self, registration: &CatalogRegistration) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/catalog/register").json(registration)?;
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Remove a node, service or check from the catalog.
    pub async fn deregister(&self, deregistration: &CatalogDeregistration) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/catalog/deregister").json(deregistration)?;
        self.client.send_ok(req).await?;
        Ok(())
    }
}
