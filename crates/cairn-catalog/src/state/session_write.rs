//! Session create and invalidation (Consul's `sessionCreateTxn` and `deleteSessionTxn`).

use super::{fold, fold_name, Name, Tx};
use crate::error::CatalogError;
use crate::touched::Table;
use cairn_types::{CheckStatus, Session, SessionBehavior};
use std::sync::Arc;
use std::time::Duration;

/// The longest lock-delay a session can impose (Consul's `MaxLockDelay`).
pub const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);

/// Check IDs a session is tied to: node checks then service checks.
pub(crate) fn session_check_ids(s: &Session) -> impl Iterator<Item = &str> {
    s.node_checks
        .iter()
        .map(String::as_str)
        .chain(s.service_checks.iter().flatten().map(|c| c.id.as_str()))
}

impl Tx {
    /// Create a session. The node must exist and every tied check must exist and not be
    /// critical.
    pub fn create_session(&mut self, mut sess: Session) -> Result<String, CatalogError> {
        if sess.id.is_empty() {
            return Err(CatalogError::MissingSessionId);
        }
        let id: Name = Arc::from(sess.id.as_str());
        if self.s.sessions.contains_key(&id) {
            return Err(CatalogError::SessionExists(sess.id));
        }
        let node_key = fold_name(&sess.node);
        if !self.s.nodes.contains_key(&node_key) {
            return Err(CatalogError::MissingNode);
        }
        for check_id in session_check_ids(&sess) {
            let check = self
                .s
                .check(&node_key, &fold(check_id))
                .ok_or_else(|| CatalogError::MissingCheck(check_id.to_string()))?;
            if check.status == CheckStatus::Critical {
                return Err(CatalogError::CheckCritical(check_id.to_string()));
            }
        }
        sess.create_index = self.idx;
        sess.modify_index = self.idx;
        let check_keys: Vec<Name> = session_check_ids(&sess).map(fold_name).collect();
        for check in check_keys {
            self.s
                .check_sessions
                .entry((node_key.clone(), check))
                .or_default()
                .insert(id.clone());
        }
        self.s
            .node_sessions
            .entry(node_key)
            .or_default()
            .insert(id.clone());
        self.s.sessions.insert(id, Arc::new(sess.clone()));
        self.bump_table(Table::Sessions);
        Ok(sess.id)
    }

    /// Invalidate a session: release or delete its locks (per `Behavior`), start the
    /// lock-delay on those keys from this command's `now_ms`. A missing session is a no-op.
    pub fn destroy_session(&mut self, id: &str) -> Result<(), CatalogError> {
        let Some((id, sess)) = self.s.sessions.remove_with_key(id) else {
            return Ok(());
        };
        self.bump_table(Table::Sessions);
        let delay = sess.lock_delay.0.min(MAX_LOCK_DELAY);
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let keys: Vec<Name> = self
            .s
            .session_keys
            .remove(&id)
            .map(|set| set.into_iter().collect())
            .unwrap_or_default();
        if delay_ms > 0 && !keys.is_empty() {
            self.prune_lock_delays();
        }
        for key in keys {
            match sess.behavior {
                SessionBehavior::Release => {
                    if let Some(e) = self.s.kv.get(&key) {
                        let mut released = cairn_types::KvEntry::clone(e);
                        released.session.clear();
                        self.kv_store(released, true);
                    }
                }
                SessionBehavior::Delete => self.kv_delete(&key),
            }
            if delay_ms > 0 {
                self.s
                    .lock_delays
                    .insert(key, self.now_ms.saturating_add(delay_ms));
            }
        }
        let node_key = fold_name(&sess.node);
        if let Some(set) = self.s.node_sessions.get_mut(&node_key) {
            set.remove(&id);
            if set.is_empty() {
                self.s.node_sessions.remove(&node_key);
            }
        }
        let check_keys: Vec<Name> = session_check_ids(&sess).map(fold_name).collect();
        for check in check_keys {
            let item = (node_key.clone(), check);
            if let Some(set) = self.s.check_sessions.get_mut(&item) {
                set.remove(&id);
                if set.is_empty() {
                    self.s.check_sessions.remove(&item);
                }
            }
        }
        Ok(())
    }

    /// Invalidate every session tied to a check (it turned critical or was removed).
    pub fn invalidate_check_sessions(
        &mut self,
        node_key: &Name,
        check_key: &Name,
    ) -> Result<(), CatalogError> {
        let item = (node_key.clone(), check_key.clone());
        let ids: Vec<Name> = match self.s.check_sessions.get(&item) {
            Some(set) => set.iter().cloned().collect(),
            None => return Ok(()),
        };
        for id in ids {
            self.destroy_session(&id)?;
        }
        Ok(())
    }

    /// Forget lock-delays that ended before this command's `now_ms`.
    fn prune_lock_delays(&mut self) {
        let now = self.now_ms;
        let ended: Vec<Name> = self
            .s
            .lock_delays
            .iter()
            .filter(|(_, &until)| until <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in ended {
            self.s.lock_delays.remove(&key);
        }
    }
}
