//! Following a stream as a client does: long-poll URLs built from the previous answer's
//! `Stream-Next-Offset` and `Stream-Cursor`, and an SSE event parser.

/// Where a long-poll reader is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongPollFollower {
    stream_url: String,
    offset: String,
    cursor: Option<String>,
}

impl LongPollFollower {
    /// A reader of `stream_url` starting at `offset`.
    pub fn new(stream_url: &str, offset: &str) -> Self {
        Self { stream_url: stream_url.to_owned(), offset: offset.to_owned(), cursor: None }
    }

    /// The next request's query, with parameters in sorted order like the protocol's
    /// clients, so readers at the same place share one URL.
    pub fn query(&self) -> String {
        match &self.cursor {
            Some(c) => format!("cursor={c}&live=long-poll&offset={}", self.offset),
            None => format!("live=long-poll&offset={}", self.offset),
        }
    }

    /// The next request.
    #[cfg(test)]
    pub fn url(&self) -> String {
        format!("{}?{}", self.stream_url, self.query())
    }

    /// The current offset.
    pub fn offset(&self) -> &str {
        &self.offset
    }

    /// Moves on after a 200 or 204, following the server exactly.
    pub fn advance(&mut self, next_offset: Option<&str>, cursor: Option<&str>) {
        if let Some(o) = next_offset {
            self.offset = o.to_owned();
        }
        if let Some(c) = cursor {
            self.cursor = Some(c.to_owned());
        }
    }
}

/// One SSE event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field.
    pub kind: String,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// An incremental SSE parser (events end at a blank line; comments are skipped). Bytes are
/// kept until an event is complete, so a character split across reads stays whole.
#[derive(Clone, Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes and returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let mut kind = String::new();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if !kind.is_empty() || !data.is_empty() {
                events.push(Event { kind, data: data.join("\n") });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_poll_urls_follow_the_server() {
        let mut f = LongPollFollower::new("http://h/v1/stream/s", "-1");
        assert_eq!(f.url(), "http://h/v1/stream/s?live=long-poll&offset=-1");
        f.advance(Some("0000000000000000_0000000000000010"), Some("42"));
        assert_eq!(
            f.url(),
            "http://h/v1/stream/s?cursor=42&live=long-poll&offset=0000000000000000_0000000000000010"
        );
        // A closed stream's 204 may carry no cursor: the last one is kept.
        f.advance(Some("0000000000000000_0000000000000011"), None);
        assert!(f.url().contains("cursor=42") && f.offset().ends_with("11"));
    }

    #[test]
    fn two_readers_given_the_same_answers_build_the_same_urls() {
        let mut a = LongPollFollower::new("u", "x");
        let mut b = LongPollFollower::new("u", "x");
        for (o, c) in [("o1", "7"), ("o2", "8")] {
            a.advance(Some(o), Some(c));
            b.advance(Some(o), Some(c));
            assert_eq!(a.url(), b.url());
        }
    }

    #[test]
    fn sse_events_are_parsed_across_chunk_boundaries() {
        let mut p = SseParser::default();
        let stream = "event: data\ndata:[1,\ndata:2]\n\nevent: control\ndata:{\"streamNextOffset\":\"x\"}\n\n: keepalive\n\n";
        let mut events = Vec::new();
        for piece in stream.as_bytes().chunks(7) {
            events.extend(p.feed(piece));
        }
        assert_eq!(
            events,
            vec![
                Event { kind: "data".into(), data: "[1,\n2]".into() },
                Event { kind: "control".into(), data: "{\"streamNextOffset\":\"x\"}".into() },
            ]
        );
    }

    #[test]
    fn a_text_message_keeps_its_final_newline_and_multibyte_characters() {
        let mut p = SseParser::default();
        let wire = "event: data\ndata:h\u{e9}llo\ndata:\n\n".as_bytes();
        let (a, b) = wire.split_at(19); // inside the two bytes of "é"
        let mut events = p.feed(a);
        events.extend(p.feed(b));
        assert_eq!(events, vec![Event { kind: "data".into(), data: "h\u{e9}llo\n".into() }]);
    }
}
