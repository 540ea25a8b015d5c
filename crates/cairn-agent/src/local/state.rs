//! The agent's own services and checks: what anti-entropy makes the catalog agree with.
//!
//! Services and checks registered through the HTTP API are persisted in the data dir
//! (`services/` and `checks/`, one JSON file each) and come back after a restart; those from
//! config files are re-read from the config instead.

use cairn_types::requests::CheckType;
use cairn_types::{AgentService, CheckStatus, HealthCheck};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::sync::Notify;

/// Where a service or check came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A config file: re-read on start and reload, never persisted.
    Config,
    /// The HTTP API: persisted in the data dir.
    Api,
}

/// A local service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalService {
    /// The service as the agent presents it.
    pub service: AgentService,
    /// ACL token it was registered with.
    pub token: String,
    /// Where it came from.
    pub source: Source,
}

/// A local check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalCheck {
    /// The check as the catalog shows it (status and output are live).
    pub check: HealthCheck,
    /// How it runs (`None` for checks without a runner, such as maintenance).
    pub definition: Option<CheckType>,
    /// ACL token it was registered with.
    pub token: String,
    /// Where it came from.
    pub source: Source,
}

#[derive(Default)]
struct Inner {
    services: BTreeMap<String, LocalService>,
    checks: BTreeMap<String, LocalCheck>,
}

/// The agent's services and checks, shared by the HTTP layer, the check runners and
/// anti-entropy. Every change wakes anti-entropy.
pub struct LocalState {
    inner: Mutex<Inner>,
    data_dir: Option<PathBuf>,
    changed: Notify,
}

/// A persisted file's failure.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct PersistError {
    path: String,
    reason: String,
}

fn file_name(id: &str) -> String {
    // Hex keeps any ID (slashes, dots, unicode) a safe, reversible file name.
    let mut s = String::with_capacity(id.len() * 2 + 5);
    for b in id.as_bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s.push_str(".json");
    s
}

impl LocalState {
    /// Empty state; `data_dir` enables persistence of API registrations.
    pub fn new(data_dir: Option<PathBuf>) -> LocalState {
        LocalState {
            inner: Mutex::new(Inner::default()),
            data_dir,
            changed: Notify::new(),
        }
    }

    fn dir(&self, kind: &str) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(kind))
    }

    /// Load API registrations persisted by an earlier run. Unreadable files are reported and
    /// skipped (Consul logs and goes on), never deleted.
    pub fn load_persisted(&self) -> Vec<PersistError> {
        let mut errors = Vec::new();
        let mut inner = self.inner.lock();
        if let Some(dir) = self.dir("services") {
            for (path, svc) in read_dir_json::<LocalService>(&dir, &mut errors) {
                let _ = path;
                inner.services.insert(svc.service.id.clone(), svc);
            }
        }
        if let Some(dir) = self.dir("checks") {
            for (path, chk) in read_dir_json::<LocalCheck>(&dir, &mut errors) {
                let _ = path;
                inner.checks.insert(chk.check.check_id.clone(), chk);
            }
        }
        drop(inner);
        self.changed.notify_one();
        errors
    }

    fn persist<T: Serialize>(
        &self,
        kind: &str,
        id: &str,
        value: Option<&T>,
    ) -> Result<(), PersistError> {
        let Some(dir) = self.dir(kind) else {
            return Ok(());
        };
        let path = dir.join(file_name(id));
        let err = |reason: String| PersistError {
            path: path.display().to_string(),
            reason,
        };
        match value {
            Some(v) => {
                std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
                let bytes = serde_json::to_vec_pretty(v).map_err(|e| err(e.to_string()))?;
                // Write then rename: a crash never leaves a half-written file.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes).map_err(|e| err(e.to_string()))?;
                std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(err(e.to_string())),
            },
        }
    }

    /// Wait until something changed (anti-entropy's trigger).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Wake anti-entropy without a change (e.g. after a leader change).
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// Add or replace a service.
    pub fn add_service(&self, svc: LocalService) -> Result<(), PersistError> {
        if svc.source == Source::Api {
            self.persist("services", &svc.service.id, Some(&svc))?;
        }
        self.inner
            .lock()
            .services
            .insert(svc.service.id.clone(), svc);
        self.changed.notify_one();
        Ok(())
    }

    /// Remove a service and its checks; returns whether it existed.
    pub fn remove_service(&self, id: &str) -> Result<bool, PersistError> {
        let (existed, check_ids) = {
            let mut inner = self.inner.lock();
            let existed = inner.services.remove(id).is_some();
            let ids: Vec<String> = inner
                .checks
                .values()
                .filter(|c| c.check.service_id == id)
                .map(|c| c.check.check_id.clone())
                .collect();
            for c in &ids {
                inner.checks.remove(c);
            }
            (existed, ids)
        };
        self.persist::<LocalService>("services", id, None)?;
        for c in check_ids {
            self.persist::<LocalCheck>("checks", &c, None)?;
        }
        self.changed.notify_one();
        Ok(existed)
    }

    /// Add or replace a check.
    pub fn add_check(&self, chk: LocalCheck) -> Result<(), PersistError> {
        if chk.source == Source::Api {
            self.persist("checks", &chk.check.check_id, Some(&chk))?;
        }
        self.inner
            .lock()
            .checks
            .insert(chk.check.check_id.clone(), chk);
        self.changed.notify_one();
        Ok(())
    }

    /// Remove a check; returns whether it existed.
    pub fn remove_check(&self, id: &str) -> Result<bool, PersistError> {
        let existed = self.inner.lock().checks.remove(id).is_some();
        self.persist::<LocalCheck>("checks", id, None)?;
        self.changed.notify_one();
        Ok(existed)
    }

    /// Set a check's status and output. Returns `false` for an unknown check; a change that
    /// changes nothing wakes nobody.
    pub fn update_check(&self, id: &str, status: CheckStatus, output: &str) -> bool {
        let persisted = {
            let mut inner = self.inner.lock();
            let Some(c) = inner.checks.get_mut(id) else {
                return false;
            };
            if c.check.status == status && c.check.output == output {
                return true;
            }
            c.check.status = status;
            c.check.output = output.to_string();
            (c.source == Source::Api).then(|| c.clone())
        };
        if let Some(c) = persisted {
            if let Err(e) = self.persist("checks", id, Some(&c)) {
                tracing::warn!(target: "agent", error = %e, "failed to persist check state");
            }
        }
        self.changed.notify_one();
        true
    }

    /// One service.
    pub fn service(&self, id: &str) -> Option<LocalService> {
        self.inner.lock().services.get(id).cloned()
    }

    /// All services by ID.
    pub fn services(&self) -> BTreeMap<String, LocalService> {
        self.inner.lock().services.clone()
    }

    /// One check.
    pub fn check(&self, id: &str) -> Option<LocalCheck> {
        self.inner.lock().checks.get(id).cloned()
    }

    /// All checks by ID.
    pub fn checks(&self) -> BTreeMap<String, LocalCheck> {
        self.inner.lock().checks.clone()
    }

    /// Drop every service and check that came from config files (before a reload adds the
    /// current ones back). Returns the IDs removed.
    pub fn remove_config_sourced(&self) -> (Vec<String>, Vec<String>) {
        let mut inner = self.inner.lock();
        let services: Vec<String> = inner
            .services
            .iter()
            .filter(|(_, s)| s.source == Source::Config)
            .map(|(id, _)| id.clone())
            .collect();
        let checks: Vec<String> = inner
            .checks
            .iter()
            .filter(|(_, c)| c.source == Source::Config)
            .map(|(id, _)| id.clone())
            .collect();
        for s in &services {
            inner.services.remove(s);
        }
        for c in &checks {
            inner.checks.remove(c);
        }
        drop(inner);
        self.changed.notify_one();
        (services, checks)
    }
}

