//! The OFFSET DRIFT section: whether long-poll readers of one stream asked for the same
//! URLs.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::format::opt;
use crate::reader::ReaderResult;

/// Min, mean and max over readers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return Self::default();
        }
        Self {
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Offset drift of long-poll readers: readers of one stream that ask for different URLs
/// split the cache and cost the stream object more requests.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    /// Distinct offsets each reader asked for.
    pub offsets_per_reader: Spread,
    /// Distinct URLs each reader asked for.
    pub urls_per_reader: Spread,
    /// Distinct URLs a stream's readers asked for together, divided by the mean per
    /// reader, averaged over streams: 1.0 when all of a stream's readers walked the same
    /// URLs.
    pub url_spread: Option<f64>,
}

impl Drift {
    /// Compares the URLs of the long-poll readers of each of `streams` streams.
    pub(super) fn build(readers: &[ReaderResult], streams: usize) -> Self {
        let polling: Vec<&ReaderResult> = readers.iter().filter(|r| !r.sse).collect();
        let spreads: Vec<f64> = (0..streams).filter_map(|stream| url_spread(&polling, stream)).collect();
        Self {
            offsets_per_reader: Spread::of(polling.iter().map(|r| r.offsets.len() as f64)),
            urls_per_reader: Spread::of(polling.iter().map(|r| r.urls.len() as f64)),
            url_spread: (!spreads.is_empty()).then(|| spreads.iter().sum::<f64>() / spreads.len() as f64),
        }
    }

    /// The OFFSET DRIFT line; there is drift to show only if readers made
    /// `long_poll_requests`.
    pub(super) fn render(&self, long_poll_requests: u64, out: &mut String) {
        if long_poll_requests == 0 {
            let _ = writeln!(out, "OFFSET DRIFT    no long-poll readers");
            return;
        }
        let (o, u) = (&self.offsets_per_reader, &self.urls_per_reader);
        let _ = writeln!(
            out,
            "OFFSET DRIFT    offsets per reader {:.0}/{:.1}/{:.0} (min/mean/max); URLs per reader {:.0}/{:.1}/{:.0}; URL spread {} (1.00 = readers share every URL)",
            o.min,
            o.mean,
            o.max,
            u.min,
            u.mean,
            u.max,
            opt(self.url_spread, 2),
        );
    }
}

/// Distinct URLs `stream`'s long-poll readers asked for together, over the mean per
/// reader; `None` when it has no such reader or they asked for nothing.
fn url_spread(polling: &[&ReaderResult], stream: usize) -> Option<f64> {
    let mine: Vec<&&ReaderResult> = polling.iter().filter(|r| r.stream == stream).collect();
    if mine.is_empty() {
        return None;
    }
    let union: HashSet<u64> = mine.iter().flat_map(|r| r.urls.iter().copied()).collect();
    let mean = mine.iter().map(|r| r.urls.len() as f64).sum::<f64>() / mine.len() as f64;
    (mean > 0.0).then(|| union.len() as f64 / mean)
}
