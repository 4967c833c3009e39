//! The `Stream-Fanout-*` headers of a subscription worker's publish answers: how each
//! publish reached the sessions subscribed to its stream. Core's own appends carry none.

use reqwest::header::HeaderMap;
use serde::Serialize;

use crate::stats::Counts;

/// What publish answers said about their fan-outs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FanoutSeen {
    /// Answers by `Stream-Fanout-Mode` (`inline`, `queued`, `circuit-open`, …).
    pub modes: Counts,
    /// Sum of `Stream-Fanout-Count`: the sessions each publish was for.
    pub sessions: u64,
    /// Sum of `Stream-Fanout-Successes`: sessions written (inline) or handed to the queue.
    pub successes: u64,
    /// Sum of `Stream-Fanout-Failures`: sessions a fan-out could not reach (a later one
    /// catches them up).
    pub failures: u64,
}

fn number(headers: &HeaderMap, name: &str) -> u64 {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl FanoutSeen {
    /// The fan-out of one answer; empty if it has no `Stream-Fanout-Mode`.
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(mode) = headers.get("stream-fanout-mode").and_then(|v| v.to_str().ok()) else {
            return Self::default();
        };
        let mut modes = Counts::default();
        modes.add(mode, 1);
        Self {
            modes,
            sessions: number(headers, "stream-fanout-count"),
            successes: number(headers, "stream-fanout-successes"),
            failures: number(headers, "stream-fanout-failures"),
        }
    }

    /// Adds another answer's or set's counts.
    pub fn merge(&mut self, other: &FanoutSeen) {
        self.modes.merge(&other.modes);
        self.sessions += other.sessions;
        self.successes += other.successes;
        self.failures += other.failures;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn publish_answers_are_counted_by_mode() {
        let inline = headers(&[
            ("Stream-Fanout-Mode", "inline"),
            ("Stream-Fanout-Count", "100"),
            ("Stream-Fanout-Successes", "99"),
            ("Stream-Fanout-Failures", "1"),
        ]);
        let mut all = FanoutSeen::of(&inline);
        all.merge(&FanoutSeen::of(&headers(&[
            ("Stream-Fanout-Mode", "queued"),
            ("Stream-Fanout-Count", "7"),
        ])));
        all.merge(&FanoutSeen::of(&inline));
        assert_eq!((all.modes.get("inline"), all.modes.get("queued")), (2, 1));
        assert_eq!((all.sessions, all.successes, all.failures), (207, 198, 2));
    }

    #[test]
    fn a_core_append_has_no_fanout() {
        assert_eq!(FanoutSeen::of(&headers(&[("Stream-Next-Offset", "x")])), FanoutSeen::default());
    }
}
