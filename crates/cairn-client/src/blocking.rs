//! Blocking-query helpers following Consul's documented client rules: reset the index when it
//! goes backwards, never use an index below 1 after the first answer, rate-limit rounds, and
//! back off (bounded) after errors instead of looping hot.

use crate::error::Result;
use cairn_types::{QueryMeta, QueryOptions};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The wait index of one blocking query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitIndex {
    index: u64,
}

impl WaitIndex {
    /// A fresh index: the first query does not block.
    pub fn new() -> WaitIndex {
        WaitIndex::default()
    }

    /// The index to send as `?index=` (0: don't block).
    pub fn get(&self) -> u64 {
        self.index
    }

    /// Record the `X-Consul-Index` of an answer; returns whether the result may have changed.
    ///
    /// An index lower than the current one (snapshot restore, the highest key deleted,
    /// upgrades) resets to 0 so the next query fetches fresh data without blocking; an index
    /// of 0 is taken as 1 so the next query still blocks.
    pub fn observe(&mut self, returned: u64) -> bool {
        let returned = returned.max(1);
        if returned < self.index {
            tracing::debug!(
                previous = self.index,
                returned,
                "blocking index went backwards, resetting"
            );
            self.index = 0;
            return true;
        }
        let changed = returned != self.index;
        self.index = returned;
        changed
    }

    /// Forget the index (the next query does not block).
    pub fn reset(&mut self) {
        self.index = 0;
    }
}

