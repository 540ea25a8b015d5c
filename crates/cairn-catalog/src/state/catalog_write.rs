//! Node, service and check writes, with Consul's index effects:
//! - a node write moves `nodes`, `node.<name>` and the index of every service on the node;
//! - a service write moves `services`, `service.<name>`, `nodes` and `node.<name>`;
//! - a check write moves `checks` and `service.<name>` (service check) or the index of every
//!   service on the node (node check); a critical check invalidates the sessions tied to it;
//! - removing the last instance of a service name drops `service.<name>` and moves the service
//!   extinction index; removing a node moves the node extinction index.
//!
//! Unchanged records are not rewritten, so repeated anti-entropy registrations do not move
//! indexes or wake watchers.

use super::{fold, fold_name, Name, Tx};
use crate::command::RegisterRequest;
use crate::error::{CatalogError, NameClash};
use crate::touched::Table;
use cairn_types::{AgentService, CheckStatus, HealthCheck, Node};
use std::sync::Arc;

/// The check Consul's agents use for gossip health; it decides whether a node name is taken.
pub(crate) const SERF_CHECK_ID: &str = "serfHealth";

fn same_node(a: &Node, b: &Node) -> bool {
    a.id == b.id
        && a.node == b.node
        && a.address == b.address
        && a.datacenter == b.datacenter
        && a.tagged_addresses == b.tagged_addresses
        && a.meta == b.meta
}

fn same_service(existing: &AgentService, new: &AgentService) -> bool {
    let mut probe = new.clone();
    probe.create_index = existing.create_index;
    probe.modify_index = existing.modify_index;
    *existing == probe
}

fn same_check(existing: &HealthCheck, new: &HealthCheck) -> bool {
    let mut probe = new.clone();
    probe.create_index = existing.create_index;
    probe.modify_index = existing.modify_index;
    *existing == probe
}

/// Consul's service pre-apply: the ID defaults to the name; an ID needs a name.
pub(crate) fn normalize_service(svc: &mut AgentService) -> Result<(), CatalogError> {
    if svc.id.is_empty() && !svc.service.is_empty() {
        svc.id = svc.service.clone();
    }
    if !svc.id.is_empty() && svc.service.is_empty() {
        return Err(CatalogError::MissingServiceName);
    }
    Ok(())
}

/// Consul's check pre-apply: the ID defaults to the name; maintenance is stored as critical.
pub(crate) fn normalize_check(check: &mut HealthCheck) {
    if check.check_id.is_empty() && !check.name.is_empty() {
        check.check_id = check.name.clone();
    }
    if check.status == CheckStatus::Maintenance {
        check.status = CheckStatus::Critical;
    }
}

