//! Key/value store (`/v1/kv`).

use crate::client::{escape_path, Client, Method, Request};
use crate::error::{Error, Result};
use cairn_types::{KvEntry, QueryMeta, QueryOptions};

/// KV endpoints; get one with [`Client::kv`].
#[derive(Debug, Clone, Copy)]
pub struct Kv<'a> {
    client: &'a Client,
}

/// Options of a KV write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPutOptions {
    /// Opaque client flags stored with the key (sent only when non-zero).
    pub flags: u64,
    /// Check-and-set: write only if the key's ModifyIndex equals this (0: only if absent).
    pub cas: Option<u64>,
    /// Acquire the lock for this session.
    pub acquire: Option<String>,
    /// Release the lock held by this session.
    pub release: Option<String>,
}

/// Options of a KV delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvDeleteOptions {
    /// Delete every key with the prefix.
    pub recurse: bool,
    /// Delete only if the key's ModifyIndex equals this.
    pub cas: Option<u64>,
}

impl Client {
    /// KV endpoints.
    pub fn kv(&self) -> Kv<'_> {
        Kv { client: self }
    }
}

fn key_path(key: &str) -> String {
    // Consul's Go client strips one leading slash; the server refuses keys starting with one.
    format!(
        "/v1/kv/{}",
        escape_path(key.strip_prefix('/').unwrap_or(key))
    )
}

impl Kv<'_> {
    /// One key; `None` when absent (HTTP 404).
    pub async fn get(
        &self,
        key: &str,
        opts: &QueryOptions,
    ) -> Result<(Option<KvEntry>, QueryMeta)> {
        let req = Request::new(Method::Get, key_path(key)).query(opts);
        let (entries, meta) = self.client.get_json_opt::<Vec<KvEntry>>(req).await?;
        Ok((entries.and_then(|e| e.into_iter().next()), meta))
    }

    /// One key's raw value (`?raw`); `None` when absent.
    pub async fn get_raw(
        &self,
        key: &str,
        opts: &QueryOptions,
    ) -> Result<(Option<Vec<u8>>, QueryMeta)> {
        let req = Request::new(Method::Get, key_path(key))
            .flag("raw")
            .query(opts);
        let resp = self.client.send(req).await?;
        if resp.status == 404 {
            return Ok((None, resp.meta));
        }
        let resp = resp.ok()?;
        Ok((Some(resp.body), resp.meta))
    }

    /// Every key under `prefix` (`?recurse`); empty when none.
    pub async fn list(
        &self,
        prefix: &str,
        opts: &QueryOptions,
    ) -> Result<(Vec<KvEntry>, QueryMeta)> {
        let req = Request::new(Method::Get, key_path(prefix))
            .flag("recurse")
            .query(opts);
        let (entries, meta) = self.client.get_json_opt::<Vec<KvEntry>>(req).await?;
        Ok((entries.unwrap_or_default(), meta))
    }

    /// Key names under `prefix` (`?keys`), cut after `separator` when one is given.
    pub async fn keys(
        &self,
        prefix: &str,
        separator: Option<&str>,
        opts: &QueryOptions,
    ) -> Result<(Vec<String>, QueryMeta)> {
        let mut req = Request::new(Method::Get, key_path(prefix)).flag("keys");
        if let Some(sep) = separator.filter(|s| !s.is_empty()) {
            req = req.param("separator", sep);
        }
        let (keys, meta) = self
            .client
            .get_json_opt::<Vec<String>>(req.query(opts))
            .await?;
        Ok((keys.unwrap_or_default(), meta))
    }

    /// Write a value. Returns the agent's `true`/`false` (false: CAS or lock not satisfied).
    /// A key starting with `/` is refused before sending, as Consul's client does.
    pub async fn put(&self, key: &str, value: &[u8], opts: &KvPutOptions) -> Result<bool> {
        if key.starts_with('/') {
            return Err(Error::Invalid(format!(
                "Invalid key. Key must not begin with a '/': {key}"
            )));
        }
        let mut req = Request::new(Method::Put, key_path(key));
        if opts.flags != 0 {
            req = req.param("flags", opts.flags);
        }
        if let Some(cas) = opts.cas {
            req = req.param("cas", cas);
        }
        if let Some(session) = &opts.acquire {
            req = req.param("acquire", session);
        }
        if let Some(session) = &opts.release {
            req = req.param("release", session);
        }
        let resp = self
            .client
            .send_ok(req.body(value.to_vec(), "application/octet-stream"))
            .await?;
        resp.decode_bool()
    }

    /// Delete a key or, with `recurse`, a prefix. Returns the agent's `true`/`false`.
    pub async fn delete(&self, key: &str, opts: &KvDeleteOptions) -> Result<bool> {
        let mut req = Request::new(Method::Delete, key_path(key)).flag_if("recurse", opts.recurse);
        if let Some(cas) = opts.cas {
            req = req.param("cas", cas);
        }
        let resp = self.client.send_ok(req).await?;
        // Older agents answer deletes with an empty body.
        if resp.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(true);
        }
        resp.decode_bool()
    }
}