/// Bounded retry delays after consecutive failures: `base × failures²`, capped at `max` (the
/// growth Consul's watch plans use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Delays of `base × n²` after the n-th consecutive failure, at most `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// Consul's watch plan: 5 s, 20 s, 45 s, … capped at 180 s.
    pub fn consul_watch() -> Backoff {
        Backoff::new(Duration::from_secs(5), Duration::from_secs(180))
    }

    /// Record a failure; returns how long to wait before the next attempt.
    pub fn failure(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let factor = self.failures.saturating_mul(self.failures);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Record a success (the next failure starts from `base` again).
    pub fn success(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// One answer of a [`BlockingQuery`] round.
#[derive(Debug, Clone, PartialEq)]
pub struct Update<T> {
    /// The result.
    pub value: T,
    /// Its metadata.
    pub meta: QueryMeta,
    /// Whether the index moved (or was reset), so the result may differ from the last one.
    pub changed: bool,
}

/// Runs a blocking query round after round.
///
/// ```no_run
/// # async fn demo(client: cairn_client::Client) -> cairn_client::Result<()> {
/// use cairn_client::BlockingQuery;
/// use std::time::Duration;
/// let mut watch = BlockingQuery::new(Some(Duration::from_secs(60)));
/// let base = cairn_types::QueryOptions::default();
/// let client = &client;
/// loop {
///     match watch.next(&base, |o| async move { client.kv().list("app/", &o).await }).await {
///         Ok(update) if update.changed => println!("{} keys", update.value.len()),
///         Ok(_) => {}
///         Err(e) => eprintln!("watch failed, retrying: {e}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BlockingQuery {
    index: WaitIndex,
    wait: Option<Duration>,
    backoff: Backoff,
    min_interval: Duration,
    retry_delay: Option<Duration>,
    last_start: Option<Instant>,
}

impl BlockingQuery {
    /// A query blocking up to `wait` per round (`None`: the agent's default, 5 minutes), with
    /// Consul's watch backoff and at most ten rounds a second.
    pub fn new(wait: Option<Duration>) -> BlockingQuery {
        BlockingQuery {
            index: WaitIndex::new(),
            wait,
            backoff: Backoff::consul_watch(),
            min_interval: Duration::from_millis(100),
            retry_delay: None,
            last_start: None,
        }
    }

    /// Use another backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> BlockingQuery {
        self.backoff = backoff;
        self
    }

    /// Leave at least `interval` between the starts of two rounds.
    pub fn with_min_interval(mut self, interval: Duration) -> BlockingQuery {
        self.min_interval = interval;
        self
    }

    /// The current wait index.
    pub fn index(&self) -> u64 {
        self.index.get()
    }

    /// `base` with this round's `index` and `wait`.
    pub fn options(&self, base: &QueryOptions) -> QueryOptions {
        let mut opts = base.clone();
        opts.min_query_index = self.index.get();
        if self.index.get() > 0 {
            opts.max_query_time = self.wait.or(base.max_query_time);
        }
        opts
    }

    /// Run one round: wait out any backoff from a previous failure and the rate limit, call
    /// `query` with this round's options, and track the index. An error is returned to the
    /// caller (to log or give up) and makes the next round wait first.
    pub async fn next<T, F, Fut>(&mut self, base: &QueryOptions, query: F) -> Result<Update<T>>
    where
        F: FnOnce(QueryOptions) -> Fut,
        Fut: Future<Output = Result<(T, QueryMeta)>>,
    {
        if let Some(delay) = self.retry_delay.take() {
            tokio::time::sleep(delay).await;
        }
        if let Some(last) = self.last_start {
            tokio::time::sleep_until(last + self.min_interval).await;
        }
        self.last_start = Some(Instant::now());
        match query(self.options(base)).await {
            Ok((value, meta)) => {
                self.backoff.success();
                let changed = self.index.observe(meta.index);
                Ok(Update {
                    value,
                    meta,
                    changed,
                })
            }
            Err(err) => {
                self.retry_delay = Some(self.backoff.failure());
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn index_rules() {
        let mut idx = WaitIndex::new();
        assert_eq!(idx.get(), 0);
        assert!(idx.observe(10));
        assert_eq!(idx.get(), 10);
        assert!(!idx.observe(10), "same index: no change");
        assert!(idx.observe(12));
        // Backwards: reset to 0 so the next read does not block, and report a change.
        assert!(idx.observe(3));
        assert_eq!(idx.get(), 0);
        // Zero is taken as one so the next query still blocks.
        assert!(idx.observe(0));
        assert_eq!(idx.get(), 1);
        assert!(!idx.observe(0));
        assert_eq!(idx.get(), 1);
    }

    #[test]
    fn backoff_is_quadratic_and_bounded() {
        let mut b = Backoff::consul_watch();
        assert_eq!(b.failure(), Duration::from_secs(5));
        assert_eq!(b.failure(), Duration::from_secs(20));
        assert_eq!(b.failure(), Duration::from_secs(45));
        for _ in 0..100 {
            assert!(b.failure() <= Duration::from_secs(180));
        }
        assert_eq!(b.failure(), Duration::from_secs(180));
        b.success();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.failure(), Duration::from_secs(5));
    }

    #[test]
    fn options_carry_index_and_wait() {
        let mut q = BlockingQuery::new(Some(Duration::from_secs(30)));
        let base = QueryOptions {
            datacenter: "dc2".into(),
            ..QueryOptions::default()
        };
        let first = q.options(&base);
        assert_eq!(first.min_query_index, 0);
        assert_eq!(first.max_query_time, None, "first round does not block");
        q.index.observe(7);
        let next = q.options(&base);
        assert_eq!(next.min_query_index, 7);
        assert_eq!(next.max_query_time, Some(Duration::from_secs(30)));
        assert_eq!(next.datacenter, "dc2");
    }

    fn meta(index: u64) -> QueryMeta {
        QueryMeta {
            index,
            ..QueryMeta::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_instead_of_looping_hot() {
        let mut q = BlockingQuery::new(None)
            .with_backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(4)));
        let base = QueryOptions::default();
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..4 {
            let r: Result<Update<()>> = q
                .next(&base, |_| async {
                    starts.push(Instant::now() - start);
                    Err(Error::Status {
                        status: 500,
                        body: "No cluster leader".into(),
                    })
                })
                .await;
            assert!(r.is_err());
        }
        // 0, then +1 s, +4 s, +4 s (capped).
        let secs: Vec<u64> = starts.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, vec![0, 1, 5, 9]);
        // A success clears the backoff; the next round only waits for the rate limit.
        let before = Instant::now();
        let ok = q
            .next(&base, |_| async { Ok(((), meta(5))) })
            .await
            .unwrap();
        assert!(ok.changed);
        assert_eq!(Instant::now() - before, Duration::from_secs(4));
        let before = Instant::now();
        let ok = q
            .next(&base, |_| async { Ok(((), meta(5))) })
            .await
            .unwrap();
        assert!(!ok.changed);
        assert_eq!(Instant::now() - before, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn index_regression_resets_the_next_request() {
        let mut q = BlockingQuery::new(Some(Duration::from_secs(10)));
        let base = QueryOptions::default();
        let mut seen = Vec::new();
        for returned in [50u64, 60, 40, 41] {
            let update = q
                .next(&base, |opts| {
                    seen.push((opts.min_query_index, opts.max_query_time));
                    async move { Ok(((), meta(returned))) }
                })
                .await
                .unwrap();
            assert!(update.changed);
        }
        assert_eq!(
            seen,
            vec![
                (0, None),
                (50, Some(Duration::from_secs(10))),
                (60, Some(Duration::from_secs(10))),
                (0, None),
            ]
        );
    }
}
