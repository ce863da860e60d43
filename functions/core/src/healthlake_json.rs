//! Reading HealthLake's JSON answers leniently: members in camelCase or
//! PascalCase, times as HealthLake's REST API writes them.

use jiff::Timestamp;
use serde_json::Value;

/// `name` in camelCase, or in PascalCase as the SDK shapes spell it.
pub fn member<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.get(name).or_else(|| {
        let mut chars = name.chars();
        let pascal: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        value.get(pascal)
    })
}

/// A time as HealthLake writes it in REST answers: `"Aug 26, 2023 1:46:56 PM"`
/// (UTC), RFC 3339, or epoch seconds.
pub fn parse_healthlake_time(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(n) => {
            let millis = (n.as_f64()? * 1000.0).round();
            Timestamp::from_millisecond(millis as i64).ok()
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(ts) = s.parse::<Timestamp>() {
                return Some(ts);
            }
            for format in [
                "%b %d, %Y %I:%M:%S %p",
                "%b %d, %Y, %I:%M:%S %p",
                "%b %d, %Y %H:%M:%S",
            ] {
                if let Ok(dt) = jiff::civil::DateTime::strptime(format, s) {
                    return jiff::tz::TimeZone::UTC.to_timestamp(dt).ok();
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn healthlake_times_parse_leniently() {
        let at = |s: &str| parse_healthlake_time(&json!(s)).map(crate::time::format);
        assert_eq!(
            at("Aug 26, 2023 1:46:56 PM").as_deref(),
            Some("2023-08-26T13:46:56.000Z")
        );
        assert_eq!(
            at("Aug 6, 2023 12:05:00 AM").as_deref(),
            Some("2023-08-06T00:05:00.000Z")
        );
        assert_eq!(
            at("2023-08-26T13:46:56.5Z").as_deref(),
            Some("2023-08-26T13:46:56.500Z")
        );
        assert_eq!(
            parse_healthlake_time(&json!(1_693_057_616.0))
                .map(crate::time::format)
                .as_deref(),
            Some("2023-08-26T13:46:56.000Z")
        );
        assert_eq!(at("yesterday"), None);
    }
}
