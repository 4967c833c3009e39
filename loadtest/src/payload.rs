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

/// Checks what one reader receives: every message exactly once, and the order it saw.
///
/// Writers do not wait for one append's acknowledgment before sending the next, so the
/// stream's order need not follow each writer's numbering; what must hold is that every
/// reader of a stream sees the same order, the one the server sequenced. The order is
/// folded into a fingerprint that readers of one stream must share.
#[derive(Clone, Debug, Default)]
pub struct SequenceCheck {
    /// Per writer, a bit per sequence number received.
    seen: std::collections::HashMap<u32, Vec<u64>>,
    /// Per writer, the highest sequence number received.
    highest: std::collections::HashMap<u32, u64>,
    /// Distinct messages received.
    pub received: u64,
    /// Messages received more than once.
    pub duplicates: u64,
    /// The order received, as a hash chain of (writer, sequence).
    pub order: u64,
}

impl SequenceCheck {
    /// Takes the next message received.
    pub fn see(&mut self, stamp: Stamp) {
        let seen = self.seen.entry(stamp.w).or_default();
        let (word, bit) = ((stamp.s / 64) as usize, 1u64 << (stamp.s % 64));
        if seen.len() <= word {
            seen.resize(word + 1, 0);
        }
        if seen[word] & bit != 0 {
            self.duplicates += 1;
            return;
        }
        seen[word] |= bit;
        self.received += 1;
        let highest = self.highest.entry(stamp.w).or_insert(stamp.s);
        *highest = (*highest).max(stamp.s);
        // FNV-1a over the message's identity, chained.
        let mut h = self.order ^ 0xcbf2_9ce4_8422_2325;
        for b in u64::from(stamp.w).to_le_bytes().into_iter().chain(stamp.s.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.order = h;
    }

    /// Whether writer `w`'s message `s` was received.
    pub fn contains(&self, w: u32, s: u64) -> bool {
        self.seen
            .get(&w)
            .and_then(|v| v.get((s / 64) as usize))
            .is_some_and(|word| word & (1 << (s % 64)) != 0)
    }

    /// Writer `w`'s highest sequence number received.
    pub fn highest(&self, w: u32) -> Option<u64> {
        self.highest.get(&w).copied()
    }

    /// Messages missing: sequence numbers below a writer's highest one that never came.
    pub fn gaps(&self) -> u64 {
        let seen =
            |w: &u32| self.seen.get(w).map_or(0, |v| v.iter().map(|x| u64::from(x.count_ones())).sum());
        self.highest.iter().map(|(w, h)| h + 1 - seen(w)).sum()
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
        for (w, s) in [(0, 0), (1, 0), (0, 2), (0, 1), (0, 1), (0, 4), (1, 1)] {
            c.see(Stamp { w, s, t: 0 });
        }
        // Writer 0 is missing 3; 1 came twice; arrival out of numbering is fine.
        assert_eq!((c.received, c.duplicates, c.gaps()), (6, 1, 1));
        assert!(c.contains(0, 4) && !c.contains(0, 3) && !c.contains(2, 0));
        assert_eq!((c.highest(0), c.highest(1), c.highest(2)), (Some(4), Some(1), None));
    }

    #[test]
    fn readers_share_an_order_fingerprint_only_if_they_saw_one_order() {
        let order = |seq: &[(u32, u64)]| {
            let mut c = SequenceCheck::default();
            for &(w, s) in seq {
                c.see(Stamp { w, s, t: 0 });
            }
            c.order
        };
        assert_eq!(order(&[(0, 0), (1, 0), (0, 1)]), order(&[(0, 0), (1, 0), (0, 1)]));
        assert_ne!(order(&[(0, 0), (1, 0), (0, 1)]), order(&[(1, 0), (0, 0), (0, 1)]));
        // A duplicate does not change the fingerprint.
        assert_eq!(order(&[(0, 0), (0, 0), (0, 1)]), order(&[(0, 0), (0, 1)]));
    }
}
