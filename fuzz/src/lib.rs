//! Reference models shared by the fuzz targets.
//!
//! Each model is written from the protocol's rules, not from the code under test, so a
//! target can compare the two instead of only checking that nothing panics.

/// Whether `s` is a non-empty run of ASCII digits.
pub fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The value of a decimal digit string, or `None` if it does not fit in a `u128`
/// (leading zeros are allowed and ignored).
pub fn decimal(s: &str) -> Option<u128> {
    if !all_digits(s) {
        return None;
    }
    let significant = s.trim_start_matches('0');
    if significant.len() > 38 {
        return None;
    }
    Some(significant.bytes().fold(0u128, |acc, d| acc * 10 + u128::from(d - b'0')))
}

/// RFC 3986 percent-decoding: `%XX` with two hex digits, the result must be UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One event as an HTML `EventSource` would dispatch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, empty when absent.
    pub event: Vec<u8>,
    /// The joined `data:` lines.
    pub data: Vec<u8>,
    /// The last event ID when it was dispatched (what `EventSource` sends back as
    /// `Last-Event-ID`): the latest `id:` field so far, in this event or an earlier one.
    pub last_event_id: Vec<u8>,
}

/// Parses an event stream the way the HTML standard's "interpret an event stream"
/// algorithm does, on bytes: lines end at CRLF, CR or LF; one space after the colon is
/// dropped; data lines are joined with LF; a blank line dispatches; an event without
/// any data line is not dispatched; an unterminated last event is dropped.
pub fn parse_event_stream(stream: &[u8]) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut event = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut has_data = false;
    let mut last_event_id = Vec::new();
    let mut i = 0;
    while i < stream.len() {
        let start = i;
        while i < stream.len() && stream[i] != b'\r' && stream[i] != b'\n' {
            i += 1;
        }
        if i == stream.len() {
            // No terminator: the line is incomplete and never processed.
            break;
        }
        let line = &stream[start..i];
        i += if stream[i] == b'\r' && stream.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
        if line.is_empty() {
            if has_data {
                if data.last() == Some(&b'\n') {
                    data.pop();
                }
                events.push(SseEvent {
                    event: std::mem::take(&mut event),
                    data: std::mem::take(&mut data),
                    last_event_id: last_event_id.clone(),
                });
            }
            event.clear();
            data.clear();
            has_data = false;
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, mut value) = match line.iter().position(|&c| c == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (line, &line[line.len()..]),
        };
        if value.first() == Some(&b' ') {
            value = &value[1..];
        }
        match field {
            b"event" => event = value.to_vec(),
            // An id with a NUL in it is ignored.
            b"id" if !value.contains(&0) => last_event_id = value.to_vec(),
            b"data" => {
                data.extend_from_slice(value);
                data.push(b'\n');
                has_data = true;
            }
            _ => {}
        }
    }
    events
}

/// The payload a client should see for text: every CRLF, lone CR and LF becomes LF.
pub fn normalize_newlines(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut i = 0;
    while i < payload.len() {
        match payload[i] {
            b'\r' => {
                out.push(b'\n');
                i += if payload.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_stream_model_follows_the_standard() {
        let s = b"event: data\nid: 7\ndata:a\ndata: b\r\n\r: comment\nevent:x\n\ndata\n\nid:8\0\ndata:tail";
        assert_eq!(
            parse_event_stream(s),
            vec![
                SseEvent { event: b"data".to_vec(), data: b"a\nb".to_vec(), last_event_id: b"7".to_vec() },
                SseEvent { event: Vec::new(), data: Vec::new(), last_event_id: b"7".to_vec() },
            ]
        );
    }

    #[test]
    fn decimal_and_percent_models() {
        assert_eq!(decimal("007"), Some(7));
        assert_eq!(decimal(""), None);
        assert_eq!(percent_decode("a%2Fb"), Some("a/b".into()));
        assert_eq!(percent_decode("%+1"), None);
    }
}
