//! Timestamps as hlx writes them: RFC 3339, UTC, milliseconds, fixed width,
//! so that they sort as strings (DynamoDB sort keys) and read well.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// `2026-11-24T02:00:00.000Z`.
pub fn format(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses RFC 3339 (any offset, any precision), as Step Functions writes
/// `$$.State.EnteredTime` and as hlx stores records.
pub fn parse(value: &str) -> Result<Timestamp, jiff::Error> {
    value.parse()
}

/// Whole seconds from `from` to `to`, never negative.
pub fn seconds_between(from: Timestamp, to: Timestamp) -> u64 {
    let secs = to.duration_since(from).as_secs();
    u64::try_from(secs).unwrap_or(0)
}

pub fn serialize<S: Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*ts))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// The same, for optional fields (`#[serde(with = "crate::time::option")]`).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => serializer.serialize_str(&format(*ts)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fixed_width_utc_and_parses_back() {
        let ts: Timestamp = "2026-11-24T02:00:00Z".parse().unwrap();
        assert_eq!(format(ts), "2026-11-24T02:00:00.000Z");
        let ms: Timestamp = "2026-11-24T02:00:00.5+01:00".parse().unwrap();
        assert_eq!(format(ms), "2026-11-24T01:00:00.500Z");
        assert_eq!(parse(&format(ms)).unwrap(), ms);
        assert!(format(ts) < format(ms) || ts > ms);
    }

    #[test]
    fn seconds_between_is_never_negative() {
        let a: Timestamp = "2026-11-24T02:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-11-24T03:00:30Z".parse().unwrap();
        assert_eq!(seconds_between(a, b), 3630);
        assert_eq!(seconds_between(b, a), 0);
    }
}
