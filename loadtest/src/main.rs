//! `loadtest`: measures a Durable Streams worker under a realistic read load — HIT rate,
//! stream-object requests per message, delivery latency, offset drift, errors and the
//! monthly cost of the workload — against the local worker (started and stopped here) or
//! a deployed one; and, in its pub/sub mode, the subscription worker's fan-out into
//! session streams. See docs/loadtest.md.

mod burst;
mod compare;
mod cost;
mod fanout;
mod follow;
mod http;
mod local;
mod payload;
mod progress;
mod pubsub;
mod reader;
mod report;
mod stats;
mod workload;
mod writer;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use serde::Serialize;

use crate::http::Target;
use crate::local::LocalWorkers;
use crate::pubsub::{PubSubSettings, Targets};
use crate::report::Report;
use crate::workload::Settings;

/// Load test for a Durable Streams worker.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// The worker's base URL (core's, in pub/sub mode). Without it the local worker is
    /// built and started (on a free loopback port, fresh state, DEBUG_STATS on) and
    /// stopped at the end; in pub/sub mode the subscription worker too.
    #[arg(long)]
    url: Option<String>,
    /// Run the same workload against this second target too, alternating, and print
    /// B/A ratios.
    #[arg(long, value_name = "URL2")]
    compare: Option<String>,
    /// Path under which streams live.
    #[arg(long, default_value = "/v1/stream/")]
    stream_path: String,
    /// Bearer token sent with every request.
    #[arg(long, env = "LOADTEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Streams to create.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    streams: u32,
    /// Readers, dealt round-robin over the streams.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    clients: u32,
    /// Share of readers that use SSE; the rest long-poll.
    #[arg(long, default_value_t = 0.0, value_parser = ratio)]
    sse_ratio: f64,
    /// Writers per stream.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    writers: u32,
    /// Milliseconds between one writer's appends; a writer does not wait for one to be acknowledged before the next.
    #[arg(long, default_value_t = 1000.0, value_parser = positive, conflicts_with = "rate")]
    write_interval: f64,
    /// Appends per second per stream, shared by its writers (instead of --write-interval).
    #[arg(long, value_parser = positive)]
    rate: Option<f64>,
    /// Seconds of writing (at most an hour).
    #[arg(long, default_value_t = 30.0, value_parser = duration)]
    duration: f64,
    /// Size of each message in bytes.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(48..=1_048_576))]
    payload_bytes: u32,
    /// JSON streams (otherwise text/plain lines).
    #[arg(long)]
    json: bool,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// Burst mode: this many concurrent requests for one key per round, instead of the
    /// workload.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    burst: Option<u32>,
    /// Burst mode: long-poll rounds. Side-by-side mode: runs per target.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Fail the run if the stream objects served more read requests than this per
    /// append (needs the target's counters).
    #[arg(long, value_name = "N", value_parser = positive)]
    max_reads_per_append: Option<f64>,
    /// A `KEY:VALUE` setting for the local worker (repeatable), e.g. LONG_POLL_TIMEOUT_MS:5000.
    #[arg(long, value_name = "KEY:VALUE")]
    worker_var: Vec<String>,
    /// Pub/sub mode: --sessions sessions subscribed to one source through the
    /// subscription worker, a reader on every session stream, one publisher at --rate
    /// for --duration.
    #[arg(long, conflicts_with_all = ["burst", "compare"])]
    pubsub: bool,
    /// Pub/sub mode: sessions to subscribe to the source.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sessions: u32,
    /// Pub/sub mode: the subscription worker's base URL, with --url for its core.
    #[arg(long, value_name = "URL", requires = "url")]
    subscription_url: Option<String>,
    /// Pub/sub mode: a `KEY:VALUE` setting for the local subscription worker (repeatable),
    /// e.g. FANOUT_QUEUE_THRESHOLD:2000.
    #[arg(long, value_name = "KEY:VALUE")]
    subscription_var: Vec<String>,
}

/// The base URLs of the workers under test.
struct Bases {
    core: String,
    subscription: Option<String>,
}

fn ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("expected a number from 0 to 1".into()),
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err("expected a positive number".into()),
    }
}

fn duration(s: &str) -> Result<f64, String> {
    match positive(s)? {
        v if v <= 3600.0 => Ok(v),
        _ => Err("at most 3600 seconds".into()),
    }
}

impl Args {
    fn settings(&self) -> Settings {
        let write_interval_ms = match self.rate {
            Some(rate) => f64::from(self.writers) * 1000.0 / rate,
            None => self.write_interval,
        };
        Settings {
            streams: self.streams as usize,
            clients: self.clients as usize,
            sse_ratio: self.sse_ratio,
            writers: self.writers as usize,
            write_interval_ms,
            duration_s: self.duration,
            payload_bytes: self.payload_bytes as usize,
            json: self.json,
        }
    }

    fn pubsub_settings(&self) -> PubSubSettings {
        PubSubSettings {
            sessions: self.sessions as usize,
            sse_ratio: self.sse_ratio,
            rate: self.rate.unwrap_or(1000.0 / self.write_interval),
            duration_s: self.duration,
            payload_bytes: self.payload_bytes as usize,
            json: self.json,
        }
    }

    fn target(&self, url: &str) -> Result<Arc<Target>, String> {
        Target::new(url, &self.stream_path, self.token.clone()).map(Arc::new)
    }
}

