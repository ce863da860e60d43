//! What a run would cost in AWS, at [`hlx_report::pricing`]'s prices.

use std::time::Duration;

use hlx_report::pricing::{
    FUNCTION_MEMORY_GB, PRICE_PER_GB_SECOND_ARM64, PRICE_PER_REQUEST, PRICE_PER_TRANSITION, billed_ms,
};

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
            seconds += billed_ms(d.as_secs_f64() * 1000.0) / 1000.0;
        }
        Self {
            transitions,
            invocations,
            gb_seconds: seconds * FUNCTION_MEMORY_GB,
        }
    }

    pub fn dollars(&self) -> f64 {
        self.transitions as f64 * PRICE_PER_TRANSITION
            + self.invocations as f64 * PRICE_PER_REQUEST
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
