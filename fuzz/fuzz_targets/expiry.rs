//! `Stream-TTL` and `Stream-Expires-At`: the TTL grammar and bound, RFC 3339 against an
//! independent parser, and the formatting round trip.
#![no_main]

use chrono::DateTime;
use durable_streams_cloudflare::protocol::expiry::{parse_expires_at, parse_ttl, Expiry, MAX_TTL_SECONDS};
use durable_streams_cloudflare::protocol::time::format_rfc3339_millis;
use durable_streams_fuzz::{all_digits, decimal};
use libfuzzer_sys::fuzz_target;

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const YEAR_0_MS: i64 = -62_167_219_200_000;
const YEAR_9999_END_MS: i64 = 253_402_300_799_999;
/// The largest UTC offset accepted, 23:59.
const MAX_OFFSET_MS: i64 = (23 * 60 + 59) * 60_000;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    check_ttl(s);
    check_expires_at(s);

    // The two headers exclude each other; each alone means what its parser says.
    assert!(Expiry::from_headers(Some(s), Some(s)).is_err());
    assert_eq!(Expiry::from_headers(Some(s), None).ok(), parse_ttl(s).ok().map(Expiry::Ttl));
    assert_eq!(Expiry::from_headers(None, Some(s)).ok(), parse_expires_at(s).ok().map(Expiry::At));
});

fn check_ttl(s: &str) {
    // `^(0|[1-9][0-9]*)$`, at most MAX_TTL_SECONDS.
    let canonical = all_digits(s) && (s == "0" || !s.starts_with('0'));
    let expected = decimal(s).filter(|&v| canonical && v <= u128::from(MAX_TTL_SECONDS));
    match parse_ttl(s) {
        Ok(v) => {
            assert_eq!(Some(u128::from(v)), expected, "{s:?}");
            assert_eq!(v.to_string(), s);
            // A deadline can be computed from any touch time without overflow.
            let e = Expiry::Ttl(v);
            assert!(e.deadline(i64::MAX).is_some() && e.deadline(i64::MIN).is_some());
        }
        Err(e) => {
            assert_eq!(expected, None, "{s:?} rejected");
            assert_eq!(e.code().as_str(), "INVALID_TTL");
        }
    }
}

fn check_expires_at(s: &str) {
    let Ok(ms) = parse_expires_at(s) else { return };
    assert!((YEAR_0_MS - MAX_OFFSET_MS..=YEAR_9999_END_MS + MAX_OFFSET_MS).contains(&ms), "{s:?} -> {ms}");

    // Whatever we accept, a mainstream RFC 3339 parser accepts with the same instant
    // (ours truncates to milliseconds and reads a leap second as :59).
    let leap = s.len() > 18 && &s[17..19] == "60";
    let reference = if leap { format!("{}59{}", &s[..17], &s[19..]) } else { s.to_owned() };
    let theirs = DateTime::parse_from_rfc3339(&reference)
        .unwrap_or_else(|e| panic!("{s:?} accepted by us ({ms}), rejected by chrono: {e}"));
    assert_eq!(theirs.timestamp_millis(), ms, "{s:?}");

    // Our own formatting of that instant parses back to it, within four-digit years.
    let formatted = format_rfc3339_millis(ms);
    if (YEAR_0_MS..=YEAR_9999_END_MS).contains(&ms) {
        assert_eq!(parse_expires_at(&formatted).ok(), Some(ms), "{formatted:?}");
    }
}
