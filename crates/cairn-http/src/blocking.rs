//! Blocking-query timing: Consul's default, cap and jitter for `?wait`.

use crate::config::HttpConfig;
use cairn_types::QueryOptions;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Consul's `JitterFraction`: up to wait/16 is added to a blocking wait so that many clients
/// woken together do not come back together.
const JITTER_FRACTION: u32 = 16;

/// The final wait of a read: `?wait` capped at `max_query_time`, `default_query_time` when
/// absent or not positive, plus up to 1/16 jitter when the read blocks (`?index` > 0).
pub(crate) fn effective_wait(opts: &QueryOptions, cfg: &HttpConfig) -> Duration {
    let asked = opts.max_query_time.unwrap_or(Duration::ZERO);
    let wait = if asked > cfg.max_query_time {
        cfg.max_query_time
    } else if asked.is_zero() {
        cfg.default_query_time
    } else {
        asked
    };
    if opts.min_query_index > 0 {
        wait + random_below(wait / JITTER_FRACTION)
    } else {
        wait
    }
}

/// A uniformly-ish random duration in `[0, max)`; good enough for spreading wake-ups.
fn random_below(max: Duration) -> Duration {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    Duration::from_nanos(h.finish() % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(index: u64, wait: Option<Duration>) -> QueryOptions {
        QueryOptions {
            min_query_index: index,
            max_query_time: wait,
            ..QueryOptions::default()
        }
    }

    #[test]
    fn default_cap_and_jitter() {
        let cfg = HttpConfig::default();
        assert_eq!(
            effective_wait(&opts(0, None), &cfg),
            Duration::from_secs(300)
        );
        assert_eq!(
            effective_wait(&opts(0, Some(Duration::from_secs(3600))), &cfg),
            Duration::from_secs(600)
        );
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let w = effective_wait(&opts(5, Some(Duration::from_secs(16))), &cfg);
            assert!(
                w >= Duration::from_secs(16) && w < Duration::from_secs(17),
                "{w:?}"
            );
            seen.insert(w);
        }
        assert!(seen.len() > 1, "jitter varies");
        let capped = effective_wait(&opts(5, Some(Duration::from_secs(3600))), &cfg);
        assert!(capped >= Duration::from_secs(600) && capped < Duration::from_millis(637_500));
    }
}
