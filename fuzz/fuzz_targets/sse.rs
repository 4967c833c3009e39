//! SSE framing: whatever the payload, the bytes written parse (by the HTML standard's
//! event stream rules) into exactly the events meant, carrying the payload.
#![no_main]

use base64::Engine as _;
use durable_streams_cloudflare::protocol::sse::{push_control, push_data, Control, Encoding, KEEPALIVE};
use durable_streams_cloudflare::protocol::Offset;
use durable_streams_fuzz::{normalize_newlines, parse_event_stream, SseEvent};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let control = control_from(data);
    let payload = data.get(19..).unwrap_or_default();

    // Text: one data event whose joined lines are the payload with its line breaks
    // normalised to LF; nothing else can be injected.
    let mut text = Vec::new();
    push_data(&mut text, payload, Encoding::Text, &control.next_offset);
    assert!(!text.contains(&b'\r'));
    assert!(text.ends_with(b"\n\n"));
    assert_eq!(text.windows(2).filter(|w| w == b"\n\n").count(), 1);
    // After the event line, the id, then only data lines.
    let id = control.next_offset.to_string().into_bytes();
    for line in text[..text.len() - 2].split(|&b| b == b'\n').skip(2) {
        assert!(line.starts_with(b"data:"), "{line:?}");
    }
    assert_eq!(
        parse_event_stream(&text),
        vec![SseEvent { event: b"data".to_vec(), data: normalize_newlines(payload), last_event_id: id.clone() }],
        "payload {payload:?}"
    );

    // Base64: one line that decodes on its own to the payload.
    let mut binary = Vec::new();
    push_data(&mut binary, payload, Encoding::Base64, &control.next_offset);
    let events = parse_event_stream(&binary);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data.len() % 4, 0);
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&events[0].data).unwrap(), payload);

    // A whole batch as the server writes it: data, then control, with keepalives around.
    let mut batch = KEEPALIVE.to_vec();
    batch.extend_from_slice(&text);
    push_control(&mut batch, &control);
    batch.extend_from_slice(KEEPALIVE);
    let events = parse_event_stream(&batch);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event, b"data");
    assert_eq!(events[1].event, b"control");
    // Both carry the offset after them: a reconnect resumes there.
    assert!(events.iter().all(|e| e.last_event_id == id));
    check_control(&events[1].data, &control);
});

fn control_from(data: &[u8]) -> Control {
    // Short inputs are zero-extended so every input yields some control event.
    let take = |at: usize| {
        let mut word = [0u8; 8];
        let part = data.get(at..).unwrap_or_default();
        let n = part.len().min(8);
        word[..n].copy_from_slice(&part[..n]);
        u64::from_le_bytes(word)
    };
    let (seq, pos, cursor) = (take(0), take(8), take(16));
    let flags = data.get(18).copied().unwrap_or(0);
    Control {
        next_offset: Offset::in_segment(seq, pos),
        cursor: (flags & 1 != 0).then_some(cursor),
        up_to_date: flags & 2 != 0,
        closed: flags & 4 != 0,
    }
}

/// The control event is one flat JSON object with the documented fields.
fn check_control(json: &[u8], c: &Control) {
    assert!(!json.contains(&b'\n'));
    // Flat: the suite matches it with `{[^}]+}`.
    assert_eq!(json.iter().filter(|&&b| b == b'}').count(), 1);
    let v: Value = serde_json::from_slice(json).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj["streamNextOffset"], Value::from(c.next_offset.to_string()));
    match (c.cursor, c.closed) {
        (Some(cursor), false) => assert_eq!(obj["streamCursor"], Value::from(cursor.to_string())),
        _ => assert!(!obj.contains_key("streamCursor")),
    }
    assert_eq!(obj.get("upToDate"), c.up_to_date.then_some(&Value::Bool(true)));
    assert_eq!(obj.get("streamClosed"), c.closed.then_some(&Value::Bool(true)));
    let known = ["streamNextOffset", "streamCursor", "upToDate", "streamClosed"];
    assert!(obj.keys().all(|k| known.contains(&k.as_str())));
}
