//! A stateful KV store and session table for the [`FakeServer`]:
//! enough of `/v1/kv` (get, recurse, put with flags/cas/acquire/release, delete with
//! cas/recurse) and `/v1/session` (create, renew, destroy with release/delete behaviour) to
//! run locks, semaphores and CLI commands against. Blocking reads answer at once.

use crate::fake_server::{CannedResponse, FakeServer, RecordedRequest};
use cairn_types::KvEntry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Store {
    index: u64,
    kv: BTreeMap<String, KvEntry>,
    /// Session ID → behaviour (`release` or `delete`).
    sessions: BTreeMap<String, String>,
    next_session: u64,
}

/// Handle on the fake store, to seed and inspect it from tests.
#[derive(Clone, Default)]
pub struct FakeKv {
    store: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for FakeKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKv").finish_non_exhaustive()
    }
}

impl FakeKv {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serve `/v1/kv/` and `/v1/session/` from this store on `server`.
    pub fn install(&self, server: &FakeServer) {
        for method in ["GET", "PUT", "DELETE"] {
            let kv = self.clone();
            server.route_prefix_fn(method, "/v1/kv/", move |req| kv.handle_kv(req));
        }
        let kv = self.clone();
        server.route_fn("PUT", "/v1/session/create", move |req| {
            kv.create_session(req)
        });
        let kv = self.clone();
        server.route_prefix_fn("PUT", "/v1/session/destroy/", move |req| {
            let id = req
                .path
                .trim_start_matches("/v1/session/destroy/")
                .to_string();
            kv.invalidate_session(&id);
            CannedResponse::json(200, "true")
        });
        let kv = self.clone();
        server.route_prefix_fn("PUT", "/v1/session/renew/", move |req| {
            let id = req.path.trim_start_matches("/v1/session/renew/");
            let s = kv.lock();
            if s.sessions.contains_key(id) {
                CannedResponse::json(200, format!(r#"[{{"ID":"{id}","TTL":"15s"}}]"#))
                    .with_index(s.index.max(1))
            } else {
                CannedResponse::text(404, format!("Session id '{id}' not found"))
            }
        });
    }

    /// One entry.
    pub fn get(&self, key: &str) -> Option<KvEntry> {
        self.lock().kv.get(key).cloned()
    }

    /// Every entry, by key.
    pub fn entries(&self) -> BTreeMap<String, KvEntry> {
        self.lock().kv.clone()
    }

    /// Store an entry as is (indexes included).
    pub fn insert(&self, entry: KvEntry) {
        let mut s = self.lock();
        s.index = s.index.max(entry.modify_index);
        s.kv.insert(entry.key.clone(), entry);
    }

    /// Live sessions and their behaviour.
    pub fn sessions(&self) -> BTreeMap<String, String> {
        self.lock().sessions.clone()
    }

    /// Add a session as if another client created it.
    pub fn add_session(&self, id: &str, behavior: &str) {
        self.lock().sessions.insert(id.into(), behavior.into());
    }

    /// Invalidate a session: its locks are released or its keys deleted.
    pub fn invalidate_session(&self, id: &str) {
        let mut s = self.lock();
        let Some(behavior) = s.sessions.remove(id) else {
            return;
        };
        s.index += 1;
        let index = s.index;
        let held: Vec<String> =
            s.kv.iter()
                .filter(|(_, e)| e.session == id)
                .map(|(k, _)| k.clone())
                .collect();
        for key in held {
            if behavior == "delete" {
                s.kv.remove(&key);
            } else if let Some(e) = s.kv.get_mut(&key) {
                e.session.clear();
                e.modify_index = index;
            }
        }
    }

    fn create_session(&self, req: &RecordedRequest) -> CannedResponse {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let behavior = body["Behavior"]
            .as_str()
            .filter(|b| !b.is_empty())
            .unwrap_or("release")
            .to_string();
        let mut s = self.lock();
        s.next_session += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", s.next_session);
        s.sessions.insert(id.clone(), behavior);
        CannedResponse::json(200, format!(r#"{{"ID":"{id}"}}"#))
    }

    fn handle_kv(&self, req: &RecordedRequest) -> CannedResponse {
        let mut s = self.lock();
        let key = req.path.trim_start_matches("/v1/kv/").to_string();
        let ok = |body: &str, index: u64| CannedResponse::json(200, body).with_index(index.max(1));
        match req.method.as_str() {
            "GET" => {
                let index = s.index;
                if req.param("keys").is_some() {
                    let keys: Vec<&String> = s.kv.keys().filter(|k| k.starts_with(&key)).collect();
                    return ok(&serde_json::to_string(&keys).unwrap_or_default(), index);
                }
                let matching: Vec<&KvEntry> = if req.param("recurse").is_some() {
                    s.kv.values().filter(|e| e.key.starts_with(&key)).collect()
                } else {
                    s.kv.get(&key).into_iter().collect()
                };
                if matching.is_empty() {
                    return CannedResponse::text(404, "").with_index(index.max(1));
                }
                if req.param("raw").is_some() {
                    let mut r = CannedResponse::text(200, "");
                    r.body = matching[0].value.clone();
                    return r.with_index(index.max(1));
                }
                ok(&serde_json::to_string(&matching).unwrap_or_default(), index)
            }
            "PUT" => {
                let flags = req.param("flags").and_then(|f| f.parse().ok()).unwrap_or(0);
                let existing = s.kv.get(&key).cloned();
                if let Some(cas) = req.param("cas").and_then(|c| c.parse::<u64>().ok()) {
                    if cas != existing.as_ref().map(|e| e.modify_index).unwrap_or(0) {
                        return ok("false", s.index);
                    }
                }
                let mut entry = existing.clone().unwrap_or_default();
                if let Some(session) = req.param("acquire") {
                    if !s.sessions.contains_key(session) {
                        return CannedResponse::text(500, format!("invalid session \"{session}\""));
                    }
                    if !entry.session.is_empty() && entry.session != session {
                        return ok("false", s.index);
                    }
                    if entry.session != session {
                        entry.lock_index += 1;
                    }
                    entry.session = session.to_string();
                }
                if let Some(session) = req.param("release") {
                    if entry.session != session {
                        return ok("false", s.index);
                    }
                    entry.session.clear();
                }
                s.index += 1;
                entry.key.clone_from(&key);
                entry.value = req.body.clone();
                entry.flags = flags;
                entry.modify_index = s.index;
                if existing.is_none() {
                    entry.create_index = s.index;
                }
                let index = s.index;
                s.kv.insert(key, entry);
                ok("true", index)
            }
            "DELETE" => {
                if let Some(cas) = req.param("cas").and_then(|c| c.parse::<u64>().ok()) {
                    if s.kv.get(&key).map(|e| e.modify_index) != Some(cas) {
                        return ok("false", s.index);
                    }
                }
                s.index += 1;
                if req.param("recurse").is_some() {
                    s.kv.retain(|k, _| !k.starts_with(&key));
                } else {
                    s.kv.remove(&key);
                }
                ok("true", s.index)
            }
            _ => CannedResponse::text(405, ""),
        }
    }
}
