//! The CORE WRITES section of a pub/sub run: appends core took per published message,
//! from its stream-object counters.

use std::fmt::Write as _;

use serde::Serialize;

use crate::report::format::{kinds, opt, reloaded};
use crate::stats::Counts;

/// Core's writes for the published messages.
#[derive(Clone, Debug, Serialize)]
pub struct CoreWrites {
    /// Appends to the source.
    pub source_appends: u64,
    /// Appends to the session streams, all together.
    pub session_appends: u64,
    /// Both, per published message: 1 + S is one write each in the source and in every
    /// session.
    pub per_message: Option<f64>,
    /// Session appends per published message per session: 1.00 is one write each.
    pub per_message_per_session: Option<f64>,
    /// Every request to the run's stream objects, by kind.
    pub requests: Counts,
    /// Whether an object was reloaded during the run (its counters restarted, so the
    /// counts are low).
    pub restarted: bool,
}

impl CoreWrites {
    /// From the source's requests and then each session stream's, for `published`
    /// messages to `sessions` sessions.
    pub(super) fn build(per_object: &[(Counts, bool)], published: u64, sessions: usize) -> Self {
        let appends = |objects: &[(Counts, bool)]| objects.iter().map(|(c, _)| c.get("append")).sum::<u64>();
        let (source, session_objects) = per_object.split_at(per_object.len().min(1));
        let (source_appends, session_appends) = (appends(source), appends(session_objects));
        let mut requests = Counts::default();
        for (c, _) in per_object {
            requests.merge(c);
        }
        let per = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        Self {
            source_appends,
            session_appends,
            per_message: per(source_appends + session_appends, published),
            per_message_per_session: per(session_appends, published * sessions as u64),
            requests,
            restarted: per_object.iter().any(|(_, restarted)| *restarted),
        }
    }
}

/// The CORE WRITES line, or why there is none.
pub(super) fn render(w: Option<&CoreWrites>, out: &mut String) {
    let Some(w) = w else {
        let _ = writeln!(out, "CORE WRITES     not exposed by core (DEBUG_STATS off)");
        return;
    };
    let _ = writeln!(
        out,
        "CORE WRITES     {} to the source + {} to sessions = {} per message, {} per message per session{}  [{}]",
        w.source_appends,
        w.session_appends,
        opt(w.per_message, 2),
        opt(w.per_message_per_session, 2),
        reloaded(w.restarted),
        kinds(&w.requests),
    );
}
