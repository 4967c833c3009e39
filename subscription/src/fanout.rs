//! Fan-out policy: how a publish reaches its subscribers (inline, through the queue, or
//! not at all while core is failing), and the circuit breaker that decides the last.
//! Pure: the caller passes the time.

use crate::config::Config;

/// How one fan-out goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The source's object writes to the sessions itself.
    Inline,
    /// Jobs on the queue write to the sessions.
    Queued,
    /// Core has been failing: everything goes to the queue, or nowhere without one.
    CircuitOpen,
}

impl Mode {
    /// The `Stream-Fanout-Mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Queued => "queued",
            Self::CircuitOpen => "circuit-open",
        }
    }
}

/// The plan for one fan-out to `subscribers` sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// How it goes.
    pub mode: Mode,
    /// Sessions written to inline: the first this many.
    pub inline: usize,
    /// Sessions handed to the queue: the rest, if there is a queue.
    pub queued: usize,
    /// Sessions neither: reported as failures (and caught up by a later fan-out).
    pub skipped: usize,
}

/// Plans a fan-out. `breaker_open` is [`Breaker::allows`]'s negation at the time.
pub fn plan(subscribers: usize, has_queue: bool, breaker_open: bool, config: &Config) -> Plan {
    let none = Plan { mode: Mode::Inline, inline: 0, queued: 0, skipped: 0 };
    match (breaker_open, has_queue) {
        (true, true) => Plan { mode: Mode::CircuitOpen, queued: subscribers, ..none },
        (true, false) => Plan { mode: Mode::CircuitOpen, skipped: subscribers, ..none },
        (false, true) if subscribers > config.queue_threshold => {
            Plan { mode: Mode::Queued, queued: subscribers, ..none }
        }
        (false, _) => {
            let inline = subscribers.min(config.max_inline);
            Plan { mode: Mode::Inline, inline, skipped: subscribers - inline, ..none }
        }
    }
}

/// A circuit breaker on core failures: it opens after `threshold` fan-outs in a row
/// had failures, and after `recovery_ms` lets one fan-out try again (half-open); that
/// one closes it on success or opens it again on failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breaker {
    failing: u32,
    opened_at: Option<i64>,
}

impl Breaker {
    /// Whether a fan-out may write now (closed, or half-open after recovery).
    pub fn allows(&self, now_ms: i64, config: &Config) -> bool {
        self.opened_at.is_none_or(|at| now_ms - at >= config.breaker_recovery_ms)
    }

    /// Records the outcome of a fan-out that wrote: whether any session write failed
    /// (stale sessions are not failures).
    pub fn record(&mut self, failed: bool, now_ms: i64, config: &Config) {
        if !failed {
            *self = Self::default();
            return;
        }
        self.failing = self.failing.saturating_add(1);
        let half_open = self.opened_at.is_some();
        if half_open || self.failing >= config.breaker_failures {
            self.opened_at = Some(now_ms);
        }
    }

    /// Whether it is open now.
    pub fn is_open(&self, now_ms: i64, config: &Config) -> bool {
        !self.allows(now_ms, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> Config {
        Config { queue_threshold: 200, max_inline: 1000, ..Config::default() }
    }

    #[test]
    fn small_fanouts_are_inline_and_large_ones_queued() {
        let c = config();
        assert_eq!(plan(10, true, false, &c), Plan { mode: Mode::Inline, inline: 10, queued: 0, skipped: 0 });
        assert_eq!(plan(200, true, false, &c).mode, Mode::Inline);
        assert_eq!(
            plan(201, true, false, &c),
            Plan { mode: Mode::Queued, inline: 0, queued: 201, skipped: 0 }
        );
        assert_eq!(
            plan(1500, false, false, &c),
            Plan { mode: Mode::Inline, inline: 1000, queued: 0, skipped: 500 }
        );
        assert_eq!(
            plan(5, true, true, &c),
            Plan { mode: Mode::CircuitOpen, inline: 0, queued: 5, skipped: 0 }
        );
        assert_eq!(
            plan(5, false, true, &c),
            Plan { mode: Mode::CircuitOpen, inline: 0, queued: 0, skipped: 5 }
        );
    }

    #[test]
    fn the_breaker_opens_after_five_failing_fanouts_and_recovers() {
        let c = config();
        let mut b = Breaker::default();
        for _ in 0..4 {
            b.record(true, 0, &c);
        }
        assert!(b.allows(0, &c));
        b.record(true, 1000, &c);
        assert!(b.is_open(1000, &c));
        assert!(b.is_open(60_999, &c));
        assert!(b.allows(61_000, &c), "half-open after 60 s");
        b.record(true, 61_000, &c);
        assert!(b.is_open(61_001, &c), "a failing try opens it again at once");
        b.record(false, 122_000, &c);
        assert!(b.allows(122_000, &c));
        assert_eq!(b, Breaker::default());
    }

    proptest! {
        #[test]
        fn every_subscriber_is_accounted_for(n in 0usize..5000, queue: bool, open: bool) {
            let p = plan(n, queue, open, &config());
            prop_assert_eq!(p.inline + p.queued + p.skipped, n);
            prop_assert!(queue || p.queued == 0);
        }
    }
}
