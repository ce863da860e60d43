//! Order statistics of a handful of samples.

use std::time::Duration;

/// Median, p10, p90, min and max of a sample (nearest-rank percentiles).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Summary {
                median: f64::NAN,
                p10: f64::NAN,
                p90: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Summary {
            median,
            p10: percentile(&sorted, 10.0),
            p90: percentile(&sorted, 90.0),
            min: sorted[0],
            max: sorted[n - 1],
        }
    }

    /// Durations, in milliseconds.
    pub fn of_ms(durations: &[Duration]) -> Summary {
        let ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        Summary::of(&ms)
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12.3` below 100, `123` above: milliseconds as the tables print them.
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "–".into()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// `a–b`.
pub fn range(low: f64, high: f64) -> String {
    format!("{}–{}", ms(low), ms(high))
}

/// A ratio as `0.05×` (or `–` when undefined).
pub fn ratio(numerator: f64, denominator: f64) -> String {
    if !numerator.is_finite() || !denominator.is_finite() || denominator == 0.0 {
        return "–".into();
    }
    let r = numerator / denominator;
    if r < 0.1 {
        format!("{r:.3}×")
    } else if r < 10.0 {
        format!("{r:.2}×")
    } else {
        format!("{r:.0}×")
    }
}

/// Bytes as MiB or KiB.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", n / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", n / 1024.0)
    }
}

/// Seconds as `1h 02m 03s`, `4m 05s`, `42s`.
pub fn seconds(s: i64) -> String {
    let sign = if s < 0 { "-" } else { "" };
    let s = s.unsigned_abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sign}{sec}s"),
        (0, _) => format!("{sign}{m}m {sec:02}s"),
        _ => format!("{sign}{h}h {m:02}m {sec:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_one_to_twenty() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = Summary::of(&values);
        assert_eq!(s.median, 10.5);
        assert_eq!(s.p10, 2.0);
        assert_eq!(s.p90, 18.0);
        assert_eq!((s.min, s.max), (1.0, 20.0));
    }

    #[test]
    fn formats() {
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(123.4), "123");
        assert_eq!(ratio(1.0, 40.0), "0.025×");
        assert_eq!(seconds(3723), "1h 02m 03s");
        assert_eq!(seconds(65), "1m 05s");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.50 MiB");
    }
}
