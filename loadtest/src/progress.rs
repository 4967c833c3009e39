//! The live progress line: elapsed time against the duration, and current rates.
//!
//! On a terminal it redraws one line every second; otherwise (CI logs) it prints a line
//! every five seconds.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::workload::Live;

/// A running progress display.
pub struct Progress {
    task: JoinHandle<()>,
    terminal: bool,
}

/// The totals at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds since the start.
    pub at: f64,
    /// Appends acknowledged.
    pub appends: u64,
    /// Read requests.
    pub requests: u64,
    /// Of which HIT.
    pub hits: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Errors.
    pub errors: u64,
}

impl Snapshot {
    fn take(live: &Live, at: f64) -> Self {
        Self {
            at,
            appends: live.appends.load(Ordering::Relaxed),
            requests: live.requests.load(Ordering::Relaxed),
            hits: live.hits.load(Ordering::Relaxed),
            messages: live.messages.load(Ordering::Relaxed),
            errors: live.errors.load(Ordering::Relaxed),
        }
    }
}

/// `1234` → `1.2k`, for a line that stays short.
fn short(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// The progress line for `now`, with rates over the interval since `prev`.
pub fn line(label: &str, prev: &Snapshot, now: &Snapshot, duration: f64) -> String {
    const WIDTH: usize = 20;
    let done = ((now.at / duration.max(1e-9)).min(1.0) * WIDTH as f64) as usize;
    let bar = format!("{}{}", "#".repeat(done), ".".repeat(WIDTH - done));
    let dt = (now.at - prev.at).max(1e-9);
    let rate = |a: u64, b: u64| short(b.saturating_sub(a) as f64 / dt);
    let requests = now.requests - prev.requests.min(now.requests);
    let hit = if requests > 0 {
        format!("{:.0}%", 100.0 * now.hits.saturating_sub(prev.hits) as f64 / requests as f64)
    } else {
        "-".to_owned()
    };
    format!(
        "{label}[{bar}] {:>4.0}/{duration:.0}s  appends {} ({}/s)  reads {} ({}/s, HIT {hit})  delivered {} ({}/s)  errors {}",
        now.at.min(duration),
        now.appends,
        rate(prev.appends, now.appends),
        short(now.requests as f64),
        rate(prev.requests, now.requests),
        short(now.messages as f64),
        rate(prev.messages, now.messages),
        now.errors,
    )
}

impl Progress {
    /// Starts drawing for a run of `duration`.
    pub fn start(label: &str, live: Arc<Live>, duration: Duration) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let label = if label.is_empty() { String::new() } else { format!("{label} ") };
        let every = if terminal { 1 } else { 5 };
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut prev = Snapshot::take(&live, 0.0);
            let mut ticks = tokio::time::interval(Duration::from_secs(every));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let now = Snapshot::take(&live, started.elapsed().as_secs_f64());
                let text = line(&label, &prev, &now, duration.as_secs_f64());
                let mut err = std::io::stderr().lock();
                let _ = if terminal { write!(err, "\r\x1b[2K{text}") } else { writeln!(err, "{text}") };
                let _ = err.flush();
                prev = now;
            }
        });
        Self { task, terminal }
    }

    /// Stops drawing.
    pub fn finish(self) {
        self.task.abort();
        if self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_rates_over_the_last_interval() {
        let prev =
            Snapshot { at: 10.0, appends: 100, requests: 1000, hits: 900, messages: 10_000, errors: 0 };
        let now = Snapshot { at: 11.0, appends: 110, requests: 1100, hits: 990, messages: 20_000, errors: 2 };
        let l = line("", &prev, &now, 60.0);
        assert!(l.starts_with("[###.................]   11/60s"), "{l}");
        assert!(l.contains("appends 110 (10/s)"), "{l}");
        assert!(l.contains("reads 1100 (100/s, HIT 90%)"), "{l}");
        assert!(l.contains("delivered 20.0k (10.0k/s)") && l.ends_with("errors 2"), "{l}");
    }

    #[test]
    fn no_requests_means_no_hit_rate() {
        let s = Snapshot { at: 1.0, ..Snapshot::default() };
        assert!(line("a", &Snapshot::default(), &s, 5.0).contains("HIT -"));
    }
}
