//! A cheap per-thread random generator for shuffling answers (not for anything secret).

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded from the OS once per thread; mixing in the thread's stack address
    // keeps threads apart even if the keys were shared.
    let mut h = RandomState::new().build_hasher();
    let marker = 0u8;
    h.write_usize(&marker as *const u8 as usize);
    h.finish() | 1
}

/// Next pseudo-random number (xorshift64*).
pub(crate) fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A number in `0..bound` (`bound > 0`), with negligible bias for small bounds.
pub(crate) fn below(bound: usize) -> usize {
    (((next_u64() >> 32) * bound as u64) >> 32) as usize
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(i + 1);
        items.swap(i, j);
    }
}

/// Shuffles only the first `k` positions: a uniformly random ordered pick of `k` items,
/// in O(k). The rest stays in its original order.
pub(crate) fn shuffle_prefix<T>(items: &mut [T], k: usize) {
    let n = items.len();
    if k >= n {
        shuffle(items);
        return;
    }
    for i in 0..k {
        let j = i + below(n - i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = below(7);
            assert!(v < 7);
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn shuffle_prefix_picks_every_item_sometimes() {
        let mut first_seen = [false; 20];
        for _ in 0..2000 {
            let mut v: Vec<usize> = (0..20).collect();
            shuffle_prefix(&mut v, 3);
            first_seen[v[0]] = true;
            let mut sorted = v.clone();
            sorted.sort();
            assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        }
        assert!(first_seen.iter().all(|s| *s));
    }

    #[test]
    fn shuffle_permutes() {
        let mut v: Vec<u32> = (0..50).collect();
        shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted, "50 elements staying in order is a 1/50! event");
    }
}
