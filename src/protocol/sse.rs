//! Server-sent event framing for `live=sse` (§5.8).
//!
//! Each batch of data is written as one `data` event immediately followed by its
//! `control` event, in a single chunk, so a reader never sees data without the offset
//! that follows it. Both carry that offset as their `id:`: a browser's `EventSource`
//! sends the last one back as `Last-Event-ID` when it reconnects, and the read resumes
//! exactly there (see [`super::query::ReadQuery::resumed`]). Text payloads are split into one `data:` line per line, on CRLF, CR
//! and LF alike, so a payload can never inject an event. A line that starts with a space
//! gets one more after `data:`, which clients strip. Binary payloads are base64.

use base64::Engine as _;

use super::Offset;

/// The `Content-Type` of an SSE response, exactly (no charset parameter).
pub const CONTENT_TYPE: &str = "text/event-stream";

/// How payload bytes are carried in `data:` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 text (text/* and JSON streams).
    Text,
    /// Standard base64 with padding (every other type).
    Base64,
}

impl Encoding {
    /// The encoding for a stream of the given content type.
    pub fn for_content_type(content_type: &str) -> Self {
        if super::content_type::is_textual(content_type) {
            Self::Text
        } else {
            Self::Base64
        }
    }
}

/// The fields of a control event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Control {
    /// The offset after the data sent so far.
    pub next_offset: Offset,
    /// The cursor; omitted once the stream is closed.
    pub cursor: Option<u64>,
    /// Whether the reader has caught up with the tail.
    pub up_to_date: bool,
    /// Whether the stream is closed and everything has been sent.
    pub closed: bool,
}

/// Appends an `id:` line. Offsets are digits and `_`, so an id cannot break the framing.
fn push_id(out: &mut Vec<u8>, offset: &Offset) {
    out.extend_from_slice(b"id:");
    out.extend_from_slice(offset.to_string().as_bytes());
    out.push(b'\n');
}

/// Appends a `data` event carrying `payload`, with `next_offset` (the offset after it)
/// as its id.
pub fn push_data(out: &mut Vec<u8>, payload: &[u8], encoding: Encoding, next_offset: &Offset) {
    out.extend_from_slice(b"event: data\n");
    push_id(out, next_offset);
    match encoding {
        Encoding::Base64 => {
            out.extend_from_slice(b"data:");
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(payload).as_bytes());
            out.push(b'\n');
        }
        Encoding::Text => {
            for line in split_lines(payload) {
                out.extend_from_slice(b"data:");
                // Clients drop one space after the colon, so a line that starts with a
                // space gets an extra one to keep it. Other lines keep the bare `data:`.
                if line.first() == Some(&b' ') {
                    out.push(b' ');
                }
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
    }
    out.push(b'\n');
}

/// Appends a `control` event, with its next offset as its id (so a reader that
/// reconnects before any data resumes where this response was, not at a later `now`).
/// The JSON is flat and on one line, right after the event line (readers, the
/// conformance suite among them, look for it there); the id comes last.
pub fn push_control(out: &mut Vec<u8>, control: &Control) {
    out.extend_from_slice(b"event: control\ndata:{\"streamNextOffset\":\"");
    out.extend_from_slice(control.next_offset.to_string().as_bytes());
    out.push(b'"');
    if let (Some(cursor), false) = (control.cursor, control.closed) {
        out.extend_from_slice(format!(",\"streamCursor\":\"{cursor}\"").as_bytes());
    }
    if control.up_to_date {
        out.extend_from_slice(b",\"upToDate\":true");
    }
    if control.closed {
        out.extend_from_slice(b",\"streamClosed\":true");
    }
    out.extend_from_slice(b"}\n");
    push_id(out, &control.next_offset);
    out.push(b'\n');
}

/// A comment line that keeps idle connections open and lets the server notice a reader
/// that went away.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

/// Splits on CRLF, lone CR and LF. A trailing terminator yields a final empty line, so
/// `a\n` is sent as `data:a` and `data:` and reads back as `a\n`.
fn split_lines(payload: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = payload;
    while let Some(end) = rest.iter().position(|b| matches!(b, b'\r' | b'\n')) {
        let (line, terminator) = rest.split_at(end);
        lines.push(line);
        rest = match terminator {
            [b'\r', b'\n', after @ ..] => after,
            [_, after @ ..] => after,
            [] => terminator,
        };
    }
    lines.push(rest);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NEXT: Offset = Offset::new(9);
    const ID: &str = "id:0000000000000000_0000000000000009\n";

    fn text(payload: &str) -> String {
        let mut out = Vec::new();
        push_data(&mut out, payload.as_bytes(), Encoding::Text, &NEXT);
        String::from_utf8(out).unwrap()
    }

    /// Reassembles the payload of a single data event the way an SSE client does: the
    /// value after `data:`, less one leading space, lines joined with LF.
    fn client_payload(event: &str) -> String {
        event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|v| v.strip_prefix(' ').unwrap_or(v))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn text_lines_split_on_every_terminator() {
        assert_eq!(text("a\r\nb\rc\nd"), format!("event: data\n{ID}data:a\ndata:b\ndata:c\ndata:d\n\n"));
        assert_eq!(text(""), format!("event: data\n{ID}data:\n\n"));
    }

    #[test]
    fn leading_spaces_survive_the_client_stripping_one() {
        assert_eq!(text(" a\n  b\nc "), format!("event: data\n{ID}data:  a\ndata:   b\ndata:c \n\n"));
        for payload in [" ", "  x", "a\n b", " \r\n "] {
            assert_eq!(client_payload(&text(payload)), payload.replace("\r\n", "\n"), "{payload:?}");
        }
    }

    #[test]
    fn binary_payloads_are_one_padded_base64_line() {
        let mut out = Vec::new();
        push_data(&mut out, b"Hello", Encoding::Base64, &NEXT);
        assert_eq!(String::from_utf8(out).unwrap(), format!("event: data\n{ID}data:SGVsbG8=\n\n"));
    }

    #[test]
    fn control_events_are_flat_single_line_json() {
        let mut out = Vec::new();
        let c = Control { next_offset: Offset::new(5), cursor: Some(7), up_to_date: true, closed: false };
        push_control(&mut out, &c);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "event: control\ndata:{\"streamNextOffset\":\"0000000000000000_0000000000000005\",\"streamCursor\":\"7\",\"upToDate\":true}\nid:0000000000000000_0000000000000005\n\n"
        );
    }

    #[test]
    fn closed_control_omits_the_cursor() {
        let mut out = Vec::new();
        let c = Control { next_offset: Offset::ZERO, cursor: Some(7), up_to_date: true, closed: true };
        push_control(&mut out, &c);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\"streamClosed\":true") && !s.contains("streamCursor"));
    }

    proptest! {
        #[test]
        fn text_events_never_contain_a_blank_line_or_cr(payload in "\\PC{0,20}(\r\n|\r|\n)?\\PC{0,20}") {
            let s = text(&payload);
            prop_assert!(!s.contains('\r'));
            prop_assert_eq!(s.matches("\n\n").count(), 1);
            prop_assert!(s.ends_with("\n\n"));
        }

        #[test]
        fn text_payload_survives_the_client_join(payload in "[a-z \n]{0,30}") {
            prop_assert_eq!(client_payload(&text(&payload)), payload);
        }

        #[test]
        fn base64_payloads_decode_alone(payload in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            push_data(&mut out, &payload, Encoding::Base64, &NEXT);
            let s = String::from_utf8(out).unwrap();
            let b64 = client_payload(&s);
            prop_assert_eq!(b64.len() % 4, 0);
            prop_assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), payload);
        }
    }
}
