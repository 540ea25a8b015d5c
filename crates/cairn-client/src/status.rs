//! Status (`/v1/status`), events (`/v1/event`), operator (`/v1/operator/raft`) and coordinates
//! (`/v1/coordinate`): small endpoint families grouped in one place.

use crate::client::{escape_segment, Client, Method, Request};
use crate::error::Result;
use crate::types::{
    CoordinateDatacenterMap, CoordinateEntry, EventFire, RaftConfiguration, TransferLeaderResponse,
    UserEvent,
};
use cairn_types::{QueryMeta, QueryOptions};

impl Client {
    /// The Raft leader's address (`ip:port`), empty when there is none.
    pub async fn status_leader(&self) -> Result<String> {
        Ok(self
            .get_json(Request::new(Method::Get, "/v1/status/leader"))
            .await?
            .0)
    }

    /// The Raft peers' addresses.
    pub async fn status_peers(&self) -> Result<Vec<String>> {
        Ok(self
            .get_json(Request::new(Method::Get, "/v1/status/peers"))
            .await?
            .0)
    }

    /// Save a snapshot of the whole state (`GET /v1/snapshot`): the snapshot file and the
    /// index it was taken at.
    pub async fn snapshot_save(&self, opts: &QueryOptions) -> Result<(Vec<u8>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/snapshot").query(opts);
        let resp = self.send_ok(req).await?;
        Ok((resp.body, resp.meta))
    }

    /// Restore a snapshot file into the cluster (`PUT /v1/snapshot`).
    pub async fn snapshot_restore(&self, file: Vec<u8>) -> Result<()> {
        let req = Request::new(Method::Put, "/v1/snapshot").body(file, "application/octet-stream");
        self.send_ok(req).await?;
        Ok(())
    }

    /// Fire a user event.
    pub async fn event_fire(&self, event: &EventFire) -> Result<UserEvent> {
        let path = format!("/v1/event/fire/{}", escape_segment(&event.name));
        let req = Request::new(Method::Put, path)
            .param_nonempty("node", &event.node_filter)
            .param_nonempty("service", &event.service_filter)
            .param_nonempty("tag", &event.tag_filter)
            .body(event.payload.clone(), "application/octet-stream");
        Ok(self.get_json(req).await?.0)
    }

    /// The most recent events the agent knows, optionally only those named `name`. The index
    /// is agent-local (see [`crate::event_id_to_index`]).
    pub async fn event_list(
        &self,
        name: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<UserEvent>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/event/list")
            .param_nonempty("name", name)
            .query(opts);
        self.get_json(req).await
    }

    /// The Raft configuration.
    pub async fn raft_configuration(&self, opts: &QueryOptions) -> Result<RaftConfiguration> {
        let req = Request::new(Method::Get, "/v1/operator/raft/configuration").query(opts);
        Ok(self.get_json(req).await?.0)
    }

    /// Remove a Raft peer by its address (`ip:port`).
    pub async fn raft_remove_peer_by_address(&self, address: &str) -> Result<()> {
        let req = Request::new(Method::Delete, "/v1/operator/raft/peer").param("address", address);
        self.send_ok(req).await?;
        Ok(())
    }

    /// Remove a Raft peer by its server ID.
    pub async fn raft_remove_peer_by_id(&self, id: &str) -> Result<()> {
        let req = Request::new(Method::Delete, "/v1/operator/raft/peer").param("id", id);
        self.send_ok(req).await?;
        Ok(())
    }

    /// Ask the leader to hand leadership over (to server `id`, or to any if empty).
    pub async fn raft_transfer_leader(&self, id: &str) -> Result<TransferLeaderResponse> {
        let req = Request::new(Method::Post, "/v1/operator/raft/transfer-leader")
            .param_nonempty("id", id);
        Ok(self.get_json(req).await?.0)
    }

    /// WAN coordinates of every datacenter's servers.
    pub async fn coordinate_datacenters(&self) -> Result<Vec<CoordinateDatacenterMap>> {
        Ok(self
            .get_json(Request::new(Method::Get, "/v1/coordinate/datacenters"))
            .await?
            .0)
    }

    /// LAN coordinates of every node.
    pub async fn coordinate_nodes(
        &self,
        opts: &QueryOptions,
    ) -> Result<(Vec<CoordinateEntry>, QueryMeta)> {
        let req = Request::new(Method::Get, "/v1/coordinate/nodes").query(opts);
        self.get_json(req).await
    }

    /// LAN coordinates of one node (one entry per segment).
    pub async fn coordinate_node(
        &self,
        node: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<CoordinateEntry>, QueryMeta)> {
        let req = Request::new(
            Method::Get,
            format!("/v1/coordinate/node/{}", escape_segment(node)),
        )
        .query(opts);
        let (entries, meta) = self.get_json_opt::<Vec<CoordinateEntry>>(req).await?;
        Ok((entries.unwrap_or_default(), meta))
    }
}
