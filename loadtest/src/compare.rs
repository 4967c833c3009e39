//! Side-by-side: the same workload against two targets, in alternation, with ratios.

use std::fmt::Write as _;

use serde::Serialize;

use crate::report::Report;

/// A number taken from a report.
struct Metric {
    name: &'static str,
    value: fn(&Report) -> Option<f64>,
}

const METRICS: &[Metric] = &[
    Metric { name: "appends/s", value: |r| Some(r.writes.per_second) },
    Metric { name: "ack p50 ms", value: |r| Some(r.writes.ack_ms.p50) },
    Metric { name: "ack p99 ms", value: |r| Some(r.writes.ack_ms.p99) },
    Metric {
        name: "read requests",
        value: |r| Some((r.reads.long_poll_requests + r.reads.sse_sessions) as f64),
    },
    Metric { name: "X-Cache HIT %", value: |r| r.reads.hit_rate_percent },
    Metric {
        name: "object reads per append",
        value: |r| r.stream_objects.as_ref().and_then(|o| o.reads_per_append),
    },
    Metric { name: "delivery p50 ms", value: |r| Some(r.delivery.latency_ms.p50) },
    Metric { name: "delivery p95 ms", value: |r| Some(r.delivery.latency_ms.p95) },
    Metric { name: "delivery p99 ms", value: |r| Some(r.delivery.latency_ms.p99) },
    Metric { name: "delivery max ms", value: |r| Some(r.delivery.latency_ms.max) },
    Metric { name: "messages delivered", value: |r| Some(r.delivery.received as f64) },
    Metric { name: "errors", value: |r| Some(r.errors.total() as f64) },
    Metric { name: "est. $/month", value: |r| Some(r.cost.monthly.total) },
];

/// One metric on both sides: means over the rounds, and B / A.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The metric.
    pub metric: String,
    /// Mean for target A.
    pub a: Option<f64>,
    /// Mean for target B.
    pub b: Option<f64>,
    /// B divided by A.
    pub ratio: Option<f64>,
}

fn mean(reports: &[Report], value: fn(&Report) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = reports.iter().filter_map(value).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The comparison rows.
pub fn rows(a: &[Report], b: &[Report]) -> Vec<Row> {
    METRICS
        .iter()
        .map(|m| {
            let (va, vb) = (mean(a, m.value), mean(b, m.value));
            let ratio = match (va, vb) {
                (Some(x), Some(y)) if x != 0.0 => Some(y / x),
                _ => None,
            };
            Row { metric: m.name.to_owned(), a: va, b: vb, ratio }
        })
        .collect()
}

/// The comparison table.
pub fn render(a_url: &str, b_url: &str, rows: &[Row]) -> String {
    let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
    let mut out = format!("A = {a_url}\nB = {b_url}\n");
    let _ = writeln!(out, "{:<26} {:>14} {:>14} {:>8}", "metric", "A", "B", "B/A");
    for r in rows {
        let _ = writeln!(out, "{:<26} {:>14} {:>14} {:>8}", r.metric, cell(r.a), cell(r.b), cell(r.ratio));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Observed;
    use crate::workload::Settings;
    use crate::writer::WriterResult;
    use std::time::Duration;

    fn report(appends: u64) -> Report {
        let s = Settings {
            streams: 1,
            clients: 0,
            sse_ratio: 0.0,
            writers: 1,
            write_interval_ms: 100.0,
            duration_s: 1.0,
            payload_bytes: 10,
            json: false,
        };
        let o = Observed {
            writers: vec![WriterResult { appends, ..WriterResult::default() }],
            elapsed: Duration::from_secs(1),
            ..Observed::default()
        };
        Report::build("", "t", &s, o)
    }

    #[test]
    fn ratios_are_b_over_a_of_the_means() {
        let rows = rows(&[report(10), report(20)], &[report(45)]);
        let appends = &rows[0];
        assert_eq!((appends.a, appends.b, appends.ratio), (Some(15.0), Some(45.0), Some(3.0)));
        // Neither side exposed object counters: no ratio.
        let objects = rows.iter().find(|r| r.metric == "object reads per append").unwrap();
        assert_eq!((objects.a, objects.ratio), (None, None));
        let text = render("http://a", "http://b", &rows);
        assert!(text.contains("appends/s") && text.contains("3.00"), "{text}");
    }
}
