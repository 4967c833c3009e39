//! Randomized model testing of the service.
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

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::tests::{key_of, FakeSubscriber, World};
use super::{Body, Config, Method, Reply};
use crate::engine::SegmentLimits;
use crate::protocol::headers as h;

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
// Deterministic randomness

/// SplitMix64: tiny, fast, and good enough to drive a test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// The model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
    Json,
}

impl Kind {
    /// Content types of this kind, as a client might spell them.
    fn spellings(self) -> &'static [&'static str] {
        match self {
            Kind::Text => &["text/plain", "text/plain; charset=utf-8", "TEXT/PLAIN"],
            Kind::Binary => &["application/octet-stream", "Application/Octet-Stream"],
            Kind::Json => &["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"],
        }
    }

    fn of(content_type: &str) -> Kind {
        match essence(content_type).as_str() {
            "text/plain" => Kind::Text,
            "application/json" => Kind::Json,
            _ => Kind::Binary,
        }
    }

    fn other(self, rng: &mut Rng) -> Kind {
        let others: Vec<Kind> =
            [Kind::Text, Kind::Binary, Kind::Json].into_iter().filter(|k| *k != self).collect();
        rng.pick(&others)
    }
}

/// The media type without parameters, lowercased.
fn essence(ct: &str) -> String {
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// A request body and what the stream should make of it.
#[derive(Clone, Debug)]
enum Units {
    Bytes(Vec<u8>),
    /// JSON messages in compact form (possibly none, for `[]`).
    Msgs(Vec<String>),
    /// Not valid JSON.
    Invalid,
}

impl Units {
    fn is_empty(&self) -> bool {
        match self {
            Units::Bytes(b) => b.is_empty(),
            Units::Msgs(m) => m.is_empty(),
            Units::Invalid => false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct ProducerState {
    epoch: u64,
    last_seq: u64,
    /// The stream length right after its last accepted append.
    tail: usize,
}

#[derive(Clone, Debug)]
struct Origin {
    source: String,
    /// The source incarnation (model id).
    source_id: u64,
    /// The fork point, in the source's units.
    at: usize,
    sub: usize,
}

/// How a stream expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    None,
    /// Seconds without a read or write.
    Ttl(u64),
    /// An absolute time (ms).
    At(i64),
}

/// One stream incarnation, live or retained.
#[derive(Clone, Debug)]
struct Stream {
    id: u64,
    kind: Kind,
    content_type: String,
    data: Vec<u8>,
    msgs: Vec<String>,
    /// Where each record (append) starts, ascending; inherited ones included.
    record_starts: Vec<usize>,
    closed: bool,
    closed_by: Option<(String, u64, u64)>,
    last_stream_seq: Option<String>,
    next_stream_seq: u64,
    producers: HashMap<String, ProducerState>,
    origin: Option<Origin>,
    forks: usize,
    gone: bool,
    expiry: Expiry,
    /// The last read or write, for a sliding TTL.
    touched_at: i64,
    /// Offsets this stream returned, by position, and back.
    offsets: BTreeMap<usize, String>,
    positions: HashMap<String, usize>,
    /// Offsets the fork source returned that address the same data here.
    borrowed: Vec<(usize, String)>,
}

impl Stream {
    fn new(id: u64, content_type: String) -> Self {
        Stream {
            id,
            kind: Kind::of(&content_type),
            content_type,
            data: Vec::new(),
            msgs: Vec::new(),
            record_starts: Vec::new(),
            closed: false,
            closed_by: None,
            last_stream_seq: None,
            next_stream_seq: 0,
            producers: HashMap::new(),
            origin: None,
            forks: 0,
            gone: false,
            expiry: Expiry::None,
            touched_at: 0,
            offsets: BTreeMap::new(),
            positions: HashMap::new(),
            borrowed: Vec::new(),
        }
    }

    fn deadline(&self) -> Option<i64> {
        match self.expiry {
            Expiry::None => None,
            Expiry::Ttl(secs) => Some(self.touched_at + secs as i64 * 1000),
            Expiry::At(at) => Some(at),
        }
    }

    /// The headers describing the expiry, as HEAD and PUT replies carry them.
    fn expiry_headers(&self) -> (Option<String>, Option<String>) {
        match self.expiry {
            Expiry::None => (None, None),
            Expiry::Ttl(secs) => (Some(secs.to_string()), None),
            Expiry::At(at) => (None, Some(crate::protocol::time::format_rfc3339_millis(at))),
        }
    }

    fn len(&self) -> usize {
        if self.kind == Kind::Json {
            self.msgs.len()
        } else {
            self.data.len()
        }
    }

    /// The body a read of `[from, to)` returns.
    fn body(&self, from: usize, to: usize) -> Vec<u8> {
        if self.kind == Kind::Json {
            format!("[{}]", self.msgs[from..to].join(",")).into_bytes()
        } else {
            self.data[from..to].to_vec()
        }
    }

    /// Stored bytes of `[from, to)`: what the chunk cap counts.
    fn stored(&self, from: usize, to: usize) -> usize {
        if self.kind == Kind::Json {
            self.msgs[from..to].iter().map(|m| m.len() + 1).sum()
        } else {
            to - from
        }
    }

    /// Units from `at` to the end of the record holding it (0 at the tail).
    fn record_rest(&self, at: usize) -> usize {
        if at >= self.len() {
            return 0;
        }
        let i = self.record_starts.partition_point(|s| *s <= at);
        let end = self.record_starts.get(i).copied().unwrap_or(self.len());
        end - at
    }

    fn push(&mut self, units: &Units) {
        if units.is_empty() {
            return;
        }
        self.record_starts.push(self.len());
        match units {
            Units::Bytes(b) => self.data.extend_from_slice(b),
            Units::Msgs(m) => self.msgs.extend(m.iter().cloned()),
            Units::Invalid => unreachable!("invalid bodies are never stored"),
        }
    }

    /// Every offset known to address this stream, with its position.
    fn known(&self) -> Vec<(usize, String)> {
        let mut all: Vec<(usize, String)> = self.offsets.iter().map(|(p, o)| (*p, o.clone())).collect();
        all.extend(self.borrowed.iter().cloned());
        all
    }
}

// ---------------------------------------------------------------------------------------
// Generators

/// Pieces of JSON string literals, chosen to trip up anything that scans JSON text.
const STRING_PIECES: &[&str] = &[
    "a", "b", "Z", " ", ",", "[", "]", "{", "}", ":", "\\\"", "\\\\", "\\n", "\\u00e9", "é", "\\/", "x,y",
    "€",
];

fn json_string(rng: &mut Rng) -> String {
    let n = rng.below(5);
    let mut s = String::from("\"");
    for _ in 0..n {
        s.push_str(rng.pick(STRING_PIECES));
    }
    s.push('"');
    s
}

/// A JSON value in compact form.
fn json_value(rng: &mut Rng, depth: usize) -> String {
    let choices = if depth >= 2 { 5 } else { 7 };
    match rng.below(choices) {
        0 => (rng.below(2001) as i64 - 1000).to_string(),
        1 | 4 => json_string(rng),
        2 => rng.pick(&["true", "false", "null"]).to_string(),
        3 => rng.pick(&["1.5", "-0.25", "3e2", "0", "12345678901234567890"]).to_string(),
        5 => {
            let items: Vec<String> = (0..rng.below(4)).map(|_| json_value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| format!("{}:{}", json_string(rng), json_value(rng, depth + 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// Adds insignificant whitespace outside string literals (the server must drop it).
fn loosen(rng: &mut Rng, compact: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    if rng.chance(30) {
        out.push(' ');
    }
    for c in compact.chars() {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if matches!(c, ',' | ':' | '[' | '{') && rng.chance(40) {
            out.push_str(rng.pick(&[" ", "\n", "\t", " \r\n  "]));
        }
    }
    if rng.chance(30) {
        out.push('\n');
    }
    out
}

/// A non-empty text or binary payload.
fn payload(rng: &mut Rng, kind: Kind) -> Vec<u8> {
    let len = if rng.chance(15) { 13 + rng.below(28) } else { 1 + rng.below(12) };
    let mut out = Vec::new();
    while out.len() < len {
        match kind {
            Kind::Binary => out.push(rng.next() as u8),
            _ => match rng.below(30) {
                0 => out.extend_from_slice("é".as_bytes()),
                1 => out.extend_from_slice("€".as_bytes()),
                2 | 3 => out.push(b'\n'),
                _ => out.push(rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789 ,.;-_[]{}\"")),
            },
        }
    }
    out
}

/// A request body for a stream of `kind`. `allow_empty` permits `[]` and empty bodies.
fn body(rng: &mut Rng, kind: Kind, allow_empty: bool) -> (Vec<u8>, Units) {
    if allow_empty && rng.chance(25) {
        return (
            Vec::new(),
            if kind == Kind::Json { Units::Msgs(Vec::new()) } else { Units::Bytes(Vec::new()) },
        );
    }
    if kind != Kind::Json {
        let p = payload(rng, kind);
        return (p.clone(), Units::Bytes(p));
    }
    match rng.below(100) {
        0..=3 => {
            let bad = rng.pick(&["{", "[1,", "nope", "[1 2]", "{\"a\" 1}", "\"open"]);
            (bad.as_bytes().to_vec(), Units::Invalid)
        }
        4..=8 => (b"[ ]".to_vec(), Units::Msgs(Vec::new())),
        9..=44 => {
            // One value, sent bare unless it is an array (which would be flattened).
            let v = json_value(rng, 0);
            let sent = if v.starts_with('[') { format!("[{v}]") } else { v.clone() };
            (loosen(rng, &sent).into_bytes(), Units::Msgs(vec![v]))
        }
        _ => {
            let n = 1 + rng.below(4);
            let vs: Vec<String> = (0..n).map(|_| json_value(rng, 0)).collect();
            let sent = format!("[{}]", vs.join(","));
            (loosen(rng, &sent).into_bytes(), Units::Msgs(vs))
        }
    }
}

fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out: String = s.chars().take(40).collect::<String>().escape_debug().to_string();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

fn body_bytes(r: &Reply) -> Vec<u8> {
    match &r.body {
        Body::Bytes(b) => b.clone(),
        _ => Vec::new(),
    }
}

fn error_code(r: &Reply) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&body_bytes(r)).ok()?;
    v["error"]["code"].as_str().map(str::to_owned)
}

/// How many bytes at the end of `bytes` are the start of a UTF-8 character that does not
/// end there (0 if none).
fn incomplete_char(bytes: &[u8]) -> usize {
    (1..=bytes.len().min(3))
        .find(|k| {
            std::str::from_utf8(&bytes[bytes.len() - k..])
                .is_err_and(|e| e.valid_up_to() == 0 && e.error_len().is_none())
        })
        .unwrap_or(0)
}

fn well_formed(offset: &str) -> bool {
    let b = offset.as_bytes();
    b.len() == 33 && b[16] == b'_' && b.iter().enumerate().all(|(i, c)| i == 16 || c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// The run

/// What an append should do, decided by the model.
enum AppendOutcome {
    Fail(u16, &'static str),
    /// A retry: nothing written; the reply names this length and producer state.
    Duplicate {
        tail: usize,
        closed: bool,
        epoch: u64,
        seq: u64,
    },
    /// Closing a closed stream again: 204, nothing changes.
    AlreadyClosed,
    Written,
}

#[derive(Default, Debug)]
struct Counters {
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    reads: usize,
    pages: usize,
    forks: usize,
    duplicates: usize,
    written: usize,
    purges: usize,
    expired: usize,
    not_modified: usize,
    /// Parked long-polls answered, by status.
    woken: BTreeMap<u16, usize>,
    codes: BTreeMap<String, usize>,
}

/// A long-poll left waiting at a stream's tail while other operations run.
struct Parked {
    stream: String,
    stream_id: u64,
    from: usize,
    since: i64,
    query: String,
    reply: futures_util::future::LocalBoxFuture<'static, Reply>,
}

/// What a read returned, for revalidating it later.
#[derive(Clone, Debug)]
struct Etag {
    stream_id: u64,
    etag: String,
    end: usize,
    closed: bool,
}

/// An SSE reader attached to one stream incarnation.
struct Reader {
    stream: String,
    stream_id: u64,
    sub: Rc<FakeSubscriber>,
    /// The model position it has received up to.
    pos: usize,
    /// Chunks already checked.
    seen: usize,
    /// Whether it was told the stream is closed.
    told_closed: bool,
}

struct Run {
    label: &'static str,
    seed: u64,
    cap: usize,
    w: Rc<World>,
    rng: Rng,
    streams: HashMap<String, Stream>,
    next_id: u64,
    /// Expected registry events: `(stream, inserted)`.
    registry: Vec<(String, bool)>,
    readers: Vec<Reader>,
    parked: Vec<Parked>,
    /// The last ETag seen for a read of a stream name from a position.
    etags: HashMap<(String, usize), Etag>,
    step: usize,
    history: Vec<String>,
    counters: Counters,
}

macro_rules! ensure {
    ($run:expr, $cond:expr, $($arg:tt)*) => {
        if !$cond {
            $run.fail(format!($($arg)*));
        }
    };
}

impl Run {
    fn new(label: &'static str, config: Config, seed: u64) -> Self {
        let cap = config.max_chunk_bytes;
        Run {
            label,
            seed,
            cap,
            w: World::with(config),
            rng: Rng(seed),
            streams: HashMap::new(),
            next_id: 0,
            registry: Vec::new(),
            readers: Vec::new(),
            parked: Vec::new(),
            etags: HashMap::new(),
            step: 0,
            history: Vec::new(),
            counters: Counters::default(),
        }
    }

    fn fail(&self, message: String) -> ! {
        let start = self.history.len().saturating_sub(HISTORY);
        let history = self.history[start..].join("\n  ");
        panic!(
            "model check failed: {message}\n  configuration {}, seed {}, step {}\n  \
             reproduce: MODEL_SEED={} MODEL_OPS={} cargo test -p durable-streams-cloudflare --lib model_{}\n  last operations:\n  {history}",
            self.label,
            self.seed,
            self.step,
            self.seed,
            self.step + 1,
            self.label,
        );
    }

    fn note(&mut self, line: String) {
        self.history.push(format!("#{} {line}", self.step));
        if self.history.len() > 4 * HISTORY {
            self.history.drain(..2 * HISTORY);
        }
    }

    fn send(
        &mut self,
        method: Method,
        name: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = World::send(&self.w, method, name, query, &hs, body);
        self.counters.requests += 1;
        if let Some(last) = self.history.last_mut() {
            last.push_str(&format!(" -> {}", r.status));
        }
        *self.counters.statuses.entry(r.status).or_default() += 1;
        r
    }

    fn live(&self, name: &str) -> Option<&Stream> {
        self.streams.get(name).filter(|s| !s.gone)
    }

    /// The 404 or 410 a stream that is not live answers, if it is not.
    fn absent(&self, name: &str) -> Option<(u16, &'static str)> {
        match self.streams.get(name) {
            None => Some((404, "STREAM_NOT_FOUND")),
            Some(s) if s.gone => Some((410, "STREAM_GONE")),
            Some(_) => None,
        }
    }

    fn expect_error(&mut self, r: &Reply, status: u16, code: &str, what: &str) {
        *self.counters.codes.entry(code.to_owned()).or_default() += 1;
        ensure!(
            self,
            r.status == status,
            "{what}: expected {status} {code}, got {} {:?}",
            r.status,
            show(&body_bytes(r))
        );
        let got = error_code(r);
        ensure!(self, got.as_deref() == Some(code), "{what}: expected error code {code}, got {got:?}");
    }

    fn expect_status(&self, r: &Reply, status: u16, what: &str) {
        ensure!(
            self,
            r.status == status,
            "{what}: expected {status}, got {} {:?}",
            r.status,
            show(&body_bytes(r))
        );
    }

    fn expect_header(&self, r: &Reply, name: &str, value: Option<&str>, what: &str) {
        ensure!(self, r.get(name) == value, "{what}: header {name} is {:?}, expected {value:?}", r.get(name));
    }

    /// Records that `name` returned `offset` for position `pos`, checking it against every
    /// offset the stream returned before.
    fn saw(&mut self, name: &str, pos: usize, offset: Option<&str>, what: &str) {
        let Some(offset) = offset else { self.fail(format!("{what}: no Stream-Next-Offset")) };
        ensure!(self, well_formed(offset), "{what}: malformed offset {offset:?}");
        let s = &self.streams[name];
        if let Some(prev) = s.offsets.get(&pos) {
            ensure!(self, prev == offset, "{what}: position {pos} was {prev}, now {offset}");
        }
        if let Some(p) = s.positions.get(offset) {
            ensure!(self, *p == pos, "{what}: offset {offset} named position {p}, now {pos}");
        }
        if let Some((p, o)) = s.offsets.range(..pos).next_back() {
            ensure!(self, o.as_str() < offset, "{what}: offset {offset} at {pos} sorts before {o} at {p}");
        }
        if let Some((p, o)) = s.offsets.range(pos + 1..).next() {
            ensure!(self, offset < o.as_str(), "{what}: offset {offset} at {pos} sorts after {o} at {p}");
        }
        let s = self.streams.get_mut(name).unwrap();
        s.offsets.insert(pos, offset.to_owned());
        s.positions.insert(offset.to_owned(), pos);
    }

    /// A random offset `name` is known to accept, with its position.
    fn known_offset(&mut self, name: &str) -> Option<(usize, String)> {
        let known = self.streams.get(name)?.known();
        if known.is_empty() {
            return None;
        }
        let i = self.rng.below(known.len());
        Some(known[i].clone())
    }

    /// Lazy expiry, as every request that gets past its header checks applies it: a
    /// stream past its deadline is deleted (retained if forks read from it).
    fn observe(&mut self, name: &str) {
        let now = self.w.now.get();
        let Some(s) = self.streams.get_mut(name).filter(|s| !s.gone) else { return };
        if s.deadline().is_none_or(|d| now < d) {
            return;
        }
        self.counters.expired += 1;
        self.registry.push((name.to_owned(), false));
        if s.forks > 0 {
            s.gone = true;
        } else {
            self.purge(name);
        }
    }

    /// A read or write of a live stream pushes a sliding TTL back.
    fn touch(&mut self, name: &str, at: i64) {
        if let Some(s) = self.streams.get_mut(name).filter(|s| !s.gone) {
            if matches!(s.expiry, Expiry::Ttl(_)) {
                s.touched_at = at;
            }
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    // -----------------------------------------------------------------------------------
    // Operations

    fn step(&mut self) {
        // Mostly small steps; now and then a jump that outlasts short TTLs.
        let advance = if self.rng.chance(2) { 1500 } else { self.rng.pick(&[0, 0, 1, 7, 50, 150]) };
        self.w.now.set(self.w.now.get() + advance);
        let op = self.rng.below(100);
        // Most operations go where they can succeed; the rest probe missing and
        // retained streams.
        let name = match op {
            0..=10 | 81..=94 => self.pick_name(|s| s.is_none(), 70),
            11..=42 | 69..=73 => self.pick_name(|s| s.is_some_and(|s| !s.gone && !s.closed), 85),
            _ => self.pick_name(|s| s.is_some_and(|s| !s.gone), 85),
        };
        match op {
            0..=10 => self.create(&name),
            11..=42 => {
                if self.live(&name).is_some_and(|s| s.len() > LARGE) && self.rng.chance(50) {
                    self.delete(&name)
                } else {
                    self.append(&name, false)
                }
            }
            43..=61 => self.read(&name),
            62..=64 => self.park(&name),
            65..=68 => self.head(&name),
            69..=73 => self.append(&name, true),
            74..=80 => self.delete(&name),
            81..=94 => self.fork(&name),
            95..=96 => self.subscribe(&name),
            97 => self.run_alarms(),
            _ => self.odd(&name),
        }
        self.check_readers();
        self.check_parked();
        if self.step % 10 == 9 {
            self.sweep(self.step % 50 == 49);
        }
    }

    /// A stream name: with probability `percent`, one whose model state passes `wanted`
    /// (if there is any); otherwise any.
    fn pick_name(&mut self, wanted: impl Fn(Option<&Stream>) -> bool, percent: usize) -> String {
        let fitting: Vec<&str> = NAMES.iter().copied().filter(|n| wanted(self.streams.get(*n))).collect();
        if !fitting.is_empty() && self.rng.chance(percent) {
            self.rng.pick(&fitting).to_string()
        } else {
            self.rng.pick(&NAMES).to_string()
        }
    }

    /// PUT without fork headers.
    fn create(&mut self, name: &str) {
        self.observe(name);
        let existing = self.streams.get(name).cloned();
        let like_existing = existing.as_ref().is_some_and(|_| self.rng.chance(60));
        let kind = match (&existing, like_existing) {
            (Some(s), true) => s.kind,
            _ => self.rng.pick(&[Kind::Text, Kind::Binary, Kind::Json]),
        };
        let ct = if self.rng.chance(if kind == Kind::Binary { 40 } else { 8 }) {
            None
        } else {
            Some(self.rng.pick(kind.spellings()).to_string())
        };
        let closed = match (&existing, like_existing) {
            (Some(s), true) => s.closed != self.rng.chance(15),
            _ => self.rng.chance(6),
        };
        let expiry = match (&existing, like_existing) {
            (Some(s), true) if self.rng.chance(85) => s.expiry,
            _ => match self.rng.below(100) {
                0..=17 => Expiry::Ttl(1 + self.rng.below(2) as u64),
                18..=27 => Expiry::At(self.w.now.get() + 300 + self.rng.below(2700) as i64),
                _ => Expiry::None,
            },
        };
        let (raw, units) = body(&mut self.rng, if ct.is_none() { Kind::Binary } else { kind }, true);
        let mut headers = Vec::new();
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if closed {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        match expiry {
            Expiry::None => {}
            Expiry::Ttl(secs) => headers.push((h::STREAM_TTL.to_owned(), secs.to_string())),
            Expiry::At(at) => headers
                .push((h::STREAM_EXPIRES_AT.to_owned(), crate::protocol::time::format_rfc3339_millis(at))),
        }
        self.note(format!("PUT {name} ct={ct:?} closed={closed} expiry={expiry:?} body={:?}", show(&raw)));
        let r = self.send(Method::Put, name, "", &headers, &raw);
        let what = format!("PUT {name}");
        match &existing {
            Some(s) if s.gone => self.expect_error(&r, 409, "STREAM_RETAINED", &what),
            Some(s) => {
                let mismatch = ct.as_deref().is_some_and(|ct| essence(ct) != essence(&s.content_type))
                    || closed != s.closed
                    || expiry != s.expiry
                    || s.origin.is_some();
                if mismatch {
                    self.expect_error(&r, 409, "STREAM_CONFIG_MISMATCH", &what);
                } else {
                    // An idempotent PUT is not a read or write: the TTL does not slide.
                    self.expect_created(name, &r, 200, &what);
                }
            }
            None => {
                if matches!(units, Units::Invalid) {
                    return self.expect_error(&r, 400, "INVALID_JSON", &what);
                }
                let content_type = ct.clone().unwrap_or_else(|| "application/octet-stream".to_owned());
                let mut s = Stream::new(self.new_id(), content_type);
                s.push(&units);
                s.closed = closed;
                s.expiry = expiry;
                s.touched_at = self.w.now.get();
                self.streams.insert(name.to_owned(), s);
                self.registry.push((name.to_owned(), true));
                self.expect_created(name, &r, 201, &what);
            }
        }
    }

    /// The headers of a 200/201 PUT.
    fn expect_created(&mut self, name: &str, r: &Reply, status: u16, what: &str) {
        self.expect_status(r, status, what);
        let s = &self.streams[name];
        let (ct, closed, len) = (s.content_type.clone(), s.closed, s.len());
        self.expect_header(r, "Content-Type", Some(&ct), what);
        self.expect_header(r, h::STREAM_CLOSED, closed.then_some("true"), what);
        let (ttl, at) = s.expiry_headers();
        self.expect_header(r, h::STREAM_TTL, ttl.as_deref(), what);
        self.expect_header(r, h::STREAM_EXPIRES_AT, at.as_deref(), what);
        ensure!(self, r.get(h::STREAM_FORKED_FROM).is_none(), "{what}: fork headers leak into replies");
        let location = r.get("Location").unwrap_or_default();
        ensure!(self, location.ends_with(&format!("/v1/stream/{name}")), "{what}: Location {location:?}");
        self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), what);
    }

    /// POST: an append, or with `close` a close (with or without a final body).
    fn append(&mut self, name: &str, close: bool) {
        self.observe(name);
        let existing = self.streams.get(name).cloned();
        let kind = existing.as_ref().map_or(Kind::Text, |s| s.kind);
        // Mostly close-only when closing; rarely an (invalid) empty append.
        let empty = if close { self.rng.chance(60) } else { self.rng.chance(3) };
        let (raw, units) =
            if empty { (Vec::new(), Units::Bytes(Vec::new())) } else { body(&mut self.rng, kind, false) };
        let other = kind.other(&mut self.rng);
        let ct = match self.rng.below(100) {
            0..=3 => None,
            4..=8 => Some(self.rng.pick(other.spellings()).to_string()),
            _ => Some(self.rng.pick(kind.spellings()).to_string()),
        };
        let producer = if self.rng.chance(40) { Some(self.producer(existing.as_ref())) } else { None };
        let stream_seq = if self.rng.chance(10) {
            let next = existing.as_ref().map_or(0, |s| s.next_stream_seq);
            // Mostly increasing; sometimes a repeat or a regression.
            let n = match self.rng.below(10) {
                0 => next.saturating_sub(1),
                1 => next.saturating_sub(3),
                _ => next + self.rng.below(3) as u64,
            };
            Some(format!("{n:06}"))
        } else {
            None
        };
        let mut headers = Vec::new();
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if close {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        if let Some((id, epoch, seq)) = &producer {
            headers.push((h::PRODUCER_ID.to_owned(), id.clone()));
            headers.push((h::PRODUCER_EPOCH.to_owned(), epoch.to_string()));
            headers.push((h::PRODUCER_SEQ.to_owned(), seq.to_string()));
        }
        if let Some(seq) = &stream_seq {
            headers.push((h::STREAM_SEQ.to_owned(), seq.clone()));
        }
        self.note(format!(
            "POST {name} ct={ct:?} close={close} producer={producer:?} seq={stream_seq:?} body={:?}",
            show(&raw)
        ));
        let r = self.send(Method::Post, name, "", &headers, &raw);
        let what = format!("POST {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(&r, status, code, &what);
        }
        // Every POST that reaches a live stream counts as activity, whatever its outcome.
        self.touch(name, self.w.now.get());
        let s = existing.unwrap();
        let outcome = self.append_outcome(&s, &raw, &units, ct.as_deref(), close, &producer, &stream_seq);
        match outcome {
            AppendOutcome::Fail(status, code) => {
                self.expect_error(&r, status, code, &what);
                match code {
                    "STREAM_CLOSED" => {
                        self.expect_header(&r, h::STREAM_CLOSED, Some("true"), &what);
                        self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
                    }
                    "PRODUCER_STALE_EPOCH" => {
                        let current = s.producers[&producer.as_ref().unwrap().0].epoch.to_string();
                        self.expect_header(&r, h::PRODUCER_EPOCH, Some(&current), &what);
                    }
                    "PRODUCER_SEQ_GAP" => {
                        let (id, _, seq) = producer.as_ref().unwrap();
                        let expected = s.producers.get(id).map_or(0, |p| p.last_seq + 1).to_string();
                        self.expect_header(&r, h::PRODUCER_EXPECTED_SEQ, Some(&expected), &what);
                        self.expect_header(&r, h::PRODUCER_RECEIVED_SEQ, Some(&seq.to_string()), &what);
                    }
                    _ => {}
                }
            }
            AppendOutcome::Duplicate { tail, closed, epoch, seq } => {
                self.counters.duplicates += 1;
                self.expect_status(&r, 204, &what);
                self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
                self.expect_header(&r, h::PRODUCER_EPOCH, Some(&epoch.to_string()), &what);
                self.expect_header(&r, h::PRODUCER_SEQ, Some(&seq.to_string()), &what);
                self.saw(name, tail, r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            AppendOutcome::AlreadyClosed => {
                self.expect_status(&r, 204, &what);
                self.expect_header(&r, h::STREAM_CLOSED, Some("true"), &what);
                self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            AppendOutcome::Written => {
                self.counters.written += 1;
                let data = !raw.is_empty();
                let m = self.streams.get_mut(name).unwrap();
                m.push(&units);
                if close {
                    m.closed = true;
                    m.closed_by = producer.clone();
                }
                if let Some(seq) = &stream_seq {
                    m.last_stream_seq = Some(seq.clone());
                    m.next_stream_seq = seq.parse::<u64>().unwrap() + 1;
                }
                let len = m.len();
                if let Some((id, epoch, seq)) = &producer {
                    m.producers
                        .insert(id.clone(), ProducerState { epoch: *epoch, last_seq: *seq, tail: len });
                }
                let status = if data && producer.is_some() { 200 } else { 204 };
                self.expect_status(&r, status, &what);
                self.expect_header(&r, h::STREAM_CLOSED, (s.closed || close).then_some("true"), &what);
                let (epoch, seq) = match &producer {
                    Some((_, e, q)) => (Some(e.to_string()), Some(q.to_string())),
                    None => (None, None),
                };
                self.expect_header(&r, h::PRODUCER_EPOCH, epoch.as_deref(), &what);
                self.expect_header(&r, h::PRODUCER_SEQ, seq.as_deref(), &what);
                self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
            }
        }
    }

    /// Producer headers for the next append: mostly in order, often a retry, sometimes
    /// out of order or fenced.
    fn producer(&mut self, s: Option<&Stream>) -> (String, u64, u64) {
        let id = self.rng.pick(&["pa", "pb"]).to_string();
        let state = s.and_then(|s| s.producers.get(&id)).copied();
        let Some(p) = state else {
            return match self.rng.below(10) {
                0 => (id, 0, 1 + self.rng.below(3) as u64),
                1 => (id, self.rng.below(3) as u64, 0),
                _ => (id, 0, 0),
            };
        };
        let (epoch, seq) = match self.rng.below(100) {
            0..=44 => (p.epoch, p.last_seq + 1),
            45..=71 => (p.epoch, p.last_seq),
            72..=77 => (p.epoch, self.rng.below(p.last_seq as usize + 1) as u64),
            78..=83 => (p.epoch, p.last_seq + 2 + self.rng.below(2) as u64),
            84..=91 => (p.epoch + 1, 0),
            92..=95 if p.epoch > 0 => (p.epoch - 1, self.rng.below(3) as u64),
            _ => (p.epoch + 1, 1 + self.rng.below(3) as u64),
        };
        (id, epoch, seq)
    }

    /// The model's decision for an append to the live stream `s`, in the protocol's order
    /// of checks: the body's presence, producer fencing, closure, content type, JSON,
    /// `Stream-Seq`.
    #[allow(clippy::too_many_arguments)]
    fn append_outcome(
        &self,
        s: &Stream,
        raw: &[u8],
        units: &Units,
        ct: Option<&str>,
        close: bool,
        producer: &Option<(String, u64, u64)>,
        stream_seq: &Option<String>,
    ) -> AppendOutcome {
        let close_only = raw.is_empty();
        if close_only && !close {
            return AppendOutcome::Fail(400, "EMPTY_BODY");
        }
        if let Some((id, epoch, seq)) = producer {
            if s.closed_by.as_ref() == Some(&(id.clone(), *epoch, *seq)) {
                return AppendOutcome::Duplicate { tail: s.len(), closed: true, epoch: *epoch, seq: *seq };
            }
            match s.producers.get(id) {
                None if *seq != 0 => return AppendOutcome::Fail(409, "PRODUCER_SEQ_GAP"),
                None => {}
                Some(p) if *epoch < p.epoch => return AppendOutcome::Fail(403, "PRODUCER_STALE_EPOCH"),
                Some(p) if *epoch > p.epoch && *seq != 0 => {
                    return AppendOutcome::Fail(400, "INVALID_PRODUCER_SEQ")
                }
                Some(p) if *epoch > p.epoch => {}
                Some(p) if *seq <= p.last_seq => {
                    return AppendOutcome::Duplicate {
                        tail: p.tail,
                        closed: s.closed,
                        epoch: p.epoch,
                        seq: p.last_seq,
                    }
                }
                Some(p) if *seq > p.last_seq + 1 => return AppendOutcome::Fail(409, "PRODUCER_SEQ_GAP"),
                Some(_) => {}
            }
        }
        if s.closed {
            if close_only && producer.is_none() {
                return AppendOutcome::AlreadyClosed;
            }
            return AppendOutcome::Fail(409, "STREAM_CLOSED");
        }
        if !close_only {
            let Some(ct) = ct else { return AppendOutcome::Fail(400, "MISSING_CONTENT_TYPE") };
            if essence(ct) != essence(&s.content_type) {
                return AppendOutcome::Fail(409, "CONTENT_TYPE_MISMATCH");
            }
            match units {
                Units::Invalid => return AppendOutcome::Fail(400, "INVALID_JSON"),
                Units::Msgs(m) if m.is_empty() => return AppendOutcome::Fail(400, "EMPTY_JSON_ARRAY"),
                _ => {}
            }
        }
        if let (Some(seq), Some(last)) = (stream_seq, &s.last_stream_seq) {
            if seq <= last {
                return AppendOutcome::Fail(409, "SEQ_REGRESSION");
            }
        }
        AppendOutcome::Written
    }

    /// GET in its various forms.
    fn read(&mut self, name: &str) {
        let mode = self.rng.below(100);
        // A malformed offset is refused before the stream is looked at.
        if !(82..=84).contains(&mode) {
            self.observe(name);
        }
        let Some(s) = self.live(name).cloned() else {
            let query = self.rng.pick(&["offset=-1", "", "offset=now", "offset=-1&live=long-poll"]);
            self.note(format!("GET {name}?{query} (not live)"));
            let r = self.send(Method::Get, name, query, &[], b"");
            let (status, code) = self.absent(name).unwrap();
            return self.expect_error(&r, status, code, &format!("GET {name}?{query}"));
        };
        match mode {
            0..=21 => {
                let query = if self.rng.chance(15) { "" } else { "offset=-1" };
                let conditional = self.rng.chance(30);
                self.read_page(name, query, 0, false, conditional);
            }
            22..=45 => match self.known_offset(name) {
                Some((pos, offset)) => {
                    let conditional = self.rng.chance(30);
                    self.read_page(name, &format!("offset={offset}"), pos, false, conditional);
                }
                None => {
                    self.read_page(name, "offset=-1", 0, false, false);
                }
            },
            46..=55 => {
                self.note(format!("GET {name}?offset=now"));
                let r = self.send(Method::Get, name, "offset=now", &[], b"");
                self.touch(name, self.w.now.get());
                let what = format!("GET {name}?offset=now");
                self.expect_status(&r, 200, &what);
                let empty: &[u8] = if s.kind == Kind::Json { b"[]" } else { b"" };
                ensure!(self, body_bytes(&r) == empty, "{what}: body {:?}", show(&body_bytes(&r)));
                self.expect_header(&r, h::STREAM_UP_TO_DATE, Some("true"), &what);
                self.expect_header(&r, h::STREAM_CLOSED, s.closed.then_some("true"), &what);
                self.expect_header(&r, "Content-Type", Some(&s.content_type), &what);
                self.expect_header(&r, "Cache-Control", Some("no-store"), &what);
                ensure!(self, r.get("ETag").is_none(), "{what}: an ETag on offset=now");
                self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            56..=77 => {
                let (pos, query) = match self.known_offset(name) {
                    Some((pos, offset)) if self.rng.chance(50) => (pos, format!("offset={offset}")),
                    _ => (0, "offset=-1".to_owned()),
                };
                self.read_through(name, &query, pos);
            }
            78..=81 => {
                self.note(format!("GET {name}?offset={FAR}"));
                let r = self.send(Method::Get, name, &format!("offset={FAR}"), &[], b"");
                // The stream was read, even if the offset was refused.
                self.touch(name, self.w.now.get());
                self.expect_error(&r, 400, "OFFSET_BEYOND_TAIL", &format!("GET {name} beyond the tail"));
            }
            82..=84 => {
                let bad = self.rng.pick(&["abc", "0000000000000000_000000000000000", "-2", "", "1_2"]);
                self.note(format!("GET {name}?offset={bad}"));
                let r = self.send(Method::Get, name, &format!("offset={bad}"), &[], b"");
                self.expect_error(&r, 400, "INVALID_OFFSET", &format!("GET {name}?offset={bad}"));
            }
            _ => self.long_poll(name),
        }
    }

    /// One catch-up read from `from`; returns the end position and whether it reached
    /// the tail.
    fn read_page(
        &mut self,
        name: &str,
        query: &str,
        from: usize,
        quiet: bool,
        conditional: bool,
    ) -> (usize, String, bool) {
        // Revalidate what an earlier read from here returned, if there was one.
        let remembered = self.etags.get(&(name.to_owned(), from)).cloned().filter(|_| conditional);
        if !quiet {
            let revalidate = if remembered.is_some() { " (If-None-Match)" } else { "" };
            self.note(format!("GET {name}?{query}{revalidate}"));
        }
        self.counters.pages += 1;
        let headers: Vec<(String, String)> =
            remembered.iter().map(|e| ("If-None-Match".to_owned(), e.etag.clone())).collect();
        let at = self.w.now.get();
        let r = self.send(Method::Get, name, query, &headers, b"");
        self.touch(name, at);
        let what = format!("GET {name}?{query} (from position {from})");
        let s = &self.streams[name];
        let end = self.page_end(s, from);
        let closed = s.closed && end == s.len();
        let unchanged =
            remembered.as_ref().is_some_and(|e| e.stream_id == s.id && e.end == end && e.closed == closed);
        let end = if unchanged {
            self.counters.not_modified += 1;
            self.expect_status(&r, 304, &what);
            ensure!(self, body_bytes(&r).is_empty(), "{what}: a 304 with a body");
            self.expect_header(&r, "ETag", remembered.as_ref().map(|e| e.etag.as_str()), &what);
            self.expect_header(&r, h::STREAM_UP_TO_DATE, (end == s.len()).then_some("true"), &what);
            self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
            self.saw(name, end, r.get(h::STREAM_NEXT_OFFSET), &what);
            end
        } else {
            let end = self.check_data(name, from, &r, &what);
            self.check_etag(name, from, end, r.get("ETag").unwrap_or_default(), &what);
            end
        };
        let next = r.get(h::STREAM_NEXT_OFFSET).unwrap_or_default().to_owned();
        (end, next, r.get(h::STREAM_UP_TO_DATE).is_some())
    }

    /// An ETag names one incarnation's range and whether it ends the closed stream: the
    /// same read gives the same tag, any other read another.
    fn check_etag(&mut self, name: &str, from: usize, end: usize, etag: &str, what: &str) {
        let s = &self.streams[name];
        let seen = Etag { stream_id: s.id, etag: etag.to_owned(), end, closed: s.closed && end == s.len() };
        if let Some(before) = self.etags.get(&(name.to_owned(), from)) {
            let same =
                before.stream_id == seen.stream_id && before.end == seen.end && before.closed == seen.closed;
            ensure!(
                self,
                same == (before.etag == seen.etag),
                "{what}: ETag {} after {} for {before:?} and now {seen:?}",
                seen.etag,
                before.etag
            );
        }
        self.etags.insert((name.to_owned(), from), seen);
    }

    /// Follows `Stream-Next-Offset` until `Stream-Up-To-Date`, checking every page and
    /// that the pages add up to the model's suffix.
    fn read_through(&mut self, name: &str, query: &str, from: usize) {
        self.note(format!("GET {name}?{query} and onwards"));
        self.counters.reads += 1;
        let (mut pos, mut next, mut done) = self.read_page(name, query, from, true, false);
        let mut pages = 1;
        while !done {
            ensure!(self, pages < MAX_PAGES, "GET {name}: no end after {pages} pages");
            let conditional = self.rng.chance(10);
            let (end, n, d) = self.read_page(name, &format!("offset={next}"), pos, true, conditional);
            ensure!(self, end > pos, "GET {name}?offset={next}: no progress before the tail");
            (pos, next, done) = (end, n, d);
            pages += 1;
        }
        let len = self.streams[name].len();
        ensure!(self, pos == len, "GET {name}: up to date at {pos}, the model has {len}");
    }

    /// Checks a 200 carrying data of `name` from `from`; returns where it ends.
    fn check_data(&mut self, name: &str, from: usize, r: &Reply, what: &str) -> usize {
        self.expect_status(r, 200, what);
        let s = &self.streams[name];
        let len = s.len();
        ensure!(self, from <= len, "{what}: the model reads from {from} beyond {len}");
        self.expect_header(r, "Content-Type", Some(&s.content_type), what);
        let end = self.match_payload(s, from, &body_bytes(r), what);
        self.check_page_size(s, from, end, what);
        let at_tail = end == len;
        self.expect_header(r, h::STREAM_UP_TO_DATE, at_tail.then_some("true"), what);
        self.expect_header(r, h::STREAM_CLOSED, (s.closed && at_tail).then_some("true"), what);
        ensure!(self, r.get("ETag").is_some(), "{what}: no ETag");
        self.saw(name, end, r.get(h::STREAM_NEXT_OFFSET), what);
        end
    }

    /// Pages are as full as the cap allows and never empty before the tail; JSON pages
    /// hold whole messages (at least one), and a text page cut by the cap does not end
    /// inside a UTF-8 character.
    fn check_page_size(&self, s: &Stream, from: usize, end: usize, what: &str) {
        let len = s.len();
        if from < len {
            ensure!(self, end > from, "{what}: an empty page before the tail");
        }
        if s.kind == Kind::Json {
            let stored = s.stored(from, end);
            ensure!(
                self,
                stored <= self.cap || end == from + 1,
                "{what}: {stored} bytes exceed the {} cap",
                self.cap
            );
            if end < len {
                let more = s.stored(from, end + 1);
                ensure!(
                    self,
                    more > self.cap,
                    "{what}: the page ends at {end} but {more} bytes would fit the cap"
                );
            }
            return;
        }
        let want = self.page_end(s, from);
        ensure!(self, end == want, "{what}: the page ends at {end}, expected {want} (cap {})", self.cap);
    }

    /// Where a page from `from` ends.
    fn page_end(&self, s: &Stream, from: usize) -> usize {
        let len = s.len();
        if s.kind == Kind::Json {
            // Whole messages within the cap, and at least one.
            let mut end = (from + 1).min(len);
            while end < len && s.stored(from, end + 1) <= self.cap {
                end += 1;
            }
            return end;
        }
        let full = (from + self.cap).min(len);
        match s.kind {
            Kind::Text if full < len => match incomplete_char(&s.data[from..full]) {
                n if n < full - from => full - n,
                _ => full,
            },
            _ => full,
        }
    }

    fn long_poll(&mut self, name: &str) {
        let s = self.streams[name].clone();
        let (from, query) = match self.rng.below(3) {
            0 => (s.len(), "offset=now&live=long-poll".to_owned()),
            1 => match self.known_offset(name) {
                Some((pos, offset)) => (pos, format!("offset={offset}&live=long-poll")),
                None => (0, "offset=-1&live=long-poll".to_owned()),
            },
            _ => match s.offsets.get(&s.len()) {
                Some(tail) => (s.len(), format!("offset={tail}&live=long-poll")),
                None => (0, "offset=-1&live=long-poll".to_owned()),
            },
        };
        self.note(format!("GET {name}?{query}"));
        let before = self.w.now.get();
        let r = self.send(Method::Get, name, &query, &[], b"");
        // A long-poll counts as a read from the moment it starts.
        self.touch(name, before);
        let what = format!("GET {name}?{query} (from position {from})");
        if from < s.len() {
            self.check_data(name, from, &r, &what);
            ensure!(self, r.get(h::STREAM_CURSOR).is_some(), "{what}: no cursor");
            return;
        }
        self.expect_status(&r, 204, &what);
        self.expect_header(&r, h::STREAM_UP_TO_DATE, Some("true"), &what);
        self.expect_header(&r, h::STREAM_CLOSED, s.closed.then_some("true"), &what);
        ensure!(
            self,
            r.get(h::STREAM_CURSOR).is_some() != s.closed,
            "{what}: cursor on a closed stream, or none"
        );
        let waited = self.w.now.get() - before;
        ensure!(self, (waited > 0) != s.closed, "{what}: waited {waited} ms (closed: {})", s.closed);
        self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
    }

    fn head(&mut self, name: &str) {
        self.observe(name);
        self.note(format!("HEAD {name}"));
        let r = self.send(Method::Head, name, "", &[], b"");
        self.check_head(name, &r);
    }

    fn check_head(&mut self, name: &str, r: &Reply) {
        let what = format!("HEAD {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(r, status, code, &what);
        }
        let s = &self.streams[name];
        let (ct, closed, len) = (s.content_type.clone(), s.closed, s.len());
        let (ttl, at) = s.expiry_headers();
        self.expect_status(r, 200, &what);
        self.expect_header(r, "Content-Type", Some(&ct), &what);
        self.expect_header(r, h::STREAM_CLOSED, closed.then_some("true"), &what);
        self.expect_header(r, h::STREAM_TTL, ttl.as_deref(), &what);
        self.expect_header(r, h::STREAM_EXPIRES_AT, at.as_deref(), &what);
        self.expect_header(r, "Cache-Control", Some("no-store"), &what);
        self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
    }

    fn delete(&mut self, name: &str) {
        self.observe(name);
        self.note(format!("DELETE {name}"));
        let r = self.send(Method::Delete, name, "", &[], b"");
        let what = format!("DELETE {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(&r, status, code, &what);
        }
        self.expect_status(&r, 204, &what);
        self.registry.push((name.to_owned(), false));
        let s = self.streams.get_mut(name).unwrap();
        if s.forks > 0 {
            s.gone = true;
        } else {
            self.purge(name);
        }
    }

    /// Removes a stream for good, releasing its fork source (which may go too).
    fn purge(&mut self, name: &str) {
        self.counters.purges += 1;
        let s = self.streams.remove(name).unwrap();
        if let Some(o) = s.origin {
            let source = self.streams.get_mut(&o.source).filter(|src| src.id == o.source_id);
            let source = source.expect("a fork's source outlives it");
            source.forks -= 1;
            if source.gone && source.forks == 0 {
                self.purge(&o.source);
            }
        }
    }

    /// PUT with `Stream-Forked-From`.
    fn fork(&mut self, target: &str) {
        // Streams that expire are never forked: whether a fork's read reaches its source,
        // and so applies the source's expiry, depends on the fork's read cache.
        let forkable = |s: Option<&Stream>| s.is_none_or(|s| s.expiry == Expiry::None);
        let candidates: Vec<&str> =
            NAMES.iter().copied().filter(|n| forkable(self.streams.get(*n))).collect();
        let others: Vec<&str> =
            candidates.iter().copied().filter(|n| *n != target && self.live(n).is_some()).collect();
        let source = if !others.is_empty() && self.rng.chance(85) {
            self.rng.pick(&others).to_string()
        } else if !candidates.is_empty() {
            self.rng.pick(&candidates).to_string()
        } else {
            return self.head(target);
        };
        if source != target {
            self.observe(target);
        }
        let src = self.streams.get(&source).cloned();
        let (offset, at) = match self.rng.below(100) {
            0..=54 => match self.known_offset(&source) {
                Some((pos, o)) => (Some(o), Some(pos)),
                None => (None, None),
            },
            55..=58 => (Some(FAR.to_owned()), None),
            _ => (None, None),
        };
        let fork_point = at.or(src.as_ref().map(Stream::len));
        let sub = if self.rng.chance(25) {
            let rest = match (&src, fork_point) {
                (Some(s), Some(p)) => s.record_rest(p),
                _ => 0,
            };
            // Up to one past the end of the record, which must be refused.
            1 + self.rng.below(rest + 1)
        } else {
            0
        };
        let kind = src.as_ref().map_or(Kind::Text, |s| s.kind);
        let other = kind.other(&mut self.rng);
        let ct = match self.rng.below(100) {
            0..=64 => None,
            65..=92 => Some(self.rng.pick(kind.spellings()).to_string()),
            _ => Some(self.rng.pick(other.spellings()).to_string()),
        };
        let (raw, units) = if self.rng.chance(55) {
            (Vec::new(), Units::Bytes(Vec::new()))
        } else {
            body(&mut self.rng, kind, true)
        };
        let closed = self.rng.chance(5);
        let mut headers = vec![(h::STREAM_FORKED_FROM.to_owned(), format!("/v1/stream/{source}"))];
        if let Some(o) = &offset {
            headers.push((h::STREAM_FORK_OFFSET.to_owned(), o.clone()));
        }
        if sub > 0 || self.rng.chance(5) {
            headers.push((h::STREAM_FORK_SUB_OFFSET.to_owned(), sub.to_string()));
        }
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if closed {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        self.note(format!(
            "PUT {target} fork of {source} at {offset:?} (position {at:?}) sub={sub} ct={ct:?} closed={closed} body={:?}",
            show(&raw)
        ));
        let r = self.send(Method::Put, target, "", &headers, &raw);
        let what = format!("PUT {target} (fork of {source})");
        if target == source {
            return self.expect_error(&r, 400, "INVALID_FORK_SOURCE", &what);
        }
        match self.streams.get(target).cloned() {
            Some(t) if t.gone => return self.expect_error(&r, 409, "STREAM_RETAINED", &what),
            Some(t) => {
                let same_fork = t.origin.as_ref().is_some_and(|o| {
                    o.source == source && (offset.is_none() || at == Some(o.at)) && o.sub == sub
                });
                let mismatch = ct.as_deref().is_some_and(|ct| essence(ct) != essence(&t.content_type))
                    || closed != t.closed
                    || t.expiry != Expiry::None
                    || !same_fork;
                if mismatch {
                    self.expect_error(&r, 409, "STREAM_CONFIG_MISMATCH", &what);
                } else {
                    self.expect_created(target, &r, 200, &what);
                }
                return;
            }
            None => {}
        }
        let Some(src) = src else { return self.expect_error(&r, 404, "STREAM_NOT_FOUND", &what) };
        if src.gone {
            return self.expect_error(&r, 409, "FORK_SOURCE_GONE", &what);
        }
        if ct.as_deref().is_some_and(|ct| essence(ct) != essence(&src.content_type)) {
            return self.expect_error(&r, 409, "CONTENT_TYPE_MISMATCH", &what);
        }
        if offset.is_some() && at.is_none() {
            return self.expect_error(&r, 400, "INVALID_FORK_OFFSET", &what);
        }
        let at = at.unwrap_or(src.len());
        if sub > src.record_rest(at) {
            return self.expect_error(&r, 400, "SUB_OFFSET_OUT_OF_RANGE", &what);
        }
        if matches!(units, Units::Invalid) {
            return self.expect_error(&r, 400, "INVALID_JSON", &what);
        }
        // The fork: the source up to the fork point, then the sub-offset slice of the
        // next record, then the body, each slice its own record.
        let mut f = Stream::new(self.new_id(), ct.clone().unwrap_or_else(|| src.content_type.clone()));
        f.data = src.data[..at.min(src.data.len())].to_vec();
        f.msgs = src.msgs[..at.min(src.msgs.len())].to_vec();
        f.record_starts = src.record_starts.iter().copied().filter(|p| *p < at).collect();
        if sub > 0 {
            let slice = if src.kind == Kind::Json {
                Units::Msgs(src.msgs[at..at + sub].to_vec())
            } else {
                Units::Bytes(src.data[at..at + sub].to_vec())
            };
            f.push(&slice);
        }
        f.push(&units);
        f.closed = closed;
        f.origin = Some(Origin { source: source.clone(), source_id: src.id, at, sub });
        let reach = at + sub;
        f.borrowed = src.known().into_iter().filter(|(p, _)| *p <= reach).collect();
        self.streams.get_mut(&source).unwrap().forks += 1;
        self.streams.insert(target.to_owned(), f);
        self.registry.push((target.to_owned(), true));
        self.counters.forks += 1;
        self.expect_created(target, &r, 201, &what);
    }

    /// GET with `live=sse`, connecting a reader that is then checked after every step.
    fn subscribe(&mut self, name: &str) {
        self.observe(name);
        let (from, query) = match (self.live(name).map(Stream::len), self.rng.below(3)) {
            (Some(len), 0) => (len, "offset=now&live=sse".to_owned()),
            (Some(_), 1) => match self.known_offset(name) {
                Some((pos, offset)) => (pos, format!("offset={offset}&live=sse")),
                None => (0, "offset=-1&live=sse".to_owned()),
            },
            _ => (0, "offset=-1&live=sse".to_owned()),
        };
        self.note(format!("GET {name}?{query}"));
        let what = format!("GET {name}?{query}");
        let Some(s) = self.live(name) else {
            let r = self.send(Method::Get, name, &query, &[], b"");
            let (status, code) = self.absent(name).unwrap();
            return self.expect_error(&r, status, code, &what);
        };
        let stream_id = s.id;
        // Keep a few readers: each is pumped on every change of its stream.
        self.readers.retain(|r| r.sub.closed.get().is_none());
        if self.readers.len() >= 4 {
            self.readers.remove(0);
        }
        self.counters.requests += 1;
        let sub = World::subscribe(&self.w, name, &query);
        self.touch(name, self.w.now.get());
        self.readers.push(Reader {
            stream: name.to_owned(),
            stream_id,
            sub,
            pos: from,
            seen: 0,
            told_closed: false,
        });
    }

    /// Checks what each SSE reader was sent since the last check: data events that
    /// continue the model's content exactly, control events that name the same offsets
    /// as reads do, and the end of the response when the stream closes or goes.
    fn check_readers(&mut self) {
        let mut readers = std::mem::take(&mut self.readers);
        for reader in &mut readers {
            self.check_reader(reader);
        }
        readers.retain(|r| r.sub.closed.get().is_none());
        self.readers = readers;
    }

    fn check_reader(&mut self, reader: &mut Reader) {
        let name = reader.stream.clone();
        let what = format!("SSE reader of {name} (incarnation {})", reader.stream_id);
        let current = self.streams.get(&name).filter(|s| s.id == reader.stream_id && !s.gone).cloned();
        let chunks: Vec<String> = reader.sub.sent.borrow()[reader.seen..].to_vec();
        reader.seen += chunks.len();
        let Some(s) = current else {
            ensure!(
                self,
                reader.sub.closed.get() == Some(1000),
                "{what}: the stream went but the reader is open"
            );
            return;
        };
        for chunk in chunks {
            ensure!(self, !reader.told_closed, "{what}: sent {chunk:?} after the closing control event");
            let events: Vec<&str> = chunk.split_terminator("\n\n").collect();
            let (data, control) = match events.as_slice() {
                [control] => (None, *control),
                [data, control] => (Some(*data), *control),
                _ => self.fail(format!("{what}: chunk is not data then control: {chunk:?}")),
            };
            if let Some(data) = data {
                let mut lines = data.split('\n');
                ensure!(self, lines.next() == Some("event: data"), "{what}: bad data event {data:?}");
                let payload: Vec<&str> =
                    // As SSE clients read a field: one space after the colon is dropped.
                    lines
                        .map(|l| l.strip_prefix("data:").map_or("<missing data:>", |v| v.strip_prefix(' ').unwrap_or(v)))
                        .collect();
                let payload = payload.join("\n").into_bytes();
                let payload = if s.kind == Kind::Binary {
                    use base64::Engine as _;
                    let decoded = base64::engine::general_purpose::STANDARD.decode(&payload);
                    decoded.unwrap_or_else(|e| self.fail(format!("{what}: bad base64 {e}")))
                } else {
                    payload
                };
                let end = if s.kind == Kind::Text {
                    // Text that is not UTF-8 (a sub-offset may slice a character) reaches
                    // SSE readers as replacement characters.
                    let end = self.page_end(&s, reader.pos);
                    let expected = String::from_utf8_lossy(&s.data[reader.pos..end]);
                    ensure!(
                        self,
                        payload == expected.as_bytes(),
                        "{what}: data {:?} from position {}, the model has {:?}",
                        show(&payload),
                        reader.pos,
                        show(expected.as_bytes())
                    );
                    end
                } else {
                    self.match_payload(&s, reader.pos, &payload, &what)
                };
                self.check_page_size(&s, reader.pos, end, &what);
                reader.pos = end;
            }
            let json = control.strip_prefix("event: control\ndata:");
            let json = json.unwrap_or_else(|| self.fail(format!("{what}: bad control event {control:?}")));
            let c: serde_json::Value =
                serde_json::from_str(json).unwrap_or_else(|e| self.fail(format!("{what}: {e}")));
            let at_tail = reader.pos == s.len();
            let closed = s.closed && at_tail;
            ensure!(
                self,
                c["upToDate"].as_bool().unwrap_or(false) == at_tail,
                "{what}: upToDate wrong in {json}"
            );
            ensure!(
                self,
                c["streamClosed"].as_bool().unwrap_or(false) == closed,
                "{what}: streamClosed wrong in {json}"
            );
            ensure!(self, c.get("streamCursor").is_some() != closed, "{what}: streamCursor wrong in {json}");
            self.saw(&name, reader.pos, c["streamNextOffset"].as_str(), &what);
            reader.told_closed = closed;
        }
        ensure!(
            self,
            reader.pos == s.len(),
            "{what}: at {} after the pump, the stream holds {}",
            reader.pos,
            s.len()
        );
        ensure!(self, reader.seen > 0, "{what}: nothing sent, not even a control event");
        let ended = reader.sub.closed.get();
        ensure!(
            self,
            ended == s.closed.then_some(1000),
            "{what}: closed with {ended:?}, stream closed: {}",
            s.closed
        );
    }

    /// Checks that `payload` (a read's body) is the model's content from `from`, and
    /// returns where it ends.
    fn match_payload(&self, s: &Stream, from: usize, payload: &[u8], what: &str) -> usize {
        let len = s.len();
        let end = if s.kind == Kind::Json {
            // The number of whole messages the body holds, found by its length.
            let mut n = 0;
            let mut size = 2;
            while size < payload.len() && from + n < len {
                size += s.msgs[from + n].len() + usize::from(n > 0);
                n += 1;
            }
            from + n
        } else {
            (from + payload.len()).min(len)
        };
        let expected = s.body(from, end);
        ensure!(
            self,
            payload == expected.as_slice(),
            "{what}: data {:?} from position {from}, the model has {:?}",
            show(payload),
            show(&expected)
        );
        end
    }

    /// Polls a parked long-poll once, with sleeps held so that it can only be woken by a
    /// change of its stream.
    fn poll_parked(&self, p: &mut Parked) -> std::task::Poll<Reply> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        self.w.hold_sleeps.set(true);
        let poll = p.reply.as_mut().poll(&mut cx);
        self.w.hold_sleeps.set(false);
        poll
    }

    /// GET with `live=long-poll` at the tail of an open stream, left waiting.
    fn park(&mut self, name: &str) {
        self.observe(name);
        let tail =
            self.live(name).filter(|s| !s.closed).map(|s| (s.id, s.len(), s.offsets.get(&s.len()).cloned()));
        let Some((stream_id, len, offset)) = tail else { return self.read(name) };
        if self.parked.iter().any(|p| p.stream == name) {
            return self.long_poll(name);
        }
        let query = match offset {
            Some(o) if self.rng.chance(70) => format!("offset={o}&live=long-poll"),
            _ => "offset=now&live=long-poll".to_owned(),
        };
        self.note(format!("GET {name}?{query}, left waiting"));
        self.counters.requests += 1;
        let since = self.w.now.get();
        let reply = World::start(&self.w, Method::Get, name, &query);
        let mut p = Parked { stream: name.to_owned(), stream_id, from: len, since, query, reply };
        self.touch(name, since);
        if let std::task::Poll::Ready(r) = self.poll_parked(&mut p) {
            self.fail(format!("GET {name}?{}: answered {} at once at the tail", p.query, r.status));
        }
        self.parked.push(p);
    }

    /// Polls every parked long-poll: it must answer as soon as its stream has data after
    /// its offset, closes, or goes, and otherwise keep waiting.
    fn check_parked(&mut self) {
        let mut parked = std::mem::take(&mut self.parked);
        parked.retain_mut(|p| {
            let poll = self.poll_parked(p);
            let what =
                format!("GET {}?{} (waiting since {} ms ago)", p.stream, p.query, self.w.now.get() - p.since);
            let current = self.streams.get(&p.stream).filter(|s| s.id == p.stream_id).cloned();
            let std::task::Poll::Ready(r) = poll else {
                let waits = current.as_ref().is_some_and(|s| !s.gone && !s.closed && s.len() == p.from);
                ensure!(self, waits, "{what}: still waiting after its stream changed");
                return true;
            };
            self.note(format!("{what} -> {}", r.status));
            *self.counters.woken.entry(r.status).or_default() += 1;
            match current {
                Some(s) if s.gone => self.expect_error(&r, 410, "STREAM_GONE", &what),
                None => self.expect_error(&r, 404, "STREAM_NOT_FOUND", &what),
                Some(s) if s.len() > p.from => {
                    let name = p.stream.clone();
                    self.check_data(&name, p.from, &r, &what);
                    ensure!(self, r.get(h::STREAM_CURSOR).is_some(), "{what}: no cursor");
                }
                Some(s) => {
                    // Woken without data: closed, or past its deadline by then.
                    let (closed, len) = (s.closed, s.len());
                    let late = self.w.now.get() - p.since >= 250;
                    ensure!(self, closed || late, "{what}: answered {} with nothing new", r.status);
                    self.expect_status(&r, 204, &what);
                    self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
                    let name = p.stream.clone();
                    self.saw(&name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
                }
            }
            false
        });
        self.parked = parked;
    }

    /// Runs the expiry alarms that are due, as the platform would.
    fn run_alarms(&mut self) {
        let now = self.w.now.get();
        let mut due: Vec<String> = {
            let mut alarms = self.w.alarms.borrow_mut();
            let (due, later): (Vec<_>, Vec<_>) = alarms.drain(..).partition(|(_, at)| *at <= now);
            *alarms = later;
            // Alarms are recorded by object key; the model speaks of default-project ids.
            due.into_iter().map(|(key, _)| key.strip_prefix("_default/").unwrap_or(&key).to_owned()).collect()
        };
        due.sort();
        due.dedup();
        self.note(format!("alarms of {due:?}"));
        for id in due {
            self.observe(&id);
            World::alarm(&self.w, &id);
        }
    }

    /// Requests the service must refuse before looking at the stream.
    fn odd(&mut self, name: &str) {
        match self.rng.below(3) {
            0 => {
                self.note(format!("GET {name}?live=long-poll (no offset)"));
                let r = self.send(Method::Get, name, "live=long-poll", &[], b"");
                self.expect_error(
                    &r,
                    400,
                    "OFFSET_REQUIRED",
                    &format!("GET {name} long-poll without offset"),
                );
            }
            1 => {
                self.note(format!("PUT {name} with a sub-offset but no source"));
                let headers = [(h::STREAM_FORK_SUB_OFFSET.to_owned(), "1".to_owned())];
                let r = self.send(Method::Put, name, "", &headers, b"");
                self.expect_error(&r, 400, "FORK_HEADERS_WITHOUT_SOURCE", &format!("PUT {name}"));
            }
            _ => {
                self.note(format!("POST {name} with half the producer headers"));
                let headers = [
                    ("Content-Type".to_owned(), "text/plain".to_owned()),
                    (h::PRODUCER_ID.to_owned(), "pa".to_owned()),
                    (h::PRODUCER_SEQ.to_owned(), "0".to_owned()),
                ];
                let r = self.send(Method::Post, name, "", &headers, b"x");
                self.expect_error(&r, 400, "INCOMPLETE_PRODUCER_HEADERS", &format!("POST {name}"));
            }
        }
    }

    /// Checks every stream name: HEAD, no segment objects left by purged streams, and
    /// with `full` a complete read of every live stream.
    fn sweep(&mut self, full: bool) {
        self.note(format!("sweep{}", if full { " with full reads" } else { "" }));
        for name in NAMES {
            self.observe(name);
            let r = self.send(Method::Head, name, "", &[], b"");
            self.check_head(name, &r);
            if !self.streams.contains_key(name) {
                let prefix = crate::engine::segment::object_prefix(&key_of(name), 0);
                let prefix = prefix.strip_suffix("0/").unwrap();
                let left = self.w.bucket.objects.borrow().keys().filter(|k| k.starts_with(prefix)).count();
                ensure!(self, left == 0, "{name} was purged but {left} segment objects remain");
            }
            if full && self.live(name).is_some() {
                self.read_through(name, "offset=-1", 0);
            }
        }
    }

    /// The registry must hold one event per creation and deletion, in order.
    fn check_registry(&mut self) {
        let mut events: Vec<(String, bool)> = Vec::new();
        let mut offset = "-1".to_owned();
        loop {
            let r = self.send(
                Method::Get,
                crate::protocol::path::REGISTRY_ID,
                &format!("offset={offset}"),
                &[],
                b"",
            );
            self.expect_status(&r, 200, "GET the registry");
            let page: Vec<serde_json::Value> = serde_json::from_slice(&body_bytes(&r)).unwrap();
            for e in page {
                let key = e["key"].as_str().unwrap_or_default().to_owned();
                events.push((key, e["headers"]["operation"] == "insert"));
            }
            offset = r.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned();
            if r.get(h::STREAM_UP_TO_DATE).is_some() {
                break;
            }
        }
        if events != self.registry {
            let at = events.iter().zip(&self.registry).position(|(a, b)| a != b);
            self.fail(format!(
                "registry differs from the model at event {at:?}: {} events, the model has {}",
                events.len(),
                self.registry.len()
            ));
        }
    }
}

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
