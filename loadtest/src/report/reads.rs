//! The READS section: read requests and how the cache answered them.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::format::{counts_line, opt};
use crate::reader::ReaderResult;
use crate::stats::{percent, Counts};

/// Read requests.
#[derive(Clone, Debug, Serialize)]
pub struct Reads {
    /// Long-poll requests.
    pub long_poll_requests: u64,
    /// SSE sessions opened.
    pub sse_sessions: u64,
    /// Long-poll answers by `X-Cache`.
    pub x_cache: Counts,
    /// Answers by `cf-cache-status` (only behind Cloudflare's CDN).
    pub cf_cache_status: Counts,
    /// Share of `X-Cache` answers that were HIT, percent.
    pub hit_rate_percent: Option<f64>,
    /// Share of `cf-cache-status` answers that were HIT, percent.
    pub cdn_hit_rate_percent: Option<f64>,
    /// MISS answers per distinct URL that missed: 1.0 when collapsing is perfect.
    pub misses_per_key: Option<f64>,
}

impl Reads {
    /// Totals the readers.
    pub(crate) fn build(readers: &[ReaderResult]) -> Self {
        let (mut x_cache, mut cf) = (Counts::default(), Counts::default());
        let (mut long_poll_requests, mut sse_sessions) = (0, 0);
        for r in readers {
            // An SSE reader's requests are the sessions it opened.
            if r.sse {
                sse_sessions += r.requests;
            } else {
                long_poll_requests += r.requests;
            }
            x_cache.merge(&r.x_cache);
            cf.merge(&r.cf_cache_status);
        }
        Self {
            long_poll_requests,
            sse_sessions,
            hit_rate_percent: percent(x_cache.get("HIT"), x_cache.total()),
            cdn_hit_rate_percent: percent(cf.get("HIT"), cf.total()),
            misses_per_key: misses_per_key(readers),
            x_cache,
            cf_cache_status: cf,
        }
    }

    /// The READS line, and one line per cache that answered.
    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "READS           {} long-poll requests, {} SSE sessions",
            self.long_poll_requests, self.sse_sessions
        );
        if self.x_cache.total() > 0 {
            cache_line("X-Cache", &self.x_cache, self.hit_rate_percent, out);
        } else {
            let _ = writeln!(out, "  X-Cache       none seen (SSE is not cached)");
        }
        if self.cf_cache_status.total() > 0 {
            cache_line("CDN", &self.cf_cache_status, self.cdn_hit_rate_percent, out);
        }
        if self.misses_per_key.is_some() {
            let _ =
                writeln!(out, "  MISSes per URL {} (1.00 = perfect collapsing)", opt(self.misses_per_key, 2));
        }
    }
}

/// One cache's answers by status, and the share that were HIT.
fn cache_line(cache: &str, answers: &Counts, hit_rate_percent: Option<f64>, out: &mut String) {
    let _ = writeln!(out, "  {cache:<14}{}  → HIT rate {}%", counts_line(answers), opt(hit_rate_percent, 1));
}

/// MISS answers per distinct URL that missed; `None` when nothing missed.
fn misses_per_key(readers: &[ReaderResult]) -> Option<f64> {
    let misses: usize = readers.iter().map(|r| r.missed.len()).sum();
    let urls: HashSet<u64> = readers.iter().flat_map(|r| r.missed.iter().copied()).collect();
    (!urls.is_empty()).then(|| misses as f64 / urls.len() as f64)
}
