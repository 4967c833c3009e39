//! Latency histograms, percentiles and counters.
//!
//! Latencies go into a log-linear histogram (like HdrHistogram): every reader keeps one
//! of fixed size whatever the run's length, and percentiles are within 1.6 % of the
//! exact value. Mean and maximum are exact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Values below this many microseconds get a bucket each.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above that: 64, so a bucket spans at most 1/64 of its values.
const SUB_BITS: u32 = 6;
/// Largest value kept apart from the top bucket: 2^40 µs, about 12 days.
const TOP_BIT: u32 = 40;
const BUCKETS: usize = ((TOP_BIT - SUB_BITS + 1) << SUB_BITS) as usize + (1 << SUB_BITS);

/// Latency samples in milliseconds, kept as a histogram of microseconds.
#[derive(Clone, Debug)]
pub struct Latencies {
    counts: Vec<u32>,
    count: u64,
    sum_us: u128,
    max_us: u64,
}

/// Percentiles of a set of samples (nearest rank), in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// How many samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// 50th percentile.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], count: 0, sum_us: 0, max_us: 0 }
    }
}

fn bucket_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let us = us.min((1 << (TOP_BIT + 1)) - 1);
    let shift = 63 - us.leading_zeros() - SUB_BITS;
    (((shift + 1) << SUB_BITS) as u64 + (us >> shift) - (1 << SUB_BITS)) as usize
}

/// The middle of a bucket's range, in microseconds.
fn value_of(bucket: usize) -> f64 {
    let b = bucket as u64;
    if b < LINEAR {
        return b as f64;
    }
    let shift = (b >> SUB_BITS) - 1;
    let low = ((b & ((1 << SUB_BITS) - 1)) + (1 << SUB_BITS)) << shift;
    low as f64 + ((1u64 << shift) - 1) as f64 / 2.0
}

impl Latencies {
    /// Adds a sample (negative values count as 0).
    pub fn record(&mut self, ms: f64) {
        let us = (ms.max(0.0) * 1000.0).round() as u64;
        let b = bucket_of(us);
        self.counts[b] = self.counts[b].saturating_add(1);
        self.count += 1;
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    /// Adds all samples of another set.
    pub fn merge(&mut self, other: &Latencies) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The summary; zeros when empty.
    pub fn summary(&self) -> Summary {
        if self.count == 0 {
            return Summary::default();
        }
        let rank = |p: f64| {
            let target = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            for (b, n) in self.counts.iter().enumerate() {
                seen += u64::from(*n);
                if seen >= target {
                    return value_of(b).min(self.max_us as f64) / 1000.0;
                }
            }
            self.max_us as f64 / 1000.0
        };
        Summary {
            count: self.count,
            mean: self.sum_us as f64 / self.count as f64 / 1000.0,
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: self.max_us as f64 / 1000.0,
        }
    }
}

/// Named counts, kept sorted for stable output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counts(pub BTreeMap<String, u64>);

impl Counts {
    /// Adds `n` to `key`.
    pub fn add(&mut self, key: &str, n: u64) {
        *self.0.entry(key.to_owned()).or_default() += n;
    }

    /// Adds all counts of another set.
    pub fn merge(&mut self, other: &Counts) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }

    /// The count of `key`.
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Errors by kind, with the first message seen of each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Errors {
    /// How many of each kind.
    pub counts: Counts,
    /// The first message of each kind (an error body, for HTTP errors).
    pub samples: BTreeMap<String, String>,
}

impl Errors {
    /// Counts one error of `kind`, keeping `sample` if it is the first of its kind.
    pub fn add(&mut self, kind: &str, sample: Option<&str>) {
        self.counts.add(kind, 1);
        if let Some(text) = sample {
            let text: String = text.trim().chars().take(300).collect();
            self.samples.entry(kind.to_owned()).or_insert(text);
        }
    }

    /// Adds another set under `prefix`.
    pub fn merge_prefixed(&mut self, prefix: &str, other: &Errors) {
        for (k, v) in &other.counts.0 {
            self.counts.add(&format!("{prefix}{k}"), *v);
        }
        for (k, v) in &other.samples {
            self.samples.entry(format!("{prefix}{k}")).or_insert_with(|| v.clone());
        }
    }
}

/// The share of `part` in `whole`, in percent (`None` when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() / 64.0
    }

    #[test]
    fn nearest_rank_percentiles_within_the_bucket_precision() {
        let mut l = Latencies::default();
        for v in 1..=100 {
            l.record(f64::from(v));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!(close(s.p50, 50.0) && close(s.p95, 95.0) && close(s.p99, 99.0), "{s:?}");
        assert_eq!(s.max, 100.0);
        assert!((s.mean - 50.5).abs() < 1e-9);
    }

    #[test]
    fn small_values_are_exact_and_order_does_not_matter() {
        let mut a = Latencies::default();
        let mut b = Latencies::default();
        for us in [5, 90, 17, 127, 3] {
            a.record(us as f64 / 1000.0);
        }
        for us in [3, 127, 17, 90, 5] {
            b.record(us as f64 / 1000.0);
        }
        assert_eq!(a.summary(), b.summary());
        assert_eq!(a.summary().p50, 0.017);
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        let mut us = 1u64;
        while us < 1 << 42 {
            for v in [us, us + 1, us * 3 / 2] {
                let b = bucket_of(v);
                assert!(b < BUCKETS);
                if v < 1 << (TOP_BIT + 1) {
                    assert!(close(value_of(b), v as f64) || (value_of(b) - v as f64).abs() < 1.0, "{v}");
                }
                assert!(bucket_of(v + 1) >= b, "buckets are monotonic at {v}");
            }
            us = us * 2 + 1;
        }
    }

    #[test]
    fn merged_sets_summarise_like_one() {
        let (mut a, mut b, mut all) = (Latencies::default(), Latencies::default(), Latencies::default());
        for v in 0..1000 {
            let ms = f64::from(v) * 0.37;
            if v % 3 == 0 {
                a.record(ms)
            } else {
                b.record(ms)
            }
            all.record(ms);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn small_and_empty_sets() {
        assert_eq!(Latencies::default().summary(), Summary::default());
        let mut l = Latencies::default();
        l.record(7.0);
        let s = l.summary();
        assert_eq!((s.p50, s.p99, s.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn errors_keep_the_first_sample_of_each_kind() {
        let mut a = Errors::default();
        a.add("HTTP 503", Some(" {\"error\":\"first\"} "));
        a.add("HTTP 503", Some("second"));
        a.add("network", None);
        let mut all = Errors::default();
        all.merge_prefixed("write: ", &a);
        assert_eq!((all.counts.total(), all.counts.get("write: HTTP 503")), (3, 2));
        assert_eq!(all.samples.get("write: HTTP 503").map(String::as_str), Some("{\"error\":\"first\"}"));
        assert!(!all.samples.contains_key("write: network"));
    }

    #[test]
    fn counts_merge_and_percent() {
        let mut a = Counts::default();
        a.add("HIT", 3);
        let mut b = Counts::default();
        b.add("HIT", 1);
        b.add("MISS", 1);
        a.merge(&b);
        assert_eq!((a.get("HIT"), a.get("MISS"), a.total()), (4, 1, 5));
        assert_eq!(percent(1, 4), Some(25.0));
        assert_eq!(percent(1, 0), None);
    }
}
