//! JSON mode appends: validation and one-level flattening into stored `value,` runs,
//! compared against serde_json's own reading of the body; and message boundary scanning
//! on arbitrary bytes.
#![no_main]

use durable_streams_cloudflare::protocol::json::{encode_body, message_ends, to_array};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    // Boundary scanning must cope with anything (stored data is trusted, but a bug
    // elsewhere must not turn into a panic here).
    let ends = message_ends(body);
    assert!(ends.windows(2).all(|w| w[0] < w[1]));
    assert!(ends.iter().all(|&e| e >= 1 && e <= body.len() && body[e - 1] == b','));
    let framed = to_array(body);
    assert_eq!(framed.len(), body.strip_suffix(b",").unwrap_or(body).len() + 2);

    let strict = encode_body(body, false);
    let lenient = encode_body(body, true);
    // Valid means UTF-8 (RFC 8259 §8.1) and JSON syntax; serde_json's syntax check alone
    // does not look inside strings for UTF-8.
    let syntax_ok = std::str::from_utf8(body)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    assert_eq!(lenient.is_ok(), syntax_ok, "{:?}", String::from_utf8_lossy(body));

    let Ok((wire, count)) = lenient else {
        assert!(strict.is_err());
        return;
    };
    match &strict {
        Ok(s) => assert_eq!(s, &(wire.clone(), count)),
        Err(e) => {
            assert_eq!(count, 0);
            assert_eq!(e.code().as_str(), "EMPTY_JSON_ARRAY");
        }
    }
    check_wire(body, &wire, count);
});

fn check_wire(body: &[u8], wire: &[u8], count: usize) {
    assert!(wire.is_empty() || wire.ends_with(b","));
    assert!(!has_insignificant_whitespace(wire), "{:?}", String::from_utf8_lossy(wire));

    // The scanner finds exactly one boundary per stored message.
    let ends = message_ends(wire);
    assert_eq!(ends.len(), count);
    assert_eq!(ends.last().copied().unwrap_or(0), wire.len());

    // The expected messages: the array's items, or the single value. Values nested too
    // deep or with numbers serde_json cannot hold are only checked structurally.
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return };
    let expected = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    assert_eq!(expected.len(), count);

    // The whole run framed as a response body, and every single message framed alone.
    let Some(all) = parse_framed(&to_array(wire)) else { return };
    assert_eq!(all, expected);
    let mut start = 0;
    for (end, want) in ends.iter().zip(&expected) {
        let one = parse_framed(&to_array(&wire[start..*end])).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(&one[0], want);
        start = *end;
    }
}

/// Parses a framed read body. The brackets add a nesting level, which can take a body
/// that was just within serde_json's depth limit over it: `None` then.
fn parse_framed(framed: &[u8]) -> Option<Vec<Value>> {
    match serde_json::from_slice(framed) {
        Ok(values) => Some(values),
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => None,
        Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(framed)),
    }
}

/// Whether any JSON whitespace lies outside a string literal.
fn has_insignificant_whitespace(json: &[u8]) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return true;
        }
    }
    false
}
