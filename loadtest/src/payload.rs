//! The messages writers send and readers check: who wrote it, its sequence number and
//! when it was sent, padded to the requested size.

use serde::{Deserialize, Serialize};

/// One message's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Writer number.
    pub w: u32,
    /// Sequence number within the writer.
    pub s: u64,
    /// Send time, ms since the Unix epoch (the writer's clock).
    pub t: u64,
}

/// The body of one append: a JSON object, or a text line.
pub fn encode(stamp: Stamp, size: usize, json: bool) -> String {
    if json {
        let bare = format!(r#"{{"w":{},"s":{},"t":{},"p":""}}"#, stamp.w, stamp.s, stamp.t);
        let pad = "x".repeat(size.saturating_sub(bare.len()));
        format!(r#"{{"w":{},"s":{},"t":{},"p":"{pad}"}}"#, stamp.w, stamp.s, stamp.t)
    } else {
        let bare = format!("{} {} {} \n", stamp.w, stamp.s, stamp.t);
        let pad = "x".repeat(size.saturating_sub(bare.len()));
        format!("{} {} {} {pad}\n", stamp.w, stamp.s, stamp.t)
    }
}

/// The messages in a read's body: a JSON array, or text lines (a partial last line is
/// returned as the remainder, for the next read to complete).
pub fn decode(body: &[u8], json: bool, carry: &mut Vec<u8>) -> Result<Vec<Stamp>, String> {
    if json {
        #[derive(Deserialize)]
        struct Message {
            w: u32,
            s: u64,
            t: u64,
        }
        let messages: Vec<Message> =
            serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))?;
        return Ok(messages.into_iter().map(|m| Stamp { w: m.w, s: m.s, t: m.t }).collect());
    }
    carry.extend_from_slice(body);
    let mut out = Vec::new();
    while let Some(end) = carry.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = carry.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        let mut parts = text.split(' ');
        let mut next = || parts.next().and_then(|p| p.trim().parse::<u64>().ok());
        match (next(), next(), next()) {
            (Some(w), Some(s), Some(t)) => out.push(Stamp { w: w as u32, s, t }),
            _ => return Err(format!("bad text line: {}", text.trim_end())),
        }
    }
    Ok(out)
}

/// Checks the order of each writer's messages as a reader sees them.
#[derive(Clone, Debug, Default)]
pub struct SequenceCheck {
    last: std::collections::HashMap<u32, u64>,
    /// Messages seen twice (or out of order).
    pub duplicates: u64,
    /// Messages skipped.
    pub gaps: u64,
    /// Messages seen in order.
    pub received: u64,
}

impl SequenceCheck {
    /// Takes the next message seen. Writers start at sequence 0.
    pub fn see(&mut self, stamp: Stamp) {
        let expected = self.last.get(&stamp.w).map_or(0, |l| l + 1);
        if stamp.s < expected {
            self.duplicates += 1;
            return;
        }
        self.gaps += stamp.s - expected;
        self.received += 1;
        self.last.insert(stamp.w, stamp.s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_requested_size_and_round_trip() {
        let stamp = Stamp { w: 3, s: 17, t: 1_700_000_000_000 };
        for json in [true, false] {
            let body = encode(stamp, 256, json);
            assert_eq!(body.len(), 256);
            let wire = if json { format!("[{body}]") } else { body };
            assert_eq!(decode(wire.as_bytes(), json, &mut Vec::new()).unwrap(), vec![stamp]);
        }
    }

    #[test]
    fn text_lines_split_across_reads_are_joined() {
        let a = encode(Stamp { w: 0, s: 0, t: 5 }, 20, false);
        let b = encode(Stamp { w: 0, s: 1, t: 6 }, 20, false);
        let all = format!("{a}{b}");
        let mut carry = Vec::new();
        let first = decode(&all.as_bytes()[..25], false, &mut carry).unwrap();
        let second = decode(&all.as_bytes()[25..], false, &mut carry).unwrap();
        assert_eq!(first.len() + second.len(), 2);
        assert!(carry.is_empty());
    }

    #[test]
    fn gaps_and_duplicates_are_counted_per_writer() {
        let mut c = SequenceCheck::default();
        for (w, s) in [(0, 0), (1, 0), (0, 1), (0, 1), (0, 4), (1, 1)] {
            c.see(Stamp { w, s, t: 0 });
        }
        assert_eq!((c.received, c.duplicates, c.gaps), (5, 1, 2));
    }
}
