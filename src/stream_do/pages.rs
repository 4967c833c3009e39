//! Pages for clients: what one read, long-poll answer or SSE event carries.

use super::{Host, StreamService};
use crate::protocol::{content_type, json, ProtocolError};
use crate::store::{Chunk, Meta, Span, Sql};

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// One page for a client from `from` towards the tail, at most `cap` bytes (at least
    /// one JSON message). A page of a text stream cut short by the cap does not end
    /// inside a UTF-8 character: the character starts the next page instead. Otherwise
    /// the offset handed out would split it, and a reader that decodes each page or SSE
    /// event as text (SSE always does) would get replacement characters.
    pub(super) async fn read_page(&self, m: &Meta, from: u64, cap: usize) -> Result<Chunk, ProtocolError> {
        let mut chunk = self.read_range(m, Span::page(from, m.tail, cap)).await?;
        let text = content_type::is_textual(&m.content_type) && !m.is_json();
        if text && chunk.end < m.tail {
            let keep = char_boundary(&chunk.bytes);
            // A page that is nothing but part of a character is sent as it is.
            if keep > 0 {
                chunk.end -= (chunk.bytes.len() - keep) as u64;
                chunk.bytes.truncate(keep);
            }
        }
        Ok(chunk)
    }
}

/// The body of a read: a JSON array in JSON mode, the bytes otherwise.
pub(super) fn body_of(m: &Meta, bytes: Vec<u8>) -> Vec<u8> {
    if m.is_json() {
        json::to_array(&bytes)
    } else {
        bytes
    }
}

/// The length of `bytes` without an incomplete UTF-8 sequence at its end. Anything else
/// (complete characters, bytes that are not UTF-8 at all) is kept.
fn char_boundary(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // A sequence is at most 4 bytes: its lead byte is at most 3 back from the end.
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if b & 0xc0 == 0x80 {
            continue;
        }
        let needs = match b {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return len,
        };
        return if needs > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::char_boundary;

    #[test]
    fn pages_of_text_do_not_end_inside_a_character() {
        let euro = "€".as_bytes();
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&[b'a', euro[0]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1], euro[2]]), 4);
        assert_eq!(char_boundary("aé".as_bytes()), 3);
        assert_eq!(char_boundary(&"😀".as_bytes()[..3]), 0);
        // Not UTF-8: nothing to protect.
        assert_eq!(char_boundary(&[b'a', 0xff]), 2);
        assert_eq!(char_boundary(&[0x80, 0x80, 0x80]), 3);
    }
}
