//! `success_before_passing`, `failures_before_warning` and `failures_before_critical`, exactly
//! as Consul's `StatusHandler` applies them.

use cairn_types::CheckStatus;

/// Counts consecutive successes and failures of one running check and decides which results
/// reach the check's status.
///
/// Consul's rules: a `passing` or `warning` result is a success; it resets the failure count
/// and is reported once `success_before_passing` consecutive successes were seen. A `critical`
/// result is a failure; it resets the success count and is reported as `critical` once
/// `failures_before_critical` consecutive failures were seen, else as `warning` once
/// `failures_before_warning` were seen (which defaults to `failures_before_critical`). Both
/// counters start at their thresholds, so the very first result is reported unfiltered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    successes: u32,
    failures: u32,
}

impl Thresholds {
    /// Thresholds as written in a check definition (zero means "no threshold"; a zero
    /// `failures_before_warning` takes the value of `failures_before_critical`).
    pub fn new(
        success_before_passing: u32,
        failures_before_warning: u32,
        failures_before_critical: u32,
    ) -> Self {
        let failures_before_warning = if failures_before_warning == 0 {
            failures_before_critical
        } else {
            failures_before_warning
        };
        Thresholds {
            success_before_passing,
            failures_before_warning,
            failures_before_critical,
            successes: success_before_passing,
            failures: failures_before_critical,
        }
    }

    /// Feeds one result; returns the status to report, or `None` while a threshold holds it
    /// back.
    pub fn observe(&mut self, status: CheckStatus) -> Option<CheckStatus> {
        match status {
            CheckStatus::Passing | CheckStatus::Warning => {
                self.successes = self.successes.saturating_add(1);
                self.failures = 0;
                (self.successes >= self.success_before_passing).then_some(status)
            }
            CheckStatus::Critical | CheckStatus::Maintenance => {
                self.failures = self.failures.saturating_add(1);
                self.successes = 0;
                if self.failures >= self.failures_before_critical {
                    Some(status)
                } else if self.failures >= self.failures_before_warning {
                    Some(CheckStatus::Warning)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckStatus::{Critical as C, Passing as P, Warning as W};

    fn run(t: &mut Thresholds, inputs: &[CheckStatus]) -> Vec<Option<CheckStatus>> {
        inputs.iter().map(|s| t.observe(*s)).collect()
    }

    #[test]
    fn no_thresholds_report_everything() {
        let mut t = Thresholds::new(0, 0, 0);
        assert_eq!(
            run(&mut t, &[P, C, W, C, P]),
            vec![Some(P), Some(C), Some(W), Some(C), Some(P)]
        );
    }

    #[test]
    fn first_result_is_reported_whatever_the_thresholds() {
        for (s, w, c) in [(3, 0, 0), (0, 1, 3), (0, 2, 2), (2, 1, 3)] {
            let mut t = Thresholds::new(s, w, c);
            assert_eq!(t.observe(P), Some(P), "passing first with {s}/{w}/{c}");
            let mut t = Thresholds::new(s, w, c);
            assert_eq!(t.observe(C), Some(C), "critical first with {s}/{w}/{c}");
        }
    }

    #[test]
    fn success_before_passing_needs_consecutive_successes() {
        let mut t = Thresholds::new(3, 0, 0);
        assert_eq!(t.observe(C), Some(C));
        assert_eq!(run(&mut t, &[P, P]), vec![None, None]);
        assert_eq!(t.observe(P), Some(P));
        // A failure resets the success count.
        assert_eq!(
            run(&mut t, &[C, P, P, C, P, P, P]),
            vec![Some(C), None, None, Some(C), None, None, Some(P)]
        );
        // Warnings count as successes and are held back the same way.
        assert_eq!(t.observe(C), Some(C));
        assert_eq!(run(&mut t, &[W, P, W]), vec![None, None, Some(W)]);
    }

    #[test]
    fn failures_before_critical_alone_holds_back_everything_below() {
        let mut t = Thresholds::new(0, 0, 3);
        assert_eq!(t.observe(P), Some(P));
        // Warning threshold defaults to the critical one: nothing until the third failure.
        assert_eq!(
            run(&mut t, &[C, C, C, C]),
            vec![None, None, Some(C), Some(C)]
        );
        // A success resets the failure count.
        assert_eq!(
            run(&mut t, &[P, C, C, P, C, C, C]),
            vec![Some(P), None, None, Some(P), None, None, Some(C)]
        );
    }

    #[test]
    fn failures_before_warning_reports_warning_first() {
        let mut t = Thresholds::new(0, 1, 3);
        assert_eq!(t.observe(P), Some(P));
        assert_eq!(
            run(&mut t, &[C, C, C, C]),
            vec![Some(W), Some(W), Some(C), Some(C)]
        );
        let mut t = Thresholds::new(0, 2, 4);
        assert_eq!(t.observe(P), Some(P));
        assert_eq!(
            run(&mut t, &[C, C, C, C, C]),
            vec![None, Some(W), Some(W), Some(C), Some(C)]
        );
        // Equal thresholds: straight to critical.
        let mut t = Thresholds::new(0, 2, 2);
        assert_eq!(t.observe(P), Some(P));
        assert_eq!(run(&mut t, &[C, C]), vec![None, Some(C)]);
    }

    #[test]
    fn warning_threshold_above_critical_never_warns() {
        // Validation forbids it, but the handler must still behave: critical wins.
        let mut t = Thresholds::new(0, 5, 2);
        assert_eq!(t.observe(P), Some(P));
        assert_eq!(run(&mut t, &[C, C, C]), vec![None, Some(C), Some(C)]);
    }

    #[test]
    fn all_thresholds_together() {
        let mut t = Thresholds::new(2, 1, 3);
        assert_eq!(t.observe(P), Some(P));
        assert_eq!(run(&mut t, &[C, C, C]), vec![Some(W), Some(W), Some(C)]);
        assert_eq!(run(&mut t, &[P, P]), vec![None, Some(P)]);
        assert_eq!(
            run(&mut t, &[C, P, C, C]),
            vec![Some(W), None, Some(W), Some(W)]
        );
    }

    #[test]
    fn exhaustive_small_combinations_follow_the_rules() {
        // Every threshold combination up to 3 against every 5-long result sequence, compared
        // with a direct restatement of Consul's counters.
        let statuses = [P, W, C];
        for s in 0..=3u32 {
            for w in 0..=3u32 {
                for c in 0..=3u32 {
                    for seq in 0..3u32.pow(5) {
                        let mut t = Thresholds::new(s, w, c);
                        let eff_w = if w == 0 { c } else { w };
                        let (mut succ, mut fail) = (s, c);
                        let mut n = seq;
                        for _ in 0..5 {
                            let st = statuses[(n % 3) as usize];
                            n /= 3;
                            let expected = if st == C {
                                fail += 1;
                                succ = 0;
                                if fail >= c {
                                    Some(C)
                                } else if fail >= eff_w {
                                    Some(W)
                                } else {
                                    None
                                }
                            } else {
                                succ += 1;
                                fail = 0;
                                (succ >= s).then_some(st)
                            };
                            assert_eq!(t.observe(st), expected, "{s}/{w}/{c} seq {seq}");
                        }
                    }
                }
            }
        }
    }
}
