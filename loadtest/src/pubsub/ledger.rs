//! What every session should have received, and what each did: the source stream, read
//! back from core at the end, is the truth — every message in it, in its order, must be in
//! every session's stream exactly once, in that order.

use crate::payload::{SequenceCheck, Stamp};
use crate::writer::WriterResult;

/// The source stream's messages, in its order.
#[derive(Clone, Debug, Default)]
pub struct SourceLog {
    /// Distinct messages, in order.
    messages: Vec<Stamp>,
    /// The same, as a reader would have checked them.
    check: SequenceCheck,
    /// `prefixes[n]`: the order fingerprint of a reader that received the first `n`
    /// messages in the source's order.
    prefixes: Vec<u64>,
}

/// How one session's receipts compare with the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Source messages the session never received.
    pub lost: u64,
    /// Of which after the last one it received: it fell behind, rather than skipped one.
    pub lost_at_tail: u64,
    /// Receipts of a message it already had.
    pub duplicates: u64,
    /// Messages received that the source does not hold.
    pub unexpected: u64,
    /// Whether it received the source's messages in another order. Judged only for a
    /// session that received every message and nothing else (a loss is reported as such).
    pub out_of_order: bool,
}

impl SourceLog {
    /// The log of `stamps`, read from the source in order (a repeat is ignored, as a
    /// reader would).
    pub fn new(stamps: &[Stamp]) -> Self {
        let mut log = Self::default();
        log.prefixes.push(log.check.order);
        for &stamp in stamps {
            let before = log.check.received;
            log.check.see(stamp);
            if log.check.received > before {
                log.messages.push(stamp);
                log.prefixes.push(log.check.order);
            }
        }
        log
    }

    /// Distinct messages in the source.
    pub fn len(&self) -> u64 {
        self.messages.len() as u64
    }

    /// Compares what one session's reader received with the source.
    pub fn tally(&self, session: &SequenceCheck) -> Tally {
        let has = |m: &&Stamp| session.contains(m.w, m.s);
        let lost = self.messages.iter().filter(|m| !has(m)).count() as u64;
        let lost_at_tail = self.messages.iter().rev().take_while(|m| !has(m)).count() as u64;
        let unexpected = session.received - (self.len() - lost);
        let complete = lost == 0 && unexpected == 0;
        let in_order = self.prefixes.get(session.received as usize) == Some(&session.order);
        let out_of_order = complete && !in_order;
        Tally { lost, lost_at_tail, duplicates: session.duplicates, unexpected, out_of_order }
    }

    /// Acknowledged publishes of `publisher` that the source does not hold: messages core
    /// acknowledged and lost.
    pub fn missing_acknowledged(&self, publisher: &WriterResult) -> u64 {
        let sent = publisher.appends + publisher.failed.len() as u64;
        (0..sent).filter(|s| !publisher.failed.contains(s) && !self.check.contains(publisher.id, *s)).count()
            as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(s: u64) -> Stamp {
        Stamp { w: 0, s, t: 0 }
    }

    fn received(seqs: &[u64]) -> SequenceCheck {
        let mut c = SequenceCheck::default();
        for &s in seqs {
            c.see(stamp(s));
        }
        c
    }

    /// A source whose order is not the publishing order: open-loop publishes may land so.
    fn log() -> SourceLog {
        SourceLog::new(&[stamp(0), stamp(2), stamp(1), stamp(3)])
    }

    #[test]
    fn a_session_with_the_source_in_its_order_is_clean() {
        assert_eq!(log().tally(&received(&[0, 2, 1, 3])), Tally::default());
        assert_eq!(log().len(), 4);
    }

    #[test]
    fn losses_and_duplicates_are_counted() {
        let t = log().tally(&received(&[0, 2, 2, 3, 0]));
        assert_eq!((t.lost, t.lost_at_tail, t.duplicates, t.unexpected, t.out_of_order), (1, 0, 2, 0, false));
        // A session that fell behind lost the tail, and its order is not judged.
        let behind = log().tally(&received(&[0, 2]));
        assert_eq!((behind.lost, behind.lost_at_tail, behind.out_of_order), (2, 2, false));
        let t = log().tally(&received(&[]));
        assert_eq!((t.lost, t.lost_at_tail), (4, 4));
        // A gap and the tail.
        let t = log().tally(&received(&[0, 1]));
        assert_eq!((t.lost, t.lost_at_tail), (2, 1));
    }

    #[test]
    fn another_order_than_the_source_is_out_of_order() {
        // In publishing order, which is not the source's.
        let t = log().tally(&received(&[0, 1, 2, 3]));
        assert!(t.out_of_order);
        assert_eq!((t.lost, t.duplicates), (0, 0));
    }

    #[test]
    fn messages_the_source_never_held_are_unexpected() {
        let t = log().tally(&received(&[0, 2, 1, 3, 9]));
        assert_eq!((t.lost, t.unexpected, t.out_of_order), (0, 1, false));
    }

    #[test]
    fn a_repeat_in_the_source_counts_once() {
        let log = SourceLog::new(&[stamp(0), stamp(1), stamp(0)]);
        assert_eq!(log.len(), 2);
        assert_eq!(log.tally(&received(&[0, 1])), Tally::default());
    }

    #[test]
    fn acknowledged_publishes_missing_from_the_source_are_found() {
        // Sent 0..5; 3 failed (not a loss, whether it landed or not); 4 acknowledged but absent.
        let publisher = WriterResult { appends: 4, failed: vec![3], ..WriterResult::default() };
        let log = SourceLog::new(&[stamp(0), stamp(1), stamp(2)]);
        assert_eq!(log.missing_acknowledged(&publisher), 1);
        let landed = SourceLog::new(&[stamp(0), stamp(1), stamp(2), stamp(3), stamp(4)]);
        assert_eq!(landed.missing_acknowledged(&publisher), 0);
    }
}
