//! The local agent (`/v1/agent`).

use crate::client::{escape_segment, Client, Method, Request};
use crate::error::{Error, Result};
use cairn_types::{
    AgentCheckRegistration, AgentService, AgentServiceRegistration, CheckStatus, HealthCheck,
    Member,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Agent endpoints; get one with [`Client::agent`].
#[derive(Debug, Clone, Copy)]
pub struct Agent<'a> {
    client: &'a Client,
}

impl Client {
    /// Agent endpoints.
    pub fn agent(&self) -> Agent<'_> {
        Agent { client: self }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CheckUpdate<'a> {
    status: &'a str,
    output: &'a str,
}

impl Agent<'_> {
    /// `GET /v1/agent/self`: `Config`, `DebugConfig`, `Coord`, `Member`, `Meta`, `Stats`. Its shape
    /// is loose and version-dependent, so it is returned as JSON.
    pub async fn self_info(&self) -> Result<serde_json::Value> {
        let req = Request::new(Method::Get, "/v1/agent/self");
        let resp = self.client.send_ok(req).await?;
        serde_json::from_slice(&resp.body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The agent's node name (`Config.NodeName` of `/v1/agent/self`).
    pub async fn node_name(&self) -> Result<String> {
        let info = self.self_info().await?;
        info.pointer("/Config/NodeName")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::Decode("agent self has no Config.NodeName".into()))
    }

    /// Gossip members seen by the agent, LAN or (`wan`) WAN pool.
    pub async fn members(&self, wan: bool) -> Result<Vec<Member>> {
        let req = Request::new(Method::Get, "/v1/agent/members").flag_if("wan", wan);
        Ok(self.client.get_json(req).await?.0)
    }

    /// Services registered on this agent, by ID.
    pub async fn services(&self) -> Result<BTreeMap<String, AgentService>> {
        let req = Request::new(Method::Get, "/v1/agent/services");
        Ok(self.client.get_json(req).await?.0)
    }

    /// One local service; `None` when unknown.
    pub async fn service(&self, id: &str) -> Result<Option<AgentService>> {
        let req = Request::new(
            Method::Get,
            format!("/v1/agent/service/{}", escape_segment(id)),
        );
        Ok(self.client.get_json_opt(req).await?.0)
    }

    /// Checks registered on this agent, by ID.
    pub async fn checks(&self) -> Result<BTreeMap<String, HealthCheck>> {
        let req = Request::new(Method::Get, "/v1/agent/checks");
        Ok(self.client.get_json(req).await?.0)
    }

    /// Register a local service (and its checks).
    pub async fn service_register(&self, service: &AgentServiceRegistration) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/agent/service/register").json(service)?;
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Deregister a local service and its checks.
    pub async fn service_deregister(&self, id: &str) -> Result<()> {
        let path = format!("/v1/agent/service/deregister/{}", escape_segment(id));
        self.client.send_ok(Request::new(Method::Put, path)).await?;
        Ok(())
    }

    /// Register a local check.
    pub async fn check_register(&self, check: &AgentCheckRegistration) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/agent/check/register").json(check)?;
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Deregister a local check.
    pub async fn check_deregister(&self, id: &str) -> Result<()> {
        let path = format!("/v1/agent/check/deregister/{}", escape_segment(id));
        self.client.send_ok(Request::new(Method::Put, path)).await?;
        Ok(())
    }

    async fn ttl_verb(&self, verb: &str, id: &str, note: &str) -> Result<()> {
        let path = format!("/v1/agent/check/{verb}/{}", escape_segment(id));
        let req = Request::new(Method::Put, path).param_nonempty("note", note);
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Set a TTL check to passing, with `note` as its output.
    pub async fn check_pass(&self, id: &str, note: &str) -> Result<()> {
        self.ttl_verb("pass", id, note).await
    }

    /// Set a TTL check to warning.
    pub async fn check_warn(&self, id: &str, note: &str) -> Result<()> {
        self.ttl_verb("warn", id, note).await
    }

    /// Set a TTL check to critical.
    pub async fn check_fail(&self, id: &str, note: &str) -> Result<()> {
        self.ttl_verb("fail", id, note).await
    }

    /// Set a TTL check's status and output.
    pub async fn check_update(&self, id: &str, status: CheckStatus, output: &str) -> Result<()> {
        let path = format!("/v1/agent/check/update/{}", escape_segment(id));
        let body = CheckUpdate {
            status: status.as_str(),
            output,
        };
        let req = Request::new(Method::Put, path).json(&body)?;
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Put the node in maintenance (`reason` becomes the check's notes).
    pub async fn enable_node_maintenance(&self, reason: &str) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/agent/maintenance")
            .param("enable", "true")
            .param_nonempty("reason", reason);
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Take the node out of maintenance.
    pub async fn disable_node_maintenance(&self) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/agent/maintenance").param("enable", "false");
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Put a local service in maintenance.
    pub async fn enable_service_maintenance(&self, id: &str, reason: &str) -> Result<()> {
        let path = format!("/v1/agent/service/maintenance/{}", escape_segment(id));
        let req = Request::new(Method::Put, path)
            .param("enable", "true")
            .param_nonempty("reason", reason);
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Take a local service out of maintenance.
    pub async fn disable_service_maintenance(&self, id: &str) -> Result<()> {
        let path = format!("/v1/agent/service/maintenance/{}", escape_segment(id));
        let req = Request::new(Method::Put, path).param("enable", "false");
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Reload configuration files.
    pub async fn reload(&self) -> Result<()> {
        self.client
            .send_ok(Request::new(Method::Put, "/v1/agent/reload"))
            .await?;
        Ok(())
    }

    /// Leave the cluster gracefully and shut the agent down.
    pub async fn leave(&self) -> Result<()> {
        self.client
            .send_ok(Request::new(Method::Put, "/v1/agent/leave"))
            .await?;
        Ok(())
    }

    /// Force a member into the `left` state; `prune` removes it from the member list, `wan`
    /// acts on the WAN pool.
    pub async fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<()> {
        let path = format!("/v1/agent/force-leave/{}", escape_segment(node));
        let req = Request::new(Method::Put, path)
            .flag_if("prune", prune)
            .flag_if("wan", wan);
        self.client.send_ok(req).await?;
        Ok(())
    }

    /// Join the gossip pool through `address` (LAN, or WAN with `wan`).
    pub async fn join(&self, address: &str, wan: bool) -> Result<()> {
        let path = format!("/v1/agent/join/{}", escape_segment(address));
        let req = Request::new(Method::Put, path).flag_if("wan", wan);
        self.client.send_ok(req).await?;
        Ok(())
    }
}
