//! What hlx's runs would cost in AWS: one price table for `hlx local`'s
//! closing line and the benchmarks' cost sections.
//!
//! AWS list prices, us-east-1, as of November 2026, free tiers ignored:
//!
//! - Step Functions, Standard workflows: $0.025 per 1,000 state transitions
//!   (<https://aws.amazon.com/step-functions/pricing/>);
//! - Lambda: $0.20 per 1M requests, and on arm64 $0.0000133334 per GB-second
//!   of duration, the first tier (<https://aws.amazon.com/lambda/pricing/>);
//! - S3 Standard: $0.023 per GB-month (the first 50 TB), $0.005 per 1,000
//!   PUT requests and $0.0004 per 1,000 GET requests
//!   (<https://aws.amazon.com/s3/pricing/>).
//!
//! Lambda bills duration rounded up to the millisecond ([`billed_ms`]), at
//! the function's configured memory ([`memory_mb`]).

/// Step Functions Standard: $0.025 per 1,000 state transitions.
pub const PRICE_PER_TRANSITION: f64 = 0.025 / 1000.0;
/// Lambda: $0.20 per 1M requests.
pub const PRICE_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
/// Lambda on arm64: $0.0000133334 per GB-second.
pub const PRICE_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// S3 Standard storage: $0.023 per GB-month.
pub const PRICE_PER_S3_GB_MONTH: f64 = 0.023;
/// S3 PUT: $0.005 per 1,000 requests.
pub const PRICE_PER_S3_PUT: f64 = 0.005 / 1000.0;
/// S3 GET: $0.0004 per 1,000 requests.
pub const PRICE_PER_S3_GET: f64 = 0.0004 / 1000.0;
/// hlx's functions' memory, as deployed (`MemorySize: 128` in
/// infra/sam/template.yaml, `memorySize: 128` in infra/cdk).
pub const FUNCTION_MEMORY_MB: u32 = 128;
/// The same in GB (0.125), as Lambda prices GB-seconds.
pub const FUNCTION_MEMORY_GB: f64 = FUNCTION_MEMORY_MB as f64 / 1024.0;
/// verify-export's memory, as deployed (`MemorySize: 1024` in
/// infra/sam/template.yaml, `memorySize: 1024` in infra/cdk): it reads whole
/// exports and holds their ids.
pub const VERIFY_EXPORT_MEMORY_MB: u32 = 1024;

/// The memory `function` (`verify-export`, `check-job`, ...; with or
/// without the `hlx-` prefix) is deployed with.
pub fn memory_mb(function: &str) -> u32 {
    match function.strip_prefix("hlx-").unwrap_or(function) {
        "verify-export" => VERIFY_EXPORT_MEMORY_MB,
        _ => FUNCTION_MEMORY_MB,
    }
}

/// The milliseconds Lambda bills for an invocation that ran `ms`: rounded up
/// to a whole millisecond, at least 1.
pub fn billed_ms(ms: f64) -> f64 {
    ms.ceil().max(1.0)
}

/// One invocation of a function with [`FUNCTION_MEMORY_GB`] that ran `ms`:
/// the request and its billed duration.
pub fn invocation_dollars(ms: f64) -> f64 {
    PRICE_PER_REQUEST + billed_ms(ms) / 1000.0 * FUNCTION_MEMORY_GB * PRICE_PER_GB_SECOND_ARM64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prices_are_the_list_prices() {
        let close = |a: f64, b: f64| (a - b).abs() <= b * 1e-12;
        assert!(close(PRICE_PER_TRANSITION * 1000.0, 0.025));
        assert!(close(PRICE_PER_REQUEST * 1_000_000.0, 0.20));
        assert!(close(PRICE_PER_GB_SECOND_ARM64, 0.000_013_333_4));
        assert!(close(PRICE_PER_S3_GB_MONTH, 0.023));
        assert!(close(PRICE_PER_S3_PUT * 1000.0, 0.005));
        assert!(close(PRICE_PER_S3_GET * 1000.0, 0.0004));
        assert!(close(FUNCTION_MEMORY_GB, 0.125));
    }

    #[test]
    fn verify_export_is_priced_at_its_own_memory() {
        assert_eq!(memory_mb("verify-export"), 1024);
        assert_eq!(memory_mb("hlx-verify-export"), 1024);
        assert_eq!(memory_mb("check-job"), 128);
        assert_eq!(memory_mb("hlx-record-result"), 128);
    }

    #[test]
    fn invocations_bill_whole_milliseconds_and_at_least_one() {
        assert_eq!(billed_ms(0.2), 1.0);
        assert_eq!(billed_ms(2.2), 3.0);
        assert_eq!(billed_ms(10.0), 10.0);
        let expected = 0.000_000_2 + 0.003 * 0.125 * 0.000_013_333_4;
        assert!((invocation_dollars(2.2) - expected).abs() < 1e-18);
    }
}
