//! Transactions: Consul's KV, node, service and check verbs, all-or-nothing.
//!
//! As in Consul, every operation runs (later ones see the effects of earlier ones) and every
//! failure is reported with its operation index; if any failed, nothing is kept.

use crate::error::CatalogError;
use crate::state::catalog_write::{normalize_check, normalize_service};
use crate::state::{fold, Tx};
use cairn_types::txn::{CheckTxnOp, KvTxnOp, NodeTxnOp, ServiceTxnOp};
use cairn_types::{KvEntry, Node, TxnError, TxnOp, TxnResult};
use std::sync::Arc;

/// The most operations one transaction may carry (Consul ≥ 1.14).
pub const MAX_TXN_OPS: usize = 128;

const KV_READ_VERBS: [&str; 6] = [
    "get",
    "get-or-empty",
    "get-tree",
    "check-index",
    "check-session",
    "check-not-exists",
];

/// Whether an operation only reads (such transactions may skip raft, as Consul's do).
pub fn is_read_only_op(op: &TxnOp) -> bool {
    if let Some(kv) = &op.kv {
        KV_READ_VERBS.contains(&kv.verb.as_str())
    } else if let Some(n) = &op.node {
        n.verb == "get"
    } else if let Some(s) = &op.service {
        s.verb == "get"
    } else if let Some(c) = &op.check {
        c.verb == "get"
    } else {
        true
    }
}

fn blank_value(e: &KvEntry) -> TxnResult {
    let mut clone = e.clone();
    clone.value = Vec::new();
    TxnResult::Kv(clone)
}

