//! The console's live log: a same-origin SSE stream of a stream's messages, whose events
//! carry the offset after them as `id:`. A browser's `EventSource` sends the last one back
//! as `Last-Event-ID` when it reconnects, so the log resumes right after the last message
//! it showed: nothing is missed and nothing comes twice.

use durable_streams_cloudflare::protocol::query::{self, ReadQuery};
use durable_streams_cloudflare::protocol::sse::{self, Encoding};
use durable_streams_cloudflare::protocol::{Offset, ProtocolError, StartAt};

/// How long one live response lasts before the server ends it and the browser reconnects
/// (with `Last-Event-ID`): a worker request should not run for ever.
pub const SESSION_MS: u64 = 55_000;

/// What a new live response starts with: the delay the browser waits before it
/// reconnects after the response ends.
pub const RETRY: &[u8] = b"retry: 500\n\n";

/// Where a live response starts: after `Last-Event-ID` when the browser reconnects,
/// else the `offset` of the query (`now` when absent, `-1` for the whole stream).
pub fn start(query: &str, last_event_id: Option<&str>) -> Result<StartAt, ProtocolError> {
    if let Some(offset) = query::last_event_id(last_event_id)? {
        return Ok(StartAt::At(offset));
    }
    Ok(ReadQuery::parse(query)?.offset.unwrap_or(StartAt::Now))
}

/// Appends one event: the messages read, `payload`, as core's SSE `data` event (text
/// split into lines, other types base64), with `next_offset` as its id.
pub fn push_messages(out: &mut Vec<u8>, next_offset: &Offset, payload: &[u8], content_type: &str) {
    sse::push_data(out, payload, Encoding::for_content_type(content_type), next_offset);
}

/// Appends a `position` event with `offset` as its id (and data): the browser remembers
/// the id, so a reconnect before any message resumes from where this response started,
/// not from a later `now`. (An event with an id but no data would do by the letter of
/// the SSE spec, but Chromium does not keep its id.) `-1` is no position.
pub fn push_position(out: &mut Vec<u8>, offset: &str) {
    if offset != "-1" {
        for part in
            [&b"id: "[..], offset.as_bytes(), b"\nevent: position\ndata: ", offset.as_bytes(), b"\n\n"]
        {
            out.extend_from_slice(part);
        }
    }
}

/// Appends the event that ends the log for good, with why: the stream was closed, or
/// deleted. The page then stops reconnecting.
pub fn push_end(out: &mut Vec<u8>, reason: &str) {
    out.extend_from_slice(b"event: end\ndata: ");
    out.extend_from_slice(reason.replace(['\r', '\n'], " ").as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFSET: &str = "0000000000000000_0000000000000011";

    #[test]
    fn a_reconnect_resumes_after_the_last_event() {
        assert_eq!(start("offset=now", Some(OFFSET)), start(&format!("offset={OFFSET}"), None));
        assert!(matches!(start("offset=now", Some(OFFSET)), Ok(StartAt::At(_))));
        assert_eq!(start("", None), Ok(StartAt::Now));
        assert_eq!(start("offset=-1", Some(" ")), Ok(StartAt::Beginning));
    }

    #[test]
    fn bad_starts_are_client_errors() {
        for (query, id) in [("offset=nope", None), ("", Some("now")), ("", Some("-1")), ("", Some("garbage"))]
        {
            let e = start(query, id).unwrap_err();
            assert_eq!(e.code().status(), 400, "{query} {id:?}");
        }
    }

    #[test]
    fn events_carry_their_offset_and_cannot_be_injected() {
        let mut out = Vec::new();
        let next: Offset = OFFSET.parse().unwrap();
        push_messages(&mut out, &next, b"[{\"a\":1}]\n\nevent: end", "application/json");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("event: data\nid:{OFFSET}\n")), "{text}");
        // Every payload line is a data line: the blank line inside it cannot end the event.
        assert!(text.contains("data:\ndata:event: end\n\n"), "{text}");
        let mut binary = Vec::new();
        push_messages(&mut binary, &next, &[0, 159, 255], "application/octet-stream");
        assert!(String::from_utf8(binary).unwrap().contains("data:AJ//\n"));
        let mut position = Vec::new();
        push_position(&mut position, OFFSET);
        push_position(&mut position, "-1");
        assert_eq!(position, format!("id: {OFFSET}\nevent: position\ndata: {OFFSET}\n\n").into_bytes());
        let mut end = Vec::new();
        push_end(&mut end, "closed\ninjected");
        assert_eq!(end, b"event: end\ndata: closed injected\n\n");
    }
}