fn write_json(path: &std::path::Path, value: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the pub/sub mode against core and the subscription worker; returns the problems
/// found.
async fn measure_pubsub(args: &Args, core: &str, subscription: Option<&str>) -> Result<Vec<String>, String> {
    let subscription = subscription.ok_or("--pubsub with --url needs --subscription-url too")?;
    let targets = Targets { core: args.target(core)?, subscription: args.target(subscription)? };
    let settings = args.pubsub_settings();
    let run = pubsub::prepare(&targets, &settings).await?;
    // Reported before the clean-up, which a failing worker can make slow.
    let outcome = run.measure(&targets, &settings).await.and_then(|report| {
        print!("{}", pubsub::report::render(&report));
        match &args.out {
            Some(path) => write_json(path, &report).map(|()| report),
            None => Ok(report),
        }
    });
    run.clean_up(&targets).await;
    Ok(outcome?.problems())
}

/// Runs what the arguments ask for against the workers at `bases`; returns the problems
/// found.
async fn measure(args: &Args, bases: &Bases) -> Result<Vec<String>, String> {
    if args.pubsub {
        return measure_pubsub(args, &bases.core, bases.subscription.as_deref()).await;
    }
    let a = args.target(&bases.core)?;
    if let Some(n) = args.burst {
        let report = burst::run(a, n as usize, args.rounds as usize).await?;
        print!("{}", burst::render(&report));
        if let Some(path) = &args.out {
            write_json(path, &report)?;
        }
        return Ok(burst::problems(&report));
    }
    let settings = args.settings();
    let Some(other) = &args.compare else {
        let report = workload::run(a, &settings, "").await?;
        print!("{}", report::render(&report));
        if let Some(path) = &args.out {
            write_json(path, &report)?;
        }
        return Ok(checked(args, &report));
    };
    let b = args.target(other)?;
    let (mut side_a, mut side_b): (Vec<Report>, Vec<Report>) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        side_a.push(workload::run(a.clone(), &settings, "A").await?);
        print!("{}", report::render(&side_a[side_a.len() - 1]));
        side_b.push(workload::run(b.clone(), &settings, "B").await?);
        print!("{}", report::render(&side_b[side_b.len() - 1]));
    }
    let rows = compare::rows(&side_a, &side_b);
    print!("{}", compare::render(&a.base, &b.base, &rows));
    if let Some(path) = &args.out {
        #[derive(Serialize)]
        struct Comparison<'a> {
            a: &'a [Report],
            b: &'a [Report],
            ratios: &'a [compare::Row],
        }
        write_json(path, &Comparison { a: &side_a, b: &side_b, ratios: &rows })?;
    }
    let problems = side_a.iter().flat_map(|r| checked(args, r).into_iter().map(|p| format!("A: {p}")));
    Ok(problems
        .chain(side_b.iter().flat_map(|r| checked(args, r).into_iter().map(|p| format!("B: {p}"))))
        .collect())
}

/// A report's problems, and whether it meets `--max-reads-per-append`.
fn checked(args: &Args, report: &Report) -> Vec<String> {
    let mut problems = report.problems();
    if let Some(max) = args.max_reads_per_append {
        match report.stream_objects.as_ref().and_then(|o| o.reads_per_append) {
            Some(n) if n > max => problems.push(format!("{n:.2} object reads per append, above {max}")),
            Some(_) => {}
            None => problems.push("the target does not expose object counters (DEBUG_STATS)".to_owned()),
        }
    }
    problems
}

async fn main_async(args: Args) -> Result<Vec<String>, String> {
    // Kept until the end: dropping it stops the local workers.
    let mut local = None;
    let bases = match &args.url {
        Some(url) => Bases { core: url.clone(), subscription: args.subscription_url.clone() },
        None => {
            let subscription = args.pubsub.then_some(&args.subscription_var[..]);
            let workers = LocalWorkers::start(&args.worker_var, subscription).await?;
            let bases =
                Bases { core: workers.core_url.clone(), subscription: workers.subscription_url.clone() };
            local = Some(workers);
            bases
        }
    };
    let outcome = tokio::select! {
        outcome = measure(&args, &bases) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    if let (Some(workers), false) = (&mut local, matches!(&outcome, Ok(p) if p.is_empty())) {
        eprintln!("the local workers' logs are kept in {}", workers.keep_logs().display());
    }
    drop(local);
    outcome
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match main_async(args).await {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in problems {
                eprintln!("problem: {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_sets_the_interval_per_writer() {
        let args = Args::parse_from(["loadtest", "--rate", "10", "--writers", "2"]);
        let s = args.settings();
        assert_eq!(s.write_interval_ms, 200.0);
        assert_eq!(s.target_rate(), 10.0);
    }

    #[test]
    fn pubsub_options_make_its_settings() {
        let args = Args::parse_from([
            "loadtest",
            "--pubsub",
            "--sessions",
            "1000",
            "--rate",
            "2",
            "--sse-ratio",
            "0.5",
            "--json",
        ]);
        let s = args.pubsub_settings();
        assert_eq!((s.sessions, s.rate, s.sse_readers(), s.json), (1000, 2.0, 500, true));
        assert_eq!(Args::parse_from(["loadtest", "--pubsub"]).pubsub_settings().rate, 1.0);
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            &["loadtest", "--sse-ratio", "1.5"][..],
            &["loadtest", "--duration", "0"],
            &["loadtest", "--duration", "7200"],
            &["loadtest", "--rate", "5", "--write-interval", "100"],
            &["loadtest", "--streams", "0"],
            &["loadtest", "--pubsub", "--burst", "10"],
            &["loadtest", "--pubsub", "--sessions", "0"],
            &["loadtest", "--pubsub", "--subscription-url", "http://127.0.0.1:2"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