impl Tx {
    /// Run `ops` in order. `Err` carries every failure; the caller then discards this `Tx`.
    // Struct updates stay in case cairn-types grows fields.
    #[allow(clippy::needless_update)]
    pub fn txn(&mut self, ops: Vec<TxnOp>) -> Result<Vec<TxnResult>, Vec<TxnError>> {
        let errors = self.txn_pre_check(&ops);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut results = Vec::with_capacity(ops.len());
        let mut errors = Vec::new();
        for (op_index, op) in ops.into_iter().enumerate() {
            let outcome = if let Some(kv) = op.kv {
                self.txn_kv(kv)
            } else if let Some(node) = op.node {
                self.txn_node(node)
            } else if let Some(svc) = op.service {
                self.txn_service(svc)
            } else if let Some(check) = op.check {
                self.txn_check(check)
            } else {
                Err("no operation specified".to_string())
            };
            match outcome {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError {
                    op_index,
                    what,
                    ..TxnError::default()
                }),
            }
        }
        if errors.is_empty() {
            Ok(results)
        } else {
            Err(errors)
        }
    }

    /// Consul's pre-raft checks (`Txn.preCheck`): keys present, lock-delays, service and node
    /// names. If any fails, only these errors are reported and no operation runs.
    #[allow(clippy::needless_update)]
    fn txn_pre_check(&mut self, ops: &[TxnOp]) -> Vec<TxnError> {
        let mut errors = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            let what = if let Some(kv) = &op.kv {
                if kv.key.is_empty() && kv.verb != "delete-tree" {
                    Some(CatalogError::MissingKey.to_string())
                } else if kv.verb == "lock" && self.kv_lock_delayed(&kv.key) {
                    Some(format!("failed to lock key {:?} due to lock delay", kv.key))
                } else {
                    None
                }
            } else if let Some(svc) = op.service.as_ref().filter(|s| s.verb != "get") {
                normalize_service(&mut svc.service.clone())
                    .err()
                    .map(|e| e.to_string())
            } else if let Some(node) = op.node.as_ref().filter(|n| n.verb != "get") {
                node.node
                    .node
                    .is_empty()
                    .then(|| CatalogError::MissingNodeName.to_string())
            } else {
                None
            };
            if let Some(what) = what {
                errors.push(TxnError {
                    op_index,
                    what,
                    ..TxnError::default()
                });
            }
        }
        errors
    }

    fn txn_kv(&mut self, op: KvTxnOp) -> Result<Vec<TxnResult>, String> {
        let KvTxnOp {
            verb,
            key,
            value,
            flags,
            index,
            session,
            ..
        } = op;
        let one = |e: &KvEntry| Ok(vec![blank_value(e)]);
        match verb.as_str() {
            "set" => one(&self.kv_set(key, value, flags)),
            "cas" => match self.kv_cas(key.clone(), value, flags, index) {
                Some(e) => one(&e),
                None => Err(format!("failed to set key {key:?}, index is stale")),
            },
            "lock" => match self.kv_lock(key.clone(), value, flags, session) {
                Ok(Some(e)) => one(&e),
                Ok(None) => Err(format!("failed to lock key {key:?}, lock is already held")),
                Err(e) => Err(e.to_string()),
            },
            "unlock" => match self.kv_unlock(key.clone(), value, flags, session) {
                Ok(Some(e)) => one(&e),
                Ok(None) => Err(format!(
                    "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                )),
                Err(e) => Err(e.to_string()),
            },
            "get" => match self.s.kv.get(key.as_str()) {
                Some(e) => Ok(vec![TxnResult::Kv(KvEntry::clone(e))]),
                None => Err(format!("key {key:?} doesn't exist")),
            },
            "get-or-empty" => Ok(vec![TxnResult::Kv(match self.s.kv.get(key.as_str()) {
                Some(e) => KvEntry::clone(e),
                None => KvEntry {
                    key,
                    flags,
                    session,
                    modify_index: index,
                    ..KvEntry::default()
                },
            })]),
            "get-tree" => Ok(self
                .s
                .kv_under(&key)
                .map(|e| TxnResult::Kv(KvEntry::clone(e)))
                .collect()),
            "check-index" => match self.s.kv.get(key.as_str()) {
                None => Err(format!("failed to check index, key {key:?} doesn't exist")),
                Some(e) if e.modify_index != index => Err(format!(
                    "failed index check for key {key:?}, current modify index {} != {index}",
                    e.modify_index
                )),
                Some(e) => one(&Arc::clone(e)),
            },
            "check-session" => match self.s.kv.get(key.as_str()) {
                None => Err(format!(
                    "failed to check session, key {key:?} doesn't exist"
                )),
                Some(e) if e.session != session => Err(format!(
                    "failed session check for key {key:?}, current session {:?} != {session:?}",
                    e.session
                )),
                Some(e) => one(&Arc::clone(e)),
            },
            "check-not-exists" => match self.s.kv.get(key.as_str()) {
                Some(_) => Err(format!("key {key:?} exists")),
                None => Ok(Vec::new()),
            },
            "delete" => {
                self.kv_delete(&key);
                Ok(Vec::new())
            }
            "delete-tree" => {
                self.kv_delete_tree(&key);
                Ok(Vec::new())
            }
            "delete-cas" => {
                if self.kv_delete_cas(&key, index) {
                    Ok(Vec::new())
                } else {
                    Err(format!("failed to delete key {key:?}, index is stale"))
                }
            }
            other => Err(format!("unknown KV verb {other:?}")),
        }
    }

    fn txn_get_node(&self, node: &Node) -> Option<Node> {
        let name = if node.id.is_empty() {
            fold(&node.node).into_owned()
        } else {
            self.s.node_ids.get(fold(&node.id).as_ref())?.to_string()
        };
        self.s.nodes.get(name.as_str()).map(|n| Node::clone(n))
    }

    fn txn_node(&mut self, op: NodeTxnOp) -> Result<Vec<TxnResult>, String> {
        let NodeTxnOp { verb, node, .. } = op;
        let name = node.node.clone();
        let found = |tx: &Tx, node: &Node| {
            tx.txn_get_node(node)
                .map(|n| vec![TxnResult::Node(n)])
                .ok_or_else(|| format!("node {name:?} doesn't exist"))
        };
        match verb.as_str() {
            "get" => found(self, &node),
            "set" => {
                self.ensure_node(node.clone()).map_err(|e| e.to_string())?;
                found(self, &node)
            }
            "cas" => match self.ensure_node_cas(node.clone()) {
                Ok(true) => found(self, &node),
                Ok(false) => Err(format!("failed to set node {name:?}, index is stale")),
                Err(e) => Err(e.to_string()),
            },
            "delete" => self
                .delete_node(&name)
                .map(|_| Vec::new())
                .map_err(|e| e.to_string()),
            "delete-cas" => match self.delete_node_cas(&name, node.modify_index) {
                Ok(true) => Ok(Vec::new()),
                Ok(false) => Err(format!("failed to delete node {name:?}, index is stale")),
                Err(e) => Err(e.to_string()),
            },
            other => Err(format!("unknown Node verb {other:?}")),
        }
    }

    fn txn_service(&mut self, op: ServiceTxnOp) -> Result<Vec<TxnResult>, String> {
        let ServiceTxnOp {
            verb,
            node,
            mut service,
            ..
        } = op;
        if matches!(verb.as_str(), "set" | "cas") {
            normalize_service(&mut service).map_err(|e| e.to_string())?;
        }
        let id = service.id.clone();
        let found = |tx: &Tx| {
            tx.s.service(&fold(&node), &fold(&id))
                .map(|s| vec![TxnResult::Service(cairn_types::AgentService::clone(s))])
                .ok_or_else(|| format!("service {id:?} on node {node:?} doesn't exist"))
        };
        match verb.as_str() {
            "get" => found(self),
            "set" => {
                self.ensure_service(&node, service)
                    .map_err(|e| e.to_string())?;
                found(self)
            }
            "cas" => match self.ensure_service_cas(&node, service) {
                Ok(true) => found(self),
                Ok(false) => Err(format!(
                    "failed to set service {id:?} on node {node:?}, index is stale"
                )),
                Err(e) => Err(e.to_string()),
            },
            "delete" => self
                .delete_service(&node, &id)
                .map(|_| Vec::new())
                .map_err(|e| e.to_string()),
            "delete-cas" => match self.delete_service_cas(&node, &id, service.modify_index) {
                Ok(true) => Ok(Vec::new()),
                Ok(false) => Err(format!(
                    "failed to delete service {id:?} on node {node:?}, index is stale"
                )),
                Err(e) => Err(e.to_string()),
            },
            other => Err(format!("unknown Service verb {other:?}")),
        }
    }

    fn txn_check(&mut self, op: CheckTxnOp) -> Result<Vec<TxnResult>, String> {
        let CheckTxnOp {
            verb, mut check, ..
        } = op;
        normalize_check(&mut check);
        let (node, id) = (check.node.clone(), check.check_id.clone());
        let found = |tx: &Tx| {
            tx.s.check(&fold(&node), &fold(&id))
                .map(|c| vec![TxnResult::Check(cairn_types::HealthCheck::clone(c))])
                .ok_or_else(|| format!("check {id:?} on node {node:?} doesn't exist"))
        };
        match verb.as_str() {
            "get" => found(self),
            "set" => {
                self.ensure_check(check).map_err(|e| e.to_string())?;
                found(self)
            }
            "cas" => match self.ensure_check_cas(check) {
                Ok(true) => found(self),
                Ok(false) => Err(format!(
                    "failed to set check {id:?} on node {node:?}, index is stale"
                )),
                Err(e) => Err(e.to_string()),
            },
            "delete" => self
                .delete_check(&node, &id)
                .map(|_| Vec::new())
                .map_err(|e| e.to_string()),
            "delete-cas" => match self.delete_check_cas(&node, &id, check.modify_index) {
                Ok(true) => Ok(Vec::new()),
                Ok(false) => Err(format!(
                    "failed to delete check {id:?} on node {node:?}, index is stale"
                )),
                Err(e) => Err(e.to_string()),
            },
            other => Err(format!("unknown Check verb {other:?}")),
        }
    }
}
