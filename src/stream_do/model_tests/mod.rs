//! Randomized model testing of the stream object.
//!
//! A seeded generator drives a handful of streams through random creates (text, binary
//! and JSON, with and without an initial body, sometimes closed, sometimes with a
//! sliding TTL or an expiry time on a virtual clock), appends (random sizes,
//! JSON arrays, idempotent producers with retries, gaps and epoch changes, `Stream-Seq`),
//! reads (from `-1`, from an offset the stream returned earlier, from `now`, paging until
//! `Stream-Up-To-Date`, long-polls, revalidation with `If-None-Match`, SSE), closes,
//! deletes, forks (at the tail or at an earlier offset, with sub-offsets), re-creates
//! after a delete or an expiry, expiry alarms, and requests to missing or retained
//! streams. After every operation the reply is checked against a plain model:
//!
//! - each stream's state: missing (404), live, or deleted but retained for its forks
//!   (410 to clients, 409 to a PUT or a fork), with the fork reference counts that decide
//!   when a retained stream is finally purged, cascading up the fork chain; and its
//!   expiry, applied lazily by the requests that look at the stream, and pushed back by
//!   every GET and POST but not by HEAD or an idempotent PUT;
//! - its content (bytes, or JSON messages in their compact stored form), its record
//!   boundaries (what a sub-offset fork slices), its closed flag and the producer and
//!   `Stream-Seq` state that decide every append's status;
//! - every offset it returned: one spelling per position, ordered as the positions are,
//!   and reading from any of them (or from a source offset inherited by a fork) returns
//!   exactly the model's suffix from that position, in pages that are as full as the
//!   chunk cap allows (text pages end between UTF-8 characters);
//! - every ETag: the same for the same incarnation, range and closure, different
//!   otherwise, and a 304 exactly when a revalidated read would be unchanged;
//! - the status code, error code and protocol headers of every reply;
//! - what SSE readers are sent after each change: data events that continue the model's
//!   content exactly once and in order, control events naming the same offsets as reads,
//!   and the end of the response when the stream closes or goes;
//! - long-polls left waiting at a tail across operations: they answer as soon as their
//!   stream has new data, closes, or goes (404 also when another stream replaced it),
//!   and keep waiting otherwise.
//!
//! Periodic sweeps check every stream with HEAD, re-read every live stream in full, and
//! check that purged streams left no segment objects behind; at the end the registry
//! stream must list exactly the model's creations and deletions, in order. Part of the
//! runs cut the hot log into cold segments after every few records or bytes, so reads and
//! forks stitch across segments.
//!
//! Left out: other concurrency (every other request runs to completion before the next
//! starts), and forks of streams that expire (whether a fork's read reaches its source,
//! and so applies the source's expiry, depends on the fork's read cache).
//!
//! By default each configuration runs a few fixed seeds (about 12,000 operations in
//! all). For longer or targeted runs:
//!
//! - `MODEL_OPS=<n>`: operations per run (default 1,000).
//! - `MODEL_SEEDS=<n>`: how many seeds each configuration runs (default 4).
//! - `MODEL_SEED=<n>`: run only this seed (decimal, or hex with `0x`), in every
//!   configuration. A failure prints the seed, the configuration, the step and the last
//!   operations; rerun it with
//!   `MODEL_SEED=<seed> cargo test -p durable-streams-cloudflare --lib model_`.
//! - `MODEL_VERBOSE=1`: print what each run did (requests by status, error codes, forks,
//!   segments); use with `-- --nocapture`.

macro_rules! ensure {
    ($run:expr, $cond:expr, $($arg:tt)*) => {
        if !$cond {
            $run.fail(format!($($arg)*));
        }
    };
}

mod fork;
mod generate;
mod live;
mod model;
mod reads;
mod run;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::tests::{key_of, FakeSubscriber, World};
use super::Config;
use crate::http::{Body, Method, Reply};
use crate::protocol::headers as h;
use crate::store::SegmentLimits;
use generate::*;
use model::*;
use run::*;

/// Stream names the operations pick from.
const NAMES: [&str; 6] = ["s0", "s1", "s2", "s3", "s4", "s5"];
/// Operations of history printed on failure.
const HISTORY: usize = 30;
/// A stream longer than this (bytes or messages) is more likely deleted than appended to.
const LARGE: usize = 240;
/// The most pages one paging read follows.
const MAX_PAGES: usize = 400;
/// An offset beyond any tail.
const FAR: &str = "9999999999999999_9999999999999999";

// ---------------------------------------------------------------------------------------
// Entry points

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Runs the model against `config` for each seed.
fn run_model(label: &'static str, config: Config, base_seed: u64) {
    let ops = env_number("MODEL_OPS").unwrap_or(1000) as usize;
    let seeds: Vec<u64> = match env_number("MODEL_SEED") {
        Some(seed) => vec![seed],
        None => (0..env_number("MODEL_SEEDS").unwrap_or(4)).map(|i| base_seed + i).collect(),
    };
    for seed in seeds {
        let mut run = Run::new(label, config.clone(), seed);
        for step in 0..ops {
            run.step = step;
            run.step();
        }
        run.step = ops;
        run.sweep(true);
        run.check_registry();
        if std::env::var_os("MODEL_VERBOSE").is_some() {
            eprintln!("{label} seed {seed}: {:?}, {} segments", run.counters, run.w.committed.borrow().len());
        }
        if config.segments.max_messages < 100 || config.segments.max_bytes < 1000 {
            assert!(!run.w.committed.borrow().is_empty(), "{label} seed {seed}: no segment was cut");
        }
    }
}

fn base(cap: usize) -> Config {
    // Long-polls at the tail wait on the virtual clock: keep them short next to the TTLs.
    Config { max_chunk_bytes: cap, long_poll_timeout_ms: 250, ..Config::default() }
}

#[test]
fn model_hot_log() {
    // Segments only when a stream closes (a closed stream is cut at once).
    run_model("hot_log", base(8), 1);
}

#[test]
fn model_segments_by_count() {
    let config = Config { segments: SegmentLimits { max_messages: 2, max_bytes: 1 << 20 }, ..base(8) };
    run_model("segments_by_count", config, 101);
}

#[test]
fn model_segments_by_bytes() {
    let config = Config { segments: SegmentLimits { max_messages: 1000, max_bytes: 24 }, ..base(13) };
    run_model("segments_by_bytes", config, 201);
}
