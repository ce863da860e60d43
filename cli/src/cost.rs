//! What a run would cost in AWS (us-east-1 list prices, November 2026).

use std::time::Duration;

/// Step Functions Standard: $0.025 per 1,000 state transitions.
pub const PRICE_PER_TRANSITION: f64 = 0.025 / 1000.0;
/// Lambda: $0.20 per million requests.
pub const PRICE_PER_INVOCATION: f64 = 0.20 / 1_000_000.0;
/// Lambda on arm64: $0.0000133334 per GB-second.
pub const PRICE_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// The functions' memory in GB (128 MB).
pub const FUNCTION_MEMORY_GB: f64 = 0.125;

/// A run's billable units and their price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCost {
    pub transitions: u64,
    pub invocations: u64,
    pub gb_seconds: f64,
}

impl RunCost {
    /// `billed` are the invocations' durations, each rounded up to 1 ms as Lambda bills.
    pub fn new(transitions: u64, billed: impl IntoIterator<Item = Duration>) -> Self {
        let mut invocations = 0;
        let mut seconds = 0.0;
        for d in billed {
            invocations += 1;
            seconds += (d.as_secs_f64() * 1000.0).ceil().max(1.0) / 1000.0;
        }
        Self {
            transitions,
            invocations,
            gb_seconds: seconds * FUNCTION_MEMORY_GB,
        }
    }

    pub fn dollars(&self) -> f64 {
        self.transitions as f64 * PRICE_PER_TRANSITION
            + self.invocations as f64 * PRICE_PER_INVOCATION
            + self.gb_seconds * PRICE_PER_GB_SECOND_ARM64
    }
}

/// `3h 05m`, `2m 05s`, `42s`.
pub fn human(duration: Duration) -> String {
    hlx_core::job::human_duration(duration.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counts_transitions_requests_and_rounded_gb_seconds() {
        let cost = RunCost::new(40, [Duration::from_micros(200), Duration::from_millis(10)]);
        assert_eq!(cost.invocations, 2);
        assert!((cost.gb_seconds - 0.011 * 0.125).abs() < 1e-12);
        let expected = 40.0 * 0.000_025 + 2.0 * 0.000_000_2 + 0.011 * 0.125 * 0.000_013_333_4;
        assert!((cost.dollars() - expected).abs() < 1e-12);
    }
}
