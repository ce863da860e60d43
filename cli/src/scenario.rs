//! The knobs of a local run, parsed from the command line.

use std::collections::BTreeMap;
use std::time::Duration;

/// `90s`, `10m`, `3h`, `1h30m`, `2d`: a duration as people write it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a duration is required, like 90s, 10m, 3h or 1h30m".into());
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{text:?}: unknown unit {c:?} (use s, m, h or d)")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: a number must come before {c:?}"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("{text:?}: the last number has no unit (s, m, h or d)"));
    }
    Ok(Duration::from_secs(total))
}

/// `Patient=100,Observation=500`.
pub fn parse_resources(text: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut counts = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, count) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected ResourceType=count"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("{part:?}: the count must be a whole number"))?;
        counts.insert(kind.trim().to_owned(), count);
    }
    if counts.is_empty() {
        return Err("no resource counts given".into());
    }
    Ok(counts)
}

/// `5s..60s` (a range of delays) or `30s` (a fixed one).
pub fn parse_delay_range(text: &str) -> Result<std::ops::Range<Duration>, String> {
    let (min, max) = match text.split_once("..") {
        Some((min, max)) => (parse_duration(min)?, parse_duration(max)?),
        None => {
            let fixed = parse_duration(text)?;
            (fixed, fixed)
        }
    };
    if min > max {
        return Err(format!("{text:?}: the minimum is above the maximum"));
    }
    Ok(min..max)
}

/// A rate from 0.0 to 1.0.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{text:?}: a rate is a number from 0.0 to 1.0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_delays_are_a_range_or_one_value() {
        let secs = Duration::from_secs;
        assert_eq!(parse_delay_range("5s..60s").unwrap(), secs(5)..secs(60));
        assert_eq!(parse_delay_range("2m").unwrap(), secs(120)..secs(120));
        assert!(
            parse_delay_range("1m..5s")
                .unwrap_err()
                .contains("above the maximum")
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("3w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn resources_and_rates_are_checked() {
        let counts = parse_resources("Patient=3, Observation=7").unwrap();
        assert_eq!(counts["Patient"], 3);
        assert_eq!(counts["Observation"], 7);
        assert!(parse_resources("Patient").is_err());
        assert!(parse_resources("Patient=x").is_err());
        assert_eq!(parse_rate("0.5").unwrap(), 0.5);
        assert!(parse_rate("1.5").is_err());
    }
}
