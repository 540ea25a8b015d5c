//! Distributed locks and semaphores built on sessions and the KV store, with the key layout
//! and flag values of Consul's Go `api` package, so `cairn lock` and `consul lock` holders
//! exclude each other.
//!
//! * A lock is one key (`<prefix>/.lock` for `cairn lock`) acquired with a session and
//!   [`LOCK_FLAG_VALUE`].
//! * A semaphore with limit N keeps one contender key per holder (`<prefix>/<session>`, acquired
//!   with its session, so it vanishes with the session) and a coordination key
//!   `<prefix>/.lock` holding `{"Limit":N,"Holders":{"<session>":true}}`, updated by
//!   check-and-set, with [`SEMAPHORE_FLAG_VALUE`].
//!
//! Sessions get a TTL (15 s by default) and are renewed every half TTL while held; holders
//! watch their key with blocking queries and report through [`Lost`] when it is gone.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::kv::{KvDeleteOptions, KvPutOptions};
use cairn_types::duration::format_go_duration;
use cairn_types::{Consistency, KvEntry, QueryOptions, SessionRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Flags value marking a lock key (Consul's `api.LockFlagValue`).
pub const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;
/// Flags value marking semaphore keys (Consul's `api.SemaphoreFlagValue`).
pub const SEMAPHORE_FLAG_VALUE: u64 = 0xe0f6_9a2b_aa41_4de0;
/// The coordination key inside a semaphore prefix, also the lock key `cairn lock` uses.
pub const SEMAPHORE_KEY: &str = ".lock";
/// How long one blocking read waits while contending.
const WAIT_TIME: Duration = Duration::from_secs(15);
/// Pause after a failed acquisition while a lock-delay may be in effect.
const RETRY_TIME: Duration = Duration::from_secs(5);
/// Smallest pause between two reads that made no progress (guards against agents that answer
/// blocking reads at once).
const MIN_ROUND: Duration = Duration::from_millis(100);

/// Options shared by locks and semaphores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Name of the session created for the holder.
    pub session_name: String,
    /// Session TTL; the session is renewed every half TTL.
    pub session_ttl: Duration,
    /// How many retryable errors (5xx, connection failures) the holder's monitor rides out
    /// before declaring the lock lost.
    pub monitor_retries: u32,
    /// Pause between monitor retries.
    pub monitor_retry_time: Duration,
    /// Give up acquiring after this long instead of waiting forever (Consul's `TryOnce`).
    pub try_for: Option<Duration>,
}

impl SessionOptions {
    fn with_name(name: &str) -> SessionOptions {
        SessionOptions {
            session_name: name.to_string(),
            session_ttl: Duration::from_secs(15),
            monitor_retries: 0,
            monitor_retry_time: Duration::from_secs(2),
            try_for: None,
        }
    }
}

/// Fires when a held lock or semaphore slot is lost (session invalidated, key changed,
/// agent unreachable beyond the retries).
#[derive(Debug, Clone)]
pub struct Lost {
    rx: watch::Receiver<bool>,
}

impl Lost {
    /// Wait until the lock is lost.
    pub async fn wait(&mut self) {
        // An error means the monitor is gone, which only happens once it reported the loss
        // or the holder released.
        let _ = self.rx.wait_for(|lost| *lost).await;
    }

    /// Whether the lock has been lost.
    pub fn is_lost(&self) -> bool {
        *self.rx.borrow()
    }
}

struct Held {
    session: String,
    renew: JoinHandle<()>,
    monitor: JoinHandle<()>,
}

async fn create_session(client: &Client, opts: &SessionOptions, behavior: &str) -> Result<String> {
    let request = SessionRequest {
        name: opts.session_name.clone(),
        ttl: format_go_duration(opts.session_ttl),
        behavior: behavior.to_string(),
        ..SessionRequest::default()
    };
    client
        .session()
        .create(&request)
        .await
        .map_err(|e| Error::Lock(format!("failed to create session: {e}")))
}

/// Renew every half TTL until the session is gone; transient errors are retried at the next
/// tick (the monitor notices if the session expires meanwhile).
fn spawn_renew(client: Client, id: String, ttl: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut period = (ttl / 2).max(Duration::from_millis(500));
        loop {
            tokio::time::sleep(period).await;
            match client.session().renew(&id).await {
                Ok(Some(session)) => {
                    // The server may hand back a longer TTL to slow renewals down.
                    if let Ok(server_ttl) = cairn_types::GoDuration::parse(&session.ttl) {
                        if !server_ttl.0.is_zero() {
                            period = (server_ttl.0 / 2).max(Duration::from_millis(500));
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(session = %id, error = %e, "session renewal failed"),
            }
        }
    })
}

async fn end_session(client: &Client, held: Held) {
    held.renew.abort();
    held.monitor.abort();
    if let Err(e) = client.session().destroy(&held.session).await {
        tracing::warn!(session = %held.session, error = %e, "session destroy failed");
    }
}

fn join_key(prefix: &str, name: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Run `attempt` until it succeeds, `stop` completes, or (`try_for`) time runs out. `attempt`
/// gets the wait to use for its blocking read.
async fn contend<F, Fut>(
    try_for: Option<Duration>,
    stop: impl Future<Output = ()>,
    mut attempt: F,
) -> Result<bool>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<Option<Duration>>>,
{
    let start = Instant::now();
    let contend = async {
        let mut first = true;
        loop {
            let mut wait = WAIT_TIME;
            if let Some(limit) = try_for {
                let elapsed = start.elapsed();
                if !first && elapsed > limit {
                    return Ok(false);
                }
                wait = wait
                    .min(limit.saturating_sub(elapsed))
                    .max(Duration::from_millis(1));
            }
            first = false;
            match attempt(wait).await? {
                None => return Ok(true),
                Some(pause) => tokio::time::sleep(pause).await,
            }
        }
    };
    tokio::select! {
        r = contend => r,
        _ = stop => Ok(false),
    }
}

/// A mutual-exclusion lock on one key.
pub struct Lock {
    client: Client,
    key: String,
    value: Vec<u8>,
    opts: SessionOptions,
    held: Option<Held>,
}

impl Lock {
    /// A lock on `key` (default session name `Consul API Lock`, TTL 15 s).
    pub fn new(client: Client, key: &str) -> Lock {
        Lock {
            client,
            key: key.trim_start_matches('/').to_string(),
            value: Vec::new(),
            opts: SessionOptions::with_name("Consul API Lock"),
            held: None,
        }
    }

    /// Set the session options.
    pub fn with_options(mut self, opts: SessionOptions) -> Lock {
        self.opts = opts;
        self
    }

    /// Store `value` in the key while holding it.
    pub fn with_value(mut self, value: Vec<u8>) -> Lock {
        self.value = value;
        self
    }

    /// The options in use (to adjust from the defaults).
    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Acquire, waiting as long as needed (or `try_for`). `Ok(None)` when `stop` completed or
    /// time ran out first; `Ok(Some(lost))` once held.
    pub async fn acquire(&mut self, stop: impl Future<Output = ()>) -> Result<Option<Lost>> {
        if self.held.is_some() {
            return Err(Error::Lock("Lock already held".into()));
        }
        let session = create_session(&self.client, &self.opts, "").await?;
        let renew = spawn_renew(self.client.clone(), session.clone(), self.opts.session_ttl);
        let index = AtomicU64::new(0);
        let kv = self.client.kv();
        let (key, value) = (&self.key, &self.value);
        let outcome = contend(self.opts.try_for, stop, |wait| {
            let session = session.clone();
            let index = &index;
            let prev = index.load(Ordering::Relaxed);
            async move {
                let opts = QueryOptions {
                    min_query_index: prev,
                    max_query_time: Some(wait),
                    ..QueryOptions::default()
                };
                let (entry, meta) = kv
                    .get(key, &opts)
                    .await
                    .map_err(|e| Error::Lock(format!("failed to read lock: {e}")))?;
                if let Some(e) = &entry {
                    if e.flags != LOCK_FLAG_VALUE {
                        return Err(Error::Conflict(
                            "Existing key does not match lock use".into(),
                        ));
                    }
                    if !e.session.is_empty() {
                        index.store(meta.index, Ordering::Relaxed);
                        return Ok(Some(if meta.index == prev {
                            MIN_ROUND
                        } else {
                            Duration::ZERO
                        }));
                    }
                }
                let put = KvPutOptions {
                    flags: LOCK_FLAG_VALUE,
                    acquire: Some(session),
                    ..KvPutOptions::default()
                };
                let locked = kv
                    .put(key, value, &put)
                    .await
                    .map_err(|e| Error::Lock(format!("failed to acquire lock: {e}")))?;
                if locked {
                    return Ok(None);
                }
                // Held by someone else now (wait on the key), or a lock-delay is in effect
                // (wait a fixed time).
                let (entry, meta) = kv.get(key, &QueryOptions::default()).await?;
                if entry.is_some_and(|e| !e.session.is_empty()) {
                    index.store(meta.index, Ordering::Relaxed);
                    Ok(Some(Duration::ZERO))
                } else {
                    index.store(0, Ordering::Relaxed);
                    Ok(Some(RETRY_TIME))
                }
            }
        })
        .await;
        let monitor_placeholder = tokio::spawn(async {});
        let held = Held {
            session: session.clone(),
            renew,
            monitor: monitor_placeholder,
        };
        match outcome {
            Ok(true) => {
                let (tx, rx) = watch::channel(false);
                let monitor = tokio::spawn(monitor(
                    self.client.clone(),
                    self.opts.clone(),
                    session,
                    tx,
                    Target::Lock(self.key.clone()),
                ));
                self.held = Some(Held { monitor, ..held });
                Ok(Some(Lost { rx }))
            }
            Ok(false) => {
                end_session(&self.client, held).await;
                Ok(None)
            }
            Err(e) => {
                end_session(&self.client, held).await;
                Err(e)
            }
        }
    }

    /// Release the lock and destroy its session.
    pub async fn release(&mut self) -> Result<()> {
        let Some(held) = self.held.take() else {
            return Err(Error::Lock("Lock not held".into()));
        };
        held.monitor.abort();
        let put = KvPutOptions {
            flags: LOCK_FLAG_VALUE,
            release: Some(held.session.clone()),
            ..KvPutOptions::default()
        };
        let result = self.client.kv().put(&self.key, &self.value, &put).await;
        end_session(&self.client, held).await;
        result
            .map(|_| ())
            .map_err(|e| Error::Lock(format!("failed to release lock: {e}")))
    }

    /// Delete the lock key if nobody holds it. [`Error::InUse`] when someone does.
    pub async fn destroy(&self) -> Result<()> {
        if self.held.is_some() {
            return Err(Error::Lock("Lock already held".into()));
        }
        let (entry, _) = self
            .client
            .kv()
            .get(&self.key, &QueryOptions::default())
            .await
            .map_err(|e| Error::Lock(format!("failed to read lock: {e}")))?;
        let Some(entry) = entry else {
            return Ok(());
        };
        if entry.flags != LOCK_FLAG_VALUE {
            return Err(Error::Conflict(
                "Existing key does not match lock use".into(),
            ));
        }
        if !entry.session.is_empty() {
            return Err(Error::InUse("Lock in use".into()));
        }
        let removed = self
            .client
            .kv()
            .delete(
                &self.key,
                &KvDeleteOptions {
                    recurse: false,
                    cas: Some(entry.modify_index),
                },
            )
            .await
            .map_err(|e| Error::Lock(format!("failed to remove lock: {e}")))?;
        if removed {
            Ok(())
        } else {
            Err(Error::InUse("Lock in use".into()))
        }
    }
}

/// The coordination record of a semaphore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SemaphoreRecord {
    limit: usize,
    #[serde(default, deserialize_with = "null_as_empty")]
    holders: BTreeMap<String, bool>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, bool>, D::Error> {
    Ok(Option::<BTreeMap<String, bool>>::deserialize(d)?.unwrap_or_default())
}

fn decode_record(entry: &KvEntry, limit: usize) -> Result<SemaphoreRecord> {
    if entry.value.is_empty() {
        return Ok(SemaphoreRecord {
            limit,
            holders: BTreeMap::new(),
        });
    }
    serde_json::from_slice(&entry.value)
        .map_err(|e| Error::Lock(format!("lock decoding failed: {e}")))
}

/// Drop holders whose session no longer holds any key under the prefix.
fn prune(record: &mut SemaphoreRecord, entries: &[KvEntry]) {
    record
        .holders
        .retain(|holder, _| entries.iter().any(|e| e.session == *holder));
}

/// A semaphore admitting up to `limit` holders.
pub struct Semaphore {
    client: Client,
    prefix: String,
    limit: usize,
    value: Vec<u8>,
    opts: SessionOptions,
    held: Option<Held>,
}

impl Semaphore {
    /// A semaphore under `prefix` (default session name `Consul API Semaphore`, TTL 15 s).
    /// Every contender must use the same `limit`.
    pub fn new(client: Client, prefix: &str, limit: usize) -> Result<Semaphore> {
        if limit == 0 {
            return Err(Error::Lock("semaphore limit must be positive".into()));
        }
        Ok(Semaphore {
            client,
            prefix: prefix.trim_start_matches('/').to_string(),
            limit,
            value: Vec::new(),
            opts: SessionOptions::with_name("Consul API Semaphore"),
            held: None,
        })
    }

    /// Set the session options.
    pub fn with_options(mut self, opts: SessionOptions) -> Semaphore {
        self.opts = opts;
        self
    }

    fn lock_key(&self) -> String {
        join_key(&self.prefix, SEMAPHORE_KEY)
    }

    fn find_record(&self, entries: &[KvEntry]) -> KvEntry {
        let key = self.lock_key();
        entries
            .iter()
            .find(|e| e.key == key)
            .cloned()
            .unwrap_or(KvEntry {
                key,
                flags: SEMAPHORE_FLAG_VALUE,
                ..KvEntry::default()
            })
    }

    /// Take a slot, waiting as long as needed (or `try_for`). `Ok(None)` when `stop`
    /// completed or time ran out first.
    pub async fn acquire(&mut self, stop: impl Future<Output = ()>) -> Result<Option<Lost>> {
        if self.held.is_some() {
            return Err(Error::Lock("Semaphore already held".into()));
        }
        let session = create_session(&self.client, &self.opts, "delete").await?;
        let renew = spawn_renew(self.client.clone(), session.clone(), self.opts.session_ttl);
        let held = Held {
            session: session.clone(),
            renew,
            monitor: tokio::spawn(async {}),
        };
        let kv = self.client.kv();
        let contender = KvPutOptions {
            flags: SEMAPHORE_FLAG_VALUE,
            acquire: Some(session.clone()),
            ..KvPutOptions::default()
        };
        match kv
            .put(&join_key(&self.prefix, &session), &self.value, &contender)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                end_session(&self.client, held).await;
                return Err(Error::Lock("failed to make contender entry: <nil>".into()));
            }
            Err(e) => {
                end_session(&self.client, held).await;
                return Err(Error::Lock(format!("failed to make contender entry: {e}")));
            }
        }
        let index = AtomicU64::new(0);
        let this = &*self;
        let outcome = contend(self.opts.try_for, stop, |wait| {
            let session = session.clone();
            let index = &index;
            let prev = index.load(Ordering::Relaxed);
            async move {
                let opts = QueryOptions {
                    min_query_index: prev,
                    max_query_time: Some(wait),
                    ..QueryOptions::default()
                };
                let (entries, meta) = kv
                    .list(&this.prefix, &opts)
                    .await
                    .map_err(|e| Error::Lock(format!("failed to read prefix: {e}")))?;
                let record_entry = this.find_record(&entries);
                if record_entry.flags != SEMAPHORE_FLAG_VALUE {
                    return Err(Error::Conflict(
                        "Existing key does not match semaphore use".into(),
                    ));
                }
                let mut record = decode_record(&record_entry, this.limit)?;
                if record.limit != this.limit {
                    return Err(Error::Lock(format!(
                        "semaphore limit conflict (lock: {}, local: {})",
                        record.limit, this.limit
                    )));
                }
                prune(&mut record, &entries);
                if record.holders.len() >= record.limit {
                    index.store(meta.index, Ordering::Relaxed);
                    return Ok(Some(if meta.index == prev {
                        MIN_ROUND
                    } else {
                        Duration::ZERO
                    }));
                }
                record.holders.insert(session, true);
                let body = serde_json::to_vec(&record)
                    .map_err(|e| Error::Lock(format!("lock encoding failed: {e}")))?;
                let cas = KvPutOptions {
                    flags: SEMAPHORE_FLAG_VALUE,
                    cas: Some(record_entry.modify_index),
                    ..KvPutOptions::default()
                };
                let swapped = kv
                    .put(&this.lock_key(), &body, &cas)
                    .await
                    .map_err(|e| Error::Lock(format!("failed to update lock: {e}")))?;
                if swapped {
                    Ok(None)
                } else {
                    // Raced with another contender: read again at once.
                    index.store(0, Ordering::Relaxed);
                    Ok(Some(MIN_ROUND))
                }
            }
        })
        .await;
        match outcome {
            Ok(true) => {
                let (tx, rx) = watch::channel(false);
                let monitor = tokio::spawn(monitor(
                    self.client.clone(),
                    self.opts.clone(),
                    session,
                    tx,
                    Target::Semaphore {
                        prefix: self.prefix.clone(),
                        lock_key: self.lock_key(),
                        limit: self.limit,
                    },
                ));
                self.held = Some(Held { monitor, ..held });
                Ok(Some(Lost { rx }))
            }
            Ok(false) => {
                let _ = kv
                    .delete(
                        &join_key(&self.prefix, &session),
                        &KvDeleteOptions::default(),
                    )
                    .await;
                end_session(&self.client, held).await;
                Ok(None)
            }
            Err(e) => {
                let _ = kv
                    .delete(
                        &join_key(&self.prefix, &session),
                        &KvDeleteOptions::default(),
                    )
                    .await;
                end_session(&self.client, held).await;
                Err(e)
            }
        }
    }

    /// Give the slot back, remove the contender key and destroy the session.
    pub async fn release(&mut self) -> Result<()> {
        let Some(held) = self.held.take() else {
            return Err(Error::Lock("Semaphore not held".into()));
        };
        held.monitor.abort();
        let result = self.remove_holder(&held.session).await;
        end_session(&self.client, held).await;
        result
    }

    async fn remove_holder(&self, session: &str) -> Result<()> {
        let kv = self.client.kv();
        let key = self.lock_key();
        for _ in 0..100 {
            let (entry, _) = kv.get(&key, &QueryOptions::default()).await?;
            let entry = entry.unwrap_or_default();
            let mut record = decode_record(&entry, self.limit)?;
            if record.holders.remove(session).is_none() {
                break;
            }
            let body = serde_json::to_vec(&record)
                .map_err(|e| Error::Lock(format!("lock encoding failed: {e}")))?;
            let cas = KvPutOptions {
                flags: SEMAPHORE_FLAG_VALUE,
                cas: Some(entry.modify_index),
                ..KvPutOptions::default()
            };
            if kv
                .put(&key, &body, &cas)
                .await
                .map_err(|e| Error::Lock(format!("failed to update lock: {e}")))?
            {
                break;
            }
        }
        kv.delete(
            &join_key(&self.prefix, session),
            &KvDeleteOptions::default(),
        )
        .await?;
        Ok(())
    }

    /// Delete the coordination key if no live holder remains. [`Error::InUse`] otherwise.
    pub async fn destroy(&self) -> Result<()> {
        if self.held.is_some() {
            return Err(Error::Lock("Semaphore already held".into()));
        }
        let (entries, _) = self
            .client
            .kv()
            .list(&self.prefix, &QueryOptions::default())
            .await
            .map_err(|e| Error::Lock(format!("failed to read prefix: {e}")))?;
        let entry = self.find_record(&entries);
        if entry.modify_index == 0 {
            return Ok(());
        }
        if entry.flags != SEMAPHORE_FLAG_VALUE {
            return Err(Error::Conflict(
                "Existing key does not match semaphore use".into(),
            ));
        }
        let mut record = decode_record(&entry, self.limit)?;
        prune(&mut record, &entries);
        if !record.holders.is_empty() {
            return Err(Error::InUse("Semaphore in use".into()));
        }
        let removed = self
            .client
            .kv()
            .delete(
                &entry.key,
                &KvDeleteOptions {
                    recurse: false,
                    cas: Some(entry.modify_index),
                },
            )
            .await
            .map_err(|e| Error::Lock(format!("failed to remove semaphore: {e}")))?;
        if removed {
            Ok(())
        } else {
            Err(Error::InUse("Semaphore in use".into()))
        }
    }
}

enum Target {
    Lock(String),
    Semaphore {
        prefix: String,
        lock_key: String,
        limit: usize,
    },
}

/// Watch the held key (consistent blocking reads) and report the loss.
async fn monitor(
    client: Client,
    opts: SessionOptions,
    session: String,
    lost: watch::Sender<bool>,
    target: Target,
) {
    let kv = client.kv();
    let mut index = 0u64;
    let mut retries = opts.monitor_retries;
    loop {
        let q = QueryOptions {
            min_query_index: index,
            consistency: Consistency::Consistent,
            ..QueryOptions::default()
        };
        let still_held = match &target {
            Target::Lock(key) => kv
                .get(key, &q)
                .await
                .map(|(e, meta)| (e.is_some_and(|e| e.session == session), meta.index)),
            Target::Semaphore {
                prefix,
                lock_key,
                limit,
            } => kv.list(prefix, &q).await.map(|(entries, meta)| {
                let record = entries
                    .iter()
                    .find(|e| e.key == *lock_key)
                    .map(|e| decode_record(e, *limit))
                    .unwrap_or_else(|| decode_record(&KvEntry::default(), *limit));
                let held = match record {
                    Ok(mut r) => {
                        prune(&mut r, &entries);
                        r.holders.contains_key(&session)
                    }
                    Err(_) => false,
                };
                (held, meta.index)
            }),
        };
        match still_held {
            Ok((true, new_index)) => {
                retries = opts.monitor_retries;
                if new_index == index {
                    tokio::time::sleep(MIN_ROUND).await;
                }
                index = new_index;
            }
            Ok((false, _)) => break,
            Err(e) if retries > 0 && e.is_retryable() => {
                tracing::warn!(error = %e, "lock monitor error, retrying");
                retries -= 1;
                index = 0;
                tokio::time::sleep(opts.monitor_retry_time).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lock monitor gave up");
                break;
            }
        }
    }
    let _ = lost.send(true);
}
