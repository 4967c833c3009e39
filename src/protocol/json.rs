//! JSON mode (§9.1): validating and flattening appends, and framing reads.
//!
//! A JSON stream stores each message as its compact JSON text followed by a comma, so
//! the stored log is a run of `value,` items. A byte range of the log that starts and
//! ends on message boundaries becomes a response body by dropping the last comma and
//! adding brackets, and a read across a fork boundary is a plain concatenation.

use crate::protocol::ErrorCode;
use serde_json::value::RawValue;

use super::ProtocolError;

/// Validates a JSON body and converts it to stored form. A top-level array is flattened
/// one level; any other value is one message. Returns the stored bytes and the number
/// of messages. An empty array is an error unless `allow_empty` (PUT allows it).
pub fn encode_body(body: &[u8], allow_empty: bool) -> Result<(Vec<u8>, usize), ProtocolError> {
    let value: &RawValue = serde_json::from_slice(body).map_err(invalid_json)?;
    let text = value.get();
    let mut wire = Vec::with_capacity(text.len() + 1);
    if text.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid_json)?;
        if items.is_empty() && !allow_empty {
            return Err(ProtocolError::new(
                ErrorCode::EmptyJsonArray,
                "an append must contain at least one JSON value",
            ));
        }
        for item in &items {
            push_compact(&mut wire, item.get().as_bytes());
            wire.push(b',');
        }
        Ok((wire, items.len()))
    } else {
        push_compact(&mut wire, text.as_bytes());
        wire.push(b',');
        Ok((wire, 1))
    }
}

fn invalid_json(e: serde_json::Error) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidJson, format!("body is not valid JSON: {e}"))
}

/// Tracks whether the bytes of valid JSON text lie inside a string literal.
#[derive(Default)]
struct StringTracker {
    in_string: bool,
    escaped: bool,
}

impl StringTracker {
    /// Feeds one byte; true if it belongs to a string literal (quotes included).
    fn feed(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            true
        } else {
            self.in_string = b == b'"';
            self.in_string
        }
    }
}

/// Appends `json` (already validated) without insignificant whitespace.
fn push_compact(out: &mut Vec<u8>, json: &[u8]) {
    let mut strings = StringTracker::default();
    for &b in json {
        if strings.feed(b) || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
}

/// The end (exclusive) of each whole message in `wire`, a run of stored `value,` items
/// that starts on a message boundary. A trailing partial message is not reported.
pub fn message_ends(wire: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut depth = 0usize;
    let mut strings = StringTracker::default();
    for (i, &b) in wire.iter().enumerate() {
        if strings.feed(b) {
            continue;
        }
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => ends.push(i + 1),
            _ => {}
        }
    }
    ends
}

/// Wraps stored messages as a JSON array: `v1,v2,` becomes `[v1,v2]`.
pub fn to_array(wire: &[u8]) -> Vec<u8> {
    let inner = wire.strip_suffix(b",").unwrap_or(wire);
    let mut out = Vec::with_capacity(inner.len() + 2);
    out.push(b'[');
    out.extend_from_slice(inner);
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wire(body: &str) -> String {
        String::from_utf8(encode_body(body.as_bytes(), false).unwrap().0).unwrap()
    }

    #[test]
    fn arrays_flatten_exactly_one_level() {
        assert_eq!(wire("[1, 2]"), "1,2,");
        assert_eq!(wire("[[1,2],[3,4]]"), "[1,2],[3,4],");
        assert_eq!(wire("[[[1,2,3]]]"), "[[1,2,3]],");
        assert_eq!(wire(r#"{"a": 1}"#), r#"{"a":1},"#);
        assert_eq!(wire(" \"x y\" "), "\"x y\",");
    }

    #[test]
    fn whitespace_inside_strings_is_kept() {
        assert_eq!(wire(r#"[ "a \" b ,", { "k" : "v\n" } ]"#), r#""a \" b ,",{"k":"v\n"},"#);
    }

    #[test]
    fn invalid_json_and_empty_arrays_are_rejected() {
        assert!(encode_body(b"{", false).is_err());
        assert!(encode_body(b"[1,]", false).is_err());
        assert!(encode_body(b"", false).is_err());
        assert!(encode_body(b"\xff", false).is_err());
        assert!(encode_body(b"[]", false).is_err());
        assert_eq!(encode_body(b"[]", true).unwrap(), (Vec::new(), 0));
    }

    #[test]
    fn message_ends_skip_nested_and_quoted_commas() {
        let w = br#"{"a":[1,2]},"x,y",3,"#;
        assert_eq!(message_ends(w), vec![12, 18, 20]);
        assert_eq!(message_ends(b"1,2"), vec![2]);
    }

    #[test]
    fn reads_are_framed_as_arrays() {
        assert_eq!(to_array(b"1,2,"), b"[1,2]");
        assert_eq!(to_array(b""), b"[]");
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z,\\[\"]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn stored_batches_read_back_as_the_flattened_values(items in prop::collection::vec(json_value(), 1..6)) {
            let body = serde_json::to_vec_pretty(&items).unwrap();
            let (w, n) = encode_body(&body, false).unwrap();
            prop_assert_eq!(n, items.len());
            prop_assert_eq!(message_ends(&w).len(), items.len());
            let back: Vec<serde_json::Value> = serde_json::from_slice(&to_array(&w)).unwrap();
            prop_assert_eq!(back, items);
        }

        #[test]
        fn every_message_boundary_splits_into_valid_arrays(items in prop::collection::vec(json_value(), 1..6)) {
            let (w, _) = encode_body(&serde_json::to_vec(&items).unwrap(), false).unwrap();
            let mut start = 0;
            for end in message_ends(&w) {
                let one: Vec<serde_json::Value> = serde_json::from_slice(&to_array(&w[start..end])).unwrap();
                prop_assert_eq!(one.len(), 1);
                start = end;
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = encode_body(&body, false);
            let _ = message_ends(&body);
        }
    }
}
