//! The read query string (`offset`, `live`, `cursor`) against a model of its rules, plus
//! the percent-encoding round trip it relies on.
#![no_main]

use durable_streams_cloudflare::protocol::percent;
use durable_streams_cloudflare::protocol::query::{Live, ReadQuery};
use durable_streams_cloudflare::protocol::StartAt;
use durable_streams_fuzz::{all_digits, percent_decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };

    let parsed = ReadQuery::parse(raw);
    match (&parsed, model(raw)) {
        (Ok(q), Ok(m)) => assert_eq!(*q, m, "{raw:?}"),
        (Err(e), Err(code)) => {
            assert_eq!(e.code().as_str(), code, "{raw:?}");
            assert_eq!(e.status(), 400);
        }
        (got, want) => panic!("{raw:?}: parser {got:?}, model {want:?}"),
    }

    // A parsed query written back in canonical form parses to the same value.
    if let Ok(q) = parsed {
        let canonical = canonical(&q);
        assert_eq!(ReadQuery::parse(&canonical).unwrap(), q, "{canonical:?}");
        // Adding a second copy of a parameter that is present must be rejected.
        if q.offset.is_some() {
            assert!(ReadQuery::parse(&format!("{raw}&offset=-1")).is_err());
        }
    }

    // Any text survives encoding as a path and decoding again, and the encoding only
    // uses characters that need no escaping.
    let encoded = percent::encode_path(raw);
    assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/:%".contains(&b)));
    assert_eq!(percent::decode(&encoded).as_deref(), Some(raw));
    assert_eq!(percent::decode(raw), percent_decode(raw), "{raw:?}");
});

/// The rules of §5.6–5.8 applied in the order they are checked: malformed or repeated
/// parameters while scanning, then the offset, then the live mode. Unknown parameters
/// are ignored; an unusable cursor counts as absent.
fn model(raw: &str) -> Result<ReadQuery, &'static str> {
    let (mut offset, mut live, mut cursor, mut rk) = (None, None, None, None);
    for pair in raw.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.find('=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, ""),
        };
        // A name that does not decode cannot be a known one, so it is ignored.
        let Some(key) = percent_decode(key) else { continue };
        let slot: &mut Option<String> = match key.as_str() {
            "offset" => &mut offset,
            "live" => &mut live,
            "cursor" => &mut cursor,
            "rk" => &mut rk,
            _ => continue,
        };
        if slot.is_some() {
            return Err("DUPLICATE_PARAMETER");
        }
        *slot = Some(percent_decode(value).ok_or("INVALID_QUERY")?);
    }
    let offset = match offset.as_deref() {
        None => None,
        Some("") => return Err("INVALID_OFFSET"),
        Some(v) => Some(StartAt::parse(v).map_err(|_| "INVALID_OFFSET")?),
    };
    let live = match live.as_deref() {
        None => Live::No,
        Some("long-poll") => Live::LongPoll,
        Some("sse") => Live::Sse,
        Some(_) => return Err("INVALID_LIVE"),
    };
    let cursor = cursor.filter(|c| all_digits(c)).and_then(|c| c.parse::<u64>().ok());
    let reader_key = match rk {
        None => None,
        Some(k)
            if (1..=128).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Some(k)
        }
        Some(_) => return Err("INVALID_READER_KEY"),
    };
    Ok(ReadQuery { offset, live, cursor, reader_key })
}

fn canonical(q: &ReadQuery) -> String {
    let mut parts = Vec::new();
    match q.offset {
        None => {}
        Some(StartAt::Beginning) => parts.push("offset=-1".to_owned()),
        Some(StartAt::Now) => parts.push("offset=now".to_owned()),
        Some(StartAt::At(o)) => parts.push(format!("offset={o}")),
    }
    if let Some(mode) = q.live.as_str() {
        parts.push(format!("live={mode}"));
    }
    if let Some(c) = q.cursor {
        parts.push(format!("cursor={c}"));
    }
    if let Some(k) = &q.reader_key {
        parts.push(format!("rk={k}"));
    }
    parts.join("&")
}
