//! `offset` values: the textual grammar, and the integer <-> text round trip.
#![no_main]

use durable_streams_cloudflare::protocol::offset::{MAX_POSITION, OFFSET_DIGITS};
use durable_streams_cloudflare::protocol::{Offset, StartAt};
use durable_streams_fuzz::all_digits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_text(s);
    }
    // The same bytes read as two integers: any offset the server builds must print in
    // the wire form and parse back to itself, and text order must be log order.
    if data.len() >= 32 {
        let word = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap());
        let a = Offset::in_segment(word(0), word(8));
        let b = Offset::in_segment(word(16), word(24));
        for o in [a, b] {
            assert!(o.read_seq() <= MAX_POSITION && o.position() <= MAX_POSITION);
            let text = o.to_string();
            assert_eq!(text.len(), 2 * OFFSET_DIGITS + 1);
            assert_eq!(text.parse::<Offset>().unwrap(), o);
        }
        assert_eq!(a.to_string().cmp(&b.to_string()), a.cmp(&b));
    }
});

fn check_text(s: &str) {
    let parsed = StartAt::parse(s);
    // The grammar, written out independently of the parser.
    let wire_form = s.len() == 2 * OFFSET_DIGITS + 1
        && s.as_bytes()[OFFSET_DIGITS] == b'_'
        && all_digits(&s[..OFFSET_DIGITS])
        && all_digits(&s[OFFSET_DIGITS + 1..]);
    match parsed {
        Ok(StartAt::Beginning) => assert_eq!(s, "-1"),
        Ok(StartAt::Now) => assert_eq!(s, "now"),
        Ok(StartAt::At(o)) => {
            assert!(wire_form, "accepted {s:?}");
            // An accepted offset re-formats to exactly the text it came from.
            assert_eq!(o.to_string(), s);
            assert_eq!(o.read_seq(), s[..OFFSET_DIGITS].parse::<u64>().unwrap());
            assert_eq!(o.position(), s[OFFSET_DIGITS + 1..].parse::<u64>().unwrap());
            assert_eq!(StartAt::At(o).position(u64::MAX), o.position());
        }
        Err(e) => {
            assert!(!wire_form && s != "-1" && s != "now", "rejected {s:?}");
            assert_eq!(e.status(), 400);
            assert_eq!(e.code().as_str(), "INVALID_OFFSET");
        }
    }
    assert_eq!(s.parse::<Offset>().is_ok(), wire_form);
}
