//! Lifeguard's dynamic suspicion timeout (`suspicion.go`): a suspect starts with the maximum
//! timeout, and each independent confirmation from another member pulls it toward the minimum,
//! logarithmically, reaching it at `k` confirmations.

use std::collections::HashSet;
use std::time::Duration;

use crate::time::Time;

/// The suspicion state of one member.
#[derive(Debug, Clone)]
pub struct Suspicion {
    /// Confirmations so far.
    pub n: u32,
    /// Confirmations wanted to reach the minimum timeout.
    pub k: u32,
    min: Duration,
    max: Duration,
    start: Time,
    confirmations: HashSet<String>,
    /// When the member will be declared dead.
    pub deadline: Time,
}

impl Suspicion {
    /// Starts a suspicion raised by `from` (whose own gossip does not count as confirmation).
    pub fn new(from: &str, k: u32, min: Duration, max: Duration, now: Time) -> Self {
        let mut confirmations = HashSet::new();
        confirmations.insert(from.to_string());
        let timeout = if k < 1 { min } else { max };
        Suspicion {
            n: 0,
            k,
            min,
            max,
            start: now,
            confirmations,
            deadline: now + timeout,
        }
    }

    /// Registers a confirmation from `from`. Returns true if it was new information (worth
    /// re-gossiping); the deadline may move earlier.
    pub fn confirm(&mut self, from: &str) -> bool {
        if self.n >= self.k {
            return false;
        }
        if !self.confirmations.insert(from.to_string()) {
            return false;
        }
        self.n += 1;
        let timeout = remaining_timeout(self.n, self.k, self.min, self.max);
        self.deadline = self.start + timeout;
        true
    }
}

/// The total suspicion timeout after `n` of `k` confirmations:
/// `max - (max - min) * log(n + 1) / log(k + 1)`, floored at `min`, truncated to milliseconds.
pub fn remaining_timeout(n: u32, k: u32, min: Duration, max: Duration) -> Duration {
    let frac = ((n as f64) + 1.0).ln() / ((k as f64) + 1.0).ln();
    let raw = max.as_secs_f64() - frac * (max.as_secs_f64() - min.as_secs_f64());
    let timeout = Duration::from_millis((1000.0 * raw).floor().max(0.0) as u64);
    timeout.max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_shrink_timeout_to_min() {
        let min = Duration::from_secs(2);
        let max = Duration::from_secs(30);
        let mut s = Suspicion::new("me", 3, min, max, Time::ZERO);
        assert_eq!(s.deadline, Time::ZERO + max);
        assert!(!s.confirm("me"), "the accuser does not confirm itself");
        assert!(s.confirm("a"));
        assert!(!s.confirm("a"), "one confirmation per peer");
        let after_one = s.deadline;
        assert!(after_one < Time::ZERO + max && after_one > Time::ZERO + min);
        assert!(s.confirm("b"));
        assert!(s.confirm("c"));
        assert_eq!(s.deadline, Time::ZERO + min);
        assert!(!s.confirm("d"), "no more once k reached");
        // Matches memberlist's remainingSuspicionTime for n=1, k=3: 30 - 28 * ln2/ln4 = 16s.
        assert_eq!(remaining_timeout(1, 3, min, max), Duration::from_secs(16));
        let zero_k = Suspicion::new("x", 0, min, max, Time::ZERO);
        assert_eq!(zero_k.deadline, Time::ZERO + min);
    }
}
