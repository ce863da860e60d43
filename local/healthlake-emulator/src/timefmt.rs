//! Times on the FHIR REST surface: HealthLake's status-body format and the
//! ISO-8601 instants of `_since` / `_until`.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A time as HealthLake's FHIR REST status body shows it, in UTC:
/// `Aug 26, 2023 1:46:56 PM` (month abbreviation, no leading zero on the day
/// or the hour, 12-hour clock).
pub fn format_healthlake_time(ts: Timestamp) -> String {
    ts.strftime("%b %-d, %Y %-I:%M:%S %p").to_string()
}

/// An ISO-8601 instant, leniently: `2023-08-26T13:46:56Z`, with or without
/// fractional seconds, `Z` or an offset (`+02:00`, `+0200`; a space where a
/// URL-decoded `+` was is taken as `+`), no offset (UTC), or a bare date
/// (midnight UTC).
pub fn parse_fhir_instant(text: &str) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    let fixed = match trimmed.find('T') {
        // A `+` decoded as a space (form encoding) in the offset.
        Some(t) => {
            let (date, time) = trimmed.split_at(t);
            format!("{date}{}", time.replace(' ', "+"))
        }
        None => trimmed.to_owned(),
    };
    if let Ok(ts) = fixed.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = fixed.parse::<DateTime>()
        && fixed.contains('T')
        && let Ok(zoned) = dt.to_zoned_datetime(TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    if !fixed.contains('T')
        && let Ok(date) = fixed.parse::<Date>()
        && let Ok(zoned) = date.to_zoned_datetime(TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    Err(format!("'{text}' is not an ISO-8601 instant"))
}

/// FHIR `instant` with milliseconds in UTC: `2023-08-26T13:46:56.000Z`.
pub(crate) fn iso_millis(ts: Timestamp) -> String {
    crate::fhir::instant(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn healthlake_times_have_no_leading_zeros_and_a_12_hour_clock() {
        assert_eq!(
            format_healthlake_time(ts("2023-08-26T13:46:56Z")),
            "Aug 26, 2023 1:46:56 PM"
        );
        assert_eq!(
            format_healthlake_time(ts("2023-01-05T00:07:09.999Z")),
            "Jan 5, 2023 12:07:09 AM"
        );
        assert_eq!(
            format_healthlake_time(ts("2024-12-31T12:00:00Z")),
            "Dec 31, 2024 12:00:00 PM"
        );
        assert_eq!(
            format_healthlake_time(ts("2024-03-01T09:30:00Z")),
            "Mar 1, 2024 9:30:00 AM"
        );
        assert_eq!(
            format_healthlake_time(ts("2026-09-10T11:59:59.5Z")),
            "Sep 10, 2026 11:59:59 AM"
        );
        // Every hour of a day, against the hand-written format jiff's replaced.
        for hour in 0..24 {
            let twelve = match hour % 12 {
                0 => 12,
                h => h,
            };
            let half = if hour < 12 { "AM" } else { "PM" };
            assert_eq!(
                format_healthlake_time(ts(&format!("2023-11-07T{hour:02}:05:09Z"))),
                format!("Nov 7, 2023 {twelve}:05:09 {half}")
            );
        }
    }

    #[test]
    fn instants_parse_leniently() {
        let want = ts("2023-08-26T13:46:56Z");
        for text in [
            "2023-08-26T13:46:56Z",
            "2023-08-26T13:46:56.000Z",
            "2023-08-26T15:46:56+02:00",
            "2023-08-26T15:46:56 02:00",
            "2023-08-26T13:46:56",
            "2023-08-26T08:46:56.000-05:00",
        ] {
            assert_eq!(parse_fhir_instant(text), Ok(want), "{text}");
        }
        assert_eq!(
            parse_fhir_instant("2023-08-26T13:46:56.123Z")
                .unwrap()
                .as_millisecond()
                % 1000,
            123
        );
        assert_eq!(parse_fhir_instant("2023-08-26"), Ok(ts("2023-08-26T00:00:00Z")));
        assert!(parse_fhir_instant("yesterday").is_err());
        assert!(parse_fhir_instant("2023-13-26T00:00:00Z").is_err());
        assert_eq!(iso_millis(want), "2023-08-26T13:46:56.000Z");
    }
}