impl Tx {
    /// Apply a catalog registration (Consul's `ensureRegistrationTxn` plus endpoint checks).
    pub fn register(&mut self, mut req: RegisterRequest) -> Result<(), CatalogError> {
        if req.node.node.is_empty() {
            return Err(CatalogError::MissingNodeName);
        }
        if req.node.address.is_empty() && !req.skip_node_update {
            return Err(CatalogError::MissingAddress);
        }
        if let Some(svc) = req.service.as_mut() {
            normalize_service(svc)?;
        }
        let node_key = fold_name(&req.node.node);
        let existing = self.s.nodes.get(&node_key).cloned();
        let changes_node = match &existing {
            None => true,
            Some(_) if req.skip_node_update => false,
            // Consul's `ChangesNode`: the name compares case-insensitively here.
            Some(n) => {
                n.id != req.node.id
                    || fold(&n.node) != fold(&req.node.node)
                    || n.address != req.node.address
                    || n.datacenter != req.node.datacenter
                    || n.tagged_addresses != req.node.tagged_addresses
                    || n.meta != req.node.meta
            }
        };
        if changes_node {
            self.ensure_node(req.node.clone())?;
        }
        if let Some(svc) = req.service.take() {
            if !svc.id.is_empty() {
                self.ensure_service(&req.node.node, svc)?;
            }
        }
        for mut check in std::mem::take(&mut req.checks) {
            if check.node.is_empty() {
                check.node = req.node.node.clone();
            }
            normalize_check(&mut check);
            if fold(&check.node) != fold(&req.node.node) {
                return Err(CatalogError::CheckNodeMismatch {
                    check_node: check.node,
                    node: req.node.node,
                });
            }
            let node = check.node.clone();
            self.ensure_check(check)
                .map_err(|e| CatalogError::CheckInsert {
                    node,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    /// Whether a node holding `name` would have to give it up for `node` (Consul's
    /// `ensureNoNodeWithSimilarNameTxn`): only a healthy node with another ID keeps its name.
    fn check_name_free(
        &self,
        node: &Node,
        allow_clash_without_id: bool,
    ) -> Result<(), CatalogError> {
        let key = fold(&node.node);
        let Some(holder) = self.s.nodes.get(key.as_ref()) else {
            return Ok(());
        };
        if holder.id == node.id {
            return Ok(());
        }
        let healthy = self
            .s
            .check(&key, &fold(SERF_CHECK_ID))
            .map(|c| c.status != CheckStatus::Critical)
            .unwrap_or(false);
        if healthy && !(holder.id.is_empty() && allow_clash_without_id) {
            return Err(CatalogError::NodeNameReserved(Box::new(NameClash {
                node_id: node.id.clone(),
                name: node.node.clone(),
                id: holder.id.clone(),
                existing: holder.node.clone(),
                address: holder.address.clone(),
            })));
        }
        Ok(())
    }

    /// Insert or update a node (Consul's `ensureNodeTxn`), including renames by node ID.
    pub fn ensure_node(&mut self, mut node: Node) -> Result<(), CatalogError> {
        if node.node.is_empty() {
            return Err(CatalogError::MissingNodeName);
        }
        let name = fold_name(&node.node);
        let mut existing: Option<Arc<Node>> = None;
        if !node.id.is_empty() {
            let owner = self.s.node_ids.get(fold(&node.id).as_ref()).cloned();
            match owner {
                Some(owner) => {
                    let prior = self.s.nodes.get(&owner).cloned();
                    if owner != name {
                        self.check_name_free(&node, false)?;
                        // A rename: the old name goes away with everything on it.
                        self.delete_node(&owner)?;
                    }
                    existing = prior;
                }
                None => self.check_name_free(&node, true)?,
            }
        }
        if existing.is_none() {
            existing = self.s.nodes.get(&name).cloned();
        }
        match &existing {
            Some(n) => {
                node.create_index = n.create_index;
                node.modify_index = n.modify_index;
                if same_node(n, &node) {
                    return Ok(());
                }
                node.modify_index = self.idx;
            }
            None => {
                node.create_index = self.idx;
                node.modify_index = self.idx;
            }
        }
        self.insert_node(name, node);
        Ok(())
    }

    fn insert_node(&mut self, name: Name, node: Node) {
        if let Some(old) = self.s.nodes.get(&name) {
            if !old.id.is_empty() && fold(&old.id) != fold(&node.id) {
                let old_id = fold_name(&old.id);
                self.s.node_ids.remove(&old_id);
            }
        }
        if !node.id.is_empty() {
            self.s.node_ids.insert(fold_name(&node.id), name.clone());
        }
        self.s.nodes.insert(name.clone(), Arc::new(node));
        self.bump_table(Table::Nodes);
        self.bump_node(&name);
        self.bump_services_of_node(&name);
    }

    /// Set a node only if its `ModifyIndex` equals `node.modify_index` (0: only if absent).
    pub fn ensure_node_cas(&mut self, node: Node) -> Result<bool, CatalogError> {
        let existing = self.s.nodes.get(fold(&node.node).as_ref());
        let ok = match existing {
            None => node.modify_index == 0,
            Some(e) => node.modify_index != 0 && node.modify_index == e.modify_index,
        };
        if !ok {
            return Ok(false);
        }
        self.ensure_node(node)?;
        Ok(true)
    }

    /// Insert or update a service instance on `node` (Consul's `ensureServiceTxn`).
    pub fn ensure_service(
        &mut self,
        node: &str,
        mut svc: AgentService,
    ) -> Result<(), CatalogError> {
        let node_key = fold_name(node);
        if !self.s.nodes.contains_key(&node_key) {
            return Err(CatalogError::MissingNode);
        }
        let id_key = fold_name(&svc.id);
        let existing = self.s.service(&node_key, &id_key).cloned();
        match &existing {
            Some(e) => {
                if same_service(e, &svc) {
                    return Ok(());
                }
                svc.create_index = e.create_index;
            }
            None => svc.create_index = self.idx,
        }
        svc.modify_index = self.idx;
        let name_key = fold_name(&svc.service);
        if let Some(e) = &existing {
            let old_name = fold_name(&e.service);
            if old_name != name_key {
                // Renamed in place: the old name loses an instance.
                self.unlink_instance(&old_name, (node_key.clone(), id_key.clone()));
            }
        }
        self.s
            .services
            .entry(node_key.clone())
            .or_default()
            .insert(id_key.clone(), Arc::new(svc));
        self.s
            .service_instances
            .entry(name_key.clone())
            .or_default()
            .insert((node_key.clone(), id_key));
        self.bump_table(Table::Services);
        self.bump_service(&name_key);
        self.bump_table(Table::Nodes);
        self.bump_node(&node_key);
        Ok(())
    }

    /// Drop one instance from a service name's set; the last one drops `service.<name>` and
    /// moves the extinction index.
    fn unlink_instance(&mut self, name: &Name, item: (Name, Name)) {
        let now_empty = match self.s.service_instances.get_mut(name) {
            Some(set) => {
                set.remove(&item);
                set.is_empty()
            }
            None => true,
        };
        if now_empty {
            self.s.service_instances.remove(name);
            self.s.idx.per_service.remove(name);
            self.s.idx.service_extinction = self.s.idx.service_extinction.max(self.idx);
            self.touched.services.insert(name.clone());
        } else {
            self.bump_service(name);
        }
    }

    /// Set a service only if its `ModifyIndex` equals `svc.modify_index` (0: only if absent).
    pub fn ensure_service_cas(
        &mut self,
        node: &str,
        svc: AgentService,
    ) -> Result<bool, CatalogError> {
        let existing = self.s.service(&fold(node), &fold(&svc.id));
        let ok = match existing {
            None => svc.modify_index == 0,
            Some(e) => svc.modify_index != 0 && svc.modify_index == e.modify_index,
        };
        if !ok {
            return Ok(false);
        }
        self.ensure_service(node, svc)?;
        Ok(true)
    }

    /// Insert or update a check (Consul's `ensureCheckTxn`).
    pub fn ensure_check(&mut self, mut hc: HealthCheck) -> Result<(), CatalogError> {
        normalize_check(&mut hc);
        let node_key = fold_name(&hc.node);
        let check_key = fold_name(&hc.check_id);
        let existing = self.s.check(&node_key, &check_key).cloned();
        match &existing {
            Some(e) => {
                hc.create_index = e.create_index;
                hc.modify_index = e.modify_index;
            }
            None => hc.create_index = self.idx,
        }
        if !self.s.nodes.contains_key(&node_key) {
            return Err(CatalogError::MissingNode);
        }
        let unchanged;
        if !hc.service_id.is_empty() {
            let svc = self
                .s
                .service(&node_key, &fold(&hc.service_id))
                .cloned()
                .ok_or(CatalogError::MissingService)?;
            hc.service_name = svc.service.clone();
            hc.service_tags = svc.tags.clone();
            unchanged = existing.as_ref().is_some_and(|e| same_check(e, &hc));
            if !unchanged {
                self.bump_service(&fold_name(&svc.service));
            }
        } else {
            unchanged = existing.as_ref().is_some_and(|e| same_check(e, &hc));
            if !unchanged {
                self.bump_services_of_node(&node_key);
            }
        }
        if hc.status == CheckStatus::Critical {
            self.invalidate_check_sessions(&node_key, &check_key)?;
        }
        if unchanged {
            return Ok(());
        }
        hc.modify_index = self.idx;
        self.s
            .checks
            .entry(node_key.clone())
            .or_default()
            .insert(check_key, Arc::new(hc));
        self.bump_table(Table::Checks);
        self.touched.nodes.insert(node_key);
        Ok(())
    }

    /// Set a check only if its `ModifyIndex` equals `hc.modify_index` (0: only if absent).
    pub fn ensure_check_cas(&mut self, hc: HealthCheck) -> Result<bool, CatalogError> {
        let existing = self.s.check(&fold(&hc.node), &fold(&hc.check_id));
        let ok = match existing {
            None => hc.modify_index == 0,
            Some(e) => hc.modify_index != 0 && hc.modify_index == e.modify_index,
        };
        if !ok {
            return Ok(false);
        }
        self.ensure_check(hc)?;
        Ok(true)
    }

    /// Change the status and output of a registered check.
    pub fn update_check(
        &mut self,
        node: &str,
        check_id: &str,
        status: CheckStatus,
        output: String,
    ) -> Result<(), CatalogError> {
        let Some(existing) = self.s.check(&fold(node), &fold(check_id)) else {
            return Err(CatalogError::MissingCheck(check_id.to_string()));
        };
        let mut hc = HealthCheck::clone(existing);
        hc.status = status;
        hc.output = output;
        self.ensure_check(hc)
    }

    /// Remove a check (Consul's `deleteCheckTxn`); sessions tied to it are invalidated.
    pub fn delete_check(&mut self, node: &str, check_id: &str) -> Result<(), CatalogError> {
        let node_key = fold_name(node);
        let check_key = fold_name(check_id);
        let Some(existing) = self.s.check(&node_key, &check_key).cloned() else {
            return Ok(());
        };
        if existing.service_id.is_empty() {
            self.bump_services_of_node(&node_key);
            self.bump_table(Table::Services);
        } else {
            self.bump_service(&fold_name(&existing.service_name));
        }
        if let Some(checks) = self.s.checks.get_mut(&node_key) {
            checks.remove(&check_key);
            if checks.is_empty() {
                self.s.checks.remove(&node_key);
            }
        }
        self.bump_table(Table::Checks);
        self.touched.nodes.insert(node_key.clone());
        self.invalidate_check_sessions(&node_key, &check_key)
    }

    /// Remove a check if its `ModifyIndex` equals `index`.
    pub fn delete_check_cas(
        &mut self,
        node: &str,
        check_id: &str,
        index: u64,
    ) -> Result<bool, CatalogError> {
        match self.s.check(&fold(node), &fold(check_id)) {
            Some(c) if c.modify_index == index => {}
            _ => return Ok(false),
        }
        self.delete_check(node, check_id)?;
        Ok(true)
    }

    /// Remove a service instance and its checks (Consul's `deleteServiceTxn`).
    pub fn delete_service(&mut self, node: &str, service_id: &str) -> Result<(), CatalogError> {
        let node_key = fold_name(node);
        let id_key = fold_name(service_id);
        let Some(existing) = self.s.service(&node_key, &id_key).cloned() else {
            return Ok(());
        };
        let service_checks: Vec<String> = self
            .s
            .checks
            .get(&node_key)
            .map(|checks| {
                checks
                    .values()
                    .filter(|c| !c.service_id.is_empty() && fold(&c.service_id) == *id_key)
                    .map(|c| c.check_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for check_id in service_checks {
            self.delete_check(node, &check_id)?;
        }
        self.bump_table(Table::Checks);
        if let Some(svcs) = self.s.services.get_mut(&node_key) {
            svcs.remove(&id_key);
            if svcs.is_empty() {
                self.s.services.remove(&node_key);
            }
        }
        self.bump_table(Table::Services);
        self.bump_table(Table::Nodes);
        self.bump_node(&node_key);
        self.unlink_instance(&fold_name(&existing.service), (node_key, id_key));
        Ok(())
    }

    /// Remove a service instance if its `ModifyIndex` equals `index`.
    pub fn delete_service_cas(
        &mut self,
        node: &str,
        service_id: &str,
        index: u64,
    ) -> Result<bool, CatalogError> {
        match self.s.service(&fold(node), &fold(service_id)) {
            Some(s) if s.modify_index == index => {}
            _ => return Ok(false),
        }
        self.delete_service(node, service_id)?;
        Ok(true)
    }

    /// Remove a node with its services, checks and sessions (Consul's `deleteNodeTxn`).
    pub fn delete_node(&mut self, node: &str) -> Result<(), CatalogError> {
        let node_key = fold_name(node);
        let Some(existing) = self.s.nodes.get(&node_key).cloned() else {
            return Ok(());
        };
        let service_ids: Vec<String> = self
            .s
            .services
            .get(&node_key)
            .map(|svcs| svcs.values().map(|s| s.id.clone()).collect())
            .unwrap_or_default();
        for id in service_ids {
            self.delete_service(&node_key, &id)?;
        }
        let check_ids: Vec<String> = self
            .s
            .checks
            .get(&node_key)
            .map(|checks| checks.values().map(|c| c.check_id.clone()).collect())
            .unwrap_or_default();
        for id in check_ids {
            self.delete_check(&node_key, &id)?;
        }
        self.delete_coordinates(&node_key);
        self.s.nodes.remove(&node_key);
        if !existing.id.is_empty() {
            let id_key = fold_name(&existing.id);
            if self.s.node_ids.get(&id_key) == Some(&node_key) {
                self.s.node_ids.remove(&id_key);
            }
        }
        self.bump_table(Table::Nodes);
        self.s.idx.per_node.remove(&node_key);
        self.s.idx.node_extinction = self.s.idx.node_extinction.max(self.idx);
        self.touched.nodes.insert(node_key.clone());
        let sessions: Vec<Name> = self
            .s
            .node_sessions
            .get(&node_key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        for id in sessions {
            self.destroy_session(&id)?;
        }
        Ok(())
    }

    /// Remove a node if its `ModifyIndex` equals `index`.
    pub fn delete_node_cas(&mut self, node: &str, index: u64) -> Result<bool, CatalogError> {
        match self.s.nodes.get(fold(node).as_ref()) {
            Some(n) if n.modify_index == index => {}
            _ => return Ok(false),
        }
        self.delete_node(node)?;
        Ok(true)
    }
}