fn read_dir_json<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    errors: &mut Vec<PersistError>,
) -> Vec<(PathBuf, T)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<T>(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => out.push((path, v)),
            Err(reason) => errors.push(PersistError {
                path: path.display().to_string(),
                reason,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(id: &str, source: Source) -> LocalService {
        LocalService {
            service: AgentService {
                id: id.into(),
                service: "web".into(),
                port: 80,
                ..AgentService::default()
            },
            token: String::new(),
            source,
        }
    }

    fn chk(id: &str, service_id: &str) -> LocalCheck {
        LocalCheck {
            check: HealthCheck {
                check_id: id.into(),
                name: id.into(),
                service_id: service_id.into(),
                ..HealthCheck::default()
            },
            definition: None,
            token: String::new(),
            source: Source::Api,
        }
    }

    #[test]
    fn api_registrations_survive_a_restart_config_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(Some(dir.path().to_path_buf()));
        state.add_service(svc("web/1", Source::Api)).unwrap();
        state.add_service(svc("cfg", Source::Config)).unwrap();
        state.add_check(chk("c1", "web/1")).unwrap();
        assert!(state.update_check("c1", CheckStatus::Passing, "ok"));
        assert!(!state.update_check("nope", CheckStatus::Passing, ""));

        let again = LocalState::new(Some(dir.path().to_path_buf()));
        assert!(again.load_persisted().is_empty());
        assert!(again.service("web/1").is_some());
        assert!(again.service("cfg").is_none());
        assert_eq!(
            again.check("c1").unwrap().check.status,
            CheckStatus::Passing
        );

        // Removing a service removes its checks, on disk too.
        assert!(again.remove_service("web/1").unwrap());
        let third = LocalState::new(Some(dir.path().to_path_buf()));
        third.load_persisted();
        assert!(third.services().is_empty() && third.checks().is_empty());
    }

    #[test]
    fn a_corrupt_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("services")).unwrap();
        std::fs::write(dir.path().join("services/bad.json"), b"{not json").unwrap();
        let state = LocalState::new(Some(dir.path().to_path_buf()));
        let errs = state.load_persisted();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("bad.json"));
        assert!(
            dir.path().join("services/bad.json").exists(),
            "never deleted"
        );
    }
}
