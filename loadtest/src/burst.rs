//! Burst mode: many concurrent requests for one key, to see how many reach the stream
//! object. Three kinds of round: catch-up reads of immutable history on a cold cache,
//! the same on a warm cache, and long-polls parked at the tail released by one append.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::http::{header, now_ms, Target, READ_KINDS};
use crate::stats::{Counts, Latencies, Summary};

/// Bytes written before the catch-up rounds: more than a read returns at once (1 MiB by
/// default), so a read from the start is not at the tail and may be cached.
const HISTORY_BYTES: usize = 2 << 20;
/// How long long-polls wait at the tail before the append that releases them.
const RELEASE_AFTER: Duration = Duration::from_millis(500);

/// One round's answers.
#[derive(Clone, Debug, Serialize)]
pub struct Round {
    /// What the round did.
    pub name: String,
    /// Requests sent.
    pub requests: usize,
    /// Answers by status (`error` for requests that failed).
    pub status: Counts,
    /// Answers by `X-Cache`.
    pub x_cache: Counts,
    /// Answers by `cf-cache-status`.
    pub cf_cache_status: Counts,
    /// Distinct `Stream-Next-Offset` values: 1 when everyone got the same answer.
    pub next_offsets: usize,
    /// Distinct `Stream-Cursor` values.
    pub cursors: usize,
    /// Whether an answer was at the tail (`Stream-Up-To-Date`).
    pub at_tail: bool,
    /// Time to the whole answer, ms.
    pub elapsed_ms: Summary,
    /// Read requests the stream object served in the round; `None` if not exposed.
    pub object_reads: Option<u64>,
}

/// Burst mode's report (also the JSON written by `--out`).
#[derive(Clone, Debug, Serialize)]
pub struct BurstReport {
    /// The worker's URL.
    pub target: String,
    /// Requests per round.
    pub concurrency: usize,
    /// The rounds, in order.
    pub rounds: Vec<Round>,
}

struct Answer {
    status: String,
    x_cache: Option<String>,
    cf: Option<String>,
    next_offset: Option<String>,
    cursor: Option<String>,
    up_to_date: bool,
    ms: f64,
}

async fn get(target: Arc<Target>, url: String) -> Answer {
    let started = Instant::now();
    let mut a = Answer {
        status: "error".into(),
        x_cache: None,
        cf: None,
        next_offset: None,
        cursor: None,
        up_to_date: false,
        ms: 0.0,
    };
    if let Ok(resp) = target.get(&url).timeout(Duration::from_secs(90)).send().await {
        a.x_cache = header(&resp, "x-cache");
        a.cf = header(&resp, "cf-cache-status");
        a.next_offset = header(&resp, "stream-next-offset");
        a.cursor = header(&resp, "stream-cursor");
        a.up_to_date = header(&resp, "stream-up-to-date").is_some_and(|v| v == "true");
        let status = resp.status().as_u16();
        a.status = if resp.bytes().await.is_ok() { status.to_string() } else { "error".into() };
    }
    a.ms = started.elapsed().as_secs_f64() * 1000.0;
    a
}

fn summarise(name: &str, answers: &[Answer], object_reads: Option<u64>) -> Round {
    let mut r = Round {
        name: name.to_owned(),
        requests: answers.len(),
        status: Counts::default(),
        x_cache: Counts::default(),
        cf_cache_status: Counts::default(),
        next_offsets: answers.iter().filter_map(|a| a.next_offset.as_deref()).collect::<HashSet<_>>().len(),
        cursors: answers.iter().filter_map(|a| a.cursor.as_deref()).collect::<HashSet<_>>().len(),
        at_tail: answers.iter().any(|a| a.up_to_date),
        elapsed_ms: Summary::default(),
        object_reads,
    };
    let mut elapsed = Latencies::default();
    for a in answers {
        r.status.add(&a.status, 1);
        if let Some(x) = &a.x_cache {
            r.x_cache.add(x, 1);
        }
        if let Some(c) = &a.cf {
            r.cf_cache_status.add(c, 1);
        }
        elapsed.record(a.ms);
    }
    r.elapsed_ms = elapsed.summary();
    r
}

async fn object_reads(target: &Target, name: &str) -> Option<u64> {
    let c = target.object_counters(name).await?;
    Some(READ_KINDS.iter().map(|k| c.by_kind.get(k)).sum())
}

/// Sends `n` concurrent GETs of `url`; with `release`, appends it once they are parked.
async fn round(
    target: &Arc<Target>,
    name: &str,
    (stream, url): (&str, &str),
    n: usize,
    release: Option<&str>,
) -> Result<Round, String> {
    let before = object_reads(target, stream).await;
    let mut set = JoinSet::new();
    for _ in 0..n {
        set.spawn(get(target.clone(), url.to_owned()));
    }
    if let Some(body) = release {
        tokio::time::sleep(RELEASE_AFTER).await;
        let stream_url = url.split('?').next().unwrap_or(url);
        let resp =
            target.append(stream_url, false, body.to_owned()).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("append: HTTP {}", resp.status()));
        }
    }
    let mut answers = Vec::with_capacity(n);
    while let Some(a) = set.join_next().await {
        answers.push(a.map_err(|e| e.to_string())?);
    }
    let after = object_reads(target, stream).await;
    let reads = match (before, after) {
        (Some(b), Some(a)) if a >= b => Some(a - b),
        _ => None,
    };
    Ok(summarise(name, &answers, reads))
}

