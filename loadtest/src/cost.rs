//! What a measured workload would cost per month on Cloudflare, from published prices.
//!
//! The estimate is gross: it ignores the allowances a paid plan includes and the $5 base
//! fee, so it is an upper bound for small workloads and accurate for large ones.

use serde::Serialize;

/// Prices in US dollars (Workers Paid plan, Durable Objects with SQLite storage, R2).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Prices {
    /// Per million Worker requests.
    pub worker_requests_per_million: f64,
    /// Per million Durable Object requests.
    pub do_requests_per_million: f64,
    /// Per million GB-seconds of Durable Object duration.
    pub do_gb_seconds_per_million: f64,
    /// Memory billed per awake Durable Object, GB.
    pub do_memory_gb: f64,
    /// Per million SQLite rows written.
    pub sqlite_rows_written_per_million: f64,
    /// Per million R2 Class A operations (writes).
    pub r2_class_a_per_million: f64,
}

/// The published prices used by every report.
pub const CLOUDFLARE: Prices = Prices {
    worker_requests_per_million: 0.30,
    do_requests_per_million: 0.15,
    do_gb_seconds_per_million: 12.50,
    do_memory_gb: 0.125,
    sqlite_rows_written_per_million: 1.00,
    r2_class_a_per_million: 4.50,
};

/// A workload, as rates measured during a run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Workload {
    /// Requests to the worker per second (readers and writers).
    pub worker_requests_per_s: f64,
    /// Requests the stream objects served per second.
    pub do_requests_per_s: f64,
    /// Appends per second.
    pub appends_per_s: f64,
    /// Streams with long-poll readers: their object stays in memory while readers wait.
    pub streams_awake: u64,
    /// Streams with only SSE readers: their object hibernates between appends.
    pub streams_hibernating: u64,
}

/// Assumptions behind the estimate, printed with it.
pub const ASSUMPTIONS: &[&str] = &[
    "30-day month; plan allowances and the $5 base fee are not subtracted",
    "every reader and writer request invokes the worker (behind a CDN, CDN hits would not)",
    "a stream object with waiting long-poll readers is awake all the time; one with only SSE readers wakes for about 10 ms per append; appends are spread evenly over the streams",
    "each append writes 2 SQLite rows (the log row and the stream row; an idempotent producer adds one)",
    "the hot log is cut into an R2 segment every 1000 messages (one Class A write); storage and reads are not counted",
    "Worker CPU time is not counted: waiting long-polls use none, and each request uses well under 1 ms",
];

/// Monthly cost by item, in dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Worker requests.
    pub worker_requests: f64,
    /// Durable Object requests.
    pub do_requests: f64,
    /// Durable Object duration.
    pub do_duration: f64,
    /// SQLite writes.
    pub sqlite_writes: f64,
    /// R2 writes.
    pub r2_writes: f64,
    /// The sum.
    pub total: f64,
}

const SECONDS_PER_MONTH: f64 = 30.0 * 24.0 * 3600.0;
const SQLITE_ROWS_PER_APPEND: f64 = 2.0;
const MESSAGES_PER_SEGMENT: f64 = 1000.0;
/// Seconds a hibernating object is awake per append it sequences and fans out.
const AWAKE_PER_APPEND_S: f64 = 0.010;

/// The monthly cost of running `w` continuously.
pub fn monthly(w: &Workload, p: &Prices) -> Estimate {
    let per_month = |rate: f64| rate * SECONDS_PER_MONTH;
    // Appends are assumed spread evenly over the streams.
    let streams = (w.streams_awake + w.streams_hibernating) as f64;
    let hibernating_share = if streams > 0.0 { w.streams_hibernating as f64 / streams } else { 0.0 };
    let awake_seconds = w.streams_awake as f64 * SECONDS_PER_MONTH
        + per_month(w.appends_per_s) * hibernating_share * AWAKE_PER_APPEND_S;
    let e = Estimate {
        worker_requests: per_month(w.worker_requests_per_s) / 1e6 * p.worker_requests_per_million,
        do_requests: per_month(w.do_requests_per_s) / 1e6 * p.do_requests_per_million,
        do_duration: awake_seconds * p.do_memory_gb / 1e6 * p.do_gb_seconds_per_million,
        sqlite_writes: per_month(w.appends_per_s) * SQLITE_ROWS_PER_APPEND / 1e6
            * p.sqlite_rows_written_per_million,
        r2_writes: per_month(w.appends_per_s) / MESSAGES_PER_SEGMENT / 1e6 * p.r2_class_a_per_million,
        total: 0.0,
    };
    Estimate { total: e.worker_requests + e.do_requests + e.do_duration + e.sqlite_writes + e.r2_writes, ..e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_second_for_a_month_is_2_592_million() {
        let w = Workload { worker_requests_per_s: 1.0, ..Workload::default() };
        let e = monthly(&w, &CLOUDFLARE);
        assert!((e.worker_requests - 2.592 * 0.30).abs() < 1e-9);
        assert_eq!(e.total, e.worker_requests);
    }

    #[test]
    fn an_always_awake_object_costs_its_duration() {
        let w = Workload { streams_awake: 1, ..Workload::default() };
        let e = monthly(&w, &CLOUDFLARE);
        // 2,592,000 s × 0.125 GB = 324,000 GB-s → $4.05.
        assert!((e.do_duration - 324_000.0 / 1e6 * 12.5).abs() < 1e-9);
    }

    #[test]
    fn hibernating_objects_cost_only_while_writing() {
        let awake =
            monthly(&Workload { streams_awake: 1, appends_per_s: 1.0, ..Workload::default() }, &CLOUDFLARE);
        let asleep = monthly(
            &Workload { streams_hibernating: 1, appends_per_s: 1.0, ..Workload::default() },
            &CLOUDFLARE,
        );
        assert!(asleep.do_duration * 50.0 < awake.do_duration);
    }
}
