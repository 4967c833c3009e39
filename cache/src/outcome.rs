//! How a cacheable read was served, as reported in `X-Cache` and `Server-Timing`.

use std::fmt;

use crate::policy::{SkipReason, StoreDecision};

/// How a cacheable read was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// From the cache.
    Hit,
    /// A 304 from the cache's entry, without asking the origin.
    Revalidated,
    /// The answer of an identical request already on its way to the origin, or settled
    /// moments ago.
    Coalesced,
    /// From the origin.
    Miss,
    /// From the origin because the client asked for a fresh answer.
    Bypass,
    /// The origin could not be reached; the client gets an error.
    Error,
}

impl CacheOutcome {
    /// The `X-Cache` value: everything the origin did not serve is a HIT.
    pub fn x_cache(self) -> &'static str {
        match self {
            Self::Hit | Self::Revalidated | Self::Coalesced => "HIT",
            Self::Miss | Self::Error => "MISS",
            Self::Bypass => "BYPASS",
        }
    }

    /// The precise name, for logs and the `Server-Timing` description.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Revalidated => "revalidated",
            Self::Coalesced => "coalesced",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
            Self::Error => "error",
        }
    }

    /// Whether this request asked the origin itself.
    pub fn asked_origin(self) -> bool {
        matches!(self, Self::Miss | Self::Bypass | Self::Error)
    }
}

/// What the edge did for one cacheable read: how it was served and, when this request
/// fetched an answer from the origin, the store guard's decision on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheReport {
    /// How the read was served.
    pub outcome: CacheOutcome,
    /// The store decision, for an answer this request fetched.
    pub stored: Option<StoreDecision>,
}

impl CacheReport {
    /// A read that fetched nothing itself (a hit, a revalidation, a coalesced answer) or
    /// failed.
    pub fn without_fetch(outcome: CacheOutcome) -> Self {
        Self { outcome, stored: None }
    }

    /// Why the fetched answer was not stored, if it was not.
    pub fn skipped(&self) -> Option<SkipReason> {
        match self.stored {
            Some(StoreDecision::No(reason)) => Some(reason),
            _ => None,
        }
    }
}

/// The `Server-Timing` description: the outcome, and for an answer that was not stored,
/// why — `miss (not stored: at-tail)`.
impl fmt::Display for CacheReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.skipped() {
            Some(reason) => write!(f, "{} (not stored: {reason})", self.outcome.as_str()),
            None => f.write_str(self.outcome.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origin_answers_are_misses() {
        assert_eq!(CacheOutcome::Coalesced.x_cache(), "HIT");
        assert_eq!(CacheOutcome::Revalidated.x_cache(), "HIT");
        assert_eq!(CacheOutcome::Miss.x_cache(), "MISS");
        assert_eq!(CacheOutcome::Error.x_cache(), "MISS");
        assert_eq!(CacheOutcome::Bypass.x_cache(), "BYPASS");
    }

    #[test]
    fn descriptions_name_the_outcome_and_why_an_answer_was_not_stored() {
        let stored =
            CacheReport { outcome: CacheOutcome::Miss, stored: Some(StoreDecision::Yes { ttl_secs: 60 }) };
        assert_eq!(stored.to_string(), "miss");
        let at_tail = CacheReport {
            outcome: CacheOutcome::Miss,
            stored: Some(StoreDecision::No(SkipReason::AtTailPlainGet)),
        };
        assert_eq!(at_tail.to_string(), "miss (not stored: at-tail)");
        let bypass = CacheReport {
            outcome: CacheOutcome::Bypass,
            stored: Some(StoreDecision::No(SkipReason::NoStore)),
        };
        assert_eq!(bypass.to_string(), "bypass (not stored: no-store)");
        let failed = CacheReport {
            outcome: CacheOutcome::Miss,
            stored: Some(StoreDecision::No(SkipReason::NotOk(404))),
        };
        assert_eq!(failed.to_string(), "miss (not stored: error)");
        let timed_out = CacheReport {
            outcome: CacheOutcome::Miss,
            stored: Some(StoreDecision::No(SkipReason::NotOk(204))),
        };
        assert_eq!(timed_out.to_string(), "miss (not stored: status-204)");
        for (outcome, name) in [
            (CacheOutcome::Hit, "hit"),
            (CacheOutcome::Revalidated, "revalidated"),
            (CacheOutcome::Coalesced, "coalesced"),
            (CacheOutcome::Error, "error"),
        ] {
            assert_eq!(CacheReport::without_fetch(outcome).to_string(), name);
        }
    }
}
