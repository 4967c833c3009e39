//! RFC 3339 timestamps, converted to and from milliseconds since the Unix epoch.
//!
//! The calendar is the `time` crate's; the wrappers keep the protocol's own rules.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: what four-digit years can write.
const FIRST_MS: i64 = -62_167_219_200_000;
const LAST_MS: i64 = 253_402_300_799_999;

/// Parses an RFC 3339 `date-time` (for example `2026-01-02T03:04:05.678+01:00`) into
/// milliseconds since the Unix epoch. Fractions beyond milliseconds are truncated.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // `time` skips any one byte between date and time; RFC 3339 names `T`, `t` and (§5.6) space.
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    // A leap second reads as :59 at any time of day, keeping its fraction; `time` takes :60
    // only at a UTC month end, and as 59.999999999.
    let t = if b.get(17..19) == Some(b"60") {
        OffsetDateTime::parse(&format!("{}59{}", &s[..17], &s[19..]), &Rfc3339)
    } else {
        OffsetDateTime::parse(s, &Rfc3339)
    };
    let t = t.ok()?;
    Some(t.unix_timestamp() * 1000 + i64::from(t.millisecond()))
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`. An instant
/// outside years 0000–9999 (reachable only through an offset at the very edge) is written
/// as the nearest one inside, so the result is always RFC 3339.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let ms = ms.clamp(FIRST_MS, LAST_MS);
    // Always in range after the clamp. The layout is fixed-width milliseconds, which the
    // crate's `Rfc3339` formatter (it trims the fraction) does not write.
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (year, month, day) = (t.year(), u8::from(t.month()), t.day());
    let (h, m, s, milli) = (t.hour(), t.minute(), t.second(), ms.rem_euclid(1000));
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00.5Z"), Some(500));
        assert_eq!(parse_rfc3339_millis("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_millis("2024-10-09T00:00:00.000+00:00"), Some(1_728_432_000_000));
        assert_eq!(parse_rfc3339_millis("2000-02-29T12:00:00.123456Z"), Some(951_825_600_123));
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "not-a-timestamp",
            "2024-10-09",
            "2024-10-09T00:00:00",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-10-09T24:00:00Z",
            "2024-10-09T00:00:00.Z",
            "2024-10-09T00:00:00+0100",
            "2024-10-09T00:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn keeps_the_protocol_rules_over_the_crates() {
        // Separators: `T`, `t` or a space, nothing else.
        assert_eq!(parse_rfc3339_millis("1970-01-01 00:00:00z"), Some(0));
        assert_eq!(parse_rfc3339_millis("1970-01-01t00:00:00-00:00"), Some(0));
        assert_eq!(parse_rfc3339_millis("1970-01-01x00:00:00Z"), None);
        // A leap second is :59 at any time, fraction kept; :61 is not a second.
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:60.5Z"), Some(59_500));
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:61Z"), None);
        // Offsets up to 23:59; the instant may leave four-digit years.
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00+24:00"), None);
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00+00:60"), None);
        assert_eq!(parse_rfc3339_millis("9999-12-31T23:59:59.999-23:59"), Some(LAST_MS + 86_340_000));
        assert_eq!(parse_rfc3339_millis("0000-01-01T00:00:00+23:59"), Some(FIRST_MS - 86_340_000));
        // Many fraction digits are truncated, never rounded.
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00.99999999999999999999Z"), Some(999));
    }

    #[test]
    fn formats_any_instant_within_four_digit_years() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_rfc3339_millis(FIRST_MS), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            prop_assert_eq!(parse_rfc3339_millis(&format_rfc3339_millis(ms)), Some(ms));
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = parse_rfc3339_millis(&s);
        }
    }
}
