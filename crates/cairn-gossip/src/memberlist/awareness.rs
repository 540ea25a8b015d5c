//! Lifeguard's local health awareness (`awareness.go`): a score in `0..max` that rises when our
//! probes fail without nacks or when we must refute suspicion of ourselves, and scales our probe
//! interval, so a struggling node slows down instead of accusing healthy peers.

use std::time::Duration;

/// Local health score.
#[derive(Debug, Clone)]
pub struct Awareness {
    max: i64,
    score: i64,
}

impl Awareness {
    /// A healthy node with the given maximum multiplier.
    pub fn new(max: usize) -> Self {
        Awareness {
            max: max.max(1) as i64,
            score: 0,
        }
    }

    /// Adds `delta`, clamped to `0..max`.
    pub fn apply(&mut self, delta: i64) {
        self.score = (self.score + delta).clamp(0, self.max - 1);
    }

    /// The current score (0 is healthy).
    pub fn score(&self) -> usize {
        self.score as usize
    }

    /// `timeout * (score + 1)`.
    pub fn scale(&self, timeout: Duration) -> Duration {
        timeout * (self.score as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_scales() {
        let mut a = Awareness::new(8);
        a.apply(-3);
        assert_eq!(a.score(), 0);
        a.apply(100);
        assert_eq!(a.score(), 7);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(8));
        a.apply(-2);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(6));
    }
}