/// Runs the burst rounds against `target`.
pub async fn run(target: Arc<Target>, concurrency: usize, rounds: usize) -> Result<BurstReport, String> {
    let name = format!("lt-burst-{}", now_ms());
    let url = target.create_stream(&name, false).await?;
    let line = format!("{}\n", "x".repeat(64 * 1024 - 1));
    for _ in 0..HISTORY_BYTES / line.len() {
        let resp = target.append(&url, false, line.clone()).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("filling {url}: HTTP {}", resp.status()));
        }
    }
    let mut report = BurstReport { target: target.base.clone(), concurrency, rounds: Vec::new() };
    let history = target.read_url(&url, "offset=-1");
    report.rounds.push(round(&target, "catch-up, cold cache", (&name, &history), concurrency, None).await?);
    report.rounds.push(round(&target, "catch-up, warm cache", (&name, &history), concurrency, None).await?);
    for i in 1..=rounds {
        let resp = target.head(&url).send().await.map_err(|e| e.to_string())?;
        let tail = header(&resp, "stream-next-offset").ok_or("HEAD gave no Stream-Next-Offset")?;
        let parked = target.read_url(&url, &format!("live=long-poll&offset={tail}"));
        let label = format!("long-poll at the tail #{i}, one append");
        report.rounds.push(round(&target, &label, (&name, &parked), concurrency, Some("released\n")).await?);
    }
    target.delete_stream(&url).await;
    Ok(report)
}

/// What went wrong: failed requests, errors, readers given different answers.
pub fn problems(r: &BurstReport) -> Vec<String> {
    let mut p = Vec::new();
    for round in &r.rounds {
        let ok = round.status.get("200") + round.status.get("304");
        if ok < round.requests as u64 {
            p.push(format!(
                "{}: {} of {} answers were not 200",
                round.name,
                round.requests as u64 - ok,
                round.requests
            ));
        }
        if round.next_offsets > 1 {
            p.push(format!("{}: readers got {} different next offsets", round.name, round.next_offsets));
        }
    }
    p
}

/// The human summary.
pub fn render(r: &BurstReport) -> String {
    let mut out = format!("{} — {} concurrent requests per round\n", r.target, r.concurrency);
    let _ = writeln!(
        out,
        "{:<40} {:>6} {:>6} {:>6} {:>8} {:>12} {:>8} {:>8} {:>10}",
        "round", "HIT", "MISS", "other", "CDN HIT", "object reads", "offsets", "cursors", "p50/max ms"
    );
    for round in &r.rounds {
        let x = &round.x_cache;
        let other = round.requests as u64 - x.get("HIT") - x.get("MISS");
        let cdn = if round.cf_cache_status.total() > 0 {
            round.cf_cache_status.get("HIT").to_string()
        } else {
            "-".to_owned()
        };
        let reads = round.object_reads.map_or_else(|| "n/a".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{:<40} {:>6} {:>6} {:>6} {:>8} {:>12} {:>8} {:>8} {:>10}",
            round.name,
            x.get("HIT"),
            x.get("MISS"),
            other,
            cdn,
            reads,
            round.next_offsets,
            round.cursors,
            format!("{:.0}/{:.0}", round.elapsed_ms.p50, round.elapsed_ms.max),
        );
        if round.at_tail && round.name.starts_with("catch-up") {
            let _ = writeln!(
                out,
                "  (answers reached the tail: the server's read size exceeds the history written)"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(x: &str, offset: &str) -> Answer {
        Answer {
            status: "200".into(),
            x_cache: Some(x.into()),
            cf: None,
            next_offset: Some(offset.into()),
            cursor: Some("7".into()),
            up_to_date: false,
            ms: 5.0,
        }
    }

    #[test]
    fn one_miss_and_one_answer_is_a_clean_round() {
        let answers = vec![answer("MISS", "o"), answer("HIT", "o"), answer("HIT", "o")];
        let round = summarise("r", &answers, Some(1));
        assert_eq!((round.x_cache.get("HIT"), round.x_cache.get("MISS"), round.next_offsets), (2, 1, 1));
        let report = BurstReport { target: "t".into(), concurrency: 3, rounds: vec![round] };
        assert!(problems(&report).is_empty());
        let text = render(&report);
        assert!(text.lines().nth(2).unwrap().starts_with("r "), "{text}");
    }

    #[test]
    fn failures_and_split_answers_are_problems() {
        let mut failed = answer("MISS", "p");
        failed.status = "error".into();
        let answers = vec![answer("MISS", "o"), failed];
        let report =
            BurstReport { target: "t".into(), concurrency: 2, rounds: vec![summarise("r", &answers, None)] };
        assert_eq!(
            problems(&report),
            vec![
                "r: 1 of 2 answers were not 200".to_owned(),
                "r: readers got 2 different next offsets".to_owned(),
            ]
        );
    }
}
