//! Readers that follow a stream as clients do, by long-poll or SSE, and record what they
//! see: cache outcomes, the URLs they asked for, delivery latency and message order.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Response;
use tokio::sync::watch;

use crate::follow::{LongPollFollower, SseParser};
use crate::http::{describe, header, now_ms, Target};
use crate::payload::{self, SequenceCheck};
use crate::stats::{Counts, Errors, Latencies};
use crate::workload::Live;

/// Longest a long-poll may take before the reader counts it as a timeout: well above any
/// server's long-poll wait.
const LONG_POLL_LIMIT: Duration = Duration::from_secs(90);
/// Pause after a failed request, so a broken target is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What one reader saw.
#[derive(Debug, Default)]
pub struct ReaderResult {
    /// The stream it read (its index).
    pub stream: usize,
    /// Whether it used SSE.
    pub sse: bool,
    /// Requests made (SSE: sessions opened).
    pub requests: u64,
    /// Answers by `X-Cache`.
    pub x_cache: Counts,
    /// Answers by `cf-cache-status`.
    pub cf_cache_status: Counts,
    /// Errors by kind.
    pub errors: Errors,
    /// Time from a message's send to its receipt.
    pub latency: Latencies,
    /// Order of what it received.
    pub sequence: SequenceCheck,
    /// Distinct offsets it asked for (hashed).
    pub offsets: HashSet<u64>,
    /// Distinct URLs it asked for (hashed).
    pub urls: HashSet<u64>,
    /// The URLs of answers marked `X-Cache: MISS` (hashed), to count misses per key.
    pub missed: Vec<u64>,
}

/// A stable hash of a URL or offset, to keep sets small.
pub fn fingerprint(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl ReaderResult {
    fn error(&mut self, kind: &str, sample: Option<&str>, live: &Live) {
        self.errors.add(kind, sample);
        live.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn note_cache(&mut self, resp: &Response, url: u64, live: &Live) {
        if let Some(x) = header(resp, "x-cache") {
            match x.as_str() {
                "HIT" => {
                    live.hits.fetch_add(1, Ordering::Relaxed);
                }
                "MISS" => self.missed.push(url),
                _ => {}
            }
            self.x_cache.add(&x, 1);
        }
        if let Some(cf) = header(resp, "cf-cache-status") {
            self.cf_cache_status.add(&cf, 1);
        }
    }

    /// Checks and times the messages in `body`.
    fn take(&mut self, body: &[u8], json: bool, carry: &mut Vec<u8>, live: &Live) {
        match payload::decode(body, json, carry) {
            Ok(stamps) => {
                let now = now_ms();
                let before = self.sequence.received;
                for stamp in stamps {
                    self.latency.record(now.saturating_sub(stamp.t) as f64);
                    self.sequence.see(stamp);
                }
                live.messages.fetch_add(self.sequence.received - before, Ordering::Relaxed);
            }
            Err(e) => self.error("undecodable body", Some(&e), live),
        }
    }
}

/// Reads a stream by long-poll from its start until `stop`, following `Stream-Next-Offset`
/// and `Stream-Cursor` exactly.
pub async fn long_poll(
    target: Arc<Target>,
    stream: usize,
    url: String,
    json: bool,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> ReaderResult {
    let mut r = ReaderResult { stream, ..ReaderResult::default() };
    let mut follower = LongPollFollower::new(&url, "-1");
    let mut carry = Vec::new();
    while !*stop.borrow() {
        let next = target.read_url(&url, &follower.query());
        let key = fingerprint(&next);
        r.offsets.insert(fingerprint(follower.offset()));
        r.urls.insert(key);
        let request = target.get(&next).timeout(LONG_POLL_LIMIT).send();
        let resp = tokio::select! {
            resp = request => resp,
            _ = stop.changed() => break,
        };
        r.requests += 1;
        live.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match resp {
            Ok(resp) => resp,
            Err(e) => {
                r.error(if e.is_timeout() { "timeout" } else { "network" }, Some(&describe(&e)), &live);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        r.note_cache(&resp, key, &live);
        let (next_offset, cursor) = (header(&resp, "stream-next-offset"), header(&resp, "stream-cursor"));
        match resp.status().as_u16() {
            200 => match resp.bytes().await {
                Ok(body) => r.take(&body, json, &mut carry, &live),
                Err(e) => {
                    r.error("body", Some(&describe(&e)), &live);
                    continue;
                }
            },
            204 => {}
            other => {
                let body = resp.text().await.unwrap_or_default();
                r.error(&format!("HTTP {other}"), Some(&body), &live);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        }
        follower.advance(next_offset.as_deref(), cursor.as_deref());
    }
    r
}

/// Reads a stream by SSE from its start until `stop`, reconnecting from the last
/// `streamNextOffset` whenever the server ends a session.
pub async fn sse(
    target: Arc<Target>,
    stream: usize,
    url: String,
    json: bool,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> ReaderResult {
    let mut r = ReaderResult { stream, sse: true, ..ReaderResult::default() };
    let mut offset = "-1".to_owned();
    let mut carry = Vec::new();
    while !*stop.borrow() {
        r.offsets.insert(fingerprint(&offset));
        let request = target.get(&target.read_url(&url, &format!("live=sse&offset={offset}"))).send();
        let resp = tokio::select! {
            resp = request => resp,
            _ = stop.changed() => break,
        };
        r.requests += 1;
        live.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match resp {
            Ok(resp) if resp.status().as_u16() == 200 => resp,
            Ok(resp) => {
                let kind = format!("HTTP {}", resp.status().as_u16());
                r.error(&kind, Some(&resp.text().await.unwrap_or_default()), &live);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            Err(e) => {
                r.error("network", Some(&describe(&e)), &live);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let mut body = resp.bytes_stream();
        let mut parser = SseParser::default();
        loop {
            let chunk = tokio::select! {
                chunk = body.next() => chunk,
                _ = stop.changed() => return r,
            };
            let chunk = match chunk {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    r.error("SSE stream broken", Some(&describe(&e)), &live);
                    break;
                }
                None => break,
            };
            for event in parser.feed(&chunk) {
                match event.kind.as_str() {
                    "data" => r.take(event.data.as_bytes(), json, &mut carry, &live),
                    "control" => match serde_json::from_str::<serde_json::Value>(&event.data) {
                        Ok(control) => {
                            if let Some(o) = control["streamNextOffset"].as_str() {
                                offset = o.to_owned();
                            }
                        }
                        Err(_) => r.error("bad SSE control event", Some(&event.data), &live),
                    },
                    _ => {}
                }
            }
        }
    }
    r
}
