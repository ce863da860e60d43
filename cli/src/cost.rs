//! What a run would cost in AWS, at [`hlx_report::pricing`]'s prices.

use std::time::Duration;

use hlx_report::pricing::{
    PRICE_PER_GB_SECOND_ARM64, PRICE_PER_REQUEST, PRICE_PER_TRANSITION, billed_ms, memory_mb,
};

/// A run's billable units and their price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCost {
    pub transitions: u64,
    pub invocations: u64,
    pub gb_seconds: f64,
}

impl RunCost {
    /// `billed` are the invocations, each its function's name and duration:
    /// rounded up to 1 ms and at the function's deployed memory, as Lambda bills.
    pub fn new<'a>(transitions: u64, billed: impl IntoIterator<Item = (&'a str, Duration)>) -> Self {
        let mut invocations = 0;
        let mut gb_seconds = 0.0;
        for (function, d) in billed {
            invocations += 1;
            gb_seconds +=
                billed_ms(d.as_secs_f64() * 1000.0) / 1000.0 * f64::from(memory_mb(function)) / 1024.0;
        }
        Self {
            transitions,
            invocations,
            gb_seconds,
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
        let cost = RunCost::new(
            40,
            [
                ("check-job", Duration::from_micros(200)),
                ("start-job", Duration::from_millis(10)),
                ("verify-export", Duration::from_millis(100)),
            ],
        );
        assert_eq!(cost.invocations, 3);
        // 1 ms and 10 ms at 128 MB, 100 ms at 1024 MB.
        let gb_seconds = 0.011 * 0.125 + 0.1 * 1.0;
        assert!((cost.gb_seconds - gb_seconds).abs() < 1e-12);
        let expected = 40.0 * 0.000_025 + 3.0 * 0.000_000_2 + gb_seconds * 0.000_013_333_4;
        assert!((cost.dollars() - expected).abs() < 1e-12);
    }
}
